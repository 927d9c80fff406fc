"""``dataset.features`` over HTTP: catalog, 422s naming the field, /data, export -> import."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_catalog_lists_the_features(client: TestClient) -> None:
    cat = client.get("/api/catalog").json()
    assert [f["name"] for f in cat["features"]] == [
        "x1",
        "x2",
        "x1_sq",
        "x2_sq",
        "x1_x2",
        "sin_x1",
        "sin_x2",
    ]
    assert all(f["formula"] and f["label"] for f in cat["features"])
    two_d = {d["name"] for d in cat["datasets"] if d.get("input_dim") == 2}
    assert {"circle", "xor", "spiral"} <= two_d and "sine" not in two_d


@pytest.mark.parametrize(
    ("dataset", "features", "loc", "text"),
    [
        ("circle", ["x1", "x9"], "dataset.features[1]", "allowed: 'x1', 'x2'"),
        ("xor", ["x1_x2", "x1_x2"], "dataset.features[1]", "duplicate"),
        ("sine", ["x1_sq"], "dataset.features", "2-D dataset"),
        ("circle", [], "dataset.features", "non-empty"),
    ],
)
def test_bad_features_are_422_naming_the_field(
    client: TestClient, dataset: str, features: list[str], loc: str, text: str
) -> None:
    r = client.post("/api/runs", json={"dataset": {"name": dataset, "features": features}})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    parts = loc.replace("[", ".").replace("]", "").split(".")
    assert detail["loc"] == ["body", *(int(p) if p.isdigit() else p for p in parts)], detail
    assert text in detail["msg"]


def test_data_keeps_the_plane_and_export_import_replays(client: TestClient) -> None:
    cfg = {
        "seed": 4,
        "dataset": {"name": "circle", "n": 100, "features": ["x1_sq", "x2_sq"]},
        "model": {"hidden": []},
        "optimizer": {"name": "adam", "lr": 0.05},
    }
    r = client.post("/api/runs", json=cfg)
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    assert r.json()["config"]["dataset"]["features"] == ["x1_sq", "x2_sq"]
    data = client.get(f"/api/runs/{run_id}/data").json()
    assert data["features"] == ["x1_sq", "x2_sq"] and data["input_dim"] == 2
    x, inputs = data["train"]["x"], data["train"]["inputs"]
    assert any(v[0] < 0 for v in x)  # plane points (x1, x2) can be negative ...
    assert all(v[0] >= 0 for v in inputs)  # ... their squares cannot
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 40}).status_code == 200
    client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.01}})
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 20}).status_code == 200
    exported = client.get(f"/api/runs/{run_id}/export").json()
    assert exported["config"]["dataset"]["features"] == ["x1_sq", "x2_sq"]
    imported = client.post("/api/runs/import", json=exported)
    assert imported.status_code == 201, imported.text
    assert imported.json()["verified"] is True
    new_id = imported.json()["id"]
    assert (
        client.get(f"/api/runs/{new_id}/weights").text
        == client.get(f"/api/runs/{run_id}/weights").text
    )
    snap = client.get(f"/api/runs/{new_id}/snapshot", params={"grid": 11}).json()
    assert len(snap["surface"]["x"]) == 11 and "prob" in snap["surface"]
