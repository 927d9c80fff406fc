// /labs/search: grid vs random vs TPE on the same budget, seed and data, side by side.
//
// "Run" posts three searches (POST /api/searches, one per sampler) that differ only in the
// sampler; their trials run in the server's worker processes. Each search is followed on its
// WebSocket (/api/searches/{id}/stream: a message whenever a trial starts or finishes). Every
// number drawn is a trial's own (params, objective, intermediate values) as the API reports
// it; the Optuna figures come from GET /api/searches/{id}/figures/{name} unchanged.
// The searchable hyperparameters and the presets come from the page (data-dimensions,
// data-presets: app/routers/pages.py).
//
// URL state: ?preset=default&x=lr&y=l2&dataset=spiral&hidden=16,16&trials=16&steps=200
//            &seed=0&pruner=none&truth=1
//
// Ground truth (truth=1): a dense grid search of its own (TRUTH_POINTS per float/int axis) on
// the same base, axes and steps, drawn faintly under every method's points. It is cached: the
// browser remembers the search id per request (localStorage), so running the same comparison
// again reuses the finished (or still running) landscape instead of training it again.

import {
  color, drawChart, el, fillSelect, getCatalog, getJSON, onLangChange, postJSON, readQuery, t,
  writeQuery,
} from "../common.js";
import { queryFromConfig } from "../playground/controls.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = $("search-lab");
const DIMENSIONS = JSON.parse(root.dataset.dimensions);
const PRESETS = JSON.parse(root.dataset.presets);
const METHODS = ["grid", "random", "tpe"];
const FIELDS = ["preset", "x", "y", "dataset", "hidden", "trials", "steps", "seed", "pruner"];
const inputs = {
  preset: $("search-preset"), x: $("search-x"), y: $("search-y"), dataset: $("search-dataset"),
  hidden: $("search-hidden"), trials: $("search-trials"), steps: $("search-steps"),
  seed: $("search-seed"), pruner: $("search-pruner"),
};

let catalog = null;
const TRUTH_POINTS = 6;
const TRUTH_CACHE_KEY = "gradplay.search.truth";
// the ground-truth search: {key, id, detail, trials: Map, socket} or null
let truth = null;
// a horizontal legend under the x-axis title (not on it)
const BELOW = { legend: { orientation: "h", y: -0.32, yanchor: "top" },
                margin: { l: 64, r: 18, t: 44, b: 96 } };
// method -> {id, detail (GET shape), trials: Map number -> trial, socket}
const searches = new Map();
let redrawTimer = null;

// ---- form state ------------------------------------------------------------------------------

function applyPreset(name) {
  const preset = PRESETS[name] || PRESETS.default;
  inputs.preset.value = PRESETS[name] ? name : "default";
  for (const key of ["x", "y", "dataset", "hidden", "trials", "steps"]) {
    inputs[key].value = String(preset[key]);
  }
}

function formState() {
  const state = {};
  for (const key of FIELDS) state[key] = inputs[key].value;
  if ($("search-truth").checked) state.truth = "1";
  return state;
}

function hiddenWidths() {
  const text = inputs.hidden.value.trim();
  if (!text) return [];
  return text.split(",").map((s) => Number(s.trim()));
}

// The checks the server makes too, done here so a typo never leaves the page: null if valid.
function formError() {
  if (inputs.x.value === inputs.y.value) return t("search.error.same_axis");
  const widths = hiddenWidths();
  if (widths.some((w) => !Number.isInteger(w) || w < 1 || w > 512)) {
    return t("search.error.hidden");
  }
  for (const [key, lo, hi] of [["trials", 1, 100], ["steps", 10, 5000], ["seed", 0, 1e6]]) {
    const v = Number(inputs[key].value);
    if (!Number.isInteger(v) || v < lo || v > hi) {
      return t("search.error.range", { field: t(`search.${key}`), lo, hi });
    }
  }
  return null;
}

function showError(message) {
  const box = $("search-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function presetPoints() {
  const preset = PRESETS[inputs.preset.value];
  const trials = Number(inputs.trials.value);
  if (preset && preset.points && preset.trials === trials) return preset.points;
  return Math.max(2, Math.round(Math.sqrt(trials)));
}

const TEST_FRACTION = 0.2;

function request(method) {
  const steps = Number(inputs.steps.value);
  const sampler = { name: method, seed: Number(inputs.seed.value) };
  if (method === "grid") sampler.points = presetPoints();
  // Optuna's default of 10 random start-up trials would leave TPE no model on a small budget
  if (method === "tpe") {
    sampler.n_startup_trials = Math.max(2, Math.floor(Number(inputs.trials.value) / 3));
  }
  return {
    base: {
      seed: Number(inputs.seed.value),
      // a held-out test split: the winner (chosen on validation) is measured on it once
      dataset: { name: inputs.dataset.value, test_fraction: TEST_FRACTION },
      model: { hidden: hiddenWidths() },
    },
    space: [DIMENSIONS[inputs.x.value], DIMENSIONS[inputs.y.value]],
    sampler,
    trials: Number(inputs.trials.value),
    steps,
    report_every: Math.max(1, Math.floor(steps / 10)),
    pruner: { name: inputs.pruner.value },
  };
}

// ---- searches ------------------------------------------------------------------------------

async function cancelAll() {
  for (const s of searches.values()) {
    if (s.socket) s.socket.close();
    if (s.detail && ["queued", "running"].includes(s.detail.state)) {
      try { await postJSON(`/api/searches/${s.id}/cancel`, {}); } catch { /* gone already */ }
    }
  }
}

// ---- ground truth ----------------------------------------------------------------------------

function truthRequest() {
  const body = request("grid");
  body.sampler = { name: "grid", seed: body.sampler.seed, points: TRUTH_POINTS };
  body.trials = 500; // capped by the server at the grid's size
  body.pruner = { name: "none" };
  return body;
}

function truthCache() {
  try { return JSON.parse(localStorage.getItem(TRUTH_CACHE_KEY) || "{}"); } catch { return {}; }
}

function storeTruthId(key, id) {
  const cache = truthCache();
  if (id) cache[key] = id; else delete cache[key];
  // a handful of landscapes is plenty: keep the newest 8
  const entries = Object.entries(cache).slice(-8);
  try { localStorage.setItem(TRUTH_CACHE_KEY, JSON.stringify(Object.fromEntries(entries))); } catch { /* not kept */ }
}

async function ensureTruth() {
  const body = truthRequest();
  const key = JSON.stringify(body);
  if (truth && truth.key === key && truth.detail.state !== "cancelled") {
    root.dataset.truthCached = "true";
    return;
  }
  if (truth && truth.socket) truth.socket.close();
  truth = null;
  let detail = null;
  const cached = truthCache()[key];
  if (cached) {
    try {
      detail = await getJSON(`/api/searches/${cached}`);
      if (detail.state === "cancelled") detail = null;
    } catch { detail = null; } // deleted, or another server
  }
  const reused = Boolean(detail);
  if (!detail) {
    detail = await postJSON("/api/searches", body);
    storeTruthId(key, detail.id);
  }
  truth = { key, id: detail.id, detail, trials: new Map(), socket: null };
  for (const trial of detail.trials || []) truth.trials.set(trial.number, trial);
  root.dataset.truthId = detail.id;
  root.dataset.truthCached = reused ? "true" : "false";
  if (detail.state !== "done") follow("truth", truth);
}

// the landscape on the (x, y) plane: unique grid values per axis and z[j][i] (null if missing)
function truthSurface(xPath, yPath) {
  if (!truth) return null;
  const done = [...truth.trials.values()].filter((tr) => tr.state === "COMPLETE" && !tr.requeued
    && tr.value !== null && xPath in tr.params && yPath in tr.params);
  if (done.length < 4) return null;
  const xs = [...new Set(done.map((tr) => tr.params[xPath]))].sort((a, b) => a - b);
  const ys = [...new Set(done.map((tr) => tr.params[yPath]))].sort((a, b) => a - b);
  const z = ys.map(() => xs.map(() => null));
  for (const tr of done) z[ys.indexOf(tr.params[yPath])][xs.indexOf(tr.params[xPath])] = tr.value;
  return { x: xs, y: ys, z, n: done.length };
}

async function runAll() {
  const problem = formError();
  showError(problem);
  if (problem) return;
  writeQuery(formState());
  await cancelAll();
  searches.clear();
  $("trial-details").hidden = true;
  shownTrial = null;
  $("search-run").disabled = true;
  try {
    if ($("search-truth").checked) await ensureTruth();
    for (const method of METHODS) {
      const detail = await postJSON("/api/searches", request(method));
      const s = { id: detail.id, detail, trials: new Map(), socket: null };
      for (const trial of detail.trials) s.trials.set(trial.number, trial);
      searches.set(method, s);
      follow(method, s);
    }
    $("search-cancel").disabled = false;
  } catch (error) {
    showError(error.message);
  } finally {
    $("search-run").disabled = false;
  }
  scheduleRedraw();
}

function follow(method, s) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${proto}://${location.host}/api/searches/${s.id}/stream`);
  s.socket = socket;
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "search") {
      s.detail = message;
      for (const trial of message.trials) s.trials.set(trial.number, trial);
    } else if (message.type === "trial") {
      s.trials.set(message.trial.number, message.trial);
    } else if (message.type === "state") {
      s.detail = { ...s.detail, ...message };
    } else if (message.type === "end") {
      s.detail = { ...s.detail, state: message.state };
      drawOptuna();
    }
    scheduleRedraw();
  });
}

// ---- drawing -------------------------------------------------------------------------------

function scheduleRedraw() {
  if (redrawTimer) return;
  redrawTimer = setTimeout(() => { redrawTimer = null; redraw(); }, 150);
}

function finished(s) {
  return [...s.trials.values()].filter((tr) => ["COMPLETE", "PRUNED", "FAIL"].includes(tr.state)
    && !tr.requeued);
}

function axisFor(key) {
  const dim = DIMENSIONS[key];
  return { title: { text: dim.path }, type: dim.log ? "log" : "linear" };
}

function statusText(method, s) {
  if (!s) return t("search.idle");
  const done = finished(s).length;
  const total = s.detail.trials_total;
  const best = s.detail.best;
  let bestText = best ? t("search.best", { value: best.value.toPrecision(4), n: best.number })
    : "";
  const test = best && best.evaluation && best.evaluation.test;
  if (test && test.loss !== null) {
    bestText += ` ${t("search.best_test", {
      loss: test.loss.toPrecision(4),
      acc: test.accuracy === null ? "—" : `${(100 * test.accuracy).toFixed(1)} %`,
    })}`;
  }
  return `${t(`search.state.${s.detail.state}`)} · ${done}/${total} ${bestText}`;
}

function drawPlane(method, s) {
  const [xKey, yKey] = [inputs.x.value, inputs.y.value];
  const xPath = DIMENSIONS[xKey].path;
  const yPath = DIMENSIONS[yKey].path;
  const trials = s ? [...s.trials.values()].filter((tr) => xPath in tr.params) : [];
  const groups = [
    ["COMPLETE", "circle"], ["PRUNED", "circle-open"], ["FAIL", "x"], ["RUNNING", "diamond-open"],
  ];
  const values = trials.filter((tr) => tr.value !== null).map((tr) => tr.value);
  const surface = $("search-truth").checked ? truthSurface(xPath, yPath) : null;
  // one colour scale for the points and the landscape under them
  if (surface) for (const row of surface.z) for (const v of row) if (v !== null) values.push(v);
  const [cmin, cmax] = values.length ? [Math.min(...values), Math.max(...values)] : [0, 1];
  const traces = groups.map(([state, symbol]) => {
    const group = trials.filter((tr) => tr.state === state && !tr.requeued);
    return {
      type: "scatter", mode: "markers", name: t(`search.trial_state.${state}`),
      x: group.map((tr) => tr.params[xPath]), y: group.map((tr) => tr.params[yPath]),
      customdata: group.map((tr) => tr.number),
      text: group.map((tr) => `#${tr.number} ${tr.value === null ? "" : tr.value.toPrecision(5)}`),
      hovertemplate: "%{text}<extra></extra>",
      marker: {
        size: 13, symbol,
        color: state === "FAIL" ? "#9aa3b2" : group.map((tr) => tr.value ?? cmax),
        colorscale: "Viridis", reversescale: true, cmin, cmax,
        showscale: false,
        line: { width: state === "COMPLETE" ? 0 : 2 },
      },
    };
  });
  if (surface) {
    traces.unshift({
      type: "contour", x: surface.x, y: surface.y, z: surface.z, name: t("search.truth"),
      colorscale: "Viridis", reversescale: true, showscale: false, opacity: 0.4,
      zmin: cmin, zmax: cmax, zauto: false,
      contours: { coloring: "heatmap", showlines: false }, connectgaps: true,
      hovertemplate: `${t("search.truth")}: %{z:.4g}<extra></extra>`,
    });
  }
  const el_ = $(`plane-${method}`);
  el_.dataset.truthPoints = surface ? String(surface.n) : "0";
  drawChart(el_, traces, {
    xaxis: axisFor(xKey), yaxis: axisFor(yKey), showlegend: false,
    margin: { l: 60, r: 10, t: 10, b: 50 },
  }).then(() => {
    if (!el_.dataset.clickBound) {
      el_.dataset.clickBound = "1";
      el_.on("plotly_click", (event) => showTrial(method, event.points[0].customdata));
    }
  });
  $(`status-${method}`).textContent = statusText(method, s);
}

function drawBest() {
  const traces = [];
  METHODS.forEach((method, i) => {
    const s = searches.get(method);
    if (!s) return;
    const done = finished(s).filter((tr) => tr.state === "COMPLETE")
      .sort((a, b) => a.number - b.number);
    let best = Infinity;
    const y = done.map((tr) => (best = Math.min(best, tr.value)));
    traces.push({ type: "scatter", mode: "lines+markers", name: t(`search.method.${method}`),
                  x: done.map((tr) => tr.number + 1), y, line: { color: color(i), width: 3 } });
  });
  drawChart($("chart-best"), traces, {
    title: { text: t("search.chart.best") }, ...BELOW,
    xaxis: { title: { text: t("search.axis.trial") } },
    yaxis: { title: { text: t("search.objective") }, type: "log" },
  });
}

function drawCurves() {
  const traces = [];
  METHODS.forEach((method, i) => {
    const s = searches.get(method);
    if (!s) return;
    let first = true;
    for (const tr of s.trials.values()) {
      if (!tr.intermediate_values.length || tr.requeued) continue;
      traces.push({
        type: "scatter", mode: "lines", legendgroup: method, showlegend: first,
        name: t(`search.method.${method}`), opacity: tr.state === "PRUNED" ? 0.45 : 0.8,
        x: tr.intermediate_values.map((p) => p[0]), y: tr.intermediate_values.map((p) => p[1]),
        line: { color: color(i), width: 1.5, dash: tr.state === "PRUNED" ? "dot" : "solid" },
        hovertemplate: `${t(`search.method.${method}`)} #${tr.number}: %{y:.4g}<extra></extra>`,
      });
      first = false;
    }
  });
  drawChart($("chart-curves"), traces, {
    title: { text: t("search.chart.curves") }, ...BELOW,
    xaxis: { title: { text: t("search.axis.step") } },
    yaxis: { title: { text: t("search.objective") }, type: "log" },
  });
}

async function drawOptuna() {
  const method = $("search-figure-method").value;
  const s = searches.get(method);
  const note = $("optuna-note");
  if (!s) return;
  // the figure's needs (the server's, on the option): until the search has them, say so
  // instead of asking (a 409 would also be a console error)
  const option = $("search-figure").selectedOptions[0];
  const needTrials = Number(option.dataset.minTrials || 0);
  const needParams = Number(option.dataset.minParams || 0);
  const done = [...s.trials.values()].filter((tr) => tr.state === "COMPLETE").length;
  const params = ((s.detail && s.detail.spec && s.detail.spec.space) || []).length;
  if (done < needTrials || params < needParams) {
    note.textContent = t("search.fig_needs", { trials: needTrials, params: needParams, done,
      method: t(`search.method.${method}`) });
    note.hidden = false;
    return;
  }
  try {
    const figure = await getJSON(`/api/searches/${s.id}/figures/${$("search-figure").value}`);
    note.hidden = true;
    const layout = { ...figure.layout };
    delete layout.template;
    delete layout.width;
    delete layout.height;
    await drawChart($("chart-optuna"), figure.data, layout);
  } catch (error) {
    note.textContent = error.message;
    note.hidden = false;
  }
}

let shownTrial = null; // [method, number] of the details box, re-rendered on a language change

function showTrial(method, number) {
  shownTrial = [method, number];
  const s = searches.get(method);
  const tr = s && s.trials.get(number);
  const box = $("trial-details");
  if (!tr) return;
  const rows = Object.entries(tr.params).map(([k, v]) => el("tr", {}, el("td", {}, k),
    el("td", {}, String(v))));
  rows.push(el("tr", {}, el("td", {}, t("search.objective")),
                el("td", {}, tr.value === null ? "—" : String(tr.value))));
  rows.push(el("tr", {}, el("td", {}, t("search.worker")), el("td", {}, tr.worker || "—")));
  const children = [
    el("h3", {}, `${t(`search.method.${method}`)} · ${t("search.trial")} #${tr.number} · `
      + t(`search.trial_state.${tr.state}`)),
    el("table", {}, ...rows),
  ];
  if (tr.fail_reason) children.push(el("p", { class: "error" }, tr.fail_reason));
  if (tr.run_config && catalog) {
    const query = new URLSearchParams(queryFromConfig(tr.run_config, catalog));
    children.push(el("p", {}, el("a", { href: `/?${query}`, "data-testid": "open-trial" },
      t("search.open", { steps: tr.steps }))));
  }
  box.replaceChildren(...children);
  box.hidden = false;
}

function redraw() {
  for (const method of METHODS) drawPlane(method, searches.get(method));
  drawBest();
  drawCurves();
}

// ---- start ---------------------------------------------------------------------------------

async function main() {
  catalog = await getCatalog();
  // custom data needs an uploaded table (the playground uploads one): not offered here
  fillSelect(inputs.dataset, "datasets", catalog.datasets.filter((d) => !d.custom), "spiral");
  // A link is read part by part: a value the form cannot take is dropped and named.
  const query = readQuery();
  applyPreset(query.get("preset") || "default");
  const dropped = [];
  for (const key of FIELDS.filter((k) => k !== "preset")) {
    const value = query.get(key);
    if (value === null) continue;
    const before = inputs[key].value;
    inputs[key].value = value;
    if (inputs[key].value !== value || formError()) {
      inputs[key].value = before;
      dropped.push(`${key}=${value}`);
    }
  }
  if (query.get("preset") && !PRESETS[query.get("preset")]) dropped.push(`preset=${query.get("preset")}`);
  if (dropped.length) showError(t("search.dropped", { fields: dropped.join(", ") }));
  inputs.preset.addEventListener("change", () => { applyPreset(inputs.preset.value);
    writeQuery(formState()); redraw(); });
  for (const key of FIELDS.filter((k) => k !== "preset")) {
    inputs[key].addEventListener("change", () => {
      const problem = formError();
      showError(problem);
      if (!problem) writeQuery(formState());
      redraw();
    });
  }
  $("search-run").addEventListener("click", runAll);
  const truthBox = $("search-truth");
  truthBox.checked = query.get("truth") === "1";
  truthBox.addEventListener("change", () => { writeQuery(formState()); redraw(); });
  $("search-cancel").addEventListener("click", async () => {
    await cancelAll();
    if (truth && ["queued", "running"].includes(truth.detail.state)) {
      try { await postJSON(`/api/searches/${truth.id}/cancel`, {}); } catch { /* gone */ }
      storeTruthId(truth.key, null); // unfinished: not worth reusing
    }
    $("search-cancel").disabled = true;
  });
  $("search-figure").addEventListener("change", drawOptuna);
  $("search-figure-method").addEventListener("change", drawOptuna);
  onLangChange(() => {
    redraw();
    drawOptuna();
    if (shownTrial) showTrial(...shownTrial);
  });
  redraw();
  root.dataset.ready = "true";
}

main().catch((error) => showError(error.message));
