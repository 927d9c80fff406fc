"""Browser test of the playground's "Copy as PyTorch" button: the clipboard receives the
server's script for this run (``GET /api/runs/{id}/export?format=pytorch``)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.playground_util import open_playground, run_id

pytestmark = pytest.mark.e2e


def test_copy_as_pytorch_copies_the_script(page: Page, live_server: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    open_playground(page)
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", "10")
    button = page.get_by_test_id("copy-pytorch")
    expect(button).to_have_text("Copy as PyTorch")
    button.click()
    expect(button).to_have_attribute("data-copied", "true")
    expect(button).to_have_text("Copied ✓")
    save_screenshot(page, "copy-pytorch")
    copied = page.evaluate("navigator.clipboard.readText()")
    rid = run_id(page)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}  # the owner cookie
    served = httpx.get(
        f"{live_server}/api/runs/{rid}/export",
        params={"format": "pytorch"},
        cookies=cookies,
        timeout=30,
    )
    assert served.status_code == 200, served.text
    assert copied == served.text
    assert "STEPS = 10\n" in copied
    expect(button).to_have_text("Copy as PyTorch", timeout=5000)


def test_copy_as_pytorch_fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_playground(page)
    button = page.get_by_test_id("copy-pytorch")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    save_screenshot(page, "copy-pytorch-phone")
