// Playground page (/): controls -> run (POST /api/runs) -> WebSocket stream -> live charts.
// Protocol: see app/routers/stream.py. Live-changeable fields are sent as `set`; data,
// architecture, seed and loss need a new run (a notice asks first once training has started).

import {
  catalogText, debounce, drawChart, el, getCatalog, getJSON, onLangChange, postJSON, readQuery,
  writeQuery,
} from "../common.js";
import { applyPg, pt } from "./messages.js";
import {
  Controls, configFromQuery, livePatch, needsRebuild, queryFromConfig,
} from "./controls.js";
import {
  Charts, DIAGRAM_MAX_LAYERS, DIAGRAM_MAX_UNITS, drawNetwork, emptyNote, layerLabel,
} from "./charts.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = $("playground");

const S = {
  catalog: null,
  runId: null,
  runConfig: null, // the run's effective config (server)
  // The config the server will have once every live change sent so far is applied: the next
  // change is diffed against it, not against runConfig, which lags while a `set` is on its
  // way (else changing a value and changing it back before the server answered sent nothing).
  sentConfig: null,
  task: null,
  layers: [],
  status: "connecting",
  step: 0,
  epoch: 0,
  divergence: null,
  ws: null,
  trainSize: 0,
  pendingRebuild: null,
  error: null,
};

let charts;
let controls;

// ------------------------------------------------------------------------------------------
// status / run bar

function showError(message) {
  const box = $("pg-error");
  if (!message) { box.hidden = true; return; }
  box.textContent = pt("pg.error", { msg: message });
  box.hidden = false;
}

// Writes only what changed: this runs for every frame (up to 30/s) and needless DOM writes
// make the next chart redraw re-layout the page.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setData(node, key, value) {
  if (node.dataset[key] !== value) node.dataset[key] = value;
}

function setDisabled(node, value) {
  if (node.disabled !== value) node.disabled = value;
}

// The engine's divergence reason (English) in the page language when it is a known one.
function reasonText(reason) {
  const key = `pg.reason.${reason}`;
  const text = pt(key);
  return text === key ? reason : text;
}

function renderStatus() {
  const status = $("status");
  setText(status, pt(`pg.status.${S.status}`));
  setData(status, "status", S.status);
  setData(root, "status", S.status);
  setText($("step-counter"), pt("pg.step_counter", { n: S.step }));
  setData($("step-counter"), "step", String(S.step));
  setText($("epoch-counter"), pt("pg.epoch_counter", { n: S.epoch }));
  const running = S.status === "running";
  const diverged = S.status === "diverged";
  setDisabled($("play"), running || diverged || !S.ws);
  setDisabled($("pause"), !running);
  for (const id of ["step", "step-10", "step-epoch"]) setDisabled($(id), diverged || !S.ws);
  if ($("play").classList.contains("pg-active") !== running) $("play").classList.toggle("pg-active", running);
  const banner = $("diverged-banner");
  if (diverged && S.divergence) {
    const d = S.divergence;
    setText(banner, pt("pg.diverged", { step: d.step, layer: d.layer + 1, name: layerLabel(d.layer_name), reason: reasonText(d.reason) }));
    banner.hidden = false;
  } else if (!banner.hidden) {
    banner.hidden = true;
  }
}

function send(message) {
  if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return false;
  S.ws.send(JSON.stringify(message));
  return true;
}

function epochSteps() {
  const bs = S.runConfig ? S.runConfig.batch_size : 1;
  return Math.max(1, Math.min(10000, Math.ceil((S.trainSize || 1) / bs)));
}

// ------------------------------------------------------------------------------------------
// rendering (throttled)

// At most ~30 redraws of the time-series charts per second (frames arrive up to 30/s). The
// interval is counted from the start of the previous redraw (not its end), so a redraw that
// takes 30 ms still allows ~30 redraws per second. Only charts in view are redrawn at that rate
// (charts.js); the others catch up about once a second and at once when scrolled into view.
const RENDER_INTERVAL_MS = 34;
let dirtySeries = false;
let forceSeries = false;
let renderTimer = null;
let lastRender = -Infinity;

function scheduleRender(force = false) {
  dirtySeries = true;
  forceSeries = forceSeries || force;
  if (renderTimer) return;
  const wait = Math.max(0, lastRender + RENDER_INTERVAL_MS - performance.now());
  renderTimer = setTimeout(() => {
    renderTimer = null;
    if (dirtySeries) {
      lastRender = performance.now();
      dirtySeries = false;
      const force = forceSeries;
      forceSeries = false;
      charts.renderSeries(force);
      setData(root, "points", String(charts.store.rows.length));
      maybeExtendPlan();
    }
  }, wait);
}

// ------------------------------------------------------------------------------------------
// schedule previews (controls panel and the planned LR curve)

let planHorizon = 0;

async function preview(cfg, steps) {
  const { name, warmup_steps: warmup, ...params } = cfg.schedule;
  const body = { lr: cfg.optimizer.lr, schedule: { name, warmup_steps: warmup, ...params }, steps, seed: cfg.seed };
  const { lr } = await postJSON("/api/schedules/preview", body);
  return { x: lr.map((_, i) => i), y: lr };
}

const drawControlPreview = debounce(async () => {
  const cfg = controls.get();
  const n = 300;
  const caption = controls.previewCaption;
  caption.textContent = pt("pg.schedule_preview", { n });
  try {
    const curve = await preview(cfg, n);
    // from 0 up: a constant rate would otherwise be drawn mid-axis at what reads as "0"
    let top = 0;
    for (const v of curve.y) if (Number.isFinite(v) && v > top) top = v;
    await drawChart(controls.preview, [{ type: "scatter", mode: "lines", ...curve, line: { color: "#3b6fd8", width: 2 }, hovertemplate: "t=%{x}: %{y:.4g}<extra></extra>" }], {
      margin: { l: 48, r: 8, t: 6, b: 26 }, showlegend: false,
      yaxis: { exponentformat: "e", range: [0, (top || 1) * 1.12] },
    });
  } catch (err) {
    caption.textContent = err.message;
  }
}, 250);

async function refreshPlan(force = false) {
  if (!S.runConfig) return;
  const horizon = Math.min(100000, Math.max(300, Math.ceil((S.step * 1.5 + 1) / 100) * 100));
  if (!force && horizon <= planHorizon) return;
  planHorizon = horizon;
  try {
    charts.planned = await preview(S.runConfig, horizon);
    scheduleRender();
  } catch {
    charts.planned = null;
  }
}

function maybeExtendPlan() {
  if (S.step > planHorizon * 0.8) refreshPlan();
}

// ------------------------------------------------------------------------------------------
// explanation panel: formulas of the chosen components (catalog text)

function chosenEntries(cfg) {
  const c = S.catalog;
  const find = (kind, name) => c[kind].find((e) => e.name === name);
  const ds = find("datasets", cfg.dataset.name);
  const task = ds ? ds.task : S.task;
  const loss = cfg.loss ? find("losses", cfg.loss) : c.losses.find((e) => (e.tasks || []).includes(task));
  const r = cfg.regularization;
  const regName = r.l1 > 0 && r.l2 > 0 ? "elastic_net" : r.l1 > 0 ? "l1" : r.l2 > 0 ? "l2" : "none";
  return [
    ["datasets", ds], ["activations", find("activations", cfg.model.activation)],
    ["initializers", find("initializers", cfg.model.init)], ["losses", loss],
    ["optimizers", find("optimizers", cfg.optimizer.name)], ["schedules", find("schedules", cfg.schedule.name)],
    ["regularization", find("regularization", regName)], ["grad_clip", find("grad_clip", cfg.grad_clip.mode)],
  ].filter(([, e]) => e);
}

function renderExplain() {
  const host = $("formulas");
  const cfg = controls.get();
  host.replaceChildren(...chosenEntries(cfg).map(([kind, entry]) => el("div", { className: "pg-formula" },
    el("h3", {}, catalogText(kind, entry, "label")),
    entry.formula ? el("pre", {}, entry.formula) : null,
    el("p", { className: "muted" }, catalogText(kind, entry, "description")))));
}

// ------------------------------------------------------------------------------------------
// network diagram

function diagramFits() {
  const hidden = S.runConfig ? S.runConfig.model.hidden : [];
  return hidden.length <= DIAGRAM_MAX_LAYERS && hidden.every((w) => w <= DIAGRAM_MAX_UNITS)
    && (S.catalog && S.runConfig);
}

let weightsBusy = false;

// Weights (and the last update's exact gradients ∂L/∂W) come with every snapshot for small
// nets (`network`); before the first snapshot the weights are fetched once.
async function refreshNetwork() {
  const host = $("network-svg");
  if (!S.runId || weightsBusy) return;
  if (!diagramFits()) { emptyNote(host, "pg.net_too_big"); return; }
  const grads = $("network-grads").checked;
  let layers = charts.snapshot && charts.snapshot.network;
  if (!layers) {
    weightsBusy = true;
    const runId = S.runId;
    try {
      layers = (await getJSON(`/api/runs/${runId}/weights`)).layers;
      if (runId !== S.runId) return;
    } catch {
      return; // the run may have been replaced meanwhile
    } finally {
      weightsBusy = false;
    }
  }
  if (!layers.length || layers[0].W.length > DIAGRAM_MAX_UNITS) { emptyNote(host, "pg.net_too_big"); return; }
  const values = layers.map((l) => (grads ? (l.dW || l.W.map((row) => row.map(() => 0))) : l.W));
  drawNetwork(host, layers, values, S.layers.map(layerLabel));
  $("network-legend").textContent = pt(grads ? "pg.net_legend_g" : "pg.net_legend_w");
  $("network-diagram").dataset.state = "ready";
}

// ------------------------------------------------------------------------------------------
// markers for live changes

function flatten(obj, prefix = "") {
  const out = {};
  for (const [k, v] of Object.entries(obj || {})) {
    if (v && typeof v === "object" && !Array.isArray(v)) Object.assign(out, flatten(v, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

function short(v) {
  if (typeof v === "number") return Number(v.toPrecision(4)).toString();
  if (Array.isArray(v)) return v.map(short).join(",");
  return String(v);
}

function describeChange(oldCfg, newCfg, patch) {
  const a = flatten(oldCfg);
  const b = flatten(newCfg);
  const keys = Object.keys(flatten(patch));
  const parts = [];
  for (const key of keys) {
    const full = key === "dropout" ? "model.dropout" : key;
    if (JSON.stringify(a[full]) === JSON.stringify(b[full])) continue;
    const label = full.replace(/^optimizer\.(lr)$/, "$1").replace(/^optimizer\.name$/, "optimizer")
      .replace(/^schedule\.name$/, "schedule").replace(/^regularization\./, "").replace(/^model\./, "");
    parts.push(a[full] === undefined ? `${label} ${short(b[full])}` : `${label} ${short(a[full])} → ${short(b[full])}`);
  }
  return parts.join(", ");
}

function addMarkers(events, oldCfg, newCfg) {
  for (const ev of events || []) {
    if (!ev.patch) continue;
    const exists = charts.markers.some((m) => m.step === ev.step && m.key === JSON.stringify(ev.patch));
    if (exists) continue;
    const text = oldCfg ? describeChange(oldCfg, newCfg, ev.patch) : short(JSON.stringify(flatten(ev.patch))).replace(/[{}"]/g, "");
    if (!text) continue;
    charts.markers.push({ step: ev.step, text, key: JSON.stringify(ev.patch) });
  }
  root.dataset.markers = String(charts.markers.length);
}

// ------------------------------------------------------------------------------------------
// WebSocket

function onMessage(msg) {
  switch (msg.type) {
    case "state":
      S.status = msg.status;
      S.step = msg.step;
      S.epoch = msg.epoch;
      S.divergence = msg.divergence;
      S.runConfig = msg.config;
      S.layers = msg.layers;
      S.task = msg.task;
      addMarkers(msg.events, null, msg.config);
      setSpeedUi(msg.speed);
      renderStatus();
      break;
    case "frame":
      for (const r of msg.records) charts.store.push(r);
      if (msg.records.length) S.epoch = msg.records[msg.records.length - 1].epoch;
      S.step = msg.step;
      S.status = msg.status;
      S.divergence = msg.divergence;
      renderStatus();
      scheduleRender();
      break;
    case "snapshot":
      charts.snapshot = msg;
      charts.renderSnapshot();
      refreshNetwork();
      break;
    case "config": {
      const old = S.runConfig;
      const lastEvent = msg.events && msg.events.length ? [msg.events[msg.events.length - 1]] : [];
      addMarkers(lastEvent, old, msg.config);
      S.runConfig = msg.config;
      charts.regularized = msg.config.regularization.l1 > 0 || msg.config.regularization.l2 > 0;
      refreshPlan(true);
      scheduleRender();
      break;
    }
    case "reset":
      S.status = msg.status;
      S.step = msg.step;
      S.epoch = msg.epoch;
      S.divergence = null;
      S.runConfig = msg.config;
      charts.store.clear();
      charts.markers = [];
      renderStatus();
      scheduleRender();
      refreshPlan(true);
      break;
    case "ack":
      if (msg.status) { S.status = msg.status; renderStatus(); }
      showError(null);
      break;
    case "error": {
      if (msg.of === "set") S.sentConfig = null; // rejected: the server's config stands
      const detail = Array.isArray(msg.detail)
        ? msg.detail.map((d) => `${(d.loc || []).filter((p) => p !== "patch" && p !== "body").join(".")}: ${d.msg}`).join("; ")
        : String(msg.detail);
      showError(detail);
      break;
    }
    case "deleted":
      S.status = "error";
      renderStatus();
      break;
    default:
      break;
  }
}

function connect(runId) {
  const proto = window.location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${window.location.host}/api/runs/${runId}/stream`);
  S.ws = null;
  ws.addEventListener("open", () => {
    if (runId !== S.runId) { ws.close(); return; }
    S.ws = ws;
    renderStatus();
  });
  ws.addEventListener("message", (event) => {
    if (runId !== S.runId) return;
    onMessage(JSON.parse(event.data));
  });
  ws.addEventListener("close", () => {
    if (S.ws === ws) { S.ws = null; renderStatus(); }
  });
  return ws;
}

// ------------------------------------------------------------------------------------------
// run lifecycle

async function createRun(config) {
  const old = S.runId;
  if (S.ws) S.ws.close();
  S.ws = null;
  S.status = "connecting";
  renderStatus();
  const created = await postJSON("/api/runs", config);
  S.runId = created.id;
  S.runConfig = created.config;
  S.sentConfig = null;
  S.step = 0;
  S.epoch = 0;
  S.divergence = null;
  S.pendingRebuild = null;
  $("rebuild-notice").hidden = true;
  root.dataset.runId = created.id;
  if (old) fetch(`/api/runs/${old}`, { method: "DELETE" }).catch(() => {});
  controls.set(created.config);
  charts.regularized = created.config.regularization.l1 > 0 || created.config.regularization.l2 > 0;
  writeQuery(queryFromConfig(created.config, S.catalog));
  const data = await getJSON(`/api/runs/${created.id}/data`);
  S.task = data.task;
  S.trainSize = data.train.x.length;
  const layers = created.config.model.hidden.map((_, k) => `hidden ${k + 1}`).concat(["output"]);
  S.layers = layers;
  charts.reset(layers, data.task);
  charts.data = data;
  planHorizon = 0;
  refreshPlan(true);
  scheduleRender();
  renderExplain();
  drawControlPreview();
  connect(created.id);
  return created;
}

// ------------------------------------------------------------------------------------------
// control changes

const applyChange = debounce((cfg) => {
  if (!S.runConfig) return;
  writeQuery(queryFromConfig(cfg, S.catalog));
  renderExplain();
  drawControlPreview();
  const patch = livePatch(S.sentConfig || S.runConfig, cfg);
  if (patch && send({ type: "set", patch })) S.sentConfig = cfg;
  if (needsRebuild(S.runConfig, cfg)) {
    if (S.step === 0 && S.status !== "running") {
      createRun(cfg).catch((err) => showError(err.message));
    } else {
      S.pendingRebuild = cfg;
      $("rebuild-notice").hidden = false;
    }
  } else {
    S.pendingRebuild = null;
    $("rebuild-notice").hidden = true;
  }
}, 300);

// ------------------------------------------------------------------------------------------
// speed

function sliderToSpeed(v) {
  return Math.round(10 ** Number(v));
}

function setSpeedUi(speed) {
  const unlimited = speed === null || speed === undefined;
  $("speed-unlimited").checked = unlimited;
  $("speed").disabled = unlimited;
  if (!unlimited) $("speed").value = String(Math.log10(speed));
  $("speed-value").textContent = unlimited ? pt("pg.unlimited") : pt("pg.steps_per_s", { n: Math.round(speed) });
}

function sendSpeed() {
  const unlimited = $("speed-unlimited").checked;
  const speed = unlimited ? null : sliderToSpeed($("speed").value);
  setSpeedUi(speed);
  send({ type: "speed", steps_per_second: unlimited ? "unlimited" : speed });
}

// ------------------------------------------------------------------------------------------
// wiring

function togglePlay() {
  if (S.status === "running") send({ type: "pause" });
  else if (S.status !== "diverged") send({ type: "play" });
}

function isTyping(target) {
  return target && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName));
}

function wire() {
  $("play").addEventListener("click", () => send({ type: "play" }));
  $("pause").addEventListener("click", () => send({ type: "pause" }));
  $("step").addEventListener("click", () => send({ type: "step", steps: 1 }));
  $("step-10").addEventListener("click", () => send({ type: "step", steps: 10 }));
  $("step-epoch").addEventListener("click", () => send({ type: "step", steps: epochSteps() }));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("speed").addEventListener("input", sendSpeed);
  $("speed-unlimited").addEventListener("change", sendSpeed);
  $("rebuild-apply").addEventListener("click", () => {
    if (S.pendingRebuild) createRun(S.pendingRebuild).catch((err) => showError(err.message));
  });
  $("rebuild-revert").addEventListener("click", () => {
    S.pendingRebuild = null;
    $("rebuild-notice").hidden = true;
    controls.set(S.runConfig);
    writeQuery(queryFromConfig(S.runConfig, S.catalog));
    renderExplain();
  });
  $("loss-log").addEventListener("change", () => {
    charts.lossLog = $("loss-log").checked;
    scheduleRender(true);
  });
  $("network-grads").addEventListener("change", refreshNetwork);
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || isTyping(event.target)) return;
    if (event.code === "Space" || event.key === " ") {
      event.preventDefault();
      togglePlay();
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      if (S.status !== "diverged") send({ type: "step", steps: 1 });
    }
  });
  // a focused button would also "click" on space release
  document.addEventListener("keyup", (event) => {
    if ((event.code === "Space" || event.key === " ") && event.target && event.target.tagName === "BUTTON") event.preventDefault();
  });
  onLangChange(() => {
    applyPg();
    renderStatus();
    setSpeedUi($("speed-unlimited").checked ? null : sliderToSpeed($("speed").value));
    renderExplain();
    charts.renderAll();
    drawControlPreview();
    refreshNetwork();
  });
}

async function main() {
  applyPg();
  renderStatus();
  S.catalog = await getCatalog();
  charts = new Charts({
    loss: $("chart-loss"), accuracy: $("chart-accuracy"), lr: $("chart-lr"),
    gradNorm: $("chart-grad-norm"), heatmap: $("chart-grad-heatmap"),
    updateRatio: $("chart-update-ratio"), hist: $("chart-weights-hist"), zeros: $("chart-zeros"),
    boundary: $("chart-boundary"),
  });
  // which chart costs what: window.gradplayChartTimes() in the console
  window.gradplayChartTimes = () => charts.timings();
  controls = new Controls($("controls"), S.catalog, (cfg) => applyChange(cfg));
  wire();
  const partial = configFromQuery(readQuery(), S.catalog);
  try {
    await createRun(partial);
  } catch (err) {
    showError(err.message);
    await createRun({});
  }
  root.dataset.ready = "true";
}

main().catch((err) => {
  showError(err.message);
  S.status = "error";
  renderStatus();
});
