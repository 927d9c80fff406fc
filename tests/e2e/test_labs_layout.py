"""Issue 9, defect 3 (labs): in large-text mode at 1280×720 the labs fit their cards and the
page never scrolls sideways; every chart follows its card on font toggle and window resize.
Screenshots of every lab (1280×720 large text, 390×844; en and zh) for a human to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PageErrors, save_screenshot

pytestmark = pytest.mark.e2e

LABS = {
    "gradients": ("/labs/gradients", "chart-grad-norm"),
    "schedules": ("/labs/schedules", "chart-schedules"),
    "sparsity": ("/labs/sparsity", "chart-geometry"),
}

# For every drawn chart: how far its plot (the SVG Plotly drew) sticks out of its card, and
# how much narrower it is than its own container (a chart that did not follow a resize).
# The page width is measured over <main> (the top bar's nav on a phone is defect 12).
MEASURE = """() => {
  let right = 0;
  for (const node of document.querySelectorAll('main *')) {
    if (node.offsetParent) right = Math.max(right, node.getBoundingClientRect().right);
  }
  const out = {page: Math.round(right + window.scrollX - document.documentElement.clientWidth),
               charts: []};
  for (const el of document.querySelectorAll('.chart')) {
    const svg = el.querySelector('.main-svg');
    if (!svg || !el.offsetParent) continue;
    const card = el.closest('.card') || el.parentElement;
    const s = svg.getBoundingClientRect(), c = card.getBoundingClientRect();
    const e = el.getBoundingClientRect();
    out.charts.push({id: el.dataset.testid + (el.dataset.run ? ':' + el.dataset.run : ''),
                     overflow: Math.round(s.right - c.right),
                     gap: Math.round(e.width - s.width)});
  }
  for (const node of document.querySelectorAll('main *')) {
    const r = node.getBoundingClientRect();
    const card = node.closest('.card');
    if (!card || !node.offsetParent || node.closest('.chart')) continue;
    const c = card.getBoundingClientRect();
    if (r.right > c.right + 1) out.charts.push({id: 'node:' + node.tagName + '.' +
      node.className + ' ' + (node.dataset.testid || ''), overflow: Math.round(r.right - c.right),
      gap: 0});
  }
  return out;
}"""


def wait_drawn(page: Page, testid: str) -> None:
    expect(page.get_by_test_id(testid).first).to_have_attribute(
        "data-state", "ready", timeout=20000
    )
    page.wait_for_timeout(400)  # let the other charts of the page draw too


def assert_fits(page: Page, what: str) -> None:
    m = page.evaluate(MEASURE)
    assert m["page"] <= 0, f"{what}: page is {m['page']} px wider than the window"
    bad = [c for c in m["charts"] if c["overflow"] > 1]
    assert not bad, f"{what}: sticks out of its card: {bad}"
    stale = [c for c in m["charts"] if abs(c["gap"]) > 2]
    assert not stale, f"{what}: chart not as wide as its container: {stale}"


def large_page(
    browser: Browser,
    live_server: str,
    errors: PageErrors,
    width: int,
    height: int,
    lang: str = "en",
) -> Page:
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height})
    context.add_init_script(
        f"localStorage.setItem('gradplay.fontScale', 'large');"
        f"localStorage.setItem('gradplay.lang', '{lang}');"
    )
    page = context.new_page()
    page.on("console", errors.on_console)
    page.on("pageerror", errors.on_page_error)
    return page


@pytest.mark.parametrize("lab", list(LABS))
def test_lab_fits_in_large_text_and_follows_resizes(
    browser: Browser, live_server: str, page_errors: PageErrors, lab: str
) -> None:
    path, chart = LABS[lab]
    page = large_page(browser, live_server, page_errors, 1280, 720)
    try:
        page.goto(path)
        wait_drawn(page, chart)
        assert page.evaluate("document.documentElement.classList.contains('large-font')")
        assert_fits(page, f"{lab} 1280×720 large")
        save_screenshot(page, f"layout-{lab}-1280-large-en")
        # font toggle: normal text, the charts follow their (now different) cards
        page.get_by_test_id("font-toggle").click()
        page.wait_for_timeout(600)
        assert_fits(page, f"{lab} after font toggle")
        page.get_by_test_id("font-toggle").click()
        page.wait_for_timeout(600)
        assert_fits(page, f"{lab} after toggling back")
        # window resize
        page.set_viewport_size({"width": 1000, "height": 720})
        page.wait_for_timeout(600)
        assert_fits(page, f"{lab} at 1000 px")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(600)
        assert_fits(page, f"{lab} at 390 px")
    finally:
        page.context.close()
    if page_errors.messages:
        pytest.fail("browser errors:\n" + "\n".join(page_errors.messages))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("lab", list(LABS))
def test_lab_screenshots(
    browser: Browser, live_server: str, page_errors: PageErrors, lab: str, lang: str
) -> None:
    path, chart = LABS[lab]
    for width, height, large in ((1280, 720, True), (390, 844, False)):
        page = large_page(browser, live_server, page_errors, width, height, lang)
        try:
            if not large:
                page.context.add_init_script("localStorage.setItem('gradplay.fontScale', 'normal')")
            page.goto(path)
            wait_drawn(page, chart)
            assert page.evaluate("document.documentElement.lang").startswith(lang)
            assert_fits(page, f"{lab} {width}×{height} {lang}")
            save_screenshot(page, f"layout-{lab}-{width}{'-large' if large else ''}-{lang}")
        finally:
            page.context.close()
    if page_errors.messages:
        pytest.fail("browser errors:\n" + "\n".join(page_errors.messages))
