"""Browser tests of the playground (/): live training over the WebSocket, live changes with
markers, divergence banner, URL state round trip, keyboard, and screenshots."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.playground_util import settled_step

pytestmark = pytest.mark.e2e

# Diverges within a few steps (checked against the API: NaN gradients at step ~3).
DIVERGING = (
    "/?dataset=plane&hidden=16,16,16&activation=relu&init=kaiming_uniform&optimizer=sgd&lr=10"
)


def open_playground(page: Page, url: str = "/") -> None:
    page.goto(url)
    expect(page.get_by_test_id("playground")).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready", timeout=10000)
    chart = page.get_by_test_id("chart-loss")
    expect(chart).to_have_attribute("data-state", "ready", timeout=10000)


def trace_len(page: Page, testid: str, trace: int = 0) -> int:
    return page.evaluate(
        "([id, k]) => { const d = document.querySelector(`[data-testid=\"${id}\"]`).data;"
        " return d && d[k] ? d[k].x.length : 0; }",
        [testid, trace],
    )


def run_id(page: Page) -> str:
    value = page.get_by_test_id("playground").get_attribute("data-run-id")
    assert value
    return value


def test_loads_without_errors(page: Page) -> None:
    open_playground(page)
    for testid in ["play", "pause", "step", "reset", "lr", "optimizer", "schedule", "l1", "l2",
                   "activation", "init", "status", "step-counter", "chart-loss", "chart-lr",
                   "chart-grad-norm", "chart-grad-heatmap", "chart-weights-hist",
                   "chart-boundary", "chart-accuracy", "chart-update-ratio", "chart-zeros",
                   "network-diagram", "dataset", "hidden", "formulas"]:
        expect(page.get_by_test_id(testid)).to_have_count(1)
    expect(page.get_by_test_id("status")).to_have_text("ready")
    expect(page.get_by_test_id("chart-boundary")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("chart-weights-hist")).to_have_attribute("data-state", "ready")
    # controls come from the catalog
    n_opts = page.get_by_test_id("optimizer").locator("option").count()
    assert n_opts >= 5
    expect(page.get_by_test_id("formulas")).to_contain_text("∂")
    save_screenshot(page, "playground-idle")


def test_play_grows_loss_chart_and_step_counter(page: Page) -> None:
    open_playground(page)
    assert trace_len(page, "chart-loss") == 0
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-loss]').data[0].x.length > 20",
        timeout=10000,
    )
    # and keeps growing: the last step drawn moves on (a wait, not a fixed pause: a busy
    # machine may take longer than a second for the next snapshot)
    last = "() => { const x = document.querySelector('[data-testid=chart-loss]').data[0].x;"
    last += " return x[x.length - 1]; }"
    first = page.evaluate(last)
    page.wait_for_function(f"(first) => ({last})() > first", arg=first, timeout=10000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-grad-heatmap]').data[0].z[0].length > 5"
    )
    save_screenshot(page, "playground-training")
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    step = settled_step(page)
    assert step > 20
    page.get_by_test_id("step").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", str(step + 1))


def test_live_lr_change_shows_on_lr_chart_with_marker(page: Page) -> None:
    open_playground(page)
    page.get_by_test_id("play").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-lr]').data.at(-1).x.length > 10"
    )
    lr = page.get_by_test_id("lr")
    lr.fill("0.2")
    # the actual-lr trace (last) reaches the new value (no timed assertion: speed is measured
    # by bench/page.py; 1.8 s failed on a loaded 2-core machine before and after issue 9)
    page.wait_for_function(
        "() => { const t = document.querySelector('[data-testid=chart-lr]').data.at(-1);"
        " return t.y.at(-1) === 0.2; }",
        timeout=10000,
    )
    # short label on the chart, the full change on hover (issue 9, defect 8)
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=chart-lr]').layout.annotations || [])"
        ".some(a => a.text === 'lr' && /lr 0\\.03 → 0\\.2/.test(a.hovertext))",
        timeout=10000,
    )
    shapes = page.evaluate(
        "() => document.querySelector('[data-testid=chart-loss]').layout.shapes.length"
    )
    assert shapes >= 1
    # still the same run: a live change does not restart
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    expect(page.get_by_test_id("rebuild-notice")).to_be_hidden()
    assert re.search(r"[?&]lr=0\.2(&|$)", page.url)
    page.get_by_test_id("pause").click()


def test_architecture_change_asks_before_restart(page: Page) -> None:
    open_playground(page)
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", "10")
    first = run_id(page)
    page.get_by_test_id("add-layer").click()
    expect(page.get_by_test_id("rebuild-notice")).to_be_visible()
    assert run_id(page) == first
    page.get_by_test_id("rebuild-apply").click()
    expect(page.get_by_test_id("rebuild-notice")).to_be_hidden()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", "0")
    assert run_id(page) != first
    assert "hidden=8%2C8%2C8" in page.url or "hidden=8,8,8" in page.url


def test_diverging_config_shows_banner(page: Page) -> None:
    open_playground(page, DIVERGING)
    page.get_by_test_id("play").click()
    banner = page.get_by_test_id("diverged-banner")
    expect(banner).to_be_visible(timeout=10000)
    expect(banner).to_contain_text(re.compile(r"Diverged at step \d+ \(layer \d+"))
    expect(page.get_by_test_id("status")).to_have_text("diverged")
    expect(page.get_by_test_id("play")).to_be_disabled()
    save_screenshot(page, "playground-diverged")
    page.get_by_test_id("reset").click()
    expect(banner).to_be_hidden()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready")


def test_url_round_trip(page: Page, live_server: str) -> None:
    url = (
        "/?dataset=spiral&dataset.classes=4&n=300&noise=0.2&hidden=8,6&activation=relu"
        "&init=kaiming_normal&optimizer=adam&optimizer.betas=0.9,0.99&lr=0.005"
        "&schedule=step&schedule.step_size=50&schedule.gamma=0.5&warmup_steps=10"
        "&l1=0.001&l2=0.0005&batch_size=16&seed=7&dropout=0.1"
    )
    open_playground(page, url)
    expect(page.get_by_test_id("dataset")).to_have_value("spiral")
    expect(page.get_by_test_id("dataset.classes")).to_have_value("4")
    expect(page.get_by_test_id("activation")).to_have_value("relu")
    expect(page.get_by_test_id("init")).to_have_value("kaiming_normal")
    expect(page.get_by_test_id("optimizer")).to_have_value("adam")
    expect(page.get_by_test_id("optimizer.betas")).to_have_value("0.9,0.99")
    expect(page.get_by_test_id("lr")).to_have_value("0.005")
    expect(page.get_by_test_id("schedule")).to_have_value("step")
    expect(page.get_by_test_id("schedule.step_size")).to_have_value("50")
    expect(page.get_by_test_id("warmup-steps")).to_have_value("10")
    expect(page.get_by_test_id("l1")).to_have_value("0.001")
    expect(page.get_by_test_id("l2")).to_have_value("0.0005")
    expect(page.get_by_test_id("width-0")).to_have_value("8")
    expect(page.get_by_test_id("width-1")).to_have_value("6")
    expect(page.get_by_test_id("seed")).to_have_value("7")
    cfg = page.request.get(f"/api/runs/{run_id(page)}").json()["config"]  # the page's cookie
    assert cfg["dataset"]["name"] == "spiral" and cfg["dataset"]["params"]["classes"] == 4
    assert cfg["dataset"]["n"] == 300 and cfg["dataset"]["noise"] == 0.2
    assert cfg["model"]["hidden"] == [8, 6] and cfg["model"]["activation"] == "relu"
    assert cfg["model"]["init"] == "kaiming_normal" and cfg["model"]["dropout"] == 0.1
    assert cfg["optimizer"]["name"] == "adam" and cfg["optimizer"]["lr"] == 0.005
    assert cfg["optimizer"]["betas"] == [0.9, 0.99]
    assert cfg["schedule"]["name"] == "step" and cfg["schedule"]["step_size"] == 50
    assert cfg["schedule"]["gamma"] == 0.5 and cfg["schedule"]["warmup_steps"] == 10
    assert cfg["regularization"]["l1"] == 0.001 and cfg["regularization"]["l2"] == 0.0005
    assert cfg["batch_size"] == 16 and cfg["seed"] == 7
    # and the page writes the full state back into its URL
    for part in ["dataset=spiral", "optimizer=adam", "schedule=step", "schedule.step_size=50",
                 "lr=0.005", "seed=7"]:
        assert part in page.url


def test_schedules_lab_link_format(page: Page, live_server: str) -> None:
    open_playground(
        page,
        "/?schedule=cosine_annealing&schedule.T_max=200&schedule.eta_min=0&lr=0.1&warmup_steps=5",
    )
    expect(page.get_by_test_id("schedule")).to_have_value("cosine_annealing")
    cfg = page.request.get(f"/api/runs/{run_id(page)}").json()["config"]  # the page's cookie
    assert cfg["schedule"] == {"name": "cosine_annealing", "warmup_steps": 5, "T_max": 200,
                               "eta_min": 0.0}
    assert cfg["optimizer"]["lr"] == 0.1
    expect(page.get_by_test_id("schedule-preview")).to_have_attribute("data-state", "ready")


def test_keyboard_space_toggles_play(page: Page) -> None:
    open_playground(page)
    page.locator("body").click(position={"x": 5, "y": 790})
    page.keyboard.press("Space")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    page.keyboard.press("Space")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    step = settled_step(page)
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", str(step + 1))
    # not while typing in an input
    page.get_by_test_id("seed").focus()
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")


def test_chinese_language(page: Page) -> None:
    open_playground(page)
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("play")).to_contain_text("运行")
    expect(page.get_by_test_id("status")).to_have_text("就绪")
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("step-counter")).to_have_text("第 10 步")
    save_screenshot(page, "playground-zh")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("play")).to_contain_text("Play")


def test_network_diagram_shows_weights_or_gradients(page: Page) -> None:
    open_playground(page)
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", "10")
    expect(page.get_by_test_id("network-diagram")).to_have_attribute("data-state", "ready")
    links = page.get_by_test_id("network-svg").locator("line, path")
    assert links.count() > 0
    widths_w = links.evaluate_all("els => els.map(e => e.getAttribute('stroke-width'))")
    page.get_by_test_id("network-grads").check()
    expect(page.get_by_test_id("network-legend")).to_contain_text("∂L/∂w")
    widths_g = links.evaluate_all("els => els.map(e => e.getAttribute('stroke-width'))")
    assert widths_g != widths_w  # the links now encode the gradient, not the weight
