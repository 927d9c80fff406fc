"""Browser tests of the schedules and gradients labs, i18n and the font toggle."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot

pytestmark = pytest.mark.e2e

TRACES = "el => (el.data || []).map(t => t.name)"
YS = "el => (el.data || []).map(t => Array.from(t.y))"


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def wait_traces(page: Page, n: int) -> None:
    expect(page.get_by_test_id("chart-schedules")).to_have_attribute("data-traces", str(n))


def test_schedules_lab(page: Page) -> None:
    page.goto("/labs/schedules?s=")
    chart = page.get_by_test_id("chart-schedules")
    expect(chart).to_have_attribute("data-state", "ready", timeout=15000)
    wait_traces(page, 0)
    expect(page.get_by_test_id("schedules-empty")).to_be_visible()
    expect(page.get_by_test_id("pick-reduce_on_plateau")).to_be_disabled()

    page.get_by_test_id("pick-exponential").check()
    page.get_by_test_id("pick-cosine_decay").check()
    wait_traces(page, 2)
    assert chart.evaluate(TRACES) == ["Exponential decay", "Cosine decay (TF)"]
    card = page.get_by_test_id("schedule-card-exponential")
    expect(card.get_by_test_id("formula")).to_contain_text("γ")
    expect(card.get_by_test_id("framework-call")).to_have_text(
        "torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)"
    )
    expect(page.get_by_test_id("schedule-card-cosine_decay").get_by_test_id("framework-call")
           ).to_contain_text("tf.keras.optimizers.schedules.CosineDecay(")

    # changing a parameter redraws the curve and updates the call
    before = chart.evaluate(YS)[0]
    card.get_by_test_id("param-gamma").fill("0.5")
    expect(card.get_by_test_id("framework-call")).to_contain_text("gamma=0.5")
    page.wait_for_function(
        "() => { const d = document.querySelector('[data-testid=chart-schedules]').data;"
        " return d && d.length === 2 && Math.abs(d[0].y[1] - 0.05) < 1e-12; }"
    )
    after = chart.evaluate(YS)[0]
    assert after[1] == pytest.approx(0.05) and before[1] == pytest.approx(0.095)

    page.get_by_test_id("lr").fill("0.2")
    page.get_by_test_id("steps").fill("300")
    page.get_by_test_id("log-y").check()
    page.wait_for_function("() => new URL(location.href).searchParams.get('logy') === '1'")
    expect(page).to_have_url(re.compile(r"exponential\.gamma=0\.5"))
    q = query(page)
    assert q["s"] == ["exponential,cosine_decay"] and q["lr"] == ["0.2"]
    assert q["steps"] == ["300"]

    # "use in playground" carries the schedule over
    link = card.get_by_test_id("use-in-playground")
    href = link.get_attribute("href")
    assert href is not None and href.startswith("/?")
    lq = parse_qs(urlparse(href).query)
    assert lq == {
        "schedule": ["exponential"], "schedule.gamma": ["0.5"], "lr": ["0.2"],
        "warmup_steps": ["0"],
    }

    # the URL reproduces the page
    url = page.url
    page.goto(url)
    wait_traces(page, 2)
    expect(page.get_by_test_id("pick-exponential")).to_be_checked()
    expect(page.get_by_test_id("schedule-card-exponential").get_by_test_id("param-gamma")
           ).to_have_value("0.5")
    expect(page.get_by_test_id("lr")).to_have_value("0.2")
    expect(page.get_by_test_id("log-y")).to_be_checked()
    assert chart.evaluate("el => el.layout.yaxis.type") == "log"
    assert len(chart.evaluate(YS)[0]) == 300

    # bad value: the server's message is shown, no console error
    card = page.get_by_test_id("schedule-card-exponential")
    card.get_by_test_id("param-gamma").fill("2")
    expect(card.get_by_test_id("card-error")).to_contain_text("gamma: must be 0 < x ≤ 1")
    card.get_by_test_id("param-gamma").fill("0.9")
    expect(card.get_by_test_id("card-error")).to_be_hidden()


def test_schedules_default_and_screenshots(page: Page) -> None:
    page.goto("/labs/schedules")
    wait_traces(page, 2)
    save_screenshot(page, "labs-schedules-en")
    page.get_by_test_id("lang-toggle").click()
    expect(page.locator("h1")).to_have_text("学习率衰减调度")
    wait_traces(page, 2)
    expect(page.get_by_test_id("pick-step")).to_be_checked()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-schedules]').data[0].name === '阶梯衰减'"
    )
    save_screenshot(page, "labs-schedules-zh")


def grad_norms(page: Page, col: str) -> list[float | None]:
    chart = page.get_by_test_id(f"column-{col}").get_by_test_id("chart-grad-norm")
    return chart.evaluate("el => Array.from(el.data[0].y)")


def test_gradients_lab(page: Page) -> None:
    page.goto("/labs/gradients")
    for col in ("a", "b"):
        column = page.get_by_test_id(f"column-{col}")
        expect(column).to_have_attribute("data-state", "ready", timeout=20000)
        for testid in ("chart-grad-norm", "chart-act-hist", "chart-saturation"):
            expect(column.get_by_test_id(testid)).to_have_attribute("data-state", "ready")
        norms = grad_norms(page, col)
        assert len(norms) == 11 and all(v is not None and v > 0 for v in norms)
    # default preset: sigmoid N(0, 1) vs Xavier -> Xavier's gradient vanishes at the input
    expect(page.get_by_test_id("preset-sigmoid_init")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("preset-hint")).to_contain_text("σ′ ≤ 1/4")
    b = grad_norms(page, "b")
    assert b[0] < 1e-4 * b[-2]
    log_axis = page.get_by_test_id("column-a").get_by_test_id("chart-grad-norm")
    assert log_axis.evaluate("el => el.layout.yaxis.type") == "log"
    save_screenshot(page, "labs-gradients-en")

    # a preset changes both columns and the charts
    page.get_by_test_id("preset-relu_init").click()
    expect(page.get_by_test_id("column-a").get_by_test_id("activation")).to_have_value("relu")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=column-b] [data-testid=chart-grad-norm]')"
        ".data[0].y.length === 21"
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=column-b] [data-testid=chart-grad-norm]')"
        ".data[0].y[0] > 1e20"
    )
    expect(page.get_by_test_id("column-b").get_by_test_id("init")).to_have_value("normal")
    expect(page).to_have_url(re.compile(r"preset=relu_init"))

    # manual edits go to the URL and survive a reload
    column_a = page.get_by_test_id("column-a")
    column_a.get_by_test_id("depth").fill("7")
    column_a.get_by_test_id("init").select_option("kaiming_uniform")
    column_a.get_by_test_id("param-mode").select_option("fan_out")
    page.get_by_test_id("column-b").get_by_test_id("batch-norm").check()
    page.wait_for_function("() => new URL(location.href).searchParams.get('b.bn') === '1'")
    q = query(page)
    assert q["a.depth"] == ["7"] and q["a.init"] == ["kaiming_uniform"]
    assert q["a.init.mode"] == ["fan_out"] and "preset" not in q
    page.wait_for_function(
        "() => document.querySelector('[data-testid=column-a] [data-testid=chart-grad-norm]')"
        ".data[0].y.length === 8"
    )
    page.goto(page.url)
    column_a = page.get_by_test_id("column-a")
    expect(column_a).to_have_attribute("data-state", "ready", timeout=20000)
    expect(column_a.get_by_test_id("depth")).to_have_value("7")
    expect(column_a.get_by_test_id("init")).to_have_value("kaiming_uniform")
    expect(column_a.get_by_test_id("param-mode")).to_have_value("fan_out")
    expect(page.get_by_test_id("column-b").get_by_test_id("batch-norm")).to_be_checked()
    assert len(grad_norms(page, "a")) == 8


def test_language_toggle_persists(page: Page) -> None:
    page.goto("/labs/gradients")
    expect(page.get_by_test_id("column-a")).to_have_attribute("data-state", "ready", timeout=20000)
    expect(page.get_by_test_id("nav-gradients")).to_have_text("Gradients lab")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("nav-gradients")).to_have_text("梯度实验")
    expect(page.locator("h1")).to_have_text("梯度消失与梯度爆炸")
    expect(page.get_by_test_id("lang-toggle")).to_have_text("English")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    # catalog-driven selects and chart titles follow the language
    expect(page.get_by_test_id("column-b").get_by_test_id("init").locator("option:checked")
           ).to_have_text("Xavier/Glorot 均匀分布")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=column-a] [data-testid=chart-grad-norm]')"
        ".layout.xaxis.title.text === '层（输入 → 输出）'"
    )
    page.reload()
    expect(page.locator("h1")).to_have_text("梯度消失与梯度爆炸")
    expect(page.get_by_test_id("column-a")).to_have_attribute("data-state", "ready", timeout=20000)
    save_screenshot(page, "labs-gradients-zh")
    page.goto("/labs/schedules")
    expect(page.get_by_test_id("nav-schedules")).to_have_text("学习率调度实验")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("nav-schedules")).to_have_text("Schedules lab")
    page.reload()
    expect(page.get_by_test_id("nav-schedules")).to_have_text("Schedules lab")


def test_font_toggle_persists(page: Page) -> None:
    page.goto("/labs/schedules")
    wait_traces(page, 2)
    size = "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"
    chart_font = "el => el.layout.font.size"
    chart = page.get_by_test_id("chart-schedules")
    normal, normal_chart = page.evaluate(size), chart.evaluate(chart_font)
    page.get_by_test_id("font-toggle").click()
    expect(page.get_by_test_id("font-toggle")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-schedules]').layout.font.size > 14"
    )
    assert page.evaluate(size) > normal and chart.evaluate(chart_font) > normal_chart
    page.reload()
    wait_traces(page, 2)
    expect(page.get_by_test_id("font-toggle")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(size) > normal and chart.evaluate(chart_font) > normal_chart
    save_screenshot(page, "labs-schedules-large")
    page.get_by_test_id("font-toggle").click()
    assert page.evaluate(size) == normal


def test_gradients_lab_layer_norm(page: Page) -> None:
    """Layer norm is selectable beside batch norm (issue 12); the two exclude each other, the
    choice is in the URL, and the chart shows the engine's per-layer gradient norms for it."""
    page.goto("/labs/gradients?a.depth=6&a.width=16&a.activation=tanh")
    column_a = page.get_by_test_id("column-a")
    expect(column_a).to_have_attribute("data-state", "ready", timeout=20000)
    column_a.get_by_test_id("batch-norm").check()
    page.wait_for_function("() => new URL(location.href).searchParams.get('a.bn') === '1'")
    column_a.get_by_test_id("layer-norm").check()
    page.wait_for_function("() => new URL(location.href).searchParams.get('a.ln') === '1'")
    expect(column_a.get_by_test_id("batch-norm")).not_to_be_checked()
    assert "a.bn" not in query(page)
    expect(column_a).to_have_attribute("data-state", "ready", timeout=20000)
    state = page.evaluate(
        "() => fetch('/api/labs/depth', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: JSON.stringify({depth: 6, width: 16, activation: 'tanh', "
        "init: document.querySelector('[data-testid=column-a] [data-testid=init]').value, "
        "layer_norm: true, n: 256, seed: 0})}).then((r) => r.json())"
    )
    want = [layer["grad_norm"] for layer in state["layers"]]
    page.wait_for_function(
        "(want) => { const y = document.querySelector('[data-testid=column-a] "
        "[data-testid=chart-grad-norm]').data[0].y; return y.length === want.length && "
        "y.every((v, i) => v === want[i]); }",
        arg=want,
    )
    page.goto(page.url)
    column_a = page.get_by_test_id("column-a")
    expect(column_a.get_by_test_id("layer-norm")).to_be_checked()
    expect(column_a.get_by_test_id("batch-norm")).not_to_be_checked()
