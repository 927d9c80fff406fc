"""Browser tests of /labs/optimizers: surfaces, trajectories, presets, optimizer state, the
notes' numbers and the EWA panel. Numbers read from the chart traces are compared with the API."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOT_DIR, save_screenshot

pytestmark = pytest.mark.e2e

PATHS = (
    "el => (el.data || []).filter(t => t.meta && t.meta.kind === 'path')"
    ".map(t => t.x.map((x, i) => [x, t.y[i]]))"
)
SERIES = "el => (el.data || []).filter(t => t.meta).map(t => ({meta: t.meta, y: t.y}))"


def open_lab(page: Page, query: str = "") -> None:
    page.goto(f"/labs/optimizers{query}")
    lab = page.get_by_test_id("optimizers-lab")
    expect(lab).to_have_attribute("data-state", "ready", timeout=20000)
    expect(lab).to_have_attribute("data-extras", "ready", timeout=20000)


def preset(page: Page, name: str) -> None:
    page.get_by_test_id(f"opt-preset-{name}").click()
    expect(page.get_by_test_id("optimizers-lab")).to_have_attribute(
        "data-state", "ready", timeout=20000
    )
    assert f"preset={name}" in page.url


def paths(page: Page) -> list[list[list[float]]]:
    return page.get_by_test_id("chart-contour").evaluate(PATHS)


def api_path(page: Page, body: dict[str, Any]) -> dict[str, Any]:
    response = page.request.post("/api/optimizers/trajectory", data=body)
    assert response.ok, response.text()
    return response.json()


def test_page_loads_with_contour_trajectories_and_notes_table(page: Page) -> None:
    open_lab(page)
    contour = page.get_by_test_id("chart-contour").evaluate(
        "el => el.data.filter(t => t.type === 'contour').length"
    )
    assert contour == 1
    assert len(paths(page)) == 2
    rows = page.get_by_test_id("opt-notes-table").locator("tbody tr")
    expect(rows).to_have_count(4)
    cells = [rows.nth(i).get_by_test_id("gradplay").inner_text() for i in range(4)]
    assert cells[0] == "0.99"
    assert cells[1] == "0.9711"
    # 0.1 − 0.01·0.1/(√(0.1·0.01) + 1e-8) = 0.068377…: the notes print it to 4 digits
    assert cells[2].startswith("0.06837") and round(float(cells[2]), 4) == 0.0684
    assert cells[3] == "0.98001"
    expect(page.get_by_test_id("opt-notes-dampening")).to_contain_text("dampening = 0.9")
    expect(page.get_by_test_id("opt-ewa-window")).to_contain_text("10")
    save_screenshot(page, "optimizers-default")


def test_saddle_preset_momentum_leaves_sgd_stays(page: Page) -> None:
    open_lab(page)
    preset(page, "saddle")
    drawn = paths(page)
    assert len(drawn) == 2
    for i, momentum in enumerate((0.0, 0.9)):
        body = {
            "function": "saddle",
            "steps": 30,
            "optimizer": {"name": "sgd", "lr": 0.05, "momentum": momentum},
        }
        api = api_path(page, body)
        assert drawn[i] == api["path"]  # the engine's numbers, drawn as they are
        api_state = api_path(page, {**body, "state": True})
        if momentum:
            # "Inside the optimizer" draws torch's momentum_buffer, as the API returns it
            state = page.get_by_test_id("chart-state").evaluate(SERIES)
            assert {s["meta"]["key"] for s in state} == {"momentum_buffer"}
            assert [s["y"] for s in state] == [
                [row[j] for row in api_state["state"]["momentum_buffer"]] for j in (0, 1)
            ]
    sgd_end, momentum_end = drawn[0][-1], drawn[1][-1]
    assert abs(sgd_end[1]) < 0.5  # plain SGD is still near the saddle (0, 0)
    assert abs(momentum_end[1]) > 2.5  # momentum has rolled off it
    save_screenshot(page, "optimizers-saddle")


def test_scrubber_and_step_show_the_path_so_far(page: Page) -> None:
    open_lab(page, "?fn=saddle&steps=30&o=sgd")
    scrubber = page.get_by_test_id("opt-scrubber")
    scrubber.fill("5")
    expect(page.get_by_test_id("opt-frame")).to_have_text("5")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"chart-contour\"]').data"
        ".filter(t => t.meta && t.meta.kind === 'path')[0].x.length === 6"
    )
    page.get_by_test_id("opt-step").click()
    expect(page.get_by_test_id("opt-frame")).to_have_text("6")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"chart-contour\"]').data"
        ".filter(t => t.meta && t.meta.kind === 'path')[0].x.length === 7"
    )


def test_zigzag_vs_rescaled(page: Page) -> None:
    open_lab(page)
    preset(page, "zigzag")
    ys = [p[1] for p in paths(page)[0]]
    flips = sum(1 for a, b in zip(ys, ys[1:], strict=False) if a * b < 0)
    assert flips >= 10  # y changes sign nearly every step: the zig-zag
    preset(page, "rescaled")
    ys = [p[1] for p in paths(page)[0]]
    assert all(y > 0 for y in ys)  # the round bowl: straight in, no sign flip


def test_rosenbrock_adam_gets_closer_than_sgd(page: Page) -> None:
    open_lab(page)
    preset(page, "rosenbrock")
    series = page.get_by_test_id("chart-distance").evaluate(SERIES)
    adam, sgd = series[0]["y"], series[1]["y"]
    assert adam[-1] < 0.5 * sgd[-1]


def test_adagrad_step_shrinks_rmsprop_does_not(page: Page) -> None:
    open_lab(page)
    preset(page, "adagrad")
    series = page.get_by_test_id("chart-effective-lr").evaluate(SERIES)
    ada = next(s["y"] for s in series if s["meta"] == {"opt": 0, "coord": "x"})
    rms = next(s["y"] for s in series if s["meta"] == {"opt": 1, "coord": "x"})
    assert all(b <= a for a, b in zip(ada, ada[1:], strict=False))
    assert ada[-1] < ada[0]
    assert rms[-1] > rms[0]  # RMSprop forgets: its step grows back as the gradient vanishes
    keys = {s["meta"]["key"] for s in page.get_by_test_id("chart-state").evaluate(SERIES)}
    assert keys == {"sum"}  # torch's Adagrad state key


def test_diverging_lr_is_shown_as_a_state(page: Page) -> None:
    open_lab(page)
    preset(page, "diverge")
    expect(page.get_by_test_id("opt-status-0")).to_have_attribute("data-diverged", "false")
    status = page.get_by_test_id("opt-status-1")
    expect(status).to_have_attribute("data-diverged", "true")
    api = api_path(
        page,
        {
            "function": "quadratic",
            "params": {"a": 1, "b": 10},
            "steps": 300,
            "optimizer": {"name": "sgd", "lr": 0.5},
        },
    )
    assert api["diverged"]
    expect(status).to_contain_text(str(api["diverged_at"]))


def test_notes_preset_is_in_the_url_and_reloads(page: Page) -> None:
    open_lab(page)
    preset(page, "notes")
    drawn = paths(page)
    assert drawn[0][1][0] == pytest.approx(0.99, abs=1e-15)
    assert drawn[0][2][0] == pytest.approx(0.9711, abs=1e-15)
    assert drawn[1][2][0] == pytest.approx(0.98001, abs=1e-15)
    url = page.url
    open_lab(page, url[url.index("?") :])
    assert paths(page) == drawn


def test_ewa_beta_slider(page: Page) -> None:
    open_lab(page)
    page.get_by_test_id("opt-ewa-beta").fill("0.98")
    expect(page.get_by_test_id("opt-ewa-window")).to_contain_text("50")
    assert "beta=0.98" in page.url


# The page is measured at once, without waiting for charts to settle: the font toggle's redraw
# draws every chart at its card's new width (drawChart in common.js). It used to redraw at the
# old width and re-fit only after Plotly's debounced resize, so chart-effective-lr (the last
# chart redrawn) was sometimes caught 37 px wider than the window.
@pytest.mark.parametrize("large", [False, True])
def test_zh_and_large_text_at_1280x720(page: Page, large: bool) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    open_lab(page)
    if large:
        page.get_by_test_id("font-toggle").click()
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("opt-preset-saddle")).to_have_text("动量冲过鞍点")
    expect(page.get_by_test_id("opt-notes-dampening")).to_contain_text("0.98001")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    save_screenshot(page, f"optimizers-zh{'-large' if large else ''}")


def test_phone_390(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_lab(page)
    preset(page, "saddle")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    save_screenshot(page, "optimizers-phone")
    for part in ("chart-contour", "opt-notes", "opt-inside"):
        page.get_by_test_id(part).screenshot(
            path=str(SCREENSHOT_DIR / f"optimizers-phone-{part}.png")
        )
