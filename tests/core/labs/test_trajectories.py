"""Tests for core.labs.trajectories: test functions and trajectories."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.labs.trajectories import TEST_FUNCTIONS, contour, trajectory

# --- test functions and trajectories ---------------------------------------------------------


@pytest.mark.parametrize("name", TEST_FUNCTIONS.names())
@settings(max_examples=25, deadline=None)
@given(x=st.floats(-3, 3), y=st.floats(-3, 3))
def test_gradients_match_finite_differences(name: str, x: float, y: float) -> None:
    f = TEST_FUNCTIONS.create(name)
    h = 1e-6
    gx, gy = f.gradient(x, y)
    nx = (f.value(x + h, y) - f.value(x - h, y)) / (2 * h)
    ny = (f.value(x, y + h) - f.value(x, y - h)) / (2 * h)
    scale = 1e-6 * (1.0 + abs(float(f.value(x, y))) + abs(float(gx)) + abs(float(gy)))
    assert abs(gx - nx) <= scale and abs(gy - ny) <= scale


@pytest.mark.parametrize("name", TEST_FUNCTIONS.names())
def test_minima_are_stationary_and_lowest(name: str) -> None:
    comp = TEST_FUNCTIONS.get(name)
    f = TEST_FUNCTIONS.create(name)
    assert f.minima() == comp.meta["minima"]
    for mx, my in f.minima():
        gx, gy = f.gradient(mx, my)
        assert abs(gx) < 1e-9 and abs(gy) < 1e-9
        grid = contour(name, resolution=60)
        assert f.value(mx, my) <= grid["z"].min() + 1e-12
    lo, hi = comp.meta["view"]["x"]
    assert lo < comp.meta["start"][0] < hi


def test_rosenbrock_minimum_moves_with_a() -> None:
    f = TEST_FUNCTIONS.create("rosenbrock", {"a": 2.0, "b": 5.0})
    assert f.minima() == [[2.0, 4.0]] and f.value(2.0, 4.0) == 0.0


@settings(max_examples=30, deadline=None)
@given(
    lr=st.floats(0.001, 0.19), a=st.floats(0.1, 5), b=st.floats(0.1, 10),
    x0=st.floats(-3, 3), y0=st.floats(-3, 3), steps=st.integers(1, 50),
)
def test_sgd_on_quadratic_is_closed_form(
    lr: float, a: float, b: float, x0: float, y0: float, steps: int
) -> None:
    r = trajectory("quadratic", [x0, y0], {"name": "sgd", "lr": lr}, steps=steps,
                   params={"a": a, "b": b})
    t = np.arange(steps + 1)
    expected = np.column_stack([(1 - lr * a) ** t * x0, (1 - lr * b) ** t * y0])
    np.testing.assert_allclose(r["path"], expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r["value"], 0.5 * (a * expected[:, 0] ** 2
                                                  + b * expected[:, 1] ** 2), rtol=1e-9,
                               atol=1e-12)
    assert r["path"][0].tolist() == [x0, y0] and r["lr"].shape == (steps,)
    assert not r["diverged"]


def test_trajectory_uses_schedule_rates() -> None:
    sched = {"name": "step", "step_size": 2, "gamma": 0.5, "warmup_steps": 1}
    r = trajectory("quadratic", [1.0, 1.0], {"name": "sgd", "lr": 0.1}, sched, steps=6)
    np.testing.assert_allclose(r["lr"], [0.1, 0.1, 0.1, 0.05, 0.05, 0.025])
    x = 1.0
    for lr in r["lr"]:
        x *= 1 - lr * 1.0
    assert r["path"][-1][0] == pytest.approx(x, rel=1e-12)


def test_trajectory_divergence_is_reported_not_raised() -> None:
    r = trajectory("quadratic", [1.0, 1.0], {"name": "sgd", "lr": 0.5}, steps=5000)
    # lr·b = 5 > 2: y multiplies by −4 each step until it overflows
    assert r["diverged"] and r["diverged_at"] == r["steps_done"] + 1
    assert np.all(np.isfinite(r["path"])) and len(r["path"]) == r["steps_done"] + 1
    assert len(r["lr"]) == r["steps_done"] < 5000


def test_adam_reaches_a_himmelblau_minimum() -> None:
    r = trajectory("himmelblau", None, {"name": "adam", "lr": 0.05}, steps=3000)
    end = r["path"][-1]
    assert min(np.hypot(*(end - np.array(m))) for m in r["minima"]) < 1e-3


def test_saddle_escapes_slowly() -> None:
    r = trajectory("saddle", [-2.0, 0.01], {"name": "sgd", "lr": 0.1}, steps=10)
    np.testing.assert_allclose(r["path"][:, 1], 0.01 * 1.2 ** np.arange(11), rtol=1e-12)


def test_contour_layout() -> None:
    c = contour("rosenbrock", {"a": 1.0}, [-1, 2], [0, 3], resolution=5)
    assert c["z"].shape == (5, 5)
    assert c["z"][2, 3] == TEST_FUNCTIONS.create("rosenbrock").value(c["x"][3], c["y"][2])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: trajectory("nope"), "params.name"),
        (lambda: trajectory("quadratic", [1.0]), "start"),
        (lambda: trajectory("quadratic", [1.0, float("nan")]), "start[1]"),
        (lambda: trajectory("quadratic", steps=0), "steps"),
        (lambda: trajectory("quadratic", steps=10001), "steps"),
        (lambda: trajectory("quadratic", optimizer={"name": "sgd", "lr": -1}), "optimizer.lr"),
        (lambda: trajectory("quadratic", optimizer={"name": "x"}), "optimizer.name"),
        (lambda: trajectory("quadratic", schedule={"name": "step", "gamma": 2}),
         "schedule.gamma"),
        (lambda: trajectory("quadratic", params={"a": 0}), "params.a"),
        (lambda: contour("quadratic", x_range=[1, 0]), "x_range"),
        (lambda: contour("quadratic", resolution=1), "resolution"),
    ],
)
def test_trajectory_validation(call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as e:
        call()
    assert e.value.field == field
