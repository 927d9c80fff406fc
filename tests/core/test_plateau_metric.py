"""reduce_on_plateau watches the validation loss (the training loss only without a validation
split), on data where the two disagree: the training loss falls while the validation loss
rises, so watching the wrong one changes when the rate is cut."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from core.trainer import Run


def _config(val_fraction: float = 0.2) -> dict[str, Any]:
    # All training examples in one batch: one update per epoch, and the plateau schedule
    # observes its metric at every epoch boundary (full-batch GD: the training loss falls
    # monotonically at this rate).
    n = 50
    return {
        "dataset": {"name": "plane", "n": n, "val_fraction": val_fraction},
        "model": {"hidden": []},
        "optimizer": {"name": "sgd", "lr": 0.01},
        "batch_size": round(n * (1 - val_fraction)),
        "schedule": {"name": "reduce_on_plateau", "patience": 1, "factor": 0.5},
    }


def _disagreeing_run() -> Run:
    """Validation targets negated and the linear model started at zero: fitting the training
    data (p -> y) moves the validation loss mean((p + y)²) up from mean(y²) towards 4·mean(y²)."""
    run = Run(_config())
    ds = run.dataset
    run.dataset = dataclasses.replace(ds, y_val=-ds.y_val)
    layers = run.model.get_layers()
    for layer in layers:
        for value in layer.values():
            value[...] = 0.0
    run.set_weights(layers)
    return run


def test_training_and_validation_loss_disagree() -> None:
    records = _disagreeing_run().step(12)
    train = [r["loss"] for r in records]
    val = [r["val_loss"] for r in records]
    assert all(b < a for a, b in zip(train, train[1:], strict=False))
    assert all(b > a for a, b in zip(val, val[1:], strict=False))


def test_plateau_cuts_on_rising_validation_loss() -> None:
    records = _disagreeing_run().step(12)
    assert [r["epoch"] for r in records] == list(range(12))
    lrs = [r["lr"] for r in records]
    # observed at the start of epochs 1, 2, 3, …: the first sets the best, the next two are
    # worse (2 > patience 1) -> halved for epoch 3; then every second epoch again.
    assert lrs[:3] == [0.01] * 3
    assert lrs[3] == pytest.approx(0.005, rel=1e-12)
    assert lrs[-1] == pytest.approx(0.01 / 32, rel=1e-12)
    # watching the (falling) training loss would never cut


def test_plateau_observes_the_validation_loss_of_the_current_weights() -> None:
    run = _disagreeing_run()
    seen: list[float] = []
    observe = run.schedule.observe  # type: ignore[attr-defined]

    def spy(metric: float) -> None:
        seen.append(metric)
        observe(metric)

    run.schedule.observe = spy  # type: ignore[attr-defined]
    records = run.step(6)
    assert len(seen) == 5  # at the start of epochs 1..5
    # validation loss is measured before each update, i.e. on the weights the schedule saw at
    # the epoch boundary: the first record of the next epoch carries the same number
    np.testing.assert_allclose(seen, [r["val_loss"] for r in records[1:]], rtol=1e-12)
    assert not np.allclose(seen, [r["loss"] for r in records[1:]], rtol=1e-3)


def test_plateau_without_validation_split_watches_the_training_loss() -> None:
    run = Run(_config(val_fraction=0.0))
    assert len(run.dataset.x_val) == 0
    records = run.step(12)
    assert [r["epoch"] for r in records] == list(range(12))
    assert all(r["val_loss"] is None for r in records)
    losses = [r["loss"] for r in records]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    # the (falling) training loss is watched: never cut
    assert [r["lr"] for r in records] == [0.01] * 12
    assert all(math.isfinite(v) for v in losses)
