"""Helpers shared by the browser tests of the labs that train runs side by side
(/labs/normalization, /labs/generalization, /labs/batch-size): open the page and wait for its
runs, read a chart's traces, and read the page's runs through the API as the page."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.playground_util import owner_headers

# a chart's traces as plain data: x and y as arrays, z as its row count (heatmaps)
_TRACES = (
    "el => (el.data || []).map(t => ({type: t.type, name: t.name, meta: t.meta,"
    " x: Array.from(t.x || []), y: Array.from(t.y || []), z: t.z ? t.z.length : 0}))"
)


def open_run_lab(page: Page, lab: str, query: str = "", timeout_ms: int = 300000) -> None:
    """Load ``/labs/<lab><query>`` and wait until its first runs are trained (root
    ``<lab>-lab`` with ``data-ready="true"``) with its error line (``<lab>-error``) hidden."""
    page.goto(f"/labs/{lab}{query}")
    expect(page.get_by_test_id(f"{lab}-lab")).to_have_attribute(
        "data-ready", "true", timeout=timeout_ms
    )
    expect(page.get_by_test_id(f"{lab}-error")).to_be_hidden()


def chart_data(page: Page, testid: str) -> list[dict]:
    """The traces drawn in chart ``testid``: type, name, meta, x, y and z's row count."""
    return page.get_by_test_id(testid).evaluate(_TRACES)


def api(page: Page, live_server: str) -> httpx.Client:
    """A client holding the browser's owner token: the page's runs are owned by its cookie."""
    return httpx.Client(base_url=live_server, timeout=30, headers=owner_headers(page))
