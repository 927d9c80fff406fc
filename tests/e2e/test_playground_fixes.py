"""Browser tests of issue 9's playground defects and mechanisms: validation from the schema,
links restored part by part, runs replaced only once the new one exists, charts that re-fit,
legends, change markers, axis titles, deep nets, log ticks, the phone layout, the readout and
live `set` on change. Each test names the defect it guards."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.e2e.conftest import PageErrors, save_screenshot
from tests.e2e.playground_util import owner_headers, settled_box

pytestmark = pytest.mark.e2e

SERIES = ["chart-loss", "chart-accuracy", "chart-lr", "chart-grad-norm", "chart-grad-heatmap",
          "chart-update-ratio", "chart-zeros"]


def open_playground(page: Page, url: str = "/") -> None:
    page.goto(url)
    root = page.get_by_test_id("playground")
    expect(root).to_have_attribute("data-ready", "true", timeout=20000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready", timeout=15000)
    chart = page.get_by_test_id("chart-loss")
    expect(chart).to_have_attribute("data-state", "ready", timeout=15000)


def query(page: Page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query, keep_blank_values=True).items()}


def step_of(page: Page) -> int:
    return int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")


def run_config(live_server: str, page: Page) -> dict:
    run_id = page.get_by_test_id("playground").get_attribute("data-run-id")
    return httpx.get(f"{live_server}/api/runs/{run_id}",
                     headers=owner_headers(page)).json()["config"]


def wait_step(page: Page, steps: int) -> None:
    page.wait_for_function(
        f"() => +document.querySelector('[data-testid=step-counter]').dataset.step >= {steps}"
    )


def play_until(page: Page, steps: int) -> None:
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    page.wait_for_function(
        f"() => +document.querySelector('[data-testid=step-counter]').dataset.step > {steps}",
        timeout=20000,
    )


def layout(page: Page, testid: str) -> dict:
    return page.evaluate(
        "(id) => { const el = document.querySelector(`[data-testid=\"${id}\"]`);"
        " return JSON.parse(JSON.stringify(el.layout)); }",
        testid,
    )


def traces(page: Page, testid: str) -> list[dict]:
    return page.evaluate(
        "(id) => { const el = document.querySelector(`[data-testid=\"${id}\"]`);"
        " return el.data.map((t) => ({ name: t.name, showlegend: t.showlegend,"
        " color: t.line && t.line.color, mcolor: t.marker && t.marker.color,"
        " symbol: t.marker && t.marker.symbol, showscale: t.marker && t.marker.showscale })); }",
        testid,
    )


# ------------------------------------------------------------------------------- defect 1


def test_invalid_restart_field_is_marked_and_the_run_keeps_going(page: Page) -> None:
    """Defect 1: Samples = 0 on a playing run used to kill it (stuck "connecting")."""
    open_playground(page, "/?dataset=spiral")
    play_until(page, 10)
    samples = page.get_by_test_id("samples")
    samples.fill("0")
    samples.dispatch_event("change")
    error = page.get_by_test_id("section-data").get_by_test_id("field-error")
    expect(error).to_contain_text("1 ≤ x ≤")
    expect(samples).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("rebuild-notice")).to_be_hidden()
    before = step_of(page)
    page.wait_for_function(
        f"() => +document.querySelector('[data-testid=step-counter]').dataset.step > {before + 5}"
    )
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    assert query(page)["n"] == "200"
    # cleared field: still marked, never "NaN" in the URL; a valid value clears the mark
    samples.fill("")
    samples.dispatch_event("change")
    expect(samples).to_have_attribute("aria-invalid", "true")
    assert "NaN" not in page.url
    samples.fill("300")
    samples.dispatch_event("change")
    expect(error).to_have_count(0)
    expect(page.get_by_test_id("rebuild-notice")).to_be_visible()
    expect(page.get_by_test_id("pg-error")).to_be_hidden()


def test_failed_restart_keeps_the_old_run_and_undo_works(page: Page,
                                                        page_errors: PageErrors) -> None:
    """Defect 1 / mechanism: the new run is created before the old one is torn down; when the
    server refuses it, the old run keeps playing, its message is shown, Undo restores."""
    open_playground(page, "/?dataset=spiral")
    old_id = page.get_by_test_id("playground").get_attribute("data-run-id")
    play_until(page, 10)

    def refuse(route: Route) -> None:
        if route.request.method == "POST":
            detail = [{"loc": ["body", "dataset", "n"], "msg": "refused by the test server",
                       "type": "value_error"}]
            route.fulfill(status=422, content_type="application/json",
                          body=json.dumps({"detail": detail}))
        else:
            route.continue_()

    page.route("**/api/runs", refuse)
    samples = page.get_by_test_id("samples")
    samples.fill("300")
    samples.dispatch_event("change")
    expect(page.get_by_test_id("rebuild-notice")).to_be_visible()
    page.get_by_test_id("rebuild-apply").click()
    expect(page.get_by_test_id("pg-error")).to_contain_text("refused by the test server")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    assert page.get_by_test_id("playground").get_attribute("data-run-id") == old_id
    before = step_of(page)
    page.wait_for_function(
        f"() => +document.querySelector('[data-testid=step-counter]').dataset.step > {before + 5}"
    )
    expect(page.get_by_test_id("pause")).to_be_enabled()
    page.get_by_test_id("rebuild-revert").click()
    expect(page.get_by_test_id("rebuild-notice")).to_be_hidden()
    expect(page.get_by_test_id("samples")).to_have_value("200")
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    # the browser logs the refused request itself (the 422 this test planted); nothing else
    page_errors.messages = [m for m in page_errors.messages if "status of 422" not in m]


def test_a_typed_restart_value_makes_one_run(page: Page) -> None:
    """A typed value rebuilds after its 300 ms debounce and again on `change`: while the first
    run for that config was still being created the page made a second, identical run (and
    deleted one of them at once). Creation is slowed here so the `change` lands mid-flight."""
    open_playground(page, "/?dataset=spiral")
    old_id = page.get_by_test_id("playground").get_attribute("data-run-id")
    posts: list[str] = []

    def slow_create(route: Route) -> None:
        if route.request.method == "POST":
            posts.append(route.request.post_data or "")
            page.wait_for_timeout(1500)  # the debounced request is still in flight at `change`
        route.continue_()

    page.route("**/api/runs", slow_create)
    samples = page.get_by_test_id("samples")
    samples.fill("300")
    page.wait_for_timeout(600)  # past the debounce: the first creation is on its way
    samples.dispatch_event("change")
    expect(page.get_by_test_id("playground")).not_to_have_attribute("data-run-id", old_id or "",
                                                                    timeout=15000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready")
    page.wait_for_timeout(2000)  # a second creation would have been requested by now
    assert len(posts) == 1, posts
    assert json.loads(posts[0])["dataset"]["n"] == 300


# ------------------------------------------------------------------------------- defect 2


def test_invalid_lr_never_reaches_the_run_or_the_url(page: Page, live_server: str) -> None:
    """Defect 2: lr 1000 went into the URL; on reload the whole link was reset."""
    open_playground(page, "/?optimizer=adam&l1=0.01&lr=0.01")
    lr = page.get_by_test_id("lr")
    lr.fill("1000")
    lr.dispatch_event("change")
    expect(lr).to_have_attribute("aria-invalid", "true")
    error = page.get_by_test_id("section-optimizer").get_by_test_id("field-error")
    expect(error).to_contain_text("≤ 10")
    page.wait_for_timeout(500)  # the URL is written in a later task; it must still hold 0.01
    assert query(page)["lr"] == "0.01"
    assert run_config(live_server, page)["optimizer"]["lr"] == 0.01


def test_a_link_with_bad_values_restores_every_valid_part(page: Page) -> None:
    """Defect 2 / mechanism: an invalid or unknown value is dropped and named, never the
    whole link (Adam, L1 and the dataset survive a bad lr, a too-wide layer and batch size 1
    with batch norm)."""
    open_playground(
        page,
        "/?dataset=spiral&optimizer=adam&l1=0.01&lr=1000&hidden=16,600&batch_norm=true"
        "&batch_size=1&bogus=1",
    )
    expect(page.get_by_test_id("optimizer")).to_have_value("adam")
    expect(page.get_by_test_id("dataset")).to_have_value("spiral")
    expect(page.get_by_test_id("l1")).to_have_value("0.01")
    expect(page.get_by_test_id("batch-norm")).to_be_checked()
    notice = page.get_by_test_id("link-dropped")
    expect(notice).to_be_visible()
    for part in ["lr=1000", "hidden=16,600", "batch_size=1", "bogus"]:
        expect(notice).to_contain_text(part)
    q = query(page)
    assert q["optimizer"] == "adam" and q["l1"] == "0.01" and q["dataset"] == "spiral"
    assert q["batch_norm"] == "true"
    assert q["lr"] != "1000" and q["batch_size"] != "1"


# ------------------------------------------------------------------------------- defect 3


def chart_fits(page: Page, testid: str) -> tuple[float, float]:
    return page.evaluate(
        "(id) => { const el = document.querySelector(`[data-testid=\"${id}\"]`);"
        " return [el._fullLayout.width, el.clientWidth]; }",
        testid,
    )


def test_charts_refit_on_font_toggle_and_controls_fold(browser: Browser, live_server: str,
                                                       page_errors: PageErrors) -> None:
    """Defect 3: at 1280x720 the large-text toggle left charts 449 px wide in 826 px cards."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.on("console", page_errors.on_console)
    page.on("pageerror", page_errors.on_page_error)
    open_playground(page)
    page.get_by_test_id("step-10").click()
    wait_step(page, 10)
    for action in ["font", "font", "controls", "controls"]:
        if action == "font":
            page.get_by_test_id("font-toggle").click()
        else:
            page.get_by_test_id("controls-toggle").click()
        for testid in ["chart-loss", "chart-boundary"]:
            page.wait_for_function(
                "(id) => { const el = document.querySelector(`[data-testid=\"${id}\"]`);"
                " return Math.abs(el._fullLayout.width - el.clientWidth) < 2; }",
                arg=testid, timeout=10000,
            )
            drawn, box = chart_fits(page, testid)
            assert abs(drawn - box) < 2, (action, testid, drawn, box)
    page.get_by_test_id("font-toggle").click()
    save_screenshot(page, "playground-1280x720-large")
    page.get_by_test_id("font-toggle").click()
    context.close()
    page_errors.check()


# ------------------------------------------------------------------------------- defects 6, 9


def test_prediction_legend_classes_by_colour_parts_by_marker(page: Page) -> None:
    """Defect 6: "train"/"validation" were drawn in class colours (spiral: 3 classes, 2
    legend colours)."""
    open_playground(page, "/?dataset=spiral")
    expect(page.get_by_test_id("chart-boundary")).to_have_attribute("data-state", "ready")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-boundary]').data.length > 3"
    )
    legend = [t for t in traces(page, "chart-boundary") if t["showlegend"] is not False
              and t["name"]]
    names = [t["name"] for t in legend]
    assert {"class 0", "class 1", "class 2", "train", "validation"} <= set(names), names
    class_colours = {t["mcolor"] for t in legend if t["name"].startswith("class")}
    assert len(class_colours) == 3
    parts = {t["name"]: t for t in legend if t["name"] in ("train", "validation")}
    assert parts["train"]["mcolor"] == parts["validation"]["mcolor"]  # same neutral colour
    assert parts["train"]["symbol"] != parts["validation"]["symbol"]  # told apart by marker
    for t in legend:
        assert not isinstance(t["mcolor"], list), t  # no legend entry with per-point colours


def test_every_chart_has_both_axis_titles(page: Page) -> None:
    """Defect 9: seven time-series charts had no axis titles."""
    open_playground(page)
    page.get_by_test_id("step-10").click()
    wait_step(page, 10)
    for testid in [*SERIES, "chart-weights-hist", "chart-boundary"]:
        page.wait_for_function(
            "(id) => { const l = document.querySelector(`[data-testid=\"${id}\"]`).layout;"
            " return l && l.xaxis && l.xaxis.title && l.xaxis.title.text; }",
            arg=testid, timeout=10000,
        )
        lay = layout(page, testid)
        assert lay["xaxis"]["title"]["text"], testid
        assert lay["yaxis"]["title"]["text"], testid


# ------------------------------------------------------------------------------- defect 8


def test_change_markers_short_translated_staggered_full_text_on_hover(page: Page) -> None:
    """Defect 8: markers were clipped at the edge, piled up and stayed English in zh."""
    page.goto("/")
    page.evaluate("() => localStorage.setItem('gradplay.lang', 'zh')")
    open_playground(page)
    play_until(page, 5)
    lr = page.get_by_test_id("lr")
    for value in ["0.05", "0.07"]:
        n = int(page.get_by_test_id("playground").get_attribute("data-markers") or "0")
        lr.fill(value)
        lr.dispatch_event("change")
        page.wait_for_function(
            f"() => +document.querySelector('[data-testid=playground]').dataset.markers > {n}"
        )
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=chart-loss]').layout.annotations || [])"
        ".length >= 2"
    )
    page.get_by_test_id("pause").click()
    notes = layout(page, "chart-loss")["annotations"]
    assert all(a["text"] == "学习率" for a in notes), notes
    assert "0.05 → 0.07" in notes[-1]["hovertext"]
    assert notes[0]["y"] != notes[1]["y"]  # staggered
    assert all(a["yref"] == "paper" and a["y"] <= 1 for a in notes)  # inside the plot area


def test_many_change_markers_keep_every_line_and_label_the_newest(page: Page) -> None:
    """Defect 15: every label is measured on each redraw of each time-series chart (30 labels
    doubled a redraw), so only the newest 8 changes are labelled; every change keeps its line."""
    open_playground(page)
    play_until(page, 5)
    lr = page.get_by_test_id("lr")
    values = [str(round(0.03 + 0.001 * (i + 1), 3)) for i in range(10)]
    for value in values:
        n = int(page.get_by_test_id("playground").get_attribute("data-markers") or "0")
        lr.fill(value)
        lr.dispatch_event("change")
        page.wait_for_function(
            f"() => +document.querySelector('[data-testid=playground]').dataset.markers > {n}"
        )
    page.get_by_test_id("pause").click()
    # the newest line is drawn alone first (drawMarkerLines); its label comes with the full
    # redraw right after
    page.wait_for_function(
        "(v) => { const l = document.querySelector('[data-testid=chart-loss]').layout;"
        " return (l.shapes || []).length >= 10"
        " && (l.annotations || []).some((a) => (a.hovertext || '').includes('→ ' + v)); }",
        arg=values[-1],
    )
    loss = layout(page, "chart-loss")
    assert len(loss["shapes"]) == 10
    notes = loss["annotations"]
    assert len(notes) == 8
    # the newest change is labelled, with its full text on hover; the two oldest are not
    assert f"{values[-2]} → {values[-1]}" in notes[-1]["hovertext"]
    assert not any(f"→ {values[0]}" in a["hovertext"] for a in notes)
    assert not any(f"→ {values[1]}" in a["hovertext"] for a in notes)


def test_a_change_draws_its_line_at_once_and_its_label_with_the_next_redraw(
        page: Page) -> None:
    """Defect 15 (live changes): the marker's line alone is drawn first with Plotly.relayout
    of the loss chart's shapes (cheaper than a full redraw); the full redraw that follows adds
    its label and the chart's other content, also when the run is paused (no frames come)."""
    open_playground(page)
    play_until(page, 5)
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    page.evaluate(
        "() => { window.__lossCalls = []; const P = window.Plotly;"
        " for (const name of ['react', 'relayout']) { const f = P[name];"
        " P[name] = function (el, ...rest) {"
        " if (el && el.dataset && el.dataset.testid === 'chart-loss') window.__lossCalls.push("
        " [name, ((el.layout && el.layout.shapes) || []).length]);"
        " return f.call(this, el, ...rest); }; } }"
    )
    lr = page.get_by_test_id("lr")
    lr.fill("0.07")
    lr.dispatch_event("change")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=chart-loss]').layout.annotations || [])"
        ".some((a) => /→ 0\\.07/.test(a.hovertext || ''))",
        timeout=10000,
    )
    calls = page.evaluate("() => window.__lossCalls")
    # the line first (a relayout on a chart drawn without it), then a full redraw (labels)
    assert calls[0] == ["relayout", 0], calls
    assert any(name == "react" for name, _ in calls[1:]), calls
    loss = layout(page, "chart-loss")
    assert len(loss["shapes"]) == 1 and len(loss["annotations"]) == 1


# ------------------------------------------------------------------------------- defect 10, 11


def test_deep_net_uses_a_depth_scale_with_a_colour_bar(page: Page) -> None:
    """Defect 10: with 10+ layers the legends squeezed the plots and colours repeated."""
    open_playground(page, "/?dataset=circle&hidden=8,8,8,8,8,8,8,8,8,8")
    page.get_by_test_id("step-10").click()
    wait_step(page, 10)
    for testid in ["chart-grad-norm", "chart-update-ratio", "chart-weights-hist"]:
        page.wait_for_function(
            "(id) => document.querySelector(`[data-testid=\"${id}\"]`).data.length >= 12",
            arg=testid,
        )
        lines = [t for t in traces(page, testid) if t["color"]]
        assert len(lines) == 11
        assert len({t["color"] for t in lines}) == 11, testid  # no colour repeats
        assert any(t["showscale"] for t in traces(page, testid)), testid  # colour bar
        assert layout(page, testid)["showlegend"] is False
        names = " ".join(t["name"] or "" for t in traces(page, testid))
        assert "(0:" not in names


def test_log_axis_ticks_use_one_format(page: Page) -> None:
    """Defect 11: log ticks mixed "1, 100k, 10B, 10¹⁵"."""
    open_playground(page, "/?dataset=plane&hidden=16,16,16&activation=relu&init=kaiming_uniform"
                          "&optimizer=sgd&lr=10")
    page.get_by_test_id("step-10").click()
    wait_step(page, 3)
    for testid in ["chart-loss", "chart-grad-norm", "chart-update-ratio"]:
        page.wait_for_function(
            "(id) => (document.querySelector(`[data-testid=\"${id}\"]`).layout.yaxis.ticktext"
            " || []).length > 0",
            arg=testid,
        )
        text = layout(page, testid)["yaxis"]["ticktext"]
        plain = [bool(re.fullmatch(r"[0-9.]+", t)) for t in text]
        assert all(plain) or not any(plain), (testid, text)


# ------------------------------------------------------------------------------- defect 12


def phone_page(browser: Browser, live_server: str,
               page_errors: PageErrors) -> tuple[BrowserContext, Page]:
    """A 390x844 touch phone context and its page, with browser errors collected."""
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                  has_touch=True, is_mobile=True)
    page = context.new_page()
    page.on("console", page_errors.on_console)
    page.on("pageerror", page_errors.on_page_error)
    return context, page


def test_phone_layout(browser: Browser, live_server: str, page_errors: PageErrors) -> None:
    """Defect 12: at 390 px the nav overflowed, Play was ~1,770 px down, the mode bar covered
    titles."""
    context, page = phone_page(browser, live_server, page_errors)
    open_playground(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    expect(page.get_by_test_id("nav-docs")).to_be_hidden()
    page.get_by_test_id("nav-toggle").click()
    expect(page.get_by_test_id("nav-docs")).to_be_visible()
    page.get_by_test_id("nav-toggle").click()
    play_box = page.get_by_test_id("play").bounding_box()
    assert play_box and play_box["y"] + play_box["height"] < 844
    expect(page.get_by_test_id("controls")).to_be_hidden()
    page.get_by_test_id("play").click()
    page.mouse.wheel(0, 1500)
    page.wait_for_function("() => window.scrollY >= 500")  # the wheel scrolls asynchronously
    bar = page.get_by_test_id("run-bar").bounding_box()
    assert bar and 0 <= bar["y"] < 100  # sticky
    assert page.locator(".modebar").count() == 0
    page.get_by_test_id("pause").click()
    page.get_by_test_id("controls-toggle").click()
    expect(page.get_by_test_id("controls")).to_be_visible()
    save_screenshot(page, "playground-390")
    context.close()
    page_errors.check()


def test_large_text_keeps_one_column_on_a_phone_and_a_narrow_folded_panel(
        browser: Browser, live_server: str, page_errors: PageErrors) -> None:
    """Large text widened the controls column to 380 px whatever the screen: on a phone with the
    controls open the page scrolled sideways, and folded controls kept a 380 px column."""
    context, page = phone_page(browser, live_server, page_errors)
    open_playground(page)
    page.get_by_test_id("font-toggle").click()
    page.get_by_test_id("controls-toggle").click()
    expect(page.get_by_test_id("controls")).to_be_visible()
    page.wait_for_function("() => document.documentElement.scrollWidth <= 390", timeout=10000)
    panel = settled_box(page.get_by_test_id("controls-panel"))
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 390, panel
    save_screenshot(page, "playground-390-large")
    context.close()
    # a wide screen: the wider column while open, the narrow one when folded
    page = browser.new_page(base_url=live_server, viewport={"width": 1440, "height": 900})
    page.on("console", page_errors.on_console)
    page.on("pageerror", page_errors.on_page_error)
    open_playground(page)
    page.get_by_test_id("font-toggle").click()
    expect(page.get_by_test_id("controls")).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=controls-panel]')"
        ".getBoundingClientRect().width >= 370", timeout=10000)
    page.get_by_test_id("controls-toggle").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=controls-panel]')"
        ".getBoundingClientRect().width < 200", timeout=10000)
    page.close()
    page_errors.check()


# ------------------------------------------------------------------------------- defect 14


def test_linear_model_diagram_note_names_the_inputs(page: Page) -> None:
    """Defect 14: a linear model's diagram said "≤ 6 hidden layers"."""
    open_playground(page, "/?dataset=sparse_linear&hidden=")
    host = page.get_by_test_id("network-svg")
    expect(host).to_contain_text("inputs")
    expect(host).not_to_contain_text("hidden layers")


# ------------------------------------------------------------------------------- readout, 15


def test_run_readout_shows_the_current_step(page: Page) -> None:
    open_playground(page, "/?dataset=circle&lr=0.05")
    readout = page.get_by_test_id("run-readout")
    page.get_by_test_id("step-10").click()
    # the newest record after 10 updates is step 9 (records are numbered from 0)
    expect(readout).to_have_attribute("data-step", "9")
    for key in ["loss", "val-loss", "acc", "lr"]:
        value = readout.locator(f'[data-readout="{key}"] .pg-readout-value').inner_text()
        assert re.search(r"\d", value), (key, value)
    expect(readout.locator('[data-readout="lr"] .pg-readout-value')).to_have_text("0.05")
    page.get_by_test_id("lang-toggle").click()
    expect(readout).to_contain_text("训练损失")
    expect(readout).to_contain_text("学习率")


def test_live_set_goes_out_on_change_before_any_redraw(page: Page) -> None:
    """Defect 15: the `set` waited ~300 ms of debounce plus redraws; now it is sent from the
    change event itself (checked synchronously right after dispatching it)."""
    open_playground(page)
    sent = page.evaluate(
        """() => {
          const sent = [];
          const orig = WebSocket.prototype.send;
          WebSocket.prototype.send = function (d) { sent.push(d); return orig.call(this, d); };
          const lr = document.querySelector('[data-testid=lr]');
          lr.value = '0.05';
          lr.dispatchEvent(new Event('input', { bubbles: true }));
          lr.dispatchEvent(new Event('change', { bubbles: true }));
          WebSocket.prototype.send = orig;
          return sent;
        }"""
    )
    sets = [json.loads(s) for s in sent if '"set"' in s]
    assert sets and sets[0]["patch"]["optimizer"]["lr"] == 0.05


# ------------------------------------------------------------------------------- edit a weight


def test_click_a_link_to_edit_its_weight(page: Page, live_server: str) -> None:
    """TFP item: clicking a diagram link edits that weight through PUT .../weights (recorded
    in the event log, so an export replays it)."""
    open_playground(page, "/?dataset=circle&hidden=4")
    expect(page.get_by_test_id("network-diagram")).to_have_attribute("data-state", "ready")
    link = page.locator('[data-testid="net-link"][data-k="1"][data-i="2"][data-j="0"]')
    link.dispatch_event("click")
    expect(page.get_by_test_id("weight-editor")).to_be_visible()
    page.get_by_test_id("weight-value").fill("1.25")
    page.get_by_test_id("weight-apply").click()
    expect(page.get_by_test_id("weight-editor")).to_be_hidden()
    expect(page.get_by_test_id("network-diagram")).to_have_attribute("data-edits", "1")
    run_id = page.get_by_test_id("playground").get_attribute("data-run-id")
    layers = httpx.get(f"{live_server}/api/runs/{run_id}/weights",
                       headers=owner_headers(page)).json()["layers"]
    assert layers[1]["W"][2][0] == 1.25
    events = httpx.get(f"{live_server}/api/runs/{run_id}/export",
                       headers=owner_headers(page)).json()["events"]
    assert any("weights" in json.dumps(e) or "layers" in e for e in events), events
