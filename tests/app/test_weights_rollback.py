"""Through the API: an update whose weights overflow is rolled back (``PUT .../weights`` sets a
huge output bias; MAE keeps loss and gradient finite, so only the weight check can catch it;
see tests/core/test_divergence_rollback.py for the arithmetic)."""

from __future__ import annotations

import math
from typing import Any

from fastapi.testclient import TestClient

from tests.app.test_runs import create, step, strict_loads

CONFIG = {
    "dataset": {"name": "plane", "n": 50},
    "model": {"hidden": []},
    "loss": "mae",
    "optimizer": {"name": "sgd", "lr": 10.0, "weight_decay": 1.0},
    "batch_size": 1,
}


def _weights(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/runs/{run_id}/weights")
    assert r.status_code == 200
    return list(strict_loads(r.text)["layers"])


def _put_bias(client: TestClient, run_id: str, bias: float) -> list[dict[str, Any]]:
    layers = _weights(client, run_id)
    layers[-1]["b"] = [bias]
    r = client.put(f"/api/runs/{run_id}/weights", json={"layers": layers})
    assert r.status_code == 200, r.text
    return list(strict_loads(r.text)["layers"])


def test_put_weights_then_overflow_rolls_back(client: TestClient) -> None:
    run_id = create(client, CONFIG)
    put = _put_bias(client, run_id, 1e308)
    body = step(client, run_id, 10)
    assert body["status"] == "diverged" and len(body["records"]) == 1
    assert body["divergence"] == {
        "step": 0,
        "layer": 0,
        "layer_name": "output",
        "reason": "weights are not finite after the update",
    }
    assert math.isfinite(body["records"][0]["loss"])
    after = _weights(client, run_id)
    assert after == put  # exactly the weights before the overflowing update
    assert after[0]["b"] == [1e308]
    detail = strict_loads(client.get(f"/api/runs/{run_id}").text)
    assert detail["status"] == "diverged" and detail["divergence"] == body["divergence"]


def test_rollback_keeps_the_weights_of_the_last_good_step(client: TestClient) -> None:
    run_id = create(client, CONFIG)
    put = _put_bias(client, run_id, 1e307)
    assert step(client, run_id, 1)["status"] != "diverged"
    good = _weights(client, run_id)
    assert good != put and all(math.isfinite(v) for v in good[0]["b"])
    body = step(client, run_id, 10)
    assert body["status"] == "diverged" and body["divergence"]["step"] == 1
    assert body["divergence"]["reason"] == "weights are not finite after the update"
    assert _weights(client, run_id) == good
    # the snapshot's histograms describe the rolled-back (finite) weights
    snap = strict_loads(client.get(f"/api/runs/{run_id}/snapshot").text)
    assert snap["status"] == "diverged"
    assert snap["layers"][0]["biases"]["count"] == 1
