"""What the playground's time-series charts draw is the run's history, trace by trace.

The test trains a run in the page (play, then pause), reads every Plotly trace of every
time-series chart (``element.data``) and compares each point with ``GET /api/runs/{id}/history``
at the same step: train vs validation, loss vs data loss vs penalty, accuracy, planned vs
actual learning rate, per-layer gradient norms and update ratios, the log10 gradient heatmap
and the zero fractions. A trace wired to the wrong field, layer or step fails.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.playground_util import open_playground, run_id, wait_for_api

pytestmark = pytest.mark.e2e

# Binary data with a validation split, two hidden layers (three per-layer traces), L1 + L2
# (loss != data loss, penalty > 0, exact zeros from the proximal step) and a step schedule
# (the rate changes during the run).
URL = (
    "/?dataset=circle&n=200&hidden=8,8&activation=tanh&optimizer=sgd&lr=0.1"
    "&schedule=step&schedule.step_size=20&schedule.gamma=0.5&l1=0.01&l2=0.01&batch_size=10&seed=3"
)
SERIES_CHARTS = [
    "chart-loss",
    "chart-accuracy",
    "chart-lr",
    "chart-grad-norm",
    "chart-update-ratio",
    "chart-grad-heatmap",
    "chart-zeros",
]
TRACES_JS = """(id) => {
  const gd = document.querySelector(`[data-testid="${id}"]`);
  const arr = (a) => (a ? Array.from(a) : null);
  return (gd.data || []).map((t) => ({
    name: t.name, type: t.type, x: arr(t.x), y: arr(t.y), z: t.z ? t.z.map(arr) : null,
  }));
}"""
# Trace names in the page language, from the page's own message catalog (same module instance).
NAMES_JS = """async (layers) => {
  const m = await import("/static/js/playground/messages.js");
  const c = await import("/static/js/playground/charts.js");
  const keys = ["train", "val", "data_loss", "penalty", "planned", "actual", "exact_zero",
                "near_zero"];
  const out = Object.fromEntries(keys.map((k) => [k, m.pt(`pg.trace.${k}`)]));
  out.layers = layers.map((name) => c.layerLabel(name));
  return out;
}"""
# Every series chart shows the last record (hidden charts catch up within a few seconds).
CAUGHT_UP_JS = """([ids, last]) => ids.every((id) => {
  const data = document.querySelector(`[data-testid="${id}"]`).data;
  if (!data || !data.length) return false;
  return data.some((t) => t.x && t.x.length && t.x[t.x.length - 1] === last);
})"""


def positive(v: Any) -> Any:
    """The log-scale charts drop values <= 0 (drawn as gaps)."""
    return v if v is not None and v > 0 else None


def same(got: Any, want: Any) -> bool:
    if want is None or (isinstance(want, float) and not math.isfinite(want)):
        return got is None
    return got is not None and math.isclose(got, want, rel_tol=1e-12, abs_tol=0.0)


class History:
    """``GET /history`` columns indexed by step."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.cols = body
        self.row = {step: i for i, step in enumerate(body["step"])}

    def value(self, field: str, step: int, layer: int | None = None) -> Any:
        v = self.cols[field][self.row[step]]
        return v if layer is None else v[layer]

    def differ(
        self, a: str, b: str, layer_a: int | None = None, layer_b: int | None = None
    ) -> bool:
        """Precondition: two fields differ somewhere (else swapping them could not fail)."""
        return any(not same(self.value(a, s, layer_a), self.value(b, s, layer_b)) for s in self.row)


def check_trace(
    trace: dict[str, Any],
    hist: History,
    field: str,
    layer: int | None = None,
    transform: Any = None,
) -> int:
    """Every drawn point equals the history at its step; returns the number of points."""
    xs, ys = trace["x"], trace["y"]
    assert len(xs) == len(ys) and xs, trace["name"]
    assert xs == sorted(xs), f"{trace['name']}: steps out of order"
    for x, y in zip(xs, ys, strict=True):
        assert x in hist.row, f"{trace['name']}: step {x} is not in the history"
        want = hist.value(field, x, layer)
        if transform is not None:
            want = transform(want)
        assert same(y, want), f"{trace['name']} at step {x}: drawn {y}, history {field} {want}"
    return len(xs)


def by_name(traces: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [t for t in traces if t["name"] == name]
    assert len(found) == 1, f"expected one trace {name!r}, got {[t['name'] for t in traces]}"
    return found[0]


def train_in_page(page: Page, live_server: str) -> tuple[Page, History, dict[str, Any]]:
    """A run trained in the page by play + pause, every chart caught up; (page, history, names)."""
    open_playground(page, URL)
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=step-counter]').dataset.step) >= 60",
        timeout=20000,
        polling=100,
    )
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused", timeout=15000)
    rid = run_id(page)
    detail = wait_for_api(live_server, rid, lambda d: d["status"] == "paused", "pause")
    step = detail["step"]
    assert step >= 60, detail
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", str(step))
    page.wait_for_function(CAUGHT_UP_JS, arg=[SERIES_CHARTS, step - 1], timeout=15000, polling=100)
    body = httpx.get(f"{live_server}/api/runs/{rid}/history").json()
    hist = History(body)
    assert body["step"] == list(range(step))  # short run: every step, no decimation
    names = page.evaluate(NAMES_JS, body["layers"])
    save_screenshot(page, "playground-values")
    return page, hist, names


def traces(page: Page, testid: str) -> list[dict[str, Any]]:
    return list(page.evaluate(TRACES_JS, testid))


def check_loss_chart(trained: tuple[Page, History, dict[str, Any]]) -> None:
    page, hist, n = trained
    assert hist.differ("loss", "val_loss") and hist.differ("loss", "data_loss")
    drawn = traces(page, "chart-loss")
    assert sorted(t["name"] for t in drawn) == sorted(
        [n["train"], n["val"], n["data_loss"], n["penalty"]]
    )
    # the loss axis is logarithmic by default: values <= 0 are gaps
    log = page.evaluate(
        "() => document.querySelector('[data-testid=chart-loss]').layout.yaxis.type"
    )
    tf = positive if log == "log" else None
    points = check_trace(by_name(drawn, n["train"]), hist, "loss", transform=tf)
    assert points == len(hist.row)
    check_trace(by_name(drawn, n["val"]), hist, "val_loss", transform=tf)
    check_trace(by_name(drawn, n["data_loss"]), hist, "data_loss", transform=tf)
    check_trace(by_name(drawn, n["penalty"]), hist, "reg_loss", transform=tf)


def check_accuracy_chart(
    trained: tuple[Page, History, dict[str, Any]],
) -> None:
    page, hist, n = trained
    assert hist.differ("train_acc", "val_acc")
    drawn = traces(page, "chart-accuracy")
    assert sorted(t["name"] for t in drawn) == sorted([n["train"], n["val"]])
    assert check_trace(by_name(drawn, n["train"]), hist, "train_acc") == len(hist.row)
    assert check_trace(by_name(drawn, n["val"]), hist, "val_acc") == len(hist.row)


def check_lr_chart(trained: tuple[Page, History, dict[str, Any]]) -> None:
    page, hist, n = trained
    lrs = [hist.value("lr", s) for s in sorted(hist.row)]
    assert lrs[0] == 0.1 and lrs[19] == 0.1 and lrs[20] == 0.05  # the schedule steps
    drawn = traces(page, "chart-lr")
    assert sorted(t["name"] for t in drawn) == sorted([n["planned"], n["actual"]])
    assert check_trace(by_name(drawn, n["actual"]), hist, "lr") == len(hist.row)
    # the plan covers the steps trained so far (and beyond) with the rates actually used
    planned = by_name(drawn, n["planned"])
    plan = dict(zip(planned["x"], planned["y"], strict=True))
    assert max(plan) > max(hist.row)
    for step in hist.row:
        if step in plan:
            assert same(plan[step], hist.value("lr", step)), f"planned lr at step {step}"
    assert {0, 19, 20, 39, 40} <= set(plan)


def check_per_layer_chart(
    trained: tuple[Page, History, dict[str, Any]],
    testid: str,
    field: str,
) -> None:
    page, hist, n = trained
    layers = n["layers"]
    assert len(layers) == 3
    assert hist.differ(field, field, 0, 1) and hist.differ(field, field, 1, 2)
    drawn = traces(page, testid)
    assert [t["name"] for t in drawn] == layers
    for k, name in enumerate(layers):
        # log axes: a layer with no update yet (ratio undefined) or a 0 is a gap
        assert check_trace(by_name(drawn, name), hist, field, k, positive) == len(hist.row)


def check_heatmap(
    trained: tuple[Page, History, dict[str, Any]],
) -> None:
    page, hist, n = trained
    (heat,) = traces(page, "chart-grad-heatmap")
    assert heat["type"] == "heatmap"
    assert heat["y"] == n["layers"]  # one row per layer, first hidden layer first
    xs = heat["x"]
    assert xs[-1] == max(hist.row) and xs == sorted(xs)
    assert len(heat["z"]) == len(n["layers"])
    for k, row in enumerate(heat["z"]):
        assert len(row) == len(xs)
        for x, z in zip(xs, row, strict=True):
            g = hist.value("grad_norm", x, k)
            want = math.log10(g) if g is not None and g > 0 else None
            assert same(z, want), f"heatmap layer {k} step {x}: drawn {z}, log10 ‖g‖ {want}"


def check_zeros_chart(
    trained: tuple[Page, History, dict[str, Any]],
) -> None:
    page, hist, n = trained
    assert hist.differ("zero_fraction", "near_zero_fraction")
    drawn = traces(page, "chart-zeros")
    assert sorted(t["name"] for t in drawn) == sorted([n["exact_zero"], n["near_zero"]])
    assert check_trace(by_name(drawn, n["exact_zero"]), hist, "zero_fraction") == len(hist.row)
    assert check_trace(by_name(drawn, n["near_zero"]), hist, "near_zero_fraction") == len(hist.row)


def test_every_series_chart_draws_the_history(page: Page, live_server: str) -> None:
    # one trained run for all charts (training in the page is the slow part)
    trained = train_in_page(page, live_server)
    check_loss_chart(trained)
    check_accuracy_chart(trained)
    check_lr_chart(trained)
    check_per_layer_chart(trained, "chart-grad-norm", "grad_norm")
    check_per_layer_chart(trained, "chart-update-ratio", "update_ratio")
    check_heatmap(trained)
    check_zeros_chart(trained)
