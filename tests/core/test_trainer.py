"""Tests for core.trainer: config resolution, records, batching, determinism, live patches,
divergence, snapshots, L1 sparsity and reduce-on-plateau."""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConfigError, RebuildRequiredError, RunStateError
from core.history import LAYER_FIELDS, SCALAR_FIELDS
from core.optimizers import OPTIMIZERS
from core.trainer import DEFAULT_CONFIG, Limits, Run, histogram, resolve_config

SMALL = {"model": {"hidden": [4, 4]}, "dataset": {"n": 60}}


def _rows(x: np.ndarray) -> Counter:
    """Multiset of the rows of ``x`` (exact float64 bytes)."""
    return Counter(np.ascontiguousarray(row).tobytes() for row in np.atleast_2d(x))


def _record_batches(run: Run) -> list[np.ndarray]:
    """Wrap ``run.model.forward_train`` so every training batch is recorded (copied)."""
    seen: list[np.ndarray] = []
    original = run.model.forward_train

    def wrapper(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        seen.append(np.array(x, copy=True))
        return original(x, rng)

    run.model.forward_train = wrapper  # type: ignore[method-assign]
    return seen


def _diverging_config(activation: str) -> dict[str, Any]:
    return {
        "seed": 0,
        "dataset": {"name": "plane" if activation == "relu" else "sine"},
        "model": {"hidden": [16] * 6, "activation": activation, "init": "kaiming_normal"},
        "optimizer": {"name": "sgd", "lr": 10.0},
    }


# ------------------------------------------------------------------ config


def test_default_run_steps() -> None:
    run = Run({})
    assert run.status == "ready" and run.step_count == 0
    records = run.step(5)
    assert [r["step"] for r in records] == [0, 1, 2, 3, 4]
    assert run.step_count == 5
    assert all(math.isfinite(r["loss"]) for r in records)
    assert run.config == resolve_config({})


def test_resolve_fills_every_default_and_is_idempotent() -> None:
    cfg = resolve_config({})
    assert set(cfg) == set(DEFAULT_CONFIG)
    # test_fraction is left out of resolved configs while 0 (the playground compares configs)
    # ... and the dataset's catalog parameters are filled in like every component's
    assert cfg["dataset"] == {**{k: v for k, v in DEFAULT_CONFIG["dataset"].items()
                                 if k != "test_fraction"}, "params": {"label_noise": 0.0}}
    assert cfg["optimizer"]["name"] == "sgd" and cfg["optimizer"]["lr"] == 0.03
    assert cfg["optimizer"]["momentum"] == 0.0  # torch default filled in
    assert cfg["model"]["hidden"] == [8, 8]
    assert cfg["schedule"] == {"name": "constant", "warmup_steps": 0}
    assert cfg["grad_clip"]["mode"] == "none"
    assert resolve_config(cfg) == cfg
    json.dumps(cfg, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(
    opt=st.sampled_from(OPTIMIZERS.names()),
    lr=st.floats(1e-5, 10.0),
    sched=st.sampled_from([
        {"name": "constant"},
        {"name": "step", "step_size": 5, "gamma": 0.5},
        {"name": "cosine_annealing", "T_max": 50},
        {"name": "reduce_on_plateau", "patience": 2},
        {"name": "exponential", "gamma": 0.9, "warmup_steps": 3},
    ]),
    l1=st.floats(0.0, 1.0),
    bs=st.integers(1, 100),
    hidden=st.lists(st.integers(1, 16), max_size=4),
    clip=st.sampled_from([{"mode": "none"}, {"mode": "norm", "max_norm": 2.0},
                          {"mode": "value", "clip_value": 0.5}]),
)
def test_resolve_is_idempotent_for_varied_configs(
    opt: str, lr: float, sched: dict, l1: float, bs: int, hidden: list[int], clip: dict
) -> None:
    raw = {
        "optimizer": {"name": opt, "lr": lr},
        "schedule": dict(sched),
        "regularization": {"l1": l1},
        "batch_size": bs,
        "model": {"hidden": hidden},
        "grad_clip": dict(clip),
    }
    once = resolve_config(raw)
    assert resolve_config(copy.deepcopy(once)) == once
    assert once["optimizer"]["lr"] == lr and once["batch_size"] == bs


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"optimizer": {"name": "sgd", "lr": -1}}, "optimizer.lr"),
        ({"optimizer": {"name": "nope"}}, "optimizer.name"),
        ({"dataset": {"n": 0}}, "dataset.n"),
        ({"dataset": {"bogus": 1}}, "dataset.bogus"),
        ({"bogus": 1}, "bogus"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 0}, "batch_size"),
        ({"model": {"hidden": [4, 0]}}, "model.hidden[1]"),
        ({"model": {"dropout": 2.0}}, "model.dropout"),
        ({"loss": "nope"}, "loss"),
        ({"regularization": {"l1": -1.0}}, "regularization.l1"),
        ({"grad_clip": {"mode": "norm", "max_norm": -1.0}}, "grad_clip.max_norm"),
        ({"eval_every": 0}, "eval_every"),
    ],
)
def test_config_errors_name_the_field(raw: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Run(raw)
    assert info.value.field == field


def test_loss_that_does_not_fit_the_task() -> None:
    with pytest.raises(ConfigError) as info:
        Run({"loss": "cross_entropy"})  # circle is binary
    assert info.value.field == "loss"
    assert "bce_with_logits" in info.value.message
    Run({"loss": "cross_entropy", "dataset": {"name": "spiral"}})  # fits multiclass


def test_limits() -> None:
    limits = Limits(max_hidden_layers=2, max_units=5, max_samples=300)
    Run({"model": {"hidden": [5, 5]}}, limits)
    with pytest.raises(ConfigError) as info:
        Run({"model": {"hidden": [3, 3, 3]}}, limits)
    assert info.value.field == "model.hidden"
    with pytest.raises(ConfigError) as info:
        Run({"model": {"hidden": [6]}}, limits)
    assert info.value.field == "model.hidden[0]"
    with pytest.raises(ConfigError) as info:
        Run({"dataset": {"n": 301}, "model": {"hidden": [4]}}, limits)
    assert info.value.field == "dataset.n"
    run = Run({"dataset": {"n": 300}, "model": {"hidden": [4]}}, limits)
    with pytest.raises(ConfigError) as info:
        run.apply_patch({"batch_size": 301})
    assert info.value.field == "batch_size"


# ------------------------------------------------------------------ records


@pytest.mark.parametrize("hidden", [[], [3], [5, 4, 3]])
def test_record_fields(hidden: list[int]) -> None:
    run = Run({"model": {"hidden": hidden}, "dataset": {"n": 50}})
    records = run.step(12)
    assert [r["step"] for r in records] == list(range(12))
    for r in records:
        assert set(SCALAR_FIELDS) | set(LAYER_FIELDS) <= set(r)
        for f in LAYER_FIELDS:
            assert len(r[f]) == len(hidden) + 1, f
        assert r["train_acc"] is not None and 0.0 <= r["train_acc"] <= 1.0
        assert r["val_acc"] is not None and 0.0 <= r["val_acc"] <= 1.0
        assert r["loss"] == pytest.approx(r["data_loss"] + r["reg_loss"])
    more = run.step(3)
    assert [r["step"] for r in more] == [12, 13, 14]
    assert run.last_record is more[-1]
    assert len(run.history) == 15
    np.testing.assert_array_equal(run.history.columns(["step"])["step"], np.arange(15))


def test_records_are_strict_json() -> None:
    run = Run({"dataset": {"name": "spiral", "n": 90}, "model": {"hidden": [6, 6]},
               "regularization": {"l1": 1e-3, "l2": 1e-3},
               "grad_clip": {"mode": "norm", "max_norm": 1.0}})
    records = run.step(40)
    text = json.dumps(records, allow_nan=False)
    assert json.loads(text) == records
    assert all(r["grad_norm_total"] is not None and r["grad_norm_total"] >= 0 for r in records)
    assert all(r["reg_loss"] > 0 for r in records)


def test_lr_follows_the_schedule() -> None:
    run = Run({"optimizer": {"name": "sgd", "lr": 0.1},
               "schedule": {"name": "step", "step_size": 7, "gamma": 0.5}})
    records = run.step(30)
    expected = [run.schedule.lr_at(t) for t in range(30)]
    assert [r["lr"] for r in records] == expected
    assert records[0]["lr"] == 0.1 and records[7]["lr"] == 0.05 and records[29]["lr"] == 0.1 / 16


def test_lr_with_warmup() -> None:
    run = Run({"optimizer": {"name": "sgd", "lr": 0.2},
               "schedule": {"name": "constant", "warmup_steps": 4}})
    lrs = [r["lr"] for r in run.step(6)]
    assert lrs == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2, 0.2])


def test_regression_has_no_accuracy() -> None:
    run = Run({"dataset": {"name": "sine", "n": 50}})
    for r in run.step(10):
        assert r["train_acc"] is None and r["val_acc"] is None
        assert r["val_loss"] is not None


def test_saturation_and_dead_fraction_nulls() -> None:
    relu = Run({"model": {"hidden": [6, 6], "activation": "relu"}}).step(3)
    for r in relu:
        assert r["saturation"] == [None, None, None]
        assert r["dead_fraction"][-1] is None
        assert all(0.0 <= v <= 1.0 for v in r["dead_fraction"][:-1])
    tanh = Run({"model": {"hidden": [6, 6], "activation": "tanh"}}).step(3)
    for r in tanh:
        assert r["dead_fraction"] == [None, None, None]
        assert r["saturation"][-1] is None
        assert all(0.0 <= v <= 1.0 for v in r["saturation"][:-1])


def test_eval_every() -> None:
    run = Run({"eval_every": 3})
    records = run.step(9)
    assert [r["val_loss"] is not None for r in records] == [t % 3 == 0 for t in range(9)]
    no_val = Run({"dataset": {"val_fraction": 0.0}}).step(3)
    assert all(r["val_loss"] is None and r["val_acc"] is None for r in no_val)


def test_update_ratio_matches_weights() -> None:
    run = Run({"model": {"hidden": [3]}, "dataset": {"n": 40}})
    before = [d.W.copy() for d in run.model.dense_layers]
    (r,) = run.step(1)
    after = [d.W for d in run.model.dense_layers]
    for k, (b, a) in enumerate(zip(before, after, strict=True)):
        assert r["weight_norm"][k] == pytest.approx(np.linalg.norm(a), rel=1e-12)
        assert r["update_ratio"][k] == pytest.approx(
            np.linalg.norm(a - b) / np.linalg.norm(b), rel=1e-9)
        assert r["grad_norm"][k] == pytest.approx(
            np.linalg.norm(run.model.dense_layers[k].dW), rel=1e-12)


def test_update_ratio_from_zero_weights() -> None:
    # regression (fixed in 16b223d): ‖ΔW‖/0 used to be +inf in the record
    run = Run({"model": {"hidden": [], "init": "zeros"}})
    (r,) = run.step(1)
    assert r["weight_norm"][0] > 0  # the weights moved away from 0
    assert r["update_ratio"] == [None]
    json.dumps(r, allow_nan=False)


# ------------------------------------------------------------------ batches


def test_epoch_batches_use_each_example_once() -> None:
    run = Run({"dataset": {"n": 10, "val_fraction": 0.0}, "batch_size": 4})
    seen = _record_batches(run)
    records = run.step(9)
    assert [len(b) for b in seen] == [4, 4, 2] * 3
    assert [r["epoch"] for r in records] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    train = _rows(run.dataset.x_train)
    assert len(train) == 10  # distinct rows, so the multiset check is exact
    for e in range(3):
        epoch = np.concatenate(seen[3 * e : 3 * e + 3])
        assert _rows(epoch) == train
    # shuffled differently each epoch
    assert not np.array_equal(np.concatenate(seen[0:3]), np.concatenate(seen[3:6]))


def test_targets_travel_with_their_inputs() -> None:
    run = Run({"dataset": {"n": 12, "val_fraction": 0.0}, "batch_size": 5})
    seen_y: list[np.ndarray] = []
    seen_x = _record_batches(run)
    original = run.loss.value_and_grad

    def spy(out: np.ndarray, y: Any) -> Any:
        seen_y.append(np.array(y, copy=True))
        return original(out, y)

    run.loss.value_and_grad = spy  # type: ignore[method-assign]
    run.step(6)
    lookup = {row.tobytes(): y for row, y in zip(run.dataset.x_train, run.dataset.y_train,
                                                  strict=True)}
    for xb, yb in zip(seen_x, seen_y, strict=True):
        for row, y in zip(xb, yb, strict=True):
            np.testing.assert_array_equal(lookup[row.tobytes()], y)


def test_batch_norm_drops_trailing_single_example() -> None:
    run = Run({"dataset": {"n": 9, "val_fraction": 0.0}, "batch_size": 4,
               "model": {"hidden": [4], "batch_norm": True}})
    seen = _record_batches(run)
    records = run.step(6)
    assert [len(b) for b in seen] == [4] * 6
    assert [r["epoch"] for r in records] == [0, 0, 1, 1, 2, 2]
    assert all(math.isfinite(r["loss"]) for r in records)


def test_batch_size_patch_mid_epoch() -> None:
    run = Run({"dataset": {"n": 10, "val_fraction": 0.0}, "batch_size": 4})
    seen = _record_batches(run)
    run.step(1)
    run.apply_patch({"batch_size": 3})
    records = run.step(3)
    assert [len(b) for b in seen] == [4, 3, 3, 3]
    assert [r["epoch"] for r in records] == [0, 0, 1]  # 4+3+3 = 10: epoch ends
    epoch0 = np.concatenate(seen[:3])
    assert _rows(epoch0) == _rows(run.dataset.x_train)


@pytest.mark.parametrize("via_patch", [False, True])
def test_batch_norm_with_batch_size_one(via_patch: bool) -> None:
    # regression (fixed in 16b223d): used to be accepted and then raise ZeroDivisionError
    cfg = {"model": {"hidden": [4], "batch_norm": True}, "batch_size": 4 if via_patch else 1}
    if not via_patch:
        with pytest.raises(ConfigError) as info:
            Run(cfg)
        assert info.value.field == "batch_size"
        return
    run = Run(cfg)
    run.step(2)
    with pytest.raises(ConfigError) as info:
        run.apply_patch({"batch_size": 1})
    assert info.value.field == "batch_size"
    assert run.batch_size == 4 and run.events == []
    assert all(math.isfinite(r["loss"]) for r in run.step(3))


# ------------------------------------------------------------------ determinism and replay


def _dump(records: list[dict]) -> str:
    return json.dumps(records, allow_nan=True)


def test_same_config_is_bit_identical() -> None:
    cfg = {"seed": 3, "model": {"hidden": [6, 5], "dropout": 0.3},
           "optimizer": {"name": "adam", "lr": 0.01},
           "schedule": {"name": "noisy_linear_cosine_decay"}}
    a, b = Run(cfg), Run(cfg)
    assert _dump(a.step(80)) == _dump(b.step(80))
    assert a.history.equal(b.history)
    np.testing.assert_array_equal(a.model.theta, b.model.theta)
    c = Run({**cfg, "seed": 4})
    c.step(80)
    assert not c.history.equal(a.history)
    assert not np.array_equal(c.dataset.x_train, a.dataset.x_train)


def test_patched_run_replays_bit_for_bit() -> None:
    cfg = {"seed": 11, "model": {"hidden": [6, 6]},
           "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}}
    a = Run(cfg)
    a.step(30)
    a.apply_patch({"optimizer": {"lr": 0.01}})
    a.step(20)
    a.apply_patch({"optimizer": {"name": "adam"}})
    a.apply_patch({"schedule": {"name": "step", "step_size": 10, "gamma": 0.7}})
    a.step(20)
    a.apply_patch({"regularization": {"l1": 0.01}})
    a.apply_patch({"batch_size": 7})
    a.apply_patch({"dropout": 0.2})
    a.apply_patch({"grad_clip": {"mode": "norm", "max_norm": 0.5}})
    a.step(15)
    a.apply_patch({"schedule": {"name": "cosine_annealing", "T_max": 40}, "eval_every": 2})
    a.step(15)
    assert a.status == "ready" and a.step_count == 100
    exported = json.loads(json.dumps(a.export()))  # survives a JSON round trip
    assert exported["step"] == 100 and len(exported["events"]) == 8
    b = Run.replay(exported["config"], exported["events"], exported["step"])
    assert b.step_count == 100
    assert b.history.equal(a.history)
    np.testing.assert_array_equal(b.model.theta, a.model.theta)
    assert b.config == a.config
    assert b.events == a.events
    # the history really is the patched one, not a plain run
    plain = Run(cfg)
    plain.step(100)
    assert not plain.history.equal(a.history)


def test_replay_rejects_bad_event_logs() -> None:
    cfg = resolve_config({})
    with pytest.raises(ConfigError) as info:
        Run.replay(cfg, [{"step": 5, "patch": {}}, {"step": 2, "patch": {}}], 10)
    assert info.value.field == "events[1].step"
    with pytest.raises(ConfigError) as info:
        Run.replay(cfg, [{"step": 1}], 10)
    assert info.value.field == "events[0]"
    with pytest.raises(ConfigError) as info:
        Run.replay(cfg, [{"step": 11, "patch": {}}], 10)
    assert info.value.field == "events[0].step"


# ------------------------------------------------------------------ patches


def test_same_optimizer_keeps_state() -> None:
    run = Run({"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}})
    run.step(10)
    opt = run.optimizer
    state = opt.state_dict()
    assert state["buffers"]["momentum_buffer"] is not None
    run.apply_patch({"optimizer": {"lr": 0.01}})
    assert run.optimizer is opt
    after = opt.state_dict()
    assert after["step"] == state["step"] == 10
    np.testing.assert_array_equal(after["buffers"]["momentum_buffer"],
                                  state["buffers"]["momentum_buffer"])
    assert run.config["optimizer"]["lr"] == 0.01 and run.config["optimizer"]["momentum"] == 0.9
    assert run.step(1)[0]["lr"] == 0.01


def test_same_optimizer_patch_equals_unpatched_twin_with_that_lr() -> None:
    # A: lr 0.05 for 10 steps, then 0.01. B: a multistep schedule producing the same rates.
    base = {"seed": 5, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}}
    a = Run(base)
    a.step(10)
    a.apply_patch({"optimizer": {"lr": 0.01}})
    a.step(5)
    b = Run({**base, "schedule": {"name": "multistep", "milestones": [10], "gamma": 0.2}})
    b.step(15)
    np.testing.assert_allclose(a.model.theta, b.model.theta, rtol=1e-12, atol=1e-15)


def test_new_optimizer_name_starts_fresh() -> None:
    run = Run({"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}})
    run.step(10)
    old = run.optimizer
    cfg = run.apply_patch({"optimizer": {"name": "adam", "lr": 0.01}})
    assert run.optimizer is not old and run.optimizer.name == "adam"
    assert run.optimizer.n_steps == 0
    assert cfg["optimizer"]["betas"] == [0.9, 0.999] or tuple(cfg["optimizer"]["betas"]) == (
        0.9, 0.999)
    run.step(1)
    assert run.optimizer.n_steps == 1


@pytest.mark.parametrize("key", ["seed", "dataset", "model", "loss", "loss_params"])
def test_rebuild_fields_are_refused(key: str) -> None:
    run = Run({})
    run.step(3)
    before = copy.deepcopy(run.config)
    with pytest.raises(RebuildRequiredError) as info:
        run.apply_patch({key: {"n": 10} if key == "dataset" else 1})
    assert info.value.field == key
    assert run.config == before and run.events == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"optimizer": {"lr": 0.5}, "batch_size": 0}, "batch_size"),
        ({"optimizer": {"lr": -1.0}}, "optimizer.lr"),
        ({"regularization": {"l1": 0.1}, "dropout": 5.0}, "dropout"),
        ({"schedule": {"name": "step", "step_size": 0}}, "schedule.step_size"),
        ({"grad_clip": {"mode": "value", "clip_value": -1}, "eval_every": 2},
         "grad_clip.clip_value"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_patch_changes_nothing(patch: dict, field: str) -> None:
    run = Run({"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.5}})
    run.step(4)
    config, events = copy.deepcopy(run.config), copy.deepcopy(run.events)
    opt, sched, state = run.optimizer, run.schedule, run.optimizer.state_dict()
    with pytest.raises(ConfigError) as info:
        run.apply_patch(patch)
    assert info.value.field == field
    assert run.config == config and run.events == events
    assert run.optimizer is opt and run.schedule is sched
    assert run.optimizer.hp["lr"] == 0.05 and run.batch_size == 10 and run.model.dropout == 0.0
    np.testing.assert_array_equal(opt.state_dict()["buffers"]["momentum_buffer"],
                                  state["buffers"]["momentum_buffer"])
    assert run.step(1)[0]["lr"] == 0.05


def test_event_log_records_step_and_patch() -> None:
    run = Run({})
    run.apply_patch({"batch_size": 5})
    run.step(7)
    patch = {"optimizer": {"lr": 0.2}, "regularization": {"l2": 0.01}}
    run.apply_patch(patch)
    patch["optimizer"]["lr"] = 99  # the log keeps its own copy
    assert run.events == [
        {"step": 0, "patch": {"batch_size": 5}},
        {"step": 7, "patch": {"optimizer": {"lr": 0.2}, "regularization": {"l2": 0.01}}},
    ]
    assert run.export()["events"] == run.events
    assert run.initial_config["batch_size"] == 10 and run.config["batch_size"] == 5


def test_lr_patch_takes_effect_under_reduce_on_plateau() -> None:
    # regression (fixed in 16b223d): the old plateau lr used to override the patched one
    run = Run({"optimizer": {"name": "sgd", "lr": 0.03},
               "schedule": {"name": "reduce_on_plateau", "patience": 1000}})
    run.step(5)
    cfg = run.apply_patch({"optimizer": {"lr": 0.5}})
    assert cfg["optimizer"]["lr"] == 0.5
    assert run.step(1)[0]["lr"] == 0.5


# ------------------------------------------------------------------ divergence


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_divergence_is_caught(activation: str) -> None:
    run = Run(_diverging_config(activation))
    records: list[dict] = []
    with np.errstate(all="ignore"):
        for _ in range(10):  # at most 500 steps
            records += run.step(50)
            if run.status == "diverged":
                break
    assert run.status == "diverged"
    div = run.divergence
    assert div is not None and set(div) == {"step", "layer", "layer_name", "reason"}
    assert div["step"] == records[-1]["step"] == run.step_count - 1
    assert 0 <= div["layer"] < run.layer_count
    assert div["layer_name"] == run.model.layer_names()[div["layer"]]
    assert "not finite" in div["reason"]
    assert np.isfinite(run.model.theta).all()  # rolled back / skipped
    assert all(math.isfinite(r["loss"]) for r in records[:-1])
    with pytest.raises(RunStateError):
        run.step(1)
    assert run.step_count == div["step"] + 1
    run.reset()
    assert run.status == "ready" and run.step_count == 0 and run.divergence is None
    assert len(run.history) == 0
    assert run.step(1)[0]["step"] == 0


def test_snapshot_after_divergence() -> None:
    # regression (fixed in 16b223d): histogram of the output bias (~ -3.8e151) used to raise
    run = Run(_diverging_config("tanh"))
    with np.errstate(all="ignore"):
        run.step(500)
    assert run.status == "diverged"
    snap = run.snapshot()
    assert snap["status"] == "diverged"
    for layer, dense in zip(snap["layers"], run.model.dense_layers, strict=True):
        assert int(np.sum(layer["weights"]["counts"])) == dense.W.size
        assert int(np.sum(layer["biases"]["counts"])) == dense.b.size


@pytest.mark.parametrize("values", [[1e17], [-3.8e151], [1.0, 1.0 + 2**-52]])
def test_histogram_of_near_constant_values(values: list[float]) -> None:
    h = histogram(np.array(values), bins=30)
    assert int(np.sum(h["counts"])) == len(values)


def test_histogram_counts() -> None:
    h = histogram(np.array([0.0, 0.0, 1.0, 2.0, np.nan, np.inf, 3.0]), bins=3)
    assert h["count"] == 7 and h["nonfinite"] == 2 and h["exact_zeros"] == 2
    assert list(h["counts"]) == [2, 1, 2] and h["min"] == 0.0 and h["max"] == 3.0
    const = histogram(np.array([5.0, 5.0]), bins=4)
    assert int(np.sum(const["counts"])) == 2 and const["edges"][0] < 5.0 < const["edges"][-1]
    empty = histogram(np.array([np.nan]))
    assert empty["counts"] == [] and empty["min"] is None and empty["nonfinite"] == 1


def test_divergence_record_is_kept_in_history() -> None:
    run = Run(_diverging_config("relu"))
    with np.errstate(all="ignore"):
        records = run.step(500)
    assert run.status == "diverged" and len(records) < 500
    assert len(run.history) == len(records)
    steps = run.history.columns(["step"])["step"]
    assert steps[-1] == run.divergence["step"]


# ------------------------------------------------------------------ reset, snapshot


def test_reset_with_seed_changes_data_and_weights() -> None:
    run = Run({"seed": 1})
    x0, theta0 = run.dataset.x_train.copy(), run.model.theta.copy()
    run.step(10)
    run.reset()
    np.testing.assert_array_equal(run.dataset.x_train, x0)
    np.testing.assert_array_equal(run.model.theta, theta0)
    run.reset(seed=2)
    assert run.config["seed"] == 2 and run.step_count == 0
    assert not np.array_equal(run.dataset.x_train, x0)
    assert not np.array_equal(run.model.theta, theta0)
    with pytest.raises(ConfigError) as info:
        run.reset(seed=-3)
    assert info.value.field == "seed"


def test_reset_keeps_patched_config() -> None:
    run = Run({})
    run.step(3)
    run.apply_patch({"batch_size": 6})
    run.reset()
    assert run.config["batch_size"] == 6 and run.events == []
    assert run.initial_config["batch_size"] == 6


def test_snapshot_binary_surface_and_histograms() -> None:
    run = Run({"model": {"hidden": [5, 3]}})
    run.step(5)
    snap = run.snapshot(bins=10, grid=20)
    assert snap["step"] == 5 and snap["task"] == "binary"
    assert len(snap["layers"]) == 3
    for layer, dense in zip(snap["layers"], run.model.dense_layers, strict=True):
        assert layer["shape"] == list(dense.W.shape)
        assert int(np.sum(layer["weights"]["counts"])) == dense.W.size
        assert layer["weights"]["count"] == dense.W.size
        assert len(layer["weights"]["edges"]) == 11
        assert int(np.sum(layer["biases"]["counts"])) == dense.b.size
        assert int(np.sum(layer["grads"]["counts"])) == dense.W.size
    prob = np.asarray(snap["surface"]["prob"])
    assert prob.shape == (20, 20)
    assert ((prob >= 0) & (prob <= 1)).all()
    assert len(snap["surface"]["x"]) == 20


def test_snapshot_multiclass_probs() -> None:
    run = Run({"dataset": {"name": "spiral", "n": 90}, "model": {"hidden": [6]}})
    run.step(3)
    surface = run.snapshot(grid=15)["surface"]
    k = run.dataset.n_classes
    probs = np.asarray(surface["probs"])
    assert probs.shape == (k, 15, 15)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(surface["argmax"]), probs.argmax(axis=0))


def test_snapshot_curve_for_sine() -> None:
    run = Run({"dataset": {"name": "sine", "n": 50}})
    run.step(3)
    snap = run.snapshot()
    assert "surface" not in snap
    curve = snap["curve"]
    assert len(curve["x"]) == len(curve["y"]) > 10
    np.testing.assert_allclose(curve["y"], run.model.predict(np.asarray(curve["x"])[:, None])[:, 0])


def test_snapshot_coefficients_for_linear_model() -> None:
    run = Run({"dataset": {"name": "sparse_linear", "n": 100,
                           "params": {"n_features": 6, "n_informative": 2}},
               "model": {"hidden": []}})
    run.step(3)
    coef = run.snapshot()["coefficients"]
    assert len(coef["learned"]) == len(coef["true"]) == 6
    np.testing.assert_array_equal(coef["learned"], run.model.output.W[:, 0])
    assert sum(c != 0 for c in coef["true"]) == 2
    deep = Run({"dataset": {"name": "sparse_linear"}, "model": {"hidden": [4]}})
    assert "coefficients" not in deep.snapshot()


# ------------------------------------------------------------------ L1 sparsity, plateau


def _l1_run(method: str) -> Run:
    run = Run({"dataset": {"name": "sparse_linear", "n": 200, "noise": 0.1,
                           "params": {"n_features": 20, "n_informative": 3}},
               "model": {"hidden": []}, "optimizer": {"name": "sgd", "lr": 0.05},
               "regularization": {"l1": 0.3, "l1_method": method}})
    run.step(300)
    return run


def test_proximal_l1_gives_exact_zeros_and_subgradient_does_not() -> None:
    prox, sub = _l1_run("proximal"), _l1_run("subgradient")
    zp = prox.last_record["zero_fraction"]
    assert zp > 0.5  # most of the 17 uninformative coefficients are exactly zero
    assert zp == np.count_nonzero(prox.model.weights == 0.0) / prox.model.n_weights
    assert sub.last_record["zero_fraction"] == 0.0
    assert sub.last_record["near_zero_fraction"] < zp
    informative = prox.dataset.truth["informative"]
    assert all(prox.model.output.W[i, 0] != 0.0 for i in informative)
    snap = prox.snapshot()
    assert snap["layers"][0]["weights"]["exact_zeros"] == np.count_nonzero(
        prox.model.weights == 0.0)


def test_reduce_on_plateau_cuts_lr() -> None:
    # lr so small that validation loss cannot improve by the relative threshold (but the cut
    # 1e-6 -> 5e-7 is larger than the schedule's eps 1e-8, so it is not skipped).
    run = Run({"dataset": {"n": 50, "val_fraction": 0.2}, "batch_size": 40,
               "optimizer": {"name": "sgd", "lr": 1e-6},
               "schedule": {"name": "reduce_on_plateau", "patience": 1, "factor": 0.5,
                            "threshold": 0.01}})
    records = run.step(6)  # 40 training examples, one batch per epoch
    lrs = [r["lr"] for r in records]
    assert [r["epoch"] for r in records] == [0, 1, 2, 3, 4, 5]
    # observations at the start of epochs 1..5: first sets best, then 2 bad ones -> cut.
    assert lrs[:3] == [1e-6] * 3
    assert lrs[3] == pytest.approx(5e-7, rel=1e-12)
    assert lrs[-1] < lrs[3]


def test_reduce_on_plateau_keeps_lr_while_improving() -> None:
    run = Run({"dataset": {"n": 50}, "batch_size": 40, "optimizer": {"name": "adam", "lr": 0.01},
               "schedule": {"name": "reduce_on_plateau", "patience": 1, "factor": 0.5}})
    lrs = [r["lr"] for r in run.step(8)]
    assert lrs == [0.01] * 8


# ------------------------------------------------------------------ property


configs = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31),
    "dataset": st.fixed_dictionaries({
        "name": st.sampled_from(["circle", "xor", "spiral", "sine", "plane", "gauss"]),
        "n": st.integers(2, 60),
        "val_fraction": st.sampled_from([0.0, 0.2]),
        "normalize": st.sampled_from(["none", "zscore"]),
    }),
    "model": st.fixed_dictionaries({
        "hidden": st.lists(st.integers(1, 6), max_size=3),
        "activation": st.sampled_from(["tanh", "relu", "sigmoid", "gelu", "leaky_relu"]),
        "norm": st.sampled_from(["none", "batch", "layer"]),
        "dropout": st.sampled_from([0.0, 0.5]),
        "residual": st.booleans(),
    }),
    "optimizer": st.fixed_dictionaries({
        "name": st.sampled_from(OPTIMIZERS.names()),
        "lr": st.sampled_from([1e-4, 0.03, 1.0, 10.0]),
    }),
    "regularization": st.fixed_dictionaries({
        "l1": st.sampled_from([0.0, 0.01]),
        "l2": st.sampled_from([0.0, 0.01]),
        "l1_method": st.sampled_from(["proximal", "subgradient"]),
    }),
    "batch_size": st.integers(1, 20),
    "grad_clip": st.sampled_from([{"mode": "none"}, {"mode": "norm", "max_norm": 1.0}]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs)
def test_stepping_never_raises(cfg: dict) -> None:
    norm = cfg["model"].pop("norm")
    cfg["model"]["batch_norm"] = norm == "batch"
    cfg["model"]["layer_norm"] = norm == "layer"
    try:
        run = Run(cfg)
    except ConfigError as exc:  # batch norm needs batches and a training set of >= 2
        assert norm == "batch"
        assert (exc.field == "batch_size" and cfg["batch_size"] == 1) or (
            exc.field == "model.batch_norm" and cfg["dataset"]["n"] <= 3)
        return
    with np.errstate(all="ignore"):
        records = run.step(40)
    assert 1 <= len(records) <= 40
    assert [r["step"] for r in records] == list(range(len(records)))
    if run.status == "diverged":
        assert len(records) == run.divergence["step"] + 1
    else:
        assert len(records) == 40
        assert all(math.isfinite(r["loss"]) for r in records)
        json.dumps(records, allow_nan=False)
    assert all(math.isfinite(r["loss"]) for r in records[:-1])
    assert np.isfinite(run.model.theta).all()


@pytest.mark.parametrize("values", [[1e308, -1e308], [-1e308], [1e-320, 2e-320]])
def test_histogram_of_extreme_values(values: list[float]) -> None:
    h = histogram(np.array(values), bins=30)
    assert int(np.sum(h["counts"])) == len(values)
    assert np.all(np.isfinite(h["edges"]))


def test_snapshot_network_for_small_nets_only() -> None:
    run = Run({"model": {"hidden": [4, 3]}})
    run.step(2)
    net = run.snapshot()["network"]
    assert [np.shape(layer["W"]) for layer in net] == [(2, 4), (4, 3), (3, 1)]
    for layer, dense in zip(net, run.model.dense_layers, strict=True):
        np.testing.assert_array_equal(layer["dW"], dense.dW)  # the last update's gradient
    assert "network" not in Run({"model": {"hidden": [32]}}).snapshot()


def test_resolved_config_fills_component_parameters() -> None:
    cfg = resolve_config({"dataset": {"name": "spiral"}, "loss": None})
    assert cfg["dataset"]["params"] == {"classes": 3, "turns": 1.0, "label_noise": 0.0}
    cfg = resolve_config({"dataset": {"name": "sine"}, "loss": "huber"})
    assert cfg["loss_params"] == {"delta": 1.0}
    with pytest.raises(ConfigError) as err:
        resolve_config({"dataset": {"name": "spiral", "params": {"arms": 3}}})
    assert err.value.field == "dataset.params.arms"


@pytest.mark.parametrize("config", [
    {},
    {"model": {"hidden": [4, 4], "activation": "relu", "init": "zeros"}},  # update_ratio null
    {"dataset": {"name": "sine"}, "model": {"hidden": [5], "batch_norm": True}},
    {"dataset": {"name": "unscaled"}, "model": {"hidden": []},
     "optimizer": {"name": "sgd", "lr": 10.0}},  # diverges
])
def test_step_without_records_trains_identically(config: dict) -> None:
    quiet, loud = Run(config), Run(config)
    assert quiet.last_record is None
    assert quiet.step(120, collect=False) == []
    records = loud.step(120)
    assert quiet.history.equal(loud.history)
    assert quiet.step_count == loud.step_count and quiet.status == loud.status
    assert quiet.divergence == loud.divergence
    # built on demand, same values (json text: NaN equals NaN there)
    assert json.dumps(quiet.last_record) == json.dumps(records[-1])
    assert quiet.last_record is quiet.last_record
    # record_rows: the history rows as the records show them (NaN/inf <-> null)
    scalars, layers = quiet.record_rows(0, quiet.history.size)
    for record, s_row, l_row in zip(records, scalars.tolist(), layers.tolist(), strict=True):
        for k, f in enumerate(SCALAR_FIELDS):
            want = record[f]
            assert (s_row[k] if math.isfinite(s_row[k]) else None) == (
                want if want is None or math.isfinite(want) else None), f
        for k, f in enumerate(LAYER_FIELDS):
            got = [v if math.isfinite(v) else None for v in l_row[k]]
            assert got == [v if v is None or math.isfinite(v) else None for v in record[f]], f
    if quiet.status != "diverged":
        quiet.reset()
        assert quiet.last_record is None


def test_snapshot_neuron_maps_are_each_hidden_units_activation_over_the_plane() -> None:
    # Oracle by hand: tanh(x W + b) layer by layer on the crossed inputs of the grid points.
    run = Run({"dataset": {"name": "circle", "n": 80, "features": ["x1", "x2", "x1_sq"]},
               "model": {"hidden": [4, 3], "activation": "tanh"}})
    run.step(4)
    snap = run.snapshot(grid=30)
    maps = snap["neuron_maps"]
    r = len(maps["x"])
    assert r == len(maps["y"]) == 24
    # same window as the decision surface, only coarser
    assert maps["x"][0] == snap["surface"]["x"][0] and maps["x"][-1] == snap["surface"]["x"][-1]
    assert maps["y"][0] == snap["surface"]["y"][0] and maps["y"][-1] == snap["surface"]["y"][-1]
    gx, gy = np.meshgrid(maps["x"], maps["y"])
    raw = run.dataset.plane_normalizer.inverse_transform(np.column_stack([gx.ravel(),
                                                                          gy.ravel()]))
    h = run.dataset.normalizer.transform(np.column_stack([raw[:, 0], raw[:, 1], raw[:, 0] ** 2]))
    assert len(maps["layers"]) == 2
    for layer, net in zip(maps["layers"], snap["network"], strict=False):
        h = np.tanh(h @ net["W"] + net["b"])
        assert np.asarray(layer).shape == (net["W"].shape[1], r, r)
        for u in range(net["W"].shape[1]):
            # rows by y: z[i][j] is the unit's value at (x[j], y[i])
            # float32 on the wire (pictures): equal to float32 rounding
            assert layer[u].dtype == np.float32
            np.testing.assert_allclose(layer[u], h[:, u].reshape(r, r), rtol=1e-6, atol=1e-7)


def test_snapshot_neuron_maps_only_for_small_nets_on_2d_data() -> None:
    assert "neuron_maps" not in Run({"dataset": {"name": "sine", "n": 40}}).snapshot()
    big = Run({"dataset": {"name": "circle", "n": 40}, "model": {"hidden": [17]}})
    assert "neuron_maps" not in big.snapshot()
    linear = Run({"dataset": {"name": "circle", "n": 40}, "model": {"hidden": []}}).snapshot()
    assert linear["neuron_maps"]["layers"] == []
