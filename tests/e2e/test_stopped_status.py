"""The playground shows an early-stopped run's status ("stopped") without errors."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot

STOPPING = {
    "seed": 5,
    "dataset": {"name": "circle", "n": 120},
    "model": {"hidden": [6]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "early_stopping": {"patience": 1, "min_delta": 10.0},
}


def test_a_stopped_run_shows_its_status(page: Page) -> None:
    r = page.request.post("/api/runs", data=STOPPING)
    assert r.status == 201, r.text()
    run = r.json()
    r = page.request.post(f"/api/runs/{run['id']}/step", data={"steps": 10})
    assert r.ok and r.json()["status"] == "stopped"
    page.goto(f"/?run={run['id']}&watch={run['watch_token']}")
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-status", "stopped", timeout=10000)
    expect(status).to_contain_text("stopped early")
    save_screenshot(page, "playground-stopped")
