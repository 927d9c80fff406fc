"""Tests for core.analysis: depth profile, trajectories, regularization path, penalty geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.analysis import (
    TEST_FUNCTIONS,
    contour,
    default_lambdas,
    depth_profile,
    depth_setup,
    penalty_geometry,
    regularization_data,
    regularization_path,
    solve_penalized_2d,
    trajectory,
)
from core.errors import ConfigError
from core.losses import LOSSES
from core.trainer import Run

# --- depth profile ---------------------------------------------------------------------------


def grad_norms(**kw: object) -> np.ndarray:
    return np.array([layer["grad_norm"] for layer in depth_profile(**kw)["layers"]])


def test_depth_profile_structure() -> None:
    r = depth_profile(depth=3, width=5, activation="relu", n=16, bins=7)
    names = [layer["name"] for layer in r["layers"]]
    assert names == ["hidden 1", "hidden 2", "hidden 3", "output"]
    for layer in r["layers"]:
        assert len(layer["act_hist"]["counts"]) == 7 and len(layer["act_hist"]["edges"]) == 8
        assert layer["saturation"] is None
    assert sum(r["layers"][0]["act_hist"]["counts"]) == 16 * 5
    assert r["layers"][-1]["dead_fraction"] is None  # n/a for the output layer
    assert all(0.0 <= layer["dead_fraction"] <= 1.0 for layer in r["layers"][:-1])
    assert r["finite"]


def test_depth_profile_grad_norm_equals_finite_differences() -> None:
    kw = dict(depth=3, width=4, activation="tanh", init="normal", n=5, seed=3,
              init_params={"std": 0.7})
    r = depth_profile(**kw)
    model, x, y = depth_setup(**kw)
    loss = LOSSES.create("mse")
    rng = np.random.default_rng(0)
    h = 1e-6
    numeric = np.empty(model.n_weights)
    for i in range(model.n_weights):
        old = model.theta[i]
        model.theta[i] = old + h
        up = loss.value(model.forward_train(x, rng), y)
        model.theta[i] = old - h
        down = loss.value(model.forward_train(x, rng), y)
        model.theta[i] = old
        numeric[i] = (up - down) / (2 * h)
    fd_norms = np.sqrt(np.add.reduceat(numeric**2, model.weight_offsets))
    np.testing.assert_allclose([lay["grad_norm"] for lay in r["layers"]], fd_norms, rtol=1e-6)
    np.testing.assert_allclose(r["loss"], loss.value(model.forward_train(x, rng), y), rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_sigmoid_normal_init_vanishes(seed: int) -> None:
    g = grad_norms(depth=20, width=16, activation="sigmoid", init="normal", seed=seed)
    assert g[0] < 1e-3 * g[-2]  # first hidden layer vs last hidden layer


@pytest.mark.parametrize("seed", range(5))
def test_kaiming_relu_and_xavier_tanh_stay_flat(seed: int) -> None:
    g = grad_norms(depth=20, width=32, activation="relu", init="kaiming_normal", seed=seed)
    assert 0.1 < g[0] / g[-2] < 10
    g = grad_norms(depth=20, width=32, activation="tanh", init="xavier_uniform", seed=seed)
    assert 0.1 < g[0] / g[-2] < 10


@pytest.mark.parametrize("fix", [{"batch_norm": True}, {"residual": True}])
def test_batch_norm_and_residual_stop_vanishing(fix: dict) -> None:
    for seed in range(3):
        g = grad_norms(depth=20, width=16, activation="sigmoid", init="normal", seed=seed, **fix)
        assert g[0] > 1e-2 * g[-2]


def test_relu_normal_init_explodes() -> None:
    r = depth_profile(depth=20, width=32, activation="relu", init="normal")
    std = np.array([layer["act_std"] for layer in r["layers"][:-1]])
    growth = std[1:] / std[:-1]  # ≈ √(width/2) = 4 per layer for ReLU with N(0, 1)
    assert np.all((growth > 2) & (growth < 8))
    assert min(layer["grad_norm"] for layer in r["layers"]) > 1e15


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_zero_init_hidden_gradients_are_exactly_zero(activation: str) -> None:
    g = grad_norms(depth=5, width=8, activation=activation, init="zeros")
    assert np.all(g[:-1] == 0.0)  # W_out = 0 blocks every signal to the hidden layers
    # output layer: dL/dW_out = hᵀg with h = f(0): zero for tanh/relu, not for sigmoid (0.5)
    assert (g[-1] > 0) == (activation == "sigmoid")


def test_depth_profile_overflow_does_not_raise() -> None:
    r = depth_profile(depth=50, width=128, activation="relu", init="normal", n=8,
                      init_params={"std": 100.0})  # activations near 1e296: finite, but the
    assert r["loss"] > 1e290  # histogram range max − min overflows
    for layer in r["layers"]:
        for hist in (layer["act_hist"], layer["grad_hist"]):
            assert np.all(np.isfinite(hist["edges"]))
        assert sum(layer["act_hist"]["counts"]) == 8 * layer["width"]
        assert sum(layer["grad_hist"]["counts"]) + layer["grad_hist"]["nonfinite"] == (
            128 * layer["width"])
    r = depth_profile(depth=50, width=256, activation="relu", init="normal", n=8,
                      init_params={"std": 100.0})
    assert not r["finite"]  # the loss (≈ 1e310) overflowed; still no exception
    assert all(np.all(np.isfinite(layer["grad_hist"]["edges"])) for layer in r["layers"])


def test_saturation_reported_for_sigmoid() -> None:
    r = depth_profile(depth=4, width=16, activation="sigmoid", init="normal",
                      init_params={"std": 5.0})
    sat = [layer["saturation"] for layer in r["layers"]]
    assert sat[-1] is None and all(s > 0.5 for s in sat[:-1])


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"depth": 0}, "depth"), ({"depth": 51}, "depth"), ({"width": 513}, "width"),
     ({"n": 0}, "n"), ({"activation": "nope"}, "activation"), ({"init": "x"}, "init"),
     ({"bins": 0}, "bins"), ({"init_params": {"std": -1.0}, "init": "normal"}, "init_params.std"),
     ({"seed": -1}, "seed")],
)
def test_depth_profile_validation(kw: dict, field: str) -> None:
    args = {"depth": 2, "width": 3, **kw}
    with pytest.raises(ConfigError) as e:
        depth_profile(**args)
    assert e.value.field == field


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


# --- regularization path ---------------------------------------------------------------------


def kkt_residuals(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, l1: float,
                  l2: float) -> float:
    """Largest violation of the KKT conditions, computed from the raw data (independent code)."""
    n = len(y)
    r = y - x @ w - b
    assert abs(r.mean()) < 1e-10  # intercept optimal
    q = x.T @ r / n - l2 * w
    zero = w == 0
    v1 = np.max(np.abs(q[zero]) - l1, initial=0.0)
    v2 = np.max(np.abs(q[~zero] - l1 * np.sign(w[~zero])), initial=0.0)
    return max(v1, v2)


@pytest.mark.parametrize("method", ["l1", "l2", "elastic_net"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_path_satisfies_kkt(method: str, seed: int) -> None:
    r = regularization_path(method, seed=seed, l1_ratio=0.3)
    x, y, _ = regularization_data(seed=seed)
    for lam, w, b in zip(r["lambdas"], r["coefs"], r["intercepts"], strict=True):
        l1 = {"l1": lam, "l2": 0.0, "elastic_net": 0.3 * lam}[method]
        l2 = {"l1": 0.0, "l2": lam, "elastic_net": 0.7 * lam}[method]
        assert kkt_residuals(x, y, w, b, l1, l2) < 1e-9
    assert np.all(r["kkt"] < 1e-9)


def test_ridge_equals_closed_form() -> None:
    lams = [0.01, 0.5, 3.0]
    r = regularization_path("l2", lams, seed=4)
    x, y, _ = regularization_data(seed=4)
    n, p = x.shape
    xa = np.column_stack([x, np.ones(n)])  # intercept as an unpenalised extra column
    for lam, w, b in zip(lams, r["coefs"], r["intercepts"], strict=True):
        pen = np.diag([lam] * p + [0.0])
        sol = np.linalg.solve(xa.T @ xa / n + pen, xa.T @ y / n)
        np.testing.assert_allclose(w, sol[:p], rtol=1e-9, atol=1e-12)
        assert b == pytest.approx(sol[p], abs=1e-10)


def test_data_is_the_training_split_of_a_matching_run() -> None:
    x, y, truth = regularization_data(n=50, n_features=6, n_informative=2, noise=0.2, seed=9)
    run = Run({"seed": 9, "dataset": {"name": "sparse_linear", "n": 50, "noise": 0.2,
                                      "params": {"n_features": 6, "n_informative": 2}},
               "model": {"hidden": []}})
    np.testing.assert_array_equal(x, run.dataset.x_train)
    np.testing.assert_array_equal(y, run.dataset.y_train[:, 0])
    assert truth["coef"] == run.dataset.truth["coef"]
    assert np.count_nonzero(truth["coef"]) == 2


def test_large_lambda_l1_all_zero_l2_none() -> None:
    lams = [20.0, 100.0]
    l1 = regularization_path("l1", lams)
    l2 = regularization_path("l2", lams)
    assert l1["zeros"] == [20, 20] and l2["zeros"] == [0, 0]
    assert np.all(np.abs(l2["coefs"]) > 0)


@pytest.mark.parametrize("method", ["l1", "elastic_net"])
def test_lambda_max_is_the_exact_threshold(method: str) -> None:
    lam_max = regularization_path(method, [1.0])["lambda_max"]
    r = regularization_path(method, [lam_max * (1 + 1e-9), lam_max * (1 - 1e-6)])
    assert r["zeros"] == [20, 19]


@pytest.mark.parametrize("seed", range(5))
def test_lasso_zeros_non_decreasing_on_default_data(seed: int) -> None:
    # Not a theorem (variables can leave the lasso path), but true on this near-orthogonal data.
    z = regularization_path("l1", seed=seed)["zeros"]
    assert all(a <= b for a, b in zip(z, z[1:], strict=False))
    assert z[-1] == 20


def test_lasso_recovers_the_informative_features() -> None:
    r = regularization_path("l1", [0.5])
    support = np.flatnonzero(r["coefs"][0])
    assert support.tolist() == r["informative"]


def test_p_close_to_n_is_exact() -> None:
    r = regularization_path("l1", [1e-3, 0.1], n=22, n_features=20, n_informative=5,
                            val_fraction=0.0)
    assert np.all(r["kkt"] < 1e-9)


def test_default_lambdas() -> None:
    lams = default_lambdas()
    assert len(lams) == 30 and lams[0] == pytest.approx(1e-3) and lams[-1] == pytest.approx(10)


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"method": "l3"}, "method"), ({"lambdas": [0.0]}, "lambdas[0]"),
     ({"lambdas": []}, "lambdas"), ({"l1_ratio": 1.5}, "l1_ratio"),
     ({"n_informative": 30}, "n_informative"), ({"n": 10}, "n_features"),
     ({"noise": 2.0}, "noise")],
)
def test_path_validation(kw: dict, field: str) -> None:
    args = {"method": "l1", **kw}
    with pytest.raises(ConfigError) as e:
        regularization_path(**args)
    assert e.value.field == field


# --- penalty geometry ------------------------------------------------------------------------


def brute_force(H: np.ndarray, ws: np.ndarray, l1: float, l2: float) -> tuple[float, np.ndarray]:
    g = np.linspace(-3, 3, 1201)
    X, Y = np.meshgrid(g, g)
    dx, dy = X - ws[0], Y - ws[1]
    f = 0.5 * (H[0, 0] * dx**2 + 2 * H[0, 1] * dx * dy + H[1, 1] * dy**2)
    f += l1 * (np.abs(X) + np.abs(Y)) + 0.5 * l2 * (X**2 + Y**2)
    i = np.unravel_index(np.argmin(f), f.shape)
    return float(f[i]), np.array([X[i], Y[i]])


@settings(max_examples=30, deadline=None)
@given(
    method=st.sampled_from(["l1", "l2", "elastic_net"]), lam=st.floats(0, 3),
    rot=st.floats(-3, 3), c1=st.floats(0.3, 5), c2=st.floats(0.3, 5),
    w1=st.floats(-2, 2), w2=st.floats(-2, 2),
)
def test_geometry_solution_is_optimal(method: str, lam: float, rot: float, c1: float,
                                      c2: float, w1: float, w2: float) -> None:
    r = penalty_geometry(method, lam, [w1, w2], [c1, c2], rot, resolution=10)
    H, ws, w = r["H"], r["w_star"], r["solution"]
    l1 = {"l1": lam, "l2": 0.0, "elastic_net": 0.5 * lam}[method]
    l2 = {"l1": 0.0, "l2": lam, "elastic_net": 0.5 * lam}[method]
    obj = 0.5 * (w - ws) @ H @ (w - ws) + l1 * np.abs(w).sum() + 0.5 * l2 * w @ w
    best, _ = brute_force(H, ws, l1, l2)
    assert obj <= best + 1e-12
    # KKT
    q = H @ (ws - w) - l2 * w
    for j in range(2):
        if w[j] == 0:
            assert abs(q[j]) <= l1 + 1e-9
        else:
            assert q[j] == pytest.approx(l1 * np.sign(w[j]), abs=1e-9)
    # the constraint boundary passes through the solution's penalty level
    pen = lambda v: 0.5 * np.abs(v).sum(axis=-1) * (method != "l2") * (  # noqa: E731
        2.0 if method == "l1" else 1.0) + (0.5 * (v**2).sum(axis=-1)) * (
        1.0 if method == "l2" else 0.5 if method == "elastic_net" else 0.0)
    np.testing.assert_allclose(pen(r["constraint"]), pen(w), atol=1e-9)


def test_l1_gives_exact_zero_l2_does_not() -> None:
    l1 = penalty_geometry("l1", 1.0)
    l2 = penalty_geometry("l2", 1.0)
    assert np.count_nonzero(l1["solution"] == 0.0) == 1
    assert np.all(l2["solution"] != 0.0)
    assert np.all(np.any(l2["path"]["solutions"][1:] != 0.0, axis=1))
    assert np.all(l1["path"]["solutions"][-1] == 0.0)  # the path reaches the origin
    np.testing.assert_allclose(l1["path"]["solutions"][0], l1["w_star"], atol=1e-12)


def test_solve_penalized_2d_without_penalty_is_w_star() -> None:
    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(solve_penalized_2d(H, np.array([1.0, -2.0]), 0.0, 0.0),
                               [1.0, -2.0], atol=1e-12)


def test_geometry_loss_grid() -> None:
    r = penalty_geometry("l2", 0.5, resolution=7)
    H, ws = r["H"], r["w_star"]
    d = np.array([r["x"][2], r["y"][5]]) - ws
    assert r["loss"][5, 2] == pytest.approx(0.5 * d @ H @ d, rel=1e-12)


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"method": "x"}, "method"), ({"lam": -1.0}, "lam"), ({"curvature": [0, 1]}, "curvature[0]"),
     ({"w_star": [1.0]}, "w_star"), ({"resolution": 1}, "resolution")],
)
def test_geometry_validation(kw: dict, field: str) -> None:
    args = {"method": "l1", "lam": 1.0, **kw}
    with pytest.raises(ConfigError) as e:
        penalty_geometry(**args)
    assert e.value.field == field
