// Playground control panel: every component control is generated from GET /api/catalog
// (selects from the catalog entries, parameter inputs from their schemas via common.js's
// buildParamControls). Also the URL <-> config mapping.
//
// URL keys (all optional; a link reproduces the page):
//   dataset, dataset.<p>, n, noise, val_split, normalize,
//   features (comma list of catalog.features names, 2-D datasets only; left out when x1,x2),
//   hidden (comma list, empty = linear model), activation, activation.<p>, init, init.<p>,
//   batch_norm, layer_norm, dropout, residual, loss, loss.<p>,
//   optimizer, optimizer.<p>, lr, schedule, schedule.<p>, warmup_steps,
//   l1, l2, l1_method, batch_size, clip, clip.<p>, seed
//
// Your own data: dataset=custom&dataset.id=<id> (an id from POST /api/datasets on this server;
// the "Upload CSV" block of the data section uploads a file, shows the server's preview and
// inferred task, and switches the run to it). n and noise do not apply to custom data.

import {
  ApiError, buildParamControls, catalogKey, checkParam, el, fillSelect, formatParam, getJSON, markInvalid,
  parseParam, setCatalogTitle, t, validateInput,
} from "../common.js";
import { pt } from "./messages.js";

// Fields that can change while training (sent as a live `set`); everything else rebuilds.
export const LIVE_KEYS = ["optimizer", "schedule", "regularization", "batch_size", "grad_clip"];

const NORMALIZE = ["none", "minmax", "zscore"]; // RunConfig.dataset.normalize (not a component)
export const CUSTOM = "custom"; // core.datasets.CUSTOM: an uploaded table
const TABLE_TASKS = ["classification", "regression"]; // core.tables.TASKS
const PREVIEW_SHOWN = 5; // rows of the server's preview shown under the upload
const MAX_WARMUP = 100000; // core.schedules.MAX_WARMUP

// Schemas of the run's own fields (not catalog components), in the catalog's parameter shape
// so common.js's checkParam validates them like every component parameter. The ranges are the
// server's (core.trainer.resolve_config, core.datasets.DATASET_ARGS, the catalog's limits).
export function runFields(catalog) {
  const limits = catalog.limits || {};
  const maxSamples = limits.max_samples || 20000;
  return {
    n: { name: "n", type: "int", min: 1, max: maxSamples },
    noise: { name: "noise", type: "float", min: 0, max: 1 },
    val_split: { name: "val_split", type: "float", min: 0, max: 0.9 },
    normalize: { name: "normalize", type: "choice", choices: NORMALIZE },
    width: { name: "hidden", type: "int", min: 1, max: limits.max_units || 512 },
    dropout: { name: "dropout", type: "float", min: 0, max: 0.95 },
    warmup_steps: { name: "warmup_steps", type: "int", min: 0, max: MAX_WARMUP },
    batch_size: { name: "batch_size", type: "int", min: 1, max: maxSamples },
    seed: { name: "seed", type: "int", min: 0, max: Number.MAX_SAFE_INTEGER },
    bool: { name: "bool", type: "bool" },
  };
}

// Cross-field rule of the server (core.trainer._check_batch_norm_batch).
export function batchNormProblem(batchNorm, batchSize) {
  return batchNorm && batchSize < 2 ? { name: "batch_size", type: "int", min: 2 } : null;
}

export const DEFAULT_FEATURES = ["x1", "x2"]; // core.datasets.DEFAULT_FEATURES

// Feature crosses exist for the 2-D datasets only (the catalog's dataset `input_dim`).
export function featuresApply(catalog, datasetName) {
  const entry = catalog.datasets.find((e) => e.name === datasetName);
  return Boolean(entry && entry.input_dim === 2 && (catalog.features || []).length);
}

// `features` of a link: null when valid (a non-empty list of distinct catalog names, for a 2-D
// dataset), else the reason.
function featuresProblem(catalog, datasetName, list) {
  const param = { name: "features", type: "choice", choices: (catalog.features || []).map((f) => f.name) };
  const bad = list.map((f) => checkParam(param, f)).find(Boolean);
  if (bad) return bad;
  if (!list.length || new Set(list).size !== list.length) return `features: ${pt("pg.features_rule")}`;
  if (!featuresApply(catalog, datasetName) && !same(list, DEFAULT_FEATURES)) return `features: ${pt("pg.features_2d")}`;
  return null;
}

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

function paramsTo(entry, values, prefix, skip = []) {
  const out = [];
  if (!entry) return out;
  for (const p of entry.params) {
    if (skip.includes(p.name) || !(p.name in values)) continue;
    if (!same(values[p.name], p.default)) out.push([`${prefix}${p.name}`, formatParam(p, values[p.name])]);
  }
  return out;
}

// Partial RunConfig from the query string: every valid part of a link (see readLink).
export function configFromQuery(query, catalog) {
  return readLink(query, catalog).config;
}

// Reads a link: {config: partial RunConfig of every valid value, dropped: [{key, text,
// reason}]} — each value is checked against its schema (catalog parameters, the run fields
// above, the catalog's names); an invalid or unknown key is dropped and named, never the whole
// link. Cross-parameter rules the server checks (e.g. a schedule's milestones against its
// length) are handled by the page: it drops the field the server names and retries.
export function readLink(query, catalog) {
  const F = runFields(catalog);
  const used = new Set();
  const dropped = [];
  // value of `key` checked against `param`, or undefined (absent or dropped)
  const take = (key, param) => {
    if (!query.has(key)) return undefined;
    used.add(key);
    const text = query.get(key);
    const value = parseParam(param, text);
    const error = checkParam(param, value);
    if (error) {
      dropped.push({ key, text, reason: error });
      return undefined;
    }
    return value;
  };
  const names = (kind) => ({ name: kind, type: "choice", choices: catalog[kind].map((e) => e.name) });
  const params = (entry, prefix, skip = []) => {
    const out = {};
    if (!entry) return out;
    for (const p of entry.params) {
      if (skip.includes(p.name)) continue;
      const v = take(`${prefix}${p.name}`, p);
      if (v !== undefined) out[p.name] = v;
    }
    return out;
  };
  const put = (obj, key, value) => { if (value !== undefined) obj[key] = value; };
  const cfg = {};

  const dataset = {};
  put(dataset, "name", take("dataset", { ...names("datasets"), name: "dataset" }));
  const dsEntry = catalog.datasets.find((e) => e.name === (dataset.name || "circle"));
  const dsParams = params(dsEntry, "dataset.");
  if (Object.keys(dsParams).length) dataset.params = dsParams;
  put(dataset, "n", take("n", F.n));
  put(dataset, "noise", take("noise", F.noise));
  put(dataset, "val_fraction", take("val_split", F.val_split));
  put(dataset, "normalize", take("normalize", F.normalize));
  if (query.has("features")) {
    used.add("features");
    const text = query.get("features");
    const list = text.split(",").map((f) => f.trim()).filter((f) => f !== "");
    const reason = featuresProblem(catalog, dataset.name || "circle", list);
    if (reason) dropped.push({ key: "features", text, reason });
    else dataset.features = list;
  }
  if (Object.keys(dataset).length) cfg.dataset = dataset;

  const model = {};
  if (query.has("hidden")) {
    used.add("hidden");
    const text = query.get("hidden").trim();
    const widths = text === "" ? [] : text.split(",").map((w) => parseParam(F.width, w));
    const maxLayers = (catalog.limits || {}).max_hidden_layers || 64;
    const error = widths.map((w) => checkParam(F.width, w)).find(Boolean)
      || (widths.length > maxLayers ? `hidden: ≤ ${maxLayers}` : null);
    if (error) dropped.push({ key: "hidden", text, reason: error });
    else model.hidden = widths;
  }
  for (const [key, kind] of [["activation", "activations"], ["init", "initializers"]]) {
    put(model, key, take(key, { ...names(kind), name: key }));
    const entry = catalog[kind].find((e) => e.name === (model[key] || null));
    const ps = params(entry, `${key}.`);
    if (Object.keys(ps).length) model[`${key}_params`] = ps;
  }
  for (const key of ["batch_norm", "layer_norm", "residual"]) put(model, key, take(key, { ...F.bool, name: key }));
  put(model, "dropout", take("dropout", F.dropout));
  if (Object.keys(model).length) cfg.model = model;

  if (query.has("loss") && query.get("loss") === "") used.add("loss");
  else {
    put(cfg, "loss", take("loss", { ...names("losses"), name: "loss" }));
    const ps = params(catalog.losses.find((e) => e.name === cfg.loss), "loss.");
    if (Object.keys(ps).length) cfg.loss_params = ps;
  }

  const optimizer = {};
  put(optimizer, "name", take("optimizer", { ...names("optimizers"), name: "optimizer" }));
  const optEntry = catalog.optimizers.find((e) => e.name === (optimizer.name || "sgd"));
  Object.assign(optimizer, params(optEntry, "optimizer.", ["lr"]));
  const lrParam = optEntry && optEntry.params.find((p) => p.name === "lr");
  if (lrParam) put(optimizer, "lr", take("lr", lrParam));
  if (Object.keys(optimizer).length) cfg.optimizer = optimizer;

  const schedule = {};
  put(schedule, "name", take("schedule", { ...names("schedules"), name: "schedule" }));
  const schedEntry = catalog.schedules.find((e) => e.name === (schedule.name || "constant"));
  Object.assign(schedule, params(schedEntry, "schedule."));
  put(schedule, "warmup_steps", take("warmup_steps", F.warmup_steps));
  if (Object.keys(schedule).length) cfg.schedule = schedule;

  const reg = {};
  for (const p of regParams(catalog)) put(reg, p.name, take(p.name, p));
  if (Object.keys(reg).length) cfg.regularization = reg;

  put(cfg, "batch_size", take("batch_size", F.batch_size));
  put(cfg, "seed", take("seed", F.seed));
  const clip = {};
  put(clip, "mode", take("clip", { ...names("grad_clip"), name: "clip" }));
  Object.assign(clip, params(catalog.grad_clip.find((e) => e.name === clip.mode), "clip."));
  if (Object.keys(clip).length) cfg.grad_clip = clip;

  // batch norm needs batches of >= 2 (the server's rule): the batch size goes, not the model
  const bn = batchNormProblem(model.batch_norm, cfg.batch_size ?? 10);
  if (bn) {
    dropped.push({ key: "batch_size", text: query.get("batch_size"), reason: checkParam(bn, cfg.batch_size) });
    delete cfg.batch_size;
  }
  for (const key of new Set(query.keys())) {
    if (!used.has(key)) dropped.push({ key, text: query.get(key), reason: null });
  }
  return { config: cfg, dropped };
}

// Removes the field a server error names (its loc, e.g. ["optimizer", "lr"] or
// ["schedule", "milestones"]) from a partial config; returns the removed path or null.
export function dropField(cfg, loc) {
  const path = (loc || []).filter((p) => p !== "body" && typeof p === "string");
  for (let n = path.length; n >= 1; n -= 1) {
    let obj = cfg;
    for (const key of path.slice(0, n - 1)) obj = obj && typeof obj === "object" ? obj[key] : undefined;
    const last = path[n - 1];
    if (obj && typeof obj === "object" && last in obj) {
      delete obj[last];
      return path.slice(0, n).join(".");
    }
  }
  return null;
}

// Query pairs for a full config (main choices always, component parameters when not default).
export function queryFromConfig(cfg, catalog) {
  const q = [];
  const ds = cfg.dataset;
  q.push(["dataset", ds.name]);
  q.push(...paramsTo(catalog.datasets.find((e) => e.name === ds.name), ds.params || {}, "dataset."));
  q.push(["n", String(ds.n)], ["noise", String(ds.noise)], ["val_split", String(ds.val_fraction)]);
  if (ds.normalize !== "none") q.push(["normalize", ds.normalize]);
  if (ds.features && !same(ds.features, DEFAULT_FEATURES)) q.push(["features", ds.features.join(",")]);
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
  // Only the fields the controls set are compared: the server's resolved config may carry
  // fields the controls do not edit (e.g. dataset.features, model.batch_norm_momentum), which
  // a control change leaves as they are.
  const only = (obj, ref) => Object.fromEntries(
    Object.keys(ref || {}).filter((k) => obj && k in obj).map((k) => [k, obj[k]]));
  const strip = (c) => ({
    seed: c.seed, dataset: only(c.dataset, newCfg.dataset), loss: c.loss || null,
    loss_params: c.loss ? c.loss_params : {},
    model: { ...only(c.model, newCfg.model), dropout: 0 },
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

// labelled() for a label from the shared i18n files (static/i18n/*.json, key prefix csv.)
function labelledT(labelKey, input) {
  const id = `pg-${labelKey.replace(/\W/g, "-")}`;
  input.id = id;
  return el("div", { className: "field" }, el("label", { for: id, "data-i18n": labelKey }, t(labelKey)), input);
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

// The panel. onChange(cfg, committed) gets the config of the last VALID value of every field
// (an invalid field is marked at the field with its allowed range and never leaves the page);
// committed is true for "change" events (Enter, blur, a pick, a click), false for keystrokes.
export class Controls {
  constructor(root, catalog, onChange) {
    this.root = root;
    this.catalog = catalog;
    this.onChange = onChange;
    this.cfg = null; // the last full config shown
    this.params = {};
    this.fields = runFields(catalog);
    this.checks = new Map(); // input -> validateInput handle
    this.widthErrors = [];
    this.draws = {}; // component key -> redraw of its parameter grid (name, values)
    this.table = null; // GET/POST /api/datasets answer of the custom table shown
    this.csvFile = null; // the picked file (re-sent when the target or task changes)
    this.csvTaskChoice = ""; // the task asked for with it ("" = inferred)
    document.addEventListener("gradplay:langchange", () => this.showTable(this.table));
  }

  // Renders every control for a full (resolved) config.
  set(cfg) {
    this.cfg = structuredClone(cfg);
    this.render();
  }

  fire(committed = true) {
    this.onChange(this.get(), committed);
  }

  // A number input checked against `param` (a runFields schema) on every edit.
  number(testid, value, param, step = "any") {
    const integer = param.type === "int";
    const input = el("input", {
      type: "number", "data-testid": testid, min: param.min, max: param.max, step: integer ? "1" : step,
      value: String(value), inputmode: "decimal",
    });
    this.checks.set(input, validateInput(input, param, value, (_, committed) => this.fire(committed)));
    return input;
  }

  // last valid value of a number input
  val(input) {
    return this.checks.get(input).value();
  }

  checkbox(testid, value) {
    const input = el("input", { type: "checkbox", "data-testid": testid });
    input.checked = Boolean(value);
    input.addEventListener("change", () => this.fire(true));
    return input;
  }

  // Every current problem ("name: must be …"); each is also shown at its field.
  errors() {
    const out = [];
    for (const check of this.checks.values()) if (check.error()) out.push(check.error());
    for (const ctl of Object.values(this.params)) if (ctl && ctl.errors) out.push(...ctl.errors());
    if (this.lrControl) out.push(...this.lrControl.errors());
    out.push(...this.widthErrors.filter(Boolean));
    return out;
  }

  select(testid, kind, entries, value, onPick) {
    const select = el("select", { "data-testid": testid });
    fillSelect(select, kind, entries, value);
    select.addEventListener("change", () => {
      if (onPick) onPick(select.value);
      this.fire(true);
    });
    return select;
  }

  // A component select + its parameter grid; returns the select.
  component(body, { key, testid, kind, entries, value, values, skip = [], labelKey, extraOption }) {
    const host = el("div", { className: "pg-params" });
    const draw = (name, vals) => {
      host.replaceChildren();
      this.paramsOf[key] = name;
      const entry = entries.find((e) => e.name === name);
      if (!entry) { this.params[key] = null; return; }
      const shown = { ...entry, params: entry.params.filter((p) => !skip.includes(p.name)) };
      this.params[key] = shown.params.length
        ? buildParamControls(host, kind, shown, {
          values: vals, onChange: () => this.fire(false), onCommit: () => this.fire(true),
        })
        : null;
      if (!shown.params.length) host.replaceChildren();
      compactHelp(host);
      for (const p of shown.params) tagged(host, p.name, `${testid}.${p.name}`);
      const select = body.querySelector(`[data-testid="${testid}"]`);
      if (select) setCatalogTitle(select, ...catalogKey(kind, entry, "description"));
    };
    const select = this.select(testid, kind, entries, value, (name) => draw(name, {}));
    this.selects[key] = select;
    this.draws[key] = draw;
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
    this.root.replaceChildren();
    this.params = {};
    // component key -> its select, and the component name its parameter grid was drawn for
    this.selects = {};
    this.paramsOf = {};

    // --- data
    const data = section("data", "restart", "section-data");
    this.dataset = this.component(data.body, {
      key: "dataset", testid: "dataset", kind: "datasets", entries: catalog.datasets,
      value: cfg.dataset.name, values: cfg.dataset.params, labelKey: "pg.dataset",
    });
    this.dataset.addEventListener("change", () => { this.refreshLoss(); this.refreshFeatures(); this.refreshCustom(); this.fire(true); });
    this.drawUpload(data.body);
    const F = this.fields;
    this.checks.clear();
    this.n = this.number("samples", cfg.dataset.n, F.n);
    this.noise = this.number("noise", cfg.dataset.noise, F.noise, "0.05");
    this.valSplit = this.number("val-split", cfg.dataset.val_fraction, F.val_split, "0.05");
    this.normalize = el("select", { "data-testid": "normalize" },
      NORMALIZE.map((v) => el("option", { value: v, "data-pg-i18n": `pg.normalize.${v}` }, pt(`pg.normalize.${v}`))));
    this.normalize.value = cfg.dataset.normalize;
    this.normalize.addEventListener("change", () => this.fire(true));
    this.sizeRow = el("div", { className: "pg-row" }, labelled("pg.samples", this.n), labelled("pg.noise", this.noise));
    data.body.append(
      this.sizeRow,
      el("div", { className: "pg-row" }, labelled("pg.val_split", this.valSplit), labelled("pg.normalize", this.normalize)),
    );
    this.drawFeatures(data.body, cfg.dataset.features || DEFAULT_FEATURES);
    this.refreshCustom();

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
    this.dropout = this.number("dropout", cfg.model.dropout, F.dropout, "0.05");
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
      { values: { lr: cfg.optimizer.lr }, onChange: () => this.fire(false), onCommit: () => this.fire(true) });
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
    this.warmup = this.number("warmup-steps", cfg.schedule.warmup_steps || 0, F.warmup_steps);
    sch.body.append(labelled("pg.warmup_steps", this.warmup));
    this.previewCaption = el("div", { className: "pg-preview-caption" });
    this.preview = el("div", { className: "pg-preview", "data-testid": "schedule-preview" });
    sch.body.append(this.previewCaption, this.preview);

    // --- regularization
    const reg = section("regularization", "live", "section-regularization");
    const rp = regParams(catalog);
    const regHost = el("div");
    this.params.regularization = buildParamControls(regHost, "regularization",
      { name: "elastic_net", params: rp },
      { values: cfg.regularization, onChange: () => this.fire(false), onCommit: () => this.fire(true) });
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
    this.batchSize = this.number("batch-size", cfg.batch_size, F.batch_size);
    this.seed = this.number("seed", cfg.seed, F.seed);
    tr.body.append(el("div", { className: "pg-row" },
      labelled("pg.batch_size", this.batchSize, badge("live")), labelled("pg.seed", this.seed, badge("restart"))));
    const clipValues = pick(cfg.grad_clip, clipParams(catalog).map((p) => p.name));
    this.clip = this.component(tr.body, {
      key: "grad_clip", testid: "grad-clip", kind: "grad_clip", entries: catalog.grad_clip,
      value: cfg.grad_clip.mode, values: clipValues, labelKey: "pg.grad_clip",
    });

    this.root.append(data.node, net.node, opt.node, sch.node, reg.node, tr.node);
  }

  // Input features (feature crosses): one checkbox per catalog.features entry, shown for 2-D
  // datasets; at least one stays ticked (unticking the last is refused and said at the group).
  drawFeatures(body, ticked) {
    this.featureBoxes = [];
    const boxes = el("div", { className: "pg-features", "data-error-host": "" });
    for (const f of this.catalog.features || []) {
      const input = el("input", { type: "checkbox", "data-testid": `feature-${f.name}`, value: f.name });
      input.checked = ticked.includes(f.name);
      input.addEventListener("change", () => {
        if (!this.featureBoxes.some((b) => b.checked)) {
          input.checked = true;
          markInvalid(input, `features: ${pt("pg.features_rule")}`);
          return;
        }
        for (const b of this.featureBoxes) markInvalid(b, null);
        this.fire(true);
      });
      this.featureBoxes.push(input);
      const label = el("label", { className: "pg-check", title: f.description || f.name }, input, ` ${f.label || f.name}`);
      setCatalogTitle(label, ...catalogKey("features", f, "description"));
      boxes.append(label);
    }
    this.featuresField = el("div", { className: "field", "data-testid": "features" },
      el("span", { className: "pg-label", "data-pg-i18n": "pg.features" }, pt("pg.features")), boxes);
    body.append(this.featuresField);
    this.refreshFeatures();
  }

  // ---- your own data (POST /api/datasets)

  // "Upload CSV": a file input; after the first upload a target select (the table's columns)
  // and a task select (inferred / classification / regression) that re-send the file. The
  // server's answer (rows, columns, task, the first rows) is shown; errors at the field.
  drawUpload(body) {
    const file = el("input", { type: "file", accept: ".csv,text/csv", "data-testid": "csv-file" });
    this.csvTarget = el("select", { "data-testid": "csv-target" });
    this.csvTask = el("select", { "data-testid": "csv-task" },
      el("option", { value: "", "data-i18n": "csv.task_auto" }, t("csv.task_auto")),
      TABLE_TASKS.map((v) => el("option", { value: v, "data-i18n": `csv.task.${v}` }, t(`csv.task.${v}`))));
    this.csvInfo = el("p", { className: "muted small pg-csv-info", "data-testid": "csv-info", "aria-live": "polite" });
    this.csvPreview = el("div", { className: "pg-csv-preview", "data-testid": "csv-preview" });
    const fileId = "pg-csv-file";
    file.id = fileId;
    this.csvFileInput = file;
    const fileField = el("div", { className: "field" },
      el("label", { for: fileId, "data-i18n": "csv.upload" }, t("csv.upload")), file,
      el("small", { className: "help", "data-i18n": "csv.help" }, t("csv.help")));
    this.csvOptions = el("div", { className: "pg-row" },
      labelledT("csv.target", this.csvTarget), labelledT("csv.task_label", this.csvTask));
    this.csvBox = el("div", { className: "pg-csv", "data-testid": "csv-upload" },
      fileField, this.csvOptions, this.csvInfo, this.csvPreview);
    body.append(this.csvBox);
    file.addEventListener("change", () => {
      this.csvFile = file.files && file.files[0] ? file.files[0] : null;
      if (this.csvFile) this.uploadCsv({});
    });
    this.csvTarget.addEventListener("change", () => this.uploadCsv({ target: this.csvTarget.value, task: this.csvTask.value }));
    this.csvTask.addEventListener("change", () => this.uploadCsv({ target: this.csvTarget.value, task: this.csvTask.value }));
    this.csvTask.value = this.csvTaskChoice;
    this.showTable(this.table);
    const cfgId = this.cfg.dataset.name === CUSTOM ? (this.cfg.dataset.params || {}).id : null;
    if (cfgId && (!this.table || this.table.id !== cfgId)) {
      // a link or a reload: show the stored table (an unknown id is the run's 422, named by the page)
      getJSON(`/api/datasets/${encodeURIComponent(cfgId)}`).then((info) => this.showTable(info), () => {});
    }
  }

  async uploadCsv({ target = "", task = "" }) {
    if (!this.csvFile) {
      markInvalid(this.csvFileInput, t("csv.pick_file"));
      return;
    }
    const form = new FormData();
    form.append("file", this.csvFile, this.csvFile.name);
    if (target) form.append("target", target);
    if (task) form.append("task", task);
    for (const input of [this.csvFileInput, this.csvTarget, this.csvTask]) markInvalid(input, null);
    this.csvBox.dataset.state = "uploading";
    let info;
    try {
      const response = await fetch("/api/datasets", { method: "POST", body: form, headers: { Accept: "application/json" } });
      let payload = null;
      try { payload = await response.json(); } catch { payload = null; }
      if (!response.ok) throw new ApiError(response.status, payload && payload.detail);
      info = payload;
    } catch (err) {
      // the server's message at the field it names (file, target or task)
      const detail = err instanceof ApiError && Array.isArray(err.detail) ? err.detail[0] : null;
      const where = detail && detail.loc ? detail.loc[1] : "file";
      const input = where === "target" ? this.csvTarget : where === "task" ? this.csvTask : this.csvFileInput;
      markInvalid(input, detail ? detail.msg : err.message);
      this.csvBox.dataset.state = "error";
      return;
    }
    this.csvBox.dataset.state = "ready";
    this.csvTaskChoice = task;
    this.showTable(info);
    this.useTable(info.id);
  }

  // Shows a table's facts and first rows (numbers as the server sent them).
  showTable(info) {
    this.table = info || null;
    if (!this.csvInfo) return;
    this.csvOptions.hidden = !info;
    this.csvPreview.replaceChildren();
    if (!info) {
      this.csvInfo.textContent = "";
      return;
    }
    const all = [...info.columns, info.target];
    this.csvTarget.replaceChildren(...all.map((c) => el("option", { value: c }, c)));
    this.csvTarget.value = info.target;
    const classes = info.summary.classes ? info.summary.classes.length : 0;
    const vars = {
      n: info.n, d: info.columns.length, target: info.target,
      task: t(`csv.task.${info.task}`), classes,
    };
    // not data-i18n (it has variables): redrawn on a language switch (constructor)
    this.csvInfo.textContent = t(classes ? "csv.info_classes" : "csv.info", vars);
    this.csvInfo.dataset.task = info.task;
    const head = el("tr", {}, info.preview.columns.map((c) => el("th", { scope: "col" }, c)));
    const rows = info.preview.rows.slice(0, PREVIEW_SHOWN).map((r) => el("tr", {}, r.map((v) => el("td", {}, String(v)))));
    this.csvPreview.append(el("table", { className: "pg-csv-table" },
      el("caption", { "data-i18n": "csv.preview" }, t("csv.preview")), el("thead", {}, head), el("tbody", {}, rows)));
  }

  // Switches the run's dataset to the uploaded table `id` (a rebuild, like any data change).
  useTable(id) {
    this.dataset.value = CUSTOM;
    this.draws.dataset(CUSTOM, { id });
    this.refreshLoss();
    this.refreshFeatures();
    this.refreshCustom();
    this.fire(true);
  }

  // n and noise do not apply to custom data (the table decides): their row is hidden.
  refreshCustom() {
    if (this.sizeRow) this.sizeRow.style.display = this.dataset.value === CUSTOM ? "none" : "";
  }

  refreshFeatures() {
    // style, not the hidden attribute: .field sets its own display
    if (this.featuresField) this.featuresField.style.display = featuresApply(this.catalog, this.dataset.value) ? "" : "none";
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
    this.widthErrors = [];
    const rows = el("div", { className: "pg-layers" });
    this.hidden.forEach((width, k) => {
      const input = el("input", {
        type: "number", min: 1, max: maxUnits, step: 1, value: String(width),
        "data-testid": `width-${k}`, "aria-label": pt("pg.layer_n", { n: k + 1 }),
      });
      // an invalid width is marked (allowed range) and the layer keeps its last valid width
      const check = (event) => {
        const v = parseParam(this.fields.width, input.value);
        const error = checkParam({ ...this.fields.width, name: pt("pg.layer_n", { n: k + 1 }) }, v);
        this.widthErrors[k] = error;
        markInvalid(input, error);
        if (!error) { this.hidden[k] = v; this.fire(event.type === "change"); }
      };
      input.addEventListener("input", check);
      input.addEventListener("change", check);
      const minus = el("button", { type: "button", className: "pg-mini", "data-testid": `width-${k}-minus`, "aria-label": "−" }, "−");
      const plus = el("button", { type: "button", className: "pg-mini", "data-testid": `width-${k}-plus`, "aria-label": "+" }, "+");
      minus.addEventListener("click", () => { if (this.hidden[k] > 1) { this.hidden[k] -= 1; this.drawHidden(); this.fire(); } });
      plus.addEventListener("click", () => { if (this.hidden[k] < maxUnits) { this.hidden[k] += 1; this.drawHidden(); this.fire(); } });
      rows.append(el("div", { className: "pg-layer", "data-error-host": "" },
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
    const num = (input) => this.val(input);
    // A parameter grid counts only for the component it was drawn for: an event that fires
    // between a select's new value and the redraw of its grid (e.g. another field's "change"
    // on blur) must not send the old component's parameters under the new name.
    const params = (key) => {
      const select = this.selects[key];
      if (!this.params[key] || (select && this.paramsOf[key] !== select.value)) return {};
      return this.params[key].valid();
    };
    cfg.dataset = {
      name: this.dataset.value, n: num(this.n), noise: num(this.noise),
      val_fraction: num(this.valSplit), normalize: this.normalize.value, params: params("dataset"),
      features: featuresApply(this.catalog, this.dataset.value)
        ? this.featureBoxes.filter((b) => b.checked).map((b) => b.value) : [...DEFAULT_FEATURES],
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
    cfg.optimizer = { name: this.optimizer.value, lr: this.lrControl.valid().lr, ...params("optimizer") };
    cfg.schedule = { name: this.schedule.value, warmup_steps: num(this.warmup), ...params("schedule") };
    cfg.regularization = { ...cfg.regularization, ...params("regularization") };
    cfg.batch_size = num(this.batchSize);
    cfg.seed = num(this.seed);
    cfg.grad_clip = { ...cfg.grad_clip, mode: this.clip.value, ...params("grad_clip") };
    return this.crossCheck(cfg);
  }

  // Batch norm needs batches of >= 2 (the server's rule): a batch size < 2 typed with batch
  // norm on is marked at the batch-size field and the run keeps its last valid batch size; batch
  // norm switched on over a batch size of 1 is marked at the checkbox and stays off.
  crossCheck(cfg) {
    const typed = parseParam(this.fields.batch_size, this.batchSize.value);
    const ownError = this.checks.get(this.batchSize).error();
    if (this.batchNorm.checked && !ownError && typed !== undefined && typed < 2) {
      const prev = this.cfg.batch_size;
      if (prev >= 2) {
        markInvalid(this.batchSize, checkParam(batchNormProblem(true, typed), typed));
        cfg.batch_size = prev;
        return cfg;
      }
      markInvalid(this.batchNorm, checkParam(batchNormProblem(true, typed), typed));
      cfg.model.batch_norm = false;
      return cfg;
    }
    if (!ownError) markInvalid(this.batchSize, null);
    markInvalid(this.batchNorm, null);
    return cfg;
  }
}
