"""Browser tests of /questions: the page (filter, chapters, progress in localStorage, predict
first, URL state, zh, large text, phone) and every "try it" link of the bank — each opens
without a console error and its page reaches the linked state; for key questions the
phenomenon the answer describes is asserted on the target page. Links are read from the bank
(app/questions/*.json), never copied here."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from app.questions import load_bank
from tests.e2e.conftest import PageErrors, save_screenshot
from tests.e2e.playground_util import open_playground

pytestmark = pytest.mark.e2e

BANK = load_bank()
QUESTIONS = {q.id: q for c in BANK.chapters for q in c.questions}
HREFS = sorted(
    {link.href for q in QUESTIONS.values() for link in q.try_}
    | {e.where for q in QUESTIONS.values() for e in q.errata}
)


def open_questions(page: Page, query: str = "") -> None:
    page.goto(f"/questions{query}")
    expect(page.get_by_test_id("questions-page")).to_have_attribute(
        "data-state", "ready", timeout=15000
    )


def href(qid: str, i: int = 0) -> str:
    return QUESTIONS[qid].try_[i].href


# ---- the page -------------------------------------------------------------------------------


def test_page_lists_the_bank_filters_and_keeps_state_in_the_url(page: Page) -> None:
    open_questions(page)
    questions = page.get_by_test_id("question")
    expect(questions).to_have_count(BANK.count)
    assert page.get_by_test_id("q-chapter-section").count() == len(BANK.chapters)
    expect(page.get_by_test_id("nav-questions")).to_have_attribute("aria-current", "page")
    save_screenshot(page, "questions-en")

    # filter: only matching questions stay, the URL carries the text
    page.get_by_test_id("q-filter").fill("momentum")
    page.wait_for_function("() => new URL(location.href).searchParams.get('filter') === 'momentum'")
    n = questions.count()
    assert 0 < n < BANK.count
    expected = {
        q.id
        for q in QUESTIONS.values()
        if "momentum"
        in "\n".join(
            [
                q.id,
                q.question.en,
                q.question.zh,
                q.answer.en,
                q.answer.zh,
                *[e.notes.en + e.correct.en + e.notes.zh + e.correct.zh for e in q.errata],
            ]
        ).lower()
    }
    assert {questions.nth(i).get_attribute("data-id") for i in range(n)} == expected
    page.get_by_test_id("q-filter").fill("zzzz no such words")
    expect(page.get_by_test_id("q-empty")).to_be_visible()
    expect(questions).to_have_count(0)
    page.get_by_test_id("q-filter").fill("")
    expect(questions).to_have_count(BANK.count)

    # chapter + errata-only + open question: all in the URL, all restored on reload
    page.get_by_test_id("q-chapter").select_option("batch-norm")
    expect(questions).to_have_count(
        len(next(c for c in BANK.chapters if c.id == "batch-norm").questions)
    )
    page.get_by_test_id("q-errata-only").check()
    with_errata = [
        q.id for q in next(c for c in BANK.chapters if c.id == "batch-norm").questions if q.errata
    ]
    expect(questions).to_have_count(len(with_errata))
    item = page.locator('[data-testid="question"][data-id="bn-switch-off"]')
    item.get_by_test_id("q-toggle").click()
    expect(item.get_by_test_id("q-body")).to_be_visible()
    page.wait_for_function("() => new URL(location.href).searchParams.get('q') === 'bn-switch-off'")
    q = dict(parse_qsl(urlsplit(page.url).query))
    assert q == {"chapter": "batch-norm", "errata": "1", "q": "bn-switch-off"}
    page.reload()
    expect(page.get_by_test_id("questions-page")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("q-chapter")).to_have_value("batch-norm")
    expect(page.get_by_test_id("q-errata-only")).to_be_checked()
    expect(questions).to_have_count(len(with_errata))
    expect(item.get_by_test_id("q-toggle")).to_have_attribute("aria-expanded", "true")
    expect(item.get_by_test_id("q-erratum")).to_contain_text("γ = √(σ² + ε)")


def test_progress_is_kept_in_local_storage_across_reloads(page: Page, live_server: str) -> None:
    writes: list[str] = []
    page.on("request", lambda r: writes.append(r.url) if r.method != "GET" else None)
    open_questions(page)
    progress = page.get_by_test_id("q-progress")
    expect(progress).to_have_attribute("data-done", "0")
    for qid in ("vanishing-why", "l1-sparse"):
        page.locator(f'[data-testid="question"][data-id="{qid}"]').get_by_test_id("q-done").check()
    expect(progress).to_have_attribute("data-done", "2")
    expect(progress).to_have_text(f"2 / {BANK.count} done")
    stored = page.evaluate("() => JSON.parse(localStorage.getItem('gradplay.questions.done'))")
    assert sorted(stored) == ["l1-sparse", "vanishing-why"]
    page.reload()
    expect(page.get_by_test_id("questions-page")).to_have_attribute("data-state", "ready")
    expect(progress).to_have_attribute("data-done", "2")
    done = page.locator('[data-testid="question"][data-done="true"]')
    expect(done).to_have_count(2)
    page.locator('[data-testid="question"][data-id="l1-sparse"]').get_by_test_id("q-done").uncheck()
    page.reload()
    expect(page.get_by_test_id("questions-page")).to_have_attribute("data-state", "ready")
    expect(progress).to_have_attribute("data-done", "1")
    assert writes == []  # nothing about progress (or anything else) is sent to the server


def test_predict_first_hides_the_answer_until_a_choice(page: Page) -> None:
    open_questions(page, "?q=momentum-numbers")
    item = page.locator('[data-testid="question"][data-id="momentum-numbers"]')
    expect(item.get_by_test_id("q-body")).to_be_visible()
    answer = item.get_by_test_id("q-answer")
    expect(answer).to_be_hidden()
    pred = QUESTIONS["momentum-numbers"].predict
    assert pred is not None
    wrong = next(i for i in range(len(pred.choices)) if i != pred.correct)
    item.locator(f'[data-testid="q-choice"][data-index="{wrong}"]').click()
    result = item.get_by_test_id("q-predict-result")
    expect(result).to_have_attribute("data-correct", "false")
    expect(item.locator(f'[data-testid="q-choice"][data-index="{pred.correct}"]')).to_have_class(
        re.compile(r"\bcorrect\b")
    )
    expect(answer).to_be_visible()
    expect(answer).to_contain_text("0.9711")
    expect(item.get_by_test_id("q-erratum")).to_contain_text("0.98001")
    # the "try it" link is a real link to the optimizers lab's notes preset
    expect(item.get_by_test_id("try-it").first).to_have_attribute("href", href("momentum-numbers"))


def test_every_question_has_try_links_on_the_page(page: Page) -> None:
    open_questions(page)
    page.get_by_test_id("q-expand-all").click()
    # predict-first questions show their links before the answer too
    links = page.get_by_test_id("try-it")
    expect(links).to_have_count(sum(len(q.try_) for q in QUESTIONS.values()))
    shown = {links.nth(i).get_attribute("href") for i in range(links.count())}
    assert shown == {link.href for q in QUESTIONS.values() for link in q.try_}


def test_nav_labs_menu_reaches_every_lab(page: Page) -> None:
    page.goto("/questions")
    menu = page.get_by_test_id("nav-labs-menu")
    expect(menu).to_be_hidden()
    page.get_by_test_id("nav-labs").click()
    expect(menu).to_be_visible()
    expect(page.get_by_test_id("nav-labs")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    page.get_by_test_id("nav-labs").click()
    page.get_by_test_id("nav-optimizers").click()
    expect(page).to_have_url(re.compile(r"/labs/optimizers"))
    expect(page.get_by_test_id("nav-labs")).to_have_class(re.compile(r"\bactive\b"))
    page.get_by_test_id("nav-labs").click()
    expect(page.get_by_test_id("nav-optimizers")).to_have_attribute("aria-current", "page")
    page.get_by_test_id("nav-questions").click()
    expect(page).to_have_url(re.compile(r"/questions"))


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_zh_and_large_text_at_1280x720(browser: Browser, live_server: str, large: bool) -> None:
    errors = PageErrors()
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.on("console", errors.on_console)
    page.on("pageerror", errors.on_page_error)
    open_questions(page, "?q=sigmoid-2-4")
    if large:
        page.get_by_test_id("font-toggle").click()
    page.get_by_test_id("lang-toggle").click()
    expect(page.locator("h1")).to_have_text("面试题")
    item = page.locator('[data-testid="question"][data-id="sigmoid-2-4"]')
    expect(item.get_by_test_id("q-toggle")).to_contain_text("计算 σ(2.4)")
    item.locator('[data-testid="q-choice"][data-index="1"]').click()
    expect(item.get_by_test_id("q-answer")).to_contain_text("0.9168")
    expect(item.get_by_test_id("try-it").first).to_have_text("试一试 →")
    expect(page.get_by_test_id("q-progress")).to_contain_text("已完成")
    # nothing spills sideways
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
    page.get_by_test_id("nav-labs").click()
    expect(page.get_by_test_id("nav-gradients")).to_have_text("梯度实验")
    save_screenshot(page, f"questions-zh-{'large' if large else 'normal'}")
    context.close()
    assert not errors.messages, errors.messages


def test_phone_390(browser: Browser, live_server: str) -> None:
    errors = PageErrors()
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.on("console", errors.on_console)
    page.on("pageerror", errors.on_page_error)
    open_questions(page, "?chapter=optimizers&q=momentum-saddle")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    item = page.locator('[data-testid="question"][data-id="momentum-saddle"]')
    expect(item.get_by_test_id("try-it").first).to_be_visible()
    save_screenshot(page, "questions-phone")
    page.get_by_test_id("nav-toggle").click()
    page.get_by_test_id("nav-labs").click()
    expect(page.get_by_test_id("nav-sparsity")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    save_screenshot(page, "questions-phone-nav")
    context.close()
    assert not errors.messages, errors.messages


# ---- every link reaches its page state ------------------------------------------------------


def reached(page: Page, link: str) -> None:
    """Open ``link`` and wait until its page is ready in the linked state."""
    parts = urlsplit(link)
    q = dict(parse_qsl(parts.query))
    path = parts.path
    if path == "/":
        open_playground(page, link)
        expect(page.get_by_test_id("link-dropped")).to_be_hidden()
        for key, value in q.items():
            control = page.get_by_test_id(key)
            if key == "clip":
                control = page.get_by_test_id("grad-clip")
            if control.count() == 1 and control.evaluate("e => e.tagName") in ("INPUT", "SELECT"):
                if control.get_attribute("type") == "checkbox":
                    expect(control).to_be_checked(checked=value == "true")
                else:
                    expect(control).to_have_value(value)
        return
    page.goto(link)
    if path == "/labs/gradients":
        for col in ("a", "b"):
            expect(page.get_by_test_id(f"column-{col}")).to_have_attribute(
                "data-state", "ready", timeout=20000
            )
        if "preset" in q:
            expect(page.get_by_test_id(f"preset-{q['preset']}")).to_have_attribute(
                "aria-pressed", "true"
            )
    elif path == "/labs/optimizers":
        lab = page.get_by_test_id("optimizers-lab")
        expect(lab).to_have_attribute("data-state", "ready", timeout=20000)
        if "preset" in q:
            expect(page.get_by_test_id(f"opt-preset-{q['preset']}")).to_have_attribute(
                "aria-pressed", "true"
            )
        if "fn" in q:
            expect(page.get_by_test_id("opt-function")).to_have_value(q["fn"])
        if "o" in q:
            expect(page.locator('[data-testid^="opt-status-"]')).to_have_count(
                len(q["o"].split(","))
            )
            assert len(page.get_by_test_id("chart-contour").evaluate(PATHS)) == len(
                q["o"].split(",")
            )
        if "steps" in q:
            expect(page.get_by_test_id("opt-steps")).to_have_value(q["steps"])
    elif path == "/labs/schedules":
        chart = page.get_by_test_id("chart-schedules")
        expect(chart).to_have_attribute("data-state", "ready", timeout=15000)
        names = q["s"].split(",")
        expect(chart).to_have_attribute("data-traces", str(len(names)))
        for name in names:
            expect(page.get_by_test_id(f"pick-{name}")).to_be_checked()
        if "lr" in q:
            expect(page.get_by_test_id("lr")).to_have_value(q["lr"])
        for key, value in q.items():
            if "." in key:
                name, param = key.split(".", 1)
                box = page.get_by_test_id(f"schedule-card-{name}").get_by_test_id(f"param-{param}")
                if value in ("true", "false"):
                    expect(box).to_be_checked(checked=value == "true")
                else:
                    expect(box).to_have_value(value)
    elif path == "/labs/sparsity":
        expect(page.get_by_test_id("play")).to_be_enabled(timeout=15000)
        for key, testid in (
            ("l1", "l1"),
            ("l2", "l2"),
            ("method", "l1-method"),
            ("path", "path-method"),
            ("geo", "geo-method"),
            ("geo_k", "geo-lambda"),
        ):
            if key in q:
                expect(page.get_by_test_id(testid)).to_have_value(q[key])
    elif path == "/labs/normalization":
        expect(page.get_by_test_id("normalization-lab")).to_have_attribute(
            "data-ready", "true", timeout=60000
        )
        expect(page.get_by_test_id("normalization-error")).to_be_hidden()
        if "preset" in q:
            expect(page.get_by_test_id("preset")).to_have_value(q["preset"])
    elif path == "/labs/search":
        expect(page.get_by_test_id("search-lab")).to_have_attribute(
            "data-ready", "true", timeout=15000
        )
        if "preset" in q:
            expect(page.get_by_test_id("search-preset")).to_have_value(q["preset"])
    elif path == "/labs/blocks":
        expect(page.get_by_test_id("blocks-lab")).to_have_attribute(
            "data-state", "ready", timeout=30000
        )
        # the page keeps its whole state in the URL: every linked value must survive
        for key, value in q.items():
            page.wait_for_function(
                "([k, v]) => new URLSearchParams(location.search).get(k) === v", arg=[key, value]
            )
    elif path == "/labs/backprop":
        lab = page.get_by_test_id("backprop-lab")
        expect(lab).to_have_attribute("data-state", "ready", timeout=20000)
        if "preset" in q:
            expect(page.get_by_test_id(f"bp-preset-{q['preset']}")).to_have_attribute(
                "aria-pressed", "true"
            )
    elif path in ("/labs/generalization", "/labs/batch-size"):
        lab = "generalization" if path == "/labs/generalization" else "batch-size"
        expect(page.get_by_test_id(f"{lab}-lab")).to_have_attribute(
            "data-ready", "true", timeout=300000
        )
        expect(page.get_by_test_id(f"{lab}-error")).to_be_hidden()
        if "preset" in q:
            expect(page.get_by_test_id("preset")).to_have_value(q["preset"])
    elif path == "/api-reference":
        expect(page.locator(f"#{parts.fragment}")).to_be_visible()
    else:
        raise AssertionError(f"no readiness check for {path}")


@pytest.mark.parametrize("link", HREFS)
def test_every_link_opens_in_its_state(page: Page, link: str) -> None:
    reached(page, link)  # the page fixture fails the test on any console error


# ---- the phenomenon behind key questions ----------------------------------------------------

GRAD_NORMS = "el => Array.from(el.data[0].y)"
PATHS = (
    "el => (el.data || []).filter(t => t.meta && t.meta.kind === 'path')"
    ".map(t => t.x.map((x, i) => [x, t.y[i]]))"
)
SERIES = "el => (el.data || []).filter(t => t.meta).map(t => ({meta: t.meta, y: t.y}))"


def grad_norms(page: Page, col: str) -> list[float]:
    return (
        page.get_by_test_id(f"column-{col}").get_by_test_id("chart-grad-norm").evaluate(GRAD_NORMS)
    )


def ratio(norms: list[float]) -> float:
    """First-layer gradient norm over the last hidden layer's."""
    return norms[0] / norms[-2]


def test_vanishing_gradient_link_shows_ratio_below_1e_4(page: Page) -> None:
    reached(page, href("vanishing-why"))
    assert ratio(grad_norms(page, "b")) < 1e-4  # sigmoid + Xavier, depth 10


def test_residual_link_keeps_the_gradient(page: Page) -> None:
    reached(page, href("residual"))
    plain, skip = ratio(grad_norms(page, "a")), ratio(grad_norms(page, "b"))
    assert plain < 1e-4 and skip > 1e3 * plain


def test_tanh_link_keeps_what_sigmoid_loses(page: Page) -> None:
    reached(page, href("tanh-centred"))
    assert ratio(grad_norms(page, "a")) > 1e4 * ratio(grad_norms(page, "b"))


def test_init_link_normal_explodes_kaiming_does_not(page: Page) -> None:
    reached(page, href("init-normal"))
    kaiming, normal = grad_norms(page, "a"), grad_norms(page, "b")
    assert min(normal) > 1e20 * max(kaiming)  # N(0, 1): exploded (~10³⁰) at every layer
    assert max(kaiming) / min(kaiming) < 1e2  # Kaiming: flat


def test_zero_init_link_has_no_hidden_gradient(page: Page) -> None:
    reached(page, href("zero-init"))
    chart = page.get_by_test_id("column-a").get_by_test_id("chart-grad-norm")
    expect(chart).to_have_attribute("data-hidden-zero", "true", timeout=15000)


def test_batch_norm_link_keeps_the_gradient(page: Page) -> None:
    reached(page, href("bn-benefits"))
    plain, bn = grad_norms(page, "a"), grad_norms(page, "b")
    assert max(plain) / min(plain) > 1e4  # tanh with N(0, 1): orders of magnitude
    assert max(bn) / min(bn) < 1e2  # batch norm: flat


def test_momentum_link_passes_the_saddle(page: Page) -> None:
    reached(page, href("momentum-saddle"))
    sgd, momentum = page.get_by_test_id("chart-contour").evaluate(PATHS)
    assert abs(sgd[-1][1]) < 0.5 and abs(momentum[-1][1]) > 2.5


def test_zigzag_link_flips_sign(page: Page) -> None:
    reached(page, href("momentum-saddle", 1))
    ys = [p[1] for p in page.get_by_test_id("chart-contour").evaluate(PATHS)[0]]
    assert sum(1 for a, b in zip(ys, ys[1:], strict=False) if a * b < 0) >= 10


def test_notes_table_link_shows_the_engine_numbers(page: Page) -> None:
    reached(page, href("momentum-numbers"))
    rows = page.get_by_test_id("opt-notes-table").locator("tbody tr")
    cells = [rows.nth(i).get_by_test_id("gradplay").inner_text() for i in range(4)]
    assert cells[0] == "0.99" and cells[1] == "0.9711" and cells[3] == "0.98001"
    assert round(float(cells[2]), 4) == 0.0684


def test_adagrad_link_step_shrinks(page: Page) -> None:
    reached(page, href("adagrad"))
    series = page.get_by_test_id("chart-effective-lr").evaluate(SERIES)
    ada = next(s["y"] for s in series if s["meta"] == {"opt": 0, "coord": "x"})
    assert all(b <= a for a, b in zip(ada, ada[1:], strict=False)) and ada[-1] < ada[0]


def test_lr_too_large_link_diverges(page: Page) -> None:
    reached(page, href("lr-size"))
    expect(page.get_by_test_id("opt-status-0")).to_have_attribute("data-diverged", "false")
    expect(page.get_by_test_id("opt-status-1")).to_have_attribute("data-diverged", "true")


def test_natural_exp_link_shows_0_0607_at_step_100(page: Page) -> None:
    reached(page, href("natural-exp"))
    y = page.get_by_test_id("chart-schedules").evaluate("el => Array.from(el.data[0].y)")
    x = page.get_by_test_id("chart-schedules").evaluate("el => Array.from(el.data[0].x)")
    assert round(y[x.index(100)], 4) == 0.0607
    assert y[0] > y[x.index(100)] > y[-1]  # it decays (the notes' formula would rise)


def test_l1_link_makes_exact_zeros_and_l2_none(page: Page) -> None:
    reached(page, href("l1-sparse"))
    page.get_by_test_id("play").click()
    page.wait_for_function(
        "() => { const d = document.querySelector('[data-testid=chart-zeros]').data;"
        " const l1 = d && d.find(t => t.meta === 'l1');"
        " return l1 && l1.y.length && l1.y[l1.y.length - 1] > 0; }",
        timeout=30000,
    )
    zeros = page.get_by_test_id("chart-zeros").evaluate(
        "el => Object.fromEntries(el.data.filter(t => t.meta)"
        ".map(t => [t.meta, t.y[t.y.length - 1]]))"
    )
    assert zeros["l1"] > 0 and zeros["l2"] == 0
    page.get_by_test_id("pause").click()


def test_gamma_beta_link_makes_the_identity(page: Page) -> None:
    reached(page, href("bn-switch-off"))
    expect(page.get_by_test_id("gb-apply")).to_be_enabled(timeout=60000)
    page.get_by_test_id("gb-apply").click()
    identity = page.get_by_test_id("gb-identity")
    expect(identity).to_have_attribute("data-state", "identity", timeout=30000)
    assert float(identity.get_attribute("data-max-abs") or "1") < 1e-6


def test_exploding_link_diverges_in_the_playground(page: Page) -> None:
    reached(page, href("exploding-nan"))
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("diverged-banner")).to_be_visible(timeout=15000)


def test_rosenbrock_link_adam_beats_sgd(page: Page) -> None:
    reached(page, href("adam"))
    series = page.get_by_test_id("chart-distance").evaluate(SERIES)
    assert series[0]["y"][-1] < 0.5 * series[1]["y"][-1]
