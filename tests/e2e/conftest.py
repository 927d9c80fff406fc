"""Playwright fixtures: Debian's Chromium (headless), pages that fail on console errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (make chromium)")
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


class PageErrors:
    """Console errors and uncaught page errors seen during a test."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.messages.append(f"console.error: {msg.text} ({msg.location.get('url', '')})")

    def on_page_error(self, error: Exception) -> None:
        self.messages.append(f"pageerror: {error}")

    def check(self) -> None:
        """Fail the test if the browser logged any error."""
        if self.messages:
            pytest.fail("browser errors:\n" + "\n".join(self.messages))


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def page(browser: Browser, live_server: str, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh page (1280x800) whose base URL is the live server; any console error or
    uncaught exception (CSP violations included) fails the test at teardown."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("console", page_errors.on_console)
    page.on("pageerror", page_errors.on_page_error)
    yield page
    context.close()
    page_errors.check()


def save_screenshot(page: Page, name: str) -> Path:
    """Full-page screenshot at ``test-artifacts/screenshots/<name>.png``; returns the path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
