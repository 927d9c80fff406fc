"""Divergence by overflowing weights: the update is rolled back to the last finite weights.

Every other diverging test config fails earlier, on a non-finite loss or gradient (the update is
skipped). Here loss and gradient stay finite and only the update overflows: MAE has a bounded
gradient (sign(ŷ − y) / N), so with a huge output bias b the loss |b + …| is finite, while SGD
with weight_decay 1 and lr 10 computes b − 10·(b + g) = −9b − 10g, which overflows to −inf
once |9b| passes the float64 maximum (~1.8e308).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from core.errors import RunStateError
from core.trainer import Run

ROLLBACK_REASON = "weights are not finite after the update"


def _config(hidden: list[int]) -> dict[str, Any]:
    return {
        "seed": 3,
        "dataset": {"name": "plane", "n": 50},
        "model": {"hidden": hidden},
        "loss": "mae",
        "optimizer": {"name": "sgd", "lr": 10.0, "weight_decay": 1.0},
        "batch_size": 1,
    }


def _with_output_bias(run: Run, bias: float) -> None:
    layers = run.model.get_layers()
    layers[-1]["b"] = np.full_like(layers[-1]["b"], bias)
    run.set_weights(layers)


def _params(run: Run) -> list[dict[str, np.ndarray]]:
    return [
        {k: np.array(v, copy=True) for k, v in layer.items()} for layer in run.model.get_layers()
    ]


def _assert_same(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> None:
    assert len(a) == len(b)
    for la, lb in zip(a, b, strict=True):
        assert la.keys() == lb.keys()
        for key in la:
            np.testing.assert_array_equal(la[key], lb[key], err_msg=key)


def test_overflowing_update_is_rolled_back_at_once() -> None:
    # b = 1e308: the very first update overflows (−9e308 < −1.8e308).
    run = Run(_config([]))
    _with_output_bias(run, 1e308)
    before = _params(run)
    records = run.step(5)
    assert run.status == "diverged" and len(records) == 1 and run.step_count == 1
    assert run.divergence == {
        "step": 0,
        "layer": 0,
        "layer_name": "output",
        "reason": ROLLBACK_REASON,
    }
    # loss and gradient were finite: this is the weight check, not the gradient check
    assert math.isfinite(records[0]["loss"]) and records[0]["loss"] > 1e307
    after = _params(run)
    assert all(np.isfinite(v).all() for layer in after for v in layer.values())
    _assert_same(after, before)
    assert np.isfinite(run.model.theta).all()
    assert records[0]["update_ratio"] == [0.0]  # nothing moved
    with pytest.raises(RunStateError):
        run.step(1)


def test_rollback_restores_the_last_finite_weights_not_the_first() -> None:
    # b = 1e307: step 0 moves every weight (b -> ≈ −9e307, still finite); step 1 overflows and
    # must leave exactly the weights after step 0.
    run = Run(_config([]))
    _with_output_bias(run, 1e307)
    start = _params(run)
    first = run.step(1)
    assert run.status == "ready" and first[0]["update_ratio"][0] > 0
    after_step0 = _params(run)
    assert not np.array_equal(after_step0[0]["W"], start[0]["W"])
    assert -1e308 < after_step0[0]["b"][0] < -8e307
    records = run.step(5)
    assert run.status == "diverged" and [r["step"] for r in records] == [1]
    assert run.divergence is not None
    assert run.divergence["step"] == 1 and run.divergence["reason"] == ROLLBACK_REASON
    _assert_same(_params(run), after_step0)
    # the history keeps the diverged step with the (finite) rolled-back telemetry
    weight_norm = run.history.columns()["weight_norm"]
    assert len(weight_norm) == 2
    np.testing.assert_allclose(weight_norm[1][0], np.linalg.norm(after_step0[0]["W"]), rtol=1e-12)


def test_rollback_names_the_first_overflowing_layer() -> None:
    # One hidden layer: only the output bias overflows, so the reported layer is the output
    # (index 1), and the hidden layer's weights are rolled back as well.
    run = Run(_config([3]))
    _with_output_bias(run, 1e307)
    run.step(1)
    assert run.status == "ready"
    after_step0 = _params(run)
    run.step(3)
    assert run.status == "diverged"
    assert run.divergence == {
        "step": 1,
        "layer": 1,
        "layer_name": "output",
        "reason": ROLLBACK_REASON,
    }
    _assert_same(_params(run), after_step0)


def test_rollback_replays_identically() -> None:
    # The weights event is in the log: export -> replay reaches the same rolled-back state.
    run = Run(_config([]))
    _with_output_bias(run, 1e307)
    run.step(5)
    exported = run.export()
    twin = Run.replay(exported["config"], exported["events"], exported["step"])
    assert twin.status == "diverged" and twin.divergence == run.divergence
    _assert_same(_params(twin), _params(run))
