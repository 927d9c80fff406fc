"""Browser tests of /labs/normalization: batch norm train vs eval, γ/β identity, batch norm vs
layer norm, dropout masks and scaling, input normalisation. Numbers are checked against the
engine's API (the runs the page created, read back with the page's own run ids)."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.lab_util import api, chart_data, open_run_lab

pytestmark = pytest.mark.e2e


def open_lab(page: Page, query: str = "") -> None:
    open_run_lab(page, "normalization", query, timeout_ms=60000)


def wait_enabled(page: Page, testid: str) -> None:
    expect(page.get_by_test_id(testid)).to_be_enabled(timeout=60000)


def test_page_draws_every_panel(page: Page) -> None:
    open_lab(page)
    for chart in (
        "chart-bn-mean",
        "chart-bn-var",
        "chart-bn-modes",
        "chart-gb",
        "chart-bnln-bn",
        "chart-bnln-ln",
        "chart-dropout-means",
        "chart-dropout-loss",
        "chart-input-loss",
    ):
        expect(page.get_by_test_id(chart)).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("bn-affine").locator("tr")).to_have_count(5)  # header + 4 units
    assert page.get_by_test_id("gb-notes-swap").is_visible()
    save_screenshot(page, "normalization_initial")


def test_batch_norm_running_statistics_follow_torch_convention(
    page: Page, live_server: str
) -> None:
    open_lab(page, "?unit=1")
    panel = page.get_by_test_id("panel-bn")
    wait_enabled(page, "bn-train")
    page.get_by_test_id("bn-train").click()
    expect(panel).to_have_attribute("data-step", "26", timeout=60000)  # 1 at load + 25
    wait_enabled(page, "bn-train")
    run_id = panel.get_attribute("data-run-id")
    mean = {t["name"]: t for t in chart_data(page, "chart-bn-mean")}
    var = {t["name"]: t for t in chart_data(page, "chart-bn-var")}
    running = mean["running mean"]["y"]
    batch = mean["batch mean"]["y"]
    assert mean["running mean"]["x"] == list(range(26))  # one point per step
    # torch's convention, step by step: running = (1 - m)·running + m·batch (unbiased for var)
    m = 0.1
    for t in range(1, 26):
        assert running[t] == pytest.approx((1 - m) * running[t - 1] + m * batch[t], abs=1e-12)
        rv, bv = var["running variance"]["y"], var["batch variance ·m/(m−1)"]["y"]
        assert rv[t] == pytest.approx((1 - m) * rv[t - 1] + m * bv[t], abs=1e-12)
    with api(page, live_server) as client:
        snap = client.get(f"/api/runs/{run_id}/snapshot", params={"mode": "train"}).json()
    stats = snap["network"][0]["batch_norm"]
    assert running[-1] == stats["running_mean"][1]  # the unit picked in the URL
    assert var["running variance"]["y"][-1] == stats["running_var"][1]
    modes = page.get_by_test_id("chart-bn-modes")
    output_diff = snap["modes"]["layers"][-1]["mean_abs_diff"]
    assert float(modes.get_attribute("data-mean-abs-diff")) == output_diff
    assert len(chart_data(page, "chart-bn-modes")) == 3  # early, latest, y = x
    affine = page.get_by_test_id("bn-affine").locator("tr").nth(2).locator("td")
    assert affine.nth(5).inner_text() == f"{stats['scale'][1]:.4f}"
    # the momentum slider is a live PATCH, in the URL and in the next record
    page.get_by_test_id("bn-momentum").evaluate(
        "el => { el.value = '0.9'; el.dispatchEvent(new Event('change')); }"
    )
    page.wait_for_function("() => location.search.includes('mom=0.9')")
    wait_enabled(page, "bn-step")
    page.get_by_test_id("bn-step").click()
    expect(panel).to_have_attribute("data-step", "27", timeout=30000)
    with api(page, live_server) as client:
        run = client.get(f"/api/runs/{run_id}").json()
        hist = client.get(f"/api/runs/{run_id}/history", params={"fields": "bn_momentum"}).json()
    assert run["config"]["model"]["batch_norm_momentum"] == 0.9
    assert hist["bn_momentum"][-1] == 0.9
    save_screenshot(page, "normalization_bn")


def test_gamma_beta_make_the_layer_the_identity(page: Page, live_server: str) -> None:
    open_lab(page)
    identity = page.get_by_test_id("gb-identity")
    before = float(identity.get_attribute("data-max-abs"))
    assert before > 1e-3  # learned γ, β: batch norm changes its input
    wait_enabled(page, "gb-apply")
    page.get_by_test_id("gb-apply").click()
    expect(identity).to_have_attribute("data-state", "identity", timeout=30000)
    after = float(identity.get_attribute("data-max-abs"))
    assert after < 1e-6
    panel = page.get_by_test_id("panel-gb")
    with api(page, live_server) as client:
        a = client.get(
            f"/api/runs/{panel.get_attribute('data-run-id')}/snapshot", params={"mode": "eval"}
        ).json()
        b = client.get(
            f"/api/runs/{panel.get_attribute('data-twin-id')}/snapshot", params={"mode": "eval"}
        ).json()
    stats = a["network"][0]["batch_norm"]
    assert all(abs(s - 1) < 1e-9 for s in stats["scale"])  # the engine's folded affine
    assert all(abs(s) < 1e-9 for s in stats["shift"])
    out, inp = a["modes"]["activations"]["eval"][0], b["modes"]["activations"]["eval"][0]
    engine_max = max(
        abs(o - i) for ro, ri in zip(out, inp, strict=True) for o, i in zip(ro, ri, strict=True)
    )
    # the page shows the engine's own measure; the twin run's z agrees with it
    assert after == a["modes"]["layers"][0]["bn_identity_max_abs_diff"]
    assert abs(after - engine_max) <= 1e-12
    assert len(chart_data(page, "chart-gb")) == 2
    save_screenshot(page, "normalization_gb")


def test_batch_norm_vs_layer_norm_by_batch_size(page: Page, live_server: str) -> None:
    open_lab(page)
    panel = page.get_by_test_id("panel-bnln")
    expect(panel).to_have_attribute("data-step", "150")
    wait_enabled(page, "bnln-train")
    page.get_by_test_id("bnln-train").click()
    expect(panel).to_have_attribute("data-step", "300", timeout=120000)
    ids = json.loads(panel.get_attribute("data-run-ids"))
    final = {}
    with api(page, live_server) as client:
        for norm, testid in (("batch_norm", "chart-bnln-bn"), ("layer_norm", "chart-bnln-ln")):
            traces = {t["meta"]: t for t in chart_data(page, testid)}
            assert sorted(traces, key=int) == ["2", "8", "64"]
            for batch, trace in traces.items():
                hist = client.get(
                    f"/api/runs/{ids[f'{norm}:{batch}']}/history", params={"fields": "val_loss"}
                ).json()
                assert trace["y"] == hist["val_loss"]
                assert len(trace["y"]) == 300
                final[norm, int(batch)] = trace["y"][-1]
    # the lesson: batch norm needs its batch; layer norm at batch 8 beats batch norm at 8
    assert final["batch_norm", 2] > 3 * final["batch_norm", 64]
    assert final["batch_norm", 8] > final["layer_norm", 8]
    save_screenshot(page, "normalization_bnln")


def test_dropout_mask_changes_and_scaling(page: Page, live_server: str) -> None:
    open_lab(page)
    net = page.get_by_test_id("dropout-net")
    panel = page.get_by_test_id("panel-dropout")
    masks = [net.get_attribute("data-mask")]
    for n in (2, 3):
        wait_enabled(page, "do-step")
        page.get_by_test_id("do-step").click()
        expect(panel).to_have_attribute("data-step", str(n), timeout=30000)
        masks.append(net.get_attribute("data-mask"))
    assert all(m and set(m) <= {"0", "1"} and len(m) == 12 for m in masks)
    assert len(set(masks)) > 1  # a new mask every step
    run_id = panel.get_attribute("data-run-id")
    with api(page, live_server) as client:
        snap = client.get(f"/api/runs/{run_id}/snapshot").json()
        hist = client.get(f"/api/runs/{run_id}/history", params={"fields": "loss,val_loss"}).json()
    keep = snap["network"][0]["dropout"]["keep"][0]  # hidden 1, first row of the batch
    assert masks[-1][:6] == "".join(str(int(k)) for k in keep)
    bars = {t["name"]: t["y"] for t in chart_data(page, "chart-dropout-means")}
    block = snap["dropout"]
    assert bars["before dropout (= eval mode)"] == [b["act_mean"] for b in block]
    assert bars["mask only (the notes' code)"] == [b["unscaled_mean"] for b in block]
    assert bars["mask × 1/(1−p)"] == [b["scaled_mean"] for b in block]
    shift = page.get_by_test_id("dropout-shift")
    assert float(shift.get_attribute("data-unscaled-mean")) == block[0]["unscaled_mean"]
    assert block[0]["unscaled_mean"] < 0.75 * block[0]["act_mean"]  # the notes' code shifts
    loss = {t["name"]: t["y"] for t in chart_data(page, "chart-dropout-loss")}
    assert loss["training loss (train mode)"] == hist["loss"]
    assert loss["validation loss (eval mode)"] == hist["val_loss"]
    # p is a live PATCH
    page.get_by_test_id("dropout-p").evaluate(
        "el => { el.value = '0.8'; el.dispatchEvent(new Event('change')); }"
    )
    page.wait_for_function("() => location.search.includes('p=0.8')")
    wait_enabled(page, "do-train")
    page.get_by_test_id("do-train").click()
    expect(panel).to_have_attribute("data-step", "103", timeout=60000)
    with api(page, live_server) as client:
        assert client.get(f"/api/runs/{run_id}").json()["config"]["model"]["dropout"] == 0.8
        snap = client.get(f"/api/runs/{run_id}/snapshot").json()
    assert snap["network"][0]["dropout"]["p"] == 0.8
    save_screenshot(page, "normalization_dropout")


def test_input_normalisation_runs(page: Page, live_server: str) -> None:
    open_lab(page)
    panel = page.get_by_test_id("panel-input")
    expect(panel).to_have_attribute("data-step", "200")
    wait_enabled(page, "in-train")
    page.get_by_test_id("in-train").click()
    expect(panel).to_have_attribute("data-step", "400", timeout=60000)
    ids = json.loads(panel.get_attribute("data-run-ids"))
    traces = {t["meta"]: t["y"] for t in chart_data(page, "chart-input-loss")}
    with api(page, live_server) as client:
        for method in ("none", "minmax", "zscore"):
            run = client.get(f"/api/runs/{ids[method]}").json()
            assert run["config"]["dataset"]["normalize"] == method
            hist = client.get(f"/api/runs/{ids[method]}/history", params={"fields": "loss"}).json()
            assert traces[method] == hist["loss"]
    # the same learning rate: scaled inputs reach a loss 10x lower than the raw features
    assert max(traces["zscore"][-1], traces["minmax"][-1]) < traces["none"][-1] / 10


@pytest.mark.parametrize("viewport", [(1280, 720), (390, 844)])
def test_zh_large_text_and_phone(page: Page, viewport: tuple[int, int]) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    open_lab(page, "?preset=heavy_dropout&mom=0.01")
    assert page.get_by_test_id("preset").input_value() == "heavy_dropout"
    assert page.get_by_test_id("dropout-p").input_value() == "0.8"
    assert page.get_by_test_id("bn-momentum").input_value() == "0.01"
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("panel-bn").locator("h2")).to_have_text("批归一化：训练与推理")
    expect(page.get_by_test_id("nav-normalization")).to_have_text("归一化实验")
    page.get_by_test_id("font-toggle").click()
    assert page.evaluate("document.documentElement.classList.contains('large-font')")
    legend = chart_data(page, "chart-dropout-loss")
    assert legend[0]["name"] == "训练损失（训练模式）"
    # the lab itself fits the width (wide tables scroll inside their own box); the site's nav
    # bar is shared by every page and not this page's to change
    root = page.get_by_test_id("normalization-lab")
    assert root.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    assert root.evaluate("el => el.getBoundingClientRect().right") <= viewport[0]
    save_screenshot(page, f"normalization_zh_large_{viewport[0]}")
    query = parse_qs(urlparse(page.url).query)
    assert query["preset"] == ["heavy_dropout"] and query["p"] == ["0.8"]
    assert not math.isnan(float(query["mom"][0]))


def test_new_seed_replaces_every_run(page: Page, live_server: str) -> None:
    open_lab(page)
    old = page.get_by_test_id("panel-bn").get_attribute("data-run-id")
    old_inputs = json.loads(page.get_by_test_id("panel-input").get_attribute("data-run-ids"))
    page.get_by_test_id("seed").fill("1")
    page.get_by_test_id("seed").dispatch_event("change")
    expect(page.get_by_test_id("panel-bn")).not_to_have_attribute("data-run-id", old or "")
    expect(page.get_by_test_id("panel-input")).to_have_attribute("data-step", "200")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready", timeout=60000)
    expect(page.get_by_test_id("normalization-error")).to_be_hidden()
    assert parse_qs(urlparse(page.url).query)["seed"] == ["1"]
    new = page.get_by_test_id("panel-bn").get_attribute("data-run-id")
    with api(page, live_server) as client:
        assert client.get(f"/api/runs/{old}").status_code == 404  # deleted, not left behind
        assert client.get(f"/api/runs/{old_inputs['zscore']}").status_code == 404
        assert client.get(f"/api/runs/{new}").json()["config"]["seed"] == 1
        # every panel's current run is alive (none evicted by the per-client quota)
        current = [
            *json.loads(page.get_by_test_id("panel-bnln").get_attribute("data-run-ids")).values(),
            *json.loads(page.get_by_test_id("panel-input").get_attribute("data-run-ids")).values(),
            page.get_by_test_id("panel-gb").get_attribute("data-run-id"),
            page.get_by_test_id("panel-gb").get_attribute("data-twin-id"),
            page.get_by_test_id("panel-dropout").get_attribute("data-run-id"),
            new,
        ]
        assert len(set(current)) == 13
        assert all(client.get(f"/api/runs/{i}").status_code == 200 for i in current)


def test_input_normalisation_contours(page: Page, live_server: str) -> None:
    """The linear model's loss surface per normalisation, drawn from the engine: the path and
    the surface equal POST /api/labs/input-scaling's; unscaled is ill-conditioned."""
    open_lab(page)
    panel = page.get_by_test_id("panel-input")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=panel-input]').dataset.conditionNumbers")
    kappa = json.loads(panel.get_attribute("data-condition-numbers"))
    assert kappa["none"] > 1e5 and kappa["zscore"] < 3
    with api(page, live_server) as client:
        ref = client.post("/api/labs/input-scaling", json={"seed": 0}).json()
    for m in ref["methods"]:
        sel = f"[data-testid=chart-input-contour][data-method={m['normalize']}]"
        data = page.locator(sel).evaluate(
            "el => el.data.map((t) => ({type: t.type, x: Array.from(t.x), y: Array.from(t.y)}))")
        assert [t["type"] for t in data] == ["contour", "scatter", "scatter"]
        assert data[0]["x"] == m["grid"]["w1"] and data[0]["y"] == m["grid"]["w2"]
        assert data[1]["x"] == [p[0] for p in m["path"]]
        assert data[1]["y"] == [p[1] for p in m["path"]]
    panel.scroll_into_view_if_needed()
    save_screenshot(page, "normalization_input_contours")
