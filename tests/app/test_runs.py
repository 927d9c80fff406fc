"""The runs REST API (``/api/runs``) through the in-process TestClient, error paths included."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.io as pio
import pytest
from fastapi.testclient import TestClient

from core.history import ALL_FIELDS, LAYER_FIELDS, SCALAR_FIELDS

RECORD_FIELDS = set(SCALAR_FIELDS) | set(LAYER_FIELDS)
FIGURES = ("loss", "lr", "grad_norm", "grad_heatmap", "weights_hist", "boundary")
# plain SGD on the unscaled features (x2 ~ 1000) with a linear model: blows up within ~25 steps
DIVERGING = {
    "dataset": {"name": "unscaled"},
    "model": {"hidden": []},
    "optimizer": {"name": "sgd", "lr": 10.0},
}
ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def strict_loads(text: str | bytes) -> Any:
    """json.loads that fails on NaN / Infinity / -Infinity."""

    def reject(token: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def run_count(client: TestClient) -> int:
    """Live runs of the whole server (of every client)."""
    return len(client.app.state.runs.sessions)  # type: ignore[attr-defined]


def create(client: TestClient, config: dict[str, Any] | None = None) -> str:
    r = client.post("/api/runs", json={} if config is None else config)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def step(client: TestClient, run_id: str, n: int) -> dict[str, Any]:
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": n})
    assert r.status_code == 200, r.text
    return dict(strict_loads(r.text))


def locs(response: Any) -> list[list[Any]]:
    return [item["loc"] for item in response.json()["detail"]]


# ---------------------------------------------------------------------------------- create
def test_create_empty_config_resolves_every_default(client: TestClient) -> None:
    r = client.post("/api/runs", json={})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "status", "step", "config", "owner_token", "watch_token"}
    assert body["status"] == "ready" and body["step"] == 0
    cfg = body["config"]
    assert set(cfg) == {"seed", "dataset", "model", "loss", "loss_params", "optimizer",
                        "schedule", "regularization", "batch_size", "grad_clip", "eval_every",
                        "early_stopping", "augment"}
    assert cfg["seed"] == 0 and cfg["batch_size"] == 10 and cfg["eval_every"] == 1
    assert cfg["dataset"] == {"name": "circle", "n": 200, "noise": 0.1, "val_fraction": 0.2,
                              "normalize": "none", "params": {"label_noise": 0.0},
                              "features": ["x1", "x2"]}
    assert cfg["model"]["hidden"] == [8, 8] and cfg["model"]["activation"] == "tanh"
    assert {"init", "init_params", "bias_init", "bias_init_params", "batch_norm", "layer_norm",
            "dropout", "residual", "activation_params"} <= set(cfg["model"])
    # torch defaults of SGD filled in
    assert cfg["optimizer"] == {"name": "sgd", "lr": 0.03, "momentum": 0.0, "dampening": 0.0,
                                "nesterov": False, "weight_decay": 0.0}
    assert cfg["schedule"] == {"name": "constant", "warmup_steps": 0}
    assert cfg["regularization"] == {"l1": 0.0, "l2": 0.0, "l1_method": "proximal"}
    assert cfg["grad_clip"] == {"mode": "none", "max_norm": 1.0, "norm_type": 2.0,
                                "clip_value": 1.0}
    assert cfg["early_stopping"] is None
    assert cfg["augment"] == {"jitter_std": 0.0, "rotate_deg": 0.0, "flip_x": False,
                              "flip_y": False}


def test_create_without_body_is_the_default_run(client: TestClient) -> None:
    a = client.post("/api/runs")
    b = client.post("/api/runs", json={})
    assert a.status_code == b.status_code == 201
    assert a.json()["config"] == b.json()["config"]


@pytest.mark.parametrize(
    ("config", "task", "n_layers"),
    [
        ({"dataset": {"name": "spiral", "n": 300, "params": {"classes": 4}},
          "model": {"hidden": [16, 16], "activation": "relu", "init": "kaiming_uniform"},
          "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32}, "multiclass", 3),
        ({"dataset": {"name": "sine"}, "model": {"hidden": [16]},
          "optimizer": {"name": "rmsprop", "lr": 0.01}}, "regression", 2),
        ({"dataset": {"name": "sparse_linear", "params": {"n_features": 12}},
          "model": {"hidden": []}, "regularization": {"l1": 0.01}}, "regression", 1),
        ({"model": {"hidden": [8, 8], "batch_norm": True}}, "binary", 3),
        ({"model": {"hidden": [8, 8], "dropout": 0.3}}, "binary", 3),
        ({"model": {"hidden": [8, 8, 8], "residual": True}}, "binary", 4),
        ({"schedule": {"name": "cosine_annealing", "T_max": 50}}, "binary", 3),
        ({"schedule": {"name": "step", "step_size": 5, "gamma": 0.5, "warmup_steps": 3}},
         "binary", 3),
    ],
)
def test_create_custom_configs_train(
    client: TestClient, config: dict[str, Any], task: str, n_layers: int
) -> None:
    r = client.post("/api/runs", json=config)
    assert r.status_code == 201, r.text
    run_id, cfg = r.json()["id"], r.json()["config"]
    for section, values in config.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if key != "params":
                    assert cfg[section][key] == value, (section, key)
        else:
            assert cfg[section] == values
    body = step(client, run_id, 5)
    assert body["step"] == 5 and len(body["records"]) == 5
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["task"] == task
    assert len(detail["layers"]) == n_layers
    assert all(len(rec["grad_norm"]) == n_layers for rec in body["records"])


def test_schedule_lr_follows_the_schedule(client: TestClient) -> None:
    run_id = create(client, {"optimizer": {"lr": 0.1},
                             "schedule": {"name": "step", "step_size": 2, "gamma": 0.5}})
    lrs = [rec["lr"] for rec in step(client, run_id, 6)["records"]]
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_run_ids_are_unguessable_and_distinct(client: TestClient) -> None:
    ids = [create(client) for _ in range(20)]
    assert len(set(ids)) == len(ids)
    for run_id in ids:
        assert ID_RE.match(run_id)
        # base64url carries 6 bits per character: >= 22 characters is >= 128 bits
        assert len(run_id) * 6 >= 128


def test_list_runs(client: TestClient) -> None:
    assert client.get("/api/runs").status_code == 401  # no owner token yet
    a, b = create(client), create(client)
    step(client, b, 3)
    listed = {s["id"]: s for s in client.get("/api/runs").json()}
    assert set(listed) == {a, b}
    assert listed[a]["status"] == "ready" and listed[a]["step"] == 0
    assert listed[b]["status"] == "paused" and listed[b]["step"] == 3
    assert set(listed[a]) == {"id", "status", "step", "epoch", "created"}


def events_of(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/runs/{run_id}/events")
    assert r.status_code == 200
    return list(r.json()["events"])


def test_get_run_fields(client: TestClient) -> None:
    run_id = create(client)
    fresh = client.get(f"/api/runs/{run_id}").json()
    assert fresh["metrics"] is None and fresh["divergence"] is None and fresh["event_count"] == 0
    records = step(client, run_id, 25)["records"]
    detail = strict_loads(client.get(f"/api/runs/{run_id}").text)
    assert {"id", "status", "step", "epoch", "config", "metrics", "divergence", "layers", "task",
            "speed", "event_count", "event_bytes", "created"} <= set(detail)
    assert "events" not in detail  # the log is at GET .../events
    assert detail["id"] == run_id and detail["status"] == "paused"
    assert detail["step"] == 25
    assert detail["epoch"] == 1  # 160 training points / batch 10 = 16 steps per epoch
    assert detail["metrics"] == records[-1]
    assert detail["layers"] == ["hidden 1", "hidden 2", "output"]


# ---------------------------------------------------------------------------------- step
def test_step_records_have_every_field(client: TestClient) -> None:
    run_id = create(client)
    body = step(client, run_id, 3)
    assert body["status"] == "paused" and body["divergence"] is None
    assert [rec["step"] for rec in body["records"]] == [0, 1, 2]
    for rec in body["records"]:
        assert set(rec) == RECORD_FIELDS
        for name in LAYER_FIELDS:
            assert len(rec[name]) == 3
        assert math.isfinite(rec["loss"]) and rec["lr"] == 0.03
        assert 0.0 <= rec["train_acc"] <= 1.0


def test_step_default_is_one(client: TestClient) -> None:
    run_id = create(client)
    r = client.post(f"/api/runs/{run_id}/step")
    assert r.status_code == 200 and r.json()["step"] == 1 and len(r.json()["records"]) == 1


@pytest.mark.parametrize("steps", [0, -1, 10001, "5", 5.5, True, None])
def test_step_invalid_count_is_422_naming_steps(client: TestClient, steps: Any) -> None:
    run_id = create(client)
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": steps})
    assert r.status_code == 422
    assert ["body", "steps"] in locs(r)
    assert client.get(f"/api/runs/{run_id}").json()["step"] == 0


def test_step_max_is_accepted(client: TestClient) -> None:
    run_id = create(client, {"dataset": {"n": 20}, "model": {"hidden": []}})
    body = step(client, run_id, 10000)
    assert body["step"] == 10000 and len(body["records"]) == 10000


# ---------------------------------------------------------------------------------- patch
@pytest.mark.parametrize(
    ("patch", "check"),
    [
        ({"optimizer": {"lr": 0.5}},
         lambda cfg, rec: cfg["optimizer"]["lr"] == 0.5 and rec["lr"] == 0.5),
        ({"optimizer": {"name": "adam", "lr": 0.002}},
         lambda cfg, rec: cfg["optimizer"]["name"] == "adam" and cfg["optimizer"]["betas"]
         == [0.9, 0.999] and rec["lr"] == 0.002),
        ({"schedule": {"name": "exponential", "gamma": 0.5}},
         lambda cfg, rec: cfg["schedule"]["name"] == "exponential"
         and rec["lr"] == pytest.approx(0.03 * 0.5 ** rec["step"])),
        ({"regularization": {"l2": 0.1}},
         lambda cfg, rec: cfg["regularization"]["l2"] == 0.1 and rec["reg_loss"] > 0.0
         and rec["loss"] == pytest.approx(rec["data_loss"] + rec["reg_loss"])),
        ({"batch_size": 40}, lambda cfg, rec: cfg["batch_size"] == 40),
        ({"dropout": 0.5}, lambda cfg, rec: cfg["model"]["dropout"] == 0.5),
        ({"grad_clip": {"mode": "norm", "max_norm": 0.01}},
         lambda cfg, rec: cfg["grad_clip"]["mode"] == "norm"
         and rec["grad_norm_total"] is not None
         and math.sqrt(sum(g * g for g in rec["grad_norm"])) <= 0.01 * (1 + 1e-6)),
        ({"eval_every": 3}, lambda cfg, rec: cfg["eval_every"] == 3),
    ],
)
def test_patch_applies_from_next_step_and_is_logged(
    client: TestClient, patch: dict[str, Any], check: Callable[[dict, dict], bool]
) -> None:
    run_id = create(client)
    step(client, run_id, 4)
    r = client.patch(f"/api/runs/{run_id}", json=patch)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert "events" not in detail and detail["event_count"] == 1
    assert events_of(client, run_id) == [{"step": 4, "patch": patch}]
    rec = step(client, run_id, 1)["records"][0]
    assert rec["step"] == 4
    assert check(detail["config"], rec)
    got = client.get(f"/api/runs/{run_id}").json()
    assert got["event_count"] == 1
    assert got["config"] == detail["config"]


def test_patch_lr_changes_only_later_records(client: TestClient) -> None:
    run_id = create(client)
    before = step(client, run_id, 3)["records"]
    client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.25}})
    after = step(client, run_id, 3)["records"]
    assert [r["lr"] for r in before] == [0.03] * 3
    assert [r["lr"] for r in after] == [0.25] * 3


def test_batch_size_patch_changes_epoch_length(client: TestClient) -> None:
    run_id = create(client)  # 160 training points
    client.patch(f"/api/runs/{run_id}", json={"batch_size": 80})
    records = step(client, run_id, 3)["records"]
    assert [r["epoch"] for r in records] == [0, 0, 1]


@pytest.mark.parametrize("field", ["dataset", "model", "seed", "loss"])
def test_patch_rebuild_fields_are_409(client: TestClient, field: str) -> None:
    value = {"dataset": {"name": "xor"}, "model": {"hidden": [4]}, "seed": 3, "loss": "mse"}
    run_id = create(client)
    before = client.get(f"/api/runs/{run_id}").json()
    r = client.patch(f"/api/runs/{run_id}", json={field: value[field]})
    assert r.status_code == 409
    item = r.json()["detail"][0]
    assert item["loc"] == ["body", field] and item["type"] == "rebuild_required"
    assert "reset" in item["msg"] and "create a new" in item["msg"]
    after = client.get(f"/api/runs/{run_id}").json()
    assert after["config"] == before["config"] and events_of(client, run_id) == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b'{"optimizer": {"lr": -1}}', ["body", "optimizer", "lr"]),
        (b'{"optimizer": {"momentum_typo": 0.9}}', ["body", "optimizer", "momentum_typo"]),
        (b'{"optimizer": {"lr": NaN}}', ["body", "optimizer", "lr"]),
        (b'{"optimizer": {"lr": Infinity}}', ["body", "optimizer", "lr"]),
        (b'{"optimizer": {"name": "nope"}}', ["body", "optimizer", "name"]),
        (b'{"regularization": {"l2": NaN}}', ["body", "regularization", "l2"]),
        (b'{"batch_size": 0}', ["body", "batch_size"]),
        (b'{"dropout": 1.5}', ["body", "dropout"]),
        (b'{"schedule": {"name": "step", "gamma": -2}}', ["body", "schedule", "gamma"]),
        (b'{"colour": "red"}', ["body", "colour"]),
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(
    client: TestClient, body: bytes, loc: list[Any]
) -> None:
    run_id = create(client)
    step(client, run_id, 2)
    before = client.get(f"/api/runs/{run_id}").json()
    r = client.patch(f"/api/runs/{run_id}", content=body,
                     headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    strict_loads(r.text)  # NaN echoed back in "input" must be null
    assert loc in locs(r)
    after = client.get(f"/api/runs/{run_id}").json()
    assert after["config"] == before["config"]
    assert events_of(client, run_id) == []
    assert step(client, run_id, 1)["records"][0]["lr"] == 0.03


def test_lr_zero_is_treated_alike_by_create_and_patch(client: TestClient) -> None:
    created = client.post("/api/runs", json={"optimizer": {"lr": 0}})
    run_id = create(client)
    patched = client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0}})
    # lr = 0 is valid in torch (a frozen run) and accepted by both
    assert created.status_code == 201 and patched.status_code == 200


# ---------------------------------------------------------------------------------- reset
def test_reset_keeps_seed_or_takes_a_new_one(client: TestClient) -> None:
    run_id = create(client, {"seed": 3})
    first = step(client, run_id, 5)["records"]
    r = client.post(f"/api/runs/{run_id}/reset")
    assert r.status_code == 200
    assert r.json()["step"] == 0 and r.json()["status"] == "ready"
    assert r.json()["config"]["seed"] == 3 and r.json()["metrics"] is None
    assert step(client, run_id, 5)["records"] == first  # deterministic
    r = client.post(f"/api/runs/{run_id}/reset", json={"seed": 4})
    assert r.status_code == 200 and r.json()["step"] == 0 and r.json()["config"]["seed"] == 4
    assert step(client, run_id, 5)["records"] != first
    assert client.get(f"/api/runs/{run_id}/history").json()["step"] == [0, 1, 2, 3, 4]


def test_reset_invalid_seed_is_422(client: TestClient) -> None:
    run_id = create(client)
    r = client.post(f"/api/runs/{run_id}/reset", json={"seed": -1})
    assert r.status_code == 422 and ["body", "seed"] in locs(r)


# ---------------------------------------------------------------------------------- history
def test_history_is_columnar(client: TestClient) -> None:
    run_id = create(client)
    records = step(client, run_id, 12)["records"]
    h = strict_loads(client.get(f"/api/runs/{run_id}/history").text)
    assert set(h) == {"layers", *ALL_FIELDS}
    assert h["step"] == list(range(12))
    assert h["loss"] == [r["loss"] for r in records]
    assert h["grad_norm"] == [r["grad_norm"] for r in records]
    assert h["dead_fraction"] == [r["dead_fraction"] for r in records]  # null, not NaN


def test_history_fields_and_every(client: TestClient) -> None:
    run_id = create(client)
    step(client, run_id, 20)
    h = client.get(f"/api/runs/{run_id}/history", params={"fields": "loss,grad_norm",
                                                         "every": 3}).json()
    assert set(h) == {"layers", "step", "loss", "grad_norm"}
    assert h["step"] == [0, 3, 6, 9, 12, 15, 18, 19]  # last row always included
    assert len(h["loss"]) == len(h["grad_norm"]) == 8
    h = client.get(f"/api/runs/{run_id}/history", params={"fields": "lr", "since": 15}).json()
    assert h["step"] == [15, 16, 17, 18, 19]


@pytest.mark.parametrize("params", [{"fields": "loss,nope"}, {"every": 0}, {"since": -1}])
def test_history_bad_query_is_422(client: TestClient, params: dict[str, Any]) -> None:
    run_id = create(client)
    r = client.get(f"/api/runs/{run_id}/history", params=params)
    assert r.status_code == 422
    assert any(loc[-1] == next(iter(params)) for loc in locs(r))


def test_history_unknown_field_is_reported_in_query(client: TestClient) -> None:
    run_id = create(client)
    r = client.get(f"/api/runs/{run_id}/history", params={"fields": "nope"})
    assert locs(r) == [["query", "fields"]]


def test_history_decimation_bound(make_client: Callable[..., TestClient]) -> None:
    client = make_client(history_max_points=50)
    run_id = create(client, {"dataset": {"n": 40}, "model": {"hidden": [4]}})
    step(client, run_id, 200)
    h = client.get(f"/api/runs/{run_id}/history").json()
    assert 25 <= len(h["step"]) <= 50
    assert h["step"][0] == 0 and h["step"][-1] == 199
    assert h["step"] == sorted(set(h["step"]))
    assert all(len(h[f]) == len(h["step"]) for f in ALL_FIELDS)
    h = client.get(f"/api/runs/{run_id}/history", params={"every": 2}).json()
    assert len(h["step"]) <= 50 and h["step"][-1] == 199


# ---------------------------------------------------------------------------------- snapshot
def test_snapshot_binary_surface(client: TestClient) -> None:
    run_id = create(client)
    step(client, run_id, 3)
    s = strict_loads(client.get(f"/api/runs/{run_id}/snapshot", params={"grid": 20}).text)
    assert s["task"] == "binary" and s["step"] == 3
    prob = np.asarray(s["surface"]["prob"])
    assert prob.shape == (20, 20) and ((prob >= 0) & (prob <= 1)).all()
    assert len(s["surface"]["x"]) == len(s["surface"]["y"]) == 20
    assert [layer["shape"] for layer in s["layers"]] == [[2, 8], [8, 8], [8, 1]]
    for layer in s["layers"]:
        assert {"weights", "biases", "grads", "activations"} <= set(layer)
        assert layer["weights"]["count"] == math.prod(layer["shape"])
        assert sum(layer["weights"]["counts"]) == layer["weights"]["count"]


def test_snapshot_multiclass_surface(client: TestClient) -> None:
    run_id = create(client, {"dataset": {"name": "spiral", "params": {"classes": 3}}})
    s = client.get(f"/api/runs/{run_id}/snapshot", params={"grid": 10, "bins": 5}).json()
    probs = np.asarray(s["surface"]["probs"])
    assert probs.shape == (3, 10, 10)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0)
    argmax = np.asarray(s["surface"]["argmax"])
    assert argmax.shape == (10, 10) and (argmax == probs.argmax(axis=0)).all()
    assert len(s["layers"][0]["weights"]["counts"]) == 5


def test_snapshot_sine_curve(client: TestClient) -> None:
    run_id = create(client, {"dataset": {"name": "sine"}})
    s = client.get(f"/api/runs/{run_id}/snapshot").json()
    assert s["task"] == "regression" and "surface" not in s
    assert len(s["curve"]["x"]) == len(s["curve"]["y"]) > 10
    assert s["curve"]["x"] == sorted(s["curve"]["x"])


def test_snapshot_sparse_linear_coefficients(client: TestClient) -> None:
    run_id = create(client, {"dataset": {"name": "sparse_linear",
                                         "params": {"n_features": 10, "n_informative": 2}},
                             "model": {"hidden": []}})
    s = client.get(f"/api/runs/{run_id}/snapshot").json()
    coef = s["coefficients"]
    assert len(coef["learned"]) == len(coef["true"]) == 10
    assert sum(1 for c in coef["true"] if c != 0) == 2


@pytest.mark.parametrize("params", [{"bins": 1}, {"grid": 201}])
def test_snapshot_bad_query_is_422(client: TestClient, params: dict[str, int]) -> None:
    run_id = create(client)
    r = client.get(f"/api/runs/{run_id}/snapshot", params=params)
    assert r.status_code == 422 and ["query", *params] in locs(r)


# ---------------------------------------------------------------------------------- data
def test_data_shapes_and_zscore(client: TestClient) -> None:
    run_id = create(client, {"dataset": {"name": "sparse_linear", "n": 100,
                                         "params": {"n_features": 6}, "normalize": "zscore"},
                             "model": {"hidden": []}})
    d = client.get(f"/api/runs/{run_id}/data").json()
    xt, yt = np.asarray(d["train"]["x"]), np.asarray(d["train"]["y"])
    xv, yv = np.asarray(d["val"]["x"]), np.asarray(d["val"]["y"])
    assert xt.shape == (80, 6) and yt.shape == (80, 1)
    assert xv.shape == (20, 6) and yv.shape == (20, 1)
    np.testing.assert_allclose(xt.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(xt.std(axis=0), 1.0, rtol=1e-9)
    assert d["normalizer"]["method"] == "zscore"
    assert d["task"] == "regression" and d["input_dim"] == 6
    assert len(d["truth"]["coef"]) == 6


def test_data_unnormalised_binary(client: TestClient) -> None:
    run_id = create(client)
    d = client.get(f"/api/runs/{run_id}/data").json()
    assert np.asarray(d["train"]["x"]).shape == (160, 2)
    assert set(np.ravel(d["train"]["y"]).tolist()) == {0.0, 1.0}
    assert d["n_classes"] in (1, 2) and d["input_dim"] == 2


# ---------------------------------------------------------------------------------- weights
def test_weights_roundtrip_is_exact(client: TestClient) -> None:
    run_id = create(client, {"model": {"hidden": [5], "batch_norm": True}})
    step(client, run_id, 7)
    r = client.get(f"/api/runs/{run_id}/weights")
    w = r.json()
    assert [sorted(layer) for layer in w["layers"]] == [
        ["W", "b", "beta", "gamma", "running_mean", "running_var"], ["W", "b"]]
    put = client.put(f"/api/runs/{run_id}/weights", content=r.content,
                     headers={"content-type": "application/json"})
    assert put.status_code == 200 and put.json() == w
    assert client.get(f"/api/runs/{run_id}/weights").content == r.content
    # change one weight to a value with no short decimal form: must come back bit for bit
    w2 = copy.deepcopy(w)
    w2["layers"][1]["W"][3][0] = 0.1 + 0.2
    assert client.put(f"/api/runs/{run_id}/weights", json=w2).status_code == 200
    got = client.get(f"/api/runs/{run_id}/weights").json()
    assert got["layers"][1]["W"][3][0] == 0.30000000000000004
    assert got == w2
    events = events_of(client, run_id)
    assert [sorted(e) for e in events] == [["step", "weights"], ["step", "weights"]]
    assert events[-1]["step"] == 7


def test_weights_shape_mismatch_is_422(client: TestClient) -> None:
    run_id = create(client)
    w = client.get(f"/api/runs/{run_id}/weights").json()
    bad = copy.deepcopy(w)
    bad["layers"][1]["W"] = [[1.0, 2.0]]
    r = client.put(f"/api/runs/{run_id}/weights", json=bad)
    assert r.status_code == 422 and locs(r) == [["body", "layers", 1, "W"]]
    assert client.get(f"/api/runs/{run_id}/weights").json() == w
    assert events_of(client, run_id) == []


@pytest.mark.parametrize("where", ["top", "layer"])
def test_weights_extra_key_is_422(client: TestClient, where: str) -> None:
    run_id = create(client)
    w = client.get(f"/api/runs/{run_id}/weights").json()
    bad = copy.deepcopy(w)
    if where == "top":
        bad["extra"] = 1
    else:
        bad["layers"][0]["extra"] = [1.0]
    r = client.put(f"/api/runs/{run_id}/weights", json=bad)
    assert r.status_code == 422
    assert locs(r) == ([["body", "extra"]] if where == "top" else [["body", "layers", 0]])
    assert client.get(f"/api/runs/{run_id}/weights").json() == w


def test_weights_wrong_layer_count_and_nan_are_422(client: TestClient) -> None:
    run_id = create(client)
    w = client.get(f"/api/runs/{run_id}/weights").json()
    r = client.put(f"/api/runs/{run_id}/weights", json={"layers": w["layers"][:2]})
    assert r.status_code == 422
    text = json.dumps(w).replace(str(w["layers"][0]["W"][0][0]), "NaN", 1)
    r = client.put(f"/api/runs/{run_id}/weights", content=text,
                   headers={"content-type": "application/json"})
    assert r.status_code == 422
    strict_loads(r.text)
    assert client.get(f"/api/runs/{run_id}/weights").json() == w


# ---------------------------------------------------------------------------------- export/import
def test_export_import_reproduces_history_bit_for_bit(client: TestClient) -> None:
    run_id = create(client, {"seed": 11, "model": {"hidden": [6, 6], "dropout": 0.2},
                             "dataset": {"name": "moons"}})
    step(client, run_id, 10)
    client.patch(f"/api/runs/{run_id}", json={"optimizer": {"name": "adam", "lr": 0.01}})
    step(client, run_id, 7)
    w = client.get(f"/api/runs/{run_id}/weights").json()
    w["layers"][0]["W"][0][0] = 0.123456789012345678
    assert client.put(f"/api/runs/{run_id}/weights", json=w).status_code == 200
    step(client, run_id, 5)
    client.patch(f"/api/runs/{run_id}", json={"schedule": {"name": "exponential",
                                                          "gamma": 0.9}, "batch_size": 7})
    step(client, run_id, 8)
    exported = client.get(f"/api/runs/{run_id}/export")
    assert exported.status_code == 200
    e = strict_loads(exported.text)
    assert e["format"] == "gradplay-run" and e["version"] == 1 and e["step"] == 30
    assert [sorted(ev) for ev in e["events"]] == [
        ["patch", "step"], ["step", "weights"], ["patch", "step"]]
    assert e["config"]["optimizer"]["name"] == "sgd"  # the initial config, not the patched one
    r = client.post("/api/runs/import", json=e)
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is True and r.json()["step"] == 30
    new_id = r.json()["id"]
    assert new_id != run_id
    a = client.get(f"/api/runs/{run_id}/history").text
    b = client.get(f"/api/runs/{new_id}/history").text
    assert a == b
    assert client.get(f"/api/runs/{new_id}/weights").text == \
        client.get(f"/api/runs/{run_id}/weights").text
    # both continue identically
    assert step(client, run_id, 3)["records"] == step(client, new_id, 3)["records"]


def test_import_without_history_replays(client: TestClient) -> None:
    run_id = create(client)
    step(client, run_id, 6)
    e = client.get(f"/api/runs/{run_id}/export").json()
    del e["history"], e["history_sha256"]
    r = client.post("/api/runs/import", json=e)
    assert r.status_code == 201 and r.json()["verified"] is False and r.json()["step"] == 6


@pytest.mark.parametrize("tamper", ["value", "length", "unknown"])
def test_import_tampered_history_is_422(client: TestClient, tamper: str) -> None:
    run_id = create(client)
    step(client, run_id, 8)
    e = client.get(f"/api/runs/{run_id}/export").json()
    if tamper == "value":
        e["history"]["loss"][5] = math.nextafter(e["history"]["loss"][5], 1.0)
        field = "loss"
    elif tamper == "length":
        e["history"]["grad_norm"].pop()
        field = "grad_norm"
    else:
        e["history"]["bogus"] = [1.0]
        field = "bogus"
    n_runs = run_count(client)
    r = client.post("/api/runs/import", json=e)
    assert r.status_code == 422
    assert locs(r) == [["body", "history", field]]
    assert run_count(client) == n_runs  # nothing created


@pytest.mark.parametrize(
    ("mutate", "loc_prefix"),
    [
        (lambda e: e.update(step=-1), ["body", "step"]),
        (lambda e: e.update(format="other"), ["body", "format"]),
        (lambda e: e["config"].update(batch_size=0), ["body", "config", "batch_size"]),
        (lambda e: e.update(events=[{"step": 1}]), ["body", "events", 0]),
        (lambda e: e.update(step=200001), ["body", "step"]),
    ],
)
def test_import_invalid_is_422(
    client: TestClient, mutate: Callable[[dict], None], loc_prefix: list[Any]
) -> None:
    run_id = create(client)
    e = client.get(f"/api/runs/{run_id}/export").json()
    del e["history"]
    mutate(e)
    r = client.post("/api/runs/import", json=e)
    assert r.status_code == 422, r.text
    assert any(loc[: len(loc_prefix)] == loc_prefix for loc in locs(r)), locs(r)


def test_export_csv(client: TestClient) -> None:
    run_id = create(client, {"model": {"hidden": [4]}})
    records = step(client, run_id, 9)["records"]
    r = client.get(f"/api/runs/{run_id}/export", params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    header = rows[0]
    assert header[: len(SCALAR_FIELDS)] == list(SCALAR_FIELDS)
    assert header[len(SCALAR_FIELDS):] == [f"{f}[{k}]" for f in LAYER_FIELDS for k in range(2)]
    assert len(rows) == 1 + 9
    assert all(len(row) == len(header) for row in rows)
    assert float(rows[5][header.index("loss")]) == records[4]["loss"]
    assert rows[1][header.index("grad_norm_total")] == ""  # null -> empty cell


def test_export_bad_format_is_422(client: TestClient) -> None:
    run_id = create(client)
    r = client.get(f"/api/runs/{run_id}/export", params={"format": "xml"})
    assert r.status_code == 422 and ["query", "format"] in locs(r)


# ---------------------------------------------------------------------------------- delete / 404
def test_delete(client: TestClient) -> None:
    run_id = create(client)
    r = client.delete(f"/api/runs/{run_id}")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/api/runs/{run_id}").status_code == 404
    assert client.delete(f"/api/runs/{run_id}").status_code == 404
    assert run_count(client) == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"optimizer": {"lr": 0.1}}),
        ("DELETE", "", None),
        ("POST", "/step", {"steps": 1}),
        ("POST", "/reset", None),
        ("GET", "/history", None),
        ("GET", "/snapshot", None),
        ("GET", "/data", None),
        ("GET", "/weights", None),
        ("PUT", "/weights", {"layers": []}),
        ("GET", "/export", None),
        ("GET", "/figures/loss", None),
    ],
)
def test_unknown_id_is_404(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    create(client)
    r = client.request(method, f"/api/runs/no-such-run{path}", json=body)
    assert r.status_code == 404
    assert "no-such-run" in r.json()["detail"]


# ---------------------------------------------------------------------------------- figures
@pytest.mark.parametrize(
    ("name", "dataset"),
    [(name, "circle") for name in FIGURES]
    + [(name, ds) for name in ("boundary", "weights_hist")
       for ds in ("spiral", "sine", "sparse_linear")],
)
def test_figures_load_in_plotly(client: TestClient, name: str, dataset: str) -> None:
    config: dict[str, Any] = {"dataset": {"name": dataset, "n": 60}}
    if dataset == "sparse_linear":
        config["model"] = {"hidden": []}
    run_id = create(client, config)
    step(client, run_id, 6)
    r = client.get(f"/api/runs/{run_id}/figures/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    strict_loads(r.text)
    fig = pio.from_json(r.text)
    assert len(fig.data) >= 1


def test_figures_of_a_fresh_run(client: TestClient) -> None:
    run_id = create(client)
    for name in FIGURES:
        r = client.get(f"/api/runs/{run_id}/figures/{name}")
        assert r.status_code == 200, name
        pio.from_json(r.text)


def test_unknown_figure_is_404(client: TestClient) -> None:
    run_id = create(client)
    r = client.get(f"/api/runs/{run_id}/figures/nope")
    assert r.status_code == 404 and "loss" in r.json()["detail"]


# ---------------------------------------------------------------------------------- divergence
def test_divergence(client: TestClient) -> None:
    run_id = create(client, DIVERGING)
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 200})
    assert r.status_code == 200
    body = strict_loads(r.text)
    assert body["status"] == "diverged"
    assert len(body["records"]) < 200
    assert body["records"][-1]["step"] == body["step"] - 1
    div = body["divergence"]
    assert set(div) == {"step", "layer", "layer_name", "reason"}
    assert div["step"] == body["records"][-1]["step"]
    assert div["layer_name"] == "output" and div["layer"] == 0
    detail = strict_loads(client.get(f"/api/runs/{run_id}").text)
    assert detail["status"] == "diverged" and detail["divergence"] == div
    for path in ("/history", "/snapshot", "/weights", "/export", "/figures/loss",
                 "/figures/grad_heatmap", "/figures/weights_hist", "/figures/boundary"):
        resp = client.get(f"/api/runs/{run_id}{path}")
        assert resp.status_code == 200, path
        strict_loads(resp.text)
    again = client.post(f"/api/runs/{run_id}/step", json={"steps": 1})
    assert again.status_code == 409 and "reset" in again.json()["detail"]
    r = client.post(f"/api/runs/{run_id}/reset")
    assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["divergence"] is None
    assert step(client, run_id, 3)["step"] == 3


def test_diverged_run_replays_without_history(client: TestClient) -> None:
    run_id = create(client, DIVERGING)
    body = step(client, run_id, 200)
    e = strict_loads(client.get(f"/api/runs/{run_id}/export").text)
    del e["history"]
    r = client.post("/api/runs/import", json=e)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "diverged" and r.json()["step"] == body["step"]
    new_id = r.json()["id"]
    assert client.get(f"/api/runs/{new_id}").json()["divergence"] == body["divergence"]
    assert client.get(f"/api/runs/{new_id}/history").text == \
        client.get(f"/api/runs/{run_id}/history").text


def test_diverged_run_export_imports_with_history(client: TestClient) -> None:
    run_id = create(client, DIVERGING)
    step(client, run_id, 200)
    e = strict_loads(client.get(f"/api/runs/{run_id}/export").text)
    r = client.post("/api/runs/import", json=e)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "diverged" and r.json()["verified"] is True


# ---------------------------------------------------------------------------------- limits
@pytest.mark.parametrize(
    ("config", "loc"),
    [
        ({"model": {"hidden": [2] * 65}}, ["body", "model", "hidden"]),
        ({"model": {"hidden": [4, 513]}}, ["body", "model", "hidden", 1]),
        ({"dataset": {"n": 20001}}, ["body", "dataset", "n"]),
        ({"dataset": {"n": 0}}, ["body", "dataset", "n"]),
        ({"optimizer": {"lr": -1}}, ["body", "optimizer", "lr"]),
        ({"optimizer": {"name": "nope"}}, ["body", "optimizer", "name"]),
        ({"model": {"activation": "nope"}}, ["body", "model", "activation"]),
        ({"batch_size": "10"}, ["body", "batch_size"]),
        ({"unknown": 1}, ["body", "unknown"]),
        ({"dataset": {"name": "sparse_linear",
                      "params": {"n_features": 3, "n_informative": 5}}},
         ["body", "dataset", "params", "n_informative"]),
    ],
)
def test_create_invalid_is_422(
    client: TestClient, config: dict[str, Any], loc: list[Any]
) -> None:
    r = client.post("/api/runs", json=config)
    assert r.status_code == 422, r.text
    assert loc in locs(r), locs(r)
    assert run_count(client) == 0


def test_limits_follow_settings(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_hidden_layers=2, max_units=16, max_samples=100)
    assert client.post("/api/runs", json={"model": {"hidden": [16, 16]},
                                          "dataset": {"n": 100}}).status_code == 201
    small = {"n": 50}
    assert locs(client.post("/api/runs", json={"model": {"hidden": [4] * 3},
                                               "dataset": small})) == [["body", "model", "hidden"]]
    assert locs(client.post("/api/runs", json={"model": {"hidden": [17]},
                                               "dataset": small})) == [
        ["body", "model", "hidden", 0]]
    assert locs(client.post("/api/runs", json={"dataset": {"n": 101}})) == [
        ["body", "dataset", "n"]]


def test_step_limit_follows_settings(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_steps_per_request=50)
    run_id = create(client)
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 51})
    assert r.status_code == 422 and locs(r) == [["body", "steps"]]
    assert step(client, run_id, 50)["step"] == 50


def test_runs_cap_evicts_longest_idle(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_runs=3)
    a, b, c = create(client), create(client), create(client)
    assert client.get(f"/api/runs/{a}").status_code == 200  # a is now the most recently used
    d = create(client)  # evicts b
    assert client.get(f"/api/runs/{b}").status_code == 404
    e = create(client)  # evicts c (a was touched after c was created... but before d)
    ids = {s["id"] for s in client.get("/api/runs").json()}
    assert len(ids) == 3
    assert ids == {a, d, e}
    assert client.get(f"/api/runs/{c}").status_code == 404


def test_body_over_1mib_is_413(client: TestClient) -> None:
    body = b'{"seed": 1' + b" " * (1 << 20) + b"}"
    r = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert run_count(client) == 0
    run_id = create(client)
    w = b'{"layers": [' + b"0.0," * 300_000 + b"0.0]}"
    r = client.put(f"/api/runs/{run_id}/weights", content=w,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_body_just_under_the_limit_is_parsed(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=2000)
    ok = b'{"seed": 1' + b" " * 1000 + b"}"
    assert client.post("/api/runs", content=ok,
                       headers={"content-type": "application/json"}).status_code == 201
    big = b'{"seed": 1' + b" " * 2000 + b"}"
    assert client.post("/api/runs", content=big,
                       headers={"content-type": "application/json"}).status_code == 413
