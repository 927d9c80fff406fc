"""Tests for core.labs.trajectories: test functions and trajectories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.labs.trajectories import TEST_FUNCTIONS, contour, trajectory
from core.optimizers import OPTIMIZERS

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
    """Every listed minimum is stationary and lower than a ring of points around it; the first
    is the lowest point of the view window."""
    comp = TEST_FUNCTIONS.get(name)
    f = TEST_FUNCTIONS.create(name)
    assert f.minima() == comp.meta["minima"]
    grid = contour(name, resolution=60)
    for mx, my in f.minima():
        gx, gy = f.gradient(mx, my)
        assert abs(gx) < 1e-9 and abs(gy) < 1e-9
        ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = f.value(mx + 1e-3 * np.cos(ang), my + 1e-3 * np.sin(ang))
        assert np.all(ring > f.value(mx, my))
    if f.minima():
        assert f.value(*f.minima()[0]) <= grid["z"].min() + 1e-12
        values = [float(f.value(*m)) for m in f.minima()]
        assert all(lo <= hi + 1e-12 for lo, hi in zip(values, values[1:], strict=False))
    lo, hi = comp.meta["view"]["x"]
    assert lo < comp.meta["start"][0] < hi


def _grid_local_minima(name: str, resolution: int = 301) -> list[tuple[float, float]]:
    """Interior grid points lower than their 8 neighbours (an independent, brute-force look)."""
    c = contour(name, resolution=resolution)
    z = c["z"]
    core = z[1:-1, 1:-1]
    lower = np.ones_like(core, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                lower &= core < z[1 + di : z.shape[0] - 1 + di, 1 + dj : z.shape[1] - 1 + dj]
    ii, jj = np.nonzero(lower)
    return [(float(c["x"][j + 1]), float(c["y"][i + 1])) for i, j in zip(ii, jj, strict=True)]


@pytest.mark.parametrize("name", ["wells", "himmelblau", "plateau", "quadratic"])
def test_minima_list_is_complete(name: str) -> None:
    """A fine grid finds exactly one local minimum near each listed one, and no others."""
    found = _grid_local_minima(name)
    minima = TEST_FUNCTIONS.create(name).minima()
    assert len(found) == len(minima)
    step = 10.0 / 300 * 1.5
    for m in minima:
        assert min(np.hypot(m[0] - x, m[1] - y) for x, y in found) < step


def test_wells_has_three_minima_of_different_depth() -> None:
    f = TEST_FUNCTIONS.create("wells")
    values = [float(f.value(*m)) for m in f.minima()]
    assert len(values) == 3 and values[0] < values[1] < values[2]


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(-4, 4), y=st.floats(-4, 4), a=st.floats(0.1, 100), b=st.floats(0.1, 100),
    rotation=st.floats(-180, 180), width=st.floats(0.1, 5),
)
def test_parameterised_gradients_match_finite_differences(
    x: float, y: float, a: float, b: float, rotation: float, width: float
) -> None:
    for name, params in [("quadratic", {"a": a, "b": b, "rotation": rotation}),
                         ("plateau", {"width": width})]:
        f = TEST_FUNCTIONS.create(name, params)
        h = 1e-6
        gx, gy = f.gradient(x, y)
        nx = (f.value(x + h, y) - f.value(x - h, y)) / (2 * h)
        ny = (f.value(x, y + h) - f.value(x, y - h)) / (2 * h)
        scale = 1e-6 * (1.0 + abs(float(f.value(x, y))) + abs(float(gx)) + abs(float(gy)))
        assert abs(gx - nx) <= scale and abs(gy - ny) <= scale, (name, params)


def test_rotated_quadratic_has_its_curvatures_along_the_rotated_axes() -> None:
    f = TEST_FUNCTIONS.create("quadratic", {"a": 2.0, "b": 8.0, "rotation": 30.0})
    t = np.radians(30.0)
    e1, e2 = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    assert f.value(*(3 * e1)) == pytest.approx(0.5 * 2.0 * 9)
    assert f.value(*(3 * e2)) == pytest.approx(0.5 * 8.0 * 9)
    np.testing.assert_allclose(f.gradient(*(3 * e2)), 8.0 * 3 * e2, rtol=1e-12)
    # rotation 0 is the original axis-aligned bowl, bit for bit
    g = TEST_FUNCTIONS.create("quadratic", {"a": 2.0, "b": 8.0})
    assert g.value(1.3, -0.7) == 0.5 * (2.0 * 1.3 * 1.3 + 8.0 * 0.7 * 0.7)


def test_sgd_is_rotation_invariant_adam_is_not() -> None:
    t = np.radians(40.0)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    start = np.array([-2.5, 1.5])
    for name, same in [("sgd", True), ("adam", False)]:
        opt = {"name": name, "lr": 0.05}
        plain = trajectory("quadratic", start.tolist(), opt, steps=30)["path"]
        rotated = trajectory("quadratic", (R @ start).tolist(), opt, steps=30,
                             params={"rotation": 40.0})["path"]
        assert np.allclose(rotated, plain @ R.T, atol=1e-9) == same


def test_plateau_is_flat_then_drops() -> None:
    f = TEST_FUNCTIONS.create("plateau")
    gx, gy = f.gradient(-4.0, 3.0)
    assert np.hypot(gx, gy) < 1e-4 and f.value(-4.0, 3.0) > 0.99
    sgd = trajectory("plateau", None, {"name": "sgd", "lr": 0.1}, steps=200)
    adam = trajectory("plateau", None, {"name": "adam", "lr": 0.1}, steps=200)
    rprop = trajectory("plateau", None, {"name": "rprop", "lr": 0.01}, steps=200)
    assert sgd["distance"][-1] > 4.9  # still on the plateau
    assert adam["distance"][-1] < 0.1  # crossed it and dropped in
    assert rprop["distance"][-1] < 0.1


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


def test_distance_to_the_nearest_minimum() -> None:
    r = trajectory("himmelblau", [0.0, 0.0], {"name": "adam", "lr": 0.05}, steps=50)
    minima = np.array(r["minima"])
    expected = [np.min(np.hypot(*(minima - p).T)) for p in r["path"]]
    np.testing.assert_allclose(r["distance"], expected, rtol=1e-12)
    assert r["distance"].shape == (51,)
    assert trajectory("saddle", steps=3)["distance"] is None


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


# --- optimizer state along the path ("state": true) -----------------------------------------

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden_trajectories.json"
RTOL, ATOL = 1e-6, 1e-12


def _golden_cases() -> list[dict[str, Any]]:
    return json.loads(GOLDEN.read_text())["cases"]


def test_golden_cases_cover_every_optimizer() -> None:
    assert {c["optimizer"] for c in _golden_cases()} == set(OPTIMIZERS.names())


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda c: c["name"])
def test_state_equals_torch_after_every_step(case: dict[str, Any]) -> None:
    """Path and ``state`` equal torch's parameters and ``optimizer.state[p]`` after every step
    (torch differentiates its own copy of the surface by autograd)."""
    r = trajectory(case["function"], case["start"],
                   {"name": case["optimizer"], "lr": case["lr"], **case["hp"]},
                   steps=case["steps"], params=case["params"], state=True)
    np.testing.assert_allclose(r["path"][1:], case["path"], rtol=RTOL, atol=ATOL)
    for t, ref in enumerate(case["states"]):
        assert sorted(r["state"]) == sorted(ref), f"step {t}"
        for key, value in ref.items():
            expected = np.broadcast_to(np.asarray(value, dtype=np.float64), (2,))
            np.testing.assert_allclose(r["state"][key][t], expected, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case['name']} step {t} {key}")
    assert r["effective_lr"].shape == (case["steps"], 2)


def _direction(name: str, hp: dict[str, Any], st: dict[str, np.ndarray], g: np.ndarray,
               t: int) -> np.ndarray:
    """What effective_lr multiplies in each optimizer's update (documented per class)."""
    b1 = hp.get("betas", [0.9, 0.999])[0]
    if name in ("sgd",):
        return st["momentum_buffer"][t] if "momentum_buffer" in st else g
    if name in ("adagrad", "rmsprop", "adadelta"):
        return g
    if name in ("adam", "adamw", "adamax", "radam"):
        return st["exp_avg"][t] / (1 - b1 ** (t + 1))
    if name == "nadam":
        psi = hp.get("momentum_decay", 0.004)
        mu = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 2) * psi))
        prod = st["mu_product"][t][0]
        return (1 - mu) / (1 - prod) * g + mu_next / (1 - prod * mu_next) * st["exp_avg"][t]
    assert name == "rprop"
    return np.sign(st["prev"][t])


@pytest.mark.parametrize(
    ("name", "hp"),
    [("sgd", {}), ("sgd", {"momentum": 0.9}), ("adagrad", {"lr_decay": 0.1}),
     ("rmsprop", {"centered": True}), ("adam", {"amsgrad": True}), ("adamw", {"weight_decay": 0}),
     ("nadam", {"momentum_decay": 0.05}), ("radam", {"betas": [0.9, 0.9]}), ("adamax", {}),
     ("adadelta", {"rho": 0.8}), ("rprop", {})],
)
def test_effective_lr_times_direction_is_the_update(name: str, hp: dict[str, Any]) -> None:
    """θ_{t+1} − θ_t = −effective_lr[t] ⊙ direction[t], the direction named in each
    optimizer's docstring (gradient, momentum buffer, m̂, NAdam's Nesterov mix, sign)."""
    r = trajectory("himmelblau", [0.5, -0.3], {"name": name, "lr": 0.005, **hp}, steps=25,
                   state=True)
    assert r["steps_done"] == 25
    f = TEST_FUNCTIONS.create("himmelblau")
    for t in range(25):
        g = np.array(f.gradient(*r["path"][t]))
        step = r["path"][t + 1] - r["path"][t]
        expected = -r["effective_lr"][t] * _direction(name, hp, r["state"], g, t)
        np.testing.assert_allclose(step, expected, rtol=1e-9, atol=1e-15, err_msg=f"step {t}")


def test_state_is_off_by_default_and_nan_free_json() -> None:
    r = trajectory("quadratic", steps=3)
    assert "state" not in r and "effective_lr" not in r
    r = trajectory("quadratic", optimizer={"name": "sgd", "lr": 0.1}, steps=3, state=True)
    assert r["state"] == {} and np.all(r["effective_lr"] == 0.1)  # torch keeps no SGD state


def test_diverged_run_returns_state_of_the_finite_prefix() -> None:
    r = trajectory("rosenbrock", [3.0, 3.0], {"name": "sgd", "lr": 0.1, "momentum": 0.5},
                   steps=50, state=True)
    k = r["steps_done"]
    assert r["diverged"] and 0 < k < 50
    assert all(v.shape == (k, 2) for v in r["state"].values())
    assert r["effective_lr"].shape == (k, 2)
