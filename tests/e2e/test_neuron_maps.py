"""Browser tests of issue 9's two TensorFlow-Playground items: feature crosses as inputs (a
checkbox group from the catalog, in the config and the URL) and per-neuron output maps on the
network diagram (numbers from the snapshot's ``neuron_maps``)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOT_DIR, PageErrors, save_screenshot
from tests.e2e.playground_util import settled_step
from tests.e2e.test_playground_fixes import open_playground, play_until, query

pytestmark = pytest.mark.e2e

MAPS_URL = "/?dataset=circle&hidden=4,3&activation=tanh&seed=3"


def run_id(page: Page) -> str:
    return page.get_by_test_id("playground").get_attribute("data-run-id") or ""


def api(page: Page, live_server: str, path: str) -> dict:
    """GET with the page's owner cookie."""
    response = page.request.get(f"{live_server}/api/runs/{run_id(page)}{path}")
    assert response.ok, response.text()
    return response.json()


def run_config(live_server: str, page: Page) -> dict:
    return api(page, live_server, "")["config"]


def shown_maps(page: Page, step: int) -> list[dict]:
    """The diagram's maps once it shows the snapshot of `step`: layer, unit, the grid drawn."""
    page.wait_for_function(
        "(s) => document.querySelector('[data-testid=network-diagram]').dataset.snapshotStep"
        " === String(s)", arg=step, timeout=20000)
    return page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=neuron-map]')].map((n) =>"
        " ({ layer: +n.dataset.layer, unit: +n.dataset.unit, values: n.gpValues,"
        "    w: n.getBoundingClientRect().width }))")


def assert_maps_match_api(page: Page, live_server: str, hidden: list[int]) -> None:
    # paused: the page's last snapshot and the API's are of the same step
    rid = run_id(page)
    step = settled_step(page) + 1
    page.get_by_test_id("step").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", str(step))
    shown = shown_maps(page, step)
    snap = page.request.get(f"{live_server}/api/runs/{rid}/snapshot").json()
    assert snap["step"] == step
    api = snap["neuron_maps"]["layers"]
    assert [len(units) for units in api] == hidden
    assert sorted((m["layer"], m["unit"]) for m in shown) == [
        (k, j) for k, width in enumerate(hidden) for j in range(width)]
    for m in shown:
        assert m["values"] == api[m["layer"]][m["unit"]], (m["layer"], m["unit"])
        assert len(m["values"]) == 24 and m["w"] >= 8
    # the maps are not all one colour: the units see the plane differently
    assert len({str(m["values"]) for m in shown}) == len(shown)


def test_neuron_maps_equal_the_snapshot_and_hover_shows_weights(page: Page,
                                                                live_server: str) -> None:
    open_playground(page, MAPS_URL)
    play_until(page, 30)
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).not_to_have_attribute("data-status", "running")
    assert_maps_match_api(page, live_server, [4, 3])
    expect(page.get_by_test_id("network-legend")).to_contain_text("hover")
    # hover enlarges the unit and lists its incoming weights (the snapshot's W column)
    zoom = page.get_by_test_id("neuron-zoom")
    expect(zoom).to_have_attribute("visibility", "hidden")
    unit = page.locator('[data-testid=neuron-map][data-layer="1"][data-unit="2"]')
    unit.hover()
    expect(zoom).to_have_attribute("visibility", "visible")
    snap = page.request.get(f"{live_server}/api/runs/{run_id(page)}/snapshot").json()
    w_in = [row[2] for row in snap["network"][1]["W"]]
    lines = zoom.locator("text").all_text_contents()
    assert "hidden 2" in lines[0] and "unit 3" in lines[0], lines
    # the diagram's own toPrecision(3) of the engine's numbers
    shown_w = [float(line.split("=")[1]) for line in lines[1:1 + len(w_in)]]
    # (a relative tolerance cannot express 3 significant digits: 0.17845 shows as 0.178, off by
    # 2.5e-3 relative; compare with the same rounding instead)
    assert shown_w == [float(f"{w:.3g}") for w in w_in], (lines, w_in)
    big = zoom.locator("image").bounding_box()
    small = unit.bounding_box()
    assert big and small and big["width"] > 2 * small["width"]
    save_screenshot(page, "neuron-maps-hover")
    diagram = page.get_by_test_id("network-diagram")
    diagram.screenshot(path=str(SCREENSHOT_DIR / "neuron-maps-diagram.png"))
    page.mouse.move(5, 5)
    expect(zoom).to_have_attribute("visibility", "hidden")
    # Chinese
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("network-legend")).to_contain_text("悬停", timeout=10000)
    assert_maps_match_api(page, live_server, [4, 3])
    unit.hover()
    expect(zoom).to_contain_text("单元")
    save_screenshot(page, "neuron-maps-zh")
    diagram.screenshot(path=str(SCREENSHOT_DIR / "neuron-maps-diagram-zh.png"))


def test_neuron_maps_large_text_1280x720_and_phone(browser: Browser, live_server: str,
                                                   page_errors: PageErrors) -> None:
    for name, viewport, extra in [
        ("neuron-maps-1280x720-large", {"width": 1280, "height": 720}, {}),
        ("neuron-maps-390", {"width": 390, "height": 844}, {"has_touch": True, "is_mobile": True}),
    ]:
        context = browser.new_context(base_url=live_server, viewport=viewport, **extra)
        page = context.new_page()
        page.on("console", page_errors.on_console)
        page.on("pageerror", page_errors.on_page_error)
        open_playground(page, MAPS_URL.replace("4,3", "6,6,6"))
        if name.endswith("large"):
            page.get_by_test_id("font-toggle").click()
        assert_maps_match_api(page, live_server, [6, 6, 6])
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        diagram = page.get_by_test_id("network-svg")
        diagram.scroll_into_view_if_needed()
        box = diagram.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        save_screenshot(page, name)
        diagram.screenshot(path=str(SCREENSHOT_DIR / f"{name}-diagram.png"))
        context.close()
    page_errors.check()


def test_feature_crosses_let_a_linear_model_separate_the_circle(page: Page,
                                                               live_server: str) -> None:
    open_playground(page, "/?dataset=circle&hidden=&optimizer=adam&lr=0.1&batch_size=40")
    group = page.get_by_test_id("features")
    expect(group).to_be_visible()
    expect(page.get_by_test_id("feature-x1")).to_be_checked()
    expect(page.get_by_test_id("feature-x2")).to_be_checked()
    assert "features" not in query(page)  # default: left out of the URL
    for action, name, want in [
        ("check", "x1_sq", "x1,x2,x1_sq"), ("check", "x2_sq", "x1,x2,x1_sq,x2_sq"),
        ("uncheck", "x1", "x2,x1_sq,x2_sq"), ("uncheck", "x2", "x1_sq,x2_sq"),
    ]:
        old = run_id(page)
        getattr(page.get_by_test_id(f"feature-{name}"), action)()
        page.wait_for_function(
            "([old, want]) => { const r = document.querySelector('[data-testid=playground]');"
            " return r.dataset.runId && r.dataset.runId !== old"
            " && new URL(location.href).searchParams.get('features') === want; }",
            arg=[old, want], timeout=20000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready")
    cfg = run_config(live_server, page)
    assert cfg["dataset"]["features"] == ["x1_sq", "x2_sq"] and cfg["model"]["hidden"] == []
    play_until(page, 300)
    page.get_by_test_id("pause").click()
    cols = api(page, live_server, "/history?fields=train_acc,val_acc")
    assert cols["step"][-1] >= 300
    assert cols["val_acc"][-1] > 0.95 and cols["train_acc"][-1] > 0.95, cols["val_acc"][-5:]
    save_screenshot(page, "feature-crosses-circle")
    # the last ticked box cannot be unticked: said at the group, the run keeps its features
    old = run_id(page)
    page.get_by_test_id("feature-x1_sq").uncheck()
    page.get_by_test_id("rebuild-apply").click()  # a trained run restarts only when asked
    page.wait_for_function(
        "(old) => document.querySelector('[data-testid=playground]').dataset.runId !== old",
        arg=old, timeout=20000)
    expect(page).to_have_url(re.compile(r"features=x2_sq(&|$)"))
    page.get_by_test_id("feature-x2_sq").click()
    expect(page.get_by_test_id("feature-x2_sq")).to_be_checked()
    expect(group.get_by_test_id("field-error")).to_contain_text("features")
    expect(page).to_have_url(re.compile(r"features=x2_sq(&|$)"))
    assert run_config(live_server, page)["dataset"]["features"] == ["x2_sq"]
    # the link restores the features; a non-2-D dataset hides the group
    page.reload()
    expect(page.get_by_test_id("feature-x2_sq")).to_be_checked()
    expect(page.get_by_test_id("feature-x1")).not_to_be_checked()
    page.get_by_test_id("dataset").select_option("sine")
    expect(group).to_be_hidden()


@pytest.mark.parametrize(("link", "reason"), [
    ("features=x1,cube", "cube"),  # unknown name
    ("features=", "features"),  # empty
    ("features=x1,x1", "features"),  # twice
])
def test_invalid_features_in_a_link_are_dropped_and_named(page: Page, live_server: str,
                                                         link: str, reason: str) -> None:
    open_playground(page, f"/?dataset=circle&lr=0.05&{link}")
    expect(page.get_by_test_id("link-dropped")).to_contain_text("features")
    cfg = run_config(live_server, page)
    assert cfg["dataset"]["features"] == ["x1", "x2"] and cfg["optimizer"]["lr"] == 0.05
    assert "features" not in query(page)


def test_features_on_a_1d_dataset_link_are_dropped(page: Page, live_server: str) -> None:
    open_playground(page, "/?dataset=sine&features=x1_sq")
    expect(page.get_by_test_id("link-dropped")).to_contain_text("features")
    assert run_config(live_server, page)["dataset"]["name"] == "sine"


def test_an_enlarged_unit_stays_enlarged_when_the_diagram_is_redrawn(
        page: Page, live_server: str) -> None:
    """The diagram is redrawn with every snapshot (twice a second while playing): the unit
    under the pointer, or with keyboard focus, keeps its enlargement, with the new numbers."""
    open_playground(page, MAPS_URL)
    play_until(page, 10)
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).not_to_have_attribute("data-status", "running")
    zoom = page.get_by_test_id("neuron-zoom")
    for how in ("hover", "focus"):
        # one step: the diagram then shows a snapshot of a known step
        step = settled_step(page) + 1
        page.evaluate("() => document.querySelector('[data-testid=step]').click()")
        shown_maps(page, step)
        unit = page.locator('[data-testid=neuron-map][data-layer="0"][data-unit="1"]')
        if how == "hover":
            unit.hover()
        else:
            page.mouse.move(5, 5)
            unit.focus()
        expect(zoom).to_have_attribute("visibility", "visible")
        # a step by script (the pointer stays where it is): a new snapshot redraws the diagram
        page.evaluate("() => document.querySelector('[data-testid=step-10]').click()")
        shown_maps(page, step + 10)
        expect(zoom).to_have_attribute("visibility", "visible")
        snap = page.request.get(f"{live_server}/api/runs/{run_id(page)}/snapshot").json()
        assert snap["step"] == step + 10
        w_in = [row[1] for row in snap["network"][0]["W"]]
        lines = zoom.locator("text").all_text_contents()
        assert "unit 2" in lines[0], lines
        shown_w = [float(line.split("=")[1]) for line in lines[1:1 + len(w_in)]]
        assert shown_w == [float(f"{w:.3g}") for w in w_in], (lines, w_in)
        if how == "focus":
            assert page.evaluate(
                "() => document.activeElement.dataset.layer === '0'"
                " && document.activeElement.dataset.unit === '1'")
    page.evaluate("() => document.activeElement.blur()")
    page.mouse.move(5, 5)
    expect(zoom).to_have_attribute("visibility", "hidden")
