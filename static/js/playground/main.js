// Playground page (/): controls -> run (POST /api/runs) -> WebSocket stream -> live charts.
// Protocol: see app/routers/stream.py. Live-changeable fields are sent as `set`; data,
// architecture, seed and loss need a new run (a notice asks first once training has started).
//
// Watch mode (read-only, e.g. a teacher projecting a student's run): the watch link
// `/?run=<id>&watch=<watch_token>` (shown as "watch link" in the run bar) attaches to that run
// with its watch token (GET /api/runs/{id}?watch=..., its history, data and stream) instead of
// creating one; every control is disabled and nothing is sent but snapshot requests.
//
// Mechanisms (issue 9):
// * validation: controls.js checks every field against its schema; only valid values reach a
//   run or the URL. A link is read part by part (readLink): what is invalid or unknown is
//   dropped and named in the "link-dropped" notice; a field the server still rejects is
//   dropped too and the run is created from the rest.
// * a run is replaced only once its successor exists (createRun: POST, GET data, then switch);
//   on failure the old run keeps playing or stays paused and the server's message is shown.
// * live changes: a `set` goes out on the control's "change" event before anything is
//   redrawn; the URL, explanation and previews follow in a later task.
// * the run bar's readout (data-testid="run-readout"): train/validation loss, accuracy and lr
//   of the newest record.
// * pins (issue 11, pins.js): "Pin" (data-testid="pin-run") keeps the current run on the
//   server as a faint reference on the charts and starts a new run with the same config; a
//   chip per pin (data-testid="pin-chip", its × "unpin") deletes it. Pins are in the URL
//   (pin<n>.* keys, see pins.js) and rebuilt on load after the current run.

import {
  catalogText, debounce, drawChart, el, getCatalog, getJSON, getLang, markInvalid, onLangChange,
  postJSON, readQuery, t, writeQuery,
} from "../common.js";
import { applyPg, pt } from "./messages.js";
import {
  CUSTOM, Controls, dropField, livePatch, needsRebuild, queryFromConfig, readLink,
} from "./controls.js";
import {
  MAX_PINS, PIN_FIELDS, freePinNumber, pinColor, pinPairs, readPin, seriesFromHistory, splitPinQuery,
} from "./pins.js";
import {
  Charts, DIAGRAM_MAX_LAYERS, DIAGRAM_MAX_UNITS, drawNetwork, emptyNote, layerLabel, tableColumns,
} from "./charts.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = $("playground");

const S = {
  catalog: null,
  runId: null,
  runConfig: null, // the run's effective config (server)
  task: null,
  layers: [],
  status: "connecting",
  step: 0,
  epoch: 0,
  divergence: null,
  ws: null,
  trainSize: 0,
  pendingRebuild: null,
  liveBase: null, // the config the last `set` asked for (patches are computed against it)
  error: null,
  watch: null, // the run's watch token in watch mode (read-only), else null
  since: 0, // records before this step are already on the charts (watch mode's history)
  pins: [], // pinned runs (pins.js): {n, id, label, step, pairs, events, series, hist, layers}
  pinBusy: false,
  pendingPins: [], // a link's pin keys until they are rebuilt (kept in the URL meanwhile)
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

// "?watch=<token>" in watch mode, else "".
function watchQuery() {
  return S.watch ? `?watch=${encodeURIComponent(S.watch)}` : "";
}

function lockControls() {
  for (const node of $("controls").querySelectorAll("input, select, button, textarea")) node.disabled = true;
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
  const ro = Boolean(S.watch);
  setDisabled($("play"), ro || running || diverged || !S.ws);
  setDisabled($("pause"), ro || !running);
  for (const id of ["step", "step-10", "step-epoch"]) setDisabled($(id), ro || diverged || !S.ws);
  setDisabled($("pin-run"), ro || S.pinBusy || !S.runId);
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

// Live readout of the newest record (engine numbers, only formatted here).
function fmtNum(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

function renderReadout() {
  const r = charts && charts.store.last;
  const box = $("run-readout");
  const acc = r ? (r.val_acc ?? r.train_acc) : null;
  const accKey = r && r.val_acc !== null && r.val_acc !== undefined ? "pg.readout.val_acc" : "pg.readout.train_acc";
  const items = [
    ["loss", "pg.readout.loss", r ? fmtNum(r.loss) : "—"],
    ["val-loss", "pg.readout.val_loss", r ? fmtNum(r.val_loss) : "—"],
    ["acc", accKey, acc === null || acc === undefined ? "—" : `${(acc * 100).toFixed(1)} %`],
    ["lr", "pg.readout.lr", r ? fmtNum(r.lr) : "—"],
  ];
  for (const [key, label, value] of items) {
    const node = box.querySelector(`[data-readout="${key}"]`);
    setText(node.querySelector(".pg-readout-label"), pt(label));
    setText(node.querySelector(".pg-readout-value"), value);
  }
  setData(box, "step", String(r ? r.step : 0));
}

function send(message) {
  if (S.watch && message.type !== "snapshot") return false; // read-only
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
    if (dirtySeries) renderNow();
  }, wait);
}

// urgent (a new change marker): in this task, the loss chart first (charts.js update()).
function renderNow(urgent = false) {
  if (renderTimer) { clearTimeout(renderTimer); renderTimer = null; }
  lastRender = performance.now();
  dirtySeries = false;
  const force = forceSeries;
  forceSeries = false;
  renderReadout();
  charts.renderSeries(force, urgent);
  setData(root, "points", String(charts.store.rows.length));
  maybeExtendPlan();
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

let explained = ""; // what the panel shows (language + entries): unchanged -> not rebuilt

function renderExplain() {
  const host = $("formulas");
  const cfg = controls.get();
  const entries = chosenEntries(cfg);
  // an lr or L2 change keeps the same entries: rebuilding them would only invalidate the
  // page's layout right before the marker's chart redraw
  const key = [getLang(), ...entries.map(([kind, entry]) => `${kind}:${entry.name}`)].join("|");
  if (key === explained && host.childElementCount) return;
  explained = key;
  host.replaceChildren(...entries.map(([kind, entry]) => el("div", { className: "pg-formula" },
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
      layers = (await getJSON(`/api/runs/${runId}/weights${watchQuery()}`)).layers;
      if (runId !== S.runId) return;
    } catch {
      return; // the run may have been replaced meanwhile
    } finally {
      weightsBusy = false;
    }
  }
  if (!layers.length) return;
  if (layers[0].W.length > DIAGRAM_MAX_UNITS) {
    // too many inputs (e.g. sparse_linear): say that, not "too many hidden layers"
    emptyNote(host, "pg.net_too_many_inputs", { n: layers[0].W.length, max: DIAGRAM_MAX_UNITS });
    return;
  }
  const values = layers.map((l) => (grads ? (l.dW || l.W.map((row) => row.map(() => 0))) : l.W));
  drawNetwork(host, layers, values, S.layers.map(layerLabel), grads ? null : openWeightEditor,
    charts.snapshot && charts.snapshot.neuron_maps, tableColumns(charts.data));
  const mapsNote = charts.snapshot && charts.snapshot.neuron_maps ? ` ${pt("pg.net_maps")}` : "";
  $("network-legend").textContent = (grads ? pt("pg.net_legend_g") : `${pt("pg.net_legend_w")} ${pt("pg.net_click")}`) + mapsNote;
  $("network-diagram").dataset.state = "ready";
  $("network-diagram").dataset.snapshotStep = charts.snapshot ? String(charts.snapshot.step) : "";
}

// Edit one weight: click a link of the diagram (weights view), type a value, Set. Sent as
// PUT /api/runs/{id}/weights with every parameter as the run has it now (read fresh), so
// the server records it in the event log and a replay of the export stays exact.
let editing = null; // {k, i, j}

function openWeightEditor(k, i, j) {
  const layers = charts.snapshot && charts.snapshot.network;
  const current = layers && layers[k] ? layers[k].W[i][j] : null;
  editing = { k, i, j };
  const box = $("weight-editor");
  const inputs = k === 0 ? tableColumns(charts.data) : null; // a table's column feeds layer 1
  box.querySelector(".pg-weight-what").textContent = pt("pg.weight_edit", {
    layer: layerLabel(S.layers[k] || ""), i: inputs && inputs[i] !== undefined ? `${i + 1} (${inputs[i]})` : i + 1, j: j + 1,
  });
  const input = $("weight-value");
  input.value = current === null ? "" : String(Number(current.toPrecision(6)));
  markInvalid(input, null);
  box.hidden = false;
  input.focus();
}

async function applyWeightEdit() {
  if (!editing || !S.runId) return;
  const input = $("weight-value");
  const value = Number(input.value);
  if (input.value.trim() === "" || !Number.isFinite(value)) {
    markInvalid(input, pt("pg.weight_invalid"));
    return;
  }
  const { k, i, j } = editing;
  const runId = S.runId;
  try {
    const { layers } = await getJSON(`/api/runs/${runId}/weights`);
    layers[k].W[i][j] = value;
    const response = await fetch(`/api/runs/${runId}/weights`, {
      method: "PUT", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ layers }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && JSON.stringify(body.detail)) || `HTTP ${response.status}`);
    $("weight-editor").hidden = true;
    editing = null;
    if (runId === S.runId && diagramFits()) {
      const grads = $("network-grads").checked;
      if (!grads) {
        drawNetwork($("network-svg"), body.layers, body.layers.map((l) => l.W), S.layers.map(layerLabel), openWeightEditor,
          null, tableColumns(charts.data));
      }
      if (charts.snapshot) charts.snapshot.network = body.layers;
    }
    $("network-diagram").dataset.edits = String(Number($("network-diagram").dataset.edits || "0") + 1);
  } catch (err) {
    showError(err.message);
  }
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

// Short names of what a patch changed (translated at draw time: pg.marker.<name>).
function markerFields(patch) {
  const out = [];
  for (const key of Object.keys(flatten(patch))) {
    const name = key === "optimizer.lr" ? "lr" : key.startsWith("optimizer.") ? "optimizer"
      : key.startsWith("schedule.") ? "schedule" : key === "regularization.l2" ? "l2"
        : key.startsWith("regularization.") ? "l1" : key.startsWith("grad_clip.") ? "grad_clip" : key;
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

function addMarkers(events, oldCfg, newCfg) {
  for (const ev of events || []) {
    if (!ev.patch) continue;
    const exists = charts.markers.some((m) => m.step === ev.step && m.key === JSON.stringify(ev.patch));
    if (exists) continue;
    const text = oldCfg ? describeChange(oldCfg, newCfg, ev.patch) : short(JSON.stringify(flatten(ev.patch))).replace(/[{}"]/g, "");
    if (!text) continue;
    charts.markers.push({ step: ev.step, text, key: JSON.stringify(ev.patch), fields: markerFields(ev.patch) });
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
      S.liveBase = msg.config;
      S.layers = msg.layers;
      S.task = msg.task;
      if (S.watch) { controls.set(msg.config); lockControls(); }
      addMarkers(msg.events, null, msg.config);
      setSpeedUi(msg.speed);
      renderStatus();
      break;
    case "frame":
      for (const r of msg.records) if (r.step >= S.since) charts.store.push(r);
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
      // redrawn like a chart (charts.js addView): not inside this message's task, not while
      // a live change waits for its reply, and only about every 2 s while out of view
      charts.renderView("network");
      break;
    case "config": {
      const old = S.runConfig;
      const lastEvent = msg.event ? [msg.event] : [];
      addMarkers(lastEvent, old, msg.config);
      S.runConfig = msg.config;
      if (S.watch) { controls.set(msg.config); lockControls(); }
      S.liveBase = msg.config;
      charts.regularized = msg.config.regularization.l1 > 0 || msg.config.regularization.l2 > 0;
      // the marker now, on the loss chart first; the other charts after that frame
      renderNow(true);
      charts.release("reply");
      refreshPlan(true);
      break;
    }
    case "reset":
      S.status = msg.status;
      S.step = msg.step;
      S.epoch = msg.epoch;
      S.divergence = null;
      S.since = 0;
      if (S.watch) { controls.set(msg.config); lockControls(); }
      S.runConfig = msg.config;
      S.liveBase = msg.config;
      charts.store.clear();
      charts.markers = [];
      renderStatus();
      scheduleRender();
      refreshPlan(true);
      break;
    case "ack":
      if (msg.status) { S.status = msg.status; renderStatus(); }
      if (msg.of === "pause") for (const resolve of pauseWaiters.splice(0)) resolve();
      showError(null);
      break;
    case "error": {
      charts.release("reply");
      const detail = Array.isArray(msg.detail)
        ? msg.detail.map((d) => `${(d.loc || []).filter((p) => p !== "patch" && p !== "body").join(".")}: ${d.msg}`).join("; ")
        : String(msg.detail);
      showError(detail);
      if (msg.of === "set" && S.runConfig) {
        // the run kept its settings: so do the URL and the next patch; the field is marked
        S.liveBase = S.runConfig;
        writeState(S.runConfig);
        if (Array.isArray(msg.detail)) for (const d of msg.detail) markServerField(d);
      }
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
  const ws = new WebSocket(`${proto}://${window.location.host}/api/runs/${runId}/stream${watchQuery()}`);
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

let createSeq = 0;

// GET .../data of a run. An uploaded table with more than 2 feature columns gets no surface or
// curve, so its points (up to ~79 MB of JSON at the upload limit) are not fetched. The table's
// width comes from the server: the data panel's GET/POST /api/datasets answer when it is this
// table (one request), else the data without points first (?points=false, its input_dim),
// then the points only when they are drawn. Built-in data: one request, as before.
async function runData(runId, config) {
  const url = `/api/runs/${encodeURIComponent(runId)}/data`;
  const watch = watchQuery();
  const lean = () => getJSON(`${url}?points=false${watch ? `&${watch.slice(1)}` : ""}`);
  if (config && config.dataset && config.dataset.name === CUSTOM) {
    const id = (config.dataset.params || {}).id;
    const known = controls && controls.table && controls.table.id === id ? controls.table.columns.length : null;
    if (known !== null && known > 2) return lean();
    if (known === null) {
      const data = await lean();
      if (data.input_dim > 2) return data;
    }
  }
  return getJSON(`${url}${watch}`);
}

// Creates a run and only then switches to it: POST /api/runs and GET its data first; if either
// fails, the old run is untouched (still playing or paused, its stream open) and the error
// propagates (the caller shows the server's message). A superseded creation (a newer one was
// started meanwhile) deletes its run and returns null.
async function createRun(config) {
  const seq = ++createSeq;
  const created = await postJSON("/api/runs", config);
  let data;
  try {
    data = await runData(created.id, created.config);
  } catch (err) {
    fetch(`/api/runs/${created.id}`, { method: "DELETE" }).catch(() => {});
    throw err;
  }
  if (seq !== createSeq) {
    fetch(`/api/runs/${created.id}`, { method: "DELETE" }).catch(() => {});
    return null;
  }
  // the replacement exists: switch
  const old = S.runId;
  if (S.ws) S.ws.close();
  S.ws = null;
  S.status = "connecting";
  showError(null);
  renderStatus();
  // a pinned run stays (it is deleted when unpinned)
  if (old && !S.pins.some((p) => p.id === old)) fetch(`/api/runs/${old}`, { method: "DELETE" }).catch(() => {});
  const link = $("watch-link");
  link.href = `/?run=${encodeURIComponent(created.id)}&watch=${encodeURIComponent(created.watch_token)}`;
  link.hidden = false;
  await attach(created.id, created.config, data);
  return created;
}

// Watch mode: shows the run `runId` read-only with its watch token (no run is created).
async function watchRun(runId, token) {
  S.watch = token;
  root.dataset.mode = "watch";
  $("watch-badge").hidden = false;
  for (const id of ["reset", "speed", "speed-unlimited"]) $(id).disabled = true;
  renderStatus();
  const run = await getJSON(`/api/runs/${encodeURIComponent(runId)}${watchQuery()}`);
  const data = await runData(runId, run.config);
  await attach(run.id, run.config, data);
}

// Shows run `runId` (its effective `config`, its `data`): charts, plan and explanation, then
// streams it. In watch mode, the history so far is drawn first.
async function attach(runId, config, data) {
  S.runId = runId;
  S.runConfig = config;
  S.liveBase = config;
  S.step = 0;
  S.epoch = 0;
  S.divergence = null;
  S.pendingRebuild = null;
  S.since = 0;
  $("rebuild-notice").hidden = true;
  root.dataset.runId = runId;
  controls.set(config);
  if (S.watch) lockControls();
  charts.regularized = config.regularization.l1 > 0 || config.regularization.l2 > 0;
  if (!S.watch) writeState(config);
  S.task = data.task;
  S.trainSize = data.n_train;
  const layers = config.model.hidden.map((_, k) => `hidden ${k + 1}`).concat(["output"]);
  S.layers = layers;
  charts.reset(layers, data.task);
  charts.data = data;
  if (S.watch) await backfill(runId);
  planHorizon = 0;
  refreshPlan(true);
  scheduleRender();
  renderExplain();
  drawControlPreview();
  connect(runId);
}

// Watch mode: the run's history so far (GET .../history, at most 5,000 evenly spaced rows)
// as records on the charts; the stream then adds the records from the next step on.
async function backfill(runId) {
  const cols = await getJSON(`/api/runs/${runId}/history${watchQuery()}`);
  const names = Object.keys(cols).filter((k) => k !== "layers");
  const n = cols.step.length;
  for (let i = 0; i < n; i += 1) {
    const record = {};
    for (const name of names) record[name] = cols[name][i];
    charts.store.push(record);
  }
  if (n) S.since = cols.step[n - 1] + 1;
}

// A server error naming a field (loc) marks that field, when the page has it.
function markServerField(detail) {
  const path = (detail.loc || []).filter((p) => p !== "patch" && p !== "body" && typeof p === "string");
  const ids = [path.join("."), path.slice(-1)[0], path.slice(-1)[0] && path.slice(-1)[0].replace(/_/g, "-")];
  if (path[0] === "dataset" && path[1] === "n") ids.unshift("samples");
  for (const id of ids) {
    const input = id && root.querySelector(`[data-testid="${id}"]`);
    if (input && input.matches("input, select")) {
      markInvalid(input, `${path.join(".")}: ${detail.msg}`);
      return;
    }
  }
}

// Creates the run of a (partial) config from a link: when the server still rejects a field
// (a rule only it checks, e.g. milestones beyond a schedule's length), that field is dropped,
// named, and the rest tried again.
async function createFromLink(config, dropped) {
  for (let attempt = 0; attempt < 8; attempt += 1) {
    try {
      return await createRun(config);
    } catch (err) {
      const detail = Array.isArray(err.detail) ? err.detail[0] : null;
      const removed = detail ? dropField(config, detail.loc) : null;
      if (!removed) throw err;
      // custom data without a table this server knows: back to the default dataset
      if (removed.startsWith("dataset.params") && config.dataset && config.dataset.name === CUSTOM) {
        delete config.dataset.name;
        delete config.dataset.params;
      }
      dropped.push({ key: removed, text: null, reason: `${removed}: ${detail.msg}` });
    }
  }
  return createRun({});
}

function showDropped(dropped) {
  const box = $("link-dropped");
  if (!dropped.length) { box.hidden = true; return; }
  const items = dropped.map((d) => {
    const what = d.text === null || d.text === undefined ? d.key : `${d.key}=${d.text}`;
    return d.reason ? `${what} (${d.reason})` : `${what} (${pt("pg.link_unknown")})`;
  });
  box.dataset.dropped = dropped.map((d) => d.key).join(",");
  box.querySelector(".pg-dropped-text").textContent = pt("pg.link_dropped", { items: items.join("; ") });
  box.hidden = false;
}

// ------------------------------------------------------------------------------------------
// pins (issue 11; URL format and costs: pins.js)

const pauseWaiters = []; // resolved by the server's ack of a "pause"

// The page's URL: the current config, then every pin's keys (and, while a link's pins are
// being rebuilt, their keys as the link had them).
function writeState(cfg) {
  writeQuery([...queryFromConfig(cfg, S.catalog), ...S.pins.flatMap(pinPairs), ...S.pendingPins]);
}

function pinMessage(text, reason = "") {
  const box = $("pin-message");
  box.textContent = text || "";
  box.dataset.reason = reason;
  box.hidden = !text;
}

// Settings a label names when the pins differ in them (beyond optimizer and lr, always named):
// [getter of the run config, text of its value].
const PIN_EXTRAS = [
  [(c) => c.dataset.name, (v) => v],
  [(c) => c.model.hidden.join(","), (v) => t("pin.extra.hidden", { v: v || "—" })],
  [(c) => (c.model.batch_norm ? "bn" : "") + (c.model.layer_norm ? "ln" : ""), (v) => t(`pin.extra.norm_${v || "none"}`)],
  [(c) => c.model.dropout, (v) => t("pin.extra.dropout", { v: short(v) })],
  [(c) => c.loss || "", (v) => v || t("pin.extra.loss_default")],
  [(c) => c.batch_size, (v) => t("pin.extra.batch_size", { v })],
  [(c) => c.seed, (v) => t("pin.extra.seed", { v })],
];

// "pin 1 · adam lr 0.01", plus what else tells the pins apart ("· batch 40").
function pinLabel(pin, pins) {
  const base = t("pin.label", { n: pin.n, optimizer: pin.cfg.optimizer.name, lr: short(pin.cfg.optimizer.lr) });
  const extras = PIN_EXTRAS
    .filter(([get]) => new Set(pins.map((p) => JSON.stringify(get(p.cfg)))).size > 1)
    .map(([get, text]) => text(get(pin.cfg)));
  return [base, ...extras].join(" · ");
}

// Pauses the current run and waits for the server's ack (at most 3 s), so the export read
// next ends at the step the run stopped at.
function pauseAndWait() {
  if (S.status !== "running") return Promise.resolve();
  return new Promise((resolve) => {
    pauseWaiters.push(resolve);
    setTimeout(resolve, 3000);
    if (!send({ type: "pause" })) resolve();
  });
}

// A pin's curves as the engine recorded them (history, thinned to exact values) and its
// weight histograms at the pinned step (the snapshot's bins, as the live chart's).
async function loadPinCurves(pin) {
  const cols = await getJSON(`/api/runs/${pin.id}/history?fields=${PIN_FIELDS.join(",")}`);
  pin.layers = cols.layers;
  pin.series = seriesFromHistory(cols);
  const snap = await getJSON(`/api/runs/${pin.id}/snapshot?bins=30&grid=2`);
  pin.hist = snap.layers;
}

function renderPinChips() {
  const host = $("pins");
  host.replaceChildren(...S.pins.map((pin) => {
    const x = el("button", {
      type: "button", className: "pg-pin-x", "data-testid": "unpin", "data-pin": String(pin.n),
      "aria-label": t("pin.unpin", { label: pin.label }), title: t("pin.unpin", { label: pin.label }),
    }, "×");
    x.addEventListener("click", () => unpin(pin.n));
    const chip = el("span", {
      className: "pg-pin-chip", "data-testid": "pin-chip", "data-pin": String(pin.n),
      "data-run-id": pin.id, "data-step": String(pin.step), title: t("pin.chip_title", { step: pin.step }),
    }, el("span", { className: "pg-pin-swatch", "aria-hidden": "true" }), el("span", { className: "pg-pin-label" }, pin.label), x);
    chip.style.setProperty("--pin-color", pinColor(pin.n));
    return chip;
  }));
  host.hidden = !S.pins.length;
}

// After any change of the pins: chips, charts, URL.
function refreshPins() {
  for (const pin of S.pins) pin.label = pinLabel(pin, S.pins);
  renderPinChips();
  charts.setPins(S.pins);
  root.dataset.pins = String(S.pins.length);
  if (S.runConfig && !S.watch) writeState(S.runConfig);
}

// "Pin": the current run (paused) stays on the server and on the charts; a new run with the
// same config (seed included) becomes the current one. Refused (with a message) at MAX_PINS
// pins and for a run that has not trained yet.
async function pinCurrent() {
  if (S.watch || S.pinBusy || !S.runId) return;
  const n = freePinNumber(S.pins);
  if (!n) { pinMessage(t("pin.too_many", { max: MAX_PINS }), "too-many"); return; }
  if (S.step === 0) { pinMessage(t("pin.nothing"), "nothing"); return; }
  S.pinBusy = true;
  renderStatus();
  pinMessage(null);
  const runId = S.runId;
  let pin = null;
  try {
    await pauseAndWait();
    const exported = await getJSON(`/api/runs/${runId}/export?history=false`);
    const cfg = (await getJSON(`/api/runs/${runId}`)).config; // with live changes applied
    pin = { n, id: runId, cfg, step: exported.step, pairs: queryFromConfig(exported.config, S.catalog), events: exported.events };
    await loadPinCurves(pin);
    S.pins = [...S.pins, pin].sort((a, b) => a.n - b.n);
    refreshPins();
    await createRun(structuredClone(cfg));
  } catch (err) {
    // no new run: the run stays the current one, not a pin
    if (pin && S.runId === runId) { S.pins = S.pins.filter((p) => p !== pin); refreshPins(); }
    pinMessage(t("pin.failed", { msg: err.message }), "failed");
  } finally {
    S.pinBusy = false;
    renderStatus();
  }
}

// Pinned runs are idle on the server: touched (GET) every few minutes while the page is open
// so they do not expire (GRADPLAY_RUN_TTL_SECONDS) or go first when the client is over quota.
const PIN_KEEPALIVE_MS = 5 * 60 * 1000;
setInterval(() => {
  for (const pin of S.pins) getJSON(`/api/runs/${pin.id}`).catch(() => {});
}, PIN_KEEPALIVE_MS);

function unpin(n) {
  const pin = S.pins.find((p) => p.n === n);
  if (!pin) return;
  S.pins = S.pins.filter((p) => p !== pin);
  pinMessage(null);
  refreshPins();
  if (pin.id !== S.runId) fetch(`/api/runs/${pin.id}`, { method: "DELETE" }).catch(() => {});
}

// A link's pins (after the current run exists): each one is replayed by the server (POST
// /api/runs/import: config + event log to the pinned step) and drawn; a pin that does not read
// back exactly or that the server refuses is dropped and named in `dropped`.
async function restorePins(pinQueries, dropped) {
  root.dataset.pinsState = "loading";
  S.pinBusy = true; // "Pin" waits: its number could be one of the link's
  renderStatus();
  for (const [n, params] of pinQueries) {
    const { pin, error } = readPin(n, params, S.catalog);
    if (error) { dropped.push({ key: `pin${n}`, text: null, reason: error }); continue; }
    let created = null;
    try {
      created = await postJSON("/api/runs/import", { config: pin.config, events: pin.events, step: pin.step });
      const entry = {
        n, id: created.id, cfg: created.config, step: created.step, events: pin.events,
        pairs: [...params].filter(([k]) => k !== "step" && k !== "events"),
      };
      await loadPinCurves(entry);
      S.pins = [...S.pins, entry].sort((a, b) => a.n - b.n);
    } catch (err) {
      if (created) fetch(`/api/runs/${created.id}`, { method: "DELETE" }).catch(() => {});
      dropped.push({ key: `pin${n}`, text: null, reason: `pin${n}: ${err.message}` });
    }
  }
  S.pendingPins = [];
  refreshPins();
  S.pinBusy = false;
  renderStatus();
  root.dataset.pinsState = "ready";
}

// ------------------------------------------------------------------------------------------
// control changes

// The live part goes out at once (a `set` computed against what the last `set` asked for);
// the URL, explanation and schedule preview follow in a later task so the message is not
// held up by layout work. Called with committed = true on "change" events; keystrokes
// (committed = false) arrive here debounced.
function applyNow(cfg) {
  if (!S.runConfig) return;
  const patch = livePatch(S.liveBase || S.runConfig, cfg);
  // advance the base only when the set really went out (a closed socket sends nothing)
  if (patch && send({ type: "set", patch })) {
    S.liveBase = cfg;
    charts.hold("reply"); // until the `config` reply: it and its marker go first
  }
  setTimeout(() => applyRest(cfg), 0);
}

function applyRest(cfg) {
  writeState(cfg); // valid values only (controls.js)
  renderExplain();
  drawControlPreview();
  if (needsRebuild(S.runConfig, cfg)) {
    if (S.step === 0 && S.status !== "running") {
      rebuildOnce(cfg);
    } else {
      S.pendingRebuild = cfg;
      $("rebuild-notice").hidden = false;
    }
  } else {
    S.pendingRebuild = null;
    $("rebuild-notice").hidden = true;
  }
}

// A typed value rebuilds after its debounce and again on its `change` event; while the first
// run for a config is still being made, the second request for the same config is dropped
// (it would create and at once delete a second, identical run).
let rebuilding = null; // JSON of the config whose run is being created
function rebuildOnce(cfg) {
  const key = JSON.stringify(cfg);
  if (key === rebuilding) return;
  rebuilding = key;
  createRun(cfg)
    .catch((err) => showError(err.message))
    .finally(() => { if (rebuilding === key) rebuilding = null; });
}

const applyTyped = debounce((cfg) => applyNow(cfg), 300);

function applyChange(cfg, committed) {
  if (committed) {
    applyTyped.cancel();
    applyNow(cfg);
  } else {
    applyTyped(cfg);
  }
}

// ------------------------------------------------------------------------------------------
// speed

function sliderToSpeed(v) {
  return Math.round(10 ** Number(v));
}

function setSpeedUi(speed) {
  const unlimited = speed === null || speed === undefined;
  $("speed-unlimited").checked = unlimited;
  $("speed").disabled = unlimited || Boolean(S.watch);
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

// "Copy as PyTorch": the server writes the script (GET .../export?format=pytorch); copied to the
// clipboard, or downloaded where the clipboard API is unavailable (plain http off localhost).
async function copyAsPytorch() {
  if (!S.runId) return;
  const button = $("copy-pytorch");
  const watch = S.watch ? `&watch=${encodeURIComponent(S.watch)}` : "";
  const response = await fetch(`/api/runs/${S.runId}/export?format=pytorch${watch}`);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ")
      : body.detail || response.statusText;
    showError(detail);
    return;
  }
  const text = await response.text();
  let key = "pg.copy_pytorch_done";
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/x-python" }));
    link.download = `gradplay-run-${S.runId.slice(0, 8)}.py`;
    link.click();
    URL.revokeObjectURL(link.href);
    key = "pg.copy_pytorch_saved";
  }
  button.textContent = pt(key);
  button.dataset.copied = "true";
  setTimeout(() => { button.textContent = pt("pg.copy_pytorch"); delete button.dataset.copied; }, 2000);
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
  $("copy-pytorch").addEventListener("click", copyAsPytorch);
  $("pin-run").addEventListener("click", pinCurrent);
  $("speed").addEventListener("input", sendSpeed);
  $("speed-unlimited").addEventListener("change", sendSpeed);
  $("rebuild-apply").addEventListener("click", () => {
    // on failure the old run and this notice stay (Undo still brings the controls back)
    if (S.pendingRebuild) createRun(S.pendingRebuild).catch((err) => showError(err.message));
  });
  $("rebuild-revert").addEventListener("click", () => {
    S.pendingRebuild = null;
    $("rebuild-notice").hidden = true;
    controls.set(S.runConfig);
    writeState(S.runConfig);
    renderExplain();
  });
  $("link-dropped-close").addEventListener("click", () => { $("link-dropped").hidden = true; });
  // The controls fold away (on a phone they start folded, so Play is at the top); the charts
  // re-fit to the space they gain (common.js's ResizeObserver).
  const side = $("controls-panel");
  const setControlsOpen = (open) => {
    side.classList.toggle("pg-collapsed", !open);
    root.classList.toggle("pg-controls-collapsed", !open);
    $("controls-toggle").setAttribute("aria-expanded", open ? "true" : "false");
  };
  setControlsOpen(window.innerWidth >= 700);
  $("controls-toggle").addEventListener("click", () => setControlsOpen(side.classList.contains("pg-collapsed")));
  $("loss-log").addEventListener("change", () => {
    charts.lossLog = $("loss-log").checked;
    scheduleRender(true);
  });
  $("network-grads").addEventListener("change", refreshNetwork);
  $("weight-apply").addEventListener("click", applyWeightEdit);
  $("weight-value").addEventListener("keydown", (e) => { if (e.key === "Enter") applyWeightEdit(); });
  $("weight-cancel").addEventListener("click", () => { $("weight-editor").hidden = true; editing = null; });
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
    renderReadout();
    charts.renderAll();
    drawControlPreview();
    refreshNetwork();
    if (S.pins.length) refreshPins();
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
  charts.addView("network", $("network-diagram"), refreshNetwork);
  // which chart costs what: window.gradplayChartTimes() in the console
  window.gradplayChartTimes = () => charts.timings();
  controls = new Controls($("controls"), S.catalog, (cfg, committed) => applyChange(cfg, committed));
  wire();
  const query = readQuery();
  if (query.get("run") && query.get("watch")) {
    await watchRun(query.get("run"), query.get("watch"));
    root.dataset.ready = "true";
    return;
  }
  const { main: mainQuery, pins: pinQueries } = splitPinQuery(query);
  S.pendingPins = [...query].filter(([k]) => !mainQuery.has(k));
  const { config, dropped } = readLink(mainQuery, S.catalog);
  try {
    await createFromLink(config, dropped);
  } catch (err) {
    showError(err.message);
    await createRun({});
  }
  showDropped(dropped);
  root.dataset.ready = "true";
  if (pinQueries.size) {
    await restorePins(pinQueries, dropped);
    showDropped(dropped);
  } else {
    root.dataset.pinsState = "ready";
  }
}

main().catch((err) => {
  showError(err.message);
  S.status = "error";
  renderStatus();
});
