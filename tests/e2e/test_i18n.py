"""Browser tests of the Simplified Chinese UI: after switching to 中文, no visible text of the
nav, controls and explanations is still English (catalog labels, descriptions and parameter
help included), except formulas, code and identifiers. Saves zh screenshots."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot

pytestmark = pytest.mark.e2e

# Names, abbreviations and identifiers that stay as they are in Chinese technical text.
ALLOWED = {
    # product, frameworks, people / methods named after people
    "gradplay", "pytorch", "tensorflow", "torch", "keras", "xavier", "glorot", "kaiming",
    "nesterov", "huber", "lasso", "resnet", "scikit", "learn", "sgdr", "adam", "adamw", "adagrad",
    "rmsprop", "amsgrad", "nadam", "radam", "adamax", "adadelta", "rprop", "relu", "leaky",
    "gelu", "silu", "swish", "sigmoid", "tanh",
    "softplus", "softmax", "logits", "logit", "elastic", "onecycle", "cycle", "reducelronplateau",
    # class and function names quoted in texts (MSELoss, make_moons, ...)
    "mseloss", "bcewithlogitsloss", "crossentropyloss", "smoothl1loss", "huberloss", "l1loss",
    "smoothl1", "exponentialdecay", "inversetimedecay", "polynomialdecay", "cosinedecay",
    "cosinedecayrestarts", "piecewiseconstantdecay", "cosineannealingwarmrestarts", "linear",
    # choice values shown with their translation
    "proximal", "subgradient",
    # mathematical shorthands
    "sign", "erf",
}
# text inside these is formula, code or an identifier and is not checked
SKIP = (".js-plotly-plot, svg, pre, code, .param-id, .formula, .call-box, script, style,"
        " [data-testid=lang-toggle]")  # the toggle names the other language

COLLECT_JS = """
(skip) => {
  const out = [];
  const roots = [document.querySelector('[data-testid="nav"]'), document.querySelector('main')];
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      const parent = node.parentElement;
      if (!text || !parent || parent.closest(skip)) continue;
      const option = parent.closest('option');
      if (!option && !parent.getClientRects().length) continue;  // not rendered
      if (option && option.closest('select').getClientRects().length === 0) continue;
      out.push(text);
    }
  }
  return out;
}
"""

IDENT = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+(?:\(\))?")  # torch.nn.Linear, x.y()
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def english_words(text: str) -> list[str]:
    """ASCII words longer than 3 letters that are neither identifiers nor allowed names."""
    text = IDENT.sub(" ", text)
    words = []
    for word in WORD.findall(text):
        if len(word) <= 3 or "_" in word or any(c.isdigit() for c in word):
            continue
        if word.lower() in ALLOWED:
            continue
        words.append(word)
    return words


def test_english_words_helper() -> None:
    assert english_words("学习率 lr 与 T_max") == []
    assert english_words("What torch.nn.Linear does") == ["What", "does"]
    assert english_words("Kaiming/He 均匀分布") == []
    assert english_words("Dropout") == ["Dropout"]


PAGES = [
    ("/", "playground", lambda page: (
        expect(page.get_by_test_id("playground")).to_have_attribute(
            "data-ready", "true", timeout=15000),
        expect(page.get_by_test_id("status")).to_have_attribute(
            "data-status", "ready", timeout=10000),
    )),
    ("/labs/gradients", "gradients", lambda page: expect(page.get_by_test_id("column-a"))
     .to_have_attribute("data-state", "ready", timeout=20000)),
    ("/labs/schedules", "schedules", lambda page: expect(page.get_by_test_id("chart-schedules"))
     .to_have_attribute("data-state", "ready", timeout=15000)),
    ("/labs/sparsity", "sparsity", lambda page: expect(page.get_by_test_id("run-status"))
     .to_have_attribute("data-status", "ready", timeout=15000)),
]


def leftover_english(page: Page) -> list[str]:
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    texts = page.evaluate(COLLECT_JS, SKIP)
    return sorted({f"{w!r} in {t[:90]!r}" for t in texts for w in english_words(t)})


def wait_no_english(page: Page, timeout_s: float = 10.0) -> None:
    """Waits until no English is left (texts that arrive with a fetch or a chart's redraw
    after the switch take a moment on a loaded machine), then asserts it, listing what is
    left if it never goes."""
    deadline = time.monotonic() + timeout_s
    left = leftover_english(page)
    while left and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        left = leftover_english(page)
    assert not left, "\n".join(left)


@pytest.mark.parametrize(("url", "name", "ready"), PAGES, ids=[p[1] for p in PAGES])
def test_page_has_no_english_left_in_chinese(page: Page, url: str, name: str, ready) -> None:
    page.goto(url)
    ready(page)
    page.get_by_test_id("lang-toggle").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("lang-toggle")).to_have_text("English")
    page.wait_for_timeout(500)  # pages redraw their charts and controls after the switch
    wait_no_english(page)
    save_screenshot(page, f"zh-{name}")
    # a fresh load in Chinese (language from localStorage) is just as complete
    page.reload()
    ready(page)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.wait_for_timeout(300)
    wait_no_english(page)


def test_playground_choices_in_chinese(page: Page) -> None:
    """Component selects, choice parameters and their help follow the language both ways."""
    page.goto("/?activation=gelu&init=kaiming_normal&l1=0.01")
    expect(page.get_by_test_id("playground")).to_have_attribute("data-ready", "true", timeout=15000)
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("activation").locator("option:checked")).to_have_text("GELU（高斯误差线性单元）")
    expect(page.get_by_test_id("init.mode").locator("option:checked")).to_have_text("fan_in（前向）")
    expect(page.get_by_test_id("l1-method").locator("option:checked")).to_have_text("近端（软阈值）")
    expect(page.get_by_test_id("dropout")).to_be_visible()
    expect(page.locator("label", has_text="随机失活率")).to_have_count(1)
    expect(page.get_by_test_id("formulas")).to_contain_text("高斯误差线性单元")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("activation").locator("option:checked")).to_have_text("GELU")
    expect(page.get_by_test_id("init.mode").locator("option:checked")).to_have_text("fan_in")
    expect(page.get_by_test_id("formulas")).to_contain_text("Gaussian Error Linear Unit")
