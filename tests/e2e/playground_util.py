"""Helpers shared by the playground browser tests that compare the page with the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Page, expect


def open_playground(page: Page, url: str = "/") -> None:
    """Load the playground and wait until its run exists and the loss chart is drawn."""
    page.goto(url)
    expect(page.get_by_test_id("playground")).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready", timeout=10000)
    expect(page.get_by_test_id("chart-loss")).to_have_attribute(
        "data-state", "ready", timeout=10000
    )


def run_id(page: Page) -> str:
    value = page.get_by_test_id("playground").get_attribute("data-run-id")
    assert value
    return value


def page_step(page: Page) -> int:
    return int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")


def api_run(live_server: str, rid: str) -> dict[str, Any]:
    r = httpx.get(f"{live_server}/api/runs/{rid}", timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_for_api(
    live_server: str,
    rid: str,
    check: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 8.0,
    page: Page | None = None,
) -> dict[str, Any]:
    """Poll ``GET /api/runs/{rid}`` until ``check(body)`` holds; fail naming ``what``. With
    ``page``, it waits through the page (Playwright's sync API only dispatches events, e.g.
    routed WebSocket messages, while one of its calls runs)."""
    deadline = time.monotonic() + timeout
    while True:
        body = api_run(live_server, rid)
        if check(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: the server never saw it; config now {body['config']}")
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)
