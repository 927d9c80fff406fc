"""Helpers shared by the playground browser tests that compare the page with the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import FloatRect, Locator, Page, expect


def open_playground(page: Page, url: str = "/") -> None:
    """Load the playground and wait until its run exists and the loss chart is drawn."""
    page.goto(url)
    expect(page.get_by_test_id("playground")).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready", timeout=10000)
    expect(page.get_by_test_id("chart-loss")).to_have_attribute(
        "data-state", "ready", timeout=10000
    )


def settled_box(locator: Locator, timeout_s: float = 10.0) -> FloatRect:
    """The element's bounding box once it is attached and visible.

    A control panel re-render (a new run, a language switch) replaces its elements: a box read
    from the old, detached element is None. This retries on the fresh element instead of failing
    on that race."""
    deadline = time.monotonic() + timeout_s
    while True:
        box = locator.bounding_box(timeout=int(timeout_s * 1000))
        if box is not None:
            return box
        if time.monotonic() > deadline:
            raise AssertionError(f"{locator} has no box (detached or hidden) after {timeout_s} s")
        time.sleep(0.1)


def run_id(page: Page) -> str:
    value = page.get_by_test_id("playground").get_attribute("data-run-id")
    assert value
    return value


def page_step(page: Page) -> int:
    return int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")


def settled_step(page: Page) -> int:
    """The step of a run that is not playing (after a pause, or never played), once the page's
    counter shows it.

    The pause's ack can reach the page before the records of a training chunk that was running
    when the pause arrived, so the counter may move once more after the status reads "paused".
    ``GET /api/runs/{id}`` answers under the session lock, i.e. after that chunk."""
    expect(page.get_by_test_id("status")).not_to_have_attribute("data-status", "running")
    reply = page.request.get(f"/api/runs/{run_id(page)}")
    assert reply.ok, reply.text()
    step = int(reply.json()["step"])
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", str(step))
    return step


def owner_headers(page: Page) -> dict[str, str]:
    """The page's owner token (its HttpOnly cookie) as a bearer header: runs are owned by
    their client, so the tests read the page's runs as the page."""
    for cookie in page.context.cookies():
        if cookie["name"] == "gradplay_owner":
            return {"Authorization": f"Bearer {cookie['value']}"}
    raise AssertionError("the page has no owner cookie")


def api_run(live_server: str, rid: str, page: Page) -> dict[str, Any]:
    r = httpx.get(f"{live_server}/api/runs/{rid}", timeout=10, headers=owner_headers(page))
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_for_api(
    live_server: str,
    rid: str,
    check: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 8.0,
    *,
    page: Page,
) -> dict[str, Any]:
    """Poll ``GET /api/runs/{rid}`` (as the page's owner) until ``check(body)`` holds; fail
    naming ``what``. It waits through the page (Playwright's sync API only dispatches events,
    e.g. routed WebSocket messages, while one of its calls runs)."""
    deadline = time.monotonic() + timeout
    while True:
        body = api_run(live_server, rid, page)
        if check(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: the server never saw it; config now {body['config']}")
        page.wait_for_timeout(100)
