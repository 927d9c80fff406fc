// /labs/generalization: over- and underfitting, a capacity sweep and the remedies side by side.
//
// Every number drawn comes from the engine through normal runs (POST /api/runs, POST
// .../step, GET .../evaluate, GET .../snapshot?grid=40, GET .../data, GET /api/runs/{id}); the
// only arithmetic here is the gap (validation − training, test − training) of two engine losses.
//
// Panels and their runs (all with the page's seed, adam, batch 16, dataset.val_fraction 0.3 and
// dataset.test_fraction 0.3):
//   overfit   one run of the preset (PRESETS: few samples, a wide deep net, noisy data);
//             trained in chunks of CHUNK steps, each followed by GET .../evaluate (train, val
//             and test loss at the current weights, eval mode).
//   capacity  moons (n 150, noise 0.6), hidden [w, w] relu for w in the template's widths
//             (data-widths), trained in parallel; per run: the decision surface (snapshot
//             surface.prob), the training points (GET .../data) and the evaluate losses.
//   remedies  the same data and seed, hidden [64, 64] relu, six runs: none, L2 (λ 0.01),
//             dropout (p 0.2), early stopping (val_loss, patience 40, restore best weights),
//             augmentation (jitter 0.5) and more data (n 600). Validation loss per step from the
//             step records; early stopping's stopped_at / best_step from GET /api/runs/{id};
//             test accuracy from GET .../evaluate.
//
// 13 runs in all (the per-client quota is 16): replaced runs are DELETEd first.
//
// URL state: ?preset=few_samples&seed=0

import { drawChart as drawBase, getJSON, onLangChange, readQuery, t, writeQuery } from "../common.js";
import { drawChart, fmt as fmtDigits, runsApi, statusLine, table as tableBase } from "./lab_runs.js";

const $ = (id, scope = document) => scope.querySelector(`[data-testid="${id}"]`);
const root = $("generalization-lab");
const RUNS = root.dataset.runsUrl;
const WIDTHS = root.dataset.widths.split(",").map(Number);
const errorEl = $("generalization-error");
const statusEl = $("status");

const SPLIT = { val_fraction: 0.3, test_fraction: 0.3 };
const MOONS = { name: "moons", n: 150, noise: 0.6, ...SPLIT };
const PRESETS = {
  few_samples: { dataset: { name: "moons", n: 40, noise: 0.3, ...SPLIT }, hidden: [64, 64] },
  wide_deep: { dataset: MOONS, hidden: [128, 128, 128] },
  noisy: { dataset: { name: "gauss", n: 150, noise: 0.2, params: { label_noise: 0.25 }, ...SPLIT }, hidden: [128, 128] },
};
const REMEDIES = ["none", "l2", "dropout", "early_stopping", "augment", "more_data"];
const COLORS = ["#6b7a8f", "#3b6fd8", "#d8573b", "#2e9e5b", "#9b59b6", "#d19a1f"];
const SPLIT_COLORS = { train: "#3b6fd8", val: "#d8573b", test: "#2e9e5b" };
const STEPS = 600; // per "train" press
const CHUNK = 30; // overfit panel: steps between evaluations

const inputs = { preset: $("preset"), seed: $("seed") };

// ---- helpers --------------------------------------------------------------------------------

const { createRun, step, dropRun } = runsApi(RUNS);
const evaluate = (id) => getJSON(`${RUNS}/${id}/evaluate`);
const { setBusy, guarded } = statusLine(statusEl, errorEl, "gen");
// this page's numbers: 3 decimals
const fmt = (v, digits = 3) => fmtDigits(v, digits);
const table = (node, head, rows) => tableBase(node, head, rows, { digits: 3 });

const seed = () => Math.max(0, Math.round(Number(inputs.seed.value) || 0));

function writeState() {
  writeQuery([["preset", inputs.preset.value], ["seed", String(seed())]]);
}

function readState() {
  const q = readQuery();
  inputs.preset.value = PRESETS[q.get("preset")] ? q.get("preset") : "few_samples";
  const s = Number(q.get("seed") ?? 0);
  inputs.seed.value = String(Number.isFinite(s) ? Math.min(1e9, Math.max(0, Math.round(s))) : 0);
}

const base = (dataset, hidden) => ({
  seed: seed(),
  dataset,
  model: { hidden, activation: "relu" },
  optimizer: { name: "adam", lr: 0.01 },
  batch_size: 16,
});

// ---- 1. overfitting: train / validation / test ----------------------------------------------

const of = { id: null, evals: [] };
const ofPanel = $("panel-overfit");
const ofButtons = [$("of-train"), $("of-reset")];

async function ofCreate() {
  await dropRun(of.id); // awaited: the per-client run quota counts live runs
  const p = PRESETS[inputs.preset.value];
  of.id = await createRun(base(p.dataset, p.hidden));
  of.evals = [await evaluate(of.id)];
  ofPanel.dataset.runId = of.id;
  ofPanel.dataset.step = "0";
  $("preset-hint").textContent = t(`gen.preset.${inputs.preset.value}.hint`);
  ofDraw();
}

async function ofTrain() {
  for (let done = 0; done < STEPS; done += CHUNK) {
    await step(of.id, CHUNK);
    of.evals.push(await evaluate(of.id));
    ofPanel.dataset.step = String(of.evals[of.evals.length - 1].step);
  }
  ofDraw();
}

function ofDraw() {
  const x = of.evals.map((e) => e.step);
  const axis = { xaxis: { title: { text: t("gen.axis.step") } } };
  drawChart($("chart-overfit"), ["train", "val", "test"].map((s) => ({
    x, y: of.evals.map((e) => e[s].loss), mode: "lines+markers", name: t(`gen.split.${s}`), meta: s,
    line: { color: SPLIT_COLORS[s], width: 2 }, marker: { size: 4 },
  })), { ...axis, yaxis: { title: { text: t("gen.axis.loss") } } });
  drawChart($("chart-gap"), ["val", "test"].map((s) => ({
    x, y: of.evals.map((e) => (e[s].loss === null || e.train.loss === null ? null : e[s].loss - e.train.loss)),
    mode: "lines", name: t(`gen.gap.${s}`), meta: s, line: { color: SPLIT_COLORS[s], width: 2 },
  })), { ...axis, yaxis: { title: { text: t("gen.axis.gap") } } });
  const last = of.evals[of.evals.length - 1];
  if (!last) return;
  table($("overfit-table"), [t("gen.split"), t("gen.axis.loss"), t("gen.accuracy"), t("gen.gap")],
    ["train", "val", "test"].map((s) => [t(`gen.split.${s}`), last[s].loss, last[s].accuracy,
      s === "train" || last[s].loss === null ? "—" : fmt(last[s].loss - last.train.loss)]));
}

// ---- 2. capacity sweep ----------------------------------------------------------------------

const cap = { runs: [] }; // {width, id, evals, surface, points}
const capPanel = $("panel-capacity");
const capButtons = [$("cap-train")];

async function capCreate() {
  await Promise.all(cap.runs.map((r) => dropRun(r.id)));
  cap.runs = await Promise.all(WIDTHS.map(async (width) => {
    const id = await createRun(base(MOONS, [width, width]));
    return { width, id, evals: null, surface: null, points: (await getJSON(`${RUNS}/${id}/data`)).train };
  }));
  capPanel.dataset.runIds = JSON.stringify(Object.fromEntries(cap.runs.map((r) => [r.width, r.id])));
  capPanel.dataset.step = "0";
}

async function capTrain() {
  await Promise.all(cap.runs.map(async (run) => {
    await step(run.id, STEPS);
    const [ev, snap] = await Promise.all([evaluate(run.id), getJSON(`${RUNS}/${run.id}/snapshot?grid=40&bins=2`)]);
    run.evals = ev;
    run.surface = snap.surface;
  }));
  capPanel.dataset.step = String(cap.runs[0].evals.step);
  capDraw();
}

function capDraw() {
  for (const run of cap.runs) {
    const node = $(`surface-${run.width}`);
    if (!run.surface) continue;
    const pts = run.points;
    const cls = (c) => pts.y.map((y, i) => (y[0] === c ? i : -1)).filter((i) => i >= 0);
    const scatter = (c, color) => ({
      x: cls(c).map((i) => pts.x[i][0]), y: cls(c).map((i) => pts.x[i][1]), mode: "markers",
      type: "scatter", hoverinfo: "skip", showlegend: false,
      marker: { size: 4, color, line: { color: "#fff", width: 0.5 } },
    });
    drawBase(node, [
      { type: "heatmap", x: run.surface.x, y: run.surface.y, z: run.surface.prob, zmin: 0, zmax: 1,
        colorscale: [[0, "#f6c7a8"], [0.5, "#f7f7f7"], [1, "#a9c4f2"]], showscale: false, hoverinfo: "skip" },
      scatter(0, "#d8573b"),
      scatter(1, "#3b6fd8"),
    ], {
      margin: { l: 4, r: 4, t: 4, b: 4 }, showlegend: false,
      xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" },
    });
    node.dataset.width = String(run.width);
    const e = run.evals;
    $(`fit-${run.width}`).textContent = `${t("gen.split.train")} ${fmt(e.train.loss)} · ${t("gen.split.val")} ${fmt(e.val.loss)} · ${t("gen.split.test")} ${fmt(e.test.loss)}`;
  }
  const done = cap.runs.filter((r) => r.evals);
  drawChart($("chart-capacity"), ["train", "val", "test"].map((s) => ({
    x: done.map((r) => r.width), y: done.map((r) => r.evals[s].loss), mode: "lines+markers",
    name: t(`gen.split.${s}`), meta: s, line: { color: SPLIT_COLORS[s], width: 2 },
  })), {
    xaxis: { title: { text: t("gen.cap.width_axis") }, type: "log", tickvals: WIDTHS },
    yaxis: { title: { text: t("gen.axis.loss") } },
  });
}

// ---- 3. remedies ----------------------------------------------------------------------------

const rem = { runs: [] }; // {remedy, id, x, y, status, es, evals}
const remPanel = $("panel-remedies");
const remButtons = [$("rem-train")];

function remedyConfig(remedy) {
  const cfg = base(remedy === "more_data" ? { ...MOONS, n: 600 } : MOONS, [64, 64]);
  if (remedy === "l2") cfg.regularization = { l2: 0.01 };
  if (remedy === "dropout") cfg.model.dropout = 0.2;
  if (remedy === "early_stopping") cfg.early_stopping = { monitor: "val_loss", patience: 40, min_delta: 0, restore_best_weights: true };
  if (remedy === "augment") cfg.augment = { jitter_std: 0.5 };
  return cfg;
}

async function remCreate() {
  await Promise.all(rem.runs.map((r) => dropRun(r.id)));
  rem.runs = await Promise.all(REMEDIES.map(async (remedy) => ({
    remedy, id: await createRun(remedyConfig(remedy)), x: [], y: [], status: "ready", es: null, evals: null,
  })));
  remPanel.dataset.runIds = JSON.stringify(Object.fromEntries(rem.runs.map((r) => [r.remedy, r.id])));
  remPanel.dataset.step = "0";
}

async function remTrain() {
  await Promise.all(rem.runs.map(async (run) => {
    if (run.status === "ready") {
      for (const r of await step(run.id, STEPS)) {
        run.x.push(r.step);
        run.y.push(r.val_loss);
      }
    }
    const [detail, evals] = await Promise.all([getJSON(`${RUNS}/${run.id}`), evaluate(run.id)]);
    run.status = detail.status;
    run.es = detail.early_stopping || null;
    run.evals = evals;
  }));
  remPanel.dataset.step = String(Math.max(...rem.runs.map((r) => r.evals.step)));
  remDraw();
}

function remDraw() {
  const traces = rem.runs.map((r, i) => ({
    x: r.x, y: r.y, mode: "lines", name: t(`gen.rem.${r.remedy}`), meta: r.remedy,
    line: { color: COLORS[i], width: r.remedy === "none" ? 3 : 2 },
  }));
  const es = rem.runs.find((r) => r.remedy === "early_stopping");
  const marks = es && es.es ? [["best_step", "star", "gen.rem.best"], ["stopped_at", "x", "gen.rem.stopped"]]
    .filter(([key]) => es.es[key] !== null && es.es[key] !== undefined) : [];
  for (const [key, symbol, label] of marks) {
    const at = es.x.indexOf(es.es[key]);
    traces.push({
      x: [es.es[key]], y: [at >= 0 ? es.y[at] : null], mode: "markers", name: t(label), meta: `es:${key}`,
      marker: { symbol, size: 14, color: COLORS[REMEDIES.indexOf("early_stopping")], line: { color: "#222", width: 1 } },
    });
  }
  const chart = $("chart-remedies-val");
  drawChart(chart, traces, {
    xaxis: { title: { text: t("gen.axis.step") } },
    yaxis: { title: { text: t("gen.axis.val_loss") }, rangemode: "tozero" },
  });
  if (es && es.es) {
    chart.dataset.stoppedAt = String(es.es.stopped_at);
    chart.dataset.bestStep = String(es.es.best_step);
  }
  const done = rem.runs.filter((r) => r.evals);
  drawChart($("chart-remedies-test"), [{
    type: "bar", x: done.map((r) => t(`gen.rem.${r.remedy}`)), y: done.map((r) => r.evals.test.accuracy),
    meta: done.map((r) => r.remedy), marker: { color: done.map((r) => COLORS[REMEDIES.indexOf(r.remedy)]) },
    text: done.map((r) => fmt(r.evals.test.accuracy)), textposition: "inside", textangle: 0, name: t("gen.rem.test_acc"),
  }], { yaxis: { title: { text: t("gen.rem.test_acc") }, range: [0, 1] }, showlegend: false });
  table($("remedies-table"), [t("gen.rem.remedy"), t("gen.rem.final_val"), t("gen.rem.test_loss"), t("gen.rem.test_acc"), t("gen.rem.status")],
    done.map((r) => [t(`gen.rem.${r.remedy}`), r.evals.val.loss, r.evals.test.loss, r.evals.test.accuracy,
      r.es && r.es.stopped_at !== null ? `${t("gen.status.stopped")} (${r.es.stopped_at}, ${t("gen.rem.best")} ${r.es.best_step})` : t(`gen.status.${r.status}`)]));
}

// ---- wiring ---------------------------------------------------------------------------------

function drawAll() {
  setBusy(0); // the status line's language
  if (of.evals.length) ofDraw();
  if (cap.runs.some((r) => r.surface)) capDraw();
  if (rem.runs.some((r) => r.evals)) remDraw();
  if (of.id) $("preset-hint").textContent = t(`gen.preset.${inputs.preset.value}.hint`);
}

const allButtons = [...ofButtons, ...capButtons, ...remButtons];

async function startAll() {
  errorEl.hidden = true;
  // one panel at a time frees its runs before creating new ones (the quota counts live runs)
  await Promise.all([
    ofCreate().then(ofTrain),
    capCreate().then(capTrain),
    remCreate().then(remTrain),
  ]);
}

function init() {
  readState();
  $("of-train").addEventListener("click", guarded(ofButtons, ofTrain));
  $("of-reset").addEventListener("click", guarded(ofButtons, async () => {
    await ofCreate();
    await ofTrain();
  }));
  $("cap-train").addEventListener("click", guarded(capButtons, capTrain));
  $("rem-train").addEventListener("click", guarded(remButtons, remTrain));
  inputs.preset.addEventListener("change", guarded(ofButtons, async () => {
    writeState();
    await ofCreate();
    await ofTrain();
  }));
  inputs.seed.addEventListener("change", guarded(allButtons, async () => {
    writeState();
    await startAll();
  }));
  onLangChange(drawAll);
  document.addEventListener("gradplay:fontchange", drawAll);

  guarded(allButtons, startAll)().then(() => {
    writeState();
    root.dataset.ready = "true";
  });
}

init();
