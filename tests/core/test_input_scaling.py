"""core.labs.input_scaling: the normalisation lab's linear-model surface and GD path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import make_dataset
from core.errors import ConfigError
from core.labs.input_scaling import input_scaling


def _data(method: str, n: int = 200, noise: float = 0.1, seed: int = 0):
    ds = make_dataset("unscaled", n, noise, val_fraction=0.0, normalize=method,
                      rng=np.random.default_rng(seed))
    return ds.x_train, ds.y_train[:, 0]


def test_path_is_gradient_descent_on_the_drawn_surface() -> None:
    out = input_scaling(steps=30, grid=21)
    assert [m["normalize"] for m in out["methods"]] == ["none", "minmax", "zscore"]
    for m in out["methods"]:
        x, y = _data(m["normalize"])
        w_star, b_star = m["w_star"], m["b_star"]
        # least squares: the normal equations hold at (w*, b*)
        design = np.column_stack([x, np.ones(len(x))])
        residual = design @ np.append(w_star, b_star) - y
        assert np.abs(design.T @ residual).max() < 1e-6 * max(1.0, np.abs(design).max() ** 2)
        hessian = 2 * x.T @ x / len(x)
        np.testing.assert_allclose(m["hessian_eigenvalues"], np.linalg.eigvalsh(hessian),
                                   rtol=1e-12)
        assert m["lr"] == pytest.approx(0.9 * 2 / m["hessian_eigenvalues"][-1], rel=1e-15)
        # every step is w ← w − lr·∇L(w) with ∇L = 2Xᵀ(Xw + b* − y)/n, and loss = L(w_t)
        path = m["path"]
        assert path.shape == (31, 2) and not path[0].any()
        for t in range(30):
            grad = 2 * x.T @ (x @ path[t] + b_star - y) / len(x)
            np.testing.assert_allclose(path[t + 1], path[t] - m["lr"] * grad, rtol=1e-10,
                                       atol=1e-12)
        for t in (0, 10, 30):
            assert m["loss"][t] == pytest.approx(np.mean((x @ path[t] + b_star - y) ** 2),
                                                 rel=1e-12)
        # the surface is that loss on the grid (rows follow w2)
        g = m["grid"]
        for i, j in ((0, 0), (5, 17), (20, 3)):
            w = np.array([g["w1"][i], g["w2"][j]])
            assert g["loss"][j, i] == pytest.approx(np.mean((x @ w + b_star - y) ** 2),
                                                    rel=1e-9, abs=1e-9)


def test_normalisation_conditions_the_surface() -> None:
    """Unscaled: κ ≈ 10⁶ and 50 steps leave w far from w*; z-score: κ near 1, converged."""
    none, minmax, zscore = input_scaling()["methods"]
    assert none["condition_number"] > 1e5
    assert minmax["condition_number"] < 20 and zscore["condition_number"] < 3
    assert none["final_distance"] > 1.0  # w1 has barely moved: the flat direction creeps
    assert zscore["final_distance"] < 1e-4 and minmax["final_distance"] < 1e-2
    # In the Hessian's eigenbasis the components of w − w* evolve apart: the steep one by
    # (1 − lr·λmax) = −0.8 per step (it flips sign every step: the zig-zag across the valley),
    # the flat one by (1 − lr·λmin), which without normalisation is 1 − 1e-6 (the creep).
    x, _ = _data("none")
    _, vectors = np.linalg.eigh(2 * x.T @ x / len(x))
    offsets = (none["path"] - none["w_star"]) @ vectors  # columns: flat, steep
    steep, flat = offsets[:, 1], offsets[:, 0]
    np.testing.assert_allclose(steep[1:], -0.8 * steep[:-1], rtol=1e-6, atol=1e-12)
    assert np.all(np.sign(steep[1:]) == -np.sign(steep[:-1]))
    assert abs(flat[-1]) > 0.999 * abs(flat[0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n": 5}, "n"), ({"steps": 0}, "steps"), ({"lr_fraction": 1.0}, "lr_fraction"),
     ({"grid": 500}, "grid"), ({"noise": -1.0}, "noise"), ({"seed": -1}, "seed")],
)
def test_bad_values_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        input_scaling(**kwargs)
    assert info.value.field == field


@settings(max_examples=15, deadline=None)
@given(st.integers(10, 300), st.floats(0.0, 1.0), st.integers(1, 40), st.floats(0.01, 0.99),
       st.integers(0, 2**32))
def test_stable_rates_never_increase_the_loss(n: int, noise: float, steps: int, frac: float,
                                              seed: int) -> None:
    """Below 2/λmax gradient descent on a quadratic never increases the loss."""
    for m in input_scaling(n=n, noise=noise, steps=steps, lr_fraction=frac, grid=11,
                           seed=seed)["methods"]:
        loss = m["loss"]
        assert np.all(np.isfinite(loss))
        assert np.all(np.diff(loss) <= 1e-9 * np.maximum(1.0, loss[:-1]))
