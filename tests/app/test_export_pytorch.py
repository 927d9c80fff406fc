"""``GET /api/runs/{id}/export?format=pytorch``: the generated script, run with torch in a
subprocess, prints the same losses as the run's history (1e-6 relative, every step)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytest.importorskip("torch")

STEPS = 40

CONFIGS: dict[str, dict[str, Any]] = {
    "sgd_momentum_step": {
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
        "schedule": {"name": "step", "step_size": 7, "gamma": 0.5},
    },
    "adam_l2": {
        "optimizer": {"name": "adam", "lr": 0.01},
        "regularization": {"l2": 0.01},
        "model": {"activation": "relu", "hidden": [5, 4]},
    },
    "adamw_cosine_clip": {
        "optimizer": {"name": "adamw", "lr": 0.02},
        "schedule": {"name": "cosine_annealing", "T_max": 25},
        "grad_clip": {"mode": "norm", "max_norm": 0.3},
    },
    "rmsprop_batch_norm": {
        "optimizer": {"name": "rmsprop", "lr": 0.01},
        "model": {"batch_norm": True, "hidden": [6, 6], "residual": True},
        "batch_size": 7,  # 160 training rows: a 6-row tail each epoch, reshuffles counted
    },
    "l1_proximal_multiclass": {
        "dataset": {"name": "spiral", "n": 150},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "regularization": {"l1": 0.01, "l1_method": "proximal"},
        "model": {"layer_norm": True, "activation": "gelu"},
    },
    "tf_schedule_nadam_clip_value": {
        "dataset": {"name": "circle", "n": 120},
        "optimizer": {"name": "nadam", "lr": 0.01},
        "schedule": {"name": "exponential_decay", "decay_steps": 5, "decay_rate": 0.9},
        "regularization": {"l1": 0.003, "l1_method": "subgradient"},
        "grad_clip": {"mode": "value", "clip_value": 0.05},
    },
}


def _create(client: TestClient, config: dict[str, Any]) -> str:
    r = client.post("/api/runs", json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _step(client: TestClient, run_id: str, n: int) -> None:
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": n})
    assert r.status_code == 200, r.text


def _script(client: TestClient, run_id: str) -> str:
    r = client.get(f"/api/runs/{run_id}/export", params={"format": "pytorch"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-python")
    return r.text


def _run_script(text: str, tmp_path: Path) -> list[tuple[int, float]]:
    path = tmp_path / "run.py"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, done.stderr
    rows = []
    for line in done.stdout.splitlines():
        word, t, name, value = line.split()
        assert (word, name) == ("step", "loss")
        rows.append((int(t), float(value)))
    return rows


def _history(client: TestClient, run_id: str) -> tuple[list[int], list[float]]:
    cols = client.get(f"/api/runs/{run_id}/export").json()["history"]
    return cols["step"], cols["loss"]


def _assert_same(client: TestClient, run_id: str, tmp_path: Path) -> None:
    rows = _run_script(_script(client, run_id), tmp_path)
    steps, losses = _history(client, run_id)
    assert [t for t, _ in rows] == steps
    for (t, got), want in zip(rows, losses, strict=True):
        assert got == pytest.approx(want, rel=1e-6, abs=0.0), f"step {t}"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_script_reproduces_losses(client: TestClient, tmp_path: Path, name: str) -> None:
    run_id = _create(client, CONFIGS[name])
    _step(client, run_id, STEPS)
    _assert_same(client, run_id, tmp_path)


def test_live_changes_and_weights_edit(client: TestClient, tmp_path: Path) -> None:
    """A live lr change via PATCH, an optimizer switch, batch size / L2 / clipping changes and
    a weights edit, each at the step it happened."""
    run_id = _create(client, {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.5}})
    _step(client, run_id, 9)
    assert client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.2}}).status_code == 200
    _step(client, run_id, 8)
    r = client.patch(
        f"/api/runs/{run_id}",
        json={
            "batch_size": 13,
            "regularization": {"l2": 0.02},
            "grad_clip": {"mode": "norm", "max_norm": 0.4},
        },
    )
    assert r.status_code == 200, r.text
    _step(client, run_id, 11)
    layers = client.get(f"/api/runs/{run_id}/weights").json()["layers"]
    layers[0]["W"][0][0] = 0.75
    assert client.put(f"/api/runs/{run_id}/weights", json={"layers": layers}).status_code == 200
    _step(client, run_id, 5)
    r = client.patch(f"/api/runs/{run_id}", json={"optimizer": {"name": "adam", "lr": 0.01}})
    assert r.status_code == 200, r.text
    _step(client, run_id, 7)
    _assert_same(client, run_id, tmp_path)


def test_dropout_script_runs_and_says_so(client: TestClient, tmp_path: Path) -> None:
    run_id = _create(client, {"model": {"dropout": 0.3}})
    _step(client, run_id, 10)
    text = _script(client, run_id)
    assert "in distribution only" in text
    rows = _run_script(text, tmp_path)
    assert [t for t, _ in rows] == list(range(10))


def test_script_uses_only_torch_and_numpy(client: TestClient) -> None:
    run_id = _create(client, CONFIGS["adam_l2"])
    _step(client, run_id, 3)
    tree = ast.parse(_script(client, run_id))
    roots = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    roots |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert roots == {"numpy", "torch"}


def test_diverged_run_is_a_422_naming_the_field(client: TestClient) -> None:
    run_id = _create(
        client,
        {
            "dataset": {"name": "unscaled"},
            "model": {"hidden": []},
            "optimizer": {"name": "sgd", "lr": 10.0},
        },
    )
    client.post(f"/api/runs/{run_id}/step", json={"steps": 100})
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "diverged"
    r = client.get(f"/api/runs/{run_id}/export", params={"format": "pytorch"})
    assert r.status_code == 422
    assert "status" in r.json()["detail"][0]["loc"]


def test_unknown_format_is_a_422(client: TestClient) -> None:
    run_id = _create(client, {})
    r = client.get(f"/api/runs/{run_id}/export", params={"format": "keras"})
    assert r.status_code == 422
    assert "format" in r.json()["detail"][0]["loc"]


def test_other_clients_cannot_export(client: TestClient, make_client: Any) -> None:
    run_id = _create(client, {})
    other = make_client()
    r = other.get(f"/api/runs/{run_id}/export", params={"format": "pytorch"})
    assert r.status_code == 404
