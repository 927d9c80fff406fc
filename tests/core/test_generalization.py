"""Test split, early stopping (Keras semantics) and data augmentation in the engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError, RunStateError
from core.trainer import Run

BASE: dict[str, Any] = {
    "seed": 3,
    "dataset": {"name": "circle", "n": 200, "noise": 0.1},
    "model": {"hidden": [6]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "batch_size": 16,
}


def config(**over: Any) -> dict[str, Any]:
    cfg = {**BASE, **over}
    cfg["dataset"] = {**BASE["dataset"], **over.get("dataset", {})}
    return cfg


def rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in np.ascontiguousarray(a)}


# ---------------------------------------------------------------------------- test split
@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    model=st.sampled_from([[6], [5, 4]]),
    dropout=st.sampled_from([0.0, 0.3]),
)
def test_the_test_split_never_leaks_into_training(
    seed: int, model: list[int], dropout: float
) -> None:
    """(val 0.2, test 0.1) trains on exactly the rows of (val 0.3, test 0): same bits."""
    over = {"seed": seed, "model": {"hidden": model, "dropout": dropout}}
    with_test = Run(config(**over, dataset={"val_fraction": 0.2, "test_fraction": 0.1}))
    without = Run(config(**over, dataset={"val_fraction": 0.3, "test_fraction": 0.0}))
    a, b = with_test.dataset, without.dataset
    assert (a.n_train, a.n_val, a.n_test, b.n_test) == (140, 40, 20, 0)
    np.testing.assert_array_equal(a.x_train, b.x_train)  # same rows, same normaliser
    assert rows(a.x_test).isdisjoint(rows(a.x_train)) and rows(a.x_test).isdisjoint(rows(a.x_val))
    assert rows(a.x_test) | rows(a.x_val) == rows(b.x_val)
    with_test.step(60, collect=False)
    without.step(60, collect=False)
    assert with_test.model.theta.tobytes() == without.model.theta.tobytes()
    cols_a, cols_b = with_test.history.columns(), without.history.columns()
    assert np.array_equal(cols_a["loss"], cols_b["loss"])


def test_test_fraction_is_validated() -> None:
    with pytest.raises(ConfigError) as exc:
        Run(config(dataset={"test_fraction": 0.6}))
    assert exc.value.field == "dataset.test_fraction" and "0.5" in exc.value.message
    with pytest.raises(ConfigError) as exc:
        Run(config(dataset={"val_fraction": 0.5, "test_fraction": 0.45}))
    assert exc.value.field == "dataset.test_fraction" and "0.9" in exc.value.message


def test_evaluate_reports_each_split_in_eval_mode() -> None:
    run = Run(config(model={"hidden": [6], "dropout": 0.5}, dataset={"test_fraction": 0.1}))
    run.step(20, collect=False)
    ev = run.evaluate()
    ds = run.dataset
    for name, x, y in (
        ("train", ds.x_train, ds.y_train),
        ("val", ds.x_val, ds.y_val),
        ("test", ds.x_test, ds.y_test),
    ):
        pred = run.model.predict(x)  # eval mode: no dropout
        assert ev[name]["loss"] == float(run.loss.value(pred, y))
        assert ev[name]["accuracy"] == float(np.mean((pred > 0) == y))
    assert "test" not in Run(config()).evaluate()
    reg = Run({"dataset": {"name": "sine", "n": 50}}).evaluate()
    assert reg["train"]["accuracy"] is None and reg["val"]["accuracy"] is None


# ---------------------------------------------------------------------------- early stopping
def keras_stop_index(
    values: Sequence[float], patience: int, min_delta: float, mode: str
) -> tuple[int | None, int]:
    """Hand-traced Keras EarlyStopping.on_epoch_end: (stop index, best index)."""
    best, best_i, wait = None, -1, 0
    for i, v in enumerate(values):
        wait += 1
        better = best is None or (v + min_delta < best if mode == "min" else v - min_delta > best)
        if better:
            best, best_i, wait = v, i, 0
            continue
        if wait >= patience and i > 0:
            return i, best_i
    return None, best_i


# (values, patience, min_delta, monitor, stop index, best index) traced by hand
CASES = [
    ([1.0, 0.9, 0.95, 0.91, 0.92], 2, 0.0, "val_loss", 3, 1),
    ([1.0, 0.9, 0.95, 0.91, 0.92], 0, 0.0, "val_loss", 2, 1),
    ([1.0, 0.9, 0.95, 0.91, 0.92], 3, 0.0, "val_loss", 4, 1),
    ([1.0, 0.96, 0.9, 0.89, 0.8], 1, 0.05, "val_loss", 1, 0),
    ([1.0, 0.96, 0.9, 0.89, 0.8, 0.8, 0.79], 2, 0.05, "val_loss", 6, 4),
    ([1.0, 1.0, 1.0], 1, 0.0, "val_loss", 1, 0),  # equal is no improvement
    ([0.5, 0.6, 0.6, 0.55, 0.7], 2, 0.0, "val_accuracy", 3, 1),
    ([0.5, 0.55, 0.58, 0.7, 0.72], 1, 0.1, "val_accuracy", 1, 0),
    ([0.5, 0.55, 0.58, 0.7, 0.72, 0.75, 0.79], 3, 0.1, "val_accuracy", 6, 3),
    ([0.5, 0.55, 0.58, 0.7, 0.72], 2, 0.1, "val_accuracy", 2, 0),
]


@pytest.mark.parametrize(("values", "patience", "min_delta", "monitor", "stop", "best"), CASES)
def test_early_stopping_fires_at_the_keras_step(
    values: list[float], patience: int, min_delta: float, monitor: str, stop: int, best: int
) -> None:
    mode = "min" if monitor == "val_loss" else "max"
    assert keras_stop_index(values, patience, min_delta, mode) == (stop, best)
    every = 3
    run = Run(
        config(
            eval_every=every,
            early_stopping={"monitor": monitor, "patience": patience, "min_delta": min_delta},
        )
    )
    feed: Iterator[float] = iter(values)
    y_val = run.dataset.y_val
    if monitor == "val_loss":
        run.loss.value = lambda out, y: next(feed)  # type: ignore[method-assign]
    else:
        real = run._accuracy
        run._accuracy = (  # type: ignore[method-assign]
            lambda out, y: next(feed) if y is y_val else real(out, y)
        )
    run.step(1000, collect=False)
    assert run.status == "stopped"
    assert run.step_count == every * stop + 1  # the step whose validation fired is done
    assert run.early_stopping_info == {
        "stopped_at": every * stop,
        "best_step": every * best,
        "best_value": values[best],
    }
    with pytest.raises(RunStateError, match="early stopping"):
        run.step(1)
    run.reset()
    assert run.status == "ready" and run.early_stopping_info == {
        "stopped_at": None,
        "best_step": None,
        "best_value": None,
    }


@pytest.mark.parametrize("batch_norm", [False, True])
def test_restore_best_weights_restores_exactly_the_best_weights(batch_norm: bool) -> None:
    model = {"hidden": [6, 6], "batch_norm": batch_norm}
    values = iter([1.0, 0.8, 0.5, 0.7, 0.6, 0.9, 0.9])  # best at validation 2 = step 4
    cfg = config(
        model=model, eval_every=2, early_stopping={"patience": 3, "restore_best_weights": True}
    )
    run = Run(cfg)
    run.loss.value = lambda out, y: next(values)  # type: ignore[method-assign]
    run.step(100, collect=False)
    assert run.early_stopping_info == {"stopped_at": 10, "best_step": 4, "best_value": 0.5}
    ref = Run(config(model=model, eval_every=2))
    ref.step(4, collect=False)  # the weights validation 4 was measured on: before update 4
    theta = ref.model.theta.copy()
    ref.step(1, collect=False)  # batch-norm statistics are those after step 4's forward
    assert run.model.theta.tobytes() == theta.tobytes()
    assert run.model.buffers.tobytes() == ref.model.buffers.tobytes()


def test_best_value_is_measured_on_the_restored_weights() -> None:
    run = Run(
        config(
            model={"hidden": [8], "batch_norm": True},
            optimizer={"name": "sgd", "lr": 2.0},
            early_stopping={"patience": 2, "restore_best_weights": True},
        )
    )
    run.step(2000, collect=False)
    assert run.status == "stopped"
    info = run.early_stopping_info
    val = run.history.columns()["val_loss"]
    assert info["best_value"] == float(np.nanmin(val)) == val[info["best_step"]]
    assert run.evaluate()["val"]["loss"] == info["best_value"]


def test_early_stopping_is_validated_and_patchable() -> None:
    for bad, field in [
        ({"monitor": "loss"}, "early_stopping.monitor"),
        ({"patience": -1}, "early_stopping.patience"),
        ({"min_delta": -0.1}, "early_stopping.min_delta"),
        ({"restore_best_weights": 1}, "early_stopping.restore_best_weights"),
        ({"baseline": 1.0}, "early_stopping.baseline"),
    ]:
        with pytest.raises(ConfigError) as exc:
            Run(config(early_stopping=bad))
        assert exc.value.field == field
    with pytest.raises(ConfigError) as exc:
        Run({"dataset": {"name": "sine"}, "early_stopping": {"monitor": "val_accuracy"}})
    assert exc.value.field == "early_stopping.monitor"
    with pytest.raises(ConfigError) as exc:
        Run(config(dataset={"val_fraction": 0.0}, early_stopping={}))
    assert exc.value.field == "early_stopping"
    # live: switched on mid-run, through the event log: replay is exact
    run = Run(config())
    run.step(5, collect=False)
    run.apply_patch({"early_stopping": {"patience": 1, "min_delta": 0.5}})
    run.step(100, collect=False)
    assert run.status == "stopped"
    exported = run.export()
    again = Run.replay(exported["config"], exported["events"], exported["step"])
    assert again.status == "stopped" and again.early_stopping_info == run.early_stopping_info
    assert again.model.theta.tobytes() == run.model.theta.tobytes()


# ---------------------------------------------------------------------------- augmentation
AUG = {"jitter_std": 0.2, "rotate_deg": 30.0, "flip_x": True, "flip_y": True}


def test_augmentation_is_exact_under_replay_and_never_touches_held_out_data() -> None:
    run = Run(
        config(
            augment=AUG,
            dataset={
                "test_fraction": 0.1,
                "normalize": "zscore",
                "features": ["x1", "x2", "x1_x2"],
            },
        )
    )
    plain = Run(
        config(
            dataset={"test_fraction": 0.1, "normalize": "zscore", "features": ["x1", "x2", "x1_x2"]}
        )
    )
    held = [run.dataset.x_train.copy(), run.dataset.x_val.copy(), run.dataset.x_test.copy()]
    run.step(25, collect=False)
    run.apply_patch({"augment": {"rotate_deg": 90.0, "flip_y": False}})
    run.step(25, collect=False)
    run.apply_patch({"augment": {"jitter_std": 0.0, "rotate_deg": 0.0, "flip_x": False}})
    run.step(10, collect=False)
    for before, now in zip(
        held, (run.dataset.x_train, run.dataset.x_val, run.dataset.x_test), strict=True
    ):
        np.testing.assert_array_equal(before, now)
    plain.step(1, collect=False)
    cols = run.history.columns()
    # same weights before update 0: the validation is not augmented; the batch is
    assert cols["val_loss"][0] == plain.history.columns()["val_loss"][0]
    assert cols["loss"][0] != plain.history.columns()["loss"][0]
    exported = run.export()
    again = Run.replay(exported["config"], exported["events"], exported["step"])
    assert again.model.theta.tobytes() == run.model.theta.tobytes()
    again_cols = again.history.columns()
    assert all(np.array_equal(cols[k], again_cols[k], equal_nan=True) for k in cols)


def test_each_augmentation_does_what_it_says() -> None:
    rows_ = np.arange(20)
    for aug, check in [
        (
            {"flip_x": True},
            lambda raw, out: (
                np.array_equal(np.abs(out), np.abs(raw))
                and np.array_equal(out[:, 1], raw[:, 1])
                and (out[:, 0] != raw[:, 0]).any()
            ),
        ),
        (
            {"flip_y": True},
            lambda raw, out: (
                np.array_equal(out[:, 0], raw[:, 0]) and (out[:, 1] != raw[:, 1]).any()
            ),
        ),
        (
            {"rotate_deg": 45.0},
            lambda raw, out: (
                np.allclose(np.hypot(*out.T), np.hypot(*raw.T))
                and np.all(
                    np.abs(
                        np.arctan2(out[:, 1], out[:, 0]) - np.arctan2(raw[:, 1], raw[:, 0]) + np.pi
                    )
                    % (2 * np.pi)
                    - np.pi
                    <= np.deg2rad(45.0) + 1e-12
                )
            ),
        ),
        ({"jitter_std": 0.3}, lambda raw, out: 0.1 < np.std(out - raw) < 0.6),
    ]:
        run = Run(config(augment=aug))
        raw = run.dataset.points_train[rows_]
        out = run._augmented(rows_)
        assert check(raw, out), aug


def test_augment_is_validated() -> None:
    for bad, field in [
        ({"jitter_std": -1.0}, "augment.jitter_std"),
        ({"rotate_deg": 181.0}, "augment.rotate_deg"),
        ({"flip_x": "yes"}, "augment.flip_x"),
        ({"scale": 2}, "augment.scale"),
    ]:
        with pytest.raises(ConfigError) as exc:
            Run(config(augment=bad))
        assert exc.value.field == field
    with pytest.raises(ConfigError) as exc:
        Run({"dataset": {"name": "sine"}, "augment": {"flip_x": True}})
    assert exc.value.field == "augment" and "2-D" in exc.value.message
    # the no-op is fine anywhere
    Run({"dataset": {"name": "sine"}, "augment": {"flip_x": False}})
