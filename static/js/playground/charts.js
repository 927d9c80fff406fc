// Live charts of the playground (Plotly through common.js's drawChart, which applies the
// shared fonts and re-renders on the large-font toggle).
//
// Records are kept in a bounded store: past MAX_POINTS rows every other row is dropped and from
// then on only every stride-th step is kept (like the server's history), so memory stays flat;
// the newest record is always drawn.

import { color, drawChart, el, isLargeFont } from "../common.js";
import { pt } from "./messages.js";
import { pinColor } from "./pins.js";

export const MAX_POINTS = 5000;
export const DRAW_POINTS = 1000;
const HEATMAP_COLUMNS = 400;

export class RecordStore {
  constructor(cap = MAX_POINTS) {
    this.cap = cap;
    this.version = 0; // bumped on every change (charts skip redraws when it did not move)
    this.clear();
  }

  clear() {
    this.rows = [];
    this.stride = 1;
    this.last = null;
    this.cached = null;
    this.version += 1;
  }

  push(record) {
    this.last = record;
    this.version += 1;
    if (record.step % this.stride) return;
    this.rows.push(record);
    if (this.rows.length > this.cap) {
      this.stride *= 2;
      this.rows = this.rows.filter((r) => r.step % this.stride === 0);
    }
  }

  // Rows to draw: at most DRAW_POINTS evenly spaced stored rows (a chart cannot show more on
  // screen, and redrawing 5,000-point traces many times a second is what makes charts lag),
  // plus the newest record when decimation skipped it. Cached until the next change.
  view() {
    if (this.cached && this.cached.version === this.version) return this.cached.rows;
    let rows = this.rows;
    if (rows.length > DRAW_POINTS) {
      const every = Math.ceil(rows.length / DRAW_POINTS);
      const last = rows.length - 1;
      const picked = [];
      for (let i = 0; i <= last; i += every) picked.push(rows[i]);
      if (last % every) picked.push(rows[last]);
      rows = picked;
    }
    if (this.last && (!rows.length || rows[rows.length - 1] !== this.last)) rows = [...rows, this.last];
    this.cached = { version: this.version, rows };
    return rows;
  }
}

function col(rows, field) {
  const out = new Array(rows.length);
  for (let i = 0; i < rows.length; i += 1) out[i] = rows[i][field];
  return out;
}

function positive(v) {
  return v === null || v === undefined || !(v > 0) ? null : v;
}

// A planned-LR curve (one value per step, up to 100,000 steps) thinned to about DRAW_POINTS
// points for drawing: every k-th step plus both sides of every jump (step/multistep/
// piecewise schedules keep their exact edges); each kept point is an exact value.
export function thinCurve(curve, target = DRAW_POINTS) {
  const { x, y } = curve;
  const n = y.length;
  if (n <= target * 1.5) return curve;
  const every = Math.ceil(n / target);
  let top = 0;
  for (const v of y) if (Number.isFinite(v) && Math.abs(v) > top) top = Math.abs(v);
  const jump = top * 0.01;
  const keep = new Uint8Array(n);
  let kept = 0;
  for (let i = 0; i < n; i += 1) {
    if (i % every === 0 || i === n - 1 || (i > 0 && !(Math.abs(y[i] - y[i - 1]) <= jump))) {
      if (!keep[i]) { keep[i] = 1; kept += 1; }
      if (i > 0 && i % every && !keep[i - 1]) { keep[i - 1] = 1; kept += 1; }
    }
    if (kept > target * 4) { // noisy curve (jumps everywhere): a plain stride
      const ox = [];
      const oy = [];
      for (let j = 0; j < n; j += 1) if (j % every === 0 || j === n - 1) { ox.push(x[j]); oy.push(y[j]); }
      return { x: ox, y: oy };
    }
  }
  const ox = [];
  const oy = [];
  for (let i = 0; i < n; i += 1) if (keep[i]) { ox.push(x[i]); oy.push(y[i]); }
  return { x: ox, y: oy };
}

// Ticks of a log axis over [lo, hi] (positive data bounds), in ONE format per axis:
// decimals ("0.001", "0.5", "200") while every tick lies in [1e-3, 1e4], else powers of ten
// ("10⁻⁵", "10¹⁵") for all of them. Spans of about a decade get 1-2-5 ticks, longer ones one
// tick per power of ten (every k-th over many decades so labels never pile up).
// Returns {tickvals, ticktext, range} (range in log10 units) or null without data.
const SUP = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
export function logTicks(lo, hi) {
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) return null;
  let a = Math.floor(Math.log10(lo));
  let b = Math.ceil(Math.log10(hi));
  if (b <= a) b = a + 1;
  const decades = b - a;
  const vals = [];
  if (decades <= 2) {
    for (let e = a; e <= b; e += 1) for (const m of [1, 2, 5]) vals.push(m * 10 ** e);
  } else {
    const every = decades <= 8 ? 1 : Math.ceil(decades / 8);
    for (let e = a; e <= b; e += every) vals.push(10 ** e);
  }
  const lo10 = Math.log10(lo);
  const hi10 = Math.log10(hi);
  // tight range for short spans (1-2-5 ticks), whole decades otherwise
  const range = decades <= 2
    ? [lo10 - (hi10 - lo10 || 1) * 0.05, hi10 + (hi10 - lo10 || 1) * 0.05]
    : [a, b];
  const inRange = (v) => Math.log10(v) >= range[0] - 1e-9 && Math.log10(v) <= range[1] + 1e-9;
  let shown = vals.filter(inRange);
  if (decades <= 2 && shown.length < 3) {
    // under a decade: evenly spaced "nice" values (0.35, 0.4, 0.45 …), still plain decimals
    const raw = (hi - lo) / 4 || hi / 4;
    const p = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw) || 10 * p;
    shown = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi * 1.0001; v += step) shown.push(Number(v.toPrecision(6)));
    shown = shown.filter((v) => v > 0 && inRange(v));
  }
  const plain = shown.every((v) => v >= 1e-3 && v <= 1e4);
  const text = shown.map((v) => {
    if (plain) return String(Number(v.toPrecision(3)));
    const e = Math.round(Math.log10(v));
    const m = Math.round(v / 10 ** e);
    const pow = `10${String(e).split("").map((c) => SUP[c]).join("")}`;
    return m === 1 ? pow : `${m}·${pow}`;
  });
  return { tickvals: shown, ticktext: text, range };
}

// Colour of layer k of n: the palette (distinct colours) up to 9 layers (8 hidden + output);
// beyond that a sequential scale by depth (viridis), drawn with a colour bar instead of a
// legend so a deep net's charts keep their plot width and no two layers share a colour.
export const MAX_LEGEND_LAYERS = 9;
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
export function depthColor(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const c = VIRIDIS[i].map((v, j) => Math.round(v + (VIRIDIS[i + 1][j] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export function layerColor(k, n) {
  return n <= MAX_LEGEND_LAYERS ? color(k) : depthColor(n > 1 ? k / (n - 1) : 0);
}

// Short legend name of a layer: "1", "2", …, "out" (the legend's title says "layer").
export function layerShort(name) {
  const m = /^hidden (\d+)$/.exec(name);
  return m ? m[1] : pt("pg.layer_out_short");
}

// A legend-less trace carrying the colour bar of the depth scale (layers 1..n).
function depthBar(n, large) {
  const stops = VIRIDIS.map((c, i) => [i / (VIRIDIS.length - 1), `rgb(${c.join(",")})`]);
  const every = Math.ceil(n / 6);
  const tickvals = [];
  for (let k = 1; k <= n; k += every) tickvals.push(k);
  if (tickvals[tickvals.length - 1] !== n) tickvals.push(n);
  return {
    type: "scatter", mode: "markers", x: [null], y: [null], showlegend: false, hoverinfo: "skip",
    marker: {
      color: [1], cmin: 1, cmax: n, colorscale: stops, showscale: true,
      colorbar: {
        title: { text: pt("pg.legend.layer"), side: "right" }, thickness: large ? 14 : 10, len: 0.9,
        tickvals, ticktext: tickvals.map((k) => (k === n ? pt("pg.layer_out_short") : String(k))),
      },
    },
  };
}

// ---- the input features' names (issue 14: your own data)
// An uploaded table's charts name its own columns: GET .../data answers them as
// `table.columns` (features, in the model's input order) and `table.target`; they are shown as
// the server sent them, never derived here. Built-in data keeps x₁, x₂. Column names are user
// text: Plotly reads a few HTML tags (<b>, <br>, <a href>) and, in hover templates, %{…}
// placeholders in its strings, so every name passes through plotlyText() on its way into a
// Plotly string (SVG text nodes built with textContent need nothing).

// The table's feature names (data = GET .../data), or null for built-in data.
export function tableColumns(data) {
  const table = data && data.table;
  return table && Array.isArray(table.columns) ? table.columns.map(String) : null;
}

// The name of input `i` (0-based) for a chart: the table's column, else x₁, x₂, ….
export function featureName(data, i) {
  const cols = tableColumns(data);
  if (cols && i < cols.length) return cols[i];
  return `x${String(i + 1).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[Number(d)])}`;
}

// User text as Plotly shows it literally: &, <, >, quotes and % as character references,
// which Plotly turns back into the characters after parsing its tags and placeholders.
export function plotlyText(text) {
  return String(text).replace(/[&<>"'%]/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A long name cut to about `max` narrow characters (CJK counts double) with "…" (axis titles
// and the network's hover box have the room of a chart's side, not of a 64-character name).
export function shortName(text, max = 24) {
  const chars = Array.from(String(text));
  let w = 0;
  for (let i = 0; i < chars.length; i += 1) {
    w += chars[i].codePointAt(0) >= 0x2e80 ? 1.9 : 1;
    if (w > max) return `${chars.slice(0, i).join("")}…`;
  }
  return chars.join("");
}

// Rough width (px) of a text at `px` per narrow character (CJK counts about double).
function textWidth(text, px) {
  let w = 0;
  for (const ch of String(text)) w += ch.codePointAt(0) >= 0x2e80 ? px * 1.9 : px;
  return w;
}

// Fixed margins (see base) reserve one row of the legend under the plot. A legend that wraps
// onto more rows (a deep net's layers in large text on a phone, pinned runs' long names) gets
// the room it took in the last draw: Plotly's own legend height (no DOM read); the chart is
// drawn again at once when that room changed by more than a pixel or two.
function legendRoom(element) {
  const full = element && element._fullLayout;
  if (!full || !full.showlegend || !full.legend || !full.legend._height) return 0;
  return Math.max(0, Math.ceil(full.legend._height - (isLargeFont() ? 38 : 28)));
}

// Hover: the recorded value to 6 significant digits (the series are not interpolated).
const FMT = "%{y:.6g}";

// Internal names of the layers ("hidden 1", "output") in the page language.
export function layerLabel(name) {
  const m = /^hidden (\d+)$/.exec(name);
  if (m) return pt("pg.layer_hidden", { n: m[1] });
  return name === "output" ? pt("pg.layer_output") : name;
}

const MARKER_LABELS = 8;
const SERIES = ["loss", "accuracy", "lr", "gradNorm", "updateRatio", "heatmap", "zeros"];
const REST_FACTOR = 3; // charts draw at most 1/4 of the main thread's time (see drain)
// ... but never rest longer than this: on a starved machine a batch can take a second, and a
// new value must still reach the charts within about one rest
const MAX_REST_MS = 300;
const SNAPSHOT = ["hist", "boundary"];
// Charts scrolled out of view are refreshed at most once per HIDDEN_REFRESH_MS (one chart per
// tick, at most two per second), and at once when they scroll into view.
const HIDDEN_REFRESH_MS = 2000;
const HIDDEN_TICK_MS = 500;

export class Charts {
  constructor(elements) {
    this.el = elements; // {loss, accuracy, lr, gradNorm, heatmap, updateRatio, hist, zeros, boundary}
    this.store = new RecordStore();
    this.layers = [];
    this.markers = []; // {step, text}
    this._planned = null; // {x, y}
    this.plannedDraw = null; // thinned copy
    this.plannedRev = 0;
    this.lossLog = true;
    this.task = null;
    this.regularized = false;
    this.data = null; // GET /data
    this.snapshot = null;
    this.snapshotRev = 0;
    this.uirev = 0;
    // Pinned runs (pins.js): [{n, label, series: {field: {x, y}}, hist: snapshot layers}]; their
    // arrays never change while pinned, so Plotly.react sees the same data each redraw.
    this.pins = [];
    this.pinsRev = 0;
    // Per chart: what was last drawn and when; visible = intersects the viewport.
    this.slots = new Map();
    for (const key of [...SERIES, ...SNAPSHOT]) {
      this.slots.set(key, { key, el: elements[key], sig: null, want: null, drawnAt: 0, visible: true });
    }
    // Time spent per chart (aggregates only; see timings()).
    this.perf = {};
    this.forceRev = 0;
    this.hiddenTimer = null;
    if (typeof IntersectionObserver === "function") {
      this.byEl = new Map([...this.slots.values()].map((s) => [s.el, s]));
      this.observer = new IntersectionObserver((entries) => {
        for (const entry of entries) {
          const slot = this.byEl.get(entry.target);
          if (!slot) continue;
          slot.visible = entry.isIntersecting;
          if (slot.visible && slot.want !== slot.sig) { this.queue.add(slot); this.drain(); }
        }
      }, { rootMargin: "0px" });
      for (const slot of this.slots.values()) if (slot.el) this.observer.observe(slot.el);
    }
    document.addEventListener("gradplay:fontchange", () => this.renderAll());
    this.queue = new Set(); // slots waiting to be drawn, one per task (see update)
    this.draining = false;
    this.holds = new Map(); // reason -> fallback timer; queued redraws wait while any (hold())
    this.restUntil = 0;
    this.restTimer = null;
    this.batchMs = 0;
    this.channel = new MessageChannel();
    this.channel.port1.onmessage = () => this.drawNext();
  }

  get planned() {
    return this._planned;
  }

  set planned(curve) {
    this._planned = curve;
    this.plannedDraw = curve ? thinCurve(curve) : null;
    this.plannedRev += 1;
  }

  // New set of pinned runs (or new labels): every chart that shows them is redrawn.
  setPins(pins) {
    this.pins = pins.filter((p) => p.series);
    this.pinsRev += 1;
    this.renderSeries(true);
    this.renderSnapshot(true);
  }

  // Faint traces of every pin's `field` (drawn under the live traces, legend entry = the
  // pin's label once per chart). tf maps values (log axes: non-positive -> null); the mapped
  // arrays are cached on the pin, so a redraw hands Plotly the same arrays again.
  pinLines(field, { tf = null, tfKey = "", dash = "solid", legend = true, layer = null, pins = this.pins } = {}) {
    const out = [];
    for (const pin of pins) {
      const all = pin.series[field];
      const series = layer === null ? all : all && all[layer];
      if (!series || !series.x.length) continue;
      pin.cache = pin.cache || {};
      const key = `${field}|${layer}|${tfKey}`;
      if (!pin.cache[key]) pin.cache[key] = tf ? series.y.map(tf) : series.y;
      out.push({
        type: "scatter", mode: "lines", x: series.x, y: pin.cache[key], name: pin.label,
        legendgroup: `pin${pin.n}`, showlegend: legend, opacity: 0.5,
        line: { color: pinColor(pin.n), width: 1.5, dash },
        hovertemplate: `${pin.label}${layer === null ? "" : ` · ${layerLabel(pin.layers[layer] || "")}`}: %{y:.6g}<extra></extra>`,
      });
    }
    return out;
  }

  pinMaxStep() {
    let top = 0;
    for (const pin of this.pins) top = Math.max(top, pin.series.lastStep || 0);
    return top;
  }

  reset(layers, task) {
    this.store.clear();
    this.layers = layers;
    this.task = task;
    this.markers = [];
    this.snapshot = null;
    this.data = null;
    this.uirev += 1;
  }

  // Milliseconds spent drawing each chart since load: {chart: {n, ms, avg}} — which chart is
  // the expensive one (also exposed as window.gradplayChartTimes()).
  timings() {
    const out = {};
    for (const [k, v] of Object.entries(this.perf)) out[k] = { n: v.n, ms: Math.round(v.ms), avg: +(v.ms / v.n).toFixed(1) };
    return out;
  }

  // Vertical lines + labels for every live change: a short translated label ("lr", "优化器")
  // inside the plot area (anchored left of the line near the right edge), staggered over four
  // rows so nearby changes do not pile up; the full text ("lr 0.03 → 0.1") on hover.
  // Only the newest MARKER_LABELS changes are labelled (older ones keep their line): every
  // annotation is measured and drawn on each redraw of each time-series chart; 30 of them made
  // the loss chart's redraw twice as slow (so a live change's marker came later and later).
  markerLayout(xmax) {
    const shapes = this.markers.map((m) => ({
      type: "line", xref: "x", yref: "paper", x0: m.step, x1: m.step, y0: 0, y1: 1,
      line: { color: "#7a4fd0", width: 1.5, dash: "dot" },
    }));
    const from = Math.max(0, this.markers.length - MARKER_LABELS);
    const annotations = this.markers.slice(from).map((m, k) => ({
      x: m.step, xref: "x", yref: "paper", y: 0.98 - ((from + k) % 4) * 0.11, yanchor: "top",
      xanchor: xmax && m.step > xmax * 0.7 ? "right" : "left",
      text: (m.fields && m.fields.length ? m.fields.map((f) => pt(`pg.marker.${f}`)) : [m.text]).slice(0, 2).join(", ")
        + (m.fields && m.fields.length > 2 ? " …" : ""),
      hovertext: m.text, showarrow: false, bgcolor: "rgba(255,255,255,0.85)", captureevents: true,
      bordercolor: "#7a4fd0", borderwidth: 1, font: { color: "#5b2fb0" }, borderpad: 2,
    }));
    return { shapes, annotations };
  }

  // Layout of a time-series chart. Margins are fixed (no automargin: measuring every tick
  // label twice per redraw was a third of the cost) and tick labels are never hidden-checked
  // (ticklabeloverflow "allow" skips a bounding-box query per label).
  // Every chart has both axis titles (x: step; y: extra.ytitle) and its legend at the bottom
  // of the chart box (below the x title), so long legends never squeeze the plot sideways.
  base(titleKey, extra = {}) {
    const large = isLargeFont();
    const tick = { automargin: false, ticklabeloverflow: "allow" };
    const legend = extra.legend !== false;
    const xmax = extra.xaxis && extra.xaxis.range ? extra.xaxis.range[1] : null;
    return {
      title: { text: pt(titleKey) },
      uirevision: this.uirev,
      // explicit axis types: Plotly otherwise scans the data for dates on every redraw
      // standoff: the x label "0" must not touch the y label "0" in the corner
      xaxis: { type: "linear", hoverformat: "d", ticklabelstandoff: 4, title: { text: pt("pg.axis.step"), standoff: 4 }, ...tick, ...(extra.xaxis || {}) },
      yaxis: { type: "linear", title: { text: extra.ytitle || "", standoff: 6 }, ...tick, ...(extra.yaxis || {}) },
      margin: large
        ? { l: 104, r: extra.bar ? 70 : 20, t: 50, b: legend ? 104 : 66 }
        : { l: 80, r: extra.bar ? 60 : 16, t: 40, b: legend ? 78 : 50 },
      showlegend: legend,
      legend: { orientation: "h", yref: "container", y: 0.005, yanchor: "bottom", x: 0, xanchor: "left", ...(extra.legendExtra || {}) },
      // "x": every trace's exact value at the hovered step, each in its own label ("x unified"
      // sets up a legend-like hover box on every redraw and costs ~20% more per redraw)
      hovermode: "x",
      ...this.markerLayout(xmax),
      ...(extra.layout || {}),
    };
  }

  // Everything the time-series charts depend on; a chart whose signature did not change is
  // not redrawn.
  seriesSig() {
    return [this.uirev, this.store.version, this.markers.length, this.lossLog, this.regularized,
      this.plannedRev, this.task, this.layers.length, pt("pg.chart.loss"), isLargeFont(), this.pinsRev].join("|");
  }

  ctx() {
    if (this._ctx) return this._ctx;
    const rows = this.store.view();
    const lastStep = rows.length ? rows[rows.length - 1].step : 0;
    const x = col(rows, "step");
    this._ctx = { rows, x, lastStep, xrange: [0, Math.max(10, lastStep, this.pinMaxStep())] };
    return this._ctx;
  }

  line(y, name, i, more = {}) {
    return {
      type: "scatter", mode: "lines", x: this.ctx().x, y, name, line: { color: color(i), width: 2 },
      hovertemplate: FMT, connectgaps: true, ...more,
    };
  }

  build(key) {
    switch (key) {
      case "loss": return this.buildLoss();
      case "accuracy": return this.buildAccuracy();
      case "lr": return this.buildLr();
      case "gradNorm": return this.buildPerLayer("grad_norm", "pg.chart.grad_norm");
      case "updateRatio": return this.buildPerLayer("update_ratio", "pg.chart.update_ratio");
      case "heatmap": return this.buildHeatmap();
      case "zeros": return this.buildZeros();
      case "hist": return this.buildHist();
      case "boundary": return this.buildBoundary();
      default: return null;
    }
  }

  buildLoss() {
    const { rows, xrange } = this.ctx();
    const tf = this.lossLog ? positive : (v) => v;
    const pinOpts = this.lossLog ? { tf: positive, tfKey: "log" } : {};
    const traces = [
      ...this.pinLines("loss", pinOpts),
      ...this.pinLines("val_loss", { ...pinOpts, dash: "dot", legend: false }),
      this.line(col(rows, "loss").map(tf), pt("pg.trace.train"), 0),
    ];
    const valRows = rows.filter((r) => r.val_loss !== null && r.val_loss !== undefined);
    if (valRows.length) {
      traces.push({
        type: "scatter", mode: "lines", x: col(valRows, "step"),
        y: col(valRows, "val_loss").map(tf), name: pt("pg.trace.val"),
        line: { color: color(1), width: 2 }, hovertemplate: FMT,
      });
    }
    if (this.regularized || rows.some((r) => r.reg_loss > 0)) {
      traces.push(this.line(col(rows, "data_loss").map(tf), pt("pg.trace.data_loss"), 2, { line: { color: color(2), width: 1.5, dash: "dash" } }));
      traces.push(this.line(col(rows, "reg_loss").map(tf), pt("pg.trace.penalty"), 3, { line: { color: color(3), width: 1.5, dash: "dot" } }));
    }
    let yaxis = { type: "linear" };
    if (this.lossLog) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const t of traces) for (const v of t.y) if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      const ticks = logTicks(lo, hi);
      yaxis = ticks ? { type: "log", tickmode: "array", tickvals: ticks.tickvals, ticktext: ticks.ticktext, range: ticks.range } : { type: "log" };
    }
    return [traces, this.base("pg.chart.loss", { xaxis: { range: xrange }, yaxis, ytitle: pt("pg.axis.loss") })];
  }

  buildAccuracy() {
    if (this.task === "regression") {
      return [[], this.base("pg.chart.accuracy", {
        layout: { annotations: [{ text: pt("pg.no_accuracy"), xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false }] },
        yaxis: { range: [0, 1] }, ytitle: pt("pg.axis.accuracy"), legend: false,
      })];
    }
    const { rows, xrange } = this.ctx();
    const traces = [
      ...this.pinLines("train_acc"),
      ...this.pinLines("val_acc", { dash: "dot", legend: false }),
      this.line(col(rows, "train_acc"), pt("pg.trace.train"), 0),
    ];
    const valAcc = rows.filter((r) => r.val_acc !== null && r.val_acc !== undefined);
    if (valAcc.length) {
      traces.push({ type: "scatter", mode: "lines", x: col(valAcc, "step"), y: col(valAcc, "val_acc"),
        name: pt("pg.trace.val"), line: { color: color(1), width: 2 }, hovertemplate: FMT });
    }
    return [traces, this.base("pg.chart.accuracy", { xaxis: { range: xrange }, yaxis: { range: [0, 1.02] }, ytitle: pt("pg.axis.accuracy") })];
  }

  // learning rate: planned (dashed) and actual (solid)
  buildLr() {
    const { rows, lastStep } = this.ctx();
    const traces = this.pinLines("lr");
    if (this.plannedDraw) {
      traces.push({ type: "scatter", mode: "lines", x: this.plannedDraw.x, y: this.plannedDraw.y, name: pt("pg.trace.planned"),
        line: { color: "#8a93a6", width: 2, dash: "dash" }, hovertemplate: "%{y:.5g}" });
    }
    traces.push(this.line(col(rows, "lr"), pt("pg.trace.actual"), 0, { hovertemplate: "%{y:.5g}", line: { color: color(0), width: 2.5 } }));
    let top = 0;
    for (const t of traces) for (const v of t.y) if (v > top && Number.isFinite(v)) top = v;
    return [traces, this.base("pg.chart.lr", {
      xaxis: { range: [0, Math.max(50, lastStep * 1.1 + 10, this.pinMaxStep())] },
      yaxis: { range: [0, (top || 1) * 1.12], exponentformat: "e" }, ytitle: pt("pg.axis.lr"),
    })];
  }

  buildPerLayer(field, titleKey, log = true) {
    const { rows, xrange } = this.ctx();
    const n = this.layers.length;
    const many = n > MAX_LEGEND_LAYERS;
    const pinned = [];
    for (const pin of this.pins) {
      const count = (pin.series[field] || []).length;
      for (let k = 0; k < count; k += 1) {
        pinned.push(...this.pinLines(field, { layer: k, legend: k === 0, tf: log ? positive : null, tfKey: log ? "log" : "", pins: [pin] }));
      }
    }
    const traces = [...pinned, ...this.layers.map((name, k) => ({
      type: "scatter", mode: "lines", x: this.ctx().x,
      y: rows.map((r) => (r[field] ? (log ? positive(r[field][k]) : r[field][k]) : null)),
      name: layerShort(name), line: { color: layerColor(k, n), width: 1.8 },
      hovertemplate: `${layerLabel(name)}: %{y:.6e}<extra></extra>`,
    }))];
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of traces) for (const v of t.y) if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const ticks = log ? logTicks(lo, hi) : null;
    const yaxis = ticks
      ? { type: "log", tickmode: "array", tickvals: ticks.tickvals, ticktext: ticks.ticktext, range: ticks.range }
      : { type: log ? "log" : "linear" };
    if (many) traces.push(depthBar(n, isLargeFont()));
    const ytitle = pt(field === "grad_norm" ? "pg.axis.grad_norm" : "pg.axis.update_ratio");
    return [traces, this.base(titleKey, {
      xaxis: { range: xrange }, yaxis, ytitle, legend: !many, bar: many,
      legendExtra: { title: { text: `${pt("pg.legend.layer")}:` } },
    })];
  }

  // heatmap: layer x step of log10 |grad|
  buildHeatmap() {
    const { rows } = this.ctx();
    const every = Math.max(1, Math.ceil(rows.length / HEATMAP_COLUMNS));
    const hrows = rows.filter((_, i) => i % every === 0 || i === rows.length - 1);
    const z = this.layers.map((_, k) => hrows.map((r) => {
      const v = r.grad_norm ? r.grad_norm[k] : null;
      return v > 0 ? Math.log10(v) : null;
    }));
    const base = this.base("pg.chart.grad_heatmap");
    return [[{
      type: "heatmap", x: col(hrows, "step"), y: this.layers.map(layerLabel), z, colorscale: "Viridis", showlegend: false,
      colorbar: { title: { text: "log₁₀" }, thickness: 14 },
      hovertemplate: `${pt("pg.axis.step")} %{x}<br>%{y}<br>log₁₀‖g‖ = %{z:.2f}<extra></extra>`,
    }], {
      ...base, hovermode: "closest", showlegend: false,
      // category labels ("hidden 12") and the axis title need the measured margin
      margin: { ...base.margin, l: 40, b: base.margin.b - 28 },
      yaxis: { title: { text: pt("pg.axis.layer") }, type: "category", automargin: true },
    }];
  }

  buildZeros() {
    const { rows, xrange } = this.ctx();
    return [[
      ...this.pinLines("zero_fraction"),
      ...this.pinLines("near_zero_fraction", { dash: "dash", legend: false }),
      this.line(col(rows, "zero_fraction"), pt("pg.trace.exact_zero"), 0, { hovertemplate: "%{y:.1%}" }),
      this.line(col(rows, "near_zero_fraction"), pt("pg.trace.near_zero"), 4, { hovertemplate: "%{y:.1%}", line: { color: color(4), width: 1.5, dash: "dash" } }),
    ], this.base("pg.chart.zeros", { xaxis: { range: xrange }, yaxis: { range: [0, 1.02], tickformat: ".0%" }, ytitle: pt("pg.axis.fraction") })];
  }

  // A view drawn by the page itself (not Plotly), scheduled like the charts: drawn when its
  // input changes and it is in view (else about every HIDDEN_REFRESH_MS, and at once when
  // scrolled into view), never while a live change is held, within the duty cycle.
  // draw() may return a promise. render(key) marks it changed.
  addView(key, element, draw) {
    const slot = { key, el: element, sig: null, want: null, drawnAt: 0, visible: true, draw, rev: 0 };
    this.slots.set(key, slot);
    if (this.observer && element) {
      this.byEl.set(element, slot);
      this.observer.observe(element);
    }
  }

  renderView(key) {
    const slot = this.slots.get(key);
    slot.rev += 1;
    this.update([key], String(slot.rev));
  }

  drawSlot(slot) {
    if (slot.draw) {
      slot.sig = slot.want;
      slot.drawnAt = performance.now();
      const t0 = performance.now();
      const p = this.perf[slot.key] || (this.perf[slot.key] = { n: 0, ms: 0 });
      return Promise.resolve(slot.draw()).then(() => { p.n += 1; p.ms += performance.now() - t0; });
    }
    const built = this.build(slot.key);
    const room = slot.legendRoom || 0;
    const fixed = built && built[1].margin && built[1].xaxis && built[1].xaxis.automargin === false;
    if (fixed && room) built[1].margin = { ...built[1].margin, b: built[1].margin.b + room };
    slot.sig = slot.want;
    slot.drawnAt = performance.now();
    if (!built || !slot.el) return null;
    const t0 = performance.now();
    const p = this.perf[slot.key] || (this.perf[slot.key] = { n: 0, ms: 0 });
    return drawChart(slot.el, built[0], built[1]).then(() => {
      p.n += 1;
      p.ms += performance.now() - t0;
      const need = fixed ? legendRoom(slot.el) : 0;
      if (Math.abs(need - room) > 2 && !slot.refitting) {
        slot.legendRoom = need;
        slot.refitting = true;
        return Promise.resolve(this.drawSlot(slot)).finally(() => { slot.refitting = false; });
      }
      return undefined;
    });
  }

  // Draws the charts whose inputs changed: visible ones soon, the others later (hidden
  // ticker). Charts never drawn yet are drawn wherever they are.
  // everywhere = true (language, font size, log scale switched): every chart.
  // Each chart is drawn in its own task (queue drained one chart per message-channel tick):
  // one redraw of all charts in a single task was a 100-180 ms long task that held up input
  // events (and so the `set` of a live change) and the WebSocket's frames.
  // urgent (a new change marker): the first of `keys` in view (the loss chart) is drawn at
  // once, in this task, and every other redraw waits until the next frame has been produced
  // with it (hold "frame"); the other urgent charts then go first.
  update(keys, sig, everywhere = false, urgent = false) {
    let first = null;
    const rest = [];
    for (const key of keys) {
      const slot = this.slots.get(key);
      slot.want = sig;
      if (slot.want === slot.sig) continue;
      if (everywhere || slot.visible || slot.sig === null) {
        if (urgent && !first && slot.visible) first = slot;
        else if (urgent) rest.push(slot);
        else this.queue.add(slot);
      }
    }
    if (rest.length) this.queue = new Set([...rest, ...[...this.queue].filter((q) => !rest.includes(q))]);
    if (first) {
      this.queue.delete(first);
      this.drawFirst(first);
    } else {
      this.drain(urgent || everywhere);
    }
    this.armHidden();
  }

  // Draws `slot` now and holds the queue until the frame that shows it has been produced
  // (requestAnimationFrame, then a task: the frame is not delayed by the next chart's redraw).
  drawFirst(slot) {
    this.hold("frame", 300); // fallback: no frames in a background tab
    this._ctx = null;
    const lines = this.drawMarkerLines(slot);
    // after the lines alone, the chart's full redraw (labels, new data) goes first once the
    // frame showing them is out
    if (lines) this.queue = new Set([slot, ...this.queue]);
    const done = lines || this.drawSlot(slot);
    this._ctx = null;
    Promise.resolve(done).catch(() => {}).finally(() => {
      requestAnimationFrame(() => setTimeout(() => this.release("frame"), 0));
    });
  }

  // A new change marker on the loss chart, already drawn: its dotted lines alone, with
  // Plotly.relayout of `shapes` (~4 ms here, vs ~13-30 ms for the chart's full redraw). The
  // labels are what a redraw pays for (a relayout of the annotations was slower than a whole
  // Plotly.react), so they come with the full redraw that follows the frame. Null when the
  // chart needs more than its marker lines.
  drawMarkerLines(slot) {
    const el = slot.el;
    if (slot.key !== "loss" || slot.draw || !el || !el._fullLayout || !el.layout) return null;
    if (((el.layout.shapes || []).length) >= this.markers.length) return null;
    // the loss chart's shapes are exactly the marker lines (buildLoss: base, no extra shapes)
    return window.Plotly.relayout(el, { shapes: this.markerLayout(null).shapes });
  }

  // Duty cycle: after a batch of redraws that took T ms the charts rest REST_FACTOR·T ms (at
  // most MAX_REST_MS), so drawing takes at most 1 / (1 + REST_FACTOR) of the main thread while
  // a batch takes <= 100 ms (frames, input and the WebSocket get the rest). An urgent update (a change marker, a
  // switched language or font) skips the rest once.
  drain(urgent = false) {
    if (this.draining || !this.queue.size) return;
    if (this.holds.size) return; // release() drains
    const wait = urgent ? 0 : this.restUntil - performance.now();
    if (wait > 0) {
      if (!this.restTimer) {
        this.restTimer = setTimeout(() => { this.restTimer = null; this.drain(); }, wait);
      }
      return;
    }
    this.draining = true;
    this.channel.port2.postMessage(0);
  }

  // Queued redraws (and the views added with addView) wait while a hold is on; the one in
  // progress finishes. "reply": a live change was just sent, until the server's `config`
  // reply is handled (release("reply")) or `ms` pass (a loaded machine can take a second),
  // so that reply and its marker's redraw do not wait behind other charts' redraws.
  // "frame": see drawFirst.
  get held() {
    return this.holds.size > 0;
  }

  hold(reason = "reply", ms = 1000) {
    clearTimeout(this.holds.get(reason));
    this.holds.set(reason, setTimeout(() => this.release(reason), ms));
  }

  release(reason = "reply") {
    if (!this.holds.has(reason)) return;
    clearTimeout(this.holds.get(reason));
    this.holds.delete(reason);
    if (!this.holds.size) this.drain(true);
  }

  drawNext() {
    if (this.held) { this.draining = false; return; }
    const [slot] = this.queue;
    if (!slot) { this.draining = false; return; }
    this.queue.delete(slot);
    this._ctx = null;
    const t0 = performance.now();
    const done = slot.want !== slot.sig ? this.drawSlot(slot) : null;
    this._ctx = null;
    Promise.resolve(done).catch(() => {}).finally(() => {
      this.batchMs += performance.now() - t0;
      if (this.queue.size) {
        this.channel.port2.postMessage(0);
      } else {
        this.draining = false;
        this.restUntil = performance.now() + Math.min(MAX_REST_MS, REST_FACTOR * this.batchMs);
        this.batchMs = 0;
      }
    });
  }

  armHidden() {
    if (this.hiddenTimer) return;
    const stale = [...this.slots.values()].some((s) => s.want !== s.sig);
    if (!stale) return;
    this.hiddenTimer = setTimeout(() => {
      this.hiddenTimer = null;
      if (this.held) { this.armHidden(); return; }
      const now = performance.now();
      let pick = null;
      for (const s of this.slots.values()) {
        if (s.want === s.sig || now - s.drawnAt < HIDDEN_REFRESH_MS) continue;
        if (!pick || s.drawnAt < pick.drawnAt) pick = s;
      }
      if (pick) {
        this._ctx = null;
        this.drawSlot(pick);
        this._ctx = null;
      }
      this.armHidden();
    }, HIDDEN_TICK_MS);
  }

  renderSeries(force = false, urgent = false) {
    if (force) this.forceRev += 1;
    this.update(SERIES, `${this.seriesSig()}|${this.forceRev}`, force, urgent);
  }

  renderAll() {
    this.renderSeries(true);
    this.renderSnapshot(true);
  }

  // Snapshot charts (weight histograms, prediction view): new content on every snapshot.
  renderSnapshot(everywhere = false) {
    this.snapshotRev += 1;
    this.update(SNAPSHOT, `${this.snapshotRev}|${this.uirev}|${this.pinsRev}`, everywhere);
  }

  renderBoundary() {
    this.renderSnapshot();
  }

  buildHist() {
    const snap = this.snapshot;
    if (!snap) return null;
    // weight histograms: short layer names in a legend under the plot (or the depth colour
    // bar beyond 9 layers); the exact-zero count is in the hover text
    const n = snap.layers.length;
    const many = n > MAX_LEGEND_LAYERS;
    const large = isLargeFont();
    const traces = snap.layers.map((layer, k) => {
      const h = layer.weights;
      const centers = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
      return {
        type: "scatter", mode: "lines", line: { shape: "hvh", color: layerColor(k, n), width: 2 },
        x: centers, y: h.counts, name: layerShort(layer.name),
        hovertemplate: `${layerLabel(layer.name)}<br>w ≈ %{x:.3g}<br>n = %{y}<br>${pt("pg.hist_zeros", { z: h.exact_zeros, n: h.count })}<extra></extra>`,
      };
    });
    // pinned runs: each layer's histogram at the pinned step, faint, one legend entry per pin
    const pinned = [];
    for (const pin of this.pins) {
      (pin.hist || []).forEach((layer, k) => {
        const h = layer.weights;
        if (!h || !h.counts) return;
        pin.cache = pin.cache || {};
        const key = `hist|${k}`;
        if (!pin.cache[key]) pin.cache[key] = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
        pinned.push({
          type: "scatter", mode: "lines", line: { shape: "hvh", color: pinColor(pin.n), width: 1.5 }, opacity: 0.5,
          x: pin.cache[key], y: h.counts, name: pin.label, legendgroup: `pin${pin.n}`, showlegend: k === 0,
          hovertemplate: `${pin.label} · ${layerLabel(layer.name)}<br>w ≈ %{x:.3g}<br>n = %{y}<extra></extra>`,
        });
      });
    }
    traces.unshift(...pinned);
    if (many) traces.push(depthBar(n, large));
    return [traces, {
      title: { text: `${pt("pg.chart.weights_hist")} · ${pt("pg.step_counter", { n: snap.step })}` },
      xaxis: { title: { text: pt("pg.axis.weight") } },
      yaxis: { title: { text: pt("pg.axis.count") } },
      margin: large ? { l: 92, r: many ? 70 : 20, t: 50, b: many ? 66 : 104 } : { l: 64, r: many ? 60 : 16, t: 40, b: many ? 50 : 78 },
      showlegend: !many,
      legend: { orientation: "h", yref: "container", y: 0.005, yanchor: "bottom", x: 0, xanchor: "left", title: { text: `${pt("pg.legend.layer")}:` } },
      hovermode: "closest",
    }];
  }

  buildBoundary() {
    const snap = this.snapshot;
    const data = this.data;
    if (!snap || !data) return null;
    const title = { text: `${pt("pg.chart.boundary")} · ${pt("pg.step_counter", { n: snap.step })}` };
    const flat = (ys) => ys.map((v) => (Array.isArray(v) ? v[0] : v));
    const large = isLargeFont();
    const layout = { title, margin: large ? { l: 70, r: 20, t: 50, b: 100 } : { l: 56, r: 16, t: 40, b: 76 }, hovermode: "closest",
      legend: { orientation: "h", yref: "container", y: 0.005, yanchor: "bottom", x: 0, xanchor: "left" } };
    // axis names: the table's columns (escaped for Plotly), else x₁, x₂
    const [nx, ny] = [0, 1].map((i) => plotlyText(featureName(data, i)));
    const [tx, ty] = [0, 1].map((i) => plotlyText(shortName(featureName(data, i), 20)));
    const table = data.table || null;
    if (snap.surface) {
      const s = snap.surface;
      const traces = [];
      const classes = data.task === "multiclass";
      if (data.task === "binary") {
        traces.push({ type: "heatmap", x: s.x, y: s.y, z: s.prob, zmin: 0, zmax: 1, colorscale: "RdBu", reversescale: false,
          opacity: 0.75, colorbar: { title: { text: "P(1)" }, thickness: 14 },
          hovertemplate: `${nx} %{x:.2f}, ${ny} %{y:.2f}<br>P(1) = %{z:.3f}<extra></extra>` });
      } else if (classes) {
        const k = Math.max(2, (s.probs || []).length);
        const scale = [];
        for (let i = 0; i < k; i += 1) {
          scale.push([i / k, color(i)], [(i + 1) / k, color(i)]);
        }
        traces.push({ type: "heatmap", x: s.x, y: s.y, z: s.argmax, zmin: -0.5, zmax: k - 0.5, colorscale: scale,
          opacity: 0.45, showscale: false, hovertemplate: `${nx} %{x:.2f}, ${ny} %{y:.2f}<br>class %{z}<extra></extra>` });
      } else {
        traces.push({ type: "heatmap", x: s.x, y: s.y, z: s.value, colorscale: "Viridis", opacity: 0.8,
          colorbar: { thickness: 14 }, hovertemplate: `${nx} %{x:.2f}, ${ny} %{y:.2f}<br>ŷ = %{z:.3g}<extra></extra>` });
      }
      // Legend: classes by colour (squares), train vs validation by marker (grey circle / ×);
      // the point traces themselves carry no legend entry (their colours vary per point).
      const classColor = (c) => (data.task === "binary" ? (c > 0.5 ? "#d8573b" : "#3b6fd8") : color(c));
      for (const [part, symbol, name] of [["train", "circle", pt("pg.trace.train")], ["val", "x", pt("pg.trace.val")]]) {
        const pts = data[part];
        if (!pts || !pts.x.length) continue;
        const y = flat(pts.y);
        const markerColor = data.task === "regression" ? y : y.map(classColor);
        // a table's points: its column names and its own class labels (class id k is
        // table.classes[k], as the server says)
        const labels = table && Array.isArray(table.classes) ? y.map((k) => table.classes[k]) : y;
        const hover = table
          ? `${name}: ${nx} = %{x:.2f}, ${ny} = %{y:.2f}, ${plotlyText(table.target)} = %{customdata}<extra></extra>`
          : `${name}: (%{x:.2f}, %{y:.2f}) y = %{customdata}<extra></extra>`;
        traces.push({
          type: "scatter", mode: "markers", name, x: pts.x.map((p) => p[0]), y: pts.x.map((p) => p[1]), showlegend: false,
          marker: { symbol, size: part === "train" ? 7 : 8, color: markerColor, colorscale: data.task === "regression" ? "Viridis" : undefined,
            line: { color: part === "train" ? "#fff" : undefined, width: part === "train" ? 1 : 0 } },
          customdata: labels, hovertemplate: hover,
        });
        traces.push({ type: "scatter", mode: "markers", name, x: [null], y: [null], hoverinfo: "skip",
          marker: { symbol, size: 9, color: "#59627a", line: { color: "#fff", width: part === "train" ? 1 : 0 } } });
      }
      if (data.task !== "regression") {
        const k = data.task === "binary" ? 2 : Math.max(2, (s.probs || []).length);
        for (let c = 0; c < k; c += 1) {
          const named = table && Array.isArray(table.classes) && c < table.classes.length
            ? `${plotlyText(shortName(table.target, 16))} = ${plotlyText(table.classes[c])}` : pt("pg.legend.class", { k: c });
          traces.push({ type: "scatter", mode: "markers", name: named, x: [null], y: [null],
            hoverinfo: "skip", marker: { symbol: "square", size: 11, color: classColor(c) } });
        }
      }
      return [traces, { ...layout, xaxis: { title: { text: tx }, constrain: "domain", range: [s.x[0], s.x[s.x.length - 1]] },
        yaxis: { title: { text: ty }, scaleanchor: "x", constrain: "domain", range: [s.y[0], s.y[s.y.length - 1]] } }];
    } else if (snap.curve) {
      const traces = [];
      for (const [part, name, i] of [["train", pt("pg.trace.train"), 0], ["val", pt("pg.trace.val"), 1]]) {
        const pts = data[part];
        if (!pts || !pts.x.length) continue;
        traces.push({ type: "scatter", mode: "markers", name, x: pts.x.map((p) => p[0]), y: flat(pts.y),
          marker: { color: color(i), size: 6, opacity: 0.7 },
          hovertemplate: table ? `${nx} = %{x:.3f}, ${plotlyText(table.target)} = %{y:.3f}<extra></extra>` : "(%{x:.3f}, %{y:.3f})<extra></extra>" });
      }
      traces.push({ type: "scatter", mode: "lines", name: "ŷ(x)", x: snap.curve.x, y: snap.curve.y,
        line: { color: "#1d2230", width: 3 }, hovertemplate: "ŷ(%{x:.3f}) = %{y:.3f}<extra></extra>" });
      // a table's fitted curve: its feature column against its target column
      return [traces, { ...layout, xaxis: { title: { text: table ? tx : "x" } },
        yaxis: { title: { text: table ? plotlyText(shortName(table.target, 20)) : "y" } } }];
    } else if (snap.coefficients) {
      const c = snap.coefficients;
      const idx = c.learned.map((_, i) => `x${i + 1}`);
      return [[
        { type: "bar", name: pt("pg.trace.true"), x: idx, y: c.true, marker: { color: "#b8c0d0" }, hovertemplate: "%{y:.6g}" },
        { type: "bar", name: pt("pg.trace.learned"), x: idx, y: c.learned, marker: { color: color(0) }, hovertemplate: "%{y:.6g}" },
      ], { ...layout, barmode: "group", xaxis: { title: { text: pt("pg.axis.feature") } },
        yaxis: { title: { text: pt("pg.axis.coef") } } }];
    } else {
      return [[], { ...layout, annotations: [{ text: "—", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] }];
    }
  }
}

// ------------------------------------------------------------------------------------------
// network diagram (SVG)

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export const DIAGRAM_MAX_LAYERS = 6;
export const DIAGRAM_MAX_UNITS = 16;

// One unit's map (r, r) rows by y (z[i][j] at (x[j], y[i])) as a PNG data URL, y up; colour
// orange (< 0) → white (0) → blue (> 0), scaled by `scale` (the layer's max |a|).
const mapCanvas = typeof document !== "undefined" ? document.createElement("canvas") : null;

function mapImage(grid, scale) {
  const r = grid.length;
  mapCanvas.width = r;
  mapCanvas.height = r;
  const ctx = mapCanvas.getContext("2d");
  const img = ctx.createImageData(r, r);
  for (let i = 0; i < r; i += 1) {
    for (let j = 0; j < r; j += 1) {
      const v = grid[i][j];
      const p = 4 * ((r - 1 - i) * r + j); // row i is y[i]: flip so y grows upwards
      const t = Number.isFinite(v) ? Math.max(-1, Math.min(1, v / scale)) : 0;
      const [c0, c1, c2] = t >= 0 ? [47, 98, 201] : [232, 125, 30];
      const a = Math.abs(t);
      img.data[p] = Math.round(255 + (c0 - 255) * a);
      img.data[p + 1] = Math.round(255 + (c1 - 255) * a);
      img.data[p + 2] = Math.round(255 + (c2 - 255) * a);
      img.data[p + 3] = Number.isFinite(v) ? 255 : 60;
    }
  }
  ctx.putImageData(img, 0, 0);
  return mapCanvas.toDataURL();
}

function maxAbsOf(units) {
  let m = 0;
  for (const grid of units) for (const row of grid) for (const v of row) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}

// layers: [{W: (in, out) nested list}], mode "weights" or "grads" (values = -ΔW/lr).
// onLink(k, i, j), if given, makes every link clickable (a wide transparent line over it,
// data-testid="net-link", data-k/-i/-j): the playground edits that weight.
// maps (the snapshot's `neuron_maps`, 2-D data): every hidden unit is drawn as its activation
// over the input plane (data-testid="neuron-map"; the element's `gpValues` is the grid it
// shows, straight from the engine); hovering a unit enlarges it and lists its incoming weights.
// inputs (optional): the table's feature names (tableColumns), named on the input units, the
// first layer's links and incoming weights, and the maps' axes; built-in data passes null.
export function drawNetwork(host, layers, values, labels, onLink = null, maps = null, inputs = null) {
  // the unit whose enlargement is shown (hovered or focused): the diagram is redrawn with every
  // snapshot (twice a second while playing), and the new drawing shows it again, with that
  // unit's new numbers, instead of dropping it (read before the old nodes go: their blur)
  const kept = host.gpZoomed || null;
  host.gpZoomed = null;
  host.replaceChildren();
  if (!layers || !layers.length) return;
  const sizes = [layers[0].W.length, ...layers.map((l) => l.W[0].length)];
  const width = 560;
  const height = 260;
  const pad = 26;
  const colX = (i) => pad + (i * (width - 2 * pad)) / (sizes.length - 1);
  const rowY = (n, j) => (n === 1 ? height / 2 : pad + (j * (height - 2 * pad)) / (n - 1));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "pg-net-svg" });
  let maxAbs = 0;
  for (const M of values) for (const row of M) for (const v of row) if (Number.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
  maxAbs = maxAbs || 1;
  values.forEach((M, k) => {
    M.forEach((row, i) => row.forEach((v, j) => {
      if (!Number.isFinite(v)) return;
      const w = Math.abs(v) / maxAbs;
      const line = svg("line", {
        x1: colX(k), y1: rowY(sizes[k], i), x2: colX(k + 1), y2: rowY(sizes[k + 1], j),
        stroke: v >= 0 ? "#2f62c9" : "#d0452b", "stroke-width": (0.3 + 5 * w).toFixed(2),
        "stroke-opacity": (0.25 + 0.7 * w).toFixed(2),
      });
      const title = svg("title");
      const from = k === 0 && inputs && inputs[i] !== undefined ? `${i + 1} (${inputs[i]})` : `${i + 1}`;
      title.textContent = `${labels[k]}: in ${from} → out ${j + 1}: ${v.toPrecision(4)}`;
      line.append(title);
      root.append(line);
      if (onLink) {
        const hit = svg("line", {
          x1: colX(k), y1: rowY(sizes[k], i), x2: colX(k + 1), y2: rowY(sizes[k + 1], j),
          stroke: "transparent", "stroke-width": 7, class: "pg-net-hit", "data-testid": "net-link",
          "data-k": k, "data-i": i, "data-j": j,
        });
        hit.append(title.cloneNode(true));
        hit.addEventListener("click", () => onLink(k, i, j));
        root.append(hit);
      }
    }));
  });
  const mapLayers = maps && Array.isArray(maps.layers) && maps.layers.length === sizes.length - 2
    ? maps.layers : null;
  const zoom = svg("g", { class: "pg-neuron-zoom", "data-testid": "neuron-zoom", visibility: "hidden" });
  let restore = null;
  sizes.forEach((n, k) => {
    const units = mapLayers && k >= 1 && k < sizes.length - 1 ? mapLayers[k - 1] : null;
    if (units && units.length === n) {
      const scale = maxAbsOf(units);
      const gap = n === 1 ? height : (height - 2 * pad) / (n - 1);
      const side = Math.max(8, Math.min(24, gap - 2)); // 24: the bottom unit clears the column label
      for (let j = 0; j < n; j += 1) {
        const cx = colX(k);
        const cy = rowY(n, j);
        const href = mapImage(units[j], scale);
        const node = svg("image", {
          x: cx - side / 2, y: cy - side / 2, width: side, height: side, href,
          preserveAspectRatio: "none", class: "pg-neuron-map", "data-testid": "neuron-map",
          "data-layer": k - 1, "data-unit": j, tabindex: 0,
        });
        node.gpValues = units[j];
        const incoming = layers[k - 1].W.map((row) => row[j]);
        const named = k === 1 && inputs; // the first layer's weights come from the table's columns
        const lines = [pt("pg.net_unit", { layer: labels[k - 1], n: j + 1 }),
          ...incoming.map((w, i) => `w${i + 1}${named && inputs[i] !== undefined ? ` (${shortName(inputs[i], 14)})` : ""} = ${Number.isFinite(w) ? w.toPrecision(3) : String(w)}`),
          `b = ${Number(layers[k - 1].b ? layers[k - 1].b[j] : NaN).toPrecision(3)}`];
        if (inputs && inputs.length === 2) {
          lines.push(pt("pg.net_map_axes", { x: shortName(inputs[0], 14), y: shortName(inputs[1], 14) }));
        }
        const title = svg("title");
        title.textContent = lines.join("\n");
        node.append(title);
        const show = (focused = false) => {
          host.gpZoomed = { layer: k - 1, unit: j, focused };
          showZoom(zoom, { cx, cy, href, lines, width, height });
        };
        const hide = () => {
          host.gpZoomed = null;
          zoom.setAttribute("visibility", "hidden");
        };
        node.addEventListener("mouseenter", () => show(false));
        node.addEventListener("focus", () => show(true));
        node.addEventListener("mouseleave", hide);
        node.addEventListener("blur", hide);
        if (kept && kept.layer === k - 1 && kept.unit === j) {
          restore = () => {
            if (kept.focused) node.focus({ preventScroll: true }); // keyboard focus stays too
            show(kept.focused);
          };
        }
        root.append(svg("rect", { x: cx - side / 2 - 1, y: cy - side / 2 - 1, width: side + 2, height: side + 2, fill: "none", stroke: "#1d2230", "stroke-width": 1 }));
        root.append(node);
      }
    } else {
      for (let j = 0; j < n; j += 1) {
        const unit = svg("circle", { cx: colX(k), cy: rowY(n, j), r: 7, fill: "#fff", stroke: "#1d2230", "stroke-width": 1.5 });
        if (k === 0 && inputs && inputs[j] !== undefined) { // an input: the table's column
          unit.setAttribute("data-testid", "net-input");
          const title = svg("title");
          title.textContent = pt("pg.net_input", { n: j + 1, name: inputs[j] });
          unit.append(title);
        }
        root.append(unit);
      }
    }
    const text = svg("text", { x: colX(k), y: height - 4, "text-anchor": "middle", class: "pg-net-label" });
    text.textContent = k === 0 ? "x" : labels[k - 1];
    root.append(text);
  });
  root.append(zoom);
  // a pointer that left its unit while the diagram was redrawn: the next move elsewhere hides
  root.addEventListener("mousemove", (event) => {
    const zoomed = host.gpZoomed;
    if (zoomed && !zoomed.focused && !(event.target.dataset && event.target.dataset.testid === "neuron-map")) {
      host.gpZoomed = null;
      zoom.setAttribute("visibility", "hidden");
    }
  });
  host.append(root);
  if (restore) restore(); // laid out now: the zoom measures its lines
}

// The enlarged unit (96 px map) and its incoming weights, kept inside the diagram. The box
// is as wide as its longest line as drawn (measured: a table's column names make lines of
// any script and width).
function showZoom(zoom, { cx, cy, href, lines, width, height }) {
  const big = 96;
  const lineH = 13;
  const texts = lines.map((line) => {
    const text = svg("text", { class: "pg-net-label pg-neuron-zoom-text" });
    text.textContent = line;
    return text;
  });
  zoom.replaceChildren(...texts); // laid out (hidden) so they can be measured
  const measured = Math.max(0, ...texts.map((t) => (t.getComputedTextLength ? t.getComputedTextLength() : 0)));
  const longest = measured > 0 ? measured : Math.max(...lines.map((l) => textWidth(l, 6.5)));
  const boxW = big + 16 + Math.max(60, longest);
  const boxH = Math.max(big, lines.length * lineH) + 8;
  // beside the unit (right, else left), else as far left as the box still fits
  const x = cx + boxW + 20 < width ? cx + 20 : cx - boxW - 20 >= 2 ? cx - boxW - 20 : Math.max(2, width - boxW - 2);
  const y = Math.max(2, Math.min(height - boxH - 2, cy - boxH / 2));
  texts.forEach((text, i) => {
    text.setAttribute("x", x + big + 10);
    text.setAttribute("y", y + 4 + (i + 1) * lineH - 2);
  });
  zoom.replaceChildren(
    svg("rect", { x, y, width: boxW, height: boxH, rx: 4, fill: "#fff", stroke: "#1d2230", "stroke-width": 1 }),
    svg("image", { x: x + 4, y: y + 4, width: big, height: big, href, preserveAspectRatio: "none" }),
    ...texts,
  );
  zoom.parentNode.append(zoom); // on top
  zoom.setAttribute("visibility", "visible");
}

export function emptyNote(host, key, vars) {
  host.replaceChildren(vars
    ? el("p", { className: "muted" }, pt(key, vars))
    : el("p", { className: "muted", "data-pg-i18n": key }, pt(key)));
}
