// Pinned runs of the playground (issue 11, "compare runs"): up to MAX_PINS earlier runs stay
// on every time-series chart (and the weight histograms) as faint traces with a label, while
// a new run trains beside them.
//
// A pin is a normal server run owned by the browser (it counts against
// GRADPLAY_MAX_RUNS_PER_CLIENT): pinning pauses the current run, keeps it on the server and
// starts a new current run with the same config (same seed); unpinning deletes it. Its curves
// are the engine's own records, read once from GET /api/runs/{id}/history (never re-derived
// here), its histograms from GET /api/runs/{id}/snapshot at the pinned step.
//
// URL state: pin <n> (n = 1..MAX_PINS, stable while pinned) is written as
//   pin<n>.<key>=<value>   the run's initial config in the playground's own URL keys
//                          (controls.js queryFromConfig of the export's `config`)
//   pin<n>.step=<int>      the step it was pinned at
//   pin<n>.events=<json>   its event log (live changes and weight edits with their steps),
//                          only when it has one
// e.g. ?dataset=circle&…&pin1.dataset=circle&…&pin1.optimizer=adam&pin1.lr=0.01&pin1.step=200
// A shared link rebuilds each pin exactly with POST /api/runs/import {config, events, step}:
// the server replays the config and the event log to the step (bit-for-bit, like an export),
// so live changes need no second code path. A pin whose keys do not read back exactly, or that
// the server refuses, is dropped and named (the page's "link-dropped" notice); the rest is
// restored. Only the configs travel in the link, never the data.
//
// Cost while playing: each pin's arrays are built once (when it is pinned or rebuilt) as thinned
// exact recorded values (at most PIN_POINTS per curve, fewer per layer for deep nets) and handed
// to the charts unchanged (cached per chart mapping, e.g. log scale). Plotly has no static layer:
// it redraws them with each redraw of a chart; the charts' duty cycle (charts.js) bounds the total
// drawing time, so pins lower the redraw rate rather than raise the main thread's share.

import { readLink } from "./controls.js";

export const MAX_PINS = 3;
export const PIN_POINTS = 400;
// history fields drawn for a pin (GET .../history?fields=)
export const PIN_FIELDS = [
  "loss", "val_loss", "data_loss", "reg_loss", "train_acc", "val_acc", "lr",
  "zero_fraction", "near_zero_fraction", "grad_norm", "update_ratio",
];
const LAYER_FIELDS = ["grad_norm", "update_ratio"];
// one colour per pin number (not used by the live traces: common.js PALETTE 5, 6, 9)
export const PIN_COLORS = ["#1f9fb3", "#c43c8a", "#a0522d"];
export const MAX_PIN_STEP = 200000; // the server's max_import_steps default

const PIN_KEY = /^pin(\d+)\.(.+)$/;

export function pinColor(n) {
  return PIN_COLORS[(n - 1) % PIN_COLORS.length];
}

// Splits a link into the playground's own keys and the pins' keys: {main: URLSearchParams,
// pins: Map(n -> URLSearchParams of that pin's keys without the "pin<n>." prefix)}; keys
// like pin7.* (n outside 1..MAX_PINS) stay in `main` so the page names them as unknown.
export function splitPinQuery(query) {
  const main = new URLSearchParams();
  const pins = new Map();
  for (const [key, value] of query) {
    const m = PIN_KEY.exec(key);
    const n = m ? Number(m[1]) : 0;
    if (m && n >= 1 && n <= MAX_PINS && String(n) === m[1]) {
      if (!pins.has(n)) pins.set(n, new URLSearchParams());
      pins.get(n).append(m[2], value);
    } else {
      main.append(key, value);
    }
  }
  return { main, pins: new Map([...pins.entries()].sort((a, b) => a[0] - b[0])) };
}

// Reads one pin of a link: {pin: {n, config, events, step}} or {error: reason}. A pin must
// read back exactly (every key valid, nothing unknown), else it could not be the same run.
export function readPin(n, params, catalog) {
  const rest = new URLSearchParams();
  let step;
  let events = [];
  let stepText = null;
  let eventsText = null;
  for (const [key, value] of params) {
    if (key === "step") stepText = value;
    else if (key === "events") eventsText = value;
    else rest.append(key, value);
  }
  if (stepText === null) return { error: `pin${n}.step: missing` };
  step = Number(stepText.trim());
  if (stepText.trim() === "" || !Number.isInteger(step) || step < 1 || step > MAX_PIN_STEP) {
    return { error: `pin${n}.step: must be an integer with 1 <= x <= ${MAX_PIN_STEP}` };
  }
  if (eventsText !== null) {
    try {
      events = JSON.parse(eventsText);
    } catch {
      events = null;
    }
    if (!Array.isArray(events) || events.some((e) => !e || typeof e !== "object" || Array.isArray(e))) {
      return { error: `pin${n}.events: must be a JSON list of {step, patch|weights}` };
    }
  }
  const { config, dropped } = readLink(rest, catalog);
  if (dropped.length) {
    const what = dropped.map((d) => `pin${n}.${d.key}${d.reason ? `: ${d.reason}` : ""}`).join(", ");
    return { error: what };
  }
  return { pin: { n, config, events, step } };
}

// Query pairs of a pin: its config pairs with the pin<n>. prefix, its step and events.
export function pinPairs(pin) {
  const out = pin.pairs.map(([k, v]) => [`pin${pin.n}.${k}`, v]);
  out.push([`pin${pin.n}.step`, String(pin.step)]);
  if (pin.events && pin.events.length) out.push([`pin${pin.n}.events`, JSON.stringify(pin.events)]);
  return out;
}

// Lowest pin number not in use, or 0 when MAX_PINS are pinned.
export function freePinNumber(pins) {
  for (let n = 1; n <= MAX_PINS; n += 1) if (!pins.some((p) => p.n === n)) return n;
  return 0;
}

// Evenly spaced indices of `n` items, at most `cap` of them, the last always included.
function spaced(n, cap) {
  if (n <= cap) return Array.from({ length: n }, (_, i) => i);
  const every = Math.ceil(n / cap);
  const out = [];
  for (let i = 0; i < n; i += every) out.push(i);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

// A drawable series of one scalar column: the rows where it was recorded (validation fields
// only every eval_every steps), thinned to at most `cap` exact values. x: steps.
export function pinSeries(steps, values, cap = PIN_POINTS) {
  const keep = [];
  for (let i = 0; i < values.length; i += 1) if (values[i] !== null && values[i] !== undefined) keep.push(i);
  const picked = spaced(keep.length, cap).map((j) => keep[j]);
  return { x: picked.map((i) => steps[i]), y: picked.map((i) => values[i]) };
}

// Columns of GET .../history -> {field: {x, y}} and, per-layer fields, {field: [{x, y}, ...]}
// (at most `cap` points per curve; per-layer curves at most max(50, 3 cap / layers) each).
export function seriesFromHistory(cols, cap = PIN_POINTS) {
  const steps = cols.step || [];
  const out = { lastStep: steps.length ? steps[steps.length - 1] : 0 };
  for (const field of PIN_FIELDS) {
    const column = cols[field];
    if (!column) continue;
    if (LAYER_FIELDS.includes(field)) {
      const first = column.find((row) => Array.isArray(row));
      const n = first ? first.length : 0;
      // deep nets: fewer points per layer, so a pin adds at most ~3 curves' worth per chart
      const each = Math.min(cap, Math.max(50, Math.floor((3 * cap) / Math.max(1, n))));
      out[field] = Array.from({ length: n }, (_, k) => pinSeries(steps, column.map((row) => (row ? row[k] : null)), each));
    } else {
      out[field] = pinSeries(steps, column, cap);
    }
  }
  return out;
}
