// Playground placeholder: draws one schedule preview to prove the API -> plotly chain works.

import { getJSON, postJSON } from "./api.js";
import { lineChart } from "./plot.js";

async function pickSchedule(el) {
  // Prefer the schedule named in data-schedule; fall back to the first one in the catalog.
  const wanted = el.dataset.schedule;
  try {
    const catalog = await getJSON(el.dataset.catalogUrl);
    const names = (catalog.schedules || []).map((s) => s.name);
    if (names.length && !names.includes(wanted)) return names[0];
  } catch {
    // the catalog is optional here; try the preferred name anyway
  }
  return wanted;
}

async function drawSchedule(el, errorEl) {
  const name = await pickSchedule(el);
  const steps = Number(el.dataset.steps);
  // the data-schedule-params belong to the preferred schedule only
  const params = name === el.dataset.schedule ? JSON.parse(el.dataset.scheduleParams || "{}") : {};
  const body = {
    lr: Number(el.dataset.lr),
    schedule: { name, warmup_steps: Number(el.dataset.warmupSteps), ...params },
    steps,
    seed: 0,
  };
  try {
    const { lr } = await postJSON(el.dataset.previewUrl, body);
    const x = Array.from({ length: lr.length }, (_, i) => i);
    await lineChart(el, [{ x, y: lr, name, line: { color: "#3b6fd8", width: 2 } }], {
      xaxis: { title: { text: "update t" } },
      yaxis: { title: { text: "learning rate" } },
    });
    el.dataset.state = "ready";
  } catch (err) {
    el.dataset.state = "error";
    errorEl.textContent = `Could not draw the schedule: ${err.message}`;
    errorEl.hidden = false;
  }
}

const chart = document.querySelector('[data-testid="schedule-chart"]');
if (chart) {
  drawSchedule(chart, document.querySelector('[data-testid="schedule-chart-error"]'));
}
