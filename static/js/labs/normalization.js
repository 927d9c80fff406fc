// /labs/normalization: batch norm, layer norm and dropout inside; input normalisation.
//
// Every number drawn comes from the engine through normal runs (POST /api/runs, POST
// .../step, GET .../snapshot[?mode=train], PATCH, GET/PUT .../weights); nothing is re-derived
// here except the element-wise comparison of two engine outputs in the γ/β panel.
//
// Panels and their runs (all with the page's seed):
//   bn    circle, hidden [4] tanh + batch norm, batch 16, adam 0.02. Each step is POST step
//         {steps: 1} then GET snapshot?mode=train: network[0].batch_norm (batch and running
//         statistics, γ, β, folded scale/shift) and modes (train vs eval on the validation
//         batch). The momentum slider is a live PATCH {batch_norm_momentum}.
//   gb    circle, hidden [4] identity + batch norm, trained 40 steps, and its twin without
//         batch norm (same W, b via PUT .../weights). "Set γ, β" PUTs γ = √(running_var+eps),
//         β = running_mean; the eval-mode hidden activations of both runs are then compared.
//   bnln  spiral, hidden [16, 16] relu, adam 0.01: batch norm and layer norm × batch 2, 8, 64.
//   do    circle, hidden [6, 6] relu, dropout p (live PATCH {dropout}); snapshots carry the
//         last step's masks (network[k].dropout.keep) and the E[x′] = x block (dropout).
//   in    unscaled (regression), hidden [8] tanh, sgd 0.01 × dataset.normalize none/minmax/zscore.
//
// 13 runs in all (the per-client quota is 16): replaced runs are DELETEd first.
//
// URL state: ?preset=default&seed=0&mom=0.1&unit=0&p=0.5

import { getJSON, onLangChange, postJSON, readQuery, sendJSON, t, writeQuery } from "../common.js";
import { drawChart, fmt, runsApi, statusLine, table as tableBase } from "./lab_runs.js";

const $ = (id, scope = document) => scope.querySelector(`[data-testid="${id}"]`);
const root = $("normalization-lab");
const RUNS = root.dataset.runsUrl;
const errorEl = $("normalization-error");
const statusEl = $("status");

const PRESETS = {
  default: { mom: 0.1, p: 0.5 },
  slow_momentum: { mom: 0.01, p: 0.5 },
  fast_momentum: { mom: 0.9, p: 0.5 },
  heavy_dropout: { mom: 0.1, p: 0.8 },
};
const BATCHES = [2, 8, 64];
const NORMS = ["none", "minmax", "zscore"];
const COLORS = ["#3b6fd8", "#d8573b", "#2e9e5b"];

const inputs = {
  preset: $("preset"),
  seed: $("seed"),
  mom: $("bn-momentum"),
  unit: $("bn-unit"),
  p: $("dropout-p"),
};

// ---- helpers --------------------------------------------------------------------------------

const { createRun, step, dropRun } = runsApi(RUNS);
const snapshot = (id, mode) => getJSON(`${RUNS}/${id}/snapshot${mode ? `?mode=${mode}` : ""}`);
const { guarded } = statusLine(statusEl, errorEl, "nl");
// this page's tables leave a missing number blank
const table = (node, head, rows) => tableBase(node, head, rows, { nullText: "" });

const seed = () => Math.max(0, Math.round(Number(inputs.seed.value) || 0));

function writeState() {
  writeQuery([
    ["preset", inputs.preset.value],
    ["seed", String(seed())],
    ["mom", inputs.mom.value],
    ["unit", inputs.unit.value],
    ["p", inputs.p.value],
  ]);
}

function readState() {
  const q = readQuery();
  const preset = PRESETS[q.get("preset")] ? q.get("preset") : "default";
  inputs.preset.value = preset;
  const clamp = (v, lo, hi, d) => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : d);
  inputs.seed.value = String(clamp(Number(q.get("seed") ?? 0), 0, 1e9, 0));
  inputs.mom.value = String(clamp(Number(q.get("mom") ?? PRESETS[preset].mom), 0, 1, 0.1));
  inputs.unit.value = String(clamp(Math.round(Number(q.get("unit") ?? 0)), 0, 3, 0));
  inputs.p.value = String(clamp(Number(q.get("p") ?? PRESETS[preset].p), 0, 0.9, 0.5));
  $("bn-momentum-value").textContent = inputs.mom.value;
  $("dropout-p-value").textContent = inputs.p.value;
}

// ---- 1. batch norm: train vs inference ------------------------------------------------------

const bn = { id: null, trace: [], early: null, late: null, net: null };
const bnPanel = $("panel-bn");
const bnButtons = [$("bn-step"), $("bn-train"), $("bn-reset")];

function bnConfig() {
  return {
    seed: seed(),
    dataset: { name: "circle", n: 400, noise: 0.1 },
    model: { hidden: [4], activation: "tanh", batch_norm: true,
             batch_norm_momentum: Number(inputs.mom.value) },
    optimizer: { name: "adam", lr: 0.02 },
    batch_size: 16,
  };
}

async function bnCreate() {
  await dropRun(bn.id); // awaited: the per-client run quota (16) counts live runs
  Object.assign(bn, { id: null, trace: [], early: null, late: null, net: null });
  bn.id = await createRun(bnConfig());
  bnPanel.dataset.step = "0";
  bnPanel.dataset.runId = bn.id;
}

async function bnSteps(n) {
  for (let i = 0; i < n; i += 1) {
    const [record] = await step(bn.id, 1);
    const snap = await snapshot(bn.id, "train");
    const stats = snap.network[0].batch_norm;
    bn.trace.push({ step: record.step, momentum: record.bn_momentum, gap: record.bn_mean_gap[0], ...stats });
    bn.net = snap.network;
    bn.late = { step: snap.step, modes: snap.modes };
    if (!bn.early) bn.early = bn.late;
    bnPanel.dataset.step = String(snap.step);
  }
  bnDraw();
}

function bnDraw() {
  const u = Number(inputs.unit.value);
  const x = bn.trace.map((r) => r.step);
  const layout = (ytitle) => ({ xaxis: { title: { text: t("nl.axis.step") } }, yaxis: { title: { text: ytitle } } });
  drawChart($("chart-bn-mean"), [
    { x, y: bn.trace.map((r) => r.batch_mean[u]), name: t("nl.bn.batch_mean"), mode: "markers", marker: { color: COLORS[1], size: 6 } },
    { x, y: bn.trace.map((r) => r.running_mean[u]), name: t("nl.bn.running_mean"), mode: "lines", line: { color: COLORS[0], width: 3 } },
  ], layout("μ"));
  drawChart($("chart-bn-var"), [
    { x, y: bn.trace.map((r) => r.batch_var_unbiased[u]), name: t("nl.bn.batch_var_unbiased"), mode: "markers", marker: { color: COLORS[1], size: 6 } },
    { x, y: bn.trace.map((r) => r.running_var[u]), name: t("nl.bn.running_var"), mode: "lines", line: { color: COLORS[0], width: 3 } },
  ], layout("σ²"));
  const scatter = [];
  const numbers = [];
  const last = (m) => m.layers[m.layers.length - 1];
  const phases = bn.early === bn.late ? [["late", bn.late]] : [["early", bn.early], ["late", bn.late]];
  for (const [key, phase] of phases) {
    if (!phase) continue;
    const acts = phase.modes.activations;
    const L = acts.train.length - 1;
    scatter.push({
      x: acts.train[L].map((row) => row[0]),
      y: acts.eval[L].map((row) => row[0]),
      mode: "markers",
      name: `${t(`nl.bn.${key}`)} (${t("nl.axis.step")} ${phase.step})`,
      marker: { color: key === "early" ? COLORS[1] : COLORS[0], size: 6, opacity: 0.75 },
    });
    numbers.push(`${t(`nl.bn.${key}`)} (${phase.step}): ${t("nl.bn.mean_abs_diff")} ${fmt(last(phase.modes).mean_abs_diff)}, `
      + `${t("nl.bn.loss_train")} ${fmt(phase.modes.loss.train)}, ${t("nl.bn.loss_eval")} ${fmt(phase.modes.loss.eval)}`);
  }
  const all = scatter.flatMap((s) => s.x.concat(s.y));
  const lo = Math.min(...all, -1);
  const hi = Math.max(...all, 1);
  scatter.push({ x: [lo, hi], y: [lo, hi], mode: "lines", name: "y = x", line: { color: "#999", dash: "dot" } });
  const modesChart = $("chart-bn-modes");
  drawChart(modesChart, scatter, {
    xaxis: { title: { text: t("nl.bn.out_train") } }, yaxis: { title: { text: t("nl.bn.out_eval") } },
  });
  if (bn.late) modesChart.dataset.meanAbsDiff = String(last(bn.late.modes).mean_abs_diff);
  $("bn-modes-numbers").textContent = numbers.join(" · ");
  if (bn.net) {
    const s = bn.net[0].batch_norm;
    table($("bn-affine"), [t("nl.bn.unit"), "γ", "β", "running μ", "running σ²", "scale", "shift"],
      s.gamma.map((g, i) => [String(i + 1), g, s.beta[i], s.running_mean[i], s.running_var[i], s.scale[i], s.shift[i]]));
  }
}

async function bnReset() {
  await bnCreate();
  await bnSteps(1);
}

// ---- 2. γ and β -----------------------------------------------------------------------------

const gb = { id: null, twin: null, before: null, after: null };
const gbButtons = [$("gb-apply"), $("gb-reset")];

function gbConfig(batchNorm) {
  return {
    seed: seed(),
    dataset: { name: "circle", n: 400, noise: 0.1 },
    model: { hidden: [4], activation: "identity", batch_norm: batchNorm },
    optimizer: { name: "adam", lr: 0.02 },
    batch_size: 16,
  };
}

// the first hidden layer of both runs in eval mode: [[out (batch norm run), in (twin)], ...]
async function gbCompare() {
  const [a, b] = await Promise.all([snapshot(gb.id, "eval"), snapshot(gb.twin, "eval")]);
  const out = a.modes.activations.eval[0];
  const inp = b.modes.activations.eval[0];
  // max |BN_eval(z) - z| over the validation batch, measured by the engine (identity activation:
  // the layer's output is BN(z); the twin's is z)
  const max = a.modes.layers[0].bn_identity_max_abs_diff;
  return { out, inp, max, stats: a.network[0].batch_norm };
}

async function gbCreate() {
  await Promise.all([dropRun(gb.id), dropRun(gb.twin)]);
  gb.id = await createRun(gbConfig(true));
  gb.twin = await createRun(gbConfig(false));
  const gbPanel = $("panel-gb");
  gbPanel.dataset.runId = gb.id;
  gbPanel.dataset.twinId = gb.twin;
  await step(gb.id, 40);
  // the twin gets the same dense weights: its hidden activation is z = xW + b, the layer's input
  const { layers } = await getJSON(`${RUNS}/${gb.id}/weights`);
  await sendJSON("PUT", `${RUNS}/${gb.twin}/weights`, { layers: layers.map((l) => ({ W: l.W, b: l.b })) });
  gb.before = await gbCompare();
  gb.after = null;
  gbDraw();
}

async function gbApply() {
  const { layers } = await getJSON(`${RUNS}/${gb.id}/weights`);
  // the engine's γ = √(running_var + eps), β = running_mean (snapshot batch_norm.identity_*)
  const first = layers[0];
  first.gamma = gb.before.stats.identity_gamma;
  first.beta = gb.before.stats.identity_beta;
  await sendJSON("PUT", `${RUNS}/${gb.id}/weights`, { layers });
  gb.after = await gbCompare();
  gbDraw();
}

function gbDraw() {
  const traces = [];
  const phases = [["learned", gb.before, COLORS[1]], ["identity", gb.after, COLORS[0]]];
  for (const [key, phase, color] of phases) {
    if (!phase) continue;
    traces.push({
      x: phase.inp.flat(), y: phase.out.flat(), mode: "markers", name: t(`nl.gb.${key}`),
      marker: { color, size: 5, opacity: 0.7 },
    });
  }
  drawChart($("chart-gb"), traces, {
    xaxis: { title: { text: t("nl.gb.in") } }, yaxis: { title: { text: t("nl.gb.out") } },
  });
  const cur = gb.after || gb.before;
  const id = $("gb-identity");
  id.dataset.state = gb.after ? "identity" : "learned";
  id.dataset.maxAbs = String(cur.max);
  id.textContent = `${t(gb.after ? "nl.gb.max_after" : "nl.gb.max_before")} ${cur.max.toExponential(2)}`;
  const s = cur.stats;
  table($("gb-table"), [t("nl.bn.unit"), "γ", "β", "running μ", "running σ²", "scale", "shift"],
    s.gamma.map((g, i) => [String(i + 1), g, s.beta[i], s.running_mean[i], s.running_var[i], s.scale[i], s.shift[i]]));
}

// ---- 3. batch norm vs layer norm ------------------------------------------------------------

const bnln = { runs: [] }; // {norm, batch, id, x, y}
const bnlnPanel = $("panel-bnln");
const bnlnButtons = [$("bnln-train"), $("bnln-reset")];

function drawAxes(svg, along) {
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const rows = 5;
  const cols = 4;
  const cell = 24;
  const x0 = 50;
  const y0 = 14;
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text) n.textContent = text;
    svg.append(n);
  };
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const hot = along === "batch" ? c === 1 : r === 2;
      add("rect", { x: x0 + c * cell, y: y0 + r * cell, width: cell - 2, height: cell - 2,
        fill: hot ? (along === "batch" ? "#3b6fd8" : "#2e9e5b") : "#e3e7ee" });
    }
  }
  add("text", { x: x0 + (cols * cell) / 2, y: y0 + rows * cell + 14, "text-anchor": "middle", "font-size": 11 }, t("nl.bnln.features"));
  add("text", { x: x0 - 6, y: y0 + (rows * cell) / 2, "text-anchor": "end", "font-size": 11 }, t("nl.bnln.batch"));
}

function bnlnConfig(norm, batch) {
  return {
    seed: seed(),
    dataset: { name: "spiral", n: 300, noise: 0.1 },
    model: { hidden: [16, 16], activation: "relu", [norm]: true },
    optimizer: { name: "adam", lr: 0.01 },
    batch_size: batch,
  };
}

async function bnlnCreate() {
  await Promise.all(bnln.runs.map((r) => dropRun(r.id)));
  const specs = ["batch_norm", "layer_norm"].flatMap((norm) => BATCHES.map((batch) => ({ norm, batch })));
  bnln.runs = await Promise.all(specs.map(async (s) => ({ ...s, id: await createRun(bnlnConfig(s.norm, s.batch)), x: [], y: [] })));
  bnlnPanel.dataset.runIds = JSON.stringify(Object.fromEntries(bnln.runs.map((r) => [`${r.norm}:${r.batch}`, r.id])));
  bnlnPanel.dataset.step = "0";
  bnlnDraw();
}

async function bnlnTrain() {
  for (const run of bnln.runs) {
    const records = await step(run.id, 150);
    for (const r of records) {
      run.x.push(r.step);
      run.y.push(r.val_loss);
    }
  }
  bnlnPanel.dataset.step = String(bnln.runs[0].x.length);
  bnlnDraw();
}

function bnlnDraw() {
  for (const norm of ["batch_norm", "layer_norm"]) {
    const node = $(norm === "batch_norm" ? "chart-bnln-bn" : "chart-bnln-ln");
    const traces = bnln.runs.filter((r) => r.norm === norm).map((r, i) => ({
      x: r.x, y: r.y, mode: "lines", name: `${t("nl.bnln.batch_size")} ${r.batch}`, meta: String(r.batch),
      line: { color: COLORS[i], width: 2 },
    }));
    drawChart(node, traces, {
      xaxis: { title: { text: t("nl.axis.step") } },
      yaxis: { title: { text: t("nl.axis.val_loss") }, type: "log", dtick: 1 },
    });
  }
  const final = (r) => (r.y.length ? r.y[r.y.length - 1] : null);
  table($("bnln-table"), [t("nl.bnln.batch_size"), t("nl.bnln.final_bn"), t("nl.bnln.final_ln")],
    BATCHES.map((b) => [String(b),
      final(bnln.runs.find((r) => r.norm === "batch_norm" && r.batch === b)),
      final(bnln.runs.find((r) => r.norm === "layer_norm" && r.batch === b))]));
}

// ---- 4. dropout -----------------------------------------------------------------------------

const drop = { id: null, x: [], loss: [], val: [], snap: null, masks: 0 };
const dropPanel = $("panel-dropout");
const dropButtons = [$("do-step"), $("do-train"), $("do-reset")];

function dropConfig() {
  return {
    seed: seed(),
    dataset: { name: "circle", n: 200, noise: 0.2 },
    model: { hidden: [6, 6], activation: "relu", dropout: Number(inputs.p.value) },
    optimizer: { name: "adam", lr: 0.02 },
    batch_size: 16,
  };
}

async function dropCreate() {
  await dropRun(drop.id);
  Object.assign(drop, { id: await createRun(dropConfig()), x: [], loss: [], val: [], snap: null, masks: 0 });
  dropPanel.dataset.step = "0";
  dropPanel.dataset.runId = drop.id;
}

async function dropSteps(n) {
  const records = await step(drop.id, n);
  for (const r of records) {
    drop.x.push(r.step);
    drop.loss.push(r.loss);
    drop.val.push(r.val_loss);
  }
  drop.snap = await snapshot(drop.id);
  dropPanel.dataset.step = String(drop.snap.step);
  dropDraw();
}

function dropDraw() {
  const snap = drop.snap;
  if (!snap) return;
  // diagram: inputs, hidden layers (row 0 of the last step's mask), output
  const svg = $("dropout-net");
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const net = snap.network;
  const sizes = [net[0].W.length, ...net.map((l) => l.W[0].length)];
  const masks = net.slice(0, -1).map((l) => (l.dropout && l.dropout.keep.length ? l.dropout.keep[0] : null));
  const pos = sizes.map((n, k) => Array.from({ length: n }, (_, i) => [30 + k * (300 / (sizes.length - 1)), 110 + (i - (n - 1) / 2) * 30]));
  const kept = (k, i) => k === 0 || k === sizes.length - 1 || !masks[k - 1] || masks[k - 1][i] === 1;
  for (let k = 0; k + 1 < sizes.length; k += 1) {
    for (let i = 0; i < sizes[k]; i += 1) {
      for (let j = 0; j < sizes[k + 1]; j += 1) {
        const line = document.createElementNS(NS, "line");
        const [[x1, y1], [x2, y2]] = [pos[k][i], pos[k + 1][j]];
        Object.entries({ x1, y1, x2, y2 }).forEach(([a, v]) => line.setAttribute(a, String(v)));
        if (!kept(k, i)) line.setAttribute("class", "off");
        svg.append(line);
      }
    }
  }
  let maskBits = "";
  pos.forEach((col, k) => col.forEach(([cx, cy], i) => {
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", String(cx));
    c.setAttribute("cy", String(cy));
    c.setAttribute("r", "10");
    const io = k === 0 || k === sizes.length - 1;
    c.setAttribute("class", io ? "io" : kept(k, i) ? "kept" : "dropped");
    if (!io) maskBits += kept(k, i) ? "1" : "0";
    svg.append(c);
  }));
  svg.dataset.mask = maskBits;
  svg.dataset.step = String(snap.step);
  // E[x'] = x block
  const block = snap.dropout || [];
  const names = block.map((b) => b.name);
  drawChart($("chart-dropout-means"), [
    { type: "bar", x: names, y: block.map((b) => b.act_mean), name: t("nl.do.act_mean"), marker: { color: "#6b7a8f" } },
    { type: "bar", x: names, y: block.map((b) => b.scaled_mean), name: t("nl.do.scaled_mean"), marker: { color: COLORS[0] } },
    { type: "bar", x: names, y: block.map((b) => b.unscaled_mean), name: t("nl.do.unscaled_mean"), marker: { color: COLORS[1] } },
  ], { barmode: "group", yaxis: { title: { text: t("nl.do.mean_axis") } } });
  drawChart($("chart-dropout-loss"), [
    { x: drop.x, y: drop.loss, mode: "lines+markers", name: t("nl.do.train_loss"), line: { color: COLORS[1] }, marker: { size: 4 } },
    { x: drop.x, y: drop.val, mode: "lines+markers", name: t("nl.do.val_loss"), line: { color: COLORS[0], width: 3 }, marker: { size: 4 } },
  ], { xaxis: { title: { text: t("nl.axis.step") } }, yaxis: { title: { text: t("nl.axis.loss") } } });
  const shift = $("dropout-shift");
  if (block.length) {
    shift.dataset.actMean = String(block[0].act_mean);
    shift.dataset.unscaledMean = String(block[0].unscaled_mean);
    shift.textContent = block.map((b) => `${b.name}: ${t("nl.do.act_mean")} ${fmt(b.act_mean)} · ${t("nl.do.unscaled_mean")} ${fmt(b.unscaled_mean)} · ${t("nl.do.scaled_mean")} ${fmt(b.scaled_mean)}`).join("  |  ");
  } else {
    shift.textContent = t("nl.do.no_dropout");
  }
}

// ---- 5. input normalisation -----------------------------------------------------------------

const inp = { runs: [] };
const inPanel = $("panel-input");
const inButtons = [$("in-train"), $("in-reset")];

async function inCreate() {
  await Promise.all(inp.runs.map((r) => dropRun(r.id)));
  inp.runs = await Promise.all(NORMS.map(async (normalize) => ({
    normalize,
    x: [],
    y: [],
    id: await createRun({
      seed: seed(),
      dataset: { name: "unscaled", n: 200, normalize },
      model: { hidden: [8], activation: "tanh" },
      optimizer: { name: "sgd", lr: 0.01 },
      batch_size: 16,
    }),
  })));
  inPanel.dataset.step = "0";
  inPanel.dataset.runIds = JSON.stringify(Object.fromEntries(inp.runs.map((r) => [r.normalize, r.id])));
  inDraw();
}

async function inTrain() {
  for (const run of inp.runs) {
    for (const r of await step(run.id, 200)) {
      run.x.push(r.step);
      run.y.push(r.loss);
    }
    run.status = (await getJSON(`${RUNS}/${run.id}`)).status;
  }
  inPanel.dataset.step = String(inp.runs[0].x.length);
  inDraw();
}

// the linear model's MSE surface over (w1, w2) per normalisation, with gradient descent's path
// (POST /api/labs/input-scaling: every number, including the surface, from the engine)
async function inContours() {
  inp.contours = await postJSON("/api/labs/input-scaling", { seed: seed() });
  inPanel.dataset.conditionNumbers = JSON.stringify(
    Object.fromEntries(inp.contours.methods.map((m) => [m.normalize, m.condition_number])));
  inDrawContours();
}

function inDrawContours() {
  if (!inp.contours) return;
  for (const m of inp.contours.methods) {
    const el = document.querySelector(`[data-testid="chart-input-contour"][data-method="${m.normalize}"]`);
    const z = m.grid.loss.map((row) => row.map((v) => Math.log10(Math.max(v, 1e-300))));
    drawChart(el, [
      {
        type: "contour", x: m.grid.w1, y: m.grid.w2, z, ncontours: 18, colorscale: "Viridis",
        reversescale: true, showscale: false, contours: { coloring: "fill", showlines: true },
        hovertemplate: "w1 %{x:.4g}, w2 %{y:.4g}<br>log₁₀ L %{z:.3f}<extra></extra>", name: "log₁₀ L",
      },
      {
        type: "scatter", mode: "lines+markers", x: m.path.map((p) => p[0]), y: m.path.map((p) => p[1]),
        name: t("nl.in.path"), line: { color: "#e4572e", width: 2 }, marker: { size: 4, color: "#e4572e" },
      },
      {
        type: "scatter", mode: "markers", x: [m.w_star[0]], y: [m.w_star[1]], name: "w*",
        marker: { symbol: "star", size: 13, color: "#ffffff", line: { color: "#000000", width: 1 } },
      },
    ], {
      title: { text: `${t(`nl.in.${m.normalize}`)} · κ = ${m.condition_number.toPrecision(3)}` },
      showlegend: false,
      xaxis: { title: { text: "w1" } }, yaxis: { title: { text: "w2" } },
      margin: { l: 56, r: 10, t: 40, b: 44 },
    });
  }
  table($("input-contour-table"), [t("nl.in.method"), "κ = λmax/λmin", "lr", t("nl.in.distance")],
    inp.contours.methods.map((m) => [t(`nl.in.${m.normalize}`), m.condition_number, m.lr, m.final_distance]));
}

function inDraw() {
  drawChart($("chart-input-loss"), inp.runs.map((r, i) => ({
    x: r.x, y: r.y, mode: "lines", name: t(`nl.in.${r.normalize}`), meta: r.normalize, line: { color: COLORS[i], width: 2 },
  })), { xaxis: { title: { text: t("nl.axis.step") } }, yaxis: { title: { text: t("nl.axis.train_loss") }, type: "log", dtick: 1 } });
  table($("input-table"), [t("nl.in.method"), t("nl.in.final"), t("nl.in.status")],
    inp.runs.map((r) => [t(`nl.in.${r.normalize}`), r.y.length ? r.y[r.y.length - 1] : null, r.status ? t(`nl.status.${r.status}`) : "—"]));
}

// ---- wiring ---------------------------------------------------------------------------------

function drawAll() {
  drawAxes($("axes-bn"), "batch");
  drawAxes($("axes-ln"), "features");
  if (bn.id) bnDraw();
  if (gb.before) gbDraw();
  bnlnDraw();
  if (drop.snap) dropDraw();
  inDraw();
  inDrawContours();
}

const allButtons = [...bnButtons, ...gbButtons, ...bnlnButtons, ...dropButtons, ...inButtons];

async function startAll() {
  errorEl.hidden = true;
  await Promise.all([
    bnReset(),
    gbCreate(),
    bnlnCreate().then(bnlnTrain),
    dropCreate().then(() => dropSteps(1)),
    inCreate().then(inTrain),
    inContours(),
  ]);
}

function init() {
  readState();
  drawAxes($("axes-bn"), "batch");
  drawAxes($("axes-ln"), "features");

  $("bn-step").addEventListener("click", guarded(bnButtons, () => bnSteps(1)));
  $("bn-train").addEventListener("click", guarded(bnButtons, () => bnSteps(25)));
  $("bn-reset").addEventListener("click", guarded(bnButtons, bnReset));
  inputs.mom.addEventListener("input", () => ($("bn-momentum-value").textContent = inputs.mom.value));
  inputs.mom.addEventListener("change", guarded(bnButtons, async () => {
    writeState();
    if (bn.id) await sendJSON("PATCH", `${RUNS}/${bn.id}`, { batch_norm_momentum: Number(inputs.mom.value) });
  }));
  inputs.unit.addEventListener("change", () => {
    writeState();
    bnDraw();
  });
  $("gb-apply").addEventListener("click", guarded(gbButtons, gbApply));
  $("gb-reset").addEventListener("click", guarded(gbButtons, gbCreate));
  $("bnln-train").addEventListener("click", guarded(bnlnButtons, bnlnTrain));
  $("bnln-reset").addEventListener("click", guarded(bnlnButtons, bnlnCreate));
  $("do-step").addEventListener("click", guarded(dropButtons, () => dropSteps(1)));
  $("do-train").addEventListener("click", guarded(dropButtons, () => dropSteps(100)));
  $("do-reset").addEventListener("click", guarded(dropButtons, async () => {
    await dropCreate();
    await dropSteps(1);
  }));
  $("in-train").addEventListener("click", guarded(inButtons, inTrain));
  $("in-reset").addEventListener("click", guarded(inButtons, async () => {
    await inCreate();
    await inTrain();
  }));
  inputs.p.addEventListener("input", () => ($("dropout-p-value").textContent = inputs.p.value));
  inputs.p.addEventListener("change", guarded(dropButtons, async () => {
    writeState();
    if (drop.id) await sendJSON("PATCH", `${RUNS}/${drop.id}`, { dropout: Number(inputs.p.value) });
  }));
  inputs.preset.addEventListener("change", guarded(allButtons, async () => {
    const p = PRESETS[inputs.preset.value];
    inputs.mom.value = String(p.mom);
    inputs.p.value = String(p.p);
    $("bn-momentum-value").textContent = inputs.mom.value;
    $("dropout-p-value").textContent = inputs.p.value;
    writeState();
    await Promise.all([bnReset(), dropCreate().then(() => dropSteps(1))]);
  }));
  inputs.seed.addEventListener("change", guarded(allButtons, async () => {
    writeState();
    await startAll();
  }));
  onLangChange(drawAll);
  document.addEventListener("gradplay:fontchange", drawAll); // legend font size

  guarded(allButtons, startAll)().then(() => {
    writeState();
    root.dataset.ready = "true";
  });
}

init();
