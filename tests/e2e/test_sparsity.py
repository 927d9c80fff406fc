"""Browser tests of /labs/sparsity: three runs (L1, L2, elastic net) trained live."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot

pytestmark = pytest.mark.e2e

ZEROS_BY_RUN = (
    "el => Object.fromEntries((el.data || []).filter(t => t.meta)"
    ".map(t => [t.meta, t.y.length ? t.y[t.y.length - 1] : null]))"
)


def card(page: Page, key: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-testid="run-card"][data-run="{key}"]')


def wait_connected(page: Page) -> None:
    expect(page.get_by_test_id("play")).to_be_enabled(timeout=15000)
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "ready")


def wait_steps(page: Page, at_least: int, timeout: float = 20000) -> None:
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=run-card]')]"
        ".every(c => Number(c.dataset.step) >= n)",
        arg=at_least,
        timeout=timeout,
    )


def zeros(page: Page) -> dict[str, int]:
    return page.get_by_test_id("chart-zeros").evaluate(ZEROS_BY_RUN)


def test_sparsity_lab_trains_three_runs(page: Page) -> None:
    page.goto("/labs/sparsity")
    wait_connected(page)
    # static charts: the exact regularization path and the 2-D geometry
    path = page.get_by_test_id("chart-path")
    expect(path).to_have_attribute("data-state", "ready", timeout=15000)
    assert path.get_attribute("data-lambdas") == "50"
    assert path.evaluate("el => el.data.filter(t => t.x.length > 1).length") >= 20
    geo = page.get_by_test_id("chart-geometry")
    expect(geo).to_have_attribute("data-state", "ready")
    assert geo.evaluate("el => el.data[0].type") == "contour"
    assert geo.evaluate("el => el.data.some(t => t.fill === 'toself')")  # the L1 diamond
    # moving the λ slider moves the solution point (and at some λ one coordinate is exactly 0)
    slider = page.get_by_test_id("geo-lambda")
    before = geo.get_attribute("data-solution")
    slider.fill("25")
    expect(geo).not_to_have_attribute("data-solution", before or "")
    assert "0" in (geo.get_attribute("data-solution") or "").split(",")

    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "running")
    wait_steps(page, 300)
    # L1 (proximal) has exact zeros, L2 none
    page.wait_for_function(
        "() => { const d = document.querySelector('[data-testid=chart-zeros]').data;"
        " const l1 = d && d.find(t => t.meta === 'l1');"
        " return l1 && l1.y.length && l1.y[l1.y.length - 1] > 0; }",
        timeout=15000,
    )
    z = zeros(page)
    assert z["l1"] > 0 and z["l2"] == 0, z
    for key in ("l1", "l2", "enet"):
        expect(card(page, key).get_by_test_id("chart-weights-hist")).to_have_attribute(
            "data-state", "ready"
        )
    hist_l1 = card(page, "l1").get_by_test_id("chart-weights-hist")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=chart-weights-hist][data-run=l1]')"
        ".dataset.exactZeros) > 0"
    )
    assert hist_l1.evaluate("el => el.layout.yaxis.type") == "log"
    coef = page.get_by_test_id("chart-coefficients")
    expect(coef).to_have_attribute("data-features", "20")
    assert coef.evaluate("el => el.data.length") == 4  # true + three runs
    save_screenshot(page, "sparsity-en")

    # subgradient L1: the exact zeros disappear
    page.get_by_test_id("l1-method").select_option("subgradient")
    page.wait_for_function(
        "() => { const d = document.querySelector('[data-testid=chart-zeros]').data;"
        " const l1 = d.find(t => t.meta === 'l1'); return l1.y[l1.y.length - 1] === 0; }",
        timeout=15000,
    )
    step_now = int(card(page, "l1").get_attribute("data-step") or 0)
    wait_steps(page, step_now + 100)
    # the counts are redrawn on a short timer after the frames: poll up to 10 s
    for _ in range(50):
        z = zeros(page)
        if z["l1"] == 0 and z["enet"] == 0 and z["l2"] == 0:
            break
        page.wait_for_timeout(200)
    assert z["l1"] == 0 and z["enet"] == 0 and z["l2"] == 0, z

    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "paused")

    # the URL carries the page's configuration
    page.get_by_test_id("l1").fill("0.3")
    page.get_by_test_id("path-method").select_option("elastic_net")
    page.wait_for_function(
        "() => new URL(location.href).searchParams.get('path') === 'elastic_net'"
    )
    q = parse_qs(urlparse(page.url).query)
    assert q["l1"] == ["0.3"] and q["method"] == ["subgradient"] and q["geo_k"] == ["25"]


def test_sparsity_fresh_subgradient_never_zero_and_url_round_trip(page: Page) -> None:
    page.goto(
        "/labs/sparsity?l1=0.2&l2=0.05&method=subgradient&n_features=12&n_informative=2"
        "&path=l2&geo=l2&geo_k=5"
    )
    wait_connected(page)
    assert page.get_by_test_id("l1").input_value() == "0.2"
    assert page.get_by_test_id("l1-method").input_value() == "subgradient"
    assert page.get_by_test_id("param-n_features").input_value() == "12"
    assert page.get_by_test_id("path-method").input_value() == "l2"
    expect(page.get_by_test_id("chart-path")).to_have_attribute("data-method", "l2")
    expect(page.get_by_test_id("chart-geometry")).to_have_attribute("data-method", "l2")
    page.get_by_test_id("play").click()
    wait_steps(page, 200)
    page.get_by_test_id("pause").click()
    z = zeros(page)
    assert z == {"l1": 0, "l2": 0, "enet": 0}, z
    expect(page.get_by_test_id("chart-coefficients")).to_have_attribute("data-features", "12")
    q = parse_qs(urlparse(page.url).query)
    assert q["n_features"] == ["12"] and q["geo"] == ["l2"] and q["geo_k"] == ["5"]
    # reload the same URL: same controls
    page.goto(page.url)
    wait_connected(page)
    assert page.get_by_test_id("l2").input_value() == "0.05"
    assert page.get_by_test_id("param-n_informative").input_value() == "2"


def test_sparsity_chinese(page: Page) -> None:
    page.goto("/labs/sparsity")
    wait_connected(page)
    page.get_by_test_id("lang-toggle").click()
    expect(page.locator("h1")).to_have_text("稀疏性：L1 与 L2")
    page.get_by_test_id("play").click()
    wait_steps(page, 250)
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "paused")
    expect(page.get_by_test_id("chart-coefficients")).to_have_attribute("data-state", "ready")
    page.wait_for_timeout(600)  # let the last snapshot draw
    save_screenshot(page, "sparsity-zh")


def test_sparsity_diverged_runs_show_diverged_not_paused(page: Page) -> None:
    """Issue 9, defect 4: lr 5 makes the runs diverge; the page says so (which runs, which
    step), Play stays disabled (it could only fail) and Reset brings back a playable lab."""
    page.goto("/labs/sparsity?lr=5")
    wait_connected(page)
    page.get_by_test_id("play").click()
    status = page.get_by_test_id("run-status")
    # The server sends the diverged frames ~1 s after Play. This waited ~30 s once: the weight
    # histograms reused an x tick step fitted to ±0.5 for weights of ±10⁴ and Plotly drew ~1,000
    # labels per draw (fixed in drawChart, see test_js_units.py); the page now shows it in ~2 s.
    expect(status).to_have_attribute("data-status", "diverged", timeout=15000)
    expect(status).to_have_text("diverged")
    note = page.get_by_test_id("diverged-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("at step")
    expect(page.get_by_test_id("play")).to_be_disabled()
    expect(page.get_by_test_id("reset")).to_be_enabled()
    expect(page.get_by_test_id("sparsity-error")).to_be_hidden()
    save_screenshot(page, "sparsity-diverged")
    # a smaller rate and Reset: playable again
    page.get_by_test_id("lr").fill("0.05")
    page.get_by_test_id("reset").click()
    expect(status).to_have_attribute("data-status", "ready", timeout=15000)
    expect(note).to_be_hidden()
    expect(page.get_by_test_id("play")).to_be_enabled()


# Text that does not fit: the selected option of a <select> wider than the box (minus padding
# and the arrow), or a label broken inside a word.
FITS = """() => {
  const sel = document.querySelector('[data-testid="batch"]');
  const cs = getComputedStyle(sel);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  const text = ctx.measureText(sel.selectedOptions[0].text).width;
  const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
  const label = document.querySelector('[data-testid="data-params"] label[for$="n_informative"]')
    || [...document.querySelectorAll('[data-testid="data-params"] label')]
       .find(l => l.textContent.includes('n_informative'));
  const range = document.createRange();
  range.selectNodeContents(label);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  return {text, room, lines};
}"""


@pytest.mark.parametrize("large", [True, False])
def test_sparsity_controls_text_is_not_cut(page: Page, large: bool) -> None:
    """Issue 9, defect 14: the Batch select's text is cut and "n_informative" wraps mid-word
    (1280×720, large text); defect 5: the page says why mini-batch proximal steps flicker."""
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/labs/sparsity")
    if large:
        page.get_by_test_id("font-toggle").click()
    wait_connected(page)
    for option in ("full", "32"):
        page.get_by_test_id("batch").select_option(option)
        m = page.evaluate(FITS)
        assert m["text"] <= m["room"], m
        assert m["lines"] == 1, m
    expect(page.get_by_test_id("batch-help")).to_contain_text("flicker")
