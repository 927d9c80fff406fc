"""Browser smoke test: the playground page loads offline and draws its plotly chart."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import save_screenshot

pytestmark = pytest.mark.e2e


def test_index_loads_offline_and_draws_charts(page: Page, live_server: str) -> None:
    external: list[str] = []

    def record(request: Request) -> None:
        if not request.url.startswith((live_server, "data:")):
            external.append(request.url)

    page.on("request", record)
    response = page.goto("/")
    assert response is not None and response.ok

    expect(page.get_by_test_id("nav-brand")).to_have_text("GradPlay")
    for testid, label in [
        ("nav-playground", "Playground"),
        ("nav-gradients", "Gradients lab"),
        ("nav-schedules", "Schedules lab"),
        ("nav-sparsity", "Sparsity lab"),
    ]:
        expect(page.get_by_test_id(testid)).to_have_text(label)

    # the playground creates a run and draws its charts with the app's own plotly.js
    chart = page.get_by_test_id("chart-loss")
    expect(chart).to_have_class(re.compile(r"\bjs-plotly-plot\b"), timeout=15000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready", timeout=15000)
    path = save_screenshot(page, "index")
    assert path.stat().st_size > 10_000
    assert external == []  # everything is served by the app (works offline)


def test_nav_reaches_the_sparsity_lab(page: Page) -> None:
    page.goto("/")
    page.get_by_test_id("nav-labs").click()  # the labs are in the Labs menu
    page.get_by_test_id("nav-sparsity").click()
    # the lab writes its configuration into the query string as soon as it loads
    expect(page).to_have_url(re.compile(r"/labs/sparsity(\?.*)?$"))
    expect(page.get_by_test_id("sparsity-lab")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Sparsity: L1 vs L2")
    expect(page.get_by_test_id("nav-sparsity")).to_have_attribute("aria-current", "page")


def test_api_docs_link_opens_the_offline_reference(page: Page, live_server: str) -> None:
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((live_server, "data:"))
            else external.append(r.url))
    page.goto("/")
    page.get_by_test_id("nav-docs").click()
    expect(page).to_have_url(re.compile(r"/api-reference$"))
    expect(page.get_by_test_id("nav-docs")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("api-reference")).to_be_visible()
    assert page.get_by_test_id("api-op").count() > 20
    # the table of contents jumps to an operation; schema names link to their entries
    page.locator(".api-toc a[href='#step_run_api_runs__run_id__step_post']").click()
    expect(page).to_have_url(re.compile(r"#step_run_"))
    page.locator("#step_run_api_runs__run_id__step_post a[href='#schema-StepResponse']").click()
    expect(page.locator("#schema-StepResponse")).to_be_in_viewport()
    save_screenshot(page, "api-reference")
    assert external == []
