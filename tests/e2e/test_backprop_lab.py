"""Browser tests of /labs/backprop: the walk (Next to the end lands on the API's updated
weights), the formulas with numbers, the finite-difference checks, the softmax preset's graph,
the notes comparison, Run N steps, field errors, zh, large text and a phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from core.labs.backprop import BACKPROP_PRESETS
from tests.e2e.conftest import SCREENSHOT_DIR, save_screenshot

pytestmark = pytest.mark.e2e


def open_lab(page: Page, query: str = "") -> None:
    page.goto(f"/labs/backprop{query}")
    lab = page.get_by_test_id("backprop-lab")
    expect(lab).to_have_attribute("data-state", "ready", timeout=20000)
    expect(lab).to_have_attribute("data-extras", "ready", timeout=20000)


def api(page: Page, body: dict[str, Any]) -> dict[str, Any]:
    response = page.request.post("/api/labs/backprop", data=body)
    assert response.ok, response.text()
    return response.json()


def test_next_walks_to_the_exact_updated_weights(page: Page) -> None:
    open_lab(page)
    expected = api(page, {**BACKPROP_PRESETS["notes_221"], "walk": True})
    n = len(expected["steps"])
    expect(page.get_by_test_id("bp-progress")).to_contain_text(f"0 of {n}")
    nxt = page.get_by_test_id("bp-next")
    for i in range(n):
        nxt.click()
        if expected["steps"][i]["symbol"] == "δ₂":
            expect(page.get_by_test_id("bp-current-formula")).to_have_text(
                "δ₂ = (ŷ − y)·σ′(z₂) = (0.76574 − 0.5)·0.17938 = 0.04767"
            )
            # highlighted on the graph: the output unit
            expect(page.get_by_test_id("bp-node-2-0")).to_have_class("bp-node hl")
            save_screenshot(page, "backprop-delta2")
        if expected["steps"][i]["kind"] == "dW":
            check = page.get_by_test_id("bp-current").get_by_test_id("bp-check")
            expect(check).to_contain_text(expected["steps"][i]["check"]["numeric_text"])
    expect(nxt).to_be_disabled()
    expect(page.get_by_test_id("bp-progress")).to_contain_text(f"{n} of {n}")
    assert f"step={n}" in page.url
    # the page's updated weights are the API's, bit for bit
    shown = (
        page.get_by_test_id("bp-updated")
        .get_by_test_id("bp-updated-value")
        .evaluate_all("els => els.map(e => Number(e.dataset.value))")
    )
    api_updated = [
        v
        for layer in expected["updated"][::-1]
        for v in [*[w for row in layer["W"] for w in row], *layer["b"]]
    ]
    assert shown == api_updated
    expect(page.get_by_test_id("bp-updated")).to_have_attribute("data-complete", "true")
    # every gradient of the log has its finite-difference check, all agreeing
    rel = (
        page.get_by_test_id("bp-steps")
        .get_by_test_id("bp-check")
        .evaluate_all("els => els.map(e => Number(e.dataset.relError))")
    )
    assert len(rel) == 9 and max(rel) < 1e-6
    save_screenshot(page, "backprop-end")


def test_back_and_show_all_and_url_state(page: Page) -> None:
    open_lab(page, "?step=3")
    expect(page.get_by_test_id("bp-current-formula")).to_contain_text("z₁[2] =")
    page.get_by_test_id("bp-back").click()
    expect(page.get_by_test_id("bp-current-formula")).to_have_text(
        "a₁[1] = σ(z₁[1]) = σ(2) = 0.8808"
    )
    page.get_by_test_id("bp-show-all").click()
    expect(page.get_by_test_id("bp-next")).to_be_disabled()
    expect(page.get_by_test_id("bp-steps").locator("li")).to_have_count(28)


def test_compare_with_the_notes(page: Page) -> None:
    open_lab(page)
    row = page.get_by_test_id("bp-notes-row-a1-1")
    expect(row.get_by_test_id("notes-printed")).to_have_text("0.9084")
    expect(row.get_by_test_id("notes-exact")).to_have_text("0.9168")
    expect(row).to_have_attribute("data-agrees", "false")
    expect(row.get_by_test_id("notes-verdict")).to_contain_text("0.9084")
    layout = page.get_by_test_id("bp-notes-row-W1_new-0-1")
    expect(layout.get_by_test_id("notes-verdict")).to_contain_text("(in, out)")
    expect(page.get_by_test_id("bp-notes-row-b2_new-0")).to_have_attribute("data-agrees", "true")
    page.get_by_test_id("bp-notes").screenshot(path=str(SCREENSHOT_DIR / "backprop-notes.png"))


def test_softmax_preset_draws_three_outputs(page: Page) -> None:
    open_lab(page)
    page.get_by_test_id("bp-preset-softmax_233").click()
    expect(page.get_by_test_id("backprop-lab")).to_have_attribute("data-state", "ready")
    assert "preset=softmax_233" in page.url
    graph = page.get_by_test_id("bp-graph")
    expect(graph.locator('[data-testid^="bp-node-2-"]')).to_have_count(3)
    expect(graph.locator('[data-testid^="bp-node-1-"]')).to_have_count(3)
    expect(graph.locator('[data-testid^="bp-edge-2-"]')).to_have_count(9)
    page.get_by_test_id("bp-show-all").click()
    steps = page.get_by_test_id("bp-steps").locator("li")
    expect(steps.filter(has_text="p[3] = e^ŷ[3]")).to_have_count(1)
    expect(steps.filter(has_text="δ₂[3] = (p[3] − 1)")).to_have_count(1)
    expected = api(page, {**BACKPROP_PRESETS["softmax_233"], "walk": True})
    shown = page.get_by_test_id("bp-updated-value").evaluate_all(
        "els => els.map(e => Number(e.dataset.value))"
    )
    assert shown == [s["value"] for s in expected["steps"] if s["phase"] == "update"]
    save_screenshot(page, "backprop-softmax")


def test_run_n_steps_loss_falls(page: Page) -> None:
    open_lab(page)
    page.get_by_test_id("bp-train-steps").fill("200")
    page.get_by_test_id("bp-train-run").click()
    expect(page.get_by_test_id("backprop-lab")).to_have_attribute("data-state", "ready")
    assert "n=200" in page.url
    loss = page.get_by_test_id("chart-bp-loss").evaluate("el => el.data[0].y")
    expected = api(page, {**BACKPROP_PRESETS["notes_221"], "train_steps": 200})["training"]
    assert loss == expected["loss"] and loss[-1] < loss[0]
    params = page.get_by_test_id("chart-bp-params").evaluate("el => el.data.map(t => t.y)")
    assert params == [p["values"] for p in expected["params"]]


def test_edit_a_number_and_field_errors(page: Page) -> None:
    open_lab(page)
    w = page.get_by_test_id("bp-W-1-0-0")
    w.fill("5000")
    w.dispatch_event("change")
    error = page.get_by_test_id("bp-numbers").get_by_test_id("field-error")
    expect(error).to_contain_text("-1000")
    expect(error).to_contain_text("1000")
    w.fill("0.5")
    w.dispatch_event("change")
    expect(page.get_by_test_id("backprop-lab")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("bp-numbers").get_by_test_id("field-error")).to_have_count(0)
    assert "W2=0.5%3B0.1" in page.url or "W2=0.5;0.1" in page.url
    expected = api(
        page,
        {
            **BACKPROP_PRESETS["notes_221"],
            "walk": True,
            "layers": [
                BACKPROP_PRESETS["notes_221"]["layers"][0],
                {"W": [[0.5], [0.1]], "b": [0.3]},
            ],
        },
    )
    page.get_by_test_id("bp-show-all").click()
    last = page.get_by_test_id("bp-updated-value").evaluate_all(
        "els => els.map(e => Number(e.dataset.value))"
    )
    assert last == [s["value"] for s in expected["steps"] if s["phase"] == "update"]
    lr = page.get_by_test_id("bp-lr")
    lr.fill("11")
    lr.dispatch_event("change")
    expect(page.get_by_test_id("controls").get_by_test_id("field-error")).to_contain_text("10")


@pytest.mark.parametrize("large", [False, True])
def test_zh_and_large_text_at_1280x720(page: Page, large: bool) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    open_lab(page, "?step=8")
    if large:
        page.get_by_test_id("font-toggle").click()
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("bp-next")).to_have_text("下一步 ▶")
    expect(page.get_by_test_id("bp-phase")).to_have_text("反向传播")
    expect(
        page.get_by_test_id("bp-notes-row-a1-1").get_by_test_id("notes-verdict")
    ).to_contain_text("笔误")
    # charts re-fit to their boxes on the animation frame after the font change: allow the
    # layout to settle, then it must not scroll sideways (the overflowing elements are named)
    try:
        page.wait_for_function(
            "() => document.documentElement.scrollWidth <= window.innerWidth", timeout=5000)
    except Exception:
        wide = page.evaluate(
            "() => [...document.querySelectorAll('body *')].filter((e) => "
            "e.getBoundingClientRect().right > innerWidth + 1).slice(0, 8).map((e) => "
            "`${e.tagName}.${e.className} ${e.dataset.testid || ''}`)")
        raise AssertionError(f"page wider than the window: {wide}") from None
    save_screenshot(page, f"backprop-zh{'-large' if large else ''}")


def test_phone_390(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_lab(page, "?step=8")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    save_screenshot(page, "backprop-phone")
    for part in ("bp-walk", "bp-notes"):
        page.get_by_test_id(part).screenshot(
            path=str(SCREENSHOT_DIR / f"backprop-phone-{part}.png")
        )


def test_activation_and_its_parameter_from_the_catalog(page: Page) -> None:
    open_lab(page)
    page.get_by_test_id("bp-activation").select_option("leaky_relu")
    expect(page.get_by_test_id("backprop-lab")).to_have_attribute("data-state", "ready")
    slope = page.get_by_test_id("bp-act-params").get_by_test_id("param-negative_slope")
    slope.fill("0.2")
    slope.dispatch_event("change")
    page.wait_for_function("() => location.search.includes('ap.negative_slope=0.2')")
    expect(page.get_by_test_id("backprop-lab")).to_have_attribute("data-state", "ready")
    page.get_by_test_id("bp-show-all").click()
    expected = api(
        page,
        {
            **BACKPROP_PRESETS["notes_221"],
            "activation": "leaky_relu",
            "activation_params": {"negative_slope": 0.2},
            "walk": True,
        },
    )
    steps = page.get_by_test_id("bp-steps").locator("li")
    expect(steps.nth(1)).to_have_text("a₁[1] = leaky_relu(z₁[1]) = leaky_relu(2) = 2")
    shown = page.get_by_test_id("bp-updated-value").evaluate_all(
        "els => els.map(e => Number(e.dataset.value))"
    )
    assert shown == [s["value"] for s in expected["steps"] if s["phase"] == "update"]
    # reload from the URL: the same state
    open_lab(page, page.url[page.url.index("?") :])
    expect(
        page.get_by_test_id("bp-act-params").get_by_test_id("param-negative_slope")
    ).to_have_value("0.2")
