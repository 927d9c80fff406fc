// /labs/blocks: the building blocks — activations, softmax, losses and calculators.
// Every number comes from the engine: GET /api/activations/{name}/curve (f, f', saturated
// intervals, output range, zero-centred), POST /api/labs/softmax, /api/labs/loss-curve,
// /api/labs/conv-shape, /api/labs/param-count, /api/labs/iterations; and normal runs
// (POST /api/runs, POST /api/runs/{id}/step, GET .../snapshot and .../data) for "why
// non-linearity" (circle, identity vs tanh) and the outlier fits (sine with outliers; MSE,
// MAE, smooth L1).
//
// URL state: ?acts=sigmoid,tanh,relu&focus=leaky_relu&a.leaky_relu.negative_slope=0.1
//   &logits=2,1,0.1,-1&T=1&y=0&beta=1&delta=1&by=1&out=0.2
//   &cv=5,5,3,0,2,1&kind=conv&ceil=0&mlp=784,128,64,10&cnn=28,1,8:3:1:1,16:3:2:1,10&it=50000,256

import {
  buildParamControls,
  checkParams,
  color,
  debounce,
  drawChart,
  el,
  fillSelect,
  getCatalog,
  getJSON,
  onLangChange,
  paramsFromQuery,
  paramsToQuery,
  postJSON,
  readQuery,
  t,
  writeQuery,
} from "../common.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = $("blocks-lab");
const DEFAULT_ACTS = ["sigmoid", "tanh", "relu"];
const RESIDUAL_LOSSES = ["mse", "mae", "smooth_l1", "huber"];
const OUTLIER_LOSSES = ["mse", "mae", "smooth_l1"];
const NL_STEPS = 600;
const OUT_STEPS = 1500;
const MAX_GRID = 40; // conv grid: cells per side drawn at most

let catalog = null;
const actByName = new Map();
const state = {
  acts: [...DEFAULT_ACTS],
  focus: "leaky_relu",
  ap: {}, // activation name -> parameter values
  logits: [2, 1, 0.1, -1],
  T: 1,
  y: 0,
  beta: 1,
  delta: 1,
  by: 1,
  out: 0.2,
  cv: [5, 5, 3, 0, 2, 1], // W, H, F, P, S, D
  kind: "conv",
  ceil: false,
  mlp: "784, 128, 64, 10",
  cnn: "28, 1, 8:3:1:1, 16:3:2:1, 10",
  it: [50000, 256],
};
let focusCtl = null;
let actCurves = new Map(); // name -> curve response
const pending = { act: 0, sm: 0, loss: 0, cv: 0 };

const num = (v, digits = 6) => (v === null || v === undefined ? "—" : String(Number(Number(v).toPrecision(digits))));

function showError(msg) {
  const node = $("blk-error");
  node.hidden = !msg;
  node.textContent = msg ? t("common.error", { msg }) : "";
}

// ---- URL ----------------------------------------------------------------------------------------

function toQuery() {
  const q = [["acts", state.acts.join(",")], ["focus", state.focus]];
  for (const [name, values] of Object.entries(state.ap)) {
    const entry = actByName.get(name);
    if (entry) q.push(...paramsToQuery(entry, values, `a.${name}.`));
  }
  q.push(["logits", state.logits.join(",")], ["T", String(state.T)], ["y", String(state.y)]);
  q.push(["beta", String(state.beta)], ["delta", String(state.delta)], ["by", String(state.by)]);
  q.push(["out", String(state.out)], ["cv", state.cv.join(",")], ["kind", state.kind]);
  q.push(["ceil", state.ceil ? "1" : "0"], ["mlp", state.mlp], ["cnn", state.cnn]);
  q.push(["it", state.it.join(",")]);
  writeQuery(q);
}

function numbers(text, count, integer) {
  if (!text) return null;
  const xs = text.split(",").map(Number);
  if (count && xs.length !== count) return null;
  if (!xs.every((x) => Number.isFinite(x) && (!integer || Number.isInteger(x)))) return null;
  return xs;
}

function fromQuery() {
  const q = readQuery();
  const acts = (q.get("acts") || "").split(",").filter((a) => actByName.has(a));
  if (q.has("acts")) state.acts = acts;
  if (actByName.has(q.get("focus"))) state.focus = q.get("focus");
  for (const entry of actByName.values()) {
    const values = paramsFromQuery(entry, q, `a.${entry.name}.`);
    if (Object.keys(values).length) state.ap[entry.name] = values;
  }
  const logits = numbers(q.get("logits"));
  if (logits && logits.length >= 2 && logits.length <= 8) state.logits = logits;
  for (const key of ["T", "beta", "delta", "by", "out"]) {
    const v = Number(q.get(key));
    if (q.has(key) && Number.isFinite(v)) state[key] = v;
  }
  const y = Number(q.get("y"));
  if (Number.isInteger(y) && y >= 0 && y < state.logits.length) state.y = y;
  const cv = numbers(q.get("cv"), 6, true);
  if (cv) state.cv = cv;
  if (["conv", "pool"].includes(q.get("kind"))) state.kind = q.get("kind");
  state.ceil = q.get("ceil") === "1";
  if (q.get("mlp")) state.mlp = q.get("mlp");
  if (q.get("cnn")) state.cnn = q.get("cnn");
  const it = numbers(q.get("it"), 2, true);
  if (it) state.it = it;
}

// ---- activations --------------------------------------------------------------------------------

function actColor(name) {
  return color(catalog.activations.findIndex((a) => a.name === name));
}

function buildActList() {
  const box = $("blk-act-list");
  box.querySelectorAll("label").forEach((n) => n.remove());
  for (const entry of catalog.activations) {
    const input = el("input", { type: "checkbox", value: entry.name, "data-testid": `blk-act-${entry.name}` });
    input.checked = state.acts.includes(entry.name);
    input.addEventListener("change", () => {
      state.acts = catalog.activations.map((a) => a.name).filter((n) => box.querySelector(`input[value="${n}"]`).checked);
      drawActivations();
    });
    const swatch = el("span", { className: "blk-swatch" });
    swatch.style.background = actColor(entry.name);
    box.append(el("label", {}, input, swatch, el("span", { className: "param-id" }, entry.name)));
  }
  const select = $("blk-act-focus");
  fillSelect(select, "activations", catalog.activations, state.focus);
}

function buildFocusControls() {
  const box = $("blk-act-params");
  box.replaceChildren();
  const entry = actByName.get(state.focus);
  focusCtl = buildParamControls(box, "activations", entry, {
    values: state.ap[state.focus] || {},
    onCommit: (values) => {
      if (checkParams(entry, values).length) return;
      state.ap[state.focus] = values;
      if (!state.acts.includes(state.focus)) {
        state.acts.push(state.focus);
        buildActList();
      }
      drawActivations();
    },
  });
  $("blk-act-formula").textContent = entry.formula;
}

function rangeText(r) {
  const lo = r.min === null ? "(−∞" : `${r.min_closed ? "[" : "("}${num(r.min, 4)}`;
  const hi = r.max === null ? "∞)" : `${num(r.max, 4)}${r.max_closed ? "]" : ")"}`;
  return `${lo}, ${hi}`;
}

async function drawActivations() {
  toQuery();
  const my = ++pending.act;
  const names = [...state.acts];
  const curves = await Promise.all(names.map((name) => {
    const params = encodeURIComponent(JSON.stringify(state.ap[name] || {}));
    return getJSON(`/api/activations/${name}/curve?x_min=-6&x_max=6&n=241&params=${params}`);
  }));
  if (my !== pending.act) return;
  actCurves = new Map(names.map((n, i) => [n, curves[i]]));
  const shapes = [];
  names.forEach((name, i) => {
    for (const [x0, x1] of curves[i].saturated) {
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0, x1, y0: 0, y1: 1, fillcolor: actColor(name),
        opacity: 0.12, line: { width: 0 }, layer: "below", name: `saturated ${name}` });
    }
  });
  const trace = (name, i, key) => ({ type: "scatter", mode: "lines", x: curves[i].x, y: curves[i][key], name,
    line: { color: actColor(name), width: 2 }, meta: { name, saturated: curves[i].saturated } });
  const layout = (ytitle) => ({ shapes, xaxis: { title: { text: "z" } }, yaxis: { title: { text: ytitle } } });
  await Promise.all([
    drawChart($("chart-act-f"), names.map((n, i) => trace(n, i, "y")), layout("f(z)")),
    drawChart($("chart-act-df"), names.map((n, i) => trace(n, i, "dy")), layout("f′(z)")),
  ]);
  $("blk-act-table").querySelector("tbody").replaceChildren(...names.map((name, i) => {
    const c = curves[i];
    const sat = c.saturated.length
      ? c.saturated.map(([a, b]) => `[${num(a, 3)}, ${num(b, 3)}]`).join(" ∪ ")
      : t("blk.act.never");
    return el("tr", { "data-testid": `blk-act-row-${name}` },
      el("td", {}, el("code", {}, name)),
      el("td", { "data-testid": "range" }, rangeText(c.output_range)),
      el("td", { "data-testid": "zero" }, t(c.zero_centred ? "blk.yes" : "blk.no")),
      el("td", { "data-testid": "sat" }, sat));
  }));
  $("blk-activations").dataset.state = "ready";
}

// ---- runs (why non-linearity, outliers) ---------------------------------------------------------

async function trainRun(config, steps) {
  const created = await postJSON(root.dataset.runsUrl, config);
  await postJSON(`/api/runs/${created.id}/step`, { steps });
  const [snap, data] = await Promise.all([
    getJSON(`/api/runs/${created.id}/snapshot?grid=60`),
    getJSON(`/api/runs/${created.id}/data`),
  ]);
  return { id: created.id, snap, data };
}

function deleteRun(id) {
  if (id) fetch(`/api/runs/${id}`, { method: "DELETE", keepalive: true }).catch(() => {});
}

function setStatus(node, s, text) {
  node.dataset.state = s;
  node.textContent = text;
}

async function trainNonlinearity() {
  const status = $("blk-nl-status");
  setStatus(status, "training", t("blk.training"));
  const config = (activation) => ({
    seed: 0,
    dataset: { name: "circle", n: 200, noise: 0.1 },
    model: { hidden: [8, 8, 8, 8], activation },
    optimizer: { name: "adam", lr: 0.03 },
    batch_size: 20,
  });
  try {
    const runs = await Promise.all(["identity", "tanh"].map((a) => trainRun(config(a), NL_STEPS)));
    $("blk-nl-pair").hidden = false; // shown once there is something to draw
    await Promise.all(runs.map((r, i) => drawSurface($(i ? "chart-nl-tanh" : "chart-nl-identity"), r)));
    runs.forEach((r) => deleteRun(r.id));
    setStatus(status, "trained", t("blk.trained", { steps: NL_STEPS }));
  } catch (err) {
    setStatus(status, "error", "");
    showError(err.message);
  }
}

function drawSurface(element, run) {
  const s = run.snap.surface;
  const pts = run.data.train;
  const cls = (k) => pts.y.map((y, i) => [y[0], i]).filter(([y]) => y === k).map(([, i]) => i);
  const scatter = (k, c) => ({ type: "scatter", mode: "markers", x: cls(k).map((i) => pts.x[i][0]),
    y: cls(k).map((i) => pts.x[i][1]), marker: { size: 5, color: c, line: { width: 0.5, color: "#fff" } },
    name: `y = ${k}`, hoverinfo: "skip" });
  return drawChart(element, [
    { type: "heatmap", x: s.x, y: s.y, z: s.prob, zmin: 0, zmax: 1, showscale: false,
      colorscale: [[0, "#f4c7b9"], [0.5, "#f7f7f7"], [1, "#bccdf3"]], // class 0 red, class 1 blue
      meta: { kind: "surface", step: run.snap.step } },
    { type: "contour", x: s.x, y: s.y, z: s.prob, contours: { start: 0.5, end: 0.5, size: 1, coloring: "none" },
      line: { color: "#222", width: 2 }, showscale: false, hoverinfo: "skip", name: "p = 0.5" },
    scatter(0, "#d8573b"), scatter(1, "#3b6fd8"),
  ], { showlegend: false, xaxis: { title: { text: "x1" } }, yaxis: { title: { text: "x2" }, scaleanchor: "x" } });
}

async function fitOutliers() {
  const status = $("blk-out-status");
  const frac = Number($("blk-out-frac").value);
  if (!(frac >= 0 && frac <= 0.5)) {
    showError(`outliers: ${t("controls.invalid", { range: "0 … 0.5" })}`);
    return;
  }
  state.out = frac;
  toQuery();
  setStatus(status, "training", t("blk.training"));
  const config = (loss) => ({
    seed: 0,
    dataset: { name: "sine", n: 200, noise: 0.1, params: { outliers: frac } },
    model: { hidden: [16, 16], activation: "tanh" },
    loss,
    optimizer: { name: "adam", lr: 0.01 },
    batch_size: 32,
  });
  try {
    const runs = await Promise.all(OUTLIER_LOSSES.map((loss) => trainRun(config(loss), OUT_STEPS)));
    const pts = runs[0].data.train;
    const traces = [{ type: "scatter", mode: "markers", x: pts.x.map((p) => p[0]), y: pts.y.map((v) => v[0]),
      name: t("blk.out.data"), marker: { size: 4, color: "#9aa3b5" }, meta: { kind: "data" } }];
    runs.forEach((r, i) => traces.push({ type: "scatter", mode: "lines", x: r.snap.curve.x, y: r.snap.curve.y,
      name: OUTLIER_LOSSES[i], line: { color: color(i), width: 3 }, meta: { kind: "fit", loss: OUTLIER_LOSSES[i] } }));
    $("chart-outliers").hidden = false;
    await drawChart($("chart-outliers"), traces, { xaxis: { title: { text: "x" } }, yaxis: { title: { text: "y" } } });
    runs.forEach((r) => deleteRun(r.id));
    setStatus(status, "trained", t("blk.trained", { steps: OUT_STEPS }));
  } catch (err) {
    setStatus(status, "error", "");
    showError(err.message);
  }
}

// ---- softmax ------------------------------------------------------------------------------------

function buildLogits() {
  const box = $("blk-sm-logits");
  box.replaceChildren(...state.logits.map((v, i) => {
    const range = el("input", { type: "range", min: "-10", max: "10", step: "0.1", value: String(Math.max(-10, Math.min(10, v))),
      "data-testid": `blk-sm-slider-${i}`, "aria-label": `logit ${i}` });
    const box2 = el("input", { type: "number", step: "any", value: String(v), "data-testid": `blk-sm-logit-${i}`, "aria-label": `logit ${i}` });
    range.addEventListener("input", () => { box2.value = range.value; state.logits[i] = Number(range.value); drawSoftmaxSoon(); });
    box2.addEventListener("change", () => {
      const x = Number(box2.value);
      if (!Number.isFinite(x)) return;
      state.logits[i] = x;
      range.value = String(Math.max(-10, Math.min(10, x)));
      drawSoftmax();
    });
    return el("div", { className: "blk-logit" }, el("span", {}, `z${i}`), range, box2);
  }));
  const target = $("blk-sm-target");
  target.replaceChildren(...state.logits.map((_, i) => el("option", { value: String(i) }, String(i))));
  target.value = String(state.y);
  $("blk-sm-t").value = String(state.T);
  $("blk-sm-t-value").textContent = String(state.T);
}

async function drawSoftmax() {
  toQuery();
  const my = ++pending.sm;
  let r;
  try {
    r = await postJSON("/api/labs/softmax", { logits: state.logits, temperature: state.T, target: state.y });
  } catch (err) {
    showError(err.message);
    return;
  }
  if (my !== pending.sm) return;
  showError(null);
  const idx = r.probabilities.map((_, i) => `${i}`);
  await drawChart($("chart-softmax"), [
    { type: "bar", x: idx, y: r.probabilities, name: t("blk.sm.stable"), marker: { color: color(0) }, meta: { kind: "stable" } },
    { type: "bar", x: idx, y: r.naive_probabilities.map((p) => (p === null ? 0 : p)), name: t("blk.sm.naive"),
      marker: { color: color(1) }, meta: { kind: "naive", values: r.naive_probabilities } },
  ], { barmode: "group", yaxis: { range: [0, 1], title: { text: "p" } }, xaxis: { title: { text: "i" } } });
  const overflow = $("blk-sm-overflow");
  overflow.hidden = r.naive_ok;
  overflow.textContent = r.naive_ok ? "" : t("blk.sm.overflow", { n: r.naive_overflow.filter(Boolean).length, max: num(r.max) });
  $("blk-sm-ce").textContent = t("blk.sm.ce", { y: r.target, ce: num(r.cross_entropy), lse: num(r.log_sum_exp) });
  $("blk-sm-table").querySelector("tbody").replaceChildren(...r.z.map((z, i) => el("tr", { "data-testid": `blk-sm-row-${i}` },
    el("td", {}, String(i)),
    el("td", {}, num(z)),
    r.naive_overflow[i]
      ? el("td", { className: "blk-overflow", "data-testid": "naive" }, t("blk.sm.inf"))
      : el("td", { "data-testid": "naive" }, num(r.naive_exp[i])),
    el("td", {}, num(r.shifted[i])),
    el("td", {}, num(r.exp_shifted[i])),
    el("td", { "data-testid": "p" }, num(r.probabilities[i])),
    el("td", { "data-testid": "grad" }, num(r.gradient[i])))));
  $("blk-softmax").dataset.state = "ready";
}
const drawSoftmaxSoon = debounce(drawSoftmax, 120);

// ---- losses -------------------------------------------------------------------------------------

async function drawLosses() {
  toQuery();
  const my = ++pending.loss;
  const params = { mse: {}, mae: {}, smooth_l1: { beta: state.beta }, huber: { delta: state.delta } };
  let res;
  let prob;
  try {
    [res, prob] = await Promise.all([
      Promise.all(RESIDUAL_LOSSES.map((name) => postJSON("/api/labs/loss-curve", { name, params: params[name], n: 241 }))),
      Promise.all([
        postJSON("/api/labs/loss-curve", { name: "bce", target: state.by, n: 197 }),
        postJSON("/api/labs/loss-curve", { name: "cross_entropy", n: 197 }),
      ]),
    ]);
  } catch (err) {
    showError(err.message);
    return;
  }
  if (my !== pending.loss) return;
  showError(null);
  // dashed: huber (= smooth_l1 when δ = β = 1) and cross_entropy (= bce when y = 1) lie on
  // top of their partner at the defaults
  const DASHED = ["huber", "cross_entropy"];
  const line = (r, key, i) => ({ type: "scatter", mode: "lines", x: r.x, y: r[key], name: r.name,
    line: { color: color(i), width: DASHED.includes(r.name) ? 3 : 2, dash: DASHED.includes(r.name) ? "dash" : "solid" },
    meta: { name: r.name, key } });
  const resLayout = (y) => ({ xaxis: { title: { text: "d = ŷ − y" } }, yaxis: { title: { text: y } } });
  const probLayout = (y, range) => ({ xaxis: { title: { text: "p" } }, yaxis: { title: { text: y }, range } });
  await Promise.all([
    drawChart($("chart-loss-residual"), res.map((r, i) => line(r, "value", i)), resLayout("l(d)")),
    drawChart($("chart-loss-residual-d"), res.map((r, i) => line(r, "derivative", i)), resLayout("dl/dŷ")),
    drawChart($("chart-loss-prob"), prob.map((r, i) => line(r, "value", i + 4)), probLayout("l(p)", [0, 5])),
    drawChart($("chart-loss-prob-d"), prob.map((r, i) => line(r, "derivative", i + 4)), probLayout("dl/dp", [-20, 20])),
  ]);
  $("blk-loss-formulas").replaceChildren(...[...res, ...prob].map((r) => el("li", {}, el("code", {}, `${r.name}: ${r.formula}`))));
  $("blk-losses").dataset.state = "ready";
}

// ---- calculators --------------------------------------------------------------------------------

function readCv() {
  return ["w", "h", "f", "p", "s", "d"].map((k) => Number($(`blk-cv-${k}`).value));
}

function writeCv() {
  ["w", "h", "f", "p", "s", "d"].forEach((k, i) => { $(`blk-cv-${k}`).value = String(state.cv[i]); });
  $("blk-cv-kind").value = state.kind;
  $("blk-cv-ceil").checked = state.ceil;
}

async function drawConv() {
  const cv = readCv();
  if (!cv.every(Number.isInteger)) return;
  state.cv = cv;
  state.kind = $("blk-cv-kind").value;
  state.ceil = $("blk-cv-ceil").checked;
  toQuery();
  const my = ++pending.cv;
  const [w, h, f, p, s, d] = cv;
  const body = (size) => ({ input_size: size, kernel_size: f, padding: p, stride: s, dilation: d, kind: state.kind,
    ceil_mode: state.kind === "pool" && state.ceil });
  let rw;
  let rh;
  try {
    [rw, rh] = await Promise.all([postJSON("/api/labs/conv-shape", body(w)), postJSON("/api/labs/conv-shape", body(h))]);
  } catch (err) {
    if (my === pending.cv) {
      $("blk-cv-out").textContent = "";
      $("blk-calc").dataset.state = "error";
      showError(err.message);
    }
    return;
  }
  if (my !== pending.cv) return;
  showError(null);
  const out = $("blk-cv-out");
  out.dataset.w = String(rw.output_size);
  out.dataset.h = String(rh.output_size);
  out.textContent = t("blk.calc.out", { w: rw.output_size, h: rh.output_size });
  $("blk-cv-formula-w").textContent = rw.formula.replaceAll("W1", "W").replaceAll("W2", "W_out");
  $("blk-cv-formula-h").textContent = rh.formula.replaceAll("W1", "H").replaceAll("W2", "H_out");
  await drawGrid(w, h, p, rw, rh);
  $("blk-calc").dataset.state = "ready";
}

// The padded input as cells (padding grey), the first window outlined, and every window's
// top-left corner marked: the window starts are the engine's (conv-shape "windows").
function drawGrid(w, h, p, rw, rh) {
  const pw = w + 2 * p;
  const ph = h + 2 * p;
  const chart = $("chart-conv-grid");
  if (pw > MAX_GRID || ph > MAX_GRID || !rw.windows || !rh.windows) {
    return drawChart(chart, [], { annotations: [{ text: t("blk.calc.too_big"), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
      xaxis: { visible: false }, yaxis: { visible: false } });
  }
  const z = Array.from({ length: ph }, (_, r) => Array.from({ length: pw }, (_, c) => (r >= p && r < p + h && c >= p && c < p + w ? 1 : 0)));
  const xs = [];
  const ys = [];
  for (const r of rh.windows) for (const c of rw.windows) { xs.push(c); ys.push(r); }
  const span = rw.span;
  const rect = (c, r, col) => ({ type: "rect", x0: c - 0.5, x1: c + span - 0.5, y0: r - 0.5, y1: r + span - 0.5,
    line: { color: col, width: 3 } });
  const lastC = rw.windows[rw.windows.length - 1];
  const lastR = rh.windows[rh.windows.length - 1];
  return drawChart(chart, [
    { type: "heatmap", z, colorscale: [[0, "#e3e6ee"], [1, "#ffffff"]], showscale: false, xgap: 1, ygap: 1, hoverinfo: "skip" },
    { type: "scatter", mode: "markers", x: xs, y: ys, marker: { size: 9, color: "#3b6fd8" }, name: t("blk.calc.starts"),
      meta: { kind: "starts", count: xs.length } },
  ], {
    showlegend: false,
    shapes: [rect(0, 0, "#3b6fd8"), rect(lastC, lastR, "#d8573b")],
    xaxis: { range: [-0.5, pw - 0.5], dtick: pw > 20 ? 5 : 1, showgrid: false, zeroline: false, constrain: "domain" },
    yaxis: { range: [ph - 0.5, -0.5], dtick: ph > 20 ? 5 : 1, showgrid: false, zeroline: false, scaleanchor: "x",
      constrain: "domain" },
  });
}

function listLayers(node, layers) {
  node.replaceChildren(...layers.map((l) => el("li", {}, el("code", {}, `${l.kind === "conv" ? `Conv2d(${l.in_channels}, ${l.out_channels}, ${l.kernel_size}) → ${l.output_size}×${l.output_size}` : l.kind === "linear" ? `Linear(${l.in_features}, ${l.out_features})` : `Linear(${l.in}, ${l.out})`}: ${l.formula}`))));
}

async function drawCounts() {
  state.mlp = $("blk-mlp").value;
  state.cnn = $("blk-cnn").value;
  toQuery();
  const sizes = state.mlp.split(",").map((x) => Number(x.trim()));
  const parts = state.cnn.split(",").map((x) => x.trim());
  try {
    const mlp = await postJSON("/api/labs/param-count", { kind: "mlp", sizes });
    $("blk-mlp-total").textContent = t("blk.calc.total", { n: mlp.total.toLocaleString("en-US") });
    $("blk-mlp-total").dataset.total = String(mlp.total);
    listLayers($("blk-mlp-layers"), mlp.layers);
    const layers = parts.slice(2, -1).map((s) => {
      const [o, k, st, pd] = s.split(":").map(Number);
      return { out_channels: o, kernel_size: k, stride: st ?? 1, padding: pd ?? 0 };
    });
    const cnn = await postJSON("/api/labs/param-count", { kind: "conv", input_size: Number(parts[0]),
      in_channels: Number(parts[1]), classes: Number(parts[parts.length - 1]), layers });
    $("blk-cnn-total").textContent = t("blk.calc.total", { n: cnn.total.toLocaleString("en-US") });
    $("blk-cnn-total").dataset.total = String(cnn.total);
    listLayers($("blk-cnn-layers"), cnn.layers);
    showError(null);
  } catch (err) {
    showError(err.message);
  }
}

async function drawIterations() {
  const n = Number($("blk-it-n").value);
  const b = Number($("blk-it-b").value);
  state.it = [n, b];
  toQuery();
  try {
    const r = await postJSON("/api/labs/iterations", { n, batch_size: b });
    const out = $("blk-it-out");
    out.dataset.keep = String(r.iterations);
    out.dataset.drop = String(r.iterations_drop_last);
    out.textContent = t("blk.calc.iters_out", { keep: r.iterations, drop: r.iterations_drop_last, last: r.last_batch, dropped: r.dropped });
    $("blk-it-formula").textContent = r.formula;
    showError(null);
  } catch (err) {
    showError(err.message);
  }
}

// ---- wiring -------------------------------------------------------------------------------------

async function init() {
  catalog = await getCatalog();
  for (const a of catalog.activations) actByName.set(a.name, a);
  fromQuery();
  buildActList();
  buildFocusControls();
  buildLogits();
  writeCv();
  $("blk-loss-beta").value = String(state.beta);
  $("blk-loss-delta").value = String(state.delta);
  $("blk-loss-y").value = String(state.by);
  $("blk-out-frac").value = String(state.out);
  $("blk-mlp").value = state.mlp;
  $("blk-cnn").value = state.cnn;
  $("blk-it-n").value = String(state.it[0]);
  $("blk-it-b").value = String(state.it[1]);

  $("blk-act-focus").addEventListener("change", (e) => { state.focus = e.target.value; buildFocusControls(); toQuery(); });
  $("blk-nl-train").addEventListener("click", trainNonlinearity);
  $("blk-out-fit").addEventListener("click", fitOutliers);
  $("blk-sm-t").addEventListener("input", (e) => { state.T = Number(e.target.value); $("blk-sm-t-value").textContent = String(state.T); drawSoftmaxSoon(); });
  $("blk-sm-target").addEventListener("change", (e) => { state.y = Number(e.target.value); drawSoftmax(); });
  $("blk-sm-small").addEventListener("click", () => { state.logits = [2, 1, 0.1, -1]; state.y = 0; buildLogits(); drawSoftmax(); });
  $("blk-sm-large").addEventListener("click", () => { state.logits = [1000, 999, 998, 0]; state.y = 0; state.T = 1; buildLogits(); drawSoftmax(); });
  const lossInput = (id, key, ok) => $(id).addEventListener("change", (e) => {
    const v = Number(e.target.value);
    if (!ok(v)) { showError(`${key}: ${t("blk.invalid")}`); return; }
    state[key] = v;
    drawLosses();
  });
  lossInput("blk-loss-beta", "beta", (v) => v >= 0);
  lossInput("blk-loss-delta", "delta", (v) => v > 0);
  lossInput("blk-loss-y", "by", (v) => v >= 0 && v <= 1);
  for (const k of ["w", "h", "f", "p", "s", "d"]) $(`blk-cv-${k}`).addEventListener("change", drawConv);
  $("blk-cv-kind").addEventListener("change", drawConv);
  $("blk-cv-ceil").addEventListener("change", drawConv);
  $("blk-cv-notes").addEventListener("click", () => { state.cv = [5, 5, 3, 0, 2, 1]; state.kind = "conv"; state.ceil = false; writeCv(); drawConv(); });
  $("blk-mlp").addEventListener("change", drawCounts);
  $("blk-cnn").addEventListener("change", drawCounts);
  $("blk-it-n").addEventListener("change", drawIterations);
  $("blk-it-b").addEventListener("change", drawIterations);

  await Promise.all([drawActivations(), drawSoftmax(), drawLosses(), drawConv(), drawCounts(), drawIterations()]);
  onLangChange(() => { fillSelect($("blk-act-focus"), "activations", catalog.activations, state.focus); buildFocusControls(); drawActivations(); drawSoftmax(); drawConv(); drawCounts(); drawIterations(); });
  root.dataset.state = "ready";
}

init().catch((err) => showError(err.message));
