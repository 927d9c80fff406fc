// /labs/optimizers: optimizers on 2-D test functions. Surfaces, optimizers and their parameters
// come from GET /api/catalog; every number drawn comes from the engine
// (POST /api/optimizers/contour, /api/optimizers/trajectory with "state": true, /api/labs/ewa).
//
// URL state: ?fn=saddle&fp.<param>=1&start=-2,0.01&steps=100&o=sgd,sgd&o1.momentum=0.9&inside=1
//   &beta=0.9&preset=saddle   (o<i>.<param>: parameters of optimizer i that differ from the
//   default; fp.<param>: parameters of the surface, e.g. fp.a; preset: the last preset
//   clicked, informational)

import {
  buildParamControls,
  checkParams,
  color,
  debounce,
  drawChart,
  el,
  fillSelect,
  getCatalog,
  onLangChange,
  paramsFromQuery,
  paramsToQuery,
  postJSON,
  readQuery,
  t,
  writeQuery,
} from "../common.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const MAX_OPTIMIZERS = 6;
const MAX_STEPS = 2000;

// One click each; every preset is a full page state (written to the URL).
const PRESETS = [
  { id: "saddle", fn: "saddle", steps: 30, opts: [["sgd", { lr: 0.05 }], ["sgd", { lr: 0.05, momentum: 0.9 }]] },
  { id: "zigzag", fn: "quadratic", fp: { a: 1, b: 20 }, start: [-2.5, 1.5], steps: 60,
    opts: [["sgd", { lr: 0.09 }], ["sgd", { lr: 0.09, momentum: 0.5 }]] },
  { id: "rescaled", fn: "quadratic", fp: { a: 1, b: 1 }, start: [-2.5, 1.5], steps: 60,
    opts: [["sgd", { lr: 0.09 }], ["sgd", { lr: 0.9 }]] },
  { id: "rosenbrock", fn: "rosenbrock", steps: 500, opts: [["adam", { lr: 0.05 }], ["sgd", { lr: 0.001 }]] },
  { id: "adagrad", fn: "quadratic", fp: { a: 1, b: 10 }, steps: 300, inside: 0,
    opts: [["adagrad", { lr: 0.5 }], ["rmsprop", { lr: 0.05 }]] },
  { id: "diverge", fn: "quadratic", fp: { a: 1, b: 10 }, steps: 300,
    opts: [["sgd", { lr: 0.15 }], ["sgd", { lr: 0.5 }]] },
  { id: "notes", fn: "quadratic", fp: { a: 1, b: 1 }, start: [1, 0], steps: 2,
    opts: [["sgd", { lr: 0.01, momentum: 0.9 }], ["sgd", { lr: 0.01, momentum: 0.9, dampening: 0.9 }]] },
];

let catalog = null;
const optByName = new Map();
const fnByName = new Map();
const state = { fn: "saddle", fp: {}, start: null, steps: 100, opts: [], inside: 0, beta: 0.9, preset: null };
let fnCtl = null;
let optCtls = [];
let runs = []; // per optimizer: trajectory response or {error}
let surface = null; // contour response
let frame = 0;
let timer = null;
let seq = 0;

// ---- URL --------------------------------------------------------------------------------------

function toQuery() {
  const q = [["fn", state.fn]];
  const fnEntry = fnByName.get(state.fn);
  if (fnEntry) q.push(...paramsToQuery(fnEntry, state.fp, "fp."));
  if (state.start) q.push(["start", state.start.join(",")]);
  q.push(["steps", String(state.steps)]);
  q.push(["o", state.opts.map((o) => o.name).join(",")]);
  state.opts.forEach((o, i) => q.push(...paramsToQuery(optByName.get(o.name), o.values, `o${i}.`)));
  q.push(["inside", String(state.inside)], ["beta", String(state.beta)]);
  if (state.preset) q.push(["preset", state.preset]);
  writeQuery(q);
}

function fromQuery() {
  const q = readQuery();
  if (fnByName.has(q.get("fn"))) state.fn = q.get("fn");
  state.fp = paramsFromQuery(fnByName.get(state.fn), q, "fp.");
  const start = (q.get("start") || "").split(",").map(Number);
  state.start = start.length === 2 && start.every(Number.isFinite) ? start : null;
  const steps = Number(q.get("steps"));
  if (Number.isInteger(steps) && steps >= 1 && steps <= MAX_STEPS) state.steps = steps;
  const names = (q.get("o") || "").split(",").filter((n) => optByName.has(n)).slice(0, MAX_OPTIMIZERS);
  state.opts = names.map((name, i) => ({ name, values: paramsFromQuery(optByName.get(name), q, `o${i}.`) }));
  if (!state.opts.length) {
    // no optimizers in the URL: the first preset's (SGD with and without momentum)
    const first = PRESETS[0];
    state.opts = first.opts.map(([name, values]) => ({ name, values: { ...values } }));
    if (!q.get("steps")) state.steps = first.steps;
  }
  const inside = Number(q.get("inside"));
  state.inside = q.get("inside") !== null && Number.isInteger(inside) && inside >= 0 && inside < state.opts.length
    ? inside : state.opts.length - 1;
  const beta = Number(q.get("beta"));
  if (q.get("beta") !== null && beta >= 0 && beta < 1) state.beta = beta;
  state.preset = q.get("preset");
}

// ---- controls ---------------------------------------------------------------------------------

function buildPresets() {
  const box = $("opt-presets");
  box.replaceChildren(...PRESETS.map((p) => {
    const button = el("button", {
      type: "button", className: "preset-btn", "data-testid": `opt-preset-${p.id}`,
      title: t(`opt.preset.${p.id}.hint`), "aria-pressed": state.preset === p.id ? "true" : "false",
    }, t(`opt.preset.${p.id}`));
    button.addEventListener("click", () => applyPreset(p));
    return button;
  }));
}

function applyPreset(p) {
  state.fn = p.fn;
  state.fp = { ...(p.fp || {}) };
  state.start = p.start ? [...p.start] : null;
  state.steps = p.steps;
  state.opts = p.opts.map(([name, values]) => ({ name, values: { ...values } }));
  state.inside = p.inside ?? state.opts.length - 1;
  state.preset = p.id;
  buildPresets();
  buildSurfaceControls();
  buildOptControls();
  refresh(true);
}

function buildSurfaceControls() {
  const select = $("opt-function");
  fillSelect(select, "test_functions", catalog.test_functions, state.fn);
  const box = $("opt-fn-params");
  box.replaceChildren();
  fnCtl = buildParamControls(box, "test_functions", fnByName.get(state.fn), {
    values: state.fp,
    onChange: debounce(() => { state.fp = fnCtl.valid(); state.preset = null; refresh(true); }, 250),
  });
  $("opt-steps").value = String(state.steps);
}

function buildOptControls() {
  const box = $("opt-list");
  box.replaceChildren();
  optCtls = state.opts.map((o, i) => {
    const select = el("select", { "data-testid": `opt-name-${i}`, "aria-label": t("opt.optimizer") });
    fillSelect(select, "optimizers", catalog.optimizers, o.name);
    select.addEventListener("change", () => {
      state.opts[i] = { name: select.value, values: {} };
      state.preset = null;
      buildOptControls();
      refresh(false);
    });
    const remove = el("button", {
      type: "button", className: "link-btn", "data-testid": `opt-remove-${i}`,
      disabled: state.opts.length <= 1, "aria-label": t("opt.remove"),
    }, "✕");
    remove.addEventListener("click", () => {
      state.opts.splice(i, 1);
      state.inside = Math.min(state.inside, state.opts.length - 1);
      state.preset = null;
      buildOptControls();
      refresh(false);
    });
    const head = el("div", { className: "picker-head" },
      optSwatch(i), select, remove);
    const params = el("div");
    const card = el("div", { className: "opt-card", "data-testid": `opt-card-${i}` }, head, params);
    box.append(card);
    const ctl = buildParamControls(params, "optimizers", optByName.get(o.name), {
      values: o.values,
      onChange: debounce(() => { state.opts[i].values = ctl.valid(); state.preset = null; refresh(false); }, 250),
    });
    return ctl;
  });
  $("opt-add").disabled = state.opts.length >= MAX_OPTIMIZERS;
  const pick = $("opt-inside-pick");
  pick.replaceChildren(...state.opts.map((o, i) => el("option", { value: String(i) }, `${i + 1}. ${o.name}`)));
  pick.value = String(state.inside);
}

// A colour dot (set through the CSSOM: no inline style attribute).
function optSwatch(i) {
  const dot = el("span", { className: "opt-swatch", "aria-hidden": "true" });
  dot.style.background = color(i);
  return dot;
}

// ---- runs ---------------------------------------------------------------------------------

function showError(text) {
  const node = $("opt-error");
  node.textContent = text || "";
  node.hidden = !text;
}

const root = document.querySelector('[data-testid="optimizers-lab"]');

async function refresh(newSurface) {
  toQuery();
  pause();
  const id = ++seq;
  root.dataset.state = "loading";
  const fnEntry = fnByName.get(state.fn);
  const problems = checkParams(fnEntry, { ...defaults(fnEntry), ...state.fp });
  state.opts.forEach((o) => problems.push(...checkParams(optByName.get(o.name), { ...defaults(optByName.get(o.name)), ...o.values })));
  if (problems.length) { showError(problems.join("; ")); root.dataset.state = "invalid"; return; }
  showError("");
  try {
    const start = state.start || fnEntry.start;
    const [contour, ...results] = await Promise.all([
      newSurface || !surface ? postJSON("/api/optimizers/contour", { function: state.fn, params: state.fp, resolution: 80 }) : surface,
      ...state.opts.map((o) => postJSON("/api/optimizers/trajectory", {
        function: state.fn, params: state.fp, start, steps: state.steps, state: true,
        optimizer: { name: o.name, ...o.values },
      })),
    ]);
    if (id !== seq) return;
    surface = contour;
    runs = results;
  } catch (err) {
    if (id === seq) { showError(err.message); root.dataset.state = "error"; }
    return;
  }
  frame = maxFrame();
  $("opt-scrubber").max = String(maxFrame());
  await drawAll();
  if (id === seq) root.dataset.state = "ready";
}

function defaults(entry) {
  return Object.fromEntries(entry.params.map((p) => [p.name, p.default]));
}

function maxFrame() {
  return Math.max(0, ...runs.map((r) => r.steps_done));
}

// ---- charts ---------------------------------------------------------------------------------

function label(i) {
  return `${i + 1}. ${state.opts[i]?.name ?? ""}`;
}

function drawContour() {
  const z = surface.z;
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of z) for (const v of row) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const delta = (hi - lo) * 1e-4 + 1e-12;
  // log-spaced levels: contour lines of log10(f − min f + δ)
  const zl = z.map((row) => row.map((v) => (v === null ? null : Math.log10(v - lo + delta))));
  const traces = [{
    type: "contour", x: surface.x, y: surface.y, z: zl, colorscale: "Viridis", reversescale: true,
    ncontours: 24, showscale: false, opacity: 0.9, hovertemplate: "x %{x:.3f}<br>y %{y:.3f}<extra></extra>",
    contours: { coloring: "fill", showlines: true }, line: { width: 0.5 }, name: "surface",
  }];
  const meta = fnByName.get(state.fn);
  if (meta.minima?.length) {
    const mins = runs[0]?.minima || meta.minima;
    traces.push({ type: "scatter", mode: "markers", x: mins.map((m) => m[0]), y: mins.map((m) => m[1]),
      marker: { symbol: "star", size: 14, color: "#fff", line: { color: "#000", width: 1 } }, name: t("opt.minimum"), hoverinfo: "skip" });
  }
  runs.forEach((r, i) => {
    const k = Math.min(frame, r.steps_done);
    const pts = r.path.slice(0, k + 1);
    // markers are placed by SVG transforms, which break on astronomically large pixel offsets
    // (a diverging run): such a path is drawn as a line only, which Plotly clips
    const tame = pts.every((p) => Math.abs(p[0]) < 1e6 && Math.abs(p[1]) < 1e6);
    traces.push({ type: "scatter", mode: tame ? "lines+markers" : "lines", x: pts.map((p) => p[0]), y: pts.map((p) => p[1]),
      line: { color: color(i), width: 2 }, marker: { size: 4, color: color(i) }, name: label(i), meta: { opt: i, kind: "path" } });
  });
  const [x0, x1] = [surface.x[0], surface.x.at(-1)];
  const [y0, y1] = [surface.y[0], surface.y.at(-1)];
  return drawChart($("chart-contour"), traces, {
    xaxis: { title: { text: "x" }, range: [x0, x1] }, yaxis: { title: { text: "y" }, range: [y0, y1] },
    dragmode: false, showlegend: false, margin: { l: 50, r: 10, t: 10, b: 40 },
  });
}

async function drawSeries() {
  const fTraces = runs.map((r, i) => ({ type: "scatter", mode: "lines", x: r.value.map((_, s) => s), y: r.value,
    line: { color: color(i) }, name: label(i), meta: { opt: i } }));
  const allPositive = runs.every((r) => r.value.every((v) => v > 0));
  await drawChart($("chart-f"), fTraces, { xaxis: { title: { text: t("opt.step_axis") } },
    yaxis: { title: { text: "f(x, y)" }, type: allPositive ? "log" : "linear" } });
  const hasMin = runs.length && runs[0].distance;
  $("opt-no-minimum").hidden = Boolean(hasMin);
  $("chart-distance").hidden = !hasMin;
  if (!hasMin) return; // the chart stays hidden: the surface has no minimum
  const dTraces = runs.map((r, i) => ({ type: "scatter", mode: "lines", x: r.distance.map((_, s) => s), y: r.distance,
    line: { color: color(i) }, name: label(i), meta: { opt: i } }));
  await drawChart($("chart-distance"), dTraces, { xaxis: { title: { text: t("opt.step_axis") } },
    yaxis: { title: { text: t("opt.distance") }, type: "log" } });
}

async function drawInside() {
  const i = Math.min(state.inside, runs.length - 1);
  const r = runs[i];
  const traces = [];
  for (const [key, rows] of Object.entries(r?.state || {})) {
    ["x", "y"].forEach((c, j) => traces.push({ type: "scatter", mode: "lines", name: `${key}[${c}]`,
      x: rows.map((_, s) => s + 1), y: rows.map((row) => row[j]), line: { dash: j ? "dot" : "solid" }, meta: { key, coord: c } }));
  }
  $("opt-no-state").hidden = traces.length > 0;
  $("chart-state").hidden = !traces.length;
  if (!traces.length) return drawEffective();
  await drawChart($("chart-state"), traces, { title: { text: `${t("opt.state_title")}: ${label(i)}` },
    xaxis: { title: { text: t("opt.step_axis") } } });
  return drawEffective();
}

function drawEffective() {
  const eff = [];
  runs.forEach((run, k) => ["x", "y"].forEach((c, j) => eff.push({ type: "scatter", mode: "lines",
    name: `${label(k)} [${c}]`, x: run.effective_lr.map((_, s) => s + 1), y: run.effective_lr.map((row) => Math.abs(row[j])),
    line: { color: color(k), dash: j ? "dot" : "solid" }, meta: { opt: k, coord: c } })));
  return drawChart($("chart-effective-lr"), eff, { title: { text: t("opt.eff_title") },
    xaxis: { title: { text: t("opt.step_axis") } }, yaxis: { type: "log" } });
}

function drawLegend() {
  $("opt-legend").replaceChildren(...runs.map((r, i) => {
    const last = r.path.at(-1);
    const text = r.diverged
      ? t("opt.diverged", { n: r.diverged_at })
      : t("opt.final", { x: last ? last[0].toPrecision(4) : "–", y: last ? last[1].toPrecision(4) : "–", f: r.value.at(-1)?.toPrecision(4) ?? "–" });
    return el("li", { "data-testid": `opt-status-${i}`, "data-diverged": String(r.diverged) },
      optSwatch(i), ` ${label(i)}: ${text}`);
  }));
}

function drawFrame() {
  $("opt-scrubber").value = String(frame);
  $("opt-frame").textContent = String(frame);
  return drawContour();
}

function drawAll() {
  const start = state.start || fnByName.get(state.fn).start;
  $("opt-start").textContent = `(${start.map((v) => Number(v.toPrecision(4))).join(", ")})`;
  drawLegend();
  return Promise.all([drawFrame(), drawSeries(), drawInside()]);
}

// ---- player -----------------------------------------------------------------------------------

function play() {
  if (timer) return;
  if (frame >= maxFrame()) frame = 0;
  const stride = Math.max(1, Math.ceil(maxFrame() / 150));
  timer = setInterval(() => {
    frame = Math.min(maxFrame(), frame + stride);
    drawFrame();
    if (frame >= maxFrame()) pause();
  }, 60);
}

function pause() {
  clearInterval(timer);
  timer = null;
}

// ---- notes table + EWA ------------------------------------------------------------------------

const num = (v) => String(Number(v.toPrecision(10)));

async function drawNotes() {
  const bowl = { function: "quadratic", params: { a: 1, b: 1 } }; // f = ½x² on the line y = 0
  const [mom, damp, rms] = await Promise.all([
    postJSON("/api/optimizers/trajectory", { ...bowl, start: [1, 0], steps: 2, optimizer: { name: "sgd", lr: 0.01, momentum: 0.9 } }),
    postJSON("/api/optimizers/trajectory", { ...bowl, start: [1, 0], steps: 2, optimizer: { name: "sgd", lr: 0.01, momentum: 0.9, dampening: 0.9 } }),
    postJSON("/api/optimizers/trajectory", { ...bowl, start: [0.1, 0], steps: 1, optimizer: { name: "rmsprop", lr: 0.01, alpha: 0.9 } }),
  ]);
  const rows = [
    ["opt.notes_row.mom1", "0.99", mom.path[1][0]],
    ["opt.notes_row.mom2", "0.9711", mom.path[2][0]],
    ["opt.notes_row.rms1", "0.0684", rms.path[1][0]],
    ["opt.notes_row.damp2", "0.98001", damp.path[2][0]],
  ];
  $("opt-notes-table").querySelector("tbody").replaceChildren(...rows.map(([key, notes, value], i) => el("tr", { "data-testid": `opt-notes-row-${i}` },
    el("td", { "data-i18n": key }, t(key)), el("td", {}, notes), el("td", { "data-testid": "gradplay" }, num(value)))));
}

async function drawEwa() {
  $("opt-ewa-beta-value").textContent = String(state.beta);
  const r = await postJSON("/api/labs/ewa", { beta: state.beta, n: 100, noise: 2, seed: 0 });
  const line = (y, name, extra = {}) => ({ type: "scatter", mode: "lines", x: r.t, y, name, ...extra });
  await drawChart($("chart-ewa"), [
    { type: "scatter", mode: "markers", x: r.t, y: r.values, name: t("opt.ewa_values"), marker: { size: 4, color: "#9aa3b5" } },
    line(r.signal, t("opt.ewa_signal"), { line: { color: "#6b7a8f", dash: "dot" } }),
    line(r.zero_start, t("opt.ewa_zero"), { line: { color: color(1) } }),
    line(r.bias_corrected, t("opt.ewa_corrected"), { line: { color: color(0) } }),
    line(r.first_value_start, t("opt.ewa_first"), { line: { color: color(2), dash: "dash" } }),
  ], { xaxis: { title: { text: "t" } } });
  $("opt-ewa-window").textContent = t("opt.ewa_window", { w: Number(r.window.toPrecision(4)) });
}

// ---- wiring -----------------------------------------------------------------------------------

async function init() {
  catalog = await getCatalog();
  for (const o of catalog.optimizers) optByName.set(o.name, o);
  for (const f of catalog.test_functions) fnByName.set(f.name, f);
  fromQuery();
  buildPresets();
  buildSurfaceControls();
  buildOptControls();
  $("opt-function").addEventListener("change", (e) => {
    state.fn = e.target.value;
    state.fp = {};
    state.start = null;
    state.preset = null;
    buildSurfaceControls();
    refresh(true);
  });
  $("opt-steps").addEventListener("change", (e) => {
    const v = Number(e.target.value);
    if (Number.isInteger(v) && v >= 1 && v <= MAX_STEPS) { state.steps = v; refresh(false); }
    else showError(`steps: ${t("controls.invalid", { range: `1 … ${MAX_STEPS}` })}`);
  });
  $("opt-add").addEventListener("click", () => {
    if (state.opts.length >= MAX_OPTIMIZERS) return;
    state.opts.push({ name: "adam", values: {} });
    buildOptControls();
    refresh(false);
  });
  $("opt-inside-pick").addEventListener("change", (e) => { state.inside = Number(e.target.value); toQuery(); drawInside(); });
  $("opt-play").addEventListener("click", play);
  $("opt-pause").addEventListener("click", pause);
  $("opt-step").addEventListener("click", () => { pause(); frame = Math.min(maxFrame(), frame + 1); drawFrame(); });
  $("opt-scrubber").addEventListener("input", (e) => { pause(); frame = Number(e.target.value); drawFrame(); });
  $("opt-ewa-beta").value = String(state.beta);
  $("opt-ewa-beta").addEventListener("input", debounce((e) => { state.beta = Number(e.target.value); toQuery(); drawEwa(); }, 150));
  const contourEl = $("chart-contour");
  await refresh(true);
  contourEl.on("plotly_click", (ev) => {
    const p = ev.points?.[0];
    if (!p) return;
    state.start = [Number(p.x.toPrecision(4)), Number(p.y.toPrecision(4))];
    state.preset = null;
    refresh(false);
  });
  await Promise.all([drawNotes(), drawEwa()]);
  onLangChange(() => { buildPresets(); buildOptControls(); if (runs.length) drawAll(); drawNotes(); drawEwa(); });
  root.dataset.extras = "ready";
}

init().catch((err) => showError(err.message));
