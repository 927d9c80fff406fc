"""/labs/batch-size: the page renders, is in the nav, and every message it uses exists in both
catalogs (template keys and the keys its ES module passes to t())."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.routers.pages import BATCH_SIZE_PRESETS, BATCH_SIZES, NAV
from tests.app.test_generalization_page import ROOT, catalogs

MODULE = ROOT / "static" / "js" / "labs" / "batch_size.js"


def test_page_renders_with_its_root_and_nav_entry(client: TestClient) -> None:
    r = client.get("/labs/batch-size")
    assert r.status_code == 200
    assert 'data-testid="batch-size-lab"' in r.text
    assert 'data-testid="nav-batch_size"' in r.text
    assert "<script>" not in r.text
    assert any(item.path == "/labs/batch-size" for item in NAV)
    for preset in BATCH_SIZE_PRESETS:
        assert f'value="{preset}"' in r.text
    assert f'data-batches="{",".join(BATCH_SIZES)}"' in r.text


def test_every_message_exists_in_en_and_zh(client: TestClient) -> None:
    en, zh = catalogs()
    html = client.get("/labs/batch-size").text
    keys = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    source = MODULE.read_text(encoding="utf-8")
    keys |= set(re.findall(r'\bt\("([a-z0-9_.]+)"\)', source))
    for prefix, names in (
        ("bs.status.", ("ready", "paused", "stopped", "diverged", "running")),
        ("bs.preset.", BATCH_SIZE_PRESETS),
        ("bs.preset.", [f"{p}.hint" for p in BATCH_SIZE_PRESETS]),
    ):
        keys |= {prefix + n for n in names}
    assert len(keys) > 40
    assert keys <= set(en), sorted(keys - set(en))
    assert keys <= set(zh), sorted(keys - set(zh))


def test_module_presets_match_the_server_list() -> None:
    source = MODULE.read_text(encoding="utf-8")
    block = source.split("const PRESETS = {", 1)[1].split("};", 1)[0]
    assert tuple(re.findall(r"^\s+(\w+): \{", block, re.M)) == BATCH_SIZE_PRESETS
