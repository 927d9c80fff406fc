// Shared browser code for every GradPlay page (loaded by base.html as /static/js/common.js;
// page modules import it with a relative path so there is exactly one instance).
//
// * i18n + the language toggle (data-testid="lang-toggle"), persisted in localStorage
// * the large-font / projector toggle (data-testid="font-toggle"), persisted in localStorage
// * URL state: a page's configuration lives in the query string (read on load, written with
//   history.replaceState on every change) so a copied link reproduces the view
// * catalog-driven controls: inputs generated from a GET /api/catalog parameter schema
// * charts: Plotly.react with large fonts that follow the font toggle
//
// Playground hand-off format (links from the labs to "/"; the playground page reads these):
//
//   /?schedule=<name>&schedule.<param>=<value>&...&lr=<base lr>&warmup_steps=<int>
//
//   e.g. /?schedule=step&schedule.step_size=30&schedule.gamma=0.1&lr=0.1&warmup_steps=0
//
//   <name> is a schedule name from the catalog; one schedule.<param> per catalog parameter
//   (every parameter is written, defaults included). Values use the same text encoding as all
//   URL state (see formatParam/parseParam): numbers as JS number text, bools "true"/"false",
//   choices as the choice string, float_list/int_list comma-separated ("30,80"), a null
//   (nullable "auto") value as the empty string.

import { LANGS, applyI18n, getLang, initI18n, setLang, t, tOr } from "./i18n.js";

export { applyI18n, getLang, setLang, t, tOr };

// --------------------------------------------------------------------------------------------
// API

export class ApiError extends Error {
  constructor(status, detail) {
    super(ApiError.describe(status, detail));
    this.status = status;
    this.detail = detail;
  }

  static describe(status, detail) {
    if (Array.isArray(detail)) {
      return detail
        .map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`)
        .join("; ");
    }
    return typeof detail === "string" ? detail : `HTTP ${status}`;
  }
}

async function parse(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) throw new ApiError(response.status, payload && payload.detail);
  return payload;
}

export async function getJSON(url) {
  return parse(await fetch(url, { headers: { Accept: "application/json" } }));
}

export async function postJSON(url, body, { signal } = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  return parse(response);
}

// Any method with an optional JSON body (PUT, PATCH, DELETE); answers and errors as postJSON.
export async function sendJSON(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return parse(response);
}

let catalogPromise = null;

// GET /api/catalog, fetched once per page.
export function getCatalog() {
  if (!catalogPromise) catalogPromise = getJSON("/api/catalog");
  return catalogPromise;
}

// --------------------------------------------------------------------------------------------
// small utilities

// fn delayed until `ms` without calls; .cancel() drops a pending call.
export function debounce(fn, ms = 150) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

// Re-run fn whenever the language changes (after the static text has been re-translated).
export function onLangChange(fn) {
  document.addEventListener("gradplay:langchange", fn);
}

// Label/description/help of a catalog component, translated when the message catalog has a
// "catalog.<kind>.<name>.<field>" key, else the catalog's own English text.
export function catalogText(kind, entry, field, paramName) {
  const [key, fallback] = catalogKey(kind, entry, field, paramName);
  return tOr(key, fallback);
}

// [message key, English fallback] of a catalog text (see catalogText). Parameter help:
// "catalog.<kind>.<name>.params.<param>".
export function catalogKey(kind, entry, field, paramName) {
  if (paramName) {
    return [
      `catalog.${kind}.${entry.name}.params.${paramName}`,
      ((entry.params || []).find((p) => p.name === paramName) || {}).help || "",
    ];
  }
  return [`catalog.${kind}.${entry.name}.${field}`, entry[field] || ""];
}

// Short translated name of a parameter shown next to its identifier ("catalog.param.<name>";
// empty in English, where the identifier says it all).
export function paramLabel(name) {
  return tOr(`catalog.param.${name}`, "");
}

// Display text of a choice value ("catalog.choice.<value>", else the value itself).
export function choiceLabel(value) {
  return tOr(`catalog.choice.${value}`, String(value));
}

// Text nodes and titles made from catalog texts carry their key and English fallback, so a
// language switch re-translates them even on pages that do not rebuild their controls:
//   data-catalog-key / data-catalog-fallback              -> textContent
//   data-catalog-title-key / -title-fallback / -title-suffix -> title (text, then suffix)
export function catalogNode(tag, key, fallback, attrs = {}) {
  return el(tag, { ...attrs, "data-catalog-key": key, "data-catalog-fallback": fallback }, tOr(key, fallback));
}

export function setCatalogTitle(node, key, fallback, suffix = "") {
  node.dataset.catalogTitleKey = key;
  node.dataset.catalogTitleFallback = fallback;
  node.dataset.catalogTitleSuffix = suffix || "";
  const title = [tOr(key, fallback), suffix].filter(Boolean).join("\n");
  if (title) node.setAttribute("title", title);
  else node.removeAttribute("title");
}

export function applyCatalogI18n(root = document) {
  for (const node of root.querySelectorAll("[data-catalog-key]")) {
    const text = tOr(node.dataset.catalogKey, node.dataset.catalogFallback || "");
    if (node.textContent !== text) node.textContent = text;
  }
  for (const node of root.querySelectorAll("[data-catalog-title-key]")) {
    setCatalogTitle(node, node.dataset.catalogTitleKey, node.dataset.catalogTitleFallback || "",
      node.dataset.catalogTitleSuffix || "");
  }
}

// --------------------------------------------------------------------------------------------
// URL state

export function readQuery() {
  return new URLSearchParams(window.location.search);
}

// Replaces the query string (no new history entry). `params` is a URLSearchParams or an
// iterable of [key, value] pairs; keys keep their insertion order.
export function writeQuery(params) {
  const search = new URLSearchParams(params).toString();
  const url = `${window.location.pathname}${search ? `?${search}` : ""}${window.location.hash}`;
  window.history.replaceState(window.history.state, "", url);
}

// Text form of a parameter value for the URL (see the format note at the top).
export function formatParam(param, value) {
  if (value === null || value === undefined) return "";
  if (param.type === "float_list" || param.type === "int_list") return value.join(",");
  if (param.type === "bool") return value ? "true" : "false";
  return String(value);
}

function parseNumber(text, integer) {
  const trimmed = String(text).trim();
  if (trimmed === "") return Number.NaN;
  const value = Number(trimmed);
  return integer && Number.isFinite(value) && !Number.isInteger(value) ? Number.NaN : value;
}

// Inverse of formatParam. Returns undefined when the text cannot be a value of this type.
export function parseParam(param, text) {
  if (text === null || text === undefined) return undefined;
  if (param.nullable && String(text).trim() === "") return null;
  switch (param.type) {
    case "float":
    case "int": {
      const value = parseNumber(text, param.type === "int");
      return Number.isFinite(value) ? value : undefined;
    }
    case "bool":
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      return undefined;
    case "choice":
      return (param.choices || []).includes(text) ? text : undefined;
    case "str":
      return String(text).trim();
    case "float_list":
    case "int_list": {
      if (String(text).trim() === "") return [];
      const items = String(text)
        .split(",")
        .map((s) => parseNumber(s, param.type === "int_list"));
      return items.every(Number.isFinite) ? items : undefined;
    }
    default:
      return undefined;
  }
}

function sameValue(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// [key, text] pairs for the parameters of `entry` that differ from their defaults.
export function paramsToQuery(entry, values, prefix) {
  const out = [];
  for (const p of entry.params) {
    if (p.name in values && !sameValue(values[p.name], p.default)) {
      out.push([`${prefix}${p.name}`, formatParam(p, values[p.name])]);
    }
  }
  return out;
}

// Parameter values of `entry` found in the query under `${prefix}<param>` (valid ones only).
export function paramsFromQuery(entry, query, prefix) {
  const out = {};
  for (const p of entry.params) {
    const value = parseParam(p, query.get(`${prefix}${p.name}`));
    if (value !== undefined) out[p.name] = value;
  }
  return out;
}

// Link to the playground carrying one schedule (format documented at the top of this file).
export function playgroundScheduleUrl(entry, values, lr, warmupSteps) {
  const q = new URLSearchParams();
  q.set("schedule", entry.name);
  for (const p of entry.params) {
    const value = p.name in values ? values[p.name] : p.default;
    q.set(`schedule.${p.name}`, formatParam(p, value));
  }
  q.set("lr", String(lr));
  q.set("warmup_steps", String(warmupSteps));
  return `/?${q.toString()}`;
}

// Client-side check against the catalog schema (so obviously bad input never reaches the
// server as a failing request). Returns "name: must be …" (naming the allowed range, choices
// or integer-ness) or null. `param` is a catalog parameter schema {name, type, min, max,
// exclusive_min, exclusive_max, choices, nullable, max_len}; the page's own run fields
// (samples, hidden widths, …) use the same shape.
export function checkParam(param, value) {
  const bad = () => `${param.name}: ${t("controls.invalid", { range: rangeHint(param) || param.type })}`;
  if (value === null) return param.nullable ? null : bad();
  if (value === undefined) return bad();
  if (param.type === "bool") return typeof value === "boolean" ? null : bad();
  if (param.type === "choice") return (param.choices || []).includes(value) ? null : bad();
  if (param.type === "str") {
    return typeof value === "string" && value.length >= 1 && value.length <= (param.max_len ?? Infinity) ? null : bad();
  }
  const items = param.type.endsWith("_list") ? value : [value];
  if (!Array.isArray(items) || items.length > (param.max_len ?? Infinity)) return bad();
  for (const v of items) {
    if (typeof v !== "number" || !Number.isFinite(v)) return bad();
    if (param.type.startsWith("int") && !Number.isInteger(v)) return bad();
    if (param.min !== undefined && param.min !== null
      && (v < param.min || (param.exclusive_min && v === param.min))) return bad();
    if (param.max !== undefined && param.max !== null
      && (v > param.max || (param.exclusive_max && v === param.max))) return bad();
  }
  return null;
}

// All problems of `values` for a catalog entry (empty list: OK to send).
export function checkParams(entry, values) {
  return entry.params.map((p) => checkParam(p, values[p.name])).filter(Boolean);
}

// The text of a field checked against its schema: {value, error}. A text that cannot be a
// value of the type gives value undefined and an error naming the allowed range.
export function checkText(param, text) {
  const value = parseParam(param, text);
  return { value, error: checkParam(param, value) };
}

// Marks the field of `input` invalid with `message` shown under it (its allowed range), or
// clears the mark (message null). The mark is what a person sees: a red border and the text in
// <small class="field-error" data-testid="field-error">; the value never leaves the page.
export function markInvalid(input, message) {
  const host = input.closest(".field, [data-error-host]") || input.parentElement;
  let note = host ? host.querySelector(":scope > .field-error") : null;
  if (!message) {
    if (input.getAttribute("aria-invalid") === "true") input.removeAttribute("aria-invalid");
    if (note) note.remove();
    return;
  }
  input.setAttribute("aria-invalid", "true");
  if (!host) return;
  if (!note) {
    note = el("small", { className: "field-error", "data-testid": "field-error", role: "alert" });
    host.append(note);
  }
  if (note.textContent !== message) note.textContent = message;
}

// Wires live validation to an input holding one value of `param`: on every edit the text is
// checked and the field marked; a valid value is remembered. Returns {value(): last valid
// value, error(): current problem or null, reset(value)}. onValid(value, committed) fires for
// valid edits ("input": committed false; "change": committed true).
export function validateInput(input, param, initial, onValid) {
  let last = initial;
  let error = null;
  const read = () => (param.type === "bool" ? input.checked : checkText(param, input.value).value);
  const check = (event) => {
    const value = param.type === "choice" ? input.value : read();
    error = checkParam(param, value);
    markInvalid(input, error);
    if (!error) {
      last = value;
      if (onValid) onValid(value, event.type === "change");
    }
  };
  input.addEventListener("input", check);
  input.addEventListener("change", check);
  return {
    value: () => last,
    error: () => error,
    reset(value) {
      last = value;
      error = null;
      markInvalid(input, null);
    },
  };
}

// --------------------------------------------------------------------------------------------
// catalog-driven controls

let controlCounter = 0;

function paramInput(param, value, id) {
  const common = { id, name: param.name, "data-testid": `param-${param.name}` };
  if (param.type === "bool") {
    const input = el("input", { ...common, type: "checkbox" });
    input.checked = Boolean(value);
    return input;
  }
  if (param.type === "choice") {
    const select = el("select", common);
    for (const choice of param.choices || []) {
      select.append(catalogNode("option", `catalog.choice.${choice}`, String(choice), { value: choice }));
    }
    select.value = value;
    return select;
  }
  if (param.type === "str") {
    return el("input", { ...common, type: "text", spellcheck: "false", autocomplete: "off", value: formatParam(param, value) });
  }
  if (param.type === "float_list" || param.type === "int_list") {
    return el("input", {
      ...common,
      type: "text",
      inputmode: "decimal",
      spellcheck: "false",
      value: formatParam(param, value),
      "data-i18n-placeholder": "controls.list_placeholder",
      placeholder: t("controls.list_placeholder"),
    });
  }
  const attrs = {
    ...common,
    type: "number",
    step: param.type === "int" ? "1" : "any",
    min: param.min,
    max: param.max,
    value: formatParam(param, value),
  };
  if (param.nullable) {
    attrs["data-i18n-placeholder"] = "controls.auto";
    attrs.placeholder = t("controls.auto");
  }
  return el("input", attrs);
}

function readInput(param, input) {
  if (param.type === "bool") return input.checked;
  if (param.type === "choice") return input.value;
  const value = parseParam(param, input.value);
  // invalid text is sent as-is (NaN -> null in JSON) so the server names the field and range
  return value === undefined ? Number.NaN : value;
}

// The allowed values of a parameter in words: "0 < x ≤ 10", "integer 1 ≤ x ≤ 512", "one of
// a, b" (translated connectives via controls.integer / controls.one_of).
export function rangeHint(param) {
  if (param.type === "bool") return "";
  if (param.type === "choice") return t("controls.one_of", { choices: (param.choices || []).join(", ") });
  if (param.type === "str") return t("csv.text_max", { n: param.max_len });
  const has = (v) => v !== undefined && v !== null;
  const lo = has(param.min) ? `${param.min} ${param.exclusive_min ? "<" : "≤"} ` : "";
  const hi = has(param.max) ? ` ${param.exclusive_max ? "<" : "≤"} ${param.max}` : "";
  const range = lo || hi ? `${lo}x${hi}` : "";
  if (param.type === "int" || param.type === "int_list") {
    return range ? t("controls.integer_range", { range }) : t("controls.integer");
  }
  return range;
}

// Renders labelled inputs for every parameter of a catalog entry into `container`.
// kind: catalog key ("schedules", "activations", ...) used for translated help texts.
// Returns {get(): {param: value}, set(values), element, valid(), errors()}:
//   get()    the values as typed (an unparsable number is NaN, so checkParams names it);
//   valid()  the last valid value of every parameter (what a run or a URL may use);
//   errors() the current problems ("name: must be …"), each also shown at its field.
// onChange(values) fires on edits; onCommit(values), if given, on "change" events (Enter,
// blur, a picked option) of valid fields.
export function buildParamControls(container, kind, entry, { values = {}, onChange, onCommit } = {}) {
  const wrap = el("div", { className: "param-grid", "data-component": entry.name });
  const inputs = [];
  for (const param of entry.params) {
    const id = `param-${++controlCounter}-${param.name}`;
    const value = param.name in values ? values[param.name] : param.default;
    const input = paramInput(param, value, id);
    const [helpKey, helpFallback] = catalogKey(kind, entry, "help", param.name);
    const help = tOr(helpKey, helpFallback);
    const hint = rangeHint(param);
    // the identifier (as in the URL and the API) plus, where translated, a short name
    const label = el("label", { for: id, className: "param-name" },
      catalogNode("span", `catalog.param.${param.name}`, "", { className: "param-tr" }),
      el("span", { className: "param-id" }, param.name));
    const field = el(
      "div",
      { className: `field${param.type === "bool" ? " field-check" : ""}`, title: hint || null },
      param.type === "bool" ? [input, label] : [label, input],
      help || helpFallback ? catalogNode("small", helpKey, helpFallback, { className: "help", "data-hint": hint || null }) : null,
    );
    wrap.append(field);
    const check = validateInput(input, param, value, onCommit ? (v, committed) => committed && onCommit(get()) : null);
    inputs.push([param, input, check]);
    const fire = () => onChange && onChange(get());
    input.addEventListener(param.type === "bool" || param.type === "choice" ? "change" : "input", fire);
  }
  if (!entry.params.length) {
    wrap.append(el("p", { className: "muted small", "data-i18n": "controls.no_params" }, t("controls.no_params")));
  }
  function get() {
    const out = {};
    for (const [param, input] of inputs) out[param.name] = readInput(param, input);
    return out;
  }
  function set(newValues) {
    for (const [param, input, check] of inputs) {
      const value = param.name in newValues ? newValues[param.name] : param.default;
      if (param.type === "bool") input.checked = Boolean(value);
      else input.value = formatParam(param, value);
      check.reset(value);
    }
  }
  function valid() {
    const out = {};
    for (const [param, , check] of inputs) out[param.name] = check.value();
    return out;
  }
  function errors() {
    return inputs.map(([, , check]) => check.error()).filter(Boolean);
  }
  container.append(wrap);
  return { get, set, element: wrap, valid, errors };
}

// Fills a <select> with catalog entries (value = name, text = translated label).
export function fillSelect(select, kind, entries, selected) {
  select.replaceChildren(
    ...entries.map((e) => catalogNode("option", ...catalogKey(kind, e, "label"), { value: e.name })),
  );
  if (selected !== undefined) select.value = selected;
}

// --------------------------------------------------------------------------------------------
// font size / projector mode

const FONT_KEY = "gradplay.fontScale";

export function isLargeFont() {
  return document.documentElement.classList.contains("large-font");
}

function applyFont(large) {
  document.documentElement.classList.toggle("large-font", large);
  const button = document.querySelector('[data-testid="font-toggle"]');
  if (button) button.setAttribute("aria-pressed", large ? "true" : "false");
}

function storedFont() {
  try {
    return window.localStorage.getItem(FONT_KEY) === "large";
  } catch {
    return false;
  }
}

function toggleFont() {
  const large = !isLargeFont();
  try {
    window.localStorage.setItem(FONT_KEY, large ? "large" : "normal");
  } catch {
    // not persisted
  }
  applyFont(large);
  redrawAllCharts();
  document.dispatchEvent(new CustomEvent("gradplay:fontchange", { detail: { large } }));
}

// --------------------------------------------------------------------------------------------
// charts

const PALETTE = [
  "#3b6fd8", "#d8573b", "#2e9e5b", "#8a4fd0", "#d19a1f",
  "#1f9fb3", "#c43c8a", "#6b7a8f", "#7fa82b", "#a0522d",
];

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

// The mode bar appears on hover only, and not at all on a phone-width screen (it covered
// chart titles and the controls drawn over charts there).
const CONFIG = { displaylogo: false, responsive: true, displayModeBar: "hover" };
const PHONE_CONFIG = { ...CONFIG, displayModeBar: false };
const charts = new Map(); // element -> {traces, layout}

function whenPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  return new Promise((resolve, reject) => {
    window.addEventListener(
      "load",
      () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js not loaded"))),
      { once: true },
    );
  });
}

function fontSize() {
  return isLargeFont() ? 20 : 14;
}

function axis(base, extra) {
  const size = fontSize();
  return {
    zeroline: false,
    gridcolor: "#e3e7ee",
    automargin: true,
    tickfont: { size },
    ...base,
    ...extra,
    title: { font: { size: size + 1 }, ...((extra && extra.title) || {}) },
  };
}

// ---- readable at any width (issue 9: large text at 1280×720 and a 390 px phone) ---------------
// One mechanism for every chart drawn through drawChart, so no chart needs its own patch:
// * titles (chart and axis) are wrapped with <br> to the width they have (never clipped); the
//   chart title reserves its own room at the top (title.automargin), axis titles sit beyond
//   their tick labels (axis automargin);
// * a legend below the plot sits at the bottom of the chart box (yref "container"): Plotly
//   then reserves its height under the x-axis title instead of drawing it at a fixed paper
//   offset that the tick labels and the axis title of a large font ran into;
// * log axes get one label format: whole decades as powers of ten when the range spans a few
//   decades, else 1-2-5 (or evenly spaced) ticks written out in full; never Plotly's "D"
//   ticks, which mix "0.1" with bare mantissas "2, 5";
// * numeric x tick labels are never rotated: when Plotly would rotate them, or draws labels of
//   an axis (x or y) too close together, the chart is redrawn at once with fewer ticks (and
//   remembers that at this width and font); category labels turn 90° rather than 30°;
// * a plot squeezed by its legend or titles (under 45 % of its box) makes its box taller.

const measureContext = typeof document !== "undefined" ? document.createElement("canvas").getContext("2d") : null;

function textWidth(text, size) {
  const plain = String(text).replace(/<[^>]*>/g, "");
  if (!measureContext) return plain.length * size * 0.6;
  measureContext.font = `${size}px system-ui, sans-serif`;
  return measureContext.measureText(plain).width;
}

// CJK characters may break anywhere; closing punctuation stays with the character before it.
const WRAP_TOKENS = /<[^>]*>|[\u2E80-\u9FFF\uF900-\uFAFF\uFF00-\uFFEF\u3000-\u303F][\u3001\u3002\uFF0C\uFF09\uFF1A\uFF1B\u300D\uFF01\uFF1F]*|\s+|[^\s<\u2E80-\u9FFF\uF900-\uFAFF\uFF00-\uFFEF\u3000-\u303F]+/g;

// Plotly text (may hold <br> and inline tags) broken into lines of at most maxPx at `size` px.
export function wrapText(text, size, maxPx) {
  if (!text || !(maxPx > 0)) return text;
  return String(text).split(/<br\s*\/?>/i).map((line) => {
    if (textWidth(line, size) <= maxPx) return line;
    const lines = [];
    let current = "";
    const tokens = [];
    for (const token of line.match(WRAP_TOKENS) || []) {
      // an opening bracket (and any space after it) stays with what follows it
      if (tokens.length && /^(?:[\uFF08\u300C\u300E\u3010(\[]\s*)+$/.test(tokens[tokens.length - 1])) tokens[tokens.length - 1] += token;
      else tokens.push(token);
    }
    for (const token of tokens) {
      const next = current + token;
      if (current.trim() && !token.startsWith("<") && textWidth(next, size) > maxPx) {
        lines.push(current.trimEnd());
        current = token.trimStart();
      } else {
        current = next;
      }
    }
    if (current.trim()) lines.push(current.trimEnd());
    return lines.join("<br>");
  }).join("<br>");
}

// Text of log-axis tick values, the same shape for every tick of one axis: plain decimals
// ("0.002", "50") or, when some value is very small or large, "2×10⁻⁵" for all.
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

function tickTexts(vals) {
  const tiny = vals.some((v) => v < 1e-4 || v >= 1e6);
  return vals.map((v) => {
    if (!tiny) return String(Number(v.toPrecision(6)));
    const e = Math.floor(Math.log10(v) + 1e-9);
    const m = Number((v / 10 ** e).toPrecision(6));
    const pow = `10${String(e).split("").map((c) => SUPERSCRIPT[c]).join("")}`;
    return m === 1 ? pow : `${m}×${pow}`;
  });
}

// [min, max] of the finite numbers drawn on axis `id` ("x", "y2", ...) that pass `keep`, or
// null; `withZero(trace)`: that trace's extent also takes in 0 (when it has numbers here).
function drawnExtent(traces, id, keep = () => true, withZero = () => false) {
  const letter = id.charAt(0);
  let lo = Infinity;
  let hi = -Infinity;
  for (const trace of traces || []) {
    if ((trace[`${letter}axis`] || letter) !== id) continue;
    const values = trace[letter];
    if (!values || typeof values.length !== "number") continue;
    let numeric = false;
    for (const v of values) {
      if (typeof v === "number" && Number.isFinite(v) && keep(v)) {
        numeric = true;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (numeric && withZero(trace)) {
      lo = Math.min(lo, 0);
      hi = Math.max(hi, 0);
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

// [log10 min, log10 max] of the positive finite values drawn on axis `id` ("x", "y2", ...).
function axisExtent(traces, id) {
  const extent = drawnExtent(traces, id, (v) => v > 0);
  return extent && extent.map(Math.log10);
}

// [min, max] of the finite numbers drawn on linear axis `id`; a bar chart's value axis (y, or x
// for horizontal bars) includes 0, where its bars start; null if the axis has no numbers of its own.
function linearExtent(traces, id) {
  const letter = id.charAt(0);
  return drawnExtent(traces, id, undefined,
    (trace) => trace.type === "bar" && letter === (trace.orientation === "h" ? "x" : "y"));
}

// A tick step remembered from an earlier draw no longer fits this draw's numbers: at most
// `most` labels were meant to fit, and the axis now spans far more steps (a diverging run's
// weights went from ±0.5 to ±10⁴: Plotly drew ~1,000 ticks, measuring each label, and the
// page froze for seconds per draw) or less than half a step (one label or none). Log axes
// (steps in decades) are left alone.
function staleStep(axFix, ax, traces, id) {
  if (axFix.most === undefined || ax.type === "log") return false;
  const extent = Array.isArray(ax.range) ? ax.range : linearExtent(traces, id);
  // a constant series: Plotly pads its range by its own rule, the step was fitted to that
  if (!extent || extent[1] === extent[0]) return false;
  const steps = Math.abs(extent[1] - extent[0]) / axFix.dtick;
  return steps > axFix.most + 1 || steps < 0.5;
}

// Tick settings of a log axis spanning [lo, hi] (log10 units) whose labels, measured by
// labelPx(texts), must fit in `room` px along the axis.
function logAxisTicks(lo, hi, room, labelPx) {
  const pad = hi - lo < 0.3 ? 0.05 + (hi - lo) * 0.1 : (hi - lo) * 0.05;
  const [a, b] = [lo - pad, hi + pad];
  const decades = Math.floor(b) - Math.ceil(a) + 1;
  if (decades >= 3) {
    const powers = (step) => {
      const vals = [];
      for (let k = Math.ceil(a / step) * step; k <= b; k += step) vals.push(10 ** k);
      return vals;
    };
    let step = 1;
    while (labelPx(tickTexts(powers(step))) > room && step < 64) step += 1;
    return { dtick: step, tick0: 0, exponentformat: "power", minexponent: 0 };
  }
  for (const mantissas of [[1, 2, 3, 5], [1, 2, 5], [1, 3], [1]]) {
    const vals = [];
    for (let k = Math.floor(a); k <= Math.ceil(b); k += 1) {
      for (const m of mantissas) {
        const v = m * 10 ** k;
        if (Math.log10(v) >= a && Math.log10(v) <= b) vals.push(Number(v.toPrecision(6)));
      }
    }
    const texts = tickTexts(vals);
    if (vals.length >= 2 && labelPx(texts) <= room) return { tickmode: "array", tickvals: vals, ticktext: texts, range: [a, b] };
  }
  // less than a decade (or too little room for 1-2-5): evenly spaced values
  const [x0, x1] = [10 ** a, 10 ** b];
  for (const count of [5, 4, 3, 2]) {
    const raw = (x1 - x0) / count;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw);
    const vals = [];
    for (let v = Math.ceil(x0 / step) * step; v <= x1; v += step) vals.push(Number(v.toPrecision(6)));
    const texts = tickTexts(vals);
    if (vals.length >= 2 && labelPx(texts) <= room) return { tickmode: "array", tickvals: vals, ticktext: texts, range: [a, b] };
  }
  const mid = Number((10 ** ((a + b) / 2)).toPrecision(2));
  return { tickmode: "array", tickvals: [mid], ticktext: tickTexts([mid]), range: [a, b] };
}

// Layout additions that depend on the chart's box {width, height} (see the note above):
// wrapped titles, log ticks, the x tick settings remembered for this width (`fix`).
function fitLayout(merged, traces, box, fix) {
  const size = fontSize();
  if (merged.title && merged.title.text) {
    merged.title = { ...merged.title, text: wrapText(merged.title.text, size + 2, box.width * 0.96 - 12) };
  }
  for (const name of Object.keys(merged)) {
    const match = /^([xy])axis(\d*)$/.exec(name);
    if (!match || !merged[name]) continue;
    let ax = merged[name];
    const letter = match[1];
    const along = letter === "x" ? box.width - 110 : box.height - 130;
    if (ax.title && ax.title.text) {
      ax = { ...ax, title: { ...ax.title, text: wrapText(ax.title.text, size + 1, Math.max(80, along)) } };
    }
    if (ax.type === "log" && !ax.tickvals && ax.tickmode !== "array") {
      const extent = Array.isArray(ax.range) ? ax.range : axisExtent(traces, letter + match[2]);
      if (!extent) {
        // nothing drawn yet: whatever range Plotly picks, a label per decade
        const { dtick: _given, ...rest } = ax;
        ax = { ...rest, dtick: 1, tick0: 0, exponentformat: "power", minexponent: 0 };
      } else {
        const tsize = (ax.tickfont && ax.tickfont.size) || size;
        const labelPx = letter === "x"
          ? (texts) => texts.reduce((sum, s) => sum + textWidth(s, tsize) + tsize, 0)
          : (texts) => texts.length * tsize * 1.9;
        const { dtick: _given, ...rest } = ax;
        const [lo, hi] = [Math.min(...extent), Math.max(...extent)];
        // listed ticks come with the range they were chosen for (padded data extent), else
        // Plotly's tighter autorange drops the outer ones (and spans decades around a
        // constant series, putting every tick on one spot); a given range is kept
        const { range, ...ticks } = logAxisTicks(lo, hi, Math.max(60, along), labelPx);
        ax = { ...rest, ...ticks };
        if (range && !ax.range) ax.range = range;
      }
    }
    if (letter === "x" && ax.autotickangles === undefined) ax = { ...ax, autotickangles: [0, 90] };
    const axFix = fix && fix[name];
    // labels thinned to fit stay level (Plotly keeps an earlier rotation otherwise)
    if (axFix && letter === "x" && (ax.tickangle === undefined || ax.tickangle === "auto")) ax = { ...ax, tickangle: 0 };
    if (axFix && axFix.every && Array.isArray(ax.tickvals)) {
      const keep = (_, i) => i % axFix.every === 0;
      ax = { ...ax, tickvals: ax.tickvals.filter(keep), ticktext: ax.ticktext && ax.ticktext.filter(keep) };
    } else if (axFix && axFix.nticks) {
      ax = { ...ax, nticks: axFix.nticks };
    } else if (axFix && axFix.dtick !== undefined && axFix.from === ax.dtick
        && !staleStep(axFix, ax, traces, letter + match[2])) {
      ax = { ...ax, dtick: axFix.dtick, ...(axFix.tick0 !== undefined ? { tick0: axFix.tick0 } : {}) };
    }
    merged[name] = ax;
  }
  return merged;
}

// After a draw: the axes whose numeric tick labels Plotly rotated (x) or drew too close
// together (x, y), with tick settings that fit them, or null: {xaxis: {nticks} |
// {dtick, from: the dtick it replaces, most: the labels that fit (see staleStep)} |
// {every: keep every k-th of the tickvals}}. `previous`: the fix this draw already had.
function unrotateFix(element, drawn, previous, own) {
  const full = element._fullLayout;
  let fix = null;
  for (const name of Object.keys(full)) {
    const match = /^([xy])axis\d*$/.exec(name);
    if (!match) continue;
    const ax = full[name];
    if (!ax || !ax._vals || !ax.showticklabels || !ax.tickfont) continue;
    if (ax.type === "category" || ax.type === "multicategory") continue;
    const given = drawn[name] || {};
    const asked = (own[name] || {}).tickangle;
    if (asked !== undefined && asked !== "auto") continue; // the chart's own angle
    const labels = ax._vals.filter((v) => v.text !== "");
    const n = labels.length;
    if (n < 2) continue;
    const tsize = ax.tickfont.size;
    const gap = (v, i) => Math.abs(ax.l2p(v.x) - ax.l2p(labels[i - 1].x));
    let allowed;
    if (match[1] === "x") {
      const widths = labels.map((v) => textWidth(v.text, tsize));
      // rotated by Plotly, or (unrotated) less than half a character apart
      const rotated = Boolean((ax._tickAngles || {})[`${ax._id}tick`]);
      const crowded = labels.some((v, i) => i > 0 && gap(v, i) - (widths[i] + widths[i - 1]) / 2 < tsize * 0.5);
      if (!rotated && !crowded) continue;
      allowed = Math.floor(ax._length / (Math.max(...widths) + tsize));
    } else {
      // labels of a y axis closer than a line (powers of ten are drawn 1.25× larger)
      const line = tsize * (labels.some((v) => /<sup>/.test(v.text)) ? 1.6 : 1.2);
      if (!labels.some((v, i) => i > 0 && gap(v, i) < line)) continue;
      allowed = Math.floor(ax._length / (line * 1.3));
    }
    allowed = Math.max(2, Math.min(n - 1, allowed));
    // Plotly may draw a few more ticks than nticks asks for: ask for fewer each time
    const earlier = previous && previous[name] && previous[name].nticks;
    if (earlier && allowed >= earlier) allowed = Math.max(2, earlier - 1);
    let axFix;
    const before = (previous && previous[name]) || {};
    if (before.nticks === 2 && allowed === 2) continue; // as few as it gets
    if (Array.isArray(given.tickvals)) {
      axFix = { every: (before.every || 1) * Math.ceil(n / allowed) };
    } else if (typeof ("from" in before ? before.from : given.dtick) === "number") {
      // the chart's own dtick: a multiple of it
      const raw = given.dtick * n / allowed;
      let dtick = Math.ceil(raw);
      if (ax.type !== "log") {
        const mag = 10 ** Math.floor(Math.log10(raw));
        dtick = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw - 1e-9);
      }
      axFix = { dtick, from: "from" in before ? before.from : given.dtick, most: allowed };
    } else if (ax.type === "linear" && Array.isArray(ax.range) && ax.range[1] !== ax.range[0]) {
      // a nice step (1, 2, 2.5, 4, 5 × 10^k; whole numbers stay whole) giving at most `allowed`
      // labels, but never fewer than 2 (nticks alone jumped from 4 labels to a single one)
      const [r0, r1] = [Math.min(...ax.range), Math.max(...ax.range)];
      const whole = labels.every((v) => Number.isInteger(v.x));
      const count = (d) => Math.floor(r1 / d + 1e-9) - Math.ceil(r0 / d - 1e-9) + 1;
      const steps = [];
      for (let e = Math.floor(Math.log10((r1 - r0) / 50)); e <= Math.ceil(Math.log10(r1 - r0)); e += 1) {
        for (const f of [1, 2, 2.5, 4, 5]) {
          const d = Number((f * 10 ** e).toPrecision(3));
          if (!whole || Number.isInteger(d)) steps.push(d);
        }
      }
      if (!steps.length) steps.push(1);
      const fits = steps.filter((d) => count(d) <= allowed);
      let dtick = fits.length ? fits[0] : steps[steps.length - 1];
      if (count(dtick) < 2) dtick = [...steps].reverse().find((d) => count(d) >= 2) || dtick;
      axFix = { dtick, tick0: 0, from: "from" in before ? before.from : given.dtick, most: allowed };
    } else {
      axFix = { nticks: allowed };
    }
    if (JSON.stringify(axFix) === JSON.stringify(before)) continue; // nothing more to do
    fix = { ...(fix || {}), [name]: axFix };
  }
  return fix;
}

function fullLayout(layout, traces, box, fix) {
  const size = fontSize();
  const merged = {
    // autosize in the layout itself: Plotly.react then sizes the chart to its box as it is at
    // that moment. Without it react re-used the previous width and height, so a redraw after
    // a box change (the font toggle narrows every lab card by ~80 px and makes charts taller)
    // drew the chart at its old size and the page scrolled sideways until a resize caught up.
    autosize: true,
    margin: { l: 64, r: 18, t: 20, b: 52 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "system-ui, sans-serif", size, color: "#1d2230" },
    hoverlabel: { font: { size } },
    ...layout,
  };
  // a legend below the plot: at the bottom of the chart box, under the x-axis title
  const legend = { font: { size }, orientation: "h", y: -1, ...(layout.legend || {}) };
  if (legend.y < 0 && legend.yref !== "container") {
    Object.assign(legend, { yref: "container", y: 0, yanchor: "bottom", x: 0, xanchor: "left" });
  }
  // a long legend is shown whole (the chart grows instead, see fitHeight), never scrolled
  if (legend.orientation === "h" && legend.maxheight === undefined) legend.maxheight = 1;
  merged.legend = legend;
  merged.xaxis = axis({}, layout.xaxis);
  merged.yaxis = axis({}, layout.yaxis);
  for (const name of Object.keys(layout)) {
    if (/^[xy]axis\d+$/.test(name)) merged[name] = axis({}, layout[name]);
  }
  if (layout.title) {
    // the title sits on the plot's top edge and pushes the top margin up as far as its lines
    // need (yanchor "bottom": Plotly shifts the lines of a multi-line title upwards, which with
    // a container-anchored "top" title put the first line above the chart); pad: clear of
    // the top y tick label, which sticks out above the plot by half its height)
    merged.title = { font: { size: size + 2 }, x: 0.02, xanchor: "left", yref: "paper", y: 1,
      yanchor: "bottom", pad: { b: Math.round(size * 1.3) }, automargin: true, ...layout.title };
  }
  return box ? fitLayout(merged, traces, box, fix) : merged;
}

// Every chart follows its box: each draw (Plotly.react with autosize, see fullLayout) takes the
// box's current size, and a ResizeObserver (window resize, a card collapsed or opened, the
// phone layout: box changes without a redraw) re-fits it on the next animation frame.
// Plotly's own "responsive" only listens to window resizes, so a chart whose card changed width
// for any other reason kept its old size (and was clipped or left half the card empty).
const resizePending = new Set();
let resizeFrame = 0;
const resizer = typeof ResizeObserver === "function"
  ? new ResizeObserver((entries) => {
    for (const entry of entries) resizePending.add(entry.target);
    if (resizeFrame) return;
    resizeFrame = requestAnimationFrame(() => {
      resizeFrame = 0;
      const pending = [...resizePending];
      resizePending.clear();
      for (const element of pending) {
        // a hidden (collapsed) chart has no size to fit; it is re-fitted when shown again
        if (!element.isConnected || !element.offsetWidth || !element._fullLayout) continue;
        const full = element._fullLayout;
        if (Math.abs(full.width - element.clientWidth) < 1 && Math.abs(full.height - element.clientHeight) < 1) continue;
        // a redraw, not just Plots.resize: titles and ticks are fitted to the new width
        const drawn = charts.get(element);
        if (drawn) drawChart(element, drawn.traces, drawn.layout).catch(() => {});
        else window.Plotly.Plots.resize(element).catch(() => {});
      }
    });
  })
  : null;

// A plot squeezed by its legend or titles: the box grows (inline min-height) until the plot
// area is MIN_PLOT_SHARE of the box's natural (CSS) height; it shrinks back when no longer
// needed. Small boxes (thumbnails) are left alone. True if the box height changed.
const MIN_PLOT_SHARE = 0.45;

function fitHeight(element) {
  const full = element._fullLayout;
  if (!full || !full._size) return false;
  // the drawn height is the box's (autosize); the DOM is read only for a grown box
  const grown = element.style.minHeight;
  const box = full.height;
  let natural = box;
  if (grown) {
    element.style.minHeight = "";
    natural = element.clientHeight;
    element.style.minHeight = grown;
  }
  if (natural < 200) return false;
  const needed = Math.ceil(natural * MIN_PLOT_SHARE + (box - full._size.h));
  const target = needed > natural + 2 ? `${needed}px` : "";
  if (target === grown || (target && grown && Math.abs(parseFloat(grown) - needed) <= 2)) return false;
  element.style.minHeight = target;
  return element.clientHeight !== box;
}

// Draws (first call) or updates (Plotly.react) a chart at its box's current size; re-rendered
// when the font changes and re-drawn (titles re-wrapped, ticks re-fitted) whenever its box
// changes size. A draw whose x tick labels Plotly rotated, or whose plot is squeezed, is
// redrawn at once with fewer ticks or a taller box (see "readable at any width" above).
export async function drawChart(element, traces, layout = {}) {
  const Plotly = await whenPlotly();
  charts.set(element, { traces, layout });
  const config = window.innerWidth < 700 ? PHONE_CONFIG : CONFIG;
  const box = () => ({ width: element.clientWidth, height: element.clientHeight });
  const key = () => `${element.clientWidth}x${element.clientHeight}|${fontSize()}`;
  let fix = element._tickFix && element._tickFix.key === key() ? element._tickFix.fix : null;
  await Plotly.react(element, traces, fullLayout(layout, traces, box(), fix), config);
  if (element._fullLayout && element.offsetParent !== null) {
    if (fitHeight(element)) {
      fix = element._tickFix && element._tickFix.key === key() ? element._tickFix.fix : null;
      await Plotly.react(element, traces, fullLayout(layout, traces, box(), fix), config);
    }
    // a few rounds at most: each one thins the ticks that still do not fit
    for (let round = 0; round < 3; round += 1) {
      const more = unrotateFix(element, element.layout || {}, fix, layout);
      if (!more) break;
      fix = { ...(fix || {}), ...more };
      element._tickFix = { key: key(), fix };
      await Plotly.react(element, traces, fullLayout(layout, traces, box(), fix), config);
    }
  }
  if (resizer && !element.dataset.resizeObserved) {
    element.dataset.resizeObserved = "true";
    resizer.observe(element);
  }
  // a chart drawn while hidden (no box to measure) keeps its previous size: catch up here
  if (element._fullLayout && element.offsetParent !== null
      && Math.abs(element._fullLayout.width - element.clientWidth) > 1) {
    Plotly.Plots.resize(element).catch(() => {});
  }
  if (element.dataset.state !== "ready") element.dataset.state = "ready";
  return element;
}

function redrawAllCharts() {
  for (const [element, { traces, layout }] of charts) {
    if (element.isConnected) drawChart(element, traces, layout);
    else charts.delete(element);
  }
}

// --------------------------------------------------------------------------------------------
// page chrome

function initChrome() {
  applyFont(storedFont());
  const fontButton = document.querySelector('[data-testid="font-toggle"]');
  if (fontButton) fontButton.addEventListener("click", toggleFont);

  const langButton = document.querySelector('[data-testid="lang-toggle"]');
  if (langButton) {
    langButton.addEventListener("click", () => {
      const next = LANGS[(LANGS.indexOf(getLang()) + 1) % LANGS.length];
      setLang(next);
    });
  }
  // phone: the nav links fold behind a menu button (CSS shows the button below 700 px)
  const navToggle = document.querySelector('[data-testid="nav-toggle"]');
  if (navToggle) {
    navToggle.addEventListener("click", () => {
      const open = navToggle.getAttribute("aria-expanded") !== "true";
      navToggle.setAttribute("aria-expanded", open ? "true" : "false");
      document.querySelector(".nav").classList.toggle("nav-open", open);
    });
  }
  // the Labs menu (base.html): a disclosure; Escape or a click elsewhere closes it
  const labsButton = document.querySelector('[data-testid="nav-labs"]');
  const labsMenu = document.getElementById("nav-labs-menu");
  if (labsButton && labsMenu) {
    const setOpen = (open) => {
      labsButton.setAttribute("aria-expanded", open ? "true" : "false");
      labsMenu.hidden = !open;
    };
    labsButton.addEventListener("click", () => setOpen(labsMenu.hidden));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !labsMenu.hidden) {
        setOpen(false);
        labsButton.focus();
      }
    });
    document.addEventListener("click", (e) => {
      if (!labsMenu.hidden && !labsButton.parentElement.contains(e.target)) setOpen(false);
    });
  }
  applyI18n();
  // registered before any page module's onLangChange handler, so pages see translated nodes
  document.addEventListener("gradplay:langchange", () => applyCatalogI18n());
  document.body.dataset.i18nReady = "true";
}

await initI18n();
initChrome();
