"""/labs/generalization: the page renders, is in the nav, and every message it uses exists in
both catalogs (template keys and the keys its ES module passes to t())."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.routers.pages import CAPACITY_WIDTHS, GENERALIZATION_PRESETS, NAV

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "static" / "i18n"
MODULE = ROOT / "static" / "js" / "labs" / "generalization.js"


def catalogs() -> tuple[dict[str, str], dict[str, str]]:
    en = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((I18N / "zh.json").read_text(encoding="utf-8"))
    return en, zh


def test_page_renders_with_its_root_and_nav_entry(client: TestClient) -> None:
    r = client.get("/labs/generalization")
    assert r.status_code == 200
    assert 'data-testid="generalization-lab"' in r.text
    assert 'data-testid="nav-generalization"' in r.text
    assert "<script>" not in r.text  # CSP: no inline scripts
    assert any(item.path == "/labs/generalization" for item in NAV)
    for preset in GENERALIZATION_PRESETS:
        assert f'value="{preset}"' in r.text
    assert f'data-widths="{",".join(map(str, CAPACITY_WIDTHS))}"' in r.text
    for w in CAPACITY_WIDTHS:
        assert f'data-testid="surface-{w}"' in r.text


def test_every_message_exists_in_en_and_zh(client: TestClient) -> None:
    en, zh = catalogs()
    html = client.get("/labs/generalization").text
    keys = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    source = MODULE.read_text(encoding="utf-8")
    keys |= set(re.findall(r'\bt\("([a-z0-9_.]+)"\)', source))
    # template-literal keys: t(`gen.split.${s}`) etc.
    for prefix, names in (
        ("gen.split.", ("train", "val", "test")),
        ("gen.gap.", ("val", "test")),
        ("gen.rem.", ("none", "l2", "dropout", "early_stopping", "augment", "more_data")),
        ("gen.status.", ("ready", "paused", "stopped", "diverged", "running")),
        ("gen.preset.", GENERALIZATION_PRESETS),
        ("gen.preset.", [f"{p}.hint" for p in GENERALIZATION_PRESETS]),
    ):
        keys |= {prefix + n for n in names}
    assert len(keys) > 50
    assert keys <= set(en), sorted(keys - set(en))
    assert keys <= set(zh), sorted(keys - set(zh))


def test_module_presets_match_the_server_list() -> None:
    source = MODULE.read_text(encoding="utf-8")
    block = source.split("const PRESETS = {", 1)[1].split("};", 1)[0]
    assert tuple(re.findall(r"^\s+(\w+): \{", block, re.M)) == GENERALIZATION_PRESETS
