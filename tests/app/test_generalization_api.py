"""Test split, evaluate, early stopping (status "stopped") and augmentation over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.app.test_stream import tc_stream

BASE: dict[str, Any] = {
    "seed": 5,
    "dataset": {"name": "circle", "n": 120},
    "model": {"hidden": [6]},
    "optimizer": {"name": "sgd", "lr": 0.1},
}
# stops quickly: a bigger step than this lr ever improves by
STOPPING = {**BASE, "early_stopping": {"patience": 1, "min_delta": 10.0}}


def strict(text: str) -> Any:
    def reject(token: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def create(client: TestClient, cfg: dict[str, Any]) -> str:
    r = client.post("/api/runs", json=cfg)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def loc_of(r: Any) -> list[Any]:
    return list(r.json()["detail"][0]["loc"])


@pytest.mark.parametrize(
    ("body", "loc", "text"),
    [
        ({"dataset": {"test_fraction": 0.7}}, ["body", "dataset", "test_fraction"], "0.5"),
        ({"dataset": {"val_fraction": 0.6, "test_fraction": 0.4}},
         ["body", "dataset", "test_fraction"], "0.9"),
        ({"early_stopping": {"monitor": "loss"}}, ["body", "early_stopping", "monitor"],
         "val_loss"),
        ({"early_stopping": {"patience": -1}}, ["body", "early_stopping", "patience"], "0"),
        ({"early_stopping": {"min_delta": -1.0}}, ["body", "early_stopping", "min_delta"], "0"),
        ({"dataset": {"name": "sine"}, "early_stopping": {"monitor": "val_accuracy"}},
         ["body", "early_stopping", "monitor"], "classification"),
        ({"dataset": {"val_fraction": 0.0}, "early_stopping": {}}, ["body", "early_stopping"],
         "validation split"),
        ({"augment": {"jitter_std": 11.0}}, ["body", "augment", "jitter_std"], "10"),
        ({"augment": {"rotate_deg": -1.0}}, ["body", "augment", "rotate_deg"], "0"),
        ({"dataset": {"name": "sine"}, "augment": {"flip_x": True}}, ["body", "augment"],
         "2-D"),
    ],
)
def test_bad_values_are_422_naming_field_and_range(
    client: TestClient, body: dict[str, Any], loc: list[Any], text: str
) -> None:
    r = client.post("/api/runs", json=body)
    assert r.status_code == 422, r.text
    assert loc_of(r) == loc
    assert text in r.json()["detail"][0]["msg"]


def test_evaluate_has_train_val_and_test_only_with_a_test_split(client: TestClient) -> None:
    with_test = create(client, {**BASE, "dataset": {**BASE["dataset"], "test_fraction": 0.25}})
    client.post(f"/api/runs/{with_test}/step", json={"steps": 5})
    r = client.get(f"/api/runs/{with_test}/evaluate")
    assert r.status_code == 200, r.text
    ev = strict(r.text)
    assert ev["step"] == 5 and set(ev) == {"step", "train", "val", "test"}
    for split in ("train", "val", "test"):
        assert isinstance(ev[split]["loss"], float) and 0 <= ev[split]["accuracy"] <= 1
    assert client.get(f"/api/runs/{with_test}").json()["config"]["dataset"][
        "test_fraction"] == 0.25
    plain = create(client, BASE)
    assert "test" not in client.get(f"/api/runs/{plain}/evaluate").json()
    reg = create(client, {"dataset": {"name": "sine", "n": 40}})
    ev = client.get(f"/api/runs/{reg}/evaluate").json()
    assert ev["train"]["accuracy"] is None and ev["val"]["accuracy"] is None
    assert client.get("/api/runs/nope/evaluate").status_code == 404


def test_early_stopping_stops_the_run_and_further_steps_are_409(client: TestClient) -> None:
    run_id = create(client, STOPPING)
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 50})
    assert r.status_code == 200, r.text
    body = strict(r.text)
    # val at step 0 is the best; step 1's validation (patience 1) makes it fire
    assert body["status"] == "stopped" and body["step"] == 2
    assert body["early_stopping"] == {"stopped_at": 1, "best_step": 0,
                                      "best_value": body["records"][0]["val_loss"]}
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["status"] == "stopped" and detail["early_stopping"]["stopped_at"] == 1
    assert client.get("/api/runs").json()[0]["status"] == "stopped"
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 1})
    assert r.status_code == 409 and "early stopping" in r.json()["detail"]
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 500})  # the long path too
    assert r.status_code == 409
    r = client.post(f"/api/runs/{run_id}/reset")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["early_stopping"] == {"stopped_at": None, "best_step": None,
                                          "best_value": None}


def test_early_stopping_and_augment_are_live_and_survive_export_import(
    client: TestClient,
) -> None:
    run_id = create(client, BASE)
    client.post(f"/api/runs/{run_id}/step", json={"steps": 4})
    r = client.patch(f"/api/runs/{run_id}", json={"augment": {"rotate_deg": 20.0,
                                                               "flip_x": True}})
    assert r.status_code == 200, r.text
    assert r.json()["config"]["augment"] == {"jitter_std": 0.0, "rotate_deg": 20.0,
                                             "flip_x": True, "flip_y": False}
    client.post(f"/api/runs/{run_id}/step", json={"steps": 6})
    bad = client.patch(f"/api/runs/{run_id}", json={"early_stopping": {"patience": 2.5}})
    assert bad.status_code == 422 and loc_of(bad) == ["body", "early_stopping", "patience"]
    r = client.patch(f"/api/runs/{run_id}", json={"early_stopping": {"min_delta": 10.0}})
    assert r.status_code == 200 and r.json()["config"]["early_stopping"] == {
        "monitor": "val_loss", "patience": 0, "min_delta": 10.0, "restore_best_weights": False}
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 20})
    assert r.json()["status"] == "stopped" and r.json()["step"] == 12
    e = client.get(f"/api/runs/{run_id}/export").json()
    r = client.post("/api/runs/import", json=e)
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is True and r.json()["status"] == "stopped"
    new_id = r.json()["id"]
    assert client.get(f"/api/runs/{new_id}/weights").text == \
        client.get(f"/api/runs/{run_id}/weights").text
    assert client.get(f"/api/runs/{new_id}").json()["early_stopping"] == \
        client.get(f"/api/runs/{run_id}").json()["early_stopping"]
    # switched off again: null
    r = client.patch(f"/api/runs/{run_id}", json={"early_stopping": None})
    assert r.status_code == 200 and r.json()["config"]["early_stopping"] is None


def test_the_stream_reports_stopped_and_play_ends(client: TestClient) -> None:
    run_id = create(client, STOPPING)
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        s = tc_stream(ws)
        state = s.recv()
        assert state is not None and state["type"] == "state"
        assert state["early_stopping"] == {"stopped_at": None, "best_step": None,
                                           "best_value": None}
        s.send({"type": "play"})
        last = s.until(lambda m: m["type"] == "frame" and m["status"] == "stopped")
        assert last["early_stopping"]["stopped_at"] == 1 and last["step"] == 2
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["status"] == "stopped" and detail["step"] == 2
