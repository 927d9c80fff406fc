"""Tests for core.labs.sparsity: regularization path and penalty geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.labs.sparsity import (
    default_lambdas,
    penalty_geometry,
    regularization_data,
    regularization_path,
    solve_penalized_2d,
)
from core.trainer import Run

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
