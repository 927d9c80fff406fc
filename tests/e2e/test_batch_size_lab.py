"""Browser tests of /labs/batch-size: one curve per batch size against updates, examples seen
and browser-measured time; the gradient noise from the engine; the linear scaling preset from
the URL; batch norm at batch 2 vs 64. Numbers are checked against the page's runs through the
API (the browser's owner token)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from app.routers.pages import BATCH_SIZES
from tests.e2e.conftest import save_screenshot
from tests.e2e.lab_util import api, chart_data, open_run_lab

pytestmark = pytest.mark.e2e


def open_lab(page: Page, query: str = "") -> None:
    open_run_lab(page, "batch-size", query)


def test_curves_per_batch_size_and_gradient_noise(page: Page, live_server: str) -> None:
    open_lab(page)
    panel = page.get_by_test_id("panel-compare")
    assert panel.get_attribute("data-epochs") == "5"
    ids = json.loads(panel.get_attribute("data-run-ids"))
    assert list(ids) == list(BATCH_SIZES)
    updates = {t["meta"]: t for t in chart_data(page, "chart-bs-updates")}
    examples = {t["meta"]: t for t in chart_data(page, "chart-bs-examples")}
    times = {t["meta"]: t for t in chart_data(page, "chart-bs-time")}
    assert sorted(updates) == sorted(examples) == sorted(times) == sorted(BATCH_SIZES)
    with api(page, live_server) as client:
        for key, run_id in ids.items():
            hist = client.get(f"/api/runs/{run_id}/history", params={"fields": "val_loss"}).json()
            cfg = client.get(f"/api/runs/{run_id}").json()["config"]
            assert updates[key]["y"] == hist["val_loss"]
            assert cfg["batch_size"] == (400 if key == "full" else int(key))
            assert cfg["optimizer"]["lr"] == 0.1  # same_lr
            # five epochs: every run has seen the same 5 x 320 examples
            assert examples[key]["x"][-1] == 5 * 320
            assert len(updates[key]["x"]) == 5 * -(-320 // min(cfg["batch_size"], 320))
            assert len(times[key]["x"]) == 5 and times[key]["x"] == sorted(times[key]["x"])
    # per example seen the small batches are far ahead of the full batch
    assert examples["1"]["y"][-1] < examples["full"]["y"][-1] / 2

    noise = page.get_by_test_id("panel-noise")
    run_id = noise.get_attribute("data-run-id")
    assert run_id == ids["32"]
    traces = {t["meta"]: t for t in chart_data(page, "chart-noise")}
    with api(page, live_server) as client:
        body = client.get(
            f"/api/runs/{run_id}/gradient-noise",
            params={"batch_sizes": ",".join(BATCH_SIZES), "samples": 50},
        ).json()
    assert traces["estimate"]["x"] == [1, 8, 32, 128]
    assert traces["estimate"]["y"] == [e["variance"] for e in body["batch_sizes"][:4]]
    assert traces["exact"]["y"] == [e["exact"] for e in body["batch_sizes"][:4]]
    expect(page.get_by_test_id("noise-table").locator("tr")).to_have_count(6)
    # batch norm at 2 vs 64
    bn = {t["meta"]: t["y"] for t in chart_data(page, "chart-bn")}
    assert sorted(bn) == ["2", "64"] and len(bn["2"]) == len(bn["64"]) == 200
    assert bn["2"][-1] > bn["64"][-1]
    save_screenshot(page, "batch_size_initial")


@pytest.mark.parametrize("viewport", [(1280, 720), (390, 844)])
def test_linear_scaling_preset_from_url_zh_large_text_and_phone(
    page: Page, live_server: str, viewport: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    open_lab(page, "?preset=linear_scaling&seed=2&at=1")
    assert page.get_by_test_id("preset").input_value() == "linear_scaling"
    assert page.get_by_test_id("noise-run").input_value() == "1"
    ids = json.loads(page.get_by_test_id("panel-compare").get_attribute("data-run-ids"))
    with api(page, live_server) as client:
        for key, run_id in ids.items():
            cfg = client.get(f"/api/runs/{run_id}").json()["config"]
            batch = 400 if key == "full" else int(key)
            assert cfg["optimizer"]["lr"] == pytest.approx(0.1 * batch / 8)
            assert cfg["seed"] == 2
    assert page.get_by_test_id("panel-noise").get_attribute("data-run-id") == ids["1"]
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("panel-noise").locator("h2")).to_have_text("梯度噪声")
    expect(page.get_by_test_id("nav-batch_size")).to_have_text("批大小实验")
    page.get_by_test_id("font-toggle").click()
    assert page.evaluate("document.documentElement.classList.contains('large-font')")
    root = page.get_by_test_id("batch-size-lab")
    assert root.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    assert root.evaluate("el => el.getBoundingClientRect().right") <= viewport[0]
    save_screenshot(page, f"batch_size_zh_large_{viewport[0]}")
    query = parse_qs(urlparse(page.url).query)
    assert query["preset"] == ["linear_scaling"] and query["at"] == ["1"]
