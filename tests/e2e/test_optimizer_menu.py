"""Browser test: the optimizers added from torch (rprop, nadam, radam, adamax, adadelta) appear
in the playground's optimizer menu (generated from the catalog), with their torch-named
parameters, and a run trains with one picked from the menu."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.test_playground import open_playground, run_id

pytestmark = pytest.mark.e2e


def test_pick_nadam_from_the_menu_and_train(page: Page, live_server: str) -> None:
    open_playground(page)
    menu = page.get_by_test_id("optimizer")
    values = menu.locator("option").evaluate_all("opts => opts.map(o => o.value)")
    assert {"rprop", "nadam", "radam", "adamax", "adadelta"} <= set(values)
    menu.select_option("nadam")
    expect(page.get_by_test_id("optimizer.momentum_decay")).to_have_value("0.004")
    expect(page.get_by_test_id("optimizer.decoupled_weight_decay")).to_have_count(1)
    page.get_by_test_id("play").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-loss]').data[0].x.length > 20",
        timeout=15000,
    )
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    run = httpx.get(f"{live_server}/api/runs/{run_id(page)}").json()
    assert run["config"]["optimizer"]["name"] == "nadam"
    assert run["config"]["optimizer"]["momentum_decay"] == 0.004
    history = httpx.get(
        f"{live_server}/api/runs/{run_id(page)}/history", params={"fields": "loss"}
    ).json()
    losses = [v for v in history["loss"] if v is not None]
    assert len(losses) > 20 and losses[-1] < losses[0]  # it trains
    assert "optimizer=nadam" in page.url
    save_screenshot(page, "playground-nadam")
