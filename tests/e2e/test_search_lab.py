"""Browser test of /labs/search: grid, random and TPE run side by side on a real server with its
own worker processes; the Bergstra-Bengio preset shows grid trying 3 learning rates where random
tries 9; a trial opens in the playground."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from app.main import create_app
from app.settings import Settings
from tests.conftest import run_live_server
from tests.e2e.conftest import PageErrors, save_screenshot

pytestmark = pytest.mark.e2e

XS = "el => (el.data || []).flatMap(t => Array.from(t.x || []))"


@pytest.fixture(scope="module")
def search_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = dataclasses.replace(Settings(), data_dir=Path(data_dir), search_workers=2)
        with run_live_server(create_app(settings)) as url:
            yield url


@pytest.fixture
def search_page(browser: Browser, search_server: str) -> Iterator[Page]:
    errors = PageErrors()
    context = browser.new_context(base_url=search_server,
                                  viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.on("console", errors.on_console)
    page.on("pageerror", errors.on_page_error)
    yield page
    context.close()
    errors.check()


def test_bergstra_preset_grid_vs_random(search_page: Page) -> None:
    page = search_page
    page.goto("/labs/search?preset=bergstra")
    expect(page.get_by_test_id("search-lab")).to_have_attribute("data-ready", "true")
    assert page.get_by_test_id("search-x").input_value() == "lr"
    assert page.get_by_test_id("search-y").input_value() == "dampening"
    page.get_by_test_id("search-run").click()
    for method in ("grid", "random", "tpe"):
        expect(page.get_by_test_id(f"status-{method}")).to_contain_text("done · 9/9",
                                                                        timeout=240_000)
    page.wait_for_timeout(500)  # the last redraw
    # the protocol: each method's winner (chosen on validation) measured once on the test split
    for method in ("grid", "random", "tpe"):
        expect(page.get_by_test_id(f"status-{method}")).to_contain_text(
            "winner on the test split: loss ")
    listed = page.evaluate("() => fetch('/api/searches').then((r) => r.json())")
    done = [s for s in listed if s["state"] == "done"]
    assert len(done) >= 3
    for s in done:
        detail = page.evaluate(f"() => fetch('/api/searches/{s['id']}').then((r) => r.json())")
        assert detail["spec"]["base"]["dataset"]["test_fraction"] == 0.2
        assert detail["best"]["evaluation"]["test"]["loss"] > 0
    xs = {m: page.get_by_test_id(f"plane-{m}").evaluate(XS) for m in ("grid", "random", "tpe")}
    assert len(xs["grid"]) == 9 and len(set(xs["grid"])) == 3  # a 3 x 3 lattice
    assert len(set(xs["random"])) == 9 and len(set(xs["tpe"])) == 9
    best = page.get_by_test_id("chart-best").evaluate("el => el.data.map(t => t.y.length)")
    assert best == [9, 9, 9]
    curves = page.get_by_test_id("chart-curves").evaluate("el => el.data.length")
    assert curves == 27
    expect(page.get_by_test_id("chart-optuna")).to_have_attribute("data-state", "ready")

    # a trial opens in the playground with its own settings
    page.get_by_test_id("plane-random").evaluate(
        "el => el.emit('plotly_click', {points: [{customdata: 4}]})")
    details = page.get_by_test_id("trial-details")
    expect(details).to_contain_text("#4")
    link = page.get_by_test_id("open-trial")
    href = link.get_attribute("href")
    assert href is not None
    q = parse_qs(urlparse(href).query)
    assert q["dataset"] == ["circle"] and q["hidden"] == ["8"]
    lr = float(q["lr"][0])
    assert lr in xs["random"]
    save_screenshot(page, "search-lab-bergstra")

    page.get_by_test_id("lang-toggle").click()
    page.get_by_test_id("font-toggle").click()
    expect(page.get_by_test_id("status-grid")).to_contain_text("完成")
    save_screenshot(page, "search-lab-zh-large")


def test_a_figure_the_search_cannot_have_yet_is_not_asked_for(search_page: Page) -> None:
    """Each Optuna figure needs some completed trials and parameters (the server's
    app.search_figures.FIGURES, on the select's options). The page says what is missing instead
    of fetching a 409, which the browser would also log as a console error (the fixture fails
    on those): with one trial per method, contour (two completed trials) is not asked for."""
    page = search_page
    figure_requests: list[str] = []
    page.on("request", lambda r: figure_requests.append(r.url) if "/figures/" in r.url else None)
    page.goto("/labs/search?x=lr&y=momentum&dataset=circle&hidden=4&trials=1&steps=20")
    expect(page.get_by_test_id("search-lab")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("search-run").click()
    for method in ("grid", "random", "tpe"):
        expect(page.get_by_test_id(f"status-{method}")).to_contain_text("1/1", timeout=120_000)
    expect(page.get_by_test_id("chart-optuna")).to_have_attribute("data-state", "ready")
    page.get_by_test_id("search-figure").select_option("contour")
    note = page.get_by_test_id("optuna-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("needs 2 completed trial(s)")
    assert not [u for u in figure_requests if u.endswith("/figures/contour")]
    page.get_by_test_id("search-figure").select_option("slice")
    expect(note).to_be_hidden()
    page.wait_for_function("() => document.querySelector('[data-testid=chart-optuna]').data"
                           " && document.querySelector('[data-testid=chart-optuna]').data.length")
    assert [u for u in figure_requests if u.endswith("/figures/slice")]


def test_bad_link_values_are_dropped_and_named(search_page: Page) -> None:
    page = search_page
    page.goto("/labs/search?x=nope&trials=100000&steps=200")
    expect(page.get_by_test_id("search-lab")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("search-error")).to_contain_text("x=nope")
    expect(page.get_by_test_id("search-error")).to_contain_text("trials=100000")
    assert page.get_by_test_id("search-x").input_value() == "lr"
    assert page.get_by_test_id("search-steps").input_value() == "200"
    page.get_by_test_id("search-y").select_option("lr")
    page.get_by_test_id("search-run").click()
    expect(page.get_by_test_id("search-error")).to_contain_text("two different")


def test_ground_truth_landscape_is_drawn_and_cached(search_page: Page) -> None:
    """truth=1: a 6 × 6 grid search of its own is drawn under each method's points; running the
    same comparison again reuses it (the cached id) instead of training it again."""
    page = search_page
    page.goto("/labs/search?x=lr&y=momentum&dataset=circle&hidden=4&trials=3&steps=20&truth=1")
    lab = page.get_by_test_id("search-lab")
    expect(lab).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("search-truth")).to_be_checked()
    page.get_by_test_id("search-run").click()
    expect(lab).to_have_attribute("data-truth-cached", "false", timeout=30_000)
    truth_id = lab.get_attribute("data-truth-id")
    for method in ("grid", "random", "tpe"):
        expect(page.get_by_test_id(f"plane-{method}")).to_have_attribute(
            "data-truth-points", "36", timeout=240_000)
    contour = page.get_by_test_id("plane-random").evaluate(
        "el => { const c = el.data[0]; return {type: c.type, x: Array.from(c.x), "
        "y: Array.from(c.y)}; }")
    assert contour["type"] == "contour" and len(contour["x"]) == 6 and len(contour["y"]) == 6
    detail = page.evaluate(f"() => fetch('/api/searches/{truth_id}').then((r) => r.json())")
    assert "spec" in detail, detail
    assert detail["spec"]["sampler"] == {"name": "grid", "seed": 0, "points": 6}
    grid_lrs = sorted({t["params"]["optimizer.lr"] for t in detail["trials"]})
    assert grid_lrs == contour["x"]
    save_screenshot(page, "search-lab-truth")

    before = len(page.evaluate("() => fetch('/api/searches').then((r) => r.json())"))
    page.goto(page.url)  # a new page: the landscape's id comes from the browser's cache
    expect(lab).to_have_attribute("data-ready", "true")
    page.get_by_test_id("search-run").click()
    expect(lab).to_have_attribute("data-truth-cached", "true", timeout=30_000)
    assert lab.get_attribute("data-truth-id") == truth_id
    for method in ("grid", "random", "tpe"):
        expect(page.get_by_test_id(f"status-{method}")).to_contain_text("3/3", timeout=240_000)
    after = len(page.evaluate("() => fetch('/api/searches').then((r) => r.json())"))
    assert after == before + 3  # three new method searches, no new landscape
