// Playground control panel: every component control is generated from GET /api/catalog
// (selects from the catalog entries, parameter inputs from their schemas via common.js's
// buildParamControls). Also the URL <-> config mapping.
//
// URL keys (all optional; a link reproduces the page):
//   dataset, dataset.<p>, n, noise, val_split, normalize,
//   hidden (comma list, empty = linear model), activation, activation.<p>, init, init.<p>,
//   batch_norm, layer_norm, dropout, residual, loss, loss.<p>,
//   optimizer, optimizer.<p>, lr, schedule, schedule.<p>, warmup_steps,
//   l1, l2, l1_method, batch_size, clip, clip.<p>, seed

import {
  buildParamControls, catalogKey, el, fillSelect, formatParam, parseParam, setCatalogTitle,
} from "../common.js";
import { pt } from "./messages.js";

// Fields that can change while training (sent as a live `set`); everything else rebuilds.
export const LIVE_KEYS = ["optimizer", "schedule", "regularization", "batch_size", "grad_clip"];

const NORMALIZE = ["none", "minmax", "zscore"]; // RunConfig.dataset.normalize (not a component)

function byName(entries, name) {
  return entries.find((e) => e.name === name) || entries[0];
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function pick(obj, names) {
  const out = {};
  for (const n of names) if (obj && n in obj) out[n] = obj[n];
  return out;
}

// Parameters of the regularization entries, merged by name (l1, l2, l1_method).
function regParams(catalog) {
  const seen = new Map();
  for (const entry of catalog.regularization) {
    for (const p of entry.params) if (!seen.has(p.name)) seen.set(p.name, p);
  }
  return [...seen.values()];
}

function clipParams(catalog) {
  const seen = new Map();
  for (const entry of catalog.grad_clip) {
    for (const p of entry.params) if (!seen.has(p.name)) seen.set(p.name, p);
  }
  return [...seen.values()];
}

// ------------------------------------------------------------------------------------------
// URL

function parseNum(text, integer) {
  if (text === null || String(text).trim() === "") return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) return undefined;
  return v;
}

function parseBool(text) {
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  return undefined;
}

function paramsFrom(entry, query, prefix) {
  const out = {};
  if (!entry) return out;
  for (const p of entry.params) {
    const v = parseParam(p, query.get(`${prefix}${p.name}`));
    if (v !== undefined) out[p.name] = v;
  }
  return out;
}

function paramsTo(entry, values, prefix, skip = []) {
  const out = [];
  if (!entry) return out;
  for (const p of entry.params) {
    if (skip.includes(p.name) || !(p.name in values)) continue;
    if (!same(values[p.name], p.default)) out.push([`${prefix}${p.name}`, formatParam(p, values[p.name])]);
  }
  return out;
}

// Partial RunConfig from the query string (unknown names are passed on: the server answers
// with a 422 naming the field, and the page falls back to the defaults).
export function configFromQuery(query, catalog) {
  const cfg = {};
  const has = (k) => query.has(k);
  const dataset = {};
  if (has("dataset")) dataset.name = query.get("dataset");
  const dsEntry = catalog.datasets.find((e) => e.name === (dataset.name || "circle"));
  const dsParams = paramsFrom(dsEntry, query, "dataset.");
  if (Object.keys(dsParams).length) dataset.params = dsParams;
  if (parseNum(query.get("n"), true) !== undefined) dataset.n = parseNum(query.get("n"), true);
  if (parseNum(query.get("noise")) !== undefined) dataset.noise = parseNum(query.get("noise"));
  if (parseNum(query.get("val_split")) !== undefined) dataset.val_fraction = parseNum(query.get("val_split"));
  if (NORMALIZE.includes(query.get("normalize"))) dataset.normalize = query.get("normalize");
  if (Object.keys(dataset).length) cfg.dataset = dataset;

  const model = {};
  if (has("hidden")) {
    const text = query.get("hidden").trim();
    const widths = text === "" ? [] : text.split(",").map((s) => parseNum(s, true));
    if (widths.every((w) => w !== undefined)) model.hidden = widths;
  }
  for (const [key, kind] of [["activation", "activations"], ["init", "initializers"]]) {
    if (has(key)) model[key] = query.get(key);
    const entry = catalog[kind].find((e) => e.name === query.get(key));
    const params = paramsFrom(entry, query, `${key}.`);
    if (Object.keys(params).length) model[`${key}_params`] = params;
  }
  for (const key of ["batch_norm", "layer_norm", "residual"]) {
    if (parseBool(query.get(key)) !== undefined) model[key] = parseBool(query.get(key));
  }
  if (parseNum(query.get("dropout")) !== undefined) model.dropout = parseNum(query.get("dropout"));
  if (Object.keys(model).length) cfg.model = model;

  if (has("loss") && query.get("loss") !== "") {
    cfg.loss = query.get("loss");
    const params = paramsFrom(catalog.losses.find((e) => e.name === cfg.loss), query, "loss.");
    if (Object.keys(params).length) cfg.loss_params = params;
  }

  const optimizer = {};
  if (has("optimizer")) optimizer.name = query.get("optimizer");
  const optEntry = catalog.optimizers.find((e) => e.name === (optimizer.name || "sgd"));
  Object.assign(optimizer, paramsFrom(optEntry, query, "optimizer."));
  if (parseNum(query.get("lr")) !== undefined) optimizer.lr = parseNum(query.get("lr"));
  if (Object.keys(optimizer).length) cfg.optimizer = optimizer;

  const schedule = {};
  if (has("schedule")) schedule.name = query.get("schedule");
  const schedEntry = catalog.schedules.find((e) => e.name === schedule.name);
  Object.assign(schedule, paramsFrom(schedEntry, query, "schedule."));
  if (parseNum(query.get("warmup_steps"), true) !== undefined) {
    schedule.warmup_steps = parseNum(query.get("warmup_steps"), true);
  }
  if (Object.keys(schedule).length) cfg.schedule = schedule;

  const reg = {};
  for (const p of regParams(catalog)) {
    const v = parseParam(p, query.get(p.name));
    if (v !== undefined) reg[p.name] = v;
  }
  if (Object.keys(reg).length) cfg.regularization = reg;

  if (parseNum(query.get("batch_size"), true) !== undefined) cfg.batch_size = parseNum(query.get("batch_size"), true);
  if (parseNum(query.get("seed"), true) !== undefined) cfg.seed = parseNum(query.get("seed"), true);
  const clip = {};
  if (has("clip")) clip.mode = query.get("clip");
  const clipEntry = catalog.grad_clip.find((e) => e.name === clip.mode);
  Object.assign(clip, paramsFrom(clipEntry, query, "clip."));
  if (Object.keys(clip).length) cfg.grad_clip = clip;
  return cfg;
}

// Query pairs for a full config (main choices always, component parameters when not default).
export function queryFromConfig(cfg, catalog) {
  const q = [];
  const ds = cfg.dataset;
  q.push(["dataset", ds.name]);
  q.push(...paramsTo(catalog.datasets.find((e) => e.name === ds.name), ds.params || {}, "dataset."));
  q.push(["n", String(ds.n)], ["noise", String(ds.noise)], ["val_split", String(ds.val_fraction)]);
  if (ds.normalize !== "none") q.push(["normalize", ds.normalize]);
  const m = cfg.model;
  q.push(["hidden", m.hidden.join(",")]);
  q.push(["activation", m.activation]);
  q.push(...paramsTo(catalog.activations.find((e) => e.name === m.activation), m.activation_params || {}, "activation."));
  q.push(["init", m.init]);
  q.push(...paramsTo(catalog.initializers.find((e) => e.name === m.init), m.init_params || {}, "init."));
  for (const key of ["batch_norm", "layer_norm", "residual"]) if (m[key]) q.push([key, "true"]);
  if (m.dropout) q.push(["dropout", String(m.dropout)]);
  if (cfg.loss) {
    q.push(["loss", cfg.loss]);
    q.push(...paramsTo(catalog.losses.find((e) => e.name === cfg.loss), cfg.loss_params || {}, "loss."));
  }
  const o = cfg.optimizer;
  q.push(["optimizer", o.name]);
  q.push(...paramsTo(catalog.optimizers.find((e) => e.name === o.name), o, "optimizer.", ["lr"]));
  q.push(["lr", String(o.lr)]);
  const s = cfg.schedule;
  q.push(["schedule", s.name]);
  q.push(...paramsTo(catalog.schedules.find((e) => e.name === s.name), s, "schedule."));
  q.push(["warmup_steps", String(s.warmup_steps || 0)]);
  const r = cfg.regularization;
  q.push(["l1", String(r.l1)], ["l2", String(r.l2)]);
  if (r.l1_method && r.l1_method !== "proximal") q.push(["l1_method", r.l1_method]);
  q.push(["batch_size", String(cfg.batch_size)]);
  const c = cfg.grad_clip;
  if (c.mode !== "none") {
    q.push(["clip", c.mode]);
    q.push(...paramsTo(catalog.grad_clip.find((e) => e.name === c.mode), c, "clip."));
  }
  q.push(["seed", String(cfg.seed)]);
  return q;
}

// Live part of a config change: a `set` patch (only what differs), or null.
export function livePatch(oldCfg, newCfg) {
  const patch = {};
  for (const key of ["optimizer", "schedule", "regularization", "grad_clip"]) {
    if (same(oldCfg[key], newCfg[key])) continue;
    const nameKey = key === "grad_clip" ? "mode" : "name";
    if (key !== "regularization" && oldCfg[key][nameKey] !== newCfg[key][nameKey]) {
      patch[key] = newCfg[key];
    } else {
      const diff = {};
      for (const [k, v] of Object.entries(newCfg[key])) if (!same(oldCfg[key][k], v)) diff[k] = v;
      patch[key] = diff;
    }
  }
  if (oldCfg.batch_size !== newCfg.batch_size) patch.batch_size = newCfg.batch_size;
  if (oldCfg.model.dropout !== newCfg.model.dropout) patch.dropout = newCfg.model.dropout;
  return Object.keys(patch).length ? patch : null;
}

// True when the change needs a new run (data, architecture, seed or loss).
export function needsRebuild(oldCfg, newCfg) {
  const strip = (c) => ({
    seed: c.seed, dataset: c.dataset, loss: c.loss || null, loss_params: c.loss ? c.loss_params : {},
    model: { ...c.model, dropout: 0 },
  });
  return !same(strip(oldCfg), strip(newCfg));
}

// ------------------------------------------------------------------------------------------
// panel

function tagged(container, name, testid) {
  const input = container.querySelector(`[name="${name}"]`);
  if (input) input.setAttribute("data-testid", testid);
  return input;
}

// Moves the (long) help texts of generated parameter fields into tooltips (re-translated on a
// language switch through the data-catalog-title-* attributes, see common.js).
function compactHelp(root) {
  for (const field of root.querySelectorAll(".field")) {
    const help = field.querySelector("small.help");
    if (help) {
      setCatalogTitle(field, help.dataset.catalogKey, help.dataset.catalogFallback, help.dataset.hint || "");
      help.remove();
    }
  }
}

function labelled(labelKey, input, extra) {
  const id = `pg-${labelKey.replace(/\W/g, "-")}`;
  input.id = id;
  const label = el("label", { for: id, "data-pg-i18n": labelKey }, pt(labelKey));
  return el("div", { className: `field${input.type === "checkbox" ? " field-check" : ""}` },
    input.type === "checkbox" ? [input, label] : [label, input], extra || null);
}

function badge(kind) {
  return el("span", {
    className: `pg-badge pg-badge-${kind}`, "data-pg-i18n": `pg.${kind}`,
    "data-pg-i18n-title": `pg.${kind}_title`, title: pt(`pg.${kind}_title`),
  }, pt(`pg.${kind}`));
}

function section(key, kind, testid) {
  const body = el("div", { className: "pg-section-body" });
  const head = el("h2", {}, el("span", { "data-pg-i18n": `pg.section.${key}` }, pt(`pg.section.${key}`)),
    kind ? badge(kind) : null);
  const node = el("section", { className: "pg-section", "data-testid": testid }, head, body);
  return { node, body };
}

export class Controls {
  constructor(root, catalog, onChange) {
    this.root = root;
    this.catalog = catalog;
    this.onChange = onChange;
    this.cfg = null; // the last full config shown
    this.params = {};
  }

  // Renders every control for a full (resolved) config.
  set(cfg) {
    this.cfg = structuredClone(cfg);
    this.render();
  }

  fire() {
    this.onChange(this.get());
  }

  number(testid, value, { min, max, step = "any", integer = false } = {}) {
    const input = el("input", {
      type: "number", "data-testid": testid, min, max, step: integer ? "1" : step,
      value: String(value), inputmode: "decimal",
    });
    input.addEventListener("input", () => this.fire());
    return input;
  }

  checkbox(testid, value) {
    const input = el("input", { type: "checkbox", "data-testid": testid });
    input.checked = Boolean(value);
    input.addEventListener("change", () => this.fire());
    return input;
  }

  select(testid, kind, entries, value, onPick) {
    const select = el("select", { "data-testid": testid });
    fillSelect(select, kind, entries, value);
    select.addEventListener("change", () => {
      if (onPick) onPick(select.value);
      this.fire();
    });
    return select;
  }

  // A component select + its parameter grid; returns the select.
  component(body, { key, testid, kind, entries, value, values, skip = [], labelKey, extraOption }) {
    const host = el("div", { className: "pg-params" });
    const draw = (name, vals) => {
      host.replaceChildren();
      const entry = entries.find((e) => e.name === name);
      if (!entry) { this.params[key] = null; return; }
      const shown = { ...entry, params: entry.params.filter((p) => !skip.includes(p.name)) };
      this.params[key] = shown.params.length
        ? buildParamControls(host, kind, shown, { values: vals, onChange: () => this.fire() })
        : null;
      if (!shown.params.length) host.replaceChildren();
      compactHelp(host);
      for (const p of shown.params) tagged(host, p.name, `${testid}.${p.name}`);
      const select = body.querySelector(`[data-testid="${testid}"]`);
      if (select) setCatalogTitle(select, ...catalogKey(kind, entry, "description"));
    };
    const select = this.select(testid, kind, entries, value, (name) => draw(name, {}));
    if (extraOption) {
      select.prepend(el("option", { value: "", "data-pg-i18n": extraOption }, pt(extraOption)));
      select.value = value || "";
    }
    body.append(labelled(labelKey, select), host);
    draw(value, values);
    return select;
  }

  render() {
    const { catalog, cfg } = this;
    const limits = catalog.limits || {};
    this.root.replaceChildren();
    this.params = {};

    // --- data
    const data = section("data", "restart", "section-data");
    this.dataset = this.component(data.body, {
      key: "dataset", testid: "dataset", kind: "datasets", entries: catalog.datasets,
      value: cfg.dataset.name, values: cfg.dataset.params, labelKey: "pg.dataset",
    });
    this.dataset.addEventListener("change", () => { this.refreshLoss(); this.fire(); });
    this.n = this.number("samples", cfg.dataset.n, { min: 1, max: limits.max_samples, integer: true });
    this.noise = this.number("noise", cfg.dataset.noise, { min: 0, max: 1, step: "0.05" });
    this.valSplit = this.number("val-split", cfg.dataset.val_fraction, { min: 0, max: 0.9, step: "0.05" });
    this.normalize = el("select", { "data-testid": "normalize" },
      NORMALIZE.map((v) => el("option", { value: v, "data-pg-i18n": `pg.normalize.${v}` }, pt(`pg.normalize.${v}`))));
    this.normalize.value = cfg.dataset.normalize;
    this.normalize.addEventListener("change", () => this.fire());
    data.body.append(
      el("div", { className: "pg-row" }, labelled("pg.samples", this.n), labelled("pg.noise", this.noise)),
      el("div", { className: "pg-row" }, labelled("pg.val_split", this.valSplit), labelled("pg.normalize", this.normalize)),
    );

    // --- network
    const net = section("network", "restart", "section-network");
    this.hidden = [...cfg.model.hidden];
    this.hiddenHost = el("div", { className: "pg-hidden", "data-testid": "hidden" });
    net.body.append(el("div", { className: "field" },
      el("span", { className: "pg-label", "data-pg-i18n": "pg.hidden" }, pt("pg.hidden")), this.hiddenHost));
    this.drawHidden();
    this.activation = this.component(net.body, {
      key: "activation", testid: "activation", kind: "activations", entries: catalog.activations,
      value: cfg.model.activation, values: cfg.model.activation_params, labelKey: "pg.activation",
    });
    this.init = this.component(net.body, {
      key: "init", testid: "init", kind: "initializers", entries: catalog.initializers,
      value: cfg.model.init, values: cfg.model.init_params, labelKey: "pg.init",
    });
    this.batchNorm = this.checkbox("batch-norm", cfg.model.batch_norm);
    this.layerNorm = this.checkbox("layer-norm", cfg.model.layer_norm);
    this.residual = this.checkbox("residual", cfg.model.residual);
    this.dropout = this.number("dropout", cfg.model.dropout, { min: 0, max: 0.95, step: "0.05" });
    net.body.append(
      el("div", { className: "pg-row" }, labelled("pg.batch_norm", this.batchNorm), labelled("pg.layer_norm", this.layerNorm)),
      labelled("pg.residual", this.residual),
      labelled("pg.dropout", this.dropout, badge("live")),
    );
    this.lossHost = el("div");
    net.body.append(this.lossHost);
    this.refreshLoss(cfg.loss, cfg.loss_params);

    // --- optimizer (lr gets its own prominent input)
    const opt = section("optimizer", "live", "section-optimizer");
    const optEntry = byName(catalog.optimizers, cfg.optimizer.name);
    const lrParam = optEntry.params.find((p) => p.name === "lr") || { name: "lr", type: "float", default: 0.01, min: 0 };
    const lrHost = el("div", { className: "pg-lr" });
    this.lrControl = buildParamControls(lrHost, "optimizers", { name: optEntry.name, params: [lrParam] },
      { values: { lr: cfg.optimizer.lr }, onChange: () => this.fire() });
    compactHelp(lrHost);
    const lrInput = tagged(lrHost, "lr", "lr");
    lrInput.step = "any";
    const lrLabel = lrHost.querySelector("label");
    lrLabel.classList.remove("param-name"); // a plain label, not an identifier
    lrLabel.textContent = pt("pg.lr");
    lrLabel.setAttribute("data-pg-i18n", "pg.lr");
    this.optimizer = this.component(opt.body, {
      key: "optimizer", testid: "optimizer", kind: "optimizers", entries: catalog.optimizers,
      value: cfg.optimizer.name, values: cfg.optimizer, skip: ["lr"], labelKey: "pg.optimizer",
    });
    opt.body.insertBefore(lrHost, opt.body.children[1]);

    // --- schedule
    const sch = section("schedule", "live", "section-schedule");
    this.schedule = this.component(sch.body, {
      key: "schedule", testid: "schedule", kind: "schedules", entries: catalog.schedules,
      value: cfg.schedule.name, values: cfg.schedule, labelKey: "pg.schedule",
    });
    this.warmup = this.number("warmup-steps", cfg.schedule.warmup_steps || 0, { min: 0, max: 100000, integer: true });
    sch.body.append(labelled("pg.warmup_steps", this.warmup));
    this.previewCaption = el("div", { className: "pg-preview-caption" });
    this.preview = el("div", { className: "pg-preview", "data-testid": "schedule-preview" });
    sch.body.append(this.previewCaption, this.preview);

    // --- regularization
    const reg = section("regularization", "live", "section-regularization");
    const rp = regParams(catalog);
    const regHost = el("div");
    this.params.regularization = buildParamControls(regHost, "regularization",
      { name: "elastic_net", params: rp }, { values: cfg.regularization, onChange: () => this.fire() });
    compactHelp(regHost);
    for (const p of rp) tagged(regHost, p.name, p.name.replace(/_/g, "-"));
    for (const label of regHost.querySelectorAll("label.param-name")) {
      const key = `pg.${label.querySelector(".param-id").textContent}`;
      label.classList.remove("param-name"); // translated labels, not identifiers
      label.setAttribute("data-pg-i18n", key);
      label.textContent = pt(key);
    }
    reg.body.append(regHost);

    // --- training
    const tr = section("training", null, "section-training");
    this.batchSize = this.number("batch-size", cfg.batch_size, { min: 1, max: limits.max_samples, integer: true });
    this.seed = this.number("seed", cfg.seed, { min: 0, integer: true });
    tr.body.append(el("div", { className: "pg-row" },
      labelled("pg.batch_size", this.batchSize, badge("live")), labelled("pg.seed", this.seed, badge("restart"))));
    const clipValues = pick(cfg.grad_clip, clipParams(catalog).map((p) => p.name));
    this.clip = this.component(tr.body, {
      key: "grad_clip", testid: "grad-clip", kind: "grad_clip", entries: catalog.grad_clip,
      value: cfg.grad_clip.mode, values: clipValues, labelKey: "pg.grad_clip",
    });

    this.root.append(data.node, net.node, opt.node, sch.node, reg.node, tr.node);
  }

  refreshLoss(loss = this.lossSelect ? this.lossSelect.value : null, params = null) {
    const ds = this.catalog.datasets.find((e) => e.name === this.dataset.value);
    const task = ds ? ds.task : null;
    const entries = this.catalog.losses.filter((e) => !task || !e.tasks || e.tasks.includes(task));
    const current = entries.some((e) => e.name === loss) ? loss : "";
    this.lossHost.replaceChildren();
    this.lossSelect = this.component(this.lossHost, {
      key: "loss", testid: "loss", kind: "losses", entries, value: current,
      values: params || {}, labelKey: "pg.loss", extraOption: "pg.loss_default",
    });
  }

  drawHidden() {
    const limits = this.catalog.limits || {};
    const maxUnits = limits.max_units || 512;
    const maxLayers = limits.max_hidden_layers || 64;
    const host = this.hiddenHost;
    host.replaceChildren();
    const rows = el("div", { className: "pg-layers" });
    this.hidden.forEach((width, k) => {
      const input = el("input", {
        type: "number", min: 1, max: maxUnits, step: 1, value: String(width),
        "data-testid": `width-${k}`, "aria-label": pt("pg.layer_n", { n: k + 1 }),
      });
      input.addEventListener("input", () => {
        const v = Number(input.value);
        if (Number.isInteger(v) && v >= 1) { this.hidden[k] = v; this.fire(); }
      });
      const minus = el("button", { type: "button", className: "pg-mini", "data-testid": `width-${k}-minus`, "aria-label": "−" }, "−");
      const plus = el("button", { type: "button", className: "pg-mini", "data-testid": `width-${k}-plus`, "aria-label": "+" }, "+");
      minus.addEventListener("click", () => { if (this.hidden[k] > 1) { this.hidden[k] -= 1; this.drawHidden(); this.fire(); } });
      plus.addEventListener("click", () => { if (this.hidden[k] < maxUnits) { this.hidden[k] += 1; this.drawHidden(); this.fire(); } });
      rows.append(el("div", { className: "pg-layer" },
        el("span", { className: "pg-layer-name" }, `${k + 1}`), minus, input, plus));
    });
    if (!this.hidden.length) rows.append(el("p", { className: "muted small", "data-pg-i18n": "pg.linear_model" }, pt("pg.linear_model")));
    const add = el("button", { type: "button", className: "pg-btn-small", "data-testid": "add-layer", "data-pg-i18n": "pg.add_layer" }, pt("pg.add_layer"));
    const remove = el("button", { type: "button", className: "pg-btn-small", "data-testid": "remove-layer", "data-pg-i18n": "pg.remove_layer" }, pt("pg.remove_layer"));
    add.disabled = this.hidden.length >= maxLayers;
    remove.disabled = this.hidden.length === 0;
    add.addEventListener("click", () => {
      this.hidden.push(this.hidden.length ? this.hidden[this.hidden.length - 1] : 8);
      this.drawHidden();
      this.fire();
    });
    remove.addEventListener("click", () => { this.hidden.pop(); this.drawHidden(); this.fire(); });
    host.append(rows, el("div", { className: "pg-row-buttons" }, remove, add));
  }

  get() {
    const cfg = structuredClone(this.cfg);
    const num = (input) => (input.value.trim() === "" ? Number.NaN : Number(input.value));
    const params = (key) => (this.params[key] ? this.params[key].get() : {});
    cfg.dataset = {
      name: this.dataset.value, n: num(this.n), noise: num(this.noise),
      val_fraction: num(this.valSplit), normalize: this.normalize.value, params: params("dataset"),
    };
    Object.assign(cfg.model, {
      hidden: [...this.hidden],
      activation: this.activation.value, activation_params: params("activation"),
      init: this.init.value, init_params: params("init"),
      batch_norm: this.batchNorm.checked, layer_norm: this.layerNorm.checked,
      residual: this.residual.checked, dropout: num(this.dropout),
    });
    cfg.loss = this.lossSelect.value || null;
    cfg.loss_params = cfg.loss ? params("loss") : {};
    cfg.optimizer = { name: this.optimizer.value, lr: this.lrControl.get().lr, ...params("optimizer") };
    cfg.schedule = { name: this.schedule.value, warmup_steps: num(this.warmup), ...params("schedule") };
    cfg.regularization = { ...cfg.regularization, ...params("regularization") };
    cfg.batch_size = num(this.batchSize);
    cfg.seed = num(this.seed);
    cfg.grad_clip = { ...cfg.grad_clip, mode: this.clip.value, ...params("grad_clip") };
    return cfg;
  }
}
