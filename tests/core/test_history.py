"""Tests for core.history.History: append, columns, decimation, equality."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.history import ALL_FIELDS, LAYER_FIELDS, SCALAR_FIELDS, History

N_LAYERS = 2


def record(step: int, n_layers: int = N_LAYERS) -> dict:
    """A record whose values encode the step (so rows can be identified)."""
    rec: dict = {f: float(step) + k / 100 for k, f in enumerate(SCALAR_FIELDS)}
    rec["step"] = step
    rec["val_loss"] = None if step % 2 else float(step)
    rec["train_acc"] = None
    for k, f in enumerate(LAYER_FIELDS):
        rec[f] = [step + k + j / 10 for j in range(n_layers)]
    rec["saturation"] = [0.5] * (n_layers - 1) + [None]
    return rec


def block(step: int, n_layers: int = N_LAYERS) -> tuple[tuple, np.ndarray]:
    rec = record(step, n_layers)
    scalars = tuple(rec[f] for f in SCALAR_FIELDS)
    layers = np.array([[math.nan if v is None else v for v in rec[f]] for f in LAYER_FIELDS])
    return scalars, layers


def filled(
    n: int, fast: bool = False, n_layers: int = N_LAYERS, budget: int = 4_000_000
) -> History:
    h = History(n_layers, float_budget=budget)
    for t in range(n):
        if fast:
            h.append_block(*block(t, n_layers))
        else:
            h.append(record(t, n_layers))
    return h


def test_append_and_columns() -> None:
    h = filled(5)
    assert len(h) == 5 and h.stride == 1
    cols = h.columns()
    assert set(cols) == set(ALL_FIELDS)
    np.testing.assert_array_equal(cols["step"], np.arange(5))
    np.testing.assert_array_equal(cols["lr"], np.arange(5) + 0.02)
    assert np.isnan(cols["train_acc"]).all()  # None -> NaN
    assert np.isnan(cols["val_loss"][1]) and cols["val_loss"][2] == 2.0
    assert cols["grad_norm"].shape == (5, N_LAYERS)
    np.testing.assert_array_equal(cols["grad_norm"][3], [3.0, 3.1])
    assert np.isnan(cols["saturation"][:, -1]).all()
    sub = h.columns(["step", "act_mean"])
    assert set(sub) == {"step", "act_mean"}


def test_append_block_matches_append() -> None:
    a, b = filled(300), filled(300, fast=True)
    assert a.equal(b) and b.equal(a)
    for f in ALL_FIELDS:
        np.testing.assert_array_equal(a.columns([f])[f], b.columns([f])[f])


def test_decimation_keeps_true_steps() -> None:
    h = History(N_LAYERS, float_budget=1)  # capacity is at least 1024 rows
    cap = h.capacity
    assert cap == 1024
    for t in range(cap):
        h.append_block(*block(t))
    assert len(h) == cap and h.stride == 1
    h.append_block(*block(cap))  # full: halve, stride 2
    assert h.stride == 2
    steps = h.columns(["step"])["step"]
    np.testing.assert_array_equal(steps, np.arange(0, cap + 1, 2))
    h.append_block(*block(cap + 1))  # odd step: skipped
    assert h.columns(["step"])["step"][-1] == cap
    for t in range(cap + 2, 3 * cap + 5):
        h.append_block(*block(t))
    assert h.stride == 4
    assert len(h) <= cap
    steps = h.columns(["step"])["step"]
    assert (steps % 4 == 0).all() and (np.diff(steps) == 4).all() and steps[0] == 0
    # rows still carry their own values
    cols = h.columns(["lr", "grad_norm"])
    np.testing.assert_array_equal(cols["lr"], steps + 0.02)
    np.testing.assert_array_equal(cols["grad_norm"][:, 1], steps + 0.1)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 5000), slow=st.booleans())
def test_decimation_invariants(n: int, slow: bool) -> None:
    h = filled(n, fast=not slow, budget=1)  # capacity 1024: decimates past it
    steps = h.columns(["step"])["step"]
    assert len(h) <= h.capacity
    assert steps[0] == 0 and (steps % h.stride == 0).all()
    assert (np.diff(steps) == h.stride).all()
    # every multiple of the stride up to the last step is present
    assert steps[-1] == ((n - 1) // h.stride) * h.stride
    assert h.stride == 1 or len(h) > h.capacity // 2 - 1


def test_capacity_depends_on_layers() -> None:
    small, deep = History(2, float_budget=100_000), History(60, float_budget=100_000)
    assert small.capacity == 100_000 // (len(SCALAR_FIELDS) + len(LAYER_FIELDS) * 2)
    assert deep.capacity == 1024  # floor
    assert small.capacity > deep.capacity


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 400),
    every=st.integers(1, 50),
    max_points=st.one_of(st.none(), st.integers(1, 120)),
    since=st.one_of(st.none(), st.integers(-5, 450)),
)
def test_columns_subsampling(n: int, every: int, max_points: int | None, since: int | None) -> None:
    h = filled(n, fast=True)
    steps = h.columns(["step"], every=every, max_points=max_points, since_step=since)["step"]
    eligible = np.arange(n) if since is None else np.arange(max(since, 0), n)
    if len(eligible) == 0:
        assert len(steps) == 0
        return
    assert steps[-1] == eligible[-1]  # the last row is always included
    assert set(steps) <= set(eligible)
    assert (np.diff(steps) > 0).all()
    if max_points is not None:
        assert len(steps) <= max_points
    if max_points is None or len(eligible) <= max_points:
        if every == 1:
            np.testing.assert_array_equal(steps, eligible)
        else:
            expected = list(eligible[::every])
            if expected[-1] != eligible[-1]:
                expected.append(eligible[-1])
            np.testing.assert_array_equal(steps, expected)
    # fields of one call are aligned row by row
    cols = h.columns(["step", "lr", "weight_norm"], every=every, max_points=max_points,
                     since_step=since)
    np.testing.assert_array_equal(cols["lr"], cols["step"] + 0.02)
    np.testing.assert_array_equal(cols["weight_norm"][:, 0], cols["step"] + 1)


def test_columns_max_points_examples() -> None:
    h = filled(100, fast=True)
    steps = h.columns(["step"], max_points=10)["step"]
    assert len(steps) <= 10 and steps[0] == 0 and steps[-1] == 99
    steps = h.columns(["step"], max_points=1)["step"]
    np.testing.assert_array_equal(steps, [99])
    steps = h.columns(["step"], every=30)["step"]
    np.testing.assert_array_equal(steps, [0, 30, 60, 90, 99])
    steps = h.columns(["step"], since_step=95)["step"]
    np.testing.assert_array_equal(steps, [95, 96, 97, 98, 99])
    assert len(h.columns(["step"], since_step=100)["step"]) == 0


def test_since_step_after_decimation() -> None:
    h = filled(2500, fast=True, budget=1)  # capacity 1024 -> decimated
    assert h.stride > 1
    steps = h.columns(["step"], since_step=1001)["step"]
    assert steps[0] >= 1001 and steps[0] - 1001 < h.stride
    assert (steps % h.stride == 0).all()


def test_equal() -> None:
    a, b = filled(50), filled(50)
    assert a.equal(b)  # NaN entries compare equal
    assert not a.equal(filled(49))
    c = History(N_LAYERS)
    for t in range(50):
        rec = record(t)
        if t == 17:
            rec["grad_norm"] = [rec["grad_norm"][0], rec["grad_norm"][1] + 2**-40]
        c.append(rec)
    assert not a.equal(c)
    d = History(N_LAYERS)
    for t in range(50):
        rec = record(t)
        if t == 3:
            rec["lr"] = np.nextafter(rec["lr"], 10.0)
        d.append(rec)
    assert not a.equal(d)
    e = History(N_LAYERS)
    for t in range(50):
        rec = record(t)
        if t == 4:
            rec["val_loss"] = 4.0 + 0.0  # was 4.0: unchanged
        if t == 5:
            rec["val_loss"] = 0.0  # was None (NaN)
        e.append(rec)
    assert not a.equal(e)
    # different stride, same rows is not equal
    f, g = filled(2100, fast=True, budget=1), filled(2100, fast=True, budget=1)
    assert f.stride == 4 and f.equal(g)
    g.stride *= 2
    assert not f.equal(g)


def test_layer_record_length_mismatch_raises() -> None:
    h = History(N_LAYERS)
    rec = record(0)
    rec["grad_norm"] = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        h.append(rec)


def test_rows_are_copies_within_bounds() -> None:
    h = History(2)
    for t in range(5):
        h.append(record(t, 2))
    scalars, layers = h.rows(1, 4)
    assert scalars.shape == (3, len(SCALAR_FIELDS)) and layers.shape == (3, len(LAYER_FIELDS), 2)
    np.testing.assert_array_equal(scalars[:, 0], [1, 2, 3])
    scalars[:] = -1.0
    layers[:] = -1.0
    assert h.rows(1, 2)[0][0, 0] == 1.0  # the history is untouched
    assert h.rows(5, 5)[0].shape == (0, len(SCALAR_FIELDS))
    for bad in ((-1, 2), (3, 2), (0, 6)):
        with pytest.raises(IndexError):
            h.rows(*bad)
