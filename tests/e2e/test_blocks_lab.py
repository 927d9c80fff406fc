"""Browser tests of /labs/blocks: activations (with the engine's saturated regions shaded),
identity vs tanh boundaries, softmax overflow, loss curves and the outlier fits, and the
calculators. Numbers read from the page are compared with the API and with torch's goldens."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOT_DIR, save_screenshot
from tests.e2e.test_i18n import wait_no_english

pytestmark = pytest.mark.e2e

GOLDEN = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "golden_blocks.json").read_text()
)
TRACES = "el => (el.data || []).filter(t => t.meta).map(t => ({meta: t.meta, x: t.x, y: t.y}))"


def open_lab(page: Page, query: str = "") -> None:
    page.goto(f"/labs/blocks{query}")
    expect(page.get_by_test_id("blocks-lab")).to_have_attribute(
        "data-state", "ready", timeout=30000
    )


def traces(page: Page, chart: str) -> list[dict[str, Any]]:
    return page.get_by_test_id(chart).evaluate(TRACES)


def no_sideways_scroll(page: Page) -> None:
    """Waits (up to 10 s: charts re-fit through a ResizeObserver and Plotly) until the page
    does not scroll sideways, then asserts it."""
    with contextlib.suppress(PlaywrightError):  # the assert says by how much
        page.wait_for_function(
            "() => document.documentElement.scrollWidth <= window.innerWidth", timeout=10000
        )
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_page_loads_and_every_panel_draws(page: Page) -> None:
    open_lab(page)
    # activations: the default three, f and f', shaded where the engine says "saturated"
    drawn = traces(page, "chart-act-f")
    assert [t["meta"]["name"] for t in drawn] == ["sigmoid", "tanh", "relu"]
    shapes = page.get_by_test_id("chart-act-f").evaluate("el => el.layout.shapes.length")
    api = {
        name: page.request.get(f"/api/activations/{name}/curve?x_min=-6&x_max=6&n=241").json()
        for name in ("sigmoid", "tanh", "relu")
    }
    assert shapes == sum(len(a["saturated"]) for a in api.values()) == 4
    for t in drawn:
        assert t["y"] == api[t["meta"]["name"]]["y"]
        assert t["meta"]["saturated"] == api[t["meta"]["name"]]["saturated"]
    row = page.get_by_test_id("blk-act-row-tanh")
    expect(row.get_by_test_id("range")).to_have_text("(-1, 1)")
    expect(row.get_by_test_id("zero")).to_have_text("yes")
    expect(page.get_by_test_id("blk-act-row-sigmoid").get_by_test_id("zero")).to_have_text("no")
    # softmax: the engine's probabilities
    expect(page.get_by_test_id("blk-softmax")).to_have_attribute("data-state", "ready")
    sm = page.request.post("/api/labs/softmax", data={"logits": [2, 1, 0.1, -1]}).json()
    bars = traces(page, "chart-softmax")
    assert bars[0]["y"] == sm["probabilities"]
    expect(page.get_by_test_id("blk-sm-overflow")).to_be_hidden()
    # losses: value and derivative curves of the engine
    expect(page.get_by_test_id("blk-losses")).to_have_attribute("data-state", "ready")
    huber = page.request.post(
        "/api/labs/loss-curve", data={"name": "huber", "params": {"delta": 1}, "n": 241}
    ).json()
    d = {t["meta"]["name"]: t for t in traces(page, "chart-loss-residual-d")}
    assert set(d) == {"mse", "mae", "smooth_l1", "huber"}
    assert d["huber"]["y"] == huber["derivative"]
    prob = {t["meta"]["name"] for t in traces(page, "chart-loss-prob")}
    assert prob == {"bce", "cross_entropy"}
    # calculators: the notes' 5, 3, 0, 2 → 2 by default; counts equal torch's numel sums
    out = page.get_by_test_id("blk-cv-out")
    expect(out).to_have_attribute("data-w", "2")
    expect(out).to_have_attribute("data-h", "2")
    mlp = next(c for c in GOLDEN["param_counts"] if c["sizes"] == [784, 128, 64, 10] and c["bias"])
    expect(page.get_by_test_id("blk-mlp-total")).to_have_attribute("data-total", str(mlp["total"]))
    cnn = GOLDEN["param_counts"][4]
    assert cnn["input_size"] == 28 and len(cnn["layers"]) == 2
    expect(page.get_by_test_id("blk-cnn-total")).to_have_attribute("data-total", str(cnn["total"]))
    it = page.get_by_test_id("blk-it-out")
    expect(it).to_have_attribute("data-keep", "196")
    expect(it).to_have_attribute("data-drop", "195")
    save_screenshot(page, "blocks-default")


def test_softmax_large_logits_show_the_overflow(page: Page) -> None:
    open_lab(page)
    page.get_by_test_id("blk-sm-large").click()
    warn = page.get_by_test_id("blk-sm-overflow")
    expect(warn).to_be_visible()
    expect(warn).to_contain_text("3")
    for i in range(3):
        expect(page.get_by_test_id(f"blk-sm-row-{i}").get_by_test_id("naive")).to_contain_text(
            "overflow"
        )
    expect(page.get_by_test_id("blk-sm-row-3").get_by_test_id("naive")).to_have_text("1")
    api = page.request.post(
        "/api/labs/softmax", data={"logits": [1000, 999, 998, 0], "target": 0}
    ).json()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"chart-softmax\"]').data[0].y[0] > 0.6"
    )
    stable = traces(page, "chart-softmax")[0]["y"]
    assert stable == api["probabilities"]
    grad = page.get_by_test_id("blk-sm-row-0").get_by_test_id("grad").inner_text()
    assert float(grad) == pytest.approx(api["gradient"][0], rel=1e-5)
    assert "logits=1000%2C999%2C998%2C0" in page.url
    page.get_by_test_id("blk-softmax").screenshot(
        path=str(SCREENSHOT_DIR / "blocks-softmax-overflow.png")
    )


def test_conv_calculator_and_notes_preset(page: Page) -> None:
    open_lab(page, "?cv=7,6,3,1,2,1&kind=pool&ceil=1")
    out = page.get_by_test_id("blk-cv-out")
    api = page.request.post(
        "/api/labs/conv-shape",
        data={
            "input_size": 7,
            "kernel_size": 3,
            "padding": 1,
            "stride": 2,
            "kind": "pool",
            "ceil_mode": True,
        },
    ).json()
    expect(out).to_have_attribute("data-w", str(api["output_size"]))
    expect(page.get_by_test_id("blk-cv-kind")).to_have_value("pool")
    page.get_by_test_id("blk-cv-notes").click()
    expect(out).to_have_attribute("data-w", "2")
    expect(out).to_have_text("Output: 2 × 2")
    expect(page.get_by_test_id("blk-cv-formula-w")).to_contain_text("(5 - 3 + 2*0)/2")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=\"chart-conv-grid\"]').data || [])"
        ".some(t => t.meta && t.meta.count === 4)"
    )
    starts = next(t for t in traces(page, "chart-conv-grid") if t["meta"]["kind"] == "starts")
    assert sorted(zip(starts["x"], starts["y"], strict=True)) == [(0, 0), (0, 2), (2, 0), (2, 2)]
    assert "cv=5%2C5%2C3%2C0%2C2%2C1" in page.url and "kind=conv" in page.url
    page.get_by_test_id("blk-calc").screenshot(path=str(SCREENSHOT_DIR / "blocks-calc.png"))


def _logit_plane_residual(z: list[list[float]]) -> float:
    """RMS residual of logit(p) fitted by a plane a·i + b·j + c (where 0.02 < p < 0.98)."""
    p = np.asarray(z, dtype=float)
    i, j = np.meshgrid(np.arange(p.shape[1]), np.arange(p.shape[0]))
    keep = (p > 0.02) & (p < 0.98)
    logit = np.log(p[keep] / (1 - p[keep]))
    a = np.column_stack([i[keep], j[keep], np.ones(keep.sum())])
    coef, *_ = np.linalg.lstsq(a, logit, rcond=None)
    return float(np.sqrt(np.mean((a @ coef - logit) ** 2)) / (np.std(logit) + 1e-12))


def test_identity_stack_draws_a_straight_boundary(page: Page) -> None:
    open_lab(page)
    page.get_by_test_id("blk-nl-train").click()
    expect(page.get_by_test_id("blk-nl-status")).to_have_attribute(
        "data-state", "trained", timeout=120000
    )
    surfaces = {}
    for name in ("identity", "tanh"):
        surfaces[name] = page.get_by_test_id(f"chart-nl-{name}").evaluate(
            "el => el.data.find(t => t.meta && t.meta.kind === 'surface').z"
        )
    # identity: logit(p) is exactly affine in (x1, x2), so p = 0.5 is a straight line
    assert _logit_plane_residual(surfaces["identity"]) < 1e-6
    # tanh: far from affine (a closed curve around the disc)
    assert _logit_plane_residual(surfaces["tanh"]) > 0.3
    page.get_by_test_id("blk-activations").screenshot(
        path=str(SCREENSHOT_DIR / "blocks-nonlinearity.png")
    )


def test_outliers_pull_the_mse_fit(page: Page) -> None:
    open_lab(page, "?out=0.2")
    page.get_by_test_id("blk-out-fit").click()
    expect(page.get_by_test_id("blk-out-status")).to_have_attribute(
        "data-state", "trained", timeout=180000
    )
    fits = {
        t["meta"]["loss"]: np.asarray(t["y"])
        for t in traces(page, "chart-outliers")
        if t["meta"]["kind"] == "fit"
    }
    assert set(fits) == {"mse", "mae", "smooth_l1"}
    # 20 % of the targets shifted up by 3 … 5: the mean (MSE) rises ~0.8, the median does not
    assert float(np.mean(fits["mse"] - fits["mae"])) > 0.4
    assert float(np.mean(fits["mse"] - fits["smooth_l1"])) > 0.2
    page.get_by_test_id("blk-losses").screenshot(path=str(SCREENSHOT_DIR / "blocks-losses.png"))


def test_activation_parameters_and_state_in_the_url(page: Page) -> None:
    open_lab(page, "?acts=elu&focus=elu&a.elu.alpha=2")
    row = page.get_by_test_id("blk-act-row-elu")
    expect(row.get_by_test_id("range")).to_have_text("(-2, ∞)")
    drawn = traces(page, "chart-act-f")
    api = page.request.get(
        '/api/activations/elu/curve?x_min=-6&x_max=6&n=241&params={"alpha":2}'
    ).json()
    assert drawn[0]["y"] == api["y"]
    page.get_by_test_id("blk-act-sigmoid").check()
    expect(page.get_by_test_id("blk-act-row-sigmoid")).to_be_visible()
    assert "acts=sigmoid%2Celu" in page.url and "a.elu.alpha=2" in page.url


@pytest.mark.parametrize("large", [False, True])
def test_zh_and_large_text_at_1280x720(page: Page, large: bool) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    open_lab(page)
    if large:
        page.get_by_test_id("font-toggle").click()
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("blk-sm-large")).to_have_text("大 logits（1000, 999, 998, 0）")
    expect(page.get_by_test_id("blk-act-row-tanh").get_by_test_id("zero")).to_have_text("是")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("blk-cnn-total")).to_contain_text("个参数")
    wait_no_english(page)  # some panels' texts come with a fetch
    page.wait_for_timeout(300)  # charts re-fit after the font change (resize observer)
    no_sideways_scroll(page)
    save_screenshot(page, f"blocks-zh{'-large' if large else ''}")


def test_phone_390(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_lab(page)
    page.get_by_test_id("blk-sm-large").click()
    expect(page.get_by_test_id("blk-sm-overflow")).to_be_visible()
    page.wait_for_timeout(300)
    no_sideways_scroll(page)
    save_screenshot(page, "blocks-phone")
    for part in ("blk-activations", "blk-softmax", "blk-calc"):
        page.get_by_test_id(part).screenshot(path=str(SCREENSHOT_DIR / f"blocks-phone-{part}.png"))
