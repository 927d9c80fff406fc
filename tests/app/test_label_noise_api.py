"""``dataset.params.label_noise`` over HTTP: the catalog schema the controls are built from,
422s naming the field and range, the noisy training labels in ``/data``, export/import and the
"Copy as PyTorch" script (which must embed the noisy labels the run trained on)."""

from __future__ import annotations

import ast
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

CLASSIFICATION = ["circle", "xor", "gauss", "spiral", "moons"]
CFG: dict[str, Any] = {
    "seed": 6,
    "dataset": {
        "name": "spiral",
        "n": 120,
        "val_fraction": 0.25,
        "test_fraction": 0.25,
        "params": {"label_noise": 0.3},
    },
    "model": {"hidden": [6]},
    "optimizer": {"name": "adam", "lr": 0.01},
}


def create(client: TestClient, cfg: dict[str, Any]) -> str:
    r = client.post("/api/runs", json=cfg)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def without_noise(cfg: dict[str, Any]) -> dict[str, Any]:
    ds = {**cfg["dataset"], "params": {}}
    return {**cfg, "dataset": ds}


def test_catalog_lists_label_noise_for_classification_sets_only(client: TestClient) -> None:
    datasets = client.get("/api/catalog").json()["datasets"]
    for entry in datasets:
        params = {p["name"]: p for p in entry["params"]}
        if entry["name"] in CLASSIFICATION:
            p = params["label_noise"]
            assert (p["type"], p["default"], p["min"], p["max"]) == ("float", 0.0, 0.0, 1.0)
            assert p["exclusive_max"] is True and "training labels" in p["help"]
        else:
            assert "label_noise" not in params, entry["name"]


@pytest.mark.parametrize(
    ("dataset", "text"),
    [
        ({"name": "moons", "params": {"label_noise": 1.0}}, "0.0 <= x < 1.0"),
        ({"name": "moons", "params": {"label_noise": -0.2}}, "0.0 <= x < 1.0"),
        ({"name": "spiral", "params": {"label_noise": "a lot"}}, "0.0 <= x < 1.0"),
        ({"name": "sine", "params": {"label_noise": 0.1}}, "classification datasets"),
        ({"name": "plane", "params": {"label_noise": 0.0}}, "regression dataset"),
        ({"name": "custom", "params": {"id": "abc", "label_noise": 0.1}}, "custom"),
    ],
)
def test_bad_label_noise_is_a_422_naming_field_and_range(
    client: TestClient, dataset: dict[str, Any], text: str
) -> None:
    r = client.post("/api/runs", json={"dataset": dataset})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "dataset", "params", "label_noise"]
    assert text in detail["msg"]


def test_nan_label_noise_is_a_422_not_a_500(client: TestClient) -> None:
    body = '{"dataset": {"name": "xor", "params": {"label_noise": NaN}}}'
    r = client.post("/api/runs", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_data_has_noisy_training_labels_and_clean_validation(client: TestClient) -> None:
    noisy = client.get(f"/api/runs/{create(client, CFG)}/data").json()
    clean = client.get(f"/api/runs/{create(client, without_noise(CFG))}/data").json()
    assert noisy["train"]["x"] == clean["train"]["x"]
    assert noisy["val"] == clean["val"] and "flipped" not in clean["train"]
    n_train = len(noisy["train"]["y"])
    differ = [
        i
        for i, (a, b) in enumerate(zip(noisy["train"]["y"], clean["train"]["y"], strict=True))
        if a != b
    ]
    assert len(differ) == math.floor(0.3 * n_train + 0.5) == 18
    assert noisy["train"]["flipped"] == differ
    cfg = client.get(f"/api/runs/{create(client, CFG)}").json()["config"]
    assert cfg["dataset"]["params"] == {"classes": 3, "turns": 1.0, "label_noise": 0.3}


def test_export_import_rebuilds_the_same_noisy_run(client: TestClient) -> None:
    run_id = create(client, CFG)
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 12}).status_code == 200
    export = client.get(f"/api/runs/{run_id}/export").json()
    assert export["config"]["dataset"]["params"]["label_noise"] == 0.3
    r = client.post("/api/runs/import", json=export)
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is True
    new_id = r.json()["id"]
    assert (
        client.get(f"/api/runs/{new_id}/data").text == client.get(f"/api/runs/{run_id}/data").text
    )
    assert (
        client.get(f"/api/runs/{new_id}/weights").text
        == client.get(f"/api/runs/{run_id}/weights").text
    )


def _assigned(script: str, name: str) -> Any:
    """The literal list inside ``NAME = np.array([...], ...)`` of a generated script."""
    for node in ast.parse(script).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            call = node.value
            while (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "reshape"
            ):
                call = call.func.value  # X_TRAIN = np.array(...).reshape(...)
            assert isinstance(call, ast.Call)
            return ast.literal_eval(call.args[0])
    raise AssertionError(f"{name} not in the script")


@pytest.mark.parametrize("name", ["spiral", "moons"])
def test_pytorch_script_embeds_the_noisy_labels(client: TestClient, name: str) -> None:
    cfg = {**CFG, "dataset": {**CFG["dataset"], "name": name, "params": {"label_noise": 0.3}}}
    run_id = create(client, cfg)
    client.post(f"/api/runs/{run_id}/step", json={"steps": 3})
    script = client.get(f"/api/runs/{run_id}/export", params={"format": "pytorch"}).text
    data = client.get(f"/api/runs/{run_id}/data").json()
    clean = client.get(f"/api/runs/{create(client, without_noise(cfg))}/data").json()
    y = _assigned(script, "Y_TRAIN")
    assert y == data["train"]["y"] and y != clean["train"]["y"]


def test_pytorch_script_reproduces_the_noisy_runs_losses(client: TestClient, tmp_path: Any) -> None:
    """Run with torch, the script prints the engine's losses step for step: it trains on the
    same (noisy) labels as the run."""
    pytest.importorskip("torch")
    from tests.app.test_export_pytorch import _assert_same

    run_id = create(
        client, {**CFG, "dataset": {"name": "moons", "n": 90, "params": {"label_noise": 0.25}}}
    )
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 30}).status_code == 200
    _assert_same(client, run_id, tmp_path)
