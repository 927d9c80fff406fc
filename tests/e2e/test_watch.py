"""Browser test of the playground's watch link (``/?run=<id>&watch=<watch_token>``): another
browser (no owner cookie) sees the run live and read-only, and cannot change it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PageErrors, save_screenshot
from tests.e2e.test_playground import open_playground, run_id, trace_len

pytestmark = pytest.mark.e2e


@pytest.fixture
def teacher_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def teacher(browser: Browser, live_server: str, teacher_errors: PageErrors) -> Iterator[Page]:
    """A page in a second browser context: its own cookies (none), like another machine."""
    errors = teacher_errors
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.on("console", errors.on_console)
    page.on("pageerror", errors.on_page_error)
    yield page
    context.close()
    if errors.messages:
        pytest.fail("browser errors (watch page):\n" + "\n".join(errors.messages))


def step_of(page: Page) -> int:
    return int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")


def test_watch_link_shows_the_run_read_only(page: Page, teacher: Page, live_server: str) -> None:
    open_playground(page)
    student_run = run_id(page)
    link = page.get_by_test_id("watch-link")
    expect(link).to_be_visible()
    href = link.get_attribute("href") or ""
    assert href.startswith(f"/?run={student_run}&watch=")
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", "10")

    # The teacher's browser has no owner cookie: without the watch token the run is unknown.
    assert httpx.get(f"{live_server}/api/runs/{student_run}").status_code == 404

    teacher.goto(href)
    root = teacher.get_by_test_id("playground")
    expect(root).to_have_attribute("data-ready", "true", timeout=15000)
    expect(root).to_have_attribute("data-mode", "watch")
    assert root.get_attribute("data-run-id") == student_run  # attached, nothing created
    expect(teacher.get_by_test_id("watch-badge")).to_be_visible()
    expect(teacher.get_by_test_id("watch-link")).to_be_hidden()
    expect(teacher.get_by_test_id("step-counter")).to_have_attribute("data-step", "10")
    # the history so far is on the charts (steps 0..9), not only what streams from now on
    teacher.wait_for_function(
        "() => document.querySelector('[data-testid=chart-loss]').data[0].x.length >= 10")
    for testid in ("play", "pause", "step", "step-10", "step-epoch", "reset", "speed",
                   "speed-unlimited", "lr", "optimizer", "dataset", "activation"):
        expect(teacher.get_by_test_id(testid).first).to_be_disabled()
    assert teacher.url.endswith(href)  # the URL keeps the watch link

    # Keyboard shortcuts send nothing either: the run stays at step 10.
    teacher.locator("body").press("ArrowRight")
    teacher.locator("body").press(" ")
    teacher.wait_for_timeout(500)
    assert step_of(page) == 10 and step_of(teacher) == 10

    # The student trains and changes the learning rate; the teacher sees both live.
    page.get_by_test_id("play").click()
    teacher.wait_for_function(
        "() => Number(document.querySelector('[data-testid=step-counter]').dataset.step) > 40",
        timeout=15000,
    )
    expect(teacher.get_by_test_id("status")).to_have_attribute("data-status", "running")
    lr = page.get_by_test_id("lr")
    lr.fill("0.1")
    expect(teacher.get_by_test_id("lr")).to_have_value("0.1", timeout=15000)
    expect(teacher.get_by_test_id("lr")).to_be_disabled()
    assert trace_len(teacher, "chart-loss") > 40
    save_screenshot(teacher, "playground-watch")


def test_watch_link_with_a_wrong_token_shows_an_error(
    teacher: Page, teacher_errors: PageErrors
) -> None:
    teacher.goto("/?run=nope&watch=wrong")
    error = teacher.get_by_test_id("pg-error")
    expect(error).to_be_visible(timeout=15000)
    expect(error).to_contain_text("no run with id")
    expect(teacher.get_by_test_id("status")).to_have_attribute("data-status", "error")
    # the browser logs the expected 404 of GET /api/runs/nope; nothing else may fail
    teacher_errors.messages = [m for m in teacher_errors.messages
                               if "404" not in m or "/api/runs/nope" not in m]
