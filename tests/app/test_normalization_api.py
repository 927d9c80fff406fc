"""Batch-norm record fields, ``GET .../snapshot?mode=train|eval``, normalisation and dropout
internals in snapshots, ``batch_norm_momentum`` and the depth lab's ``layer_norm`` over HTTP."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.app.test_runs import create, locs, step, strict_loads

BN = {"seed": 3, "model": {"hidden": [5, 4], "batch_norm": True}, "batch_size": 8}


def snapshot(client: TestClient, run_id: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/runs/{run_id}/snapshot", params=params)
    assert r.status_code == 200, r.text
    return dict(strict_loads(r.text))


def test_records_have_batch_norm_fields_short_and_long_steps(client: TestClient) -> None:
    run_id = create(client, BN)
    short = step(client, run_id, 3)["records"]  # record dicts
    long = step(client, run_id, 150)["records"]  # encoded from history rows
    for rec in (short[-1], long[-1]):
        assert rec["bn_momentum"] == 0.1
        assert len(rec["bn_mean_gap"]) == 3 and rec["bn_mean_gap"][-1] is None
        assert all(v > 0 for v in rec["bn_mean_gap"][:2] + rec["bn_var_gap"][:2])
    hist = client.get(
        f"/api/runs/{run_id}/history", params={"fields": "bn_mean_gap,bn_var_gap,bn_momentum"}
    ).json()
    assert len(hist["bn_mean_gap"]) == 153 and hist["bn_momentum"][0] == 0.1
    assert hist["bn_mean_gap"][-1] == long[-1]["bn_mean_gap"]
    plain = create(client, {"model": {"hidden": [3]}})
    rec = step(client, plain, 1)["records"][0]
    assert rec["bn_momentum"] is None and rec["bn_var_gap"] == [None, None]


def test_batch_norm_momentum_config_and_live_patch(client: TestClient) -> None:
    run_id = create(client, {**BN, "model": {**BN["model"], "batch_norm_momentum": 0.25}})
    assert step(client, run_id, 1)["records"][0]["bn_momentum"] == 0.25
    r = client.patch(f"/api/runs/{run_id}", json={"batch_norm_momentum": 0.9})
    assert r.status_code == 200, r.text
    assert r.json()["config"]["model"]["batch_norm_momentum"] == 0.9
    assert step(client, run_id, 1)["records"][0]["bn_momentum"] == 0.9
    snap = snapshot(client, run_id)
    assert snap["network"][0]["batch_norm"]["momentum"] == 0.9
    for bad in (1.5, -0.1, "fast"):
        r = client.patch(f"/api/runs/{run_id}", json={"batch_norm_momentum": bad})
        assert r.status_code == 422, r.text
        assert ["body", "batch_norm_momentum"] in locs(r)
    r = client.post("/api/runs", json={"model": {"batch_norm_momentum": 2}})
    assert r.status_code == 422 and ["body", "model", "batch_norm_momentum"] in locs(r)
    # exported with its live change, imported bit for bit (history verified)
    exported = client.get(f"/api/runs/{run_id}/export").json()
    r = client.post("/api/runs/import", json=exported)
    assert r.status_code == 201 and r.json()["verified"], r.text


def test_snapshot_mode_train_and_eval(client: TestClient) -> None:
    run_id = create(client, {**BN, "model": {**BN["model"], "dropout": 0.2}})
    step(client, run_id, 20)
    default = snapshot(client, run_id)
    assert "modes" not in default
    ev = snapshot(client, run_id, mode="eval")
    tr = snapshot(client, run_id, mode="train")
    assert ev["modes"]["mode"] == "eval" and tr["modes"]["mode"] == "train"
    assert ev["layers"] == default["layers"]  # eval histograms as before
    for modes in (ev["modes"], tr["modes"]):
        assert modes["batch"] == "val" and modes["n"] == 40
        assert [layer["name"] for layer in modes["layers"]] == ["hidden 1", "hidden 2", "output"]
        out = modes["layers"][-1]
        assert out["mean_abs_diff"] > 0 and out["max_abs_diff"] >= out["mean_abs_diff"]
        acts = modes["activations"]
        diff = np.abs(np.asarray(acts["train"][-1]) - np.asarray(acts["eval"][-1]))
        assert out["mean_abs_diff"] == pytest.approx(diff.mean(), rel=1e-12)
        assert set(modes["loss"]) == {"train", "eval"}
    assert ev["modes"] == tr["modes"] | {"mode": "eval"}  # the same deterministic comparison
    net = ev["network"]
    bn = net[0]["batch_norm"]
    assert set(bn) >= {
        "batch_mean",
        "batch_var",
        "batch_var_unbiased",
        "running_mean",
        "running_var",
        "scale",
        "shift",
        "momentum",
        "eps",
        "gamma",
        "beta",
    }
    scale = np.asarray(bn["gamma"]) / np.sqrt(np.asarray(bn["running_var"]) + bn["eps"])
    np.testing.assert_allclose(bn["scale"], scale, rtol=1e-12)
    drop = net[0]["dropout"]
    assert drop["p"] == 0.2 and drop["rows"] == 8 and np.asarray(drop["keep"]).shape == (8, 5)
    assert set(np.unique(drop["keep"])) <= {0, 1}
    assert [c["name"] for c in ev["dropout"]] == ["hidden 1", "hidden 2"]
    # snapshots did not change the run: the export still verifies against a fresh replay
    exported = client.get(f"/api/runs/{run_id}/export").json()
    r = client.post("/api/runs/import", json=exported)
    assert r.status_code == 201 and r.json()["verified"], r.text


def test_snapshot_bad_mode_is_422_naming_the_field(client: TestClient) -> None:
    run_id = create(client, BN)
    r = client.get(f"/api/runs/{run_id}/snapshot", params={"mode": "inference"})
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["query", "mode"]
    assert "'train'" in detail["msg"] and "'eval'" in detail["msg"]


def test_depth_lab_layer_norm(client: TestClient) -> None:
    body = {"depth": 8, "width": 16, "activation": "sigmoid", "n": 64}
    plain = client.post("/api/labs/depth", json=body).json()
    ln = client.post("/api/labs/depth", json={**body, "layer_norm": True})
    assert ln.status_code == 200, ln.text
    # layer norm keeps every hidden layer's activations spread out
    assert ln.json()["layers"][-2]["act_std"] > plain["layers"][-2]["act_std"]
    r = client.post("/api/labs/depth", json={**body, "layer_norm": True, "batch_norm": True})
    assert r.status_code == 422 and "layer_norm" in str(r.json()["detail"])
