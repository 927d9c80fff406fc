"""Browser test of label noise in the playground: the data panel's `label_noise` control comes
from the catalog (classification datasets only), reads and writes the URL, creates runs whose
training labels are noisy (checked against the API) and refuses out-of-range values."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.playground_util import open_playground, run_id

pytestmark = pytest.mark.e2e


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def settled_config(page: Page, timeout_s: float = 10.0) -> dict[str, Any]:
    """Config of the page's current run. An edited number field rebuilds on `input` and again
    on `change` (the playground's behaviour for every restart field), so the id read first may
    already be replaced and deleted: read again until the page's run answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = page.request.get(f"/api/runs/{run_id(page)}")
        if r.ok:
            return dict(r.json()["config"])
        assert r.status == 404 and time.monotonic() < deadline, (r.status, r.text())
        page.wait_for_timeout(200)


def test_label_noise_control_url_run_and_range(page: Page) -> None:
    open_playground(page, "/?dataset=gauss&dataset.label_noise=0.3&noise=0.1&n=200&seed=2")
    control = page.get_by_test_id("dataset.label_noise")
    expect(control).to_have_value("0.3")
    rid = run_id(page)
    cfg = page.request.get(f"/api/runs/{rid}").json()["config"]  # the page's cookie
    assert cfg["dataset"]["params"] == {"label_noise": 0.3}
    data = page.request.get(f"/api/runs/{rid}/data").json()
    assert len(data["train"]["y"]) == 160 and len(data["train"]["flipped"]) == 48  # round(0.3·160)
    assert query(page)["dataset.label_noise"] == ["0.3"]
    save_screenshot(page, "playground-label-noise")

    # out of range: marked with the schema's range, no new run
    control.fill("1")
    control.dispatch_event("change")
    error = page.get_by_test_id("section-data").get_by_test_id("field-error")
    expect(error).to_contain_text("< 1")
    expect(control).to_have_attribute("aria-invalid", "true")
    assert run_id(page) == rid and query(page)["dataset.label_noise"] == ["0.3"]

    # back to 0: a new run without label noise, and the URL drops the default
    control.fill("0")
    control.dispatch_event("change")
    expect(error).to_have_count(0)
    expect(page.get_by_test_id("playground")).not_to_have_attribute("data-run-id", rid)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready")
    assert settled_config(page)["dataset"]["params"] == {"label_noise": 0.0}
    assert "dataset.label_noise" not in query(page)

    # Chinese: the control's short name and its help (the field's tooltip) are translated
    field = page.get_by_test_id("section-data").locator(".field", has=control)
    expect(field).to_have_attribute("title", re.compile("Validation and test labels stay clean"))
    page.get_by_test_id("lang-toggle").click()
    expect(field.locator(".param-tr")).to_have_text("标签噪声")
    expect(field).to_have_attribute("title", re.compile("验证集和测试集的标签保持干净"))

    # a regression dataset has no label noise: the control is gone
    page.get_by_test_id("dataset").select_option("plane")
    expect(page.get_by_test_id("dataset.label_noise")).to_have_count(0)
