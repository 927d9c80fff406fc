// /labs/gradients: two deep networks (columns A and B) measured at initialisation via
// POST /api/labs/depth. Activation/initializer names and parameters come from the catalog;
// the presets come from the page (data-presets, defined server-side in app/routers/pages.py).
//
// URL state: ?preset=<id>&a.depth=10&a.width=64&a.activation=tanh&a.init=xavier_uniform
//   &a.bn=1&a.res=1&a.act.<param>=..&a.init.<param>=..  (same for b.; params: non-defaults only)

import {
  buildParamControls,
  checkParam,
  checkParams,
  debounce,
  drawChart,
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

const root = document.querySelector('[data-testid="gradients-lab"]');
const presets = JSON.parse(root.dataset.presets || "[]");
const hintEl = document.querySelector('[data-testid="preset-hint"]');
const COLORS = { a: "#3b6fd8", b: "#d8573b" };
const KINDS = { activation: "activations", init: "initializers" };

let catalog = null;
let activePreset = null;
const columns = {}; // col -> {el, state, results, ...}

function entry(kind, name) {
  return catalog[KINDS[kind]].find((e) => e.name === name);
}

// ---- one column ------------------------------------------------------------------------------

function q(colEl, testid) {
  return colEl.querySelector(`[data-testid="${testid}"]`);
}

function readState(col) {
  const c = columns[col];
  return {
    depth: Number(q(c.el, "depth").value),
    width: Number(q(c.el, "width").value),
    activation: q(c.el, "activation").value,
    activation_params: c.paramCtl.activation ? c.paramCtl.activation.get() : {},
    init: q(c.el, "init").value,
    init_params: c.paramCtl.init ? c.paramCtl.init.get() : {},
    batch_norm: q(c.el, "batch-norm").checked,
    layer_norm: q(c.el, "layer-norm").checked,
    residual: q(c.el, "residual").checked,
  };
}

function renderSubParams(col, kind, values) {
  const c = columns[col];
  const box = c.el.querySelector(`[data-role="${kind}-params"]`);
  box.replaceChildren();
  const e = entry(kind, q(c.el, kind).value);
  c.paramCtl[kind] = null;
  if (e && e.params.length) {
    c.paramCtl[kind] = buildParamControls(box, KINDS[kind], e, {
      values: values || {},
      onChange: () => userChanged(),
    });
  }
}

function writeState(col, state) {
  const c = columns[col];
  q(c.el, "depth").value = state.depth;
  q(c.el, "width").value = state.width;
  q(c.el, "activation").value = state.activation;
  q(c.el, "init").value = state.init;
  q(c.el, "batch-norm").checked = Boolean(state.batch_norm);
  q(c.el, "layer-norm").checked = Boolean(state.layer_norm) && !state.batch_norm;
  q(c.el, "residual").checked = Boolean(state.residual);
  renderSubParams(col, "activation", state.activation_params);
  renderSubParams(col, "init", state.init_params);
}

function setupColumn(col) {
  const colEl = document.querySelector(`[data-testid="column-${col}"]`);
  columns[col] = { el: colEl, paramCtl: {}, result: null, seq: 0 };
  fillSelect(q(colEl, "activation"), "activations", catalog.activations);
  fillSelect(q(colEl, "init"), "initializers", catalog.initializers);
  const maxUnits = catalog.limits && catalog.limits.max_units;
  if (maxUnits) q(colEl, "width").max = String(maxUnits);
  for (const kind of ["activation", "init"]) {
    q(colEl, kind).addEventListener("change", () => {
      renderSubParams(col, kind, {});
      userChanged();
    });
  }
  for (const id of ["depth", "width"]) q(colEl, id).addEventListener("input", userChanged);
  for (const id of ["batch-norm", "layer-norm", "residual"]) q(colEl, id).addEventListener("change", userChanged);
  // batch norm and layer norm exclude each other (the engine refuses both): ticking one clears
  // the other before the change is read
  const [bn, ln] = [q(colEl, "batch-norm"), q(colEl, "layer-norm")];
  bn.addEventListener("change", () => { if (bn.checked) ln.checked = false; }, { capture: true });
  ln.addEventListener("change", () => { if (ln.checked) bn.checked = false; }, { capture: true });
}

// Side by side, the charts of A and B start at the same height however many parameter
// inputs each column has (their controls blocks get the taller one's height).
const controlBlocks = () => ["a", "b"].map((col) => columns[col].el.querySelector(".column-top"));

function alignColumns() {
  const tops = controlBlocks();
  if (tops.some((el) => !el)) return;
  for (const el of tops) el.style.minHeight = "";
  const [a, b] = tops.map((el) => el.getBoundingClientRect());
  if (Math.abs(a.top - b.top) > 1) return; // stacked (narrow screen): nothing to align
  const h = Math.max(a.height, b.height);
  for (const el of tops) el.style.minHeight = `${h}px`;
}

const alignWatcher = typeof ResizeObserver === "function"
  ? new ResizeObserver(() => alignColumns())
  : null;

function watchAlignment() {
  if (!alignWatcher) return;
  for (const top of controlBlocks()) for (const child of top.children) alignWatcher.observe(child);
  alignWatcher.observe(document.querySelector(".columns"));
}

// ---- URL -------------------------------------------------------------------------------------

function syncUrl() {
  const out = [];
  if (activePreset) out.push(["preset", activePreset]);
  for (const col of ["a", "b"]) {
    const s = readState(col);
    out.push([`${col}.depth`, String(s.depth)], [`${col}.width`, String(s.width)]);
    out.push([`${col}.activation`, s.activation], [`${col}.init`, s.init]);
    if (s.batch_norm) out.push([`${col}.bn`, "1"]);
    if (s.layer_norm) out.push([`${col}.ln`, "1"]);
    if (s.residual) out.push([`${col}.res`, "1"]);
    const act = entry("activation", s.activation);
    const ini = entry("init", s.init);
    if (act) out.push(...paramsToQuery(act, s.activation_params, `${col}.act.`));
    if (ini) out.push(...paramsToQuery(ini, s.init_params, `${col}.init.`));
  }
  writeQuery(out);
}

function stateFromUrl(query, col, fallback) {
  const get = (k) => query.get(`${col}.${k}`);
  const intOr = (k, d) => (Number.isInteger(Number(get(k))) && get(k) !== null && get(k) !== "" ? Number(get(k)) : d);
  const activation = entry("activation", get("activation")) ? get("activation") : fallback.activation;
  const init = entry("init", get("init")) ? get("init") : fallback.init;
  const sameAct = activation === fallback.activation;
  const sameInit = init === fallback.init;
  return {
    depth: intOr("depth", fallback.depth),
    width: intOr("width", fallback.width),
    activation,
    init,
    batch_norm: get("bn") !== null ? get("bn") === "1" : Boolean(fallback.batch_norm),
    layer_norm: get("ln") !== null ? get("ln") === "1" : Boolean(fallback.layer_norm),
    residual: get("res") !== null ? get("res") === "1" : Boolean(fallback.residual),
    activation_params: {
      ...(sameAct ? fallback.activation_params : {}),
      ...paramsFromQuery(entry("activation", activation), query, `${col}.act.`),
    },
    init_params: {
      ...(sameInit ? fallback.init_params : {}),
      ...paramsFromQuery(entry("init", init), query, `${col}.init.`),
    },
  };
}

// ---- presets ---------------------------------------------------------------------------------

function showPreset(id) {
  activePreset = id;
  for (const b of document.querySelectorAll("[data-preset]")) {
    b.setAttribute("aria-pressed", b.dataset.preset === id ? "true" : "false");
  }
  hintEl.textContent = id ? t(`grad.preset.${id}.hint`) : "";
}

function applyPreset(id) {
  const p = presets.find((x) => x.id === id);
  if (!p) return;
  for (const col of ["a", "b"]) stopTraining(col);
  writeState("a", p.a);
  writeState("b", p.b);
  showPreset(id);
  syncUrl();
  refreshAll();
}

function userChanged() {
  for (const col of ["a", "b"]) stopTraining(col);
  showPreset(null);
  scheduleRefresh();
}

// ---- fetch + draw ----------------------------------------------------------------------------

async function refresh(col) {
  const c = columns[col];
  const seq = ++c.seq;
  const s = readState(col);
  const body = { ...s, n: 256, seed: 0 };
  const err = q(c.el, "column-error");
  const problems = [
    checkParam({ name: "depth", type: "int", min: 1, max: 50 }, s.depth),
    checkParam({ name: "width", type: "int", min: 1, max: Number(q(c.el, "width").max) }, s.width),
    ...checkParams(entry("activation", s.activation), s.activation_params),
    ...checkParams(entry("init", s.init), s.init_params),
  ].filter(Boolean);
  if (problems.length) {
    c.result = null;
    err.hidden = false;
    err.textContent = problems.join("; ");
    return;
  }
  try {
    const result = await postJSON(root.dataset.depthUrl, body);
    if (seq !== c.seq) return;
    c.result = result;
    err.hidden = true;
  } catch (e) {
    if (seq !== c.seq) return;
    c.result = null;
    err.hidden = false;
    err.textContent = t("common.error", { msg: e.message });
  }
}

async function refreshAll() {
  await Promise.all(["a", "b"].map(refresh));
  await drawAll();
}

const scheduleRefresh = debounce(() => {
  syncUrl();
  refreshAll();
}, 200);

function layerLabels(layers) {
  return layers.map((l, i) => (i === layers.length - 1 ? t("grad.output") : String(i + 1)));
}

function gradRange() {
  // shared log range for both columns so A and B compare at a glance
  const vals = [];
  for (const col of ["a", "b"]) {
    const r = columns[col].result;
    if (!r) continue;
    for (const l of r.layers) {
      for (const v of [l.grad_norm, l.bias_grad_norm]) if (v > 0) vals.push(Math.log10(v));
    }
  }
  if (!vals.length) return undefined;
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const pad = Math.max(0.3, (hi - lo) * 0.08);
  return [lo - pad, hi + pad];
}

function histHeatmap(layers) {
  // hidden layers only (the output layer holds logits on another scale); re-bin every layer's
  // histogram on one common grid of values by bin centre; rows normalised to fractions
  const hidden = layers.slice(0, -1);
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of hidden) {
    const e = l.act_hist.edges.filter((v) => v !== null);
    if (e.length) {
      lo = Math.min(lo, e[0]);
      hi = Math.max(hi, e[e.length - 1]);
    }
  }
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  const nb = 40;
  const width = (hi - lo) / nb;
  const x = Array.from({ length: nb }, (_, i) => lo + (i + 0.5) * width);
  const z = hidden.map((l) => {
    const row = new Array(nb).fill(0);
    const { counts, edges } = l.act_hist;
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    counts.forEach((cnt, i) => {
      if (edges[i] === null || edges[i + 1] === null) return;
      const centre = (edges[i] + edges[i + 1]) / 2;
      const k = Math.min(nb - 1, Math.max(0, Math.floor((centre - lo) / width)));
      row[k] += cnt / total;
    });
    return row.map((v) => 100 * v);
  });
  return { x, y: hidden.map((_, i) => String(i + 1)), z };
}

async function drawColumn(col, range) {
  const c = columns[col];
  const r = c.result;
  const lossEl = q(c.el, "loss");
  if (!r) {
    lossEl.textContent = "";
    return;
  }
  lossEl.textContent = r.finite
    ? t("grad.loss", { v: r.loss === null ? "—" : Number(r.loss).toPrecision(4) })
    : t("grad.nonfinite");
  const labels = layerLabels(r.layers);
  const norms = r.layers.map((l) => (l.grad_norm > 0 ? l.grad_norm : null));
  const biasNorms = r.layers.map((l) => (l.bias_grad_norm > 0 ? l.bias_grad_norm : null));
  // Exactly-zero gradients have no place on a log axis: say in words which parameters still
  // get one (with zero init: the output bias always; the output weights only when the last
  // hidden activation is not 0, e.g. sigmoid(0) = ½ or a residual path).
  const hidden = r.layers.slice(0, -1);
  const out = r.layers[r.layers.length - 1];
  const hiddenZero = hidden.every((l) => l.grad_norm === 0 && l.bias_grad_norm === 0);
  const outW = out.grad_norm > 0;
  const outB = out.bias_grad_norm > 0;
  let zeroText = "";
  if (hiddenZero) {
    const outKey = outW && outB ? "grad.zero_out_wb" : outB ? "grad.zero_out_b" : outW ? "grad.zero_out_w" : "grad.zero_out_none";
    zeroText = `${t("grad.zero_hidden")}<br>${t(outKey)}`;
  }
  const gradEl = q(c.el, "chart-grad-norm");
  gradEl.dataset.hiddenZero = String(hiddenZero);
  gradEl.dataset.outputWeightGrad = String(outW);
  gradEl.dataset.outputBiasGrad = String(outB);
  const layerAxis = { title: { text: t("grad.axis.layer") }, type: "category" };
  await drawChart(
    gradEl,
    [
      {
        type: "scatter",
        mode: "lines+markers",
        x: labels,
        y: norms,
        name: t("grad.trace.weights"),
        line: { color: COLORS[col], width: 3 },
        marker: { size: 7 },
        hovertemplate: "‖∂L/∂W‖ %{x}: %{y:.3e}<extra></extra>",
      },
      {
        type: "scatter",
        mode: "lines+markers",
        x: labels,
        y: biasNorms,
        name: t("grad.trace.biases"),
        line: { color: COLORS[col], width: 1.5, dash: "dot" },
        marker: { size: 8, symbol: "diamond-open" },
        hovertemplate: "‖∂L/∂b‖ %{x}: %{y:.3e}<extra></extra>",
      },
    ],
    {
      xaxis: layerAxis,
      // whole decades when the range spans a few; otherwise 1-2-5 ticks (never every digit)
      yaxis: { title: { text: t("grad.axis.norm") }, type: "log", range, exponentformat: "power",
        dtick: range && range[1] - range[0] >= 3 ? 1 : "D2" },
      showlegend: true,
      legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
      margin: { l: 64, r: 18, b: 52, t: 30 }, // a partial margin would reset l, r, b to 80
      annotations: zeroText
        ? [{ text: zeroText, xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false, font: { size: 15, color: "#b3261e" }, bgcolor: "rgba(255,255,255,0.85)" }]
        : [],
    },
  );
  const h = histHeatmap(r.layers);
  await drawChart(
    q(c.el, "chart-act-hist"),
    [
      {
        type: "heatmap",
        x: h.x,
        y: h.y,
        z: h.z,
        colorscale: "Viridis",
        colorbar: { title: { text: "%" }, thickness: 12 },
        hovertemplate: `${t("grad.axis.layer")} %{y}<br>${t("grad.axis.value")} %{x:.3g}<br>%{z:.1f}%<extra></extra>`,
      },
    ],
    {
      xaxis: { title: { text: t("grad.axis.value") } },
      yaxis: { title: { text: t("grad.axis.layer") }, type: "category" },
    },
  );
  const sat = r.layers.slice(0, -1);
  const satTraces = [];
  const hiddenLabels = labels.slice(0, -1);
  if (sat.some((l) => l.saturation !== null)) {
    satTraces.push({
      type: "bar",
      x: hiddenLabels,
      y: sat.map((l) => (l.saturation === null ? null : 100 * l.saturation)),
      name: t("grad.saturated"),
      marker: { color: COLORS[col] },
    });
  }
  if (sat.some((l) => l.dead_fraction !== null)) {
    satTraces.push({
      type: "bar",
      x: hiddenLabels,
      y: sat.map((l) => (l.dead_fraction === null ? null : 100 * l.dead_fraction)),
      name: t("grad.dead"),
      marker: { color: "#6b7a8f" },
    });
  }
  await drawChart(q(c.el, "chart-saturation"), satTraces, {
    xaxis: layerAxis,
    yaxis: { title: { text: t("grad.axis.pct") }, range: [0, 100] },
    showlegend: satTraces.length > 0,
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    margin: { l: 64, r: 18, b: 52, t: 30 }, // a partial margin would reset l, r, b to 80
    annotations: satTraces.length
      ? []
      : [{ text: t("grad.no_sat"), xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false, font: { size: 14 } }],
  });
  c.el.dataset.state = "ready";
}

async function drawAll() {
  const range = gradRange();
  await Promise.all(["a", "b"].map((col) => drawColumn(col, range)));
}

// ---- "Train it": train the column's network through the runs API -----------------------------
//
// POST /api/runs with a model matching the column (hidden = [width] * depth, activation, init,
// batch norm, residual) on the spiral data, then the WebSocket stream (app/routers/stream.py):
// every record's per-layer grad_norm becomes one column of a layer × step heatmap of
// log10 ‖∂L/∂W‖ (at most MAX_COLUMNS columns: the stride doubles when it fills up).

const MAX_COLUMNS = 400;
const TRAIN_SPEED = 100; // steps per second

function trainConfig(s) {
  return {
    seed: 0,
    dataset: { name: "spiral", n: 400, noise: 0.1, normalize: "zscore" },
    model: {
      hidden: Array.from({ length: s.depth }, () => s.width),
      activation: s.activation,
      activation_params: s.activation_params,
      init: s.init,
      init_params: s.init_params,
      batch_norm: s.batch_norm,
      layer_norm: s.layer_norm,
      residual: s.residual,
    },
    optimizer: { name: "adam", lr: 0.003 },
    batch_size: 32,
  };
}

function trainEls(col) {
  const colEl = columns[col].el;
  return {
    go: q(colEl, "train-it"),
    stop: q(colEl, "train-stop"),
    status: q(colEl, "train-status"),
    chart: q(colEl, "chart-grad-heatmap"),
  };
}

function renderTrainStatus(col) {
  const tr = columns[col].train;
  const { go, stop, status } = trainEls(col);
  const state = tr ? tr.status : "idle";
  const active = state === "starting" || state === "running";
  go.disabled = active;
  stop.disabled = !active;
  status.dataset.status = state;
  status.dataset.step = String(tr ? tr.step : 0);
  let text = t(`gtrain.status.${state}`);
  if (tr && tr.last) {
    const fmt = (v) => (v === null || v === undefined ? "—" : Number(v).toPrecision(3));
    text += ` · ${t("gtrain.progress", { step: tr.step, loss: fmt(tr.last.loss), acc: fmt(tr.last.train_acc) })}`;
  }
  status.textContent = text;
}

function pushTrainRecord(tr, rec) {
  if (rec.step % tr.stride !== 0) return;
  tr.steps.push(rec.step);
  tr.cols.push(rec.grad_norm.map((v) => (v > 0 && Number.isFinite(v) ? Math.log10(v) : null)));
  if (tr.cols.length > MAX_COLUMNS) {
    tr.stride *= 2;
    const keep = [];
    tr.steps.forEach((step, i) => {
      if (step % tr.stride === 0) keep.push(i);
    });
    tr.steps = keep.map((i) => tr.steps[i]);
    tr.cols = keep.map((i) => tr.cols[i]);
  }
}

async function drawTrainHeatmap(col) {
  const tr = columns[col].train;
  const { chart } = trainEls(col);
  if (!tr || !tr.cols.length) return;
  const labels = tr.layers.map((_, i) => (i === tr.layers.length - 1 ? t("grad.output") : String(i + 1)));
  // z[layer][column], layers input -> output (bottom -> top)
  const z = labels.map((_, k) => tr.cols.map((c) => c[k]));
  await drawChart(
    chart,
    [
      {
        type: "heatmap",
        x: tr.steps,
        y: labels,
        z,
        colorscale: "Viridis",
        colorbar: { title: { text: "log₁₀" }, thickness: 12 },
        hovertemplate: `${t("gtrain.axis.step")} %{x}<br>${t("grad.axis.layer")} %{y}<br>log₁₀‖∂L/∂W‖ %{z:.2f}<extra></extra>`,
      },
    ],
    {
      xaxis: { title: { text: t("gtrain.axis.step") } },
      yaxis: { title: { text: t("gtrain.axis.layer") }, type: "category" },
    },
  );
  chart.dataset.columns = String(tr.cols.length);
  chart.dataset.stride = String(tr.stride);
}

function scheduleTrainDraw(col) {
  const tr = columns[col].train;
  if (!tr || tr.drawTimer) return;
  tr.drawTimer = setTimeout(() => {
    tr.drawTimer = null;
    if (columns[col].train === tr) drawTrainHeatmap(col);
  }, 200);
}

function onTrainMessage(col, tr, msg) {
  if (columns[col].train !== tr) return;
  if (msg.type === "state") {
    tr.layers = msg.layers;
    tr.status = "running";
    tr.ws.send(JSON.stringify({ type: "speed", steps_per_second: TRAIN_SPEED }));
    tr.ws.send(JSON.stringify({ type: "play" }));
  } else if (msg.type === "frame") {
    for (const rec of msg.records) pushTrainRecord(tr, rec);
    if (msg.records.length) tr.last = msg.records[msg.records.length - 1];
    tr.step = msg.step;
    if (msg.status === "diverged") tr.status = "diverged";
    scheduleTrainDraw(col);
  } else if (msg.type === "error") {
    const err = q(columns[col].el, "column-error");
    err.hidden = false;
    err.textContent = t("common.error", { msg: JSON.stringify(msg.detail) });
  }
  renderTrainStatus(col);
}

// Stops (pauses, disconnects and deletes) the column's training run; the heatmap stays.
export function stopTraining(col) {
  const tr = columns[col] && columns[col].train;
  if (!tr || tr.status === "stopped") return;
  if (tr.ws) {
    if (tr.ws.readyState === WebSocket.OPEN) tr.ws.send(JSON.stringify({ type: "pause" }));
    tr.ws.close();
  }
  if (tr.id) fetch(`/api/runs/${tr.id}`, { method: "DELETE", keepalive: true }).catch(() => {});
  if (tr.status !== "diverged") tr.status = "stopped";
  if (tr.drawTimer) {
    clearTimeout(tr.drawTimer);
    tr.drawTimer = null;
  }
  drawTrainHeatmap(col);
  renderTrainStatus(col);
}

export async function trainIt(col) {
  stopTraining(col);
  const s = readState(col);
  const tr = { id: null, ws: null, status: "starting", step: 0, steps: [], cols: [], stride: 1, layers: [], last: null, drawTimer: null };
  columns[col].train = tr;
  renderTrainStatus(col);
  const err = q(columns[col].el, "column-error");
  try {
    const created = await postJSON("/api/runs", trainConfig(s));
    tr.id = created.id;
    trainEls(col).chart.dataset.runId = created.id;
    if (columns[col].train !== tr || tr.status === "stopped") {
      fetch(`/api/runs/${created.id}`, { method: "DELETE", keepalive: true }).catch(() => {});
      return;
    }
  } catch (e) {
    tr.status = "stopped";
    err.hidden = false;
    err.textContent = t("common.error", { msg: e.message });
    renderTrainStatus(col);
    return;
  }
  const proto = window.location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${window.location.host}/api/runs/${tr.id}/stream`);
  tr.ws = ws;
  ws.addEventListener("message", (event) => onTrainMessage(col, tr, JSON.parse(event.data)));
  ws.addEventListener("close", () => {
    if (columns[col].train === tr && (tr.status === "running" || tr.status === "starting")) {
      tr.status = "stopped";
      renderTrainStatus(col);
    }
  });
}

function setupTraining(col) {
  const { go, stop } = trainEls(col);
  go.addEventListener("click", () => trainIt(col));
  stop.addEventListener("click", () => stopTraining(col));
  renderTrainStatus(col);
}

async function main() {
  try {
    catalog = await getCatalog();
  } catch (e) {
    for (const col of ["a", "b"]) {
      const err = document.querySelector(`[data-testid="column-${col}"] [data-testid="column-error"]`);
      err.hidden = false;
      err.textContent = t("common.error", { msg: e.message });
    }
    return;
  }
  setupColumn("a");
  setupColumn("b");
  watchAlignment();
  for (const col of ["a", "b"]) setupTraining(col);
  // leaving the page: stop training (the server pauses a run whose last watcher leaves anyway)
  window.addEventListener("pagehide", () => ["a", "b"].forEach(stopTraining));
  const query = readQuery();
  const presetId = presets.some((p) => p.id === query.get("preset")) ? query.get("preset") : null;
  const base = presets.find((p) => p.id === presetId) || presets[0];
  for (const col of ["a", "b"]) writeState(col, stateFromUrl(query, col, base[col]));
  const hasColumns = [...query.keys()].some((k) => k.startsWith("a.") || k.startsWith("b."));
  showPreset(presetId || (hasColumns ? null : base.id));
  for (const b of document.querySelectorAll("[data-preset]")) {
    b.addEventListener("click", () => applyPreset(b.dataset.preset));
  }
  onLangChange(() => {
    for (const col of ["a", "b"]) {
      const s = readState(col);
      fillSelect(q(columns[col].el, "activation"), "activations", catalog.activations, s.activation);
      fillSelect(q(columns[col].el, "init"), "initializers", catalog.initializers, s.init);
      writeState(col, s);
    }
    showPreset(activePreset);
    drawAll();
    for (const col of ["a", "b"]) {
      renderTrainStatus(col);
      drawTrainHeatmap(col);
    }
  });
  syncUrl();
  await refreshAll();
}

main();
