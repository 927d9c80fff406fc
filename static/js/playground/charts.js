// Live charts of the playground (Plotly through common.js's drawChart, which applies the
// shared fonts and re-renders on the large-font toggle).
//
// Records are kept in a bounded store: past MAX_POINTS rows every other row is dropped and from
// then on only every stride-th step is kept (like the server's history), so memory stays flat;
// the newest record is always drawn.

import { color, drawChart, el } from "../common.js";
import { pt } from "./messages.js";

export const MAX_POINTS = 5000;
export const DRAW_POINTS = 1000;
const HEATMAP_COLUMNS = 400;

export class RecordStore {
  constructor(cap = MAX_POINTS) {
    this.cap = cap;
    this.clear();
  }

  clear() {
    this.rows = [];
    this.stride = 1;
    this.last = null;
  }

  push(record) {
    this.last = record;
    if (record.step % this.stride) return;
    this.rows.push(record);
    if (this.rows.length > this.cap) {
      this.stride *= 2;
      this.rows = this.rows.filter((r) => r.step % this.stride === 0);
    }
  }

  // Rows to draw: at most DRAW_POINTS evenly spaced stored rows (a chart cannot show more on
  // screen, and redrawing 5,000-point traces many times a second is what makes charts lag),
  // plus the newest record when decimation skipped it.
  view() {
    let rows = this.rows;
    if (rows.length > DRAW_POINTS) {
      const every = Math.ceil(rows.length / DRAW_POINTS);
      rows = rows.filter((_, i) => i % every === 0 || i === this.rows.length - 1);
    }
    if (this.last && (!rows.length || rows[rows.length - 1] !== this.last)) return [...rows, this.last];
    return rows;
  }
}

function col(rows, field) {
  return rows.map((r) => r[field]);
}

function positive(v) {
  return v === null || v === undefined || !(v > 0) ? null : v;
}

const FMT = "%{y:.4g}";

export class Charts {
  constructor(elements) {
    this.el = elements; // {loss, accuracy, lr, gradNorm, heatmap, updateRatio, hist, zeros, boundary}
    this.store = new RecordStore();
    this.layers = [];
    this.markers = []; // {step, text}
    this.planned = null; // {x, y}
    this.lossLog = true;
    this.task = null;
    this.regularized = false;
    this.data = null; // GET /data
    this.snapshot = null;
    this.uirev = 0;
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

  // vertical lines + labels for every live change
  markerLayout() {
    const shapes = this.markers.map((m) => ({
      type: "line", xref: "x", yref: "paper", x0: m.step, x1: m.step, y0: 0, y1: 1,
      line: { color: "#7a4fd0", width: 1.5, dash: "dot" },
    }));
    const annotations = this.markers.map((m, i) => ({
      x: m.step, xref: "x", yref: "paper", y: 1 - (i % 3) * 0.1, yanchor: "top", xanchor: "left",
      text: m.text, showarrow: false, bgcolor: "rgba(255,255,255,0.85)",
      bordercolor: "#7a4fd0", borderwidth: 1, font: { color: "#5b2fb0" },
    }));
    return { shapes, annotations };
  }

  base(titleKey, extra = {}) {
    return {
      title: { text: pt(titleKey) },
      uirevision: this.uirev,
      xaxis: { hoverformat: "d", ...(extra.xaxis || {}) },
      yaxis: { ...(extra.yaxis || {}) },
      margin: { l: 64, r: 16, t: 40, b: 30 },
      legend: { orientation: "h", y: -0.1, yanchor: "top", x: 0, xanchor: "left" },
      hovermode: "x unified",
      ...this.markerLayout(),
      ...(extra.layout || {}),
    };
  }

  renderSeries() {
    const rows = this.store.view();
    const x = col(rows, "step");
    const line = (y, name, i, more = {}) => ({
      type: "scatter", mode: "lines", x, y, name, line: { color: color(i), width: 2 },
      hovertemplate: FMT, connectgaps: true, ...more,
    });
    const valRows = rows.filter((r) => r.val_loss !== null && r.val_loss !== undefined);

    // loss
    const lossTraces = [line(col(rows, "loss").map(this.lossLog ? positive : (v) => v), pt("pg.trace.train"), 0)];
    if (valRows.length) {
      lossTraces.push({
        type: "scatter", mode: "lines", x: col(valRows, "step"),
        y: col(valRows, "val_loss").map(this.lossLog ? positive : (v) => v), name: pt("pg.trace.val"),
        line: { color: color(1), width: 2 }, hovertemplate: FMT,
      });
    }
    if (this.regularized || rows.some((r) => r.reg_loss > 0)) {
      lossTraces.push(line(col(rows, "data_loss").map(this.lossLog ? positive : (v) => v), pt("pg.trace.data_loss"), 2, { line: { color: color(2), width: 1.5, dash: "dash" } }));
      lossTraces.push(line(col(rows, "reg_loss").map(this.lossLog ? positive : (v) => v), pt("pg.trace.penalty"), 3, { line: { color: color(3), width: 1.5, dash: "dot" } }));
    }
    drawChart(this.el.loss, lossTraces, this.base("pg.chart.loss", { yaxis: { type: this.lossLog ? "log" : "linear" } }));

    // accuracy
    if (this.task === "regression") {
      drawChart(this.el.accuracy, [], this.base("pg.chart.accuracy", {
        layout: { annotations: [{ text: pt("pg.no_accuracy"), xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false }] },
        yaxis: { range: [0, 1] },
      }));
    } else {
      const accTraces = [line(col(rows, "train_acc"), pt("pg.trace.train"), 0)];
      const valAcc = rows.filter((r) => r.val_acc !== null && r.val_acc !== undefined);
      if (valAcc.length) {
        accTraces.push({ type: "scatter", mode: "lines", x: col(valAcc, "step"), y: col(valAcc, "val_acc"),
          name: pt("pg.trace.val"), line: { color: color(1), width: 2 }, hovertemplate: FMT });
      }
      drawChart(this.el.accuracy, accTraces, this.base("pg.chart.accuracy", { yaxis: { range: [0, 1.02] } }));
    }

    // learning rate: planned (dashed) and actual (solid)
    const lrTraces = [];
    if (this.planned) {
      lrTraces.push({ type: "scatter", mode: "lines", x: this.planned.x, y: this.planned.y, name: pt("pg.trace.planned"),
        line: { color: "#8a93a6", width: 2, dash: "dash" }, hovertemplate: "%{y:.5g}" });
    }
    lrTraces.push(line(col(rows, "lr"), pt("pg.trace.actual"), 0, { hovertemplate: "%{y:.5g}", line: { color: color(0), width: 2.5 } }));
    const lastStep = rows.length ? rows[rows.length - 1].step : 0;
    let top = 0;
    for (const t of lrTraces) for (const v of t.y) if (v > top && Number.isFinite(v)) top = v;
    drawChart(this.el.lr, lrTraces, this.base("pg.chart.lr", {
      xaxis: { range: [0, Math.max(50, lastStep * 1.1 + 10)] },
      yaxis: { range: [0, (top || 1) * 1.12], exponentformat: "e" },
    }));

    // per-layer charts
    const perLayer = (field, titleKey, element, log = true) => {
      const traces = this.layers.map((name, k) => ({
        type: "scatter", mode: "lines", x, y: rows.map((r) => (r[field] ? (log ? positive(r[field][k]) : r[field][k]) : null)),
        name, line: { color: color(k), width: 1.8 }, hovertemplate: "%{y:.3e}",
      }));
      let lo = Infinity;
      let hi = -Infinity;
      for (const t of traces) for (const v of t.y) if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      const range = Number.isFinite(lo) ? [Math.floor(Math.log10(lo)), Math.max(Math.ceil(Math.log10(hi)), Math.floor(Math.log10(lo)) + 1)] : undefined;
      // One tick per power of ten reads well over a few decades; over many (an exploding
      // run spans 1e0..1e100) let Plotly thin the ticks so labels never pile up.
      const decades = range ? range[1] - range[0] : 0;
      const dtick = decades <= 8 ? 1 : Math.ceil(decades / 8);
      drawChart(element, traces, this.base(titleKey, { yaxis: { type: log ? "log" : "linear", exponentformat: "power", dtick, range } }));
    };
    perLayer("grad_norm", "pg.chart.grad_norm", this.el.gradNorm);
    perLayer("update_ratio", "pg.chart.update_ratio", this.el.updateRatio);

    // heatmap: layer x step of log10 |grad|
    const every = Math.max(1, Math.ceil(rows.length / HEATMAP_COLUMNS));
    const hrows = rows.filter((_, i) => i % every === 0 || i === rows.length - 1);
    const z = this.layers.map((_, k) => hrows.map((r) => {
      const v = r.grad_norm ? r.grad_norm[k] : null;
      return v > 0 ? Math.log10(v) : null;
    }));
    drawChart(this.el.heatmap, [{
      type: "heatmap", x: col(hrows, "step"), y: this.layers, z, colorscale: "Viridis",
      colorbar: { title: { text: "log₁₀" }, thickness: 14 },
      hovertemplate: `${pt("pg.axis.step")} %{x}<br>%{y}<br>log₁₀‖g‖ = %{z:.2f}<extra></extra>`,
    }], {
      ...this.base("pg.chart.grad_heatmap"), hovermode: "closest",
      yaxis: { title: { text: pt("pg.axis.layer") }, type: "category" },
    });

    // zeros
    drawChart(this.el.zeros, [
      line(col(rows, "zero_fraction"), pt("pg.trace.exact_zero"), 0, { hovertemplate: "%{y:.1%}" }),
      line(col(rows, "near_zero_fraction"), pt("pg.trace.near_zero"), 4, { hovertemplate: "%{y:.1%}", line: { color: color(4), width: 1.5, dash: "dash" } }),
    ], this.base("pg.chart.zeros", { yaxis: { range: [0, 1.02], tickformat: ".0%" } }));
  }

  renderSnapshot() {
    const snap = this.snapshot;
    if (!snap) return;
    // weight histograms
    const traces = snap.layers.map((layer, k) => {
      const h = layer.weights;
      const centers = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
      return {
        type: "scatter", mode: "lines", line: { shape: "hvh", color: color(k), width: 2 },
        x: centers, y: h.counts, name: `${layer.name} (0: ${h.exact_zeros}/${h.count})`,
        hovertemplate: `${layer.name}<br>w ≈ %{x:.3g}<br>n = %{y}<extra></extra>`,
      };
    });
    drawChart(this.el.hist, traces, {
      title: { text: `${pt("pg.chart.weights_hist")} · ${pt("pg.step_counter", { n: snap.step })}` },
      xaxis: { title: { text: pt("pg.axis.weight") } },
      yaxis: { title: { text: pt("pg.axis.count") } },
      margin: { l: 64, r: 16, t: 40, b: 30 },
      legend: { orientation: "h", y: 1, yanchor: "top", x: 1, xanchor: "right", bgcolor: "rgba(255,255,255,0.7)" },
      hovermode: "closest",
    });
    this.renderBoundary();
  }

  renderBoundary() {
    const snap = this.snapshot;
    const data = this.data;
    if (!snap || !data) return;
    const title = { text: `${pt("pg.chart.boundary")} · ${pt("pg.step_counter", { n: snap.step })}` };
    const flat = (ys) => ys.map((v) => (Array.isArray(v) ? v[0] : v));
    const layout = { title, margin: { l: 56, r: 16, t: 40, b: 30 }, hovermode: "closest",
      legend: { orientation: "h", y: -0.12, yanchor: "top" } };
    if (snap.surface) {
      const s = snap.surface;
      const traces = [];
      const classes = data.task === "multiclass";
      if (data.task === "binary") {
        traces.push({ type: "heatmap", x: s.x, y: s.y, z: s.prob, zmin: 0, zmax: 1, colorscale: "RdBu", reversescale: false,
          opacity: 0.75, colorbar: { title: { text: "P(1)" }, thickness: 14 },
          hovertemplate: "x₁ %{x:.2f}, x₂ %{y:.2f}<br>P(1) = %{z:.3f}<extra></extra>" });
      } else if (classes) {
        const k = Math.max(2, (s.probs || []).length);
        const scale = [];
        for (let i = 0; i < k; i += 1) {
          scale.push([i / k, color(i)], [(i + 1) / k, color(i)]);
        }
        traces.push({ type: "heatmap", x: s.x, y: s.y, z: s.argmax, zmin: -0.5, zmax: k - 0.5, colorscale: scale,
          opacity: 0.45, showscale: false, hovertemplate: "x₁ %{x:.2f}, x₂ %{y:.2f}<br>class %{z}<extra></extra>" });
      } else {
        traces.push({ type: "heatmap", x: s.x, y: s.y, z: s.value, colorscale: "Viridis", opacity: 0.8,
          colorbar: { thickness: 14 }, hovertemplate: "x₁ %{x:.2f}, x₂ %{y:.2f}<br>ŷ = %{z:.3g}<extra></extra>" });
      }
      for (const [part, symbol, name] of [["train", "circle", pt("pg.trace.train")], ["val", "x", pt("pg.trace.val")]]) {
        const pts = data[part];
        if (!pts || !pts.x.length) continue;
        const y = flat(pts.y);
        const markerColor = data.task === "regression" ? y
          : y.map((c) => (data.task === "binary" ? (c > 0.5 ? "#d8573b" : "#3b6fd8") : color(c)));
        traces.push({
          type: "scatter", mode: "markers", name, x: pts.x.map((p) => p[0]), y: pts.x.map((p) => p[1]),
          marker: { symbol, size: part === "train" ? 7 : 8, color: markerColor, colorscale: data.task === "regression" ? "Viridis" : undefined,
            line: { color: part === "train" ? "#fff" : undefined, width: part === "train" ? 1 : 0 } },
          customdata: y, hovertemplate: `${name}: (%{x:.2f}, %{y:.2f}) y = %{customdata}<extra></extra>`,
        });
      }
      drawChart(this.el.boundary, traces, { ...layout, xaxis: { title: { text: "x₁" }, constrain: "domain", range: [s.x[0], s.x[s.x.length - 1]] },
        yaxis: { title: { text: "x₂" }, scaleanchor: "x", constrain: "domain", range: [s.y[0], s.y[s.y.length - 1]] } });
    } else if (snap.curve) {
      const traces = [];
      for (const [part, name, i] of [["train", pt("pg.trace.train"), 0], ["val", pt("pg.trace.val"), 1]]) {
        const pts = data[part];
        if (!pts || !pts.x.length) continue;
        traces.push({ type: "scatter", mode: "markers", name, x: pts.x.map((p) => p[0]), y: flat(pts.y),
          marker: { color: color(i), size: 6, opacity: 0.7 }, hovertemplate: "(%{x:.3f}, %{y:.3f})<extra></extra>" });
      }
      traces.push({ type: "scatter", mode: "lines", name: "ŷ(x)", x: snap.curve.x, y: snap.curve.y,
        line: { color: "#1d2230", width: 3 }, hovertemplate: "ŷ(%{x:.3f}) = %{y:.3f}<extra></extra>" });
      drawChart(this.el.boundary, traces, { ...layout, xaxis: { title: { text: "x" } }, yaxis: { title: { text: "y" } } });
    } else if (snap.coefficients) {
      const c = snap.coefficients;
      const idx = c.learned.map((_, i) => `x${i + 1}`);
      drawChart(this.el.boundary, [
        { type: "bar", name: pt("pg.trace.true"), x: idx, y: c.true, marker: { color: "#b8c0d0" }, hovertemplate: "%{y:.4g}" },
        { type: "bar", name: pt("pg.trace.learned"), x: idx, y: c.learned, marker: { color: color(0) }, hovertemplate: "%{y:.4g}" },
      ], { ...layout, barmode: "group", xaxis: { title: { text: pt("pg.axis.feature") } },
        yaxis: { title: { text: pt("pg.axis.coef") } } });
    } else {
      drawChart(this.el.boundary, [], { ...layout, annotations: [{ text: "—", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] });
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

// layers: [{W: (in, out) nested list}], mode "weights" or "grads" (values = -ΔW/lr)
export function drawNetwork(host, layers, values, labels) {
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
      title.textContent = `${labels[k]}: in ${i + 1} → out ${j + 1}: ${v.toPrecision(4)}`;
      line.append(title);
      root.append(line);
    }));
  });
  sizes.forEach((n, k) => {
    for (let j = 0; j < n; j += 1) {
      root.append(svg("circle", { cx: colX(k), cy: rowY(n, j), r: 7, fill: "#fff", stroke: "#1d2230", "stroke-width": 1.5 }));
    }
    const text = svg("text", { x: colX(k), y: height - 4, "text-anchor": "middle", class: "pg-net-label" });
    text.textContent = k === 0 ? "x" : labels[k - 1];
    root.append(text);
  });
  host.append(root);
}

export function emptyNote(host, key) {
  host.replaceChildren(el("p", { className: "muted", "data-pg-i18n": key }, pt(key)));
}
