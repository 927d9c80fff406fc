"""Input normalisation lab: the loss surface of a linear model on the ``unscaled`` data with
each normalisation, and the path full-batch gradient descent takes on it.

The model is ``ŷ = x @ w + b`` with the engine's ``mse`` loss (torch ``MSELoss``,
``L = mean((ŷ − y)²)``) on the ``unscaled`` regression data (x1 ~ U(0, 1), x2 ~ U(0, 1000)),
its inputs normalised with ``none``, ``minmax`` or ``zscore`` (statistics of the data itself,
as :func:`core.datasets.make_dataset` fits them on the training split; here every row trains).

So that the picture is a true 2-D one, the bias is held at its least-squares value ``b*`` and
gradient descent moves ``w = (w1, w2)`` only: ``L(w) = mean((X w + b* − y)²)`` is then exactly
the surface drawn, a quadratic with Hessian ``H = 2 XᵀX / n`` ``(2, 2)``. Its condition number
``κ = λmax / λmin`` is what normalisation changes (about 10⁶ without it here). Gradient descent
starts at ``w = 0`` with ``lr = lr_fraction · 2 / λmax`` (``lr_fraction < 1`` is stable; the
default 0.9 makes the steep direction overshoot, so an ill-conditioned valley shows the
zig-zag, while the flat direction creeps by a factor ``1 − lr·λmin`` per step).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.datasets import NORMALIZE_METHODS, make_dataset
from core.labs._common import FloatArray, check, seed_param
from core.losses import LOSSES
from core.registry import Param

__all__ = ["INPUT_SCALING_PARAMS", "input_scaling"]

INPUT_SCALING_PARAMS = (
    Param("n", "int", 200, min=10, max=2000, help="Samples of the unscaled data."),
    Param("noise", "float", 0.1, min=0.0, max=1.0, help="Std of the target noise."),
    Param("steps", "int", 50, min=1, max=1000, help="Gradient-descent steps."),
    Param("lr_fraction", "float", 0.9, min=0.01, max=0.99,
          help="Learning rate as a fraction of 2/λmax (the stability limit)."),
    Param("grid", "int", 61, min=11, max=201, help="Contour grid points per axis."),
)


def _surface(x: FloatArray, y: FloatArray, b: float, w1: FloatArray, w2: FloatArray) -> FloatArray:
    """``L(w1, w2) = mean((x @ w + b − y)²)`` on the grid ``w2 (g,) × w1 (g,)`` → ``(g, g)``
    (rows follow ``w2``, as a contour's ``z[j][i]`` at ``(w1[i], w2[j])``). Expanded as the
    quadratic ``wᵀAw + 2wᵀc + d`` with ``A = XᵀX/n`` to stay O(g²)."""
    r0 = b - y[:, 0]  # residual at w = 0
    n = len(x)
    a = x.T @ x / n
    c = x.T @ r0 / n
    d = float(r0 @ r0 / n)
    W1, W2 = np.meshgrid(w1, w2)
    quadratic = a[0, 0] * W1**2 + 2 * a[0, 1] * W1 * W2 + a[1, 1] * W2**2
    return quadratic + 2 * (c[0] * W1 + c[1] * W2) + d


def _axis(values: FloatArray, centre: float, size: int) -> FloatArray:
    lo, hi = float(min(values.min(), centre)), float(max(values.max(), centre))
    pad = 0.15 * (hi - lo) if hi > lo else max(1.0, abs(centre))
    return np.linspace(lo - pad, hi + pad, size)


def input_scaling(
    n: int = 200,
    noise: float = 0.1,
    steps: int = 50,
    lr_fraction: float = 0.9,
    grid: int = 61,
    seed: int = 0,
) -> dict[str, Any]:
    """For each of ``none``, ``minmax``, ``zscore``: ``{normalize, w_star (2,), b_star,
    hessian_eigenvalues (2,) ascending, condition_number, lr, path (steps+1, 2), loss
    (steps+1,), final_distance (|w_T − w*|), grid: {w1 (g,), w2 (g,), loss (g, g)}}``, as
    ``{"methods": [...], "steps", "lr_fraction"}``. Bad values raise ConfigError naming the
    parameter and its range."""
    values = {p.name: check(p, v) for p, v in zip(
        INPUT_SCALING_PARAMS, (n, noise, steps, lr_fraction, grid), strict=True)}
    seed = seed_param(seed)
    mse = LOSSES.create("mse", {})
    out = []
    for method in NORMALIZE_METHODS:
        ds = make_dataset("unscaled", values["n"], values["noise"], val_fraction=0.0,
                          normalize=method, rng=np.random.default_rng(seed))
        x, y = ds.x_train, ds.y_train
        design = np.column_stack([x, np.ones(len(x))])
        coef = np.linalg.lstsq(design, y[:, 0], rcond=None)[0]
        w_star, b_star = coef[:2], float(coef[2])
        hessian = 2.0 * x.T @ x / len(x)
        eig = np.linalg.eigvalsh(hessian)
        lr = values["lr_fraction"] * 2.0 / float(eig[-1])
        w = np.zeros(2)
        path, losses = [w.copy()], []
        for t in range(values["steps"] + 1):
            loss, g_out = mse.value_and_grad((x @ w + b_star)[:, None], y)
            losses.append(loss)
            if t == values["steps"]:
                break
            w = w - lr * (x.T @ g_out[:, 0])  # ∂L/∂w = Xᵀ ∂L/∂ŷ, the engine's loss gradient
            path.append(w.copy())
        path_arr = np.array(path)
        w1 = _axis(path_arr[:, 0], float(w_star[0]), values["grid"])
        w2 = _axis(path_arr[:, 1], float(w_star[1]), values["grid"])
        out.append({
            "normalize": method,
            "w_star": w_star,
            "b_star": b_star,
            "hessian_eigenvalues": eig,
            "condition_number": float(eig[-1] / eig[0]),
            "lr": lr,
            "path": path_arr,
            "loss": np.array(losses),
            "final_distance": float(np.linalg.norm(path_arr[-1] - w_star)),
            "grid": {"w1": w1, "w2": w2, "loss": _surface(x, y, b_star, w1, w2)},
        })
    return {"methods": out, "steps": values["steps"], "lr_fraction": values["lr_fraction"]}
