// Shared helpers of the labs that drive normal runs side by side from the browser
// (/labs/normalization, /labs/generalization, /labs/batch-size): create / step / delete runs
// under the page's runs URL, a status line with an error line, one action at a time per panel,
// number formatting and plain result tables, and the labs' chart layout (legend above the plot).
//
// Not a page module: no URL state of its own (each page keeps its state in the URL itself).

import { drawChart as drawBase, isLargeFont, postJSON, sendJSON, t } from "../common.js";

// legends above the plot (below it they collide with the x-axis title on narrow screens)
const legend = () => ({ orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: isLargeFont() ? 18 : 13 } });

export const drawChart = (node, traces, layout) =>
  drawBase(node, traces, { legend: legend(), margin: { l: 64, r: 18, t: 44, b: 52 }, ...layout });

// `digits` decimals; very small or large magnitudes as exponentials; non-finite as text.
export function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "—";
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(digits);
}

// The runs API under `runsUrl` (the page's data-runs-url, /api/runs).
export function runsApi(runsUrl) {
  return {
    // POST /api/runs: the new run's id
    createRun: async (config) => (await postJSON(runsUrl, config)).id,
    // POST .../step: the step records
    step: async (id, steps) => (await postJSON(`${runsUrl}/${id}/step`, { steps })).records,
    // a run already gone (expired, evicted) is fine: DELETE only frees its quota slot
    dropRun: (id) => (id ? sendJSON("DELETE", `${runsUrl}/${id}`).catch(() => null) : null),
  };
}

// The page's status line ("<prefix>.status.busy" / ".ready" while any action runs) and its
// error line. `guarded(buttons, fn)` runs one action at a time per panel (its buttons disabled
// meanwhile); errors go to the page's error line.
export function statusLine(statusEl, errorEl, prefix) {
  let busy = 0;

  function showError(err) {
    errorEl.hidden = false;
    errorEl.textContent = err instanceof Error ? err.message : String(err);
  }

  function setBusy(delta) {
    busy += delta;
    statusEl.dataset.status = busy > 0 ? "busy" : "ready";
    statusEl.textContent = t(busy > 0 ? `${prefix}.status.busy` : `${prefix}.status.ready`);
  }

  function guarded(buttons, fn) {
    return async (...args) => {
      buttons.forEach((b) => (b.disabled = true));
      setBusy(1);
      try {
        await fn(...args);
      } catch (err) {
        showError(err);
      } finally {
        setBusy(-1);
        buttons.forEach((b) => (b.disabled = false));
      }
    };
  }

  return { showError, setBusy, guarded };
}

// A header row and one row per entry of `rows`: numbers through fmt(·, digits), null as
// `nullText`, anything else as text.
export function table(node, head, rows, { digits = 4, nullText = "—" } = {}) {
  node.replaceChildren();
  const tr = document.createElement("tr");
  for (const h of head) {
    const th = document.createElement("th");
    th.textContent = h;
    tr.append(th);
  }
  node.append(tr);
  for (const row of rows) {
    const r = document.createElement("tr");
    for (const cell of row) {
      const td = document.createElement("td");
      td.textContent = cell === null ? nullText : typeof cell === "number" ? fmt(cell, digits) : cell;
      r.append(td);
    }
    node.append(r);
  }
}
