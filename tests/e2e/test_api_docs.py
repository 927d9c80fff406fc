"""Swagger UI (/docs) and ReDoc (/redoc) work offline: every request stays on the origin, and
the pages run under the app's CSP (a violation is a console error, which fails the test)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import SCREENSHOT_DIR

pytestmark = pytest.mark.e2e


def recorder(live_server: str) -> tuple[list[str], list[str], Callable[[Request], None]]:
    """(requests to the origin, requests that leave it, the page's request handler)."""
    local: list[str] = []
    external: list[str] = []

    def record(request: Request) -> None:
        url = request.url
        if url.startswith(live_server + "/"):
            local.append(url)
        elif not url.startswith(("data:", "blob:")):
            external.append(url)

    return local, external, record


def viewport_screenshot(page: Page, name: str) -> None:
    """The visible part only (the full pages are tens of thousands of pixels tall)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"))


def test_swagger_ui_lists_the_operations_offline(page: Page, live_server: str) -> None:
    local, external, record = recorder(live_server)
    page.on("request", record)
    response = page.goto("/docs")
    assert response is not None and response.ok
    root = page.get_by_test_id("swagger-ui")
    expect(root.locator(".info .title")).to_contain_text("GradPlay", timeout=20000)
    create = root.locator(".opblock-post", has_text="/api/runs").first
    expect(create).to_be_visible()
    expect(create.locator(".opblock-summary-method")).to_have_text("POST")
    expect(root.locator(".opblock-summary-path[data-path='/api/runs']").first).to_be_visible()
    assert root.locator(".opblock").count() > 20  # every operation of the API
    # an operation opens and shows its request body schema, from /openapi.json
    step = root.locator("#operations-runs-step_run_api_runs__run_id__step_post")
    step.locator(".opblock-summary").click()
    expect(step.locator(".opblock-body")).to_be_visible()
    expect(step.locator(".opblock-body")).to_contain_text("steps")
    viewport_screenshot(page, "docs-swagger")
    assert any(u.endswith("/openapi.json") for u in local)
    assert any("/static/vendor/fastapi-offline-" in u for u in local)
    assert external == []


def test_redoc_renders_offline(page: Page, live_server: str) -> None:
    local, external, record = recorder(live_server)
    page.on("request", record)
    response = page.goto("/redoc")
    assert response is not None and response.ok
    redoc = page.get_by_test_id("redoc")
    expect(redoc.locator("h1").first).to_contain_text("GradPlay", timeout=20000)
    expect(redoc.get_by_text("/api/runs/{run_id}/step").first).to_be_attached()
    viewport_screenshot(page, "docs-redoc")
    assert any(u.endswith("/openapi.json") for u in local)
    assert external == []
