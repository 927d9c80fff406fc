// /questions: the interview-question bank, one chapter after another. The bank (questions,
// answers, "predict first" choices, "try it" links, errata) comes from GET /api/questions in
// English and Chinese; the page shows the current language's text and re-renders on a switch.
// UI strings are i18n messages "q.*".
//
// Progress ("done" marks) lives only in this browser: localStorage "gradplay.questions.done"
// (a JSON list of question ids); nothing is sent to the server.
//
// URL state: ?chapter=<chapter id>&filter=<text>&errata=1&q=<open question id>
//   chapter: show one chapter; filter: case-insensitive text in the question, answer, errata
//   (either language) or its id/topic numbers (#12); errata: only questions with errata;
//   q: the question opened last (opened and scrolled to on load).

import { el, getJSON, getLang, onLangChange, readQuery, t, writeQuery } from "./common.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = $("questions-page");
const listEl = $("q-list");
const filterInput = $("q-filter");
const chapterSelect = $("q-chapter");
const errataInput = $("q-errata-only");
const progressEl = $("q-progress");
const countEl = $("q-count");
const emptyEl = $("q-empty");
const errorEl = $("q-error");

const DONE_KEY = "gradplay.questions.done";

let bank = null;
const state = { chapter: "", filter: "", errata: false, open: new Set(), last: null };
const picked = new Map(); // question id -> the "predict first" choice picked (this visit)

// ---- progress (localStorage) ------------------------------------------------------------------

function loadDone() {
  try {
    const ids = JSON.parse(window.localStorage.getItem(DONE_KEY) || "[]");
    return new Set(Array.isArray(ids) ? ids.filter((x) => typeof x === "string") : []);
  } catch {
    return new Set(); // unreadable or blocked storage: start empty
  }
}

function saveDone(done) {
  try {
    window.localStorage.setItem(DONE_KEY, JSON.stringify([...done]));
  } catch {
    // storage full or blocked: the marks last for this visit only
  }
}

let done = loadDone();

// ---- URL ------------------------------------------------------------------------------------

function readState() {
  const q = readQuery();
  const chapter = q.get("chapter") || "";
  state.chapter = bank.chapters.some((c) => c.id === chapter) ? chapter : "";
  state.filter = (q.get("filter") || "").slice(0, 200);
  state.errata = q.get("errata") === "1";
  const open = q.get("q");
  state.last = open && allQuestions().some(([, x]) => x.id === open) ? open : null;
  if (state.last) state.open.add(state.last);
}

function writeState() {
  const params = [];
  if (state.chapter) params.push(["chapter", state.chapter]);
  if (state.filter) params.push(["filter", state.filter]);
  if (state.errata) params.push(["errata", "1"]);
  if (state.last && state.open.has(state.last)) params.push(["q", state.last]);
  writeQuery(params);
}

// ---- text -----------------------------------------------------------------------------------

function tx(text) {
  return (text && (text[getLang()] || text.en)) || "";
}

function allQuestions() {
  return bank.chapters.flatMap((c) => c.questions.map((q) => [c, q]));
}

function haystack(q) {
  const parts = [q.id, ...q.topics.map((n) => `#${n}`)];
  for (const text of [q.question, q.answer, ...q.errata.flatMap((e) => [e.notes, e.correct])]) {
    parts.push(text.en, text.zh);
  }
  return parts.join("\n").toLowerCase();
}

function visible(chapter, q) {
  if (state.chapter && chapter.id !== state.chapter) return false;
  if (state.errata && !q.errata.length) return false;
  const needle = state.filter.trim().toLowerCase();
  return !needle || haystack(q).includes(needle);
}

// ---- rendering ------------------------------------------------------------------------------

function renderChapterSelect() {
  chapterSelect.replaceChildren(
    el("option", { value: "" }, t("q.all_chapters")),
    ...bank.chapters.map((c) =>
      el("option", { value: c.id }, `${c.order}. ${tx(c.title)} (${c.questions.length})`),
    ),
  );
  chapterSelect.value = state.chapter;
}

function renderProgress() {
  const ids = new Set(allQuestions().map(([, q]) => q.id));
  const n = [...done].filter((id) => ids.has(id)).length;
  progressEl.textContent = t("q.progress", { done: n, total: ids.size });
  progressEl.dataset.done = String(n);
}

function tryLink(link) {
  return el(
    "li",
    {},
    el("a", { href: link.href, "data-testid": "try-it", class: "q-try" }, `${t("q.try_it")} →`),
    " ",
    el("span", { class: "q-look" }, tx(link.look_for)),
    el("code", { class: "q-href print-only" }, link.href),
  );
}

function predictBlock(q, body) {
  const choice = picked.get(q.id);
  const wrap = el("div", { class: "q-predict", "data-testid": "q-predict" },
    el("p", { class: "q-predict-title" }, t("q.predict")));
  const buttons = el("div", { class: "q-choices", role: "group" });
  q.predict.choices.forEach((c, i) => {
    const btn = el("button", {
      type: "button", class: "q-choice", "data-testid": "q-choice", "data-index": String(i),
      "aria-pressed": choice === i ? "true" : "false",
      // the answer key, shown only on paper (print CSS) until a choice is made
      "data-key": i === q.predict.correct ? "true" : "false",
    }, tx(c));
    if (choice !== undefined) {
      btn.disabled = true;
      if (i === q.predict.correct) btn.classList.add("correct");
      else if (i === choice) btn.classList.add("wrong");
    }
    btn.addEventListener("click", () => {
      picked.set(q.id, i);
      renderQuestionBody(q, body);
    });
    buttons.append(btn);
  });
  wrap.append(buttons);
  if (choice !== undefined) {
    const right = choice === q.predict.correct;
    wrap.append(el("p", {
      class: `q-verdict ${right ? "ok" : "no"}`, "data-testid": "q-predict-result",
      "data-correct": right ? "true" : "false",
    }, right ? t("q.predict_right") : t("q.predict_wrong")));
  } else {
    const reveal = el("button", { type: "button", class: "q-btn q-reveal", "data-testid": "q-reveal" },
      t("q.show_answer"));
    reveal.addEventListener("click", () => {
      picked.set(q.id, -1);
      renderQuestionBody(q, body);
    });
    wrap.append(el("p", { class: "muted small" }, t("q.predict_hint"), " ", reveal));
  }
  return wrap;
}

function renderQuestionBody(q, body) {
  const parts = [];
  const hidden = q.predict && !picked.has(q.id);
  if (q.predict) parts.push(predictBlock(q, body));
  const answer = el("div", { class: "q-answer", "data-testid": "q-answer" },
    el("h4", {}, t("q.answer")), el("p", {}, tx(q.answer)));
  // the answer stays hidden until a prediction is made, but is always printed
  if (hidden) answer.classList.add("q-hidden-answer");
  parts.push(answer);
  for (const e of q.errata) {
    parts.push(el("div", { class: "q-erratum", "data-testid": "q-erratum" },
      el("h4", {}, t("q.erratum")),
      el("p", {}, el("strong", {}, `${t("q.notes_say")} `), tx(e.notes)),
      el("p", {}, el("strong", {}, `${t("q.correct")} `), tx(e.correct)),
      el("p", {}, el("a", { href: e.where, "data-testid": "erratum-where" }, `${t("q.where")} →`),
        el("code", { class: "q-href print-only" }, e.where))));
  }
  parts.push(el("div", { class: "q-tries" }, el("h4", {}, t("q.try_title")),
    el("ul", {}, ...q.try.map(tryLink))));
  body.replaceChildren(...parts);
}

function renderQuestion(chapter, q) {
  const isOpen = state.open.has(q.id);
  const isDone = done.has(q.id);
  const bodyId = `q-body-${q.id}`;
  const body = el("div", { class: "q-body", id: bodyId, "data-testid": "q-body" });
  const toggle = el("button", {
    type: "button", class: "q-toggle", "data-testid": "q-toggle", "aria-expanded": isOpen ? "true" : "false",
    "aria-controls": bodyId,
  }, el("span", { class: "q-text" }, tx(q.question)));
  const check = el("input", { type: "checkbox", "data-testid": "q-done", "aria-label": t("q.done") });
  check.checked = isDone;
  check.addEventListener("change", () => {
    if (check.checked) done.add(q.id);
    else done.delete(q.id);
    saveDone(done);
    article.classList.toggle("is-done", check.checked);
    article.dataset.done = check.checked ? "true" : "false";
    renderProgress();
  });
  const tags = el("span", { class: "q-tags" },
    ...q.topics.map((n) => el("span", { class: "q-tag", title: t("q.topic") }, `#${n}`)),
    q.errata.length ? el("span", { class: "q-tag q-tag-err" }, t("q.has_errata")) : "",
    q.predict ? el("span", { class: "q-tag q-tag-pred" }, t("q.has_predict")) : "");
  const article = el("article", {
    class: `q-item${isDone ? " is-done" : ""}`, "data-testid": "question", "data-id": q.id,
    "data-chapter": chapter.id, "data-done": isDone ? "true" : "false", id: `q-${q.id}`,
  },
  el("div", { class: "q-head" },
    el("label", { class: "q-done-label", title: t("q.done") }, check,
      el("span", { class: "q-done-text" }, t("q.done"))),
    toggle),
  tags, body);
  body.hidden = !isOpen;
  renderQuestionBody(q, body); // built for closed questions too: printing shows every answer
  toggle.addEventListener("click", () => {
    const open = body.hidden;
    body.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      state.open.add(q.id);
      state.last = q.id;
    } else {
      state.open.delete(q.id);
    }
    writeState();
  });
  return article;
}

function render() {
  let shown = 0;
  const sections = [];
  for (const chapter of bank.chapters) {
    const qs = chapter.questions.filter((q) => visible(chapter, q));
    if (!qs.length) continue;
    shown += qs.length;
    sections.push(el("section", { class: "q-chapter", "data-testid": "q-chapter-section", "data-chapter": chapter.id },
      el("h2", {}, `${chapter.order}. ${tx(chapter.title)}`),
      ...qs.map((q) => renderQuestion(chapter, q))));
  }
  listEl.replaceChildren(...sections);
  emptyEl.hidden = shown > 0;
  countEl.textContent = t("q.count", { shown, total: bank.count });
  countEl.dataset.shown = String(shown);
  renderProgress();
}

function renderAll() {
  renderChapterSelect();
  filterInput.value = state.filter;
  errataInput.checked = state.errata;
  render();
}

// ---- controls -------------------------------------------------------------------------------

let filterTimer = null;
filterInput.addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    state.filter = filterInput.value.slice(0, 200);
    writeState();
    render();
  }, 120);
});
chapterSelect.addEventListener("change", () => {
  state.chapter = chapterSelect.value;
  writeState();
  render();
});
errataInput.addEventListener("change", () => {
  state.errata = errataInput.checked;
  writeState();
  render();
});
$("q-expand-all").addEventListener("click", () => {
  const items = [...listEl.querySelectorAll('[data-testid="question"]')];
  const allOpen = items.every((a) => state.open.has(a.dataset.id));
  for (const a of items) {
    if (allOpen) state.open.delete(a.dataset.id);
    else state.open.add(a.dataset.id);
  }
  writeState();
  render();
});
$("q-print").addEventListener("click", () => window.print());
$("q-reset-progress").addEventListener("click", () => {
  if (!window.confirm(t("q.reset_confirm"))) return;
  done = new Set();
  saveDone(done);
  render();
});
window.addEventListener("storage", (e) => {
  if (e.key === DONE_KEY) {
    done = loadDone();
    render();
  }
});

onLangChange(() => {
  if (bank) renderAll();
});

async function start() {
  try {
    bank = await getJSON(root.dataset.bankUrl);
  } catch (err) {
    errorEl.hidden = false;
    errorEl.textContent = `${t("q.load_error")} ${err.message || err}`;
    root.dataset.state = "error";
    return;
  }
  readState();
  renderAll();
  root.dataset.state = "ready";
  if (state.last) {
    document.getElementById(`q-${state.last}`)?.scrollIntoView({ block: "start" });
  }
}

start();
