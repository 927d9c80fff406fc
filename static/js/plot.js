// Thin wrapper over the vendored plotly.js (loaded by a classic <script defer> as window.Plotly).

const BASE_LAYOUT = {
  margin: { l: 56, r: 16, t: 24, b: 44 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  font: { family: "system-ui, sans-serif", size: 13 },
  xaxis: { zeroline: false, gridcolor: "#e3e7ee" },
  yaxis: { zeroline: false, gridcolor: "#e3e7ee" },
};

const CONFIG = { displaylogo: false, responsive: true };

// Resolves with window.Plotly once the deferred bundle has run.
export function whenPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  return new Promise((resolve, reject) => {
    window.addEventListener(
      "load",
      () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js not loaded"))),
      { once: true },
    );
  });
}

export async function lineChart(element, traces, layout = {}) {
  const Plotly = await whenPlotly();
  const merged = {
    ...BASE_LAYOUT,
    ...layout,
    xaxis: { ...BASE_LAYOUT.xaxis, ...(layout.xaxis || {}) },
    yaxis: { ...BASE_LAYOUT.yaxis, ...(layout.yaxis || {}) },
  };
  const data = traces.map((t) => ({ type: "scatter", mode: "lines", ...t }));
  return Plotly.newPlot(element, data, merged, CONFIG);
}
