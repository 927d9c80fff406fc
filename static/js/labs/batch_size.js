// /labs/batch-size: batch sizes 1, 8, 32, 128 and the full batch side by side, the gradient
// noise behind them, the linear scaling rule and batch norm at batch 2 vs 64.
//
// Every loss and noise figure comes from the engine through normal runs (POST /api/runs, POST
// .../step, GET .../data, GET .../gradient-noise). Two numbers are counted here, not computed
// by the engine: examples seen (from each record's epoch and the run's batch size: a batch
// takes min(B, what is left of the epoch) rows, as the trainer does) and the wall-clock time,
// which the server does not record per step: it is measured by this browser around each step
// request (HTTP included), and labelled so.
//
// Panels and their runs (all with the page's seed):
//   compare  moons (n 400, noise 0.2, 320 training rows), hidden [16, 16] tanh, SGD, one run per
//            batch size (data-batches; "full" = batch_size 400, i.e. every training row).
//            Preset same_lr: lr 0.1 for all; linear_scaling: lr = 0.1 · B / 8. Each press
//            trains EPOCHS epochs, one epoch per request, one run after the other (so the
//            runs do not share the CPU while being timed); validation loss every step.
//   noise    GET .../gradient-noise?batch_sizes=1,8,32,128,full&samples=SAMPLES on the run
//            picked in "at the weights of" (default the batch-32 run).
//   bn       spiral (n 300), hidden [16, 16] relu + batch norm, adam 0.01, batch 2 vs 64.
//
// 7 runs in all (the per-client quota is 16): replaced runs are DELETEd first.
//
// URL state: ?preset=same_lr&seed=0&at=32

import { getJSON, onLangChange, readQuery, t, writeQuery } from "../common.js";
import { drawChart, fmt, runsApi, statusLine, table } from "./lab_runs.js";

const $ = (id, scope = document) => scope.querySelector(`[data-testid="${id}"]`);
const root = $("batch-size-lab");
const RUNS = root.dataset.runsUrl;
const BATCHES = root.dataset.batches.split(",");
const errorEl = $("batch-size-error");
const statusEl = $("status");

const DATA = { name: "moons", n: 400, noise: 0.2 };
const BASE_LR = 0.1;
const PRESETS = {
  same_lr: { lr: () => BASE_LR },
  linear_scaling: { lr: (b) => (BASE_LR * b) / 8 },
};
const EPOCHS = 5;
const SAMPLES = 50;
const COLORS = ["#d8573b", "#d19a1f", "#2e9e5b", "#3b6fd8", "#6b3bd8"];

const inputs = { preset: $("preset"), seed: $("seed"), at: $("noise-run") };

// ---- helpers --------------------------------------------------------------------------------

const { createRun, step, dropRun } = runsApi(RUNS);
const { setBusy, guarded } = statusLine(statusEl, errorEl, "bs");

const seed = () => Math.max(0, Math.round(Number(inputs.seed.value) || 0));

function writeState() {
  writeQuery([["preset", inputs.preset.value], ["seed", String(seed())], ["at", inputs.at.value]]);
}

function readState() {
  const q = readQuery();
  inputs.preset.value = PRESETS[q.get("preset")] ? q.get("preset") : "same_lr";
  const s = Number(q.get("seed") ?? 0);
  inputs.seed.value = String(Number.isFinite(s) ? Math.min(1e9, Math.max(0, Math.round(s))) : 0);
  inputs.at.value = BATCHES.includes(q.get("at")) ? q.get("at") : "32";
}

const batchValue = (key) => (key === "full" ? DATA.n : Number(key));
const batchLabel = (run) => (run.key === "full" ? `${t("bs.full")} (${run.n})` : `B = ${run.key}`);

// ---- 1. batch sizes side by side ------------------------------------------------------------

const cmp = { runs: [] }; // {key, batch, lr, id, n, steps, examples, ms, val, times: [[ms, val]], status}
const cmpPanel = $("panel-compare");
const cmpButtons = [$("cmp-train"), $("cmp-reset")];

async function cmpCreate() {
  await Promise.all(cmp.runs.map((r) => dropRun(r.id)));
  const preset = PRESETS[inputs.preset.value];
  cmp.runs = await Promise.all(BATCHES.map(async (key) => {
    const batch = batchValue(key);
    const lr = preset.lr(batch);
    const id = await createRun({
      seed: seed(),
      dataset: DATA,
      model: { hidden: [16, 16], activation: "tanh" },
      optimizer: { name: "sgd", lr },
      batch_size: batch,
    });
    const data = await getJSON(`${RUNS}/${id}/data`);
    return { key, batch, lr, id, n: data.train.x.length, steps: [], examples: [], val: [], times: [], ms: 0,
      epoch: 0, pos: 0, status: "ready" };
  }));
  cmpPanel.dataset.runIds = JSON.stringify(Object.fromEntries(cmp.runs.map((r) => [r.key, r.id])));
  cmpPanel.dataset.epochs = "0";
  $("preset-hint").textContent = t(`bs.preset.${inputs.preset.value}.hint`);
  cmpDraw();
}

// one epoch of `run` in one request, timed by this browser
async function cmpEpoch(run) {
  if (run.status === "diverged") return;
  const updates = Math.ceil(run.n / Math.min(run.batch, run.n));
  const t0 = performance.now();
  const records = await step(run.id, updates);
  run.ms += performance.now() - t0;
  for (const r of records) {
    if (r.epoch !== run.epoch) {
      run.epoch = r.epoch;
      run.pos = 0;
    }
    run.pos = Math.min(run.pos + run.batch, run.n);
    run.steps.push(r.step + 1); // updates done after this record
    run.examples.push(r.epoch * run.n + run.pos);
    run.val.push(r.val_loss);
  }
  if (records.length) run.times.push([run.ms / 1000, records[records.length - 1].val_loss]);
  run.status = (await getJSON(`${RUNS}/${run.id}`)).status;
}

async function cmpTrain() {
  for (let e = 0; e < EPOCHS; e += 1) {
    for (const run of cmp.runs) await cmpEpoch(run); // one at a time: the timing is not shared
    cmpPanel.dataset.epochs = String(Number(cmpPanel.dataset.epochs) + 1);
    cmpDraw();
  }
}

function cmpDraw() {
  const line = (run, i, x, y) => ({
    x, y, mode: "lines", name: `${batchLabel(run)}, lr ${fmt(run.lr, 4)}`, meta: run.key,
    line: { color: COLORS[i], width: 2 },
  });
  const yaxis = { title: { text: t("bs.axis.val_loss") }, type: "log", dtick: 1 };
  drawChart($("chart-bs-updates"), cmp.runs.map((r, i) => line(r, i, r.steps, r.val)),
    { xaxis: { title: { text: t("bs.axis.updates") }, type: "log" }, yaxis });
  drawChart($("chart-bs-examples"), cmp.runs.map((r, i) => line(r, i, r.examples, r.val)),
    { xaxis: { title: { text: t("bs.axis.examples") } }, yaxis });
  drawChart($("chart-bs-time"), cmp.runs.map((r, i) => ({
    ...line(r, i, r.times.map((p) => p[0]), r.times.map((p) => p[1])), mode: "lines+markers",
  })), { xaxis: { title: { text: t("bs.axis.seconds_browser") } }, yaxis });
  table($("compare-table"), [t("bs.batch"), "lr", t("bs.updates"), t("bs.examples"), t("bs.seconds"), t("bs.final_val"), t("bs.status")],
    cmp.runs.map((r) => [batchLabel(r), fmt(r.lr, 4), String(r.steps.length), String(r.examples.at(-1) ?? 0),
      fmt(r.ms / 1000, 2), r.val.at(-1) ?? null, t(`bs.status.${r.status}`)]));
}

// ---- 2. gradient noise ----------------------------------------------------------------------

const noise = { result: null, key: null };
const noisePanel = $("panel-noise");
const noiseButtons = [$("noise-measure")];

async function noiseMeasure() {
  const run = cmp.runs.find((r) => r.key === inputs.at.value);
  const q = `batch_sizes=${BATCHES.join(",")}&samples=${SAMPLES}`;
  noise.result = await getJSON(`${RUNS}/${run.id}/gradient-noise?${q}`);
  noise.key = run.key;
  noisePanel.dataset.runId = run.id;
  noisePanel.dataset.step = String(noise.result.step);
  noiseDraw();
}

function noiseDraw() {
  const res = noise.result;
  if (!res) return;
  const e = res.batch_sizes.filter((b) => b.batch_size < res.n_train); // full batch: exactly 0
  const x = e.map((b) => b.batch_size);
  drawChart($("chart-noise"), [
    { x, y: e.map((b) => b.variance), mode: "markers", name: t("bs.noise.estimate"), meta: "estimate",
      error_y: { type: "data", array: e.map((b) => 2 * b.std_error), visible: true },
      marker: { size: 10, color: COLORS[3] } },
    { x, y: e.map((b) => b.exact), mode: "lines", name: t("bs.noise.exact"), meta: "exact",
      line: { color: "#222", dash: "dot" } },
  ], {
    xaxis: { title: { text: t("bs.batch") }, type: "log", tickvals: x },
    yaxis: { title: { text: t("bs.noise.axis") }, type: "log", dtick: 1 },
  });
  table($("noise-table"), [t("bs.batch"), t("bs.noise.estimate"), "± 1 SE", t("bs.noise.exact_short"), t("bs.noise.ratio")],
    res.batch_sizes.map((b) => [b.batch_size === res.n_train ? `${t("bs.full")} (${b.batch_size})` : String(b.batch_size),
      b.variance, b.std_error, b.exact, b.noise_to_signal]));
  $("noise-summary").textContent = `${t("bs.noise.measured_at")} ${noise.key === "full" ? t("bs.full") : `B = ${noise.key}`} · ${t("bs.noise.step")} ${res.step}`
    + ` · N = ${res.n_train} · ‖g‖² = ${fmt(res.full_grad_sq_norm)} · σ² = ${fmt(res.per_example_variance)} · K = ${res.samples}`;
}

// ---- 3. batch norm at batch 2 vs 64 ---------------------------------------------------------

const bn = { runs: [] };
const bnPanel = $("panel-bn");
const bnButtons = [$("bn-train")];

async function bnCreate() {
  await Promise.all(bn.runs.map((r) => dropRun(r.id)));
  bn.runs = await Promise.all([2, 64].map(async (batch) => ({
    batch, x: [], y: [],
    id: await createRun({
      seed: seed(),
      dataset: { name: "spiral", n: 300, noise: 0.1 },
      model: { hidden: [16, 16], activation: "relu", batch_norm: true },
      optimizer: { name: "adam", lr: 0.01 },
      batch_size: batch,
    }),
  })));
  bnPanel.dataset.runIds = JSON.stringify(Object.fromEntries(bn.runs.map((r) => [r.batch, r.id])));
  bnPanel.dataset.step = "0";
}

async function bnTrain() {
  for (const run of bn.runs) {
    for (const r of await step(run.id, 200)) {
      run.x.push(r.step);
      run.y.push(r.val_loss);
    }
  }
  bnPanel.dataset.step = String(bn.runs[0].x.length);
  bnDraw();
}

function bnDraw() {
  drawChart($("chart-bn"), bn.runs.map((r, i) => ({
    x: r.x, y: r.y, mode: "lines", name: `${t("bs.bn.batch")} ${r.batch}`, meta: String(r.batch),
    line: { color: [COLORS[0], COLORS[3]][i], width: 2 },
  })), {
    xaxis: { title: { text: t("bs.axis.updates") } },
    yaxis: { title: { text: t("bs.axis.val_loss_eval") }, type: "log", dtick: 1 },
  });
}

// ---- wiring ---------------------------------------------------------------------------------

function drawAll() {
  setBusy(0); // the status line's language
  if (cmp.runs.length) {
    cmpDraw();
    $("preset-hint").textContent = t(`bs.preset.${inputs.preset.value}.hint`);
  }
  noiseDraw();
  if (bn.runs.length) bnDraw();
}

const allButtons = [...cmpButtons, ...noiseButtons, ...bnButtons];

async function startCompare() {
  await cmpCreate();
  await cmpTrain();
  await noiseMeasure();
}

async function startAll() {
  errorEl.hidden = true;
  await Promise.all([startCompare(), bnCreate().then(bnTrain)]);
}

function init() {
  readState();
  $("cmp-train").addEventListener("click", guarded(cmpButtons, cmpTrain));
  $("cmp-reset").addEventListener("click", guarded([...cmpButtons, ...noiseButtons], startCompare));
  $("noise-measure").addEventListener("click", guarded(noiseButtons, noiseMeasure));
  $("bn-train").addEventListener("click", guarded(bnButtons, bnTrain));
  inputs.at.addEventListener("change", guarded(noiseButtons, async () => {
    writeState();
    await noiseMeasure();
  }));
  inputs.preset.addEventListener("change", guarded([...cmpButtons, ...noiseButtons], async () => {
    writeState();
    await startCompare();
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
