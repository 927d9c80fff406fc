"""Browser test of the gradients lab's "Train it": a run per column, streamed into a heatmap."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot

pytestmark = pytest.mark.e2e


def test_train_it_fills_heatmap_and_stops(page: Page) -> None:
    page.goto("/labs/gradients?preset=sigmoid_init")
    col = page.get_by_test_id("column-a")
    expect(col).to_have_attribute("data-state", "ready", timeout=15000)
    status = col.get_by_test_id("train-status")
    expect(status).to_have_attribute("data-status", "idle")
    expect(col.get_by_test_id("train-stop")).to_be_disabled()

    col.get_by_test_id("train-it").click()
    expect(status).to_have_attribute("data-status", "running", timeout=15000)
    heatmap = col.get_by_test_id("chart-grad-heatmap")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=column-a] "
        "[data-testid=chart-grad-heatmap]').dataset.columns) >= 40",
        timeout=20000,
    )
    shape = heatmap.evaluate(
        "el => ({rows: el.data[0].z.length, cols: el.data[0].z[0].length,"
        " y: Array.from(el.data[0].y), filled: el.data[0].z[0].filter(v => v !== null).length})"
    )
    assert shape["rows"] == 11  # 10 hidden layers + output, input -> output
    assert shape["y"][0] == "1" and shape["y"][-1] == "out"
    assert shape["cols"] >= 2 and shape["filled"] >= 2
    run_id = heatmap.get_attribute("data-run-id")
    assert run_id

    # stop: the status changes, the step counter no longer moves, the run is gone
    col.get_by_test_id("train-stop").click()
    expect(status).to_have_attribute("data-status", "stopped")
    expect(col.get_by_test_id("train-it")).to_be_enabled()
    step = status.get_attribute("data-step")
    page.wait_for_timeout(800)
    assert status.get_attribute("data-step") == step
    # deleted (the page does not wait for the DELETE's answer: poll up to 5 s)
    for _ in range(50):
        if page.request.get(f"/api/runs/{run_id}").status == 404:
            break
        page.wait_for_timeout(100)
    assert page.request.get(f"/api/runs/{run_id}").status == 404
    cols = int(heatmap.get_attribute("data-columns") or 0)
    assert cols >= 2
    save_screenshot(page, "gradients-train-it")


def test_train_it_decimates_and_stops_on_change(page: Page) -> None:
    page.goto("/labs/gradients?preset=residual&b.depth=3&b.width=16")
    col = page.get_by_test_id("column-b")
    expect(col).to_have_attribute("data-state", "ready", timeout=15000)
    col.get_by_test_id("train-it").click()
    status = col.get_by_test_id("train-status")
    expect(status).to_have_attribute("data-status", "running", timeout=15000)
    heatmap = col.get_by_test_id("chart-grad-heatmap")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=column-b] "
        "[data-testid=train-status]').dataset.step) >= 450", timeout=30000,
    )
    expect(heatmap).to_have_attribute("data-state", "ready")
    assert heatmap.evaluate("el => el.data[0].z.length") == 4  # 3 hidden + output
    # more than 400 steps: decimated to at most 400 columns (every 2nd step)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=column-b] "
        "[data-testid=chart-grad-heatmap]').dataset.stride) >= 2"
    )
    assert 200 <= heatmap.evaluate("el => el.data[0].x.length") <= 400
    # changing the network stops its training
    col.get_by_test_id("depth").fill("4")
    expect(status).to_have_attribute("data-status", "stopped")
