"""Browser tests of the playground's pinned runs (issue 11, "compare runs"): pin two runs
with different optimizers and see both faint traces beside the live one with their labels and
the engine's values; unpin one (its server run goes); reload the link and get the same pins
with identical values; a fourth pin is refused; replacing the current run never deletes a
pin; a bad pin in a link is dropped and named; zh, large text and a 390 px phone.
Plus in-page unit tests of static/js/playground/pins.js (URL keys, thinning)."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import SCREENSHOT_DIR, PageErrors, save_screenshot
from tests.e2e.playground_util import open_playground, owner_headers, run_id
from tests.e2e.test_i18n import wait_no_english

pytestmark = pytest.mark.e2e

# a small, fast run; sgd first (adam comes from the optimizer control)
START = "/?dataset=circle&n=120&hidden=4&optimizer=sgd&lr=0.1&batch_size=10&seed=5"

# Every trace of a chart: name, legend group, opacity and exact (x, y) values.
TRACES_JS = """(id) => {
  const gd = document.querySelector(`[data-testid="${id}"]`);
  const arr = (a) => (a ? Array.from(a) : null);
  return (gd.data || []).map((t) => ({
    name: t.name, group: t.legendgroup || null, opacity: t.opacity ?? 1,
    dash: (t.line && t.line.dash) || "solid", showlegend: t.showlegend !== false,
    x: arr(t.x), y: arr(t.y),
  }));
}"""


def traces(page: Page, testid: str) -> list[dict[str, Any]]:
    return list(page.evaluate(TRACES_JS, testid))


def pinned(page: Page, testid: str, n: int) -> list[dict[str, Any]]:
    return [t for t in traces(page, testid) if t["group"] == f"pin{n}"]


def wait_step(page: Page, steps: int) -> None:
    page.wait_for_function(
        f"() => +document.querySelector('[data-testid=step-counter]').dataset.step >= {steps}",
        timeout=20000,
    )


def train(page: Page, tens: int) -> None:
    start = int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")
    for _ in range(tens):
        page.get_by_test_id("step-10").click()
    wait_step(page, start + 10 * tens)


def pin(page: Page, count: int) -> None:
    """Pin the current run; wait for `count` chips and the new current run."""
    old = run_id(page)
    page.get_by_test_id("pin-run").click()
    expect(page.get_by_test_id("pin-chip")).to_have_count(count, timeout=15000)
    page.wait_for_function(
        "(old) => { const r = document.querySelector('[data-testid=playground]');"
        " return r.dataset.runId !== old && r.dataset.status === 'ready'; }",
        arg=old,
        timeout=15000,
    )
    expect(page.get_by_test_id("pin-run")).to_be_enabled()


def chip_run(page: Page, n: int) -> str:
    value = page.locator(f'[data-testid="pin-chip"][data-pin="{n}"]').get_attribute("data-run-id")
    assert value
    return value


def history(live_server: str, page: Page, rid: str) -> dict[str, Any]:
    r = httpx.get(
        f"{live_server}/api/runs/{rid}/history",
        headers=owner_headers(page),
        params={"fields": "loss,val_loss"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def status_of(live_server: str, page: Page, rid: str) -> int:
    return httpx.get(
        f"{live_server}/api/runs/{rid}", headers=owner_headers(page), timeout=10
    ).status_code


def wait_gone(live_server: str, page: Page, rid: str) -> None:
    """The page deletes a run without waiting for the answer: poll (up to 5 s) until it is."""
    for _ in range(50):
        if status_of(live_server, page, rid) == 404:
            break
        page.wait_for_timeout(100)
    assert status_of(live_server, page, rid) == 404


def assert_engine_values(trace: dict[str, Any], hist: dict[str, Any], field: str) -> None:
    """Every drawn point of a pinned trace is the engine's recorded value at that step."""
    by_step = dict(zip(hist["step"], hist[field], strict=True))
    assert trace["x"], trace
    for x, y in zip(trace["x"], trace["y"], strict=True):
        assert x in by_step, x
        assert y == by_step[x], (field, x, y, by_step[x])
    recorded = [s for s, v in by_step.items() if v is not None]
    assert trace["x"][-1] == recorded[-1]  # drawn up to the pinned step


def wait_chart_pins(page: Page, testid: str, groups: list[str]) -> None:
    page.wait_for_function(
        '([id, groups]) => { const gd = document.querySelector(`[data-testid="${id}"]`);'
        " const have = new Set((gd.data || []).map((t) => t.legendgroup).filter(Boolean));"
        " return groups.length === have.size && groups.every((g) => have.has(g)); }",
        arg=[testid, groups],
        timeout=15000,
    )


# ------------------------------------------------------------------------------------------


def test_pin_two_runs_and_see_both_traces(page: Page, live_server: str) -> None:
    open_playground(page, START)
    train(page, 3)
    pin(page, 1)
    run1 = chip_run(page, 1)
    assert status_of(live_server, page, run1) == 200  # the pinned run stays on the server
    # a changed setting on the new run (same seed): adam, then train it and pin it too
    page.get_by_test_id("optimizer").select_option("adam")
    page.get_by_test_id("lr").fill("0.01")
    page.get_by_test_id("lr").dispatch_event("change")
    page.wait_for_function("() => new URL(location.href).searchParams.get('lr') === '0.01'")
    train(page, 3)
    pin(page, 2)
    run2 = chip_run(page, 2)
    assert run2 != run1
    train(page, 1)  # the live run beside them
    wait_chart_pins(page, "chart-loss", ["pin1", "pin2"])
    page.wait_for_function(  # the live run's curve is there too
        "() => (document.querySelector('[data-testid=chart-loss]').data || [])"
        ".some((t) => !t.legendgroup && t.x && t.x.length && t.x[t.x.length - 1] >= 9)",
        timeout=15000,
    )

    labels = page.get_by_test_id("pin-chip").all_inner_texts()
    assert "pin 1 · sgd lr 0.1" in labels[0], labels
    assert "pin 2 · adam lr 0.01" in labels[1], labels
    loss = traces(page, "chart-loss")
    names = [t["name"] for t in loss]
    assert "pin 1 · sgd lr 0.1" in names and "pin 2 · adam lr 0.01" in names, names
    assert loss[-1]["group"] is None or loss[0]["group"] == "pin1"  # pins drawn underneath
    for n, rid in [(1, run1), (2, run2)]:
        hist = history(live_server, page, rid)
        mine = pinned(page, "chart-loss", n)
        train_trace = next(t for t in mine if t["showlegend"])
        val_trace = next(t for t in mine if not t["showlegend"])
        assert train_trace["opacity"] < 1 and val_trace["dash"] == "dot"  # faint
        assert_engine_values(train_trace, hist, "loss")
        assert_engine_values(val_trace, hist, "val_loss")
    # the two optimizers really trained differently
    assert pinned(page, "chart-loss", 1)[0]["y"] != pinned(page, "chart-loss", 2)[0]["y"]
    # every time-series chart and the histograms show both pins
    for testid in [
        "chart-accuracy",
        "chart-lr",
        "chart-grad-norm",
        "chart-update-ratio",
        "chart-zeros",
        "chart-weights-hist",
    ]:
        wait_chart_pins(page, testid, ["pin1", "pin2"])

    # the link carries both pins; pin 2 had a live change (adam at step 0): its event log too
    query = dict(parse_qsl(urlparse(page.url).query, keep_blank_values=True))
    assert query["pin1.optimizer"] == "sgd" and query["pin1.step"] == "30"
    assert query["pin2.step"] == "30" and "pin2.events" in query

    # unpin pin 1: its chip, traces and server run go; pin 2 stays
    page.locator('[data-testid="unpin"][data-pin="1"]').click()
    expect(page.get_by_test_id("pin-chip")).to_have_count(1)
    wait_chart_pins(page, "chart-loss", ["pin2"])
    wait_gone(live_server, page, run1)
    assert status_of(live_server, page, run2) == 200
    assert "pin1.step" not in page.url

    # reload the link: pin 2 is rebuilt (a new server run) with identical values
    want = history(live_server, page, run2)
    page.goto(page.url)
    expect(page.get_by_test_id("playground")).to_have_attribute(
        "data-pins-state", "ready", timeout=30000
    )
    expect(page.get_by_test_id("pin-chip")).to_have_count(1)
    assert page.get_by_test_id("pin-chip").get_attribute("data-pin") == "2"
    rebuilt = chip_run(page, 2)
    assert rebuilt != run2
    got = history(live_server, page, rebuilt)
    assert got["step"] == want["step"] and got["loss"] == want["loss"]
    assert got["val_loss"] == want["val_loss"]
    wait_chart_pins(page, "chart-loss", ["pin2"])
    assert_engine_values(
        next(t for t in pinned(page, "chart-loss", 2) if t["showlegend"]), want, "loss"
    )
    assert "pin 2 · adam lr 0.01" in page.get_by_test_id("pin-chip").inner_text()
    expect(page.get_by_test_id("link-dropped")).to_be_hidden()


def test_fourth_pin_refused_and_pins_survive_a_new_current_run(
    page: Page, live_server: str
) -> None:
    open_playground(page, START)
    page.get_by_test_id("pin-run").click()  # nothing trained yet: refused, said
    expect(page.get_by_test_id("pin-message")).to_have_attribute("data-reason", "nothing")
    expect(page.get_by_test_id("pin-chip")).to_have_count(0)
    pins = []
    for k in range(1, 3):
        train(page, 1)
        pin(page, k)
        pins.append(chip_run(page, k))
    # pinned while playing: the run is paused first and pinned at the step it stopped at
    page.get_by_test_id("play").click()
    wait_step(page, 15)
    pin(page, 3)
    pins.append(chip_run(page, 3))
    body = httpx.get(f"{live_server}/api/runs/{pins[2]}", headers=owner_headers(page)).json()
    assert body["status"] == "paused"
    chip = page.locator('[data-testid="pin-chip"][data-pin="3"]')
    assert chip.get_attribute("data-step") == str(body["step"])
    wait_chart_pins(page, "chart-loss", ["pin1", "pin2", "pin3"])
    assert pinned(page, "chart-loss", 3)[0]["x"][-1] == body["step"] - 1  # records: 0-based
    train(page, 1)
    current = run_id(page)
    page.get_by_test_id("pin-run").click()
    message = page.get_by_test_id("pin-message")
    expect(message).to_be_visible()
    expect(message).to_have_attribute("data-reason", "too-many")
    assert "3" in message.inner_text()
    expect(page.get_by_test_id("pin-chip")).to_have_count(3)
    assert run_id(page) == current  # nothing was replaced
    # a restart field replaces the current run: the old current run goes, no pin does
    page.get_by_test_id("seed").fill("6")
    page.get_by_test_id("seed").dispatch_event("change")
    expect(page.get_by_test_id("rebuild-notice")).to_be_visible()
    page.get_by_test_id("rebuild-apply").click()
    page.wait_for_function(
        "(old) => document.querySelector('[data-testid=playground]').dataset.runId !== old",
        arg=current,
        timeout=15000,
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=playground]').dataset.status === 'ready'"
    )
    wait_gone(live_server, page, current)
    for rid in pins:
        assert status_of(live_server, page, rid) == 200
    # after an unpin there is room again
    page.locator('[data-testid="unpin"][data-pin="2"]').click()
    expect(page.get_by_test_id("pin-chip")).to_have_count(2)
    train(page, 1)
    pin(page, 3)
    expect(page.locator('[data-testid="pin-chip"][data-pin="2"]')).to_have_count(1)


def test_bad_pin_in_a_link_is_dropped_and_named(page: Page) -> None:
    link = (
        START + "&pin1.optimizer=adam&pin1.lr=0.01&pin1.step=8"
        "&pin2.optimizer=adam&pin2.lr=-1&pin2.step=8"
        "&pin3.optimizer=sgd&pin3.step=oops"
    )
    open_playground(page, link)
    root = page.get_by_test_id("playground")
    expect(root).to_have_attribute("data-pins-state", "ready", timeout=30000)
    expect(page.get_by_test_id("pin-chip")).to_have_count(1)
    assert page.get_by_test_id("pin-chip").get_attribute("data-pin") == "1"
    dropped = page.get_by_test_id("link-dropped")
    expect(dropped).to_be_visible()
    assert dropped.get_attribute("data-dropped") == "pin2,pin3"
    text = dropped.inner_text()
    assert "pin2.lr" in text and "pin3.step" in text, text
    assert "pin2." not in page.url and "pin1.step=8" in page.url


def test_pins_in_chinese_large_text_and_on_a_phone(
    browser: Browser, live_server: str, page_errors: PageErrors
) -> None:
    link = (
        START + "&pin1.optimizer=adam&pin1.lr=0.01&pin1.step=40"
        "&pin2.optimizer=rmsprop&pin2.lr=0.005&pin2.step=40"
        "&pin3.optimizer=sgd&pin3.lr=0.3&pin3.batch_size=40&pin3.step=40"
    )
    for name, viewport in [
        ("pins-1280-zh-large", {"width": 1280, "height": 720}),
        ("pins-390", {"width": 390, "height": 844}),
    ]:
        phone = viewport["width"] == 390
        context = browser.new_context(
            base_url=live_server, viewport=viewport, has_touch=phone, is_mobile=phone
        )
        page = context.new_page()
        page.on("console", page_errors.on_console)
        page.on("pageerror", page_errors.on_page_error)
        open_playground(page, link)
        expect(page.get_by_test_id("playground")).to_have_attribute(
            "data-pins-state", "ready", timeout=30000
        )
        expect(page.get_by_test_id("pin-chip")).to_have_count(3)
        wait_chart_pins(page, "chart-loss", ["pin1", "pin2", "pin3"])
        if phone:  # labels also name what else tells the pins apart (pin 3's batch size)
            chips = page.get_by_test_id("pin-chip").all_inner_texts()
            assert "pin 1 · adam lr 0.01 · batch 10" in chips[0], chips
            assert "pin 3 · sgd lr 0.3 · batch 40" in chips[2], chips
        if not phone:
            page.get_by_test_id("lang-toggle").click()
            expect(page.get_by_test_id("pin-run")).to_have_text("固定")
            expect(page.get_by_test_id("pin-chip").first).to_contain_text("固定 1 · adam")
            page.wait_for_function(
                "() => (document.querySelector('[data-testid=chart-loss]').data || [])"
                ".some((t) => (t.name || '').startsWith('固定 1'))"
            )
            page.wait_for_timeout(500)
            wait_no_english(page)  # chips, labels and the button are translated
            page.get_by_test_id("font-toggle").click()
            page.wait_for_timeout(500)
        with contextlib.suppress(PlaywrightError):  # charts re-fit; the assert says by how much
            page.wait_for_function(
                "(w) => document.documentElement.scrollWidth <= w", arg=viewport["width"],
                timeout=10000,
            )
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        bar = page.get_by_test_id("run-bar").bounding_box()
        assert bar and bar["x"] + bar["width"] <= viewport["width"]
        save_screenshot(page, name)
        # close-ups to look at: the viewport (run bar with the chips) and the loss chart
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}-top.png"))
        page.get_by_test_id("chart-loss").screenshot(path=str(SCREENSHOT_DIR / f"{name}-loss.png"))
        if not phone:
            page.get_by_test_id("font-toggle").click()
            page.get_by_test_id("lang-toggle").click()
        context.close()
    page_errors.check()


# ------------------------------------------------------------------------------------------
# pins.js in the page (pure functions)

PINS_JS = """async (arg) => {
  const pins = await import("/static/js/playground/pins.js");
  const common = await import("/static/js/common.js");
  const catalog = await common.getCatalog();
  return (%s)(pins, catalog, arg);
}"""


def pins_js(page: Page, fn: str, arg: Any = None) -> Any:
    return page.evaluate(PINS_JS % fn, arg)


def test_pins_module_url_keys_and_thinning(page: Page) -> None:
    page.goto("/api-reference")
    page.wait_for_function("() => document.body.dataset.i18nReady === 'true'")
    split = pins_js(
        page,
        """(pins, catalog, q) => {
      const { main, pins: p } = pins.splitPinQuery(new URLSearchParams(q));
      return { main: [...main], pins: [...p].map(([n, ps]) => [n, [...ps]]) };
    }""",
        "lr=0.1&pin2.lr=0.2&pin2.step=5&pin1.step=3&pin4.step=1&pin01.step=2&pinx.step=1",
    )
    assert split["main"] == [
        ["lr", "0.1"],
        ["pin4.step", "1"],
        ["pin01.step", "2"],
        ["pinx.step", "1"],
    ]
    assert split["pins"] == [[1, [["step", "3"]]], [2, [["lr", "0.2"], ["step", "5"]]]]

    read = pins_js(
        page,
        """(pins, catalog, cases) => cases.map((q) =>
      pins.readPin(1, new URLSearchParams(q), catalog))""",
        [
            "optimizer=adam&lr=0.01&step=20",
            'step=20&events=[{"step":0,"patch":{"batch_size":5}}]',
            "lr=0.01",
            "step=0",
            "step=2.5",
            "step=abc",
            "step=3&events={}",
            "step=3&events=[1]",
            "step=3&lr=-1",
            "step=3&bogus=1",
        ],
    )
    assert read[0] == {
        "pin": {
            "n": 1,
            "config": {"optimizer": {"name": "adam", "lr": 0.01}},
            "events": [],
            "step": 20,
        }
    }
    assert read[1]["pin"]["events"] == [{"step": 0, "patch": {"batch_size": 5}}]
    assert "pin1.step: missing" in read[2]["error"]
    for bad in read[3:6]:
        assert "pin1.step" in bad["error"] and "200000" in bad["error"], bad
    assert "pin1.events" in read[6]["error"] and "pin1.events" in read[7]["error"]
    assert read[8]["error"].startswith("pin1.lr"), read[8]
    assert read[9]["error"] == "pin1.bogus", read[9]

    pairs = pins_js(
        page,
        """(pins) => [
      pins.pinPairs({ n: 2, pairs: [["lr", "0.1"]], step: 7, events: [] }),
      pins.pinPairs({ n: 3, pairs: [], step: 9, events: [{ step: 1, patch: { batch_size: 4 } }] }),
      [pins.freePinNumber([]), pins.freePinNumber([{ n: 1 }, { n: 3 }]),
       pins.freePinNumber([{ n: 1 }, { n: 2 }, { n: 3 }])],
    ]""",
    )
    assert pairs[0] == [["pin2.lr", "0.1"], ["pin2.step", "7"]]
    assert pairs[1] == [
        ["pin3.step", "9"],
        ["pin3.events", '[{"step":1,"patch":{"batch_size":4}}]'],
    ]
    assert pairs[2] == [1, 2, 0]

    # thinning keeps exact recorded values only (validation: its own rows), the last included
    series = pins_js(
        page,
        """(pins) => {
      const steps = Array.from({ length: 1001 }, (_, i) => i);
      const loss = steps.map((s) => 1 / (s + 1));
      const val = steps.map((s) => (s % 10 === 0 ? 2 / (s + 1) : null));
      const grad = steps.map((s) => (s === 0 ? null : [s, -s]));
      return pins.seriesFromHistory({ step: steps, loss, val_loss: val, grad_norm: grad }, 100);
    }""",
    )
    assert series["lastStep"] == 1000
    loss = series["loss"]
    assert 90 <= len(loss["x"]) <= 101 and loss["x"][-1] == 1000
    assert all(y == 1 / (x + 1) for x, y in zip(loss["x"], loss["y"], strict=True))
    val = series["val_loss"]
    assert val["x"][-1] == 1000 and all(x % 10 == 0 for x in val["x"])
    assert all(y == 2 / (x + 1) for x, y in zip(val["x"], val["y"], strict=True))
    assert len(series["grad_norm"]) == 2
    assert len(series["grad_norm"][0]["x"]) <= 101
    deep = pins_js(
        page,
        """(pins) => {
      const steps = Array.from({ length: 1000 }, (_, i) => i);
      const grad = steps.map((s) => Array.from({ length: 12 }, (_, k) => s * (k + 1)));
      const s = pins.seriesFromHistory({ step: steps, grad_norm: grad }, 400);
      return s.grad_norm.map((c, k) => [c.x.length, c.x[c.x.length - 1],
        c.y.every((y, i) => y === c.x[i] * (k + 1))]);
    }""",
    )
    assert len(deep) == 12 and all(n <= 101 and last == 999 and ok for n, last, ok in deep), deep
    assert series["grad_norm"][1]["y"][-1] == -1000 and series["grad_norm"][0]["x"][0] == 1
