"""Exponentially weighted averages (the optimizers lab's EWA panel): a noisy series, its average
with and without bias correction, and the notes' variant that starts from the first value.

For values ``Y_1 … Y_n`` and ``0 <= β < 1``:

- zero start (Adam's moments): ``s_0 = 0``, ``s_t = β·s_{t−1} + (1 − β)·Y_t``. Early averages
  are pulled towards 0: ``s_t = (1 − β)·Σ_{i<=t} β^{t−i}·Y_i`` has weights summing to
  ``1 − βᵗ``, so the bias-corrected average is ``ŝ_t = s_t / (1 − βᵗ)`` (exact for a constant
  series).
- first-value start (the notes' formula, and torch's SGD momentum buffer with
  ``dampening = β``): ``s_1 = Y_1``, ``s_t = β·s_{t−1} + (1 − β)·Y_t``; no bias towards 0.

The average "remembers" about ``1/(1 − β)`` values: the weight ``β^k`` of a value ``k`` steps
back has fallen to ``1/e`` after ``k ≈ 1/(1 − β)`` steps (β = 0.9: ~10, β = 0.98: ~50).
Computed with a plain recursion in float64, as an optimizer does (``n <= 10,000``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.labs._common import FloatArray, check, seed_param
from core.registry import Param

__all__ = ["EWA_MAX_POINTS", "ewa", "noisy_series"]

EWA_MAX_POINTS = 10_000


def noisy_series(n: int, noise: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """A smooth signal ``10 + 5·sin(2π·t/n)`` for t = 1 … n plus Gaussian noise of std
    ``noise``: ``(values (n,), signal (n,))``."""
    t = np.arange(1, n + 1)
    signal = 10.0 + 5.0 * np.sin(2.0 * np.pi * t / n)
    return signal + noise * rng.standard_normal(n), signal


def ewa(
    values: Sequence[float] | None = None,
    beta: float = 0.9,
    n: int = 100,
    noise: float = 2.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Exponentially weighted averages of ``values`` (or of :func:`noisy_series` with ``n``,
    ``noise`` and ``seed`` when ``values`` is None).

    Returns ``{"t": (n,) 1 … n, "values": (n,), "signal": (n,) or None (given values),
    "zero_start": (n,) s_t with s_0 = 0, "bias_corrected": (n,) s_t / (1 − βᵗ),
    "first_value_start": (n,) s_1 = Y_1 (the notes'), "bias": (n,) 1 − βᵗ, the total weight of
    the zero-start average, "weights": (n,) weight of Y_i in the last zero-start average
    ((1 − β)·β^{n−i}), "window": 1/(1 − β), "beta": β}``.
    """
    beta = check(Param("beta", "float", 0.9, min=0.0, max=1.0, exclusive_max=True), beta)
    signal: FloatArray | None
    if values is None:
        n = check(Param("n", "int", 100, min=1, max=EWA_MAX_POINTS), n)
        noise = check(Param("noise", "float", 2.0, min=0.0, max=100.0), noise)
        y, signal = noisy_series(n, noise, np.random.default_rng(seed_param(seed)))
    else:
        if isinstance(values, np.ndarray):
            values = values.tolist()
        param = Param("values", "float_list", None, min=-1e12, max=1e12, max_len=EWA_MAX_POINTS)
        y = np.array(param.validate(values, "values"), dtype=np.float64)
        if y.size == 0:
            raise ConfigError(
                "values", f"must be a list of 1 to {EWA_MAX_POINTS} numbers, each x with "
                "-1e12 <= x <= 1e12"
            )
        signal = None
    n_points = y.size
    zero = np.empty(n_points)
    first = np.empty(n_points)
    s0, s1 = 0.0, float(y[0])
    one_minus = 1.0 - beta
    for t in range(n_points):
        s0 = beta * s0 + one_minus * y[t]
        zero[t] = s0
        if t > 0:
            s1 = beta * s1 + one_minus * y[t]
        first[t] = s1
    t_idx = np.arange(1, n_points + 1)
    bias = 1.0 - beta**t_idx
    return {
        "t": t_idx,
        "values": y,
        "signal": signal,
        "zero_start": zero,
        "bias_corrected": zero / bias,
        "first_value_start": first,
        "bias": bias,
        "weights": one_minus * beta ** (n_points - t_idx).astype(np.float64),
        "window": 1.0 / one_minus,
        "beta": beta,
    }
