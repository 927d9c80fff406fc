"""Issue 9, defect 3 (labs): in large-text mode at 1280×720 the labs fit their cards and the
page never scrolls sideways; every chart follows its card on font toggle and window resize.
Screenshots of every lab (1280×720 large text, 390×844; en and zh) for a human to look at.

Every page under /labs/ (ALL_LABS) is checked in Chinese with the large-text toggle at 1280×720
and at 390×844, and the redraw the toggle triggers must already draw each chart at its box's new
size (the first frame after the click): a chart redrawn at its old width sticks out of its card
until a later resize catches up, which is how the optimizers lab's chart-effective-lr was caught
37 px too wide."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import PageErrors, save_screenshot

pytestmark = pytest.mark.e2e

LABS = {
    "gradients": ("/labs/gradients", "chart-grad-norm"),
    "schedules": ("/labs/schedules", "chart-schedules"),
    "sparsity": ("/labs/sparsity", "chart-geometry"),
}

# Every lab page: (path, test id, attribute, value) of the hook that says the page has drawn.
ALL_LABS = {
    "backprop": ("/labs/backprop", "backprop-lab", "data-extras", "ready"),
    "batch-size": ("/labs/batch-size", "batch-size-lab", "data-ready", "true"),
    "blocks": ("/labs/blocks", "blocks-lab", "data-state", "ready"),
    "generalization": ("/labs/generalization", "generalization-lab", "data-ready", "true"),
    "gradients": ("/labs/gradients", "chart-grad-norm", "data-state", "ready"),
    "normalization": ("/labs/normalization", "normalization-lab", "data-ready", "true"),
    "optimizers": ("/labs/optimizers", "optimizers-lab", "data-extras", "ready"),
    "schedules": ("/labs/schedules", "chart-schedules", "data-state", "ready"),
    "search": ("/labs/search", "search-lab", "data-ready", "true"),
    "sparsity": ("/labs/sparsity", "chart-geometry", "data-state", "ready"),
}

# Clicks the large-text toggle and reads, in the first animation frame after the click (before
# anything later, e.g. a debounced resize, could correct it), every drawn chart whose plot is
# not the size of its box: the redraw the toggle triggers must draw at the new size.
TOGGLE_FIRST_FRAME = """async () => {
  document.querySelector('[data-testid="font-toggle"]').click();
  await new Promise(requestAnimationFrame);
  const off = [];
  for (const el of document.querySelectorAll('.chart')) {
    if (!el._fullLayout || !el.offsetParent) continue;
    const full = el._fullLayout;
    if (Math.abs(full.width - el.clientWidth) > 1 || Math.abs(full.height - el.clientHeight) > 1) {
      off.push({id: el.dataset.testid, drawn: [full.width, full.height],
                box: [el.clientWidth, el.clientHeight]});
    }
  }
  return off;
}"""

# For every drawn chart: how far its plot (the SVG Plotly drew) sticks out of its card, and
# how much narrower it is than its own container (a chart that did not follow a resize).
# The page width is measured over <main> (the top bar's nav on a phone is defect 12). What is
# inside a box that scrolls or clips sideways (a wide table in an overflow-x: auto wrapper)
# cannot widen the page or its card: the box itself is measured instead.
MEASURE = """() => {
  const inner = new Map();  // element -> is it inside a box that scrolls or clips sideways?
  const contained = (node) => {
    const parent = node.parentElement;
    if (!parent || parent.tagName === 'MAIN') return false;
    if (!inner.has(parent)) {
      inner.set(parent, getComputedStyle(parent).overflowX !== 'visible' || contained(parent));
    }
    return inner.get(parent);
  };
  let right = 0;
  for (const node of document.querySelectorAll('main *')) {
    if (node.offsetParent && !contained(node)) {
      right = Math.max(right, node.getBoundingClientRect().right);
    }
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
    if (!card || !node.offsetParent || node.closest('.chart') || contained(node)) continue;
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


def wait_fits(page: Page, what: str) -> None:
    """Waits (up to 20 s: a loaded machine redraws slowly) until the page fits its window and
    every chart its card, then asserts it, naming what overflows if it never does."""
    with contextlib.suppress(PlaywrightError):  # assert_fits names what sticks out
        page.wait_for_function(
            f"""() => {{ const m = ({MEASURE})(); return m.page <= 0 && m.charts.every(
                (c) => c.overflow <= 1 && Math.abs(c.gap) <= 2); }}""",
            timeout=20000,
        )
    assert_fits(page, what)


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


@pytest.mark.parametrize("lab", list(ALL_LABS))
def test_every_lab_fits_in_zh_with_large_text_and_on_a_phone(
    browser: Browser, live_server: str, page_errors: PageErrors, lab: str
) -> None:
    """zh, 1280×720: toggle large text on; 390×844: large text, then toggled off. After each
    toggle the first frame already has every chart at its box's size, and once drawn nothing
    sticks out of its card and the page never scrolls sideways."""
    path, testid, attribute, value = ALL_LABS[lab]
    page = large_page(browser, live_server, page_errors, 1280, 720, "zh")
    page.context.add_init_script("localStorage.setItem('gradplay.fontScale', 'normal')")
    try:
        page.goto(path)
        expect(page.get_by_test_id(testid).first).to_have_attribute(
            attribute, value, timeout=120000
        )
        assert page.evaluate("document.documentElement.lang").startswith("zh")
        assert not page.evaluate("document.documentElement.classList.contains('large-font')")
        wait_fits(page, f"{lab} 1280×720 zh")
        off = page.evaluate(TOGGLE_FIRST_FRAME)
        assert page.evaluate("document.documentElement.classList.contains('large-font')")
        assert off == [], f"{lab}: redrawn at the old size after the large-text toggle: {off}"
        wait_fits(page, f"{lab} 1280×720 zh large")
        save_screenshot(page, f"labs-{lab}-1280-large-zh")
        page.set_viewport_size({"width": 390, "height": 844})
        wait_fits(page, f"{lab} 390×844 zh large")
        save_screenshot(page, f"labs-{lab}-390-large-zh")
        off = page.evaluate(TOGGLE_FIRST_FRAME)
        assert off == [], f"{lab}: redrawn at the old size after the 390 px toggle: {off}"
        wait_fits(page, f"{lab} 390×844 zh")
        save_screenshot(page, f"labs-{lab}-390-zh")
    finally:
        page.context.close()
    if page_errors.messages:
        pytest.fail("browser errors:\n" + "\n".join(page_errors.messages))
