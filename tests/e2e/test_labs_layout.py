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


# Issue 9, defects 8-12 (readable charts): every drawn chart of the page, checked as a person
# would read it. Returns a list of problems ("<chart id>: <what>"), empty when every chart is
# readable:
# * an axis title does not touch the legend or that axis's tick labels;
# * the tick labels of one axis do not overlap each other (nor the legend); numbers on an x
#   axis are not rotated (fewer ticks instead; category names may turn);
# * the chart title lies inside the chart's box, off the legend and off every tick label;
# * a log axis writes every tick label in one format ("10⁻²", "0.01", "10k" or "1e-2" are each
#   one format; "1" and "10" go with powers of ten), and each label is the number at its tick
#   (Plotly's minor labels "2", "5" between decades are not);
# * a chart with a legend keeps a readable plot (at least 120 px, or 40 % of its box).
CHART_READABLE = r"""() => {
  const problems = [];
  const rect = (n) => n.getBoundingClientRect();
  const visible = (r) => r.width > 0 && r.height > 0;
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
    && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const texts = (root, sel) => [...root.querySelectorAll(sel)]
    .filter((n) => (n.textContent || '').trim() !== '').map(rect).filter(visible);
  const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  const parse = (html) => {
    let s = String(html).replace(/<sup>(.*?)<\/sup>/g, '^$1').replace(/<[^>]+>/g, '')
      .replace(/\u2212/g, '-').trim();
    s = s.replace(/[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+/g, (m) => '^' + [...m].map(
      (c) => (SUP.includes(c) ? SUP.indexOf(c) : '-')).join(''));
    let m = /^(?:(-?[\d.]+)\s*[×x·]\s*)?10\^(-?\d+)$/.exec(s);
    if (m) return {fmt: 'pow', v: (m[1] ? +m[1] : 1) * 10 ** +m[2]};
    m = /^(-?[\d.]+)[eE]([+-]?\d+)$/.exec(s);
    if (m) return {fmt: 'e', v: +m[1] * 10 ** +m[2]};
    const SI = {k: 1e3, M: 1e6, G: 1e9, B: 1e9, T: 1e12, P: 1e15, m: 1e-3, 'µ': 1e-6,
                'μ': 1e-6, n: 1e-9, p: 1e-12, f: 1e-15};
    m = /^(-?[\d.]+)([kMGBTPmµμnpf])$/.exec(s);
    if (m) return {fmt: 'si', v: +m[1] * SI[m[2]]};
    if (/^-?[\d.]+$/.test(s)) return {fmt: 'plain', v: +s};
    return {fmt: 'other:' + s, v: NaN};
  };
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    if (!el.offsetParent || !el._fullLayout || !el.querySelector('.main-svg')) continue;
    const id = el.dataset.testid || el.id;
    const full = el._fullLayout;
    const box = rect(el);
    const bg = el.querySelector('.legend .bg');
    const legend = bg && visible(rect(bg)) ? rect(bg) : null;
    const title = el.querySelector('.g-gtitle');
    const titleBox = title && texts(title, 'text').length ? rect(title) : null;
    if (titleBox) {
      const t = titleBox;
      if (t.left < box.left - 1 || t.right > box.right + 1 || t.top < box.top - 1
          || t.bottom > box.bottom + 1) {
        problems.push(`${id}: title "${title.textContent}" is clipped by the chart's box`);
      }
      if (legend && hit(t, legend)) problems.push(`${id}: title overlaps the legend`);
    }
    const axes = [...(full._subplots.xaxis || []), ...(full._subplots.yaxis || [])];
    for (const axId of axes) {
      const ticks = texts(el, `.${axId}tick text`);
      const axTitle = texts(el, `.g-${axId}title`);
      for (const t of axTitle) {
        if (legend && hit(t, legend)) problems.push(`${id}: ${axId} title overlaps the legend`);
        if (ticks.some((k) => hit(k, t))) {
          problems.push(`${id}: ${axId} title overlaps its tick labels`);
        }
      }
      for (let i = 0; i < ticks.length; i++) {
        for (let j = i + 1; j < ticks.length; j++) {
          if (hit(ticks[i], ticks[j])) {
            problems.push(`${id}: ${axId} tick labels overlap each other`);
            i = j = ticks.length;
          }
        }
      }
      if (titleBox && ticks.some((k) => hit(k, titleBox))) {
        problems.push(`${id}: title overlaps the ${axId} tick labels`);
      }
      if (legend && ticks.some((k) => hit(k, legend))) {
        problems.push(`${id}: ${axId} tick labels overlap the legend`);
      }
      const ax = full[axId.charAt(0) + 'axis' + axId.slice(1)];
      if (ax && axId.charAt(0) === 'x' && !['category', 'multicategory'].includes(ax.type)
          && ticks.length && (ax._tickAngles || {})[axId + 'tick']) {
        problems.push(`${id}: ${axId} numeric tick labels are rotated`);
      }
      if (ax && ax.type === 'log' && ax.showticklabels !== false && ax._vals) {
        const labels = ax._vals.filter((v) => v.text !== '')
          .map((v) => ({...parse(v.text), at: 10 ** v.x, text: v.text}));
        const wrong = labels.filter((l) => !(Math.abs(l.v - l.at) <= 0.02 * l.at));
        if (wrong.length) {
          problems.push(`${id}: ${axId} log tick labels are not the numbers at their ticks: ` +
            wrong.map((l) => `${l.text} at ${l.at.toPrecision(3)}`).join(', '));
        }
        const pow = labels.some((l) => l.fmt === 'pow');
        const fmts = new Set(labels
          .filter((l) => !(pow && l.fmt === 'plain' && (l.v === 1 || l.v === 10)))
          .map((l) => l.fmt));
        if (fmts.size > 1) {
          problems.push(`${id}: ${axId} log tick labels mix formats: `
            + labels.map((l) => l.text).join(', '));
        }
      }
    }
    if (legend && full.showlegend && full._size.h < Math.min(120, 0.4 * box.height)) {
      problems.push(`${id}: plot squeezed to ${Math.round(full._size.h)} px by its legend`);
    }
  }
  return problems;
}"""


def assert_readable(page: Page, what: str) -> None:
    """Waits (up to 20 s, charts may still be redrawing) until every chart is readable
    (CHART_READABLE), then asserts it, naming each problem if it never is."""
    with contextlib.suppress(PlaywrightError):  # the assertion names the problems
        page.wait_for_function(f"() => ({CHART_READABLE})().length === 0", timeout=20000)
    problems = page.evaluate(CHART_READABLE)
    assert not problems, f"{what}: charts not readable:\n" + "\n".join(problems)


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
        wait_fits(page, f"{lab} 1280×720 large")
        save_screenshot(page, f"layout-{lab}-1280-large-en")
        # font toggle: normal text, the charts follow their (now different) cards
        page.get_by_test_id("font-toggle").click()
        page.wait_for_timeout(600)
        wait_fits(page, f"{lab} after font toggle")
        page.get_by_test_id("font-toggle").click()
        page.wait_for_timeout(600)
        wait_fits(page, f"{lab} after toggling back")
        # window resize
        page.set_viewport_size({"width": 1000, "height": 720})
        page.wait_for_timeout(600)
        wait_fits(page, f"{lab} at 1000 px")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(600)
        wait_fits(page, f"{lab} at 390 px")
    finally:
        page.context.close()
    page_errors.check()


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
            wait_fits(page, f"{lab} {width}×{height} {lang}")
            save_screenshot(page, f"layout-{lab}-{width}{'-large' if large else ''}-{lang}")
        finally:
            page.context.close()
    page_errors.check()


@pytest.mark.parametrize("lab", list(ALL_LABS))
def test_every_lab_fits_in_zh_with_large_text_and_on_a_phone(
    browser: Browser, live_server: str, page_errors: PageErrors, lab: str
) -> None:
    """zh, 1280×720: toggle large text on; 390×844: large text, then toggled off. After each
    toggle the first frame already has every chart at its box's size, and once drawn nothing
    sticks out of its card and the page never scrolls sideways. In large text (1280×720 and
    390×844) every chart is readable (CHART_READABLE: no overlapping titles, ticks or legends,
    no clipped title, one log-tick format, no squeezed plot)."""
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
        assert_readable(page, f"{lab} 1280×720 zh large")
        save_screenshot(page, f"labs-{lab}-1280-large-zh")
        page.set_viewport_size({"width": 390, "height": 844})
        wait_fits(page, f"{lab} 390×844 zh large")
        assert_readable(page, f"{lab} 390×844 zh large")
        save_screenshot(page, f"labs-{lab}-390-large-zh")
        off = page.evaluate(TOGGLE_FIRST_FRAME)
        assert off == [], f"{lab}: redrawn at the old size after the 390 px toggle: {off}"
        wait_fits(page, f"{lab} 390×844 zh")
        save_screenshot(page, f"labs-{lab}-390-zh")
    finally:
        page.context.close()
    page_errors.check()


@pytest.mark.parametrize(
    "size",
    [
        (1280, 720),
        (390, 844),
    ],
)
def test_playground_and_questions_charts_readable_in_zh_large_text(
    browser: Browser, live_server: str, page_errors: PageErrors, size: tuple[int, int]
) -> None:
    """The pages outside /labs/: the playground after 20 steps of a 4-layer net on the spiral
    (log loss axis, per-layer legends and histograms) and the questions page, in zh with large
    text: every chart readable (CHART_READABLE)."""
    width, height = size
    page = large_page(browser, live_server, page_errors, width, height, "zh")
    try:
        page.goto("/?dataset=spiral&hidden=8,8,8,8&lr=0.1")
        expect(page.get_by_test_id("playground")).to_have_attribute(
            "data-ready", "true", timeout=20000
        )
        expect(page.get_by_test_id("chart-loss")).to_have_attribute(
            "data-state", "ready", timeout=15000
        )
        page.get_by_test_id("step-10").click()
        page.wait_for_function(
            "() => +document.querySelector('[data-testid=step-counter]').dataset.step >= 10"
        )
        page.get_by_test_id("step-10").click()
        page.wait_for_function(
            "() => +document.querySelector('[data-testid=step-counter]').dataset.step >= 20"
        )
        for testid in ("chart-loss", "chart-grad-norm", "chart-weights-hist"):
            page.get_by_test_id(testid).scroll_into_view_if_needed()
            page.wait_for_function(
                '(id) => { const el = document.querySelector(`[data-testid="${id}"]`);'
                " return el.data && el.data.some((t) => (t.x || []).length >= 20); }",
                arg=testid,
                timeout=15000,
            )
        wait_fits(page, f"playground {width}×{height} zh large")
        assert_readable(page, f"playground {width}×{height} zh large")
        save_screenshot(page, f"readable-playground-{width}-large-zh")
        page.goto("/questions")
        # the bank is loaded and the page drawn; assert_readable then waits for its charts
        expect(page.get_by_test_id("questions-page")).to_have_attribute(
            "data-state", "ready", timeout=20000)
        assert_readable(page, f"questions {width}×{height} zh large")
    finally:
        page.context.close()
    page_errors.check()
