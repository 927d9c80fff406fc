// /labs/schedules: overlay learning-rate schedules from the catalog (all names, parameters,
// formulas and framework calls come from GET /api/catalog; nothing is hard-coded here).
//
// URL state: ?lr=0.1&warmup_steps=0&steps=500&logy=1&s=step,cosine_annealing&step.gamma=0.5
//   s: selected schedules in order; <name>.<param>: parameters that differ from the default.

import {
  buildParamControls,
  catalogText,
  checkParam,
  checkParams,
  color,
  debounce,
  drawChart,
  el,
  getCatalog,
  onLangChange,
  paramsFromQuery,
  paramsToQuery,
  playgroundScheduleUrl,
  postJSON,
  readQuery,
  t,
  writeQuery,
} from "../common.js";

const root = document.querySelector('[data-testid="schedules-lab"]');
const chartEl = document.querySelector('[data-testid="chart-schedules"]');
const picker = document.querySelector('[data-testid="schedule-picker"]');
const cardsEl = document.querySelector('[data-testid="schedule-cards"]');
const emptyEl = document.querySelector('[data-testid="schedules-empty"]');
const errorEl = document.querySelector('[data-testid="schedules-error"]');
const lrInput = document.querySelector('[data-testid="lr"]');
const warmupInput = document.querySelector('[data-testid="warmup-steps"]');
const stepsInput = document.querySelector('[data-testid="steps"]');
const stepsOut = document.querySelector('[data-testid="steps-value"]');
const logInput = document.querySelector('[data-testid="log-y"]');
const clearButton = document.querySelector('[data-testid="clear-schedules"]');
const legendEl = document.querySelector('[data-testid="schedules-legend"]');

const GROUPS = ["torch", "tensorflow"]; // catalog "origin" values with their own heading

let catalog = [];
let playgroundLr = null; // the optimizers' `lr` schema: the range a "Use in playground" link needs
const byName = new Map();
// name -> {values} for the selected schedules, in selection order
const selected = new Map();
const controls = new Map(); // name -> {get, set}
let requestSeq = 0;

function noPreview() {
  return new Set((root.dataset.noPreview || "").split(",").filter(Boolean));
}

// ---- framework call text ---------------------------------------------------------------------

function splitTopLevel(text) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter(Boolean);
}

function pyLiteral(value) {
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "string") return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(", ")}]`;
  if (value === null || value === undefined || Number.isNaN(value)) return "None";
  return String(value);
}

// The catalog's default call (e.g. "torch...StepLR(optimizer, step_size=30, gamma=0.1)") with
// the current parameter values substituted for its keyword arguments.
function frameworkCall(template, entry, values) {
  const open = template.indexOf("(");
  const close = template.lastIndexOf(")");
  if (open < 0 || close < open) return template;
  const args = splitTopLevel(template.slice(open + 1, close));
  const names = new Set(entry.params.map((p) => p.name));
  const out = args.map((arg) => {
    const eq = arg.indexOf("=");
    const key = eq > 0 ? arg.slice(0, eq).trim() : null;
    return key && names.has(key) && key in values ? `${key}=${pyLiteral(values[key])}` : arg;
  });
  return `${template.slice(0, open)}(${out.join(", ")})`;
}

// ---- colours, field messages ---------------------------------------------------------------

// Up to 10 curves: the shared palette; beyond, evenly spaced hues in two lightnesses, so 18
// ticked schedules still get 18 different colours (card swatch = curve = legend).
function curveColor(i, n) {
  if (n <= 10) return color(i);
  const hue = Math.round((i * 360) / n);
  return `hsl(${hue}, 70%, ${i % 2 ? 34 : 48}%)`;
}

// A message under one input, naming the field and its allowed range (null clears it).
function fieldMessage(input, text, kind = "error") {
  const field = input.closest(".field") || input.parentElement;
  let note = field.querySelector(":scope > .field-msg");
  if (!text) {
    input.removeAttribute("aria-invalid");
    if (note) note.remove();
    return;
  }
  if (kind === "error") input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  if (!note) {
    note = el("small", { className: "field-msg", "data-testid": "field-error", role: "alert" });
    input.after(note);
  }
  note.className = `field-msg field-${kind}`;
  note.textContent = text;
}

// ---- state <-> URL ---------------------------------------------------------------------------

function globals() {
  return {
    lr: Number(lrInput.value),
    warmup: Number(warmupInput.value),
    steps: Number(stepsInput.value),
    logy: logInput.checked,
  };
}

function syncUrl() {
  const g = globals();
  const q = [
    ["lr", lrInput.value],
    ["warmup_steps", warmupInput.value],
    ["steps", stepsInput.value],
  ];
  if (g.logy) q.push(["logy", "1"]);
  q.push(["s", [...selected.keys()].join(",")]);
  for (const [name, state] of selected) {
    q.push(...paramsToQuery(byName.get(name), state.values, `${name}.`));
  }
  writeQuery(q);
}

function loadFromUrl() {
  const q = readQuery();
  const num = (key) => (q.has(key) && q.get(key).trim() !== "" && Number.isFinite(Number(q.get(key))) ? q.get(key) : null);
  if (num("lr") !== null) lrInput.value = num("lr");
  if (num("warmup_steps") !== null) warmupInput.value = num("warmup_steps");
  if (num("steps") !== null) stepsInput.value = num("steps");
  logInput.checked = q.get("logy") === "1";
  const names = q.has("s") ? q.get("s").split(",") : (root.dataset.defaultSchedules || "").split(",");
  const blocked = noPreview();
  for (const name of names) {
    const entry = byName.get(name.trim());
    if (!entry || blocked.has(entry.name) || selected.has(entry.name)) continue;
    selected.set(entry.name, { values: { ...defaults(entry), ...paramsFromQuery(entry, q, `${entry.name}.`) } });
  }
}

function defaults(entry) {
  return Object.fromEntries(entry.params.map((p) => [p.name, p.default]));
}

// ---- rendering -------------------------------------------------------------------------------

function renderPicker() {
  const blocked = noPreview();
  const groups = new Map([...GROUPS, "other"].map((g) => [g, []]));
  for (const entry of catalog) {
    groups.get(GROUPS.includes(entry.origin) ? entry.origin : "other").push(entry);
  }
  const nodes = [];
  for (const [group, entries] of groups) {
    if (!entries.length) continue;
    const key = group === "other" ? "sched.group.gradplay" : `sched.group.${group}`;
    nodes.push(el("h4", { className: "picker-group", "data-i18n": key }, t(key)));
    for (const entry of entries) {
      const id = `pick-${entry.name}`;
      const box = el("input", {
        type: "checkbox",
        id,
        "data-testid": `pick-${entry.name}`,
        value: entry.name,
        disabled: blocked.has(entry.name),
      });
      box.checked = selected.has(entry.name);
      box.addEventListener("change", () => toggle(entry.name, box.checked));
      const label = el("label", { for: id }, catalogText("schedules", entry, "label"));
      const note = blocked.has(entry.name)
        ? el("small", { className: "muted note", "data-i18n": "sched.no_preview" }, t("sched.no_preview"))
        : null;
      nodes.push(el("div", { className: `pick-row${blocked.has(entry.name) ? " disabled" : ""}` }, box, el("div", {}, label, note)));
    }
  }
  picker.replaceChildren(...nodes);
}

function renderCards() {
  controls.clear();
  const cards = [...selected].map(([name, state], i) => {
    const entry = byName.get(name);
    const paramsBox = el("div", { className: "card-params" });
    const callCode = el("code", { "data-testid": "framework-call", className: "call" });
    const link = el("a", { className: "use-link", "data-testid": "use-in-playground" }, t("sched.use"));
    const cardError = el("p", { className: "error", "data-testid": "card-error", hidden: true });
    const callKey = entry.torch ? "sched.call.torch" : entry.tf ? "sched.call.tf" : null;
    const card = el(
      "article",
      { className: "card sched-card", "data-testid": `schedule-card-${name}`, "data-schedule": name },
      el(
        "header",
        { className: "sched-card-head" },
        el("span", { className: "swatch", "aria-hidden": "true" }),
        el("h3", {}, catalogText("schedules", entry, "label")),
        el("button", { type: "button", className: "link-btn", "data-testid": "remove" }, t("sched.remove")),
      ),
      entry.description ? el("p", { className: "muted desc" }, catalogText("schedules", entry, "description")) : null,
      el("div", { className: "sub-label" }, t("sched.formula")),
      el("pre", { className: "formula", "data-testid": "formula" }, entry.formula),
      entry.params.length ? el("div", { className: "sub-label" }, t("sched.params")) : null,
      paramsBox,
      callKey ? el("div", { className: "sub-label" }, t(callKey)) : null,
      callKey ? el("pre", { className: "call-box" }, callCode) : null,
      cardError,
      link,
    );
    card.style.setProperty("--swatch", curveColor(i, selected.size));
    const update = () => {
      const values = state.values;
      if (callKey) callCode.textContent = frameworkCall(entry.torch || entry.tf, entry, values);
      // only a link the playground can run: every value within its catalog range
      const problems = linkProblems(entry, values);
      link.toggleAttribute("aria-disabled", problems.length > 0);
      link.dataset.blocked = problems.join("; ");
      if (problems.length) link.removeAttribute("href");
      else link.href = playgroundScheduleUrl(entry, values, lrInput.value, warmupInput.value);
      link.title = problems.length ? t("sched.use_blocked", { msg: problems.join("; ") }) : "";
    };
    const ctl = buildParamControls(paramsBox, "schedules", entry, {
      values: state.values,
      onChange: (values) => {
        state.values = values;
        update();
        changed();
      },
    });
    controls.set(name, { ...ctl, update, error: cardError });
    card.querySelector('[data-testid="remove"]').addEventListener("click", () => toggle(name, false));
    update();
    return card;
  });
  cardsEl.replaceChildren(...cards);
  emptyEl.hidden = selected.size > 0;
}

function lrParam() {
  return { name: "lr", type: "float", min: 0, exclusive_min: true };
}

function warmupParam() {
  return { name: "warmup_steps", type: "int", min: 0, max: 100000 };
}

// Why a "Use in playground" link cannot be made (empty: it can). The playground's lr range is
// the optimizers' (catalog), which is narrower than what a preview accepts.
function linkProblems(entry, values) {
  const g = globals();
  const out = [...checkParams(entry, values)];
  const lr = checkParam(playgroundLr ? { ...playgroundLr, exclusive_min: true } : lrParam(), g.lr);
  const warmup = checkParam(warmupParam(), g.warmup);
  if (lr) out.push(lr);
  if (warmup) out.push(warmup);
  return out;
}

function markFields() {
  const g = globals();
  const lrBad = checkParam(lrParam(), g.lr);
  const lrPg = playgroundLr && !lrBad ? checkParam({ ...playgroundLr, exclusive_min: true }, g.lr) : null;
  if (lrBad) fieldMessage(lrInput, lrBad);
  else if (lrPg) fieldMessage(lrInput, t("sched.lr_playground", { msg: lrPg }), "warning");
  else fieldMessage(lrInput, null);
  fieldMessage(warmupInput, checkParam(warmupParam(), g.warmup));
  for (const [name, state] of selected) {
    const card = cardsEl.querySelector(`[data-schedule="${CSS.escape(name)}"]`);
    if (!card) continue;
    for (const param of byName.get(name).params) {
      const input = card.querySelector(`[data-testid="param-${CSS.escape(param.name)}"]`);
      if (input) fieldMessage(input, checkParam(param, state.values[param.name]));
    }
  }
}

async function redraw() {
  const seq = ++requestSeq;
  const g = globals();
  stepsOut.textContent = String(g.steps);
  for (const ctl of controls.values()) ctl.update();
  markFields();
  const names = [...selected.keys()];
  const globalChecks = [
    [lrParam(), g.lr],
    [warmupParam(), g.warmup],
  ];
  const results = await Promise.all(
    names.map(async (name) => {
      const body = {
        lr: g.lr,
        schedule: { name, warmup_steps: g.warmup, ...selected.get(name).values },
        steps: g.steps,
        seed: 0,
      };
      const problems = checkParams(byName.get(name), selected.get(name).values);
      for (const [param, value] of globalChecks) {
        const msg = checkParam(param, value);
        if (msg) problems.push(msg);
      }
      if (problems.length) return { name, error: problems.join("; "), local: true };
      try {
        return { name, lr: (await postJSON(root.dataset.previewUrl, body)).lr };
      } catch (err) {
        return { name, error: err.message };
      }
    }),
  );
  if (seq !== requestSeq) return; // a newer request is on its way
  const traces = [];
  const failures = [];
  results.forEach((r, i) => {
    const ctl = controls.get(r.name);
    if (ctl) {
      // values checked here are marked at their field; the card shows what the server said
      ctl.error.hidden = !r.error || Boolean(r.local);
      ctl.error.textContent = r.error ? t("common.error", { msg: r.error }) : "";
    }
    if (r.error) {
      failures.push(r.name);
      return;
    }
    traces.push({
      type: "scatter",
      mode: "lines",
      name: catalogText("schedules", byName.get(r.name), "label"),
      x: r.lr.map((_, k) => k),
      y: r.lr,
      line: { color: curveColor(i, results.length), width: 3 },
      meta: r.name,
    });
  });
  // A schedule with a bad value is not drawn; the field itself says what is wrong.
  const failedLabels = failures.map((name) => catalogText("schedules", byName.get(name), "label"));
  errorEl.hidden = failures.length === 0;
  errorEl.textContent = failures.length ? t("sched.not_drawn", { names: failedLabels.join(", ") }) : "";
  // The legend is HTML under the plot: however many curves, the plot keeps its size.
  legendEl.replaceChildren(...traces.map((tr) => el(
    "li",
    { "data-schedule": tr.meta },
    el("span", { className: "swatch", "aria-hidden": "true", style: `--swatch: ${tr.line.color}` }),
    tr.name,
  )));
  await drawChart(chartEl, traces, {
    xaxis: { title: { text: t("sched.axis.x") } },
    yaxis: { title: { text: t("sched.axis.y") }, type: g.logy ? "log" : "linear", exponentformat: "power" },
    showlegend: false,
    margin: { l: 64, r: 18, b: 52, t: 16 }, // a partial margin would reset l, r, b to 80
  });
  chartEl.dataset.traces = String(traces.length);
  chartEl.dataset.seq = String(seq);
}

const changed = debounce(() => {
  syncUrl();
  redraw();
}, 120);

function toggle(name, on) {
  if (on && !selected.has(name)) selected.set(name, { values: defaults(byName.get(name)) });
  if (!on) selected.delete(name);
  const box = picker.querySelector(`[data-testid="pick-${CSS.escape(name)}"]`);
  if (box) box.checked = on;
  renderCards();
  changed();
}

async function main() {
  try {
    const all = await getCatalog();
    catalog = all.schedules || [];
    const sgd = (all.optimizers || []).find((o) => o.name === "sgd");
    playgroundLr = (sgd && sgd.params.find((p) => p.name === "lr")) || null;
  } catch (err) {
    errorEl.hidden = false;
    errorEl.textContent = t("common.error", { msg: err.message });
    return;
  }
  for (const entry of catalog) byName.set(entry.name, entry);
  loadFromUrl();
  renderPicker();
  renderCards();
  for (const input of [lrInput, warmupInput, stepsInput, logInput]) {
    input.addEventListener(input === logInput ? "change" : "input", () => {
      stepsOut.textContent = stepsInput.value;
      changed();
    });
  }
  clearButton.addEventListener("click", () => {
    selected.clear();
    renderPicker();
    renderCards();
    changed();
  });
  onLangChange(() => {
    renderPicker();
    renderCards();
    redraw();
  });
  syncUrl();
  await redraw();
}

main();
