"""Browser tests of /labs/generalization: train/validation/test loss of the overfitting presets,
the capacity sweep's small multiples and the remedies comparison. Numbers are checked against
the engine's API (the page's own runs, read back with the browser's owner token)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from app.routers.pages import CAPACITY_WIDTHS
from tests.e2e.conftest import save_screenshot
from tests.e2e.lab_util import api, chart_data, open_run_lab

pytestmark = pytest.mark.e2e

REMEDIES = ["none", "l2", "dropout", "early_stopping", "augment", "more_data"]


def open_lab(page: Page, query: str = "") -> None:
    open_run_lab(page, "generalization", query)


def test_page_draws_every_panel_from_the_engine(page: Page, live_server: str) -> None:
    open_lab(page)
    # 1. overfitting: three splits, their values are the engine's evaluate at the last step
    panel = page.get_by_test_id("panel-overfit")
    expect(panel).to_have_attribute("data-step", "600")
    splits = {t["meta"]: t for t in chart_data(page, "chart-overfit")}
    assert sorted(splits) == ["test", "train", "val"]
    assert splits["train"]["x"] == list(range(0, 601, 30))
    with api(page, live_server) as client:
        run_id = panel.get_attribute("data-run-id")
        ev = client.get(f"/api/runs/{run_id}/evaluate").json()
        cfg = client.get(f"/api/runs/{run_id}").json()["config"]
    assert cfg["dataset"]["test_fraction"] == 0.3 and cfg["dataset"]["n"] == 40  # few samples
    for s in ("train", "val", "test"):
        assert splits[s]["y"][-1] == ev[s]["loss"]
    # the preset overfits: training loss far below validation and test loss
    assert ev["train"]["loss"] < ev["val"]["loss"] / 3
    assert ev["train"]["loss"] < ev["test"]["loss"] / 3
    gaps = {t["meta"]: t["y"] for t in chart_data(page, "chart-gap")}
    assert gaps["test"][-1] == pytest.approx(ev["test"]["loss"] - ev["train"]["loss"], abs=1e-12)

    # 2. capacity sweep: one small multiple per width, each a decision surface with points
    cap = page.get_by_test_id("panel-capacity")
    ids = json.loads(cap.get_attribute("data-run-ids"))
    assert [int(w) for w in ids] == list(CAPACITY_WIDTHS)
    for w in CAPACITY_WIDTHS:
        traces = chart_data(page, f"surface-{w}")
        assert traces[0]["type"] == "heatmap" and traces[0]["z"] == 40
        assert sum(len(t["x"]) for t in traces[1:]) == 60  # every training point
    losses = {t["meta"]: t["y"] for t in chart_data(page, "chart-capacity")}
    with api(page, live_server) as client:
        evals = {w: client.get(f"/api/runs/{ids[str(w)]}/evaluate").json() for w in CAPACITY_WIDTHS}
    assert losses["val"] == [evals[w]["val"]["loss"] for w in CAPACITY_WIDTHS]
    # under- → overfit: width 1 cannot fit the training data, width 256 fits it exactly
    assert evals[1]["train"]["loss"] > 0.5
    assert evals[256]["train"]["loss"] < 0.01
    assert evals[256]["val"]["loss"] > 3 * evals[256]["train"]["loss"]

    # 3. remedies: six validation curves, the early-stopping marks, the test-accuracy bars
    rem = page.get_by_test_id("panel-remedies")
    rem_ids = json.loads(rem.get_attribute("data-run-ids"))
    assert sorted(rem_ids) == sorted(REMEDIES)
    traces = chart_data(page, "chart-remedies-val")
    curves = {t["meta"]: t for t in traces if t["meta"] in REMEDIES}
    assert len(curves) == 6 and all(len(c["y"]) > 50 for c in curves.values())
    bars = chart_data(page, "chart-remedies-test")[0]
    assert bars["type"] == "bar" and len(bars["y"]) == 6
    with api(page, live_server) as client:
        for remedy, run_id in rem_ids.items():
            hist = client.get(f"/api/runs/{run_id}/history", params={"fields": "val_loss"}).json()
            assert curves[remedy]["y"] == hist["val_loss"]
            test = client.get(f"/api/runs/{run_id}/evaluate").json()["test"]
            assert bars["y"][REMEDIES.index(remedy)] == test["accuracy"]
        es_run = client.get(f"/api/runs/{rem_ids['early_stopping']}").json()
    es = es_run["early_stopping"]
    assert es_run["status"] == "stopped" and es["stopped_at"] is not None
    marks = {t["meta"]: t for t in traces if str(t["meta"]).startswith("es:")}
    assert marks["es:best_step"]["x"] == [es["best_step"]]
    assert marks["es:stopped_at"]["x"] == [es["stopped_at"]]
    assert marks["es:best_step"]["y"] == [es["best_value"]]  # the monitored val_loss there
    assert len(curves["early_stopping"]["x"]) == es["stopped_at"] + 1
    save_screenshot(page, "generalization_initial")


@pytest.mark.parametrize("viewport", [(1280, 720), (390, 844)])
def test_preset_in_url_zh_large_text_and_phone(
    page: Page, live_server: str, viewport: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    open_lab(page, "?preset=noisy&seed=3")
    assert page.get_by_test_id("preset").input_value() == "noisy"
    assert page.get_by_test_id("seed").input_value() == "3"
    expect(page.get_by_test_id("panel-overfit")).to_have_attribute("data-step", "600")
    run_id = page.get_by_test_id("panel-overfit").get_attribute("data-run-id")
    with api(page, live_server) as client:
        cfg = client.get(f"/api/runs/{run_id}").json()["config"]
        ev = client.get(f"/api/runs/{run_id}/evaluate").json()
        flipped = client.get(f"/api/runs/{run_id}/data").json()["train"]["flipped"]
        # the same data, net and seed without label noise, trained as far
        clean_cfg = {**cfg, "dataset": {**cfg["dataset"], "params": {}}}
        clean_id = client.post("/api/runs", json=clean_cfg).json()["id"]
        client.post(f"/api/runs/{clean_id}/step", json={"steps": ev["step"]})
        clean = client.get(f"/api/runs/{clean_id}/evaluate").json()
        client.delete(f"/api/runs/{clean_id}")
    assert cfg["dataset"]["name"] == "gauss" and cfg["seed"] == 3
    # high label noise: a quarter of the 60 training labels flipped, validation/test clean
    assert cfg["dataset"]["params"] == {"label_noise": 0.25} and len(flipped) == 15
    # ... opens a far larger train/validation (and train/test) gap than the clean twin's
    gap, clean_gap = ev["val"]["loss"] - ev["train"]["loss"], (
        clean["val"]["loss"] - clean["train"]["loss"])
    assert gap > clean_gap + 0.3, (ev, clean)
    assert ev["test"]["loss"] - ev["train"]["loss"] > \
        clean["test"]["loss"] - clean["train"]["loss"] + 0.3
    assert ev["val"]["accuracy"] < clean["val"]["accuracy"] - 0.1
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("panel-remedies").locator("h2")).to_have_text("补救方法并排比较")
    expect(page.get_by_test_id("nav-generalization")).to_have_text("泛化实验")
    page.get_by_test_id("font-toggle").click()
    assert page.evaluate("document.documentElement.classList.contains('large-font')")
    names = {t["meta"]: t["name"] for t in chart_data(page, "chart-remedies-val")}
    assert names["early_stopping"] == "早停"
    root = page.get_by_test_id("generalization-lab")
    assert root.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    assert root.evaluate("el => el.getBoundingClientRect().right") <= viewport[0]
    save_screenshot(page, f"generalization_zh_large_{viewport[0]}")
    query = parse_qs(urlparse(page.url).query)
    assert query["preset"] == ["noisy"] and query["seed"] == ["3"]


def test_preset_change_replaces_its_run(page: Page, live_server: str) -> None:
    open_lab(page)
    panel = page.get_by_test_id("panel-overfit")
    old = panel.get_attribute("data-run-id")
    page.get_by_test_id("preset").select_option("wide_deep")
    expect(panel).not_to_have_attribute("data-run-id", old or "")
    expect(panel).to_have_attribute("data-step", "600", timeout=240000)
    assert parse_qs(urlparse(page.url).query)["preset"] == ["wide_deep"]
    new = panel.get_attribute("data-run-id")
    with api(page, live_server) as client:
        assert client.get(f"/api/runs/{old}").status_code == 404  # deleted, not left behind
        assert client.get(f"/api/runs/{new}").json()["config"]["model"]["hidden"] == [128] * 3
