// /labs/backprop: one training step of a small network by hand. The presets (the notes' 2-2-1
// example, a 2-3-3 softmax + cross-entropy net) and the input limits come from the engine
// (data-presets / data-limits of the page root); activations and losses from GET /api/catalog.
// Every number shown comes from the engine: POST /api/labs/backprop with "walk": true returns
// each step as its formula, the formula with the numbers substituted and the value (as text),
// plus a finite-difference check beside every gradient; "train_steps": N the same network
// trained N updates; GET /api/labs/backprop/notes the notes' printed values vs the exact ones.
// This module only lays them out (and draws the graph).
//
// URL state: ?preset=notes_221&x=1,2&y=0.5&W1=0.5,0.6;0.7,0.8&b1=0.1,0.2&W2=0.9;0.1&b2=0.3
//   &act=sigmoid&ap.<param>=…&out=&loss=half_mse&lr=0.1&step=7&n=100
//   (W<l>: rows of layer l's W (in, out) separated by ";"; out: output activation, empty = same
//   as act; ap.<param>: the hidden activation's parameters that differ from the default; step: how many steps of the walk are shown; n: "Run N steps")

import {
  buildParamControls,
  color,
  drawChart,
  el,
  fillSelect,
  getCatalog,
  getJSON,
  markInvalid,
  onLangChange,
  paramsFromQuery,
  paramsToQuery,
  postJSON,
  readQuery,
  t,
  writeQuery,
} from "../common.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = $("backprop-lab");
const PRESETS = JSON.parse(root.dataset.presets);
const LIMITS = JSON.parse(root.dataset.limits);
const SVG = "http://www.w3.org/2000/svg";

const state = { preset: "notes_221", net: null, step: 0, n: 100 };
let walk = null; // the API's response with "steps"
let notes = null; // GET /api/labs/backprop/notes
let training = null;
let seq = 0;

const clone = (v) => JSON.parse(JSON.stringify(v));

// ---- URL --------------------------------------------------------------------------------------

function toQuery() {
  const net = state.net;
  const q = [];
  if (state.preset) q.push(["preset", state.preset]);
  q.push(["x", net.x.join(",")], ["y", net.y.join(",")]);
  net.layers.forEach((layer, k) => {
    q.push([`W${k + 1}`, layer.W.map((row) => row.join(",")).join(";")], [`b${k + 1}`, layer.b.join(",")]);
  });
  q.push(["act", net.activation]);
  const actEntry = actByName.get(net.activation);
  if (actEntry) q.push(...paramsToQuery(actEntry, net.activation_params || {}, "ap."));
  q.push(["out", net.output_activation || ""], ["loss", net.loss], ["lr", String(net.lr)]);
  q.push(["step", String(state.step)], ["n", String(state.n)]);
  writeQuery(q);
}

const nums = (text) => (text || "").split(",").map((s) => (s.trim() === "" ? NaN : Number(s)));

function fromQuery(catalog) {
  const q = readQuery();
  const preset = PRESETS[q.get("preset")] ? q.get("preset") : "notes_221";
  const net = clone(PRESETS[preset]);
  state.preset = q.get("preset") === null || PRESETS[q.get("preset")] ? preset : null;
  // the shape is the preset's; numbers from the URL replace its numbers where they fit
  const fit = (arr, vals) => (vals.length === arr.length && vals.every(Number.isFinite) ? vals : arr);
  if (q.get("x")) net.x = fit(net.x, nums(q.get("x")));
  net.layers.forEach((layer, k) => {
    const W = q.get(`W${k + 1}`);
    if (W) {
      const rows = W.split(";").map(nums);
      if (rows.length === layer.W.length) layer.W = rows.map((row, i) => fit(layer.W[i], row));
    }
    if (q.get(`b${k + 1}`)) layer.b = fit(layer.b, nums(q.get(`b${k + 1}`)));
  });
  const names = (list) => new Set(list.map((e) => e.name));
  if (names(catalog.activations).has(q.get("act"))) net.activation = q.get("act");
  net.activation_params = paramsFromQuery(actByName.get(net.activation), q, "ap.");
  if (q.get("out") === "" || names(catalog.activations).has(q.get("out"))) net.output_activation = q.get("out") || null;
  if (names(catalog.losses).has(q.get("loss"))) net.loss = q.get("loss");
  if (q.get("y")) {
    const y = nums(q.get("y"));
    if (y.every(Number.isFinite) && y.length) net.y = y;
  }
  fixTarget(net);
  const lr = Number(q.get("lr"));
  if (q.get("lr") !== null && Number.isFinite(lr)) net.lr = lr;
  state.net = net;
  const step = Number(q.get("step"));
  state.step = Number.isInteger(step) && step >= 0 ? step : 0;
  const n = Number(q.get("n"));
  if (q.get("n") !== null && Number.isInteger(n) && n >= LIMITS.train_steps[0] && n <= LIMITS.train_steps[1]) state.n = n;
}

const outputs = (net) => net.layers.at(-1).b.length;

// cross_entropy takes [class id]; the other losses one target per output
function fixTarget(net) {
  const k = outputs(net);
  if (net.loss === "cross_entropy") {
    if (net.y.length !== 1 || !Number.isInteger(net.y[0]) || net.y[0] < 0 || net.y[0] >= k) net.y = [0];
  } else if (net.y.length !== k) {
    net.y = Array(k).fill(0);
  }
}

// ---- controls -----------------------------------------------------------------------------------

function buildPresets() {
  $("bp-presets").replaceChildren(...Object.keys(PRESETS).map((id) => {
    const button = el("button", {
      type: "button", className: "preset-btn", "data-testid": `bp-preset-${id}`,
      title: t(`bp.preset.${id}.hint`), "aria-pressed": state.preset === id ? "true" : "false",
    }, t(`bp.preset.${id}`));
    button.addEventListener("click", () => {
      state.preset = id;
      state.net = clone(PRESETS[id]);
      state.step = 0;
      training = null;
      buildAll();
      refresh();
    });
    return button;
  }));
}

// One number input with live validation against the engine's limits (the message names the range).
function numberInput(testid, field, value, lo, hi, onValid, { integer = false, label = "" } = {}) {
  const input = el("input", {
    type: "number", step: integer ? "1" : "any", value: String(value), "data-testid": testid,
    "data-field": field, "aria-label": label, className: "bp-num",
  });
  input.addEventListener("change", () => {
    const v = input.value.trim() === "" ? NaN : Number(input.value);
    const ok = Number.isFinite(v) && v >= lo && v <= hi && (!integer || Number.isInteger(v));
    if (!ok) {
      const range = integer ? t("bp.range_int", { lo, hi }) : t("bp.range", { lo, hi });
      markInvalid(input, `${field}: ${range}`);
      root.dataset.state = "invalid";
      return;
    }
    markInvalid(input, null);
    onValid(v);
  });
  return input;
}

function changed() {
  state.preset = null;
  state.step = Math.min(state.step, walk ? walk.steps.length : 0);
  buildPresets();
  refresh();
}

function buildNumbers() {
  const net = state.net;
  const lim = LIMITS.value_abs;
  const box = $("bp-numbers");
  const group = (title, ...children) => el("div", { className: "field bp-group", "data-error-host": "" },
    el("span", { className: "bp-group-title" }, title), el("div", { className: "bp-row" }, ...children));
  const parts = [];
  parts.push(group("x", ...net.x.map((v, i) => numberInput(`bp-x-${i}`, "x", v, -lim, lim,
    (val) => { net.x[i] = val; changed(); }, { label: `x[${i + 1}]` }))));
  if (net.loss === "cross_entropy") {
    const k = outputs(net);
    parts.push(group(t("bp.class_id", { k: k - 1 }), numberInput("bp-y-0", "y", net.y[0], 0, k - 1,
      (val) => { net.y[0] = val; changed(); }, { integer: true, label: "y" })));
  } else {
    parts.push(group("y", ...net.y.map((v, j) => numberInput(`bp-y-${j}`, "y", v, -lim, lim,
      (val) => { net.y[j] = val; changed(); }, { label: `y[${j + 1}]` }))));
  }
  net.layers.forEach((layer, k) => {
    const sub = String(k + 1).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]);
    const rows = layer.W.map((row, i) => el("div", { className: "bp-row" }, ...row.map((v, j) =>
      numberInput(`bp-W-${k}-${i}-${j}`, `layers.${k}.W`, v, -lim, lim,
        (val) => { layer.W[i][j] = val; changed(); }, { label: `W${sub}[${i + 1},${j + 1}]` }))));
    parts.push(el("div", { className: "field bp-group", "data-error-host": "" },
      el("span", { className: "bp-group-title" }, `W${sub} (${t("bp.in_out")})`), ...rows));
    parts.push(group(`b${sub}`, ...layer.b.map((v, j) => numberInput(`bp-b-${k}-${j}`, `layers.${k}.b`, v, -lim, lim,
      (val) => { layer.b[j] = val; changed(); }, { label: `b${sub}[${j + 1}]` }))));
  });
  parts.push(el("p", { className: "muted small" }, t("bp.limits", { v: lim })));
  box.replaceChildren(...parts);
}

function buildSelects(catalog) {
  const net = state.net;
  fillSelect($("bp-activation"), "activations", catalog.activations, net.activation);
  const out = $("bp-output-activation");
  fillSelect(out, "activations", catalog.activations);
  out.prepend(el("option", { value: "" }, t("bp.same_as_hidden")));
  out.value = net.output_activation || "";
  fillSelect($("bp-loss"), "losses", catalog.losses, net.loss);
  $("bp-lr").value = String(net.lr);
  $("bp-train-steps").value = String(state.n);
}

let catalog = null;
const actByName = new Map();

// The hidden activation's parameters (e.g. leaky_relu's negative_slope) from the catalog.
function buildActParams() {
  const box = $("bp-act-params");
  box.replaceChildren();
  const entry = actByName.get(state.net.activation);
  if (!entry || !entry.params.length) return;
  const ctl = buildParamControls(box, "activations", entry, {
    values: state.net.activation_params || {},
    onCommit: () => { state.net.activation_params = ctl.valid(); changed(); },
  });
}

function buildAll() {
  buildPresets();
  buildSelects(catalog);
  buildActParams();
  buildNumbers();
}

// ---- the walk -----------------------------------------------------------------------------------

function showError(text) {
  const node = $("bp-error");
  node.textContent = text || "";
  node.hidden = !text;
}

// A server 422 is shown at the field it names (and above the graph).
function showApiError(err) {
  showError(err.message);
  for (const d of err.detail || []) {
    const field = (d.loc || []).filter((p) => p !== "body").join(".");
    const input = document.querySelector(`[data-field="${field}"]`);
    if (input) markInvalid(input, `${field}: ${d.msg}`);
  }
}

function body(extra = {}) {
  const net = state.net;
  return {
    x: net.x, y: net.y, layers: net.layers, activation: net.activation,
    activation_params: net.activation_params || {},
    output_activation: net.output_activation || null, loss: net.loss, lr: net.lr, ...extra,
  };
}

async function refresh() {
  toQuery();
  const id = ++seq;
  root.dataset.state = "loading";
  showError("");
  document.querySelectorAll('[data-field][aria-invalid="true"]').forEach((input) => markInvalid(input, null));
  try {
    const r = await postJSON("/api/labs/backprop", body({ walk: true }));
    if (id !== seq) return;
    walk = r;
  } catch (err) {
    if (id === seq) { showApiError(err); root.dataset.state = "error"; }
    return;
  }
  state.step = Math.min(state.step, walk.steps.length);
  drawGraph();
  drawWalk();
  drawUpdated();
  await runTraining(id);
  if (id === seq) root.dataset.state = "ready";
}

// One line: symbol = formula = numbers = value (the numbers part is left out when it is the value).
function stepLine(s) {
  const parts = [s.symbol, s.relation, s.formula];
  if (s.substituted !== s.formula) parts.push("=", s.substituted);
  if (s.value_text !== s.substituted) parts.push("=", s.value_text);
  return parts.join(" ");
}

function checkNode(s) {
  if (!s.check) return null;
  const c = s.check;
  const ok = c.rel_error !== null && c.rel_error < 1e-6;
  return el("span", { className: `bp-check ${ok ? "ok" : "bad"}`, "data-testid": "bp-check",
    "data-rel-error": String(c.rel_error) },
  t("bp.check", { numeric: c.numeric_text, rel: c.rel_error_text }));
}

function drawWalk() {
  const steps = walk.steps;
  const n = state.step;
  $("bp-progress").textContent = t("bp.progress", { i: n, n: steps.length });
  $("bp-back").disabled = n === 0;
  $("bp-next").disabled = n >= steps.length;
  $("bp-show-all").disabled = n >= steps.length;
  const cur = $("bp-current");
  if (n === 0) {
    cur.replaceChildren(el("p", { className: "muted" }, t("bp.start_hint")));
  } else {
    const s = steps[n - 1];
    cur.replaceChildren(
      el("p", { className: "bp-phase", "data-testid": "bp-phase" }, t(`bp.phase.${s.phase}`)),
      el("p", { className: "bp-formula", "data-testid": "bp-current-formula" }, stepLine(s)),
      ...s.detail.map((d) => el("p", { className: "bp-detail" }, d)),
      ...(s.check ? [checkNode(s)] : []),
    );
  }
  $("bp-steps").replaceChildren(...steps.slice(0, n).map((s, i) => el("li", {
    "data-testid": `bp-step-${i}`, "data-kind": s.kind, "data-phase": s.phase, className: i === n - 1 ? "current" : "",
  }, el("span", { className: "bp-formula" }, stepLine(s)), ...(s.check ? [" ", checkNode(s)] : []))));
  highlight(n ? steps[n - 1].highlight : { nodes: [], edges: [] });
  drawNodeValues();
}

function go(step) {
  state.step = Math.max(0, Math.min(walk.steps.length, step));
  toQuery();
  drawWalk();
  drawUpdated();
}

// ---- the graph (SVG) --------------------------------------------------------------------------

function layout() {
  const widths = [walk.input.length, ...walk.forward.map((f) => f.z.length), 1]; // + the loss
  const W = 640;
  const H = Math.max(220, 95 * Math.max(...widths));
  const cols = widths.length;
  const pos = widths.map((w, l) => Array.from({ length: w }, (_, j) => [
    50 + (l * (W - 100)) / (cols - 1), (H * (j + 1)) / (w + 1),
  ]));
  return { W, H, widths, pos };
}

const svgEl = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};

function nodeLabel(l, j, widths) {
  const L = widths.length - 2;
  const sub = (n) => String(n).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]);
  const idx = widths[l] > 1 ? `[${j + 1}]` : "";
  if (l === 0) return `x${idx}`;
  if (l === L + 1) return "L";
  if (l === L) return `ŷ${idx}`;
  return `a${sub(l)}${idx}`;
}

function drawGraph() {
  const svg = $("bp-graph");
  const { W, H, widths, pos } = layout();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const title = svg.querySelector("title");
  svg.replaceChildren(title);
  const edges = svgEl("g", { class: "bp-edges" });
  const nodes = svgEl("g", { class: "bp-nodes" });
  for (let l = 1; l < widths.length; l += 1) {
    for (let i = 0; i < widths[l - 1]; i += 1) {
      for (let j = 0; j < widths[l]; j += 1) {
        const [x1, y1] = pos[l - 1][i];
        const [x2, y2] = pos[l][j];
        edges.append(svgEl("line", { x1, y1, x2, y2, "data-testid": `bp-edge-${l}-${i}-${j}`, class: "bp-edge" }));
      }
    }
  }
  widths.forEach((w, l) => pos[l].forEach(([x, y], j) => {
    const g = svgEl("g", { "data-testid": `bp-node-${l}-${j}`, class: `bp-node${l === widths.length - 1 ? " loss" : ""}` });
    g.append(svgEl("circle", { cx: x, cy: y, r: 24 }));
    const label = svgEl("text", { x, y: y + 5, "text-anchor": "middle", class: "bp-node-label" });
    label.textContent = nodeLabel(l, j, widths);
    const value = svgEl("text", { x, y: y + 40, "text-anchor": "middle", class: "bp-node-value", "data-testid": `bp-node-value-${l}-${j}` });
    g.append(label, value);
    nodes.append(g);
  }));
  svg.append(edges, nodes);
}

function highlight(h) {
  const svg = $("bp-graph");
  svg.querySelectorAll(".hl").forEach((n) => n.classList.remove("hl"));
  for (const [l, j] of h.nodes) svg.querySelector(`[data-testid="bp-node-${l}-${j}"]`)?.classList.add("hl");
  for (const [l, i, j] of h.edges) svg.querySelector(`[data-testid="bp-edge-${l}-${i}-${j}"]`)?.classList.add("hl");
}

// Under each node: the inputs' values, and for a unit the last forward/backward value shown so far
// (value_text of the engine's steps; nothing is computed here).
function drawNodeValues() {
  const svg = $("bp-graph");
  svg.querySelectorAll(".bp-node-value").forEach((n) => { n.textContent = ""; });
  // x values are the page's own inputs (typed numbers, shown as typed)
  state.net.x.forEach((v, i) => {
    const node = svg.querySelector(`[data-testid="bp-node-value-0-${i}"]`);
    if (node) node.textContent = String(v);
  });
  for (const s of walk.steps.slice(0, state.step)) {
    if (!["a", "p", "loss", "delta"].includes(s.kind) || !s.highlight.nodes.length) continue;
    const [l, j] = s.highlight.nodes[0];
    const node = svg.querySelector(`[data-testid="bp-node-value-${l}-${j}"]`);
    if (!node) continue;
    const name = s.kind === "delta" ? "δ" : s.kind === "loss" ? "L" : s.kind === "p" ? "p" : "a";
    node.textContent = `${name} ${s.value_text}`;
  }
}

// ---- updated weights ---------------------------------------------------------------------------

function drawUpdated() {
  const table = $("bp-updated");
  const reached = new Map(); // symbol -> step, for the update steps shown so far
  walk.steps.slice(0, state.step).forEach((s) => { if (s.phase === "update") reached.set(s.symbol, s); });
  const updates = walk.steps.filter((s) => s.phase === "update");
  const rows = updates.map((s, i) => {
    const shown = reached.get(s.symbol);
    return el("tr", { "data-testid": `bp-updated-row-${i}` },
      el("th", { scope: "row" }, s.symbol),
      el("td", { className: "num" }, s.operands[0].text),
      el("td", { className: "num", "data-testid": "bp-updated-value", "data-value": shown ? String(shown.value) : "" },
        shown ? shown.value_text : "…"));
  });
  table.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, t("bp.param")), el("th", {}, t("bp.before")), el("th", {}, t("bp.after")))),
    el("tbody", {}, ...rows),
  );
  table.dataset.complete = String(reached.size === updates.length);
}

// ---- run N steps --------------------------------------------------------------------------------

async function runTraining(id = seq) {
  if (!state.n) {
    training = null;
    $("bp-train-status").textContent = "";
    return;
  }
  try {
    const r = await postJSON("/api/labs/backprop", body({ train_steps: state.n }));
    if (id !== seq) return;
    training = r.training;
  } catch (err) {
    if (id === seq) showApiError(err);
    return;
  }
  await drawTraining();
}

function drawTraining() {
  const tr = training;
  const steps = tr.loss.map((_, i) => i);
  const status = tr.diverged !== null ? t("bp.diverged", { n: tr.diverged }) : t("bp.train_done", { n: state.n });
  $("bp-train-status").textContent = status;
  $("bp-train-status").dataset.diverged = String(tr.diverged !== null);
  const finite = tr.loss.filter((v) => v !== null);
  const logAxis = finite.length === tr.loss.length && finite.every((v) => v > 0)
    && Math.max(...finite) > 10 * Math.min(...finite);
  return Promise.all([
    drawChart($("chart-bp-loss"), [{ type: "scatter", mode: "lines", x: steps, y: tr.loss, name: "L", meta: { kind: "loss" }, line: { color: color(0) } }],
      { title: { text: t("bp.loss_chart") }, xaxis: { title: { text: t("bp.update_axis") } }, yaxis: { type: logAxis ? "log" : "linear" } }),
    drawChart($("chart-bp-params"), tr.params.map((p, i) => ({ type: "scatter", mode: "lines", x: steps, y: p.values,
      name: p.symbol, meta: { kind: "param", name: p.name }, line: { color: color(i) } })),
    { title: { text: t("bp.params_chart") }, xaxis: { title: { text: t("bp.update_axis") } } }),
  ]);
}

// ---- compare with the notes ------------------------------------------------------------------

function drawNotes() {
  if (!notes) return;
  $("bp-notes-source").textContent = t("bp.notes_source", { source: notes.source });
  const rows = [];
  for (const row of notes.rows) {
    for (const e of row.entries) {
      const idx = row.entries.length > 1 ? `[${e.index.map((i) => i + 1).join(",")}]` : "";
      const verdict = e.agrees ? t("bp.notes_agrees") : t(`bp.slip.${e.slip}`);
      rows.push(el("tr", {
        "data-testid": `bp-notes-row-${row.id}-${e.index.join("-")}`, "data-agrees": String(e.agrees),
        className: e.agrees ? "" : "slip",
      },
      el("td", {}, `${row.quantity}${idx}`),
      el("td", {}, `003:${row.line}`),
      el("td", { className: "num", "data-testid": "notes-printed" }, e.printed),
      el("td", { className: "num", "data-testid": "notes-exact", title: e.exact_text }, e.exact_rounded),
      el("td", { "data-testid": "notes-verdict" }, verdict)));
    }
  }
  $("bp-notes-table").querySelector("tbody").replaceChildren(...rows);
}

// ---- wiring -------------------------------------------------------------------------------------

async function init() {
  catalog = await getCatalog();
  for (const a of catalog.activations) actByName.set(a.name, a);
  fromQuery(catalog);
  buildAll();
  $("bp-activation").addEventListener("change", (e) => {
    state.net.activation = e.target.value;
    state.net.activation_params = {};
    buildActParams();
    changed();
  });
  $("bp-output-activation").addEventListener("change", (e) => { state.net.output_activation = e.target.value || null; changed(); });
  $("bp-loss").addEventListener("change", (e) => {
    state.net.loss = e.target.value;
    fixTarget(state.net);
    buildNumbers();
    changed();
  });
  const lr = $("bp-lr");
  lr.addEventListener("change", () => {
    const v = lr.value.trim() === "" ? NaN : Number(lr.value);
    const [lo, hi] = LIMITS.lr;
    if (!(Number.isFinite(v) && v >= lo && v <= hi)) {
      markInvalid(lr, `lr: ${t("bp.range", { lo, hi })}`);
      return;
    }
    markInvalid(lr, null);
    state.net.lr = v;
    changed();
  });
  const n = $("bp-train-steps");
  const runN = () => {
    const v = n.value.trim() === "" ? NaN : Number(n.value);
    const [lo, hi] = LIMITS.train_steps;
    if (!(Number.isInteger(v) && v >= lo && v <= hi)) {
      markInvalid(n, `train_steps: ${t("bp.range_int", { lo, hi })}`);
      return;
    }
    markInvalid(n, null);
    state.n = v;
    toQuery();
    root.dataset.state = "loading";
    const id = ++seq;
    runTraining(id).then(() => { if (id === seq) root.dataset.state = "ready"; });
  };
  n.addEventListener("change", runN);
  $("bp-train-run").addEventListener("click", runN);
  $("bp-next").addEventListener("click", () => go(state.step + 1));
  $("bp-back").addEventListener("click", () => go(state.step - 1));
  $("bp-show-all").addEventListener("click", () => go(walk.steps.length));
  $("bp-restart").addEventListener("click", () => go(0));
  await refresh();
  notes = await getJSON("/api/labs/backprop/notes");
  drawNotes();
  onLangChange(() => {
    buildAll();
    if (walk) { drawWalk(); drawUpdated(); }
    if (training) drawTraining();
    drawNotes();
  });
  root.dataset.extras = "ready";
}

init().catch((err) => showError(err.message));
