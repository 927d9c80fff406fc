"""Sparsity lab: exact regularization paths (lasso, ridge, elastic net) and the 2-D penalty
geometry that explains why L1 gives exact zeros.

Penalties follow the engine's convention ``l1·Σ|w| + (l2/2)·Σw²`` (``core.regularizers``). The
path fits the same ``sparse_linear`` training split a run with the same seed trains on, so the
lab's runs and its exact path agree; fits are exact (feature-sign search / coordinate descent plus
an active-set polish), so unneeded coefficients are exactly 0, not 1e-9.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.datasets import make_dataset
from core.errors import ConfigError
from core.labs._common import FloatArray, check, float_pair, seed_param
from core.registry import Param
from core.trainer import run_seed_streams

__all__ = [
    "REG_METHODS",
    "default_lambdas",
    "penalty_geometry",
    "regularization_data",
    "regularization_path",
    "solve_penalized_2d",
]

RESOLUTION_MAX = 400
REG_METHODS: tuple[str, ...] = ("l1", "l2", "elastic_net")


def default_lambdas() -> FloatArray:
    """The default λ grid: 30 values log-spaced from 1e-3 to 10, ascending."""
    return np.logspace(-3.0, 1.0, 30)


def _split_penalty(method: str, lam: float, l1_ratio: float) -> tuple[float, float]:
    """(l1, l2) of the project's penalty l1·Σ|w| + (l2/2)·Σw² for ``method`` at ``lam``."""
    if method == "l1":
        return lam, 0.0
    if method == "l2":
        return 0.0, lam
    return lam * l1_ratio, lam * (1.0 - l1_ratio)


def regularization_data(
    n: int = 200,
    n_features: int = 20,
    n_informative: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    val_fraction: float = 0.2,
) -> tuple[FloatArray, FloatArray, dict[str, Any]]:
    """The data :func:`regularization_path` fits: ``(x (n_train, p), y (n_train,), truth)``.

    Exactly the training split a run with the same ``seed`` and dataset settings trains on
    (``sparse_linear``, no normalisation, the run's data stream — see
    ``core.trainer.run_seed_streams``), so the path and the sparsity lab's runs agree. x ~ N(0, I)
    already has unit scale, so the coefficients compare directly with ``truth["coef"]``.
    Requires ``p <= n_train − 1`` so the fit is unique.
    """
    n = check(Param("n", "int", 200, min=2, max=5000), n)
    n_features = check(Param("n_features", "int", 20, min=2, max=200), n_features)
    n_informative = check(
        Param("n_informative", "int", 3, min=1, max=n_features), n_informative
    )
    noise = check(Param("noise", "float", 0.1, min=0.0, max=1.0), noise)
    val_fraction = check(Param("val_fraction", "float", 0.2, min=0.0, max=0.9), val_fraction)
    seed = seed_param(seed)
    ds = make_dataset(
        "sparse_linear", n=n, noise=noise, val_fraction=val_fraction, normalize="none",
        params={"n_features": n_features, "n_informative": n_informative},
        rng=np.random.default_rng(run_seed_streams(seed)[0]),
    )
    if n_features > ds.n_train - 1:
        raise ConfigError(
            "n_features",
            f"must be an integer with 2 <= x <= n_train - 1 (= {ds.n_train - 1}) so the fit "
            f"is unique, got {n_features}",
        )
    assert ds.truth is not None
    return ds.x_train, ds.y_train[:, 0].copy(), ds.truth


def _cd_sweep(w: FloatArray, q: FloatArray, G: FloatArray, diag: FloatArray,
              l1: float, l2: float, coords: Sequence[int]) -> float:
    """One coordinate-descent pass over ``coords``; keeps ``q = c − G w`` current.

    Returns the largest change ``|Δw_j|·√G_jj`` (the change in the fitted values' RMS scale).
    """
    biggest = 0.0
    for j in coords:
        gjj = diag[j]
        if gjj <= 0.0:  # constant feature: it cannot help, its coefficient stays 0
            continue
        old = w[j]
        rho = q[j] + gjj * old
        mag = abs(rho) - l1
        new = math.copysign(mag / (gjj + l2), rho) if mag > 0.0 else 0.0
        if new != old:
            d = new - old
            w[j] = new
            q -= d * G[:, j]
            biggest = max(biggest, abs(d) * math.sqrt(gjj))
    return biggest


def _kkt_violation(w: FloatArray, G: FloatArray, c: FloatArray, l1: float, l2: float) -> float:
    """Largest violation of the optimality conditions of ½wᵀGw − cᵀw + l1|w|₁ + (l2/2)|w|².

    With q = c − G w − l2 w: |q_j| <= l1 where w_j = 0, q_j = l1·sign(w_j) elsewhere.
    """
    q = c - G @ w - l2 * w
    zero = w == 0.0
    v_zero = np.maximum(np.abs(q[zero]) - l1, 0.0)
    v_nz = np.abs(q[~zero] - l1 * np.sign(w[~zero]))
    return float(max(v_zero.max(initial=0.0), v_nz.max(initial=0.0)))


def _polish(w: FloatArray, G: FloatArray, c: FloatArray, l1: float, l2: float
            ) -> FloatArray | None:
    """Solve the KKT system exactly on the support and signs of ``w``; None if inconsistent.

    Given the support A and signs s, the optimum satisfies (G_AA + l2·I) w_A = c_A − l1·s_A. If
    that solution keeps the signs it is returned (the caller checks the zero coordinates).
    """
    active = np.flatnonzero(w)
    if active.size == 0:
        return np.zeros_like(w)
    s = np.sign(w[active])
    A = G[np.ix_(active, active)] + l2 * np.eye(active.size)
    try:
        wa = np.linalg.solve(A, c[active] - l1 * s)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.sign(wa) == s):
        return None
    cand = np.zeros_like(w)
    cand[active] = wa
    return cand


def _objective(w: FloatArray, A: FloatArray, c: FloatArray, l1: float) -> float:
    return float(0.5 * w @ A @ w - c @ w + l1 * np.abs(w).sum())


def _feature_sign(A: FloatArray, c: FloatArray, l1: float, w0: FloatArray,
                  kkt_tol: float) -> FloatArray | None:
    """Exact argmin ½wᵀAw − cᵀw + l1|w|₁ (A positive semi-definite) by feature-sign search
    (Lee, Battle, Raina & Ng 2007): an active-set method that solves a linear system on the
    current support and signs, line-searches to the best zero crossing when signs flip, and adds
    the zero coordinate violating |∂_j| <= l1 most. Finite; None if it has not finished in its
    iteration budget (the caller then falls back to coordinate descent).
    """
    p = c.size
    w = w0.copy()
    theta = np.sign(w)
    for _ in range(20 * p + 100):
        grad = A @ w - c
        zero = theta == 0.0
        viol = np.where(zero, np.abs(grad) - l1, -np.inf)
        j = int(np.argmax(viol))
        nz = ~zero
        nz_viol = np.abs(grad[nz] + l1 * theta[nz]).max(initial=0.0)
        if viol[j] <= kkt_tol and nz_viol <= kkt_tol:
            return w
        if viol[j] > kkt_tol:
            theta[j] = -np.sign(grad[j])
        # feature-sign step: solve on the support with signs theta, keep the best point
        act = np.flatnonzero(theta)
        try:
            new_a = np.linalg.solve(A[np.ix_(act, act)], c[act] - l1 * theta[act])
        except np.linalg.LinAlgError:
            return None
        old_a = w[act]
        if np.all(np.sign(new_a) == theta[act]):
            w[act] = new_a
        else:
            d = new_a - old_a
            with np.errstate(divide="ignore", invalid="ignore"):
                t_cross = -old_a / d
            ts = np.unique(np.append(t_cross[(t_cross > 0.0) & (t_cross < 1.0)], 1.0))
            best_t, best_f = 1.0, math.inf
            trial = w.copy()
            for t in ts:
                trial[act] = old_a + t * d
                crossing = np.isclose(t, t_cross, rtol=0.0, atol=1e-15)
                trial[act[crossing]] = 0.0
                f = _objective(trial, A, c, l1)
                if f < best_f:
                    best_t, best_f = t, f
            w[act] = old_a + best_t * d
            w[act[np.isclose(best_t, t_cross, rtol=0.0, atol=1e-15)]] = 0.0
        theta = np.sign(w)
    return None


def _enet_solve(G: FloatArray, c: FloatArray, l1: float, l2: float, w0: FloatArray,
                tol: float = 1e-10, max_sweeps: int = 5_000) -> FloatArray:
    """argmin ½wᵀGw − cᵀw + l1|w|₁ + (l2/2)|w|² (G = XcᵀXc/n, c = Xcᵀyc/n), warm-started.

    l1 == 0: ridge in closed form. Otherwise cyclic coordinate descent with soft-thresholding
    (full sweeps alternating with sweeps over the active set) until no coordinate moves by more
    than ``tol`` (in units of √G_jj). Every 25 active-set sweeps, and at the end, the active set
    and signs are solved exactly (:func:`_polish`); that solution is returned as soon as it meets
    the optimality conditions to rounding (KKT violation <= 1e-12·(1 + max|c|)), which makes
    the fits exact and fast even when CD alone converges slowly (p close to or above n).
    """
    p = c.size
    if l1 == 0.0:
        return np.linalg.solve(G + l2 * np.eye(p), c)
    kkt_tol = 1e-12 * (1.0 + float(np.max(np.abs(c))))

    def exact(w: FloatArray) -> FloatArray | None:
        cand = _polish(w, G, c, l1, l2)
        if cand is not None and _kkt_violation(cand, G, c, l1, l2) <= kkt_tol:
            return cand
        return None

    fs = _feature_sign(G + l2 * np.eye(p), c, l1, w0, kkt_tol)
    if fs is not None:
        fs_exact = exact(fs)  # one more solve on the final support: rounding-level KKT
        return fs if fs_exact is None else fs_exact
    w = w0.copy()
    q = c - G @ w
    diag = np.diag(G).copy()
    everything = range(p)
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        if _cd_sweep(w, q, G, diag, l1, l2, everything) < tol:
            break
        active = np.flatnonzero(w).tolist()
        inner = 0
        while sweeps < max_sweeps:
            sweeps += 1
            inner += 1
            if _cd_sweep(w, q, G, diag, l1, l2, active) < tol:
                break
            if inner % 25 == 0:
                cand = exact(w)
                if cand is not None:
                    return cand
    cand = exact(w)
    if cand is not None:
        return cand
    return w


def regularization_path(
    method: str,
    lambdas: Sequence[float] | None = None,
    n: int = 200,
    n_features: int = 20,
    n_informative: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    l1_ratio: float = 0.5,
    val_fraction: float = 0.2,
) -> dict[str, Any]:
    """Exact penalised least-squares fits along a λ grid on ``sparse_linear`` data (the
    training split of a run with the same settings; see :func:`regularization_data`).

    Minimises ``(1/(2n))‖y − Xw − b‖² + l1·Σ|w| + (l2/2)·Σw²`` (intercept b unpenalised) with
    l1 = λ (``"l1"``), l2 = λ (``"l2"``), or l1 = λ·l1_ratio, l2 = λ·(1 − l1_ratio)
    (``"elastic_net"``). Data: :func:`regularization_data` (no normalisation). The intercept is
    removed by centring X and y; b = ȳ − x̄ᵀw. Ridge is solved in closed form; L1 / elastic net
    by coordinate descent (tolerance 1e-10, warm starts from the largest λ down) plus an exact
    active-set polish, so unneeded coefficients are exactly 0.

    Returns ``{"lambdas": (L,) as given (default: :func:`default_lambdas`), "coefs": (L, p),
    "intercepts": (L,), "zeros": [exact zeros per λ], "kkt": (L,) largest optimality-condition
    violation, "lambda_max": smallest λ giving all zeros (None for l2), "true_coef": (p,),
    "informative": [indices]}``.
    """
    if method not in REG_METHODS:
        raise ConfigError("method", f"must be one of {', '.join(map(repr, REG_METHODS))}, "
                                    f"got {method!r}")
    lam_param = Param("lambdas", "float_list", None, min=0.0, exclusive_min=True, max=1000.0,
                      max_len=200)
    lams = default_lambdas() if lambdas is None else np.array(lam_param.validate(
        list(lambdas) if isinstance(lambdas, np.ndarray) else lambdas, "lambdas"))
    if lams.size == 0:
        raise ConfigError(
            "lambdas", "must be a list of 1 to 200 numbers, each x with 0 < x <= 1000"
        )
    l1_ratio = check(Param("l1_ratio", "float", 0.5, min=0.0, max=1.0), l1_ratio)
    x, y, truth = regularization_data(n, n_features, n_informative, noise, seed, val_fraction)
    n_rows, p = x.shape
    xm, ym = x.mean(axis=0), y.mean()
    xc, yc = x - xm, y - ym
    G = xc.T @ xc / n_rows
    c = xc.T @ yc / n_rows
    coefs = np.zeros((lams.size, p))
    kkt = np.zeros(lams.size)
    w = np.zeros(p)
    for i in np.argsort(-lams, kind="stable"):  # largest λ first: warm starts
        l1, l2 = _split_penalty(method, float(lams[i]), l1_ratio)
        w = _enet_solve(G, c, l1, l2, w)
        coefs[i] = w
        kkt[i] = _kkt_violation(w, G, c, l1, l2)
    share = {"l1": 1.0, "l2": 0.0, "elastic_net": l1_ratio}[method]
    lam_max = float(np.max(np.abs(c)) / share) if share > 0.0 else None
    return {
        "lambdas": lams,
        "coefs": coefs,
        "intercepts": ym - coefs @ xm,
        "zeros": [int(k) for k in np.count_nonzero(coefs == 0.0, axis=1)],
        "kkt": kkt,
        "lambda_max": lam_max,
        "true_coef": np.asarray(truth["coef"], dtype=np.float64),
        "informative": list(truth["informative"]),
    }


def solve_penalized_2d(H: FloatArray, w_star: FloatArray, l1: float, l2: float) -> FloatArray:
    """Exact argmin of ½(w − w*)ᵀH(w − w*) + l1|w|₁ + (l2/2)|w|² in 2-D (H positive definite).

    Expands to ½wᵀAw − qᵀw + l1|w|₁ with A = H + l2·I, q = H w*, and checks every support and
    sign pattern: the candidate that satisfies the KKT conditions (A_SS w_S = q_S − l1·s_S with
    matching signs, |q_j − A_jS w_S| <= l1 off the support) is the unique optimum. Among
    candidates passing within rounding, the one with the lowest objective wins.
    """
    A = H + l2 * np.eye(2)
    q = H @ w_star
    best: FloatArray | None = None
    best_obj = math.inf
    scale = 1e-12 * (1.0 + float(np.max(np.abs(q))) + l1)
    for support in ((), (0,), (1,), (0, 1)):
        idx = list(support)
        for sign_tuple in itertools.product((-1.0, 1.0), repeat=len(idx)):
            signs = np.array(sign_tuple)
            w = np.zeros(2)
            if idx:
                w[idx] = np.linalg.solve(A[np.ix_(idx, idx)], q[idx] - l1 * signs)
                if np.any(w[idx] * signs <= 0.0):
                    continue
            off = [j for j in (0, 1) if j not in idx]
            g = q - A @ w
            if any(abs(g[j]) > l1 + scale for j in off):
                continue
            obj = 0.5 * w @ A @ w - q @ w + l1 * np.abs(w).sum()
            if obj < best_obj:
                best, best_obj = w, obj
    assert best is not None  # strictly convex: exactly one KKT point exists
    return best


def _rotation(theta: float) -> FloatArray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def penalty_geometry(
    method: str,
    lam: float,
    w_star: Sequence[float] = (1.5, 0.5),
    curvature: Sequence[float] = (1.0, 3.0),
    rotation: float = 0.5,
    resolution: int = 80,
    l1_ratio: float = 0.5,
    path_lambdas: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Why L1 gives exact zeros: the 2-D picture of a penalised quadratic.

    Loss ``½(w − w*)ᵀH(w − w*)`` with ``H = R diag(curvature) Rᵀ`` (R: rotation by ``rotation``
    radians); penalty ``l1|w|₁ + (l2/2)|w|²`` split from ``lam`` as in
    :func:`regularization_path`. Returns::

        x (R,), y (R,), loss (R, R)   loss[i, j] = loss at (x[j], y[i]); a square window
                                      around the origin containing w*
        solution [w1, w2]             the exact penalised optimum (solve_penalized_2d)
        solution_loss                 the loss level whose contour touches the constraint
        constraint (M, 2)             closed boundary {w : P(w) = P(solution)} of the equivalent
                                      constrained problem (L1 diamond, L2 circle, elastic net in
                                      between); corners of the diamond are included
        path {"lambdas": (K,), "solutions": (K, 2)}   the optimum as λ moves (K = 41 by default,
                                      from 0 to where L1 reaches the origin, at least 2·lam)
        w_star, H
    """
    if method not in REG_METHODS:
        raise ConfigError("method", f"must be one of {', '.join(map(repr, REG_METHODS))}, "
                                    f"got {method!r}")
    lam = check(Param("lam", "float", 1.0, min=0.0, max=100.0), lam)
    ws = float_pair(w_star, "w_star", -10.0, 10.0)
    curv = float_pair(curvature, "curvature", 0.0, 100.0, exclusive_lo=True)
    rotation = check(Param("rotation", "float", 0.5, min=-10.0, max=10.0), rotation)
    resolution = check(Param("resolution", "int", 80, min=2, max=RESOLUTION_MAX), resolution)
    l1_ratio = check(Param("l1_ratio", "float", 0.5, min=0.0, max=1.0), l1_ratio)
    R = _rotation(rotation)
    H = R @ np.diag(curv) @ R.T
    H = 0.5 * (H + H.T)

    def solve(lam_: float) -> FloatArray:
        l1, l2 = _split_penalty(method, lam_, l1_ratio)
        return solve_penalized_2d(H, ws, l1, l2)

    sol = solve(lam)
    # penalty shape (per unit λ): a·|w|₁ + (b/2)·|w|²
    a_, b_ = _split_penalty(method, 1.0, l1_ratio)
    level = a_ * np.abs(sol).sum() + 0.5 * b_ * float(sol @ sol)
    angles = np.linspace(0.0, 2.0 * np.pi, 4 * resolution + 1)
    u = np.column_stack([np.cos(angles), np.sin(angles)])
    a_dir = a_ * np.abs(u).sum(axis=1)
    if b_ == 0.0:
        radius = level / a_dir
    else:  # a·r + (b/2)·r² = level  ->  r = (−a + √(a² + 2b·level)) / b
        radius = (np.sqrt(a_dir * a_dir + 2.0 * b_ * level) - a_dir) / b_
    constraint = u * radius[:, None]
    constraint[-1] = constraint[0]  # closed exactly

    if path_lambdas is None:
        share = a_ if a_ > 0.0 else 1.0
        lam_hi = max(2.0 * lam, 1.25 * float(np.max(np.abs(H @ ws))) / share, 1e-3)
        path_l = np.linspace(0.0, lam_hi, 41)
    else:
        path_l = np.array(Param("path_lambdas", "float_list", None, min=0.0, max=1000.0,
                                max_len=400).validate(list(path_lambdas), "path_lambdas"))
    path = np.array([solve(float(v)) for v in path_l]).reshape(-1, 2)

    m = 1.5 * max(float(np.max(np.abs(ws))), 0.5)
    grid = np.linspace(-m, m, resolution)
    gx, gy = np.meshgrid(grid, grid)
    dx, dy = gx - ws[0], gy - ws[1]
    loss = 0.5 * (H[0, 0] * dx * dx + 2.0 * H[0, 1] * dx * dy + H[1, 1] * dy * dy)
    d = sol - ws
    return {
        "x": grid,
        "y": grid.copy(),
        "loss": loss,
        "solution": sol,
        "solution_loss": float(0.5 * d @ H @ d),
        "constraint": constraint,
        "path": {"lambdas": path_l, "solutions": path},
        "w_star": ws,
        "H": H,
    }
