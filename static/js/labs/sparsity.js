// /labs/sparsity: L1 vs L2 vs elastic net on sparse_linear data (true coefficients known).
//
// Three runs (POST /api/runs; linear model, hidden = [], half_mse so the objective is exactly
// the one of POST /api/labs/regularization-path: (1/2n)‖y − Xw − b‖² + l1·Σ|w| + (l2/2)·Σw²),
// same seed and data, each with its own WebSocket stream (protocol: app/routers/stream.py).
// l1 / l2 / l1_method / lr are live `set` patches; data parameters create three new runs.
//
// URL state: ?l1=0.1&l2=0.1&method=proximal&batch=full&lr=0.05&noise=0.1&n=200&seed=0
//   &n_features=20&n_informative=3 (catalog params: non-defaults only)&path=l1&geo=l1&geo_k=12

import {
  buildParamControls,
  checkParams,
  debounce,
  drawChart,
  getCatalog,
  onLangChange,
  paramsFromQuery,
  paramsToQuery,
  postJSON,
  readQuery,
  t,
  writeQuery,
} from "../common.js";

const $ = (id, scope = document) => scope.querySelector(`[data-testid="${id}"]`);
const root = $("sparsity-lab");
const inputs = {
  l1: $("l1"),
  l2: $("l2"),
  method: $("l1-method"),
  lr: $("lr"),
  batch: $("batch"),
  noise: $("noise"),
  n: $("samples"),
  seed: $("seed"),
  path: $("path-method"),
  geo: $("geo-method"),
  geoK: $("geo-lambda"),
};
const errorEl = $("sparsity-error");
const zerosChart = $("chart-zeros");
const coefChart = $("chart-coefficients");
const pathChart = $("chart-path");
const geoChart = $("chart-geometry");

const KEYS = ["l1", "l2", "enet"];
const COLORS = { l1: "#3b6fd8", l2: "#d8573b", enet: "#2e9e5b" };
const SPEED = 150; // steps per second per run
const FULL_BATCH = 20000; // clamped to the training-set size by the engine
const MAX_POINTS = 1500; // zeros chart: decimate beyond this

let datasetEntry = null; // catalog entry of sparse_linear
let dataCtl = null; // catalog-driven controls of n_features / n_informative
let generation = 0; // bumps whenever the three runs are replaced
const runs = {}; // key -> run state

function newRunState(key) {
  return { key, id: null, ws: null, status: "connecting", step: 0, xs: [], ys: [], snap: null, gen: generation, divergence: null };
}

// ---- inputs / URL ---------------------------------------------------------------------------

function num(input, fallback) {
  const v = Number(input.value);
  return input.value.trim() !== "" && Number.isFinite(v) ? v : fallback;
}

function settings() {
  const data = dataCtl ? dataCtl.get() : { n_features: 20, n_informative: 3 };
  return {
    l1: Math.max(0, num(inputs.l1, 0)),
    l2: Math.max(0, num(inputs.l2, 0)),
    method: inputs.method.value,
    lr: num(inputs.lr, 0.05),
    batch: inputs.batch.value === "full" ? FULL_BATCH : Number(inputs.batch.value),
    noise: num(inputs.noise, 0.1),
    n: Math.round(num(inputs.n, 200)),
    seed: Math.round(num(inputs.seed, 0)),
    data,
  };
}

function syncUrl() {
  const s = settings();
  const q = [
    ["l1", inputs.l1.value],
    ["l2", inputs.l2.value],
    ["method", s.method],
    ["batch", inputs.batch.value],
    ["lr", inputs.lr.value],
    ["noise", inputs.noise.value],
    ["n", inputs.n.value],
    ["seed", inputs.seed.value],
  ];
  if (datasetEntry) q.push(...paramsToQuery(datasetEntry, s.data, ""));
  q.push(["path", inputs.path.value], ["geo", inputs.geo.value], ["geo_k", inputs.geoK.value]);
  writeQuery(q);
}

function loadFromUrl(query) {
  const numeric = (key) => {
    const v = query.get(key);
    return v !== null && v.trim() !== "" && Number.isFinite(Number(v)) ? v : null;
  };
  for (const [key, input] of [["l1", inputs.l1], ["l2", inputs.l2], ["lr", inputs.lr],
    ["noise", inputs.noise], ["n", inputs.n], ["seed", inputs.seed], ["geo_k", inputs.geoK]]) {
    if (numeric(key) !== null) input.value = numeric(key);
  }
  const choice = (key, input) => {
    const v = query.get(key);
    if (v !== null && [...input.options].some((o) => o.value === v)) input.value = v;
  };
  choice("method", inputs.method);
  choice("batch", inputs.batch);
  choice("path", inputs.path);
  choice("geo", inputs.geo);
}

function showError(msg) {
  errorEl.hidden = !msg;
  errorEl.textContent = msg ? t("common.error", { msg }) : "";
}

// ---- runs -----------------------------------------------------------------------------------

function runConfig(key, s) {
  return {
    seed: s.seed,
    dataset: {
      name: "sparse_linear",
      n: s.n,
      noise: s.noise,
      val_fraction: 0.2,
      normalize: "none",
      params: { ...s.data },
    },
    model: { hidden: [] },
    loss: "half_mse",
    optimizer: { name: "sgd", lr: s.lr },
    regularization: regFor(key, s),
    batch_size: s.batch,
  };
}

function regFor(key, s) {
  if (key === "l1") return { l1: s.l1, l2: 0, l1_method: s.method };
  if (key === "l2") return { l1: 0, l2: s.l2, l1_method: s.method };
  return { l1: s.l1, l2: s.l2, l1_method: s.method };
}

function send(run, message) {
  if (run && run.ws && run.ws.readyState === WebSocket.OPEN) run.ws.send(JSON.stringify(message));
}

function deleteRun(id) {
  if (id) fetch(`/api/runs/${id}`, { method: "DELETE", keepalive: true }).catch(() => {});
}

function closeAll() {
  for (const key of KEYS) {
    const run = runs[key];
    if (!run) continue;
    if (run.ws) {
      send(run, { type: "pause" });
      run.ws.close();
    }
    deleteRun(run.id);
  }
}

async function createRuns() {
  const s = settings();
  const problems = datasetEntry ? checkParams(datasetEntry, s.data) : [];
  if (s.data.n_informative > s.data.n_features) problems.push(t("sp.err_informative"));
  if (problems.length) {
    showError(problems.join("; "));
    return;
  }
  closeAll();
  const gen = ++generation;
  for (const key of KEYS) runs[key] = newRunState(key);
  renderStatus();
  scheduleRender();
  try {
    const created = await Promise.all(KEYS.map((key) => postJSON(root.dataset.runsUrl, runConfig(key, s))));
    if (gen !== generation) {
      created.forEach((c) => deleteRun(c.id));
      return;
    }
    showError(null);
    KEYS.forEach((key, i) => {
      runs[key].id = created[i].id;
      connect(runs[key], gen);
    });
    root.dataset.runIds = created.map((c) => c.id).join(",");
  } catch (err) {
    if (gen === generation) showError(err.message);
  }
}

function connect(run, gen) {
  const proto = window.location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${window.location.host}/api/runs/${run.id}/stream`);
  ws.addEventListener("open", () => {
    if (gen !== generation) {
      ws.close();
      return;
    }
    run.ws = ws;
    ws.send(JSON.stringify({ type: "speed", steps_per_second: SPEED }));
    renderStatus();
  });
  ws.addEventListener("message", (event) => {
    if (gen !== generation) return;
    onMessage(run, JSON.parse(event.data));
  });
  ws.addEventListener("close", () => {
    if (run.ws === ws) {
      run.ws = null;
      renderStatus();
    }
  });
}

function nFeatures() {
  return settings().data.n_features;
}

function pushRecord(run, r) {
  run.xs.push(r.step);
  run.ys.push(Math.round(r.zero_fraction * nFeatures()));
  if (run.xs.length > MAX_POINTS) {
    // keep every other point (the newest always stays)
    run.xs = run.xs.filter((_, i) => i % 2 === 1 || i === run.xs.length - 1);
    run.ys = run.ys.filter((_, i) => i % 2 === 1 || i === run.ys.length - 1);
  }
}

function onMessage(run, msg) {
  switch (msg.type) {
    case "state":
      run.status = msg.status;
      run.step = msg.step;
      run.divergence = msg.divergence || null;
      break;
    case "frame":
      for (const r of msg.records) pushRecord(run, r);
      run.step = msg.step;
      run.status = msg.status;
      if (msg.divergence) run.divergence = msg.divergence;
      break;
    case "snapshot":
      run.snap = msg;
      run.snapDirty = true;
      break;
    case "reset":
      run.status = msg.status;
      run.step = msg.step;
      run.xs = [];
      run.ys = [];
      run.divergence = null;
      break;
    case "ack":
      if (msg.status) run.status = msg.status;
      break;
    case "error":
      showError(Array.isArray(msg.detail)
        ? msg.detail.map((d) => `${(d.loc || []).filter((p) => p !== "patch").join(".")}: ${d.msg}`).join("; ")
        : String(msg.detail));
      break;
    case "deleted":
      run.status = "deleted";
      break;
    default:
      break;
  }
  renderStatus();
  scheduleRender();
}

function allRuns() {
  return KEYS.map((k) => runs[k]).filter(Boolean);
}

function renderStatus() {
  const list = allRuns();
  const connected = list.length === KEYS.length && list.every((r) => r.ws);
  const running = list.some((r) => r.status === "running");
  // A diverged run is a state, not "paused": the comparison is over until Reset.
  const diverged = list.filter((r) => r.status === "diverged");
  const status = !connected ? "connecting" : diverged.length ? "diverged" : running ? "running"
    : list.every((r) => r.step === 0) ? "ready" : "paused";
  const statusEl = $("run-status");
  statusEl.dataset.status = status;
  statusEl.textContent = t(`sp.status.${status}`);
  const note = $("diverged-note");
  note.hidden = !diverged.length;
  note.textContent = diverged.length
    ? t("sp.diverged", {
      runs: diverged.map((r) => runName(r.key)).join(", "),
      step: Math.min(...diverged.map((r) => (r.divergence && r.divergence.step) ?? r.step)),
    })
    : "";
  const step = list.length ? Math.min(...list.map((r) => r.step)) : 0;
  const counter = $("step-counter");
  counter.dataset.step = String(step);
  counter.textContent = t("sp.step", { n: step });
  $("play").disabled = !connected || running || diverged.length > 0;
  $("pause").disabled = !connected || !running;
  $("reset").disabled = !connected;
  $("play").classList.toggle("active", running);
  for (const run of list) {
    const card = document.querySelector(`[data-testid="run-card"][data-run="${run.key}"]`);
    card.dataset.step = String(run.step);
  }
}

// ---- live changes ---------------------------------------------------------------------------

const sendPatches = debounce(() => {
  const s = settings();
  if (!(s.lr > 0)) {
    showError(`lr: ${t("controls.invalid", { range: "0 < x" })}`);
    return;
  }
  if (s.l1 > 10 || s.l2 > 10) {
    showError(`l1, l2: ${t("controls.invalid", { range: "0 ≤ x ≤ 10" })}`);
    return;
  }
  showError(null);
  for (const run of allRuns()) {
    send(run, {
      type: "set",
      patch: { regularization: regFor(run.key, s), optimizer: { lr: s.lr }, batch_size: s.batch },
    });
  }
  renderPenaltyLabels();
}, 150);

function renderPenaltyLabels() {
  const s = settings();
  for (const key of KEYS) {
    const reg = regFor(key, s);
    const parts = [];
    if (key !== "l2") parts.push(`l1 = ${reg.l1} (${t(`sp.method.${s.method}`)})`);
    if (key !== "l1") parts.push(`l2 = ${reg.l2}`);
    $("run-penalty", document.querySelector(`[data-testid="run-card"][data-run="${key}"]`)).textContent = parts.join(" · ");
  }
  const help = $("l1-method-help");
  help.dataset.i18n = `sp.method_help.${s.method}`;
  help.textContent = t(help.dataset.i18n);
}

// ---- charts: training -----------------------------------------------------------------------

let renderTimer = null;
let lastRender = 0;

function scheduleRender() {
  if (renderTimer) return;
  const wait = Math.max(0, 150 - (performance.now() - lastRender));
  renderTimer = setTimeout(() => {
    renderTimer = null;
    lastRender = performance.now();
    renderTraining();
  }, wait);
}

function runName(key) {
  return t(`sp.run.${key}`);
}

function renderTraining() {
  const list = allRuns();
  const p = nFeatures();
  const k = settings().data.n_informative;
  const maxStep = Math.max(10, ...list.map((r) => (r.xs.length ? r.xs[r.xs.length - 1] : 0)));
  const traces = list.map((r) => ({
    type: "scatter",
    mode: "lines",
    name: runName(r.key),
    x: r.xs,
    y: r.ys,
    line: { color: COLORS[r.key], width: 3, shape: "hv" },
    meta: r.key,
  }));
  traces.push({
    type: "scatter",
    mode: "lines",
    name: t("sp.true_zeros", { n: p - k }),
    x: [0, maxStep],
    y: [p - k, p - k],
    line: { color: "#6b7a8f", width: 2, dash: "dash" },
    hoverinfo: "skip",
  });
  drawChart(zerosChart, traces, {
    xaxis: { title: { text: t("sp.axis.step") } },
    yaxis: { title: { text: t("sp.axis.zeros") }, range: [-0.5, p + 0.5] },
    showlegend: true,
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    margin: { l: 64, r: 18, b: 52, t: 40 }, // a partial margin would reset l, r, b to 80
  });
  zerosChart.dataset.points = String(Math.min(...list.map((r) => r.xs.length)));
  for (const r of list) {
    const last = r.ys.length ? r.ys[r.ys.length - 1] : null;
    const card = document.querySelector(`[data-testid="run-card"][data-run="${r.key}"]`);
    card.dataset.zeros = last === null ? "" : String(last);
    $("run-zeros", card).textContent = last === null ? "" : t("sp.exact_zeros", { n: last, p });
  }
  if (list.some((r) => r.snapDirty)) {
    for (const r of list) {
      if (r.snapDirty) drawHistogram(r);
      r.snapDirty = false;
    }
    drawCoefficients();
  }
}

function drawHistogram(run) {
  const el = document.querySelector(`[data-testid="chart-weights-hist"][data-run="${run.key}"]`);
  const layer = run.snap && run.snap.layers && run.snap.layers[0];
  if (!layer) return;
  const h = layer.weights;
  const zeros = h.exact_zeros || 0;
  const centres = [];
  const counts = [];
  const widths = [];
  let zeroBin = -1;
  for (let i = 0; i < h.counts.length; i++) {
    const lo = h.edges[i];
    const hi = h.edges[i + 1];
    if (lo === null || hi === null) continue;
    let c = h.counts[i];
    if (zeros && zeroBin < 0 && lo <= 0 && 0 <= hi) {
      zeroBin = i;
      c -= zeros; // exact zeros get their own bar
    }
    centres.push((lo + hi) / 2);
    counts.push(c > 0 ? c : null);
    widths.push((hi - lo) * 0.92);
  }
  const span = Math.max(1e-6, (h.max ?? 1) - (h.min ?? -1));
  const traces = [
    {
      type: "bar",
      x: centres,
      y: counts,
      width: widths,
      name: t("sp.hist.weights"),
      marker: { color: COLORS[run.key], opacity: 0.8 },
      hovertemplate: "%{x:.3g}: %{y}<extra></extra>",
    },
    {
      type: "bar",
      x: [0],
      y: [zeros > 0 ? zeros : null],
      width: [Math.max(span / 60, 1e-3)],
      name: t("sp.hist.exact_zero", { n: zeros }),
      marker: { color: "#b3261e" },
      hovertemplate: `${t("sp.hist.exact_zero", { n: zeros })}<extra></extra>`,
    },
  ];
  drawChart(el, traces, {
    barmode: "overlay",
    xaxis: { title: { text: t("sp.axis.weight") }, nticks: 6 },
    yaxis: { title: { text: t("sp.axis.count_log") }, type: "log", range: [-0.1, Math.log10(Math.max(2, nFeatures())) + 0.15], dtick: 1 },
    showlegend: false,
    margin: { l: 64, r: 18, t: 34, b: 48 },
    annotations: [{
      x: 0, y: 1, xref: "x", yref: "paper", yanchor: "bottom", showarrow: false,
      text: `<b>${t("sp.hist.zero_label", { n: zeros })}</b>`,
      font: { color: zeros > 0 ? "#b3261e" : "#6b7a8f", size: 14 },
    }],
  });
  el.dataset.exactZeros = String(zeros);
  el.dataset.step = String(run.snap.step);
}

function drawCoefficients() {
  const list = allRuns().filter((r) => r.snap && r.snap.coefficients);
  if (!list.length) return;
  const truth = list[0].snap.coefficients.true;
  const idx = truth.map((_, i) => i + 1);
  const traces = [
    {
      type: "bar",
      x: idx,
      y: truth,
      name: t("sp.coef.true"),
      marker: { color: "rgba(29,34,48,0.18)", line: { color: "#1d2230", width: 1.5 } },
    },
    ...list.map((r) => ({
      type: "bar",
      x: idx,
      y: r.snap.coefficients.learned,
      name: runName(r.key),
      marker: { color: COLORS[r.key] },
      hovertemplate: `${runName(r.key)} w%{x}: %{y:.4g}<extra></extra>`,
    })),
  ];
  drawChart(coefChart, traces, {
    barmode: "group",
    bargap: 0.25,
    xaxis: { title: { text: t("sp.axis.feature") }, dtick: truth.length > 40 ? 5 : 1 },
    yaxis: { title: { text: t("sp.axis.coef") } },
    showlegend: true,
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    margin: { l: 64, r: 18, b: 52, t: 40 }, // a partial margin would reset l, r, b to 80
  });
  coefChart.dataset.features = String(truth.length);
}

// ---- regularization path --------------------------------------------------------------------

let pathSeq = 0;
let pathData = null;
const LAMBDAS = Array.from({ length: 50 }, (_, i) => 10 ** (-3 + (4 * i) / 49));

function currentLambda(method, s) {
  if (method === "l1") return { lam: s.l1, ratio: 0.5 };
  if (method === "l2") return { lam: s.l2, ratio: 0.5 };
  const lam = s.l1 + s.l2;
  return { lam, ratio: lam > 0 ? s.l1 / lam : 0.5 };
}

async function refreshPath() {
  const seq = ++pathSeq;
  const s = settings();
  const method = inputs.path.value;
  const { ratio } = currentLambda(method, s);
  const body = {
    method,
    lambdas: LAMBDAS,
    n: s.n,
    n_features: s.data.n_features,
    n_informative: s.data.n_informative,
    noise: s.noise,
    seed: s.seed,
    l1_ratio: ratio,
  };
  try {
    const result = await postJSON(root.dataset.pathUrl, body);
    if (seq !== pathSeq) return;
    pathData = { method, ...result };
    drawPath();
  } catch (err) {
    if (seq === pathSeq) showError(err.message);
  }
}

function drawPath() {
  if (!pathData) return;
  const s = settings();
  const { lam } = currentLambda(pathData.method, s);
  const p = pathData.true_coef.length;
  const informative = new Set(pathData.informative);
  const traces = [];
  let lo = 0;
  let hi = 0;
  for (let j = 0; j < p; j++) {
    const y = pathData.coefs.map((row) => row[j]);
    for (const v of y) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const inf = informative.has(j);
    traces.push({
      type: "scatter",
      mode: "lines",
      x: pathData.lambdas,
      y,
      name: inf ? `w${j + 1} (${t("sp.path.informative")})` : `w${j + 1}`,
      showlegend: inf,
      legendgroup: inf ? `w${j}` : "noise",
      line: { color: inf ? ["#3b6fd8", "#d8573b", "#2e9e5b", "#8a4fd0", "#d19a1f", "#1f9fb3"][[...informative].indexOf(j) % 6] : "rgba(107,122,143,0.55)", width: inf ? 3 : 1.5 },
      hovertemplate: `w${j + 1}: %{y:.3g} (λ = %{x:.3g})<extra></extra>`,
    });
  }
  const pad = 0.08 * (hi - lo || 1);
  if (lam > 0) {
    traces.push({
      type: "scatter",
      mode: "lines",
      x: [lam, lam],
      y: [lo - pad, hi + pad],
      name: t("sp.path.current", { v: lam.toPrecision(3) }),
      line: { color: "#1d2230", width: 2, dash: "dot" },
      hoverinfo: "skip",
    });
  }
  drawChart(pathChart, traces, {
    xaxis: { title: { text: t("sp.axis.lambda") }, type: "log", exponentformat: "power" },
    yaxis: { title: { text: t("sp.axis.coef") }, range: [lo - pad, hi + pad] },
    showlegend: true,
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    margin: { l: 64, r: 18, b: 52, t: 40 }, // a partial margin would reset l, r, b to 80
  });
  pathChart.dataset.method = pathData.method;
  pathChart.dataset.lambdas = String(pathData.lambdas.length);
  pathChart.dataset.current = lam > 0 ? String(lam) : "";
}

// ---- 2-D geometry ---------------------------------------------------------------------------

let geoSeq = 0;
let geo = null;
let geoTimer = null;

function split(method, lam) {
  if (method === "l1") return [lam, 0];
  if (method === "l2") return [0, lam];
  return [lam * 0.5, lam * 0.5];
}

async function refreshGeometry() {
  const seq = ++geoSeq;
  const method = inputs.geo.value;
  try {
    const result = await postJSON(root.dataset.geometryUrl, { method, lam: 0.5, resolution: 70 });
    if (seq !== geoSeq) return;
    geo = { method, ...result };
    inputs.geoK.max = String(geo.path.lambdas.length - 1);
    drawGeometry();
  } catch (err) {
    if (seq === geoSeq) showError(err.message);
  }
}

function quad(H, d) {
  return 0.5 * (H[0][0] * d[0] * d[0] + 2 * H[0][1] * d[0] * d[1] + H[1][1] * d[1] * d[1]);
}

// {w : ½(w − w*)ᵀH(w − w*) = level}: an ellipse around w*
function ellipse(H, ws, level) {
  const a = H[0][0];
  const b = H[0][1];
  const c = H[1][1];
  const mean = (a + c) / 2;
  const r = Math.sqrt(((a - c) / 2) ** 2 + b * b);
  const l1 = mean + r;
  const l2 = Math.max(mean - r, 1e-12);
  const theta = 0.5 * Math.atan2(2 * b, a - c);
  const e1 = [Math.cos(theta), Math.sin(theta)];
  const e2 = [-Math.sin(theta), Math.cos(theta)];
  const r1 = Math.sqrt((2 * level) / l1);
  const r2 = Math.sqrt((2 * level) / l2);
  const x = [];
  const y = [];
  for (let i = 0; i <= 120; i++) {
    const phi = (2 * Math.PI * i) / 120;
    const u = r1 * Math.cos(phi);
    const v = r2 * Math.sin(phi);
    x.push(ws[0] + u * e1[0] + v * e2[0]);
    y.push(ws[1] + u * e1[1] + v * e2[1]);
  }
  return { x, y };
}

// {w : a|w|₁ + (b/2)|w|² = level} (per unit λ): diamond, circle or in between
function constraint(method, sol) {
  const [a, b] = split(method, 1);
  const level = a * (Math.abs(sol[0]) + Math.abs(sol[1])) + 0.5 * b * (sol[0] ** 2 + sol[1] ** 2);
  const x = [];
  const y = [];
  const n = 240;
  for (let i = 0; i <= n; i++) {
    const phi = (2 * Math.PI * i) / n;
    const u = [Math.cos(phi), Math.sin(phi)];
    const ad = a * (Math.abs(u[0]) + Math.abs(u[1]));
    const r = b === 0 ? level / ad : (Math.sqrt(ad * ad + 2 * b * level) - ad) / b;
    x.push(r * u[0]);
    y.push(r * u[1]);
  }
  return { x, y };
}

function drawGeometry() {
  if (!geo) return;
  const k = Math.min(Number(inputs.geoK.value), geo.path.lambdas.length - 1);
  const lam = geo.path.lambdas[k];
  const sol = geo.path.solutions[k];
  const H = geo.H;
  const ws = geo.w_star;
  const level = quad(H, [sol[0] - ws[0], sol[1] - ws[1]]);
  $("geo-lambda-value").textContent = lam.toFixed(3);
  const traces = [
    {
      type: "contour",
      x: geo.x,
      y: geo.y,
      z: geo.loss,
      colorscale: [[0, "#eaf1fc"], [1, "#9db8e8"]],
      showscale: false,
      contours: { coloring: "fill", showlines: true },
      line: { color: "rgba(59,111,216,0.35)", width: 1 },
      ncontours: 18,
      hovertemplate: "w1 %{x:.2f}, w2 %{y:.2f}<br>loss %{z:.3f}<extra></extra>",
      name: t("sp.geo.loss"),
      showlegend: false,
    },
  ];
  const cons = constraint(geo.method, sol);
  if (level > 1e-12 && (Math.abs(sol[0]) + Math.abs(sol[1])) > 0) {
    const e = ellipse(H, ws, level);
    traces.push({ type: "scatter", mode: "lines", x: e.x, y: e.y, name: t("sp.geo.touching"), line: { color: "#1d2230", width: 2.5 }, hoverinfo: "skip" });
  }
  if (Math.abs(sol[0]) + Math.abs(sol[1]) > 0) {
    traces.push({
      type: "scatter", mode: "lines", x: cons.x, y: cons.y, fill: "toself",
      fillcolor: "rgba(216,87,59,0.18)", line: { color: "#d8573b", width: 3 },
      name: t(`sp.geo.shape.${geo.method}`), hoverinfo: "skip",
    });
  }
  traces.push(
    {
      type: "scatter", mode: "lines", x: geo.path.solutions.map((p) => p[0]), y: geo.path.solutions.map((p) => p[1]),
      name: t("sp.geo.path"), line: { color: "#2e9e5b", width: 2, dash: "dot" }, hoverinfo: "skip",
    },
    {
      type: "scatter", mode: "markers", x: [ws[0]], y: [ws[1]], name: t("sp.geo.wstar"),
      marker: { symbol: "star", size: 16, color: "#1d2230" },
    },
    {
      type: "scatter", mode: "markers", x: [sol[0]], y: [sol[1]], name: t("sp.geo.solution"),
      marker: { size: 15, color: "#b3261e", line: { color: "#fff", width: 2 } },
      hovertemplate: "w = (%{x:.3f}, %{y:.3f})<extra></extra>",
    },
  );
  const m = geo.x[geo.x.length - 1];
  drawChart(geoChart, traces, {
    xaxis: { title: { text: "w₁" }, range: [geo.x[0], m], constrain: "domain", zeroline: true, zerolinecolor: "#6b7a8f" },
    yaxis: { title: { text: "w₂" }, range: [geo.y[0], geo.y[geo.y.length - 1]], scaleanchor: "x", constrain: "domain", zeroline: true, zerolinecolor: "#6b7a8f" },
    showlegend: true,
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    margin: { l: 64, r: 18, b: 52, t: 40 }, // a partial margin would reset l, r, b to 80
  });
  const zeroCoord = sol.findIndex((v) => v === 0);
  const caption = $("geo-caption");
  if (sol[0] === 0 && sol[1] === 0) caption.textContent = t("sp.geo.cap_origin", { lam: lam.toFixed(3) });
  else if (zeroCoord >= 0) caption.textContent = t("sp.geo.cap_zero", { i: zeroCoord + 1, lam: lam.toFixed(3) });
  else caption.textContent = t("sp.geo.cap_none", { w1: sol[0].toFixed(3), w2: sol[1].toFixed(3) });
  geoChart.dataset.lambda = String(lam);
  geoChart.dataset.solution = sol.join(",");
  geoChart.dataset.method = geo.method;
}

function animateGeometry() {
  const button = $("geo-animate");
  if (geoTimer) {
    clearInterval(geoTimer);
    geoTimer = null;
    button.textContent = t("sp.geo_animate");
    return;
  }
  if (Number(inputs.geoK.value) >= Number(inputs.geoK.max)) inputs.geoK.value = "0";
  button.textContent = t("sp.geo_stop");
  geoTimer = setInterval(() => {
    const k = Number(inputs.geoK.value) + 1;
    if (k > Number(inputs.geoK.max)) {
      animateGeometry();
      syncUrl();
      return;
    }
    inputs.geoK.value = String(k);
    drawGeometry();
  }, 120);
}

// ---- wiring ---------------------------------------------------------------------------------

const dataChanged = debounce(() => {
  syncUrl();
  createRuns();
  refreshPath();
}, 300);

const pathChanged = debounce(() => {
  syncUrl();
  refreshPath();
}, 200);

async function main() {
  let catalog;
  try {
    catalog = await getCatalog();
  } catch (err) {
    showError(err.message);
    return;
  }
  datasetEntry = (catalog.datasets || []).find((d) => d.name === "sparse_linear") || null;
  const query = readQuery();
  loadFromUrl(query);
  if (datasetEntry) {
    dataCtl = buildParamControls($("data-params"), "datasets", datasetEntry, {
      values: paramsFromQuery(datasetEntry, query, ""),
      onChange: dataChanged,
    });
  }
  for (const key of ["noise", "n", "seed"]) inputs[key].addEventListener("input", dataChanged);
  for (const key of ["l1", "l2", "lr"]) {
    inputs[key].addEventListener("input", () => {
      syncUrl();
      sendPatches();
      if (key !== "lr") {
        if (inputs.path.value === "elastic_net") pathChanged();
        else drawPath();
      }
    });
  }
  inputs.batch.addEventListener("change", () => {
    syncUrl();
    sendPatches();
  });
  inputs.method.addEventListener("change", () => {
    syncUrl();
    sendPatches();
  });
  inputs.path.addEventListener("change", pathChanged);
  inputs.geo.addEventListener("change", () => {
    syncUrl();
    refreshGeometry();
  });
  inputs.geoK.addEventListener("input", () => {
    drawGeometry();
    syncUrl();
  });
  $("geo-animate").addEventListener("click", animateGeometry);
  $("play").addEventListener("click", () => allRuns().forEach((r) => send(r, { type: "play" })));
  $("pause").addEventListener("click", () => allRuns().forEach((r) => send(r, { type: "pause" })));
  $("reset").addEventListener("click", () => allRuns().forEach((r) => send(r, { type: "reset" })));
  onLangChange(() => {
    renderStatus();
    renderPenaltyLabels();
    for (const r of allRuns()) r.snapDirty = Boolean(r.snap);
    renderTraining();
    drawPath();
    drawGeometry();
    $("geo-animate").textContent = t(geoTimer ? "sp.geo_stop" : "sp.geo_animate");
  });
  // leaving: pause and forget the runs (the server would pause them anyway when the last
  // watcher disconnects)
  window.addEventListener("pagehide", closeAll);
  syncUrl();
  renderPenaltyLabels();
  await Promise.all([createRuns(), refreshPath(), refreshGeometry()]);
}

main();
