"""The building blocks lab (``/labs/blocks``): activations, softmax, losses and calculators.

Every function is a thin view onto the training code itself, so the page shows the numbers the
trainer uses:

* :func:`activation_profile` — f(z) and f'(z) of a catalog activation on a grid (shapes (n,)),
  the saturated intervals (the engine's own ``Activation.saturated``: f' below
  ``SATURATION_FRACTION`` = 5 % of its peak), the output range and whether f is zero-centred.
* :func:`softmax_demo` — softmax(z/T) of one row of logits, the naive ``exp`` (which overflows to
  inf past z ≈ 709.78 in float64) next to the max-subtracted one, cross-entropy and its gradient
  ``p − onehot(y)`` (torch's ``CrossEntropyLoss`` on ``logits / T``).
* :func:`loss_curve` — one loss element ``l`` and ``dl/dŷ`` vs the residual ``d = ŷ − y``
  (regression losses) or vs the predicted probability ``p`` (BCE, CE), computed by calling the
  registered loss on one element at a time (torch's ``reduction="none"``).
* :func:`mlp_param_count`, :func:`conv_param_count` — torch's ``sum(p.numel())`` of
  ``nn.Linear`` stacks and ``nn.Conv2d`` stacks (+ a ``nn.Linear`` head).
* :func:`iterations_per_epoch` — ``len(DataLoader)``: ``ceil(N/B)``, or ``floor(N/B)`` with
  ``drop_last=True``.

Conv/pool output sizes live in :mod:`core.convshape`. Bad input raises
``ConfigError(field, "must be ... with lo <= x <= hi")``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.activations import ACTIVATIONS, SATURATION_FRACTION
from core.convshape import conv_shape
from core.errors import ConfigError
from core.labs._common import FloatArray, check
from core.losses import LOSSES
from core.registry import Param

__all__ = [
    "LOSS_CURVES",
    "activation_profile",
    "conv_param_count",
    "iterations_per_epoch",
    "loss_curve",
    "mlp_param_count",
    "output_range",
    "saturated_intervals",
    "softmax_demo",
]

MAX_POINTS = 10001
MAX_LOGITS = 16
MAX_LAYERS = 16
MAX_UNITS = 100_000

# --- activations -----------------------------------------------------------------------------


def _min_on(act_name: str, params: dict[str, Any], lo: float, hi: float) -> float:
    """Minimum of f on a fine grid (for GELU and SiLU, whose minimum has no closed form)."""
    act = ACTIVATIONS.create(act_name, params)
    x = np.linspace(lo, hi, 200_001)
    return float(np.min(act.forward(x)))


def output_range(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``{"min", "max", "min_closed", "max_closed"}`` of f over all real z (None = unbounded).

    Limits are exact except the minima of GELU and SiLU, found on a 200k-point grid (≈ −0.17,
    ≈ −0.278; they are attained, so the interval is closed there).
    """
    if name in ("identity",):
        return {"min": None, "max": None, "min_closed": False, "max_closed": False}
    if name == "sigmoid":
        return {"min": 0.0, "max": 1.0, "min_closed": False, "max_closed": False}
    if name == "tanh":
        return {"min": -1.0, "max": 1.0, "min_closed": False, "max_closed": False}
    if name == "relu":
        return {"min": 0.0, "max": None, "min_closed": True, "max_closed": False}
    if name == "leaky_relu":
        if params["negative_slope"] > 0.0:
            return {"min": None, "max": None, "min_closed": False, "max_closed": False}
        return {"min": 0.0, "max": None, "min_closed": True, "max_closed": False}
    if name == "elu":
        return {
            "min": -float(params["alpha"]),
            "max": None,
            "min_closed": False,
            "max_closed": False,
        }
    if name == "softplus":
        return {"min": 0.0, "max": None, "min_closed": False, "max_closed": False}
    if name in ("gelu", "silu"):
        return {
            "min": _min_on(name, params, -6.0, 0.0),
            "max": None,
            "min_closed": True,
            "max_closed": False,
        }
    raise ConfigError("name", f"no output range known for activation {name!r}")


def saturated_intervals(x: FloatArray, mask: np.ndarray) -> list[list[float]]:
    """Maximal runs of True in ``mask`` (n,) as ``[x_start, x_end]`` pairs of grid points."""
    out: list[list[float]] = []
    if not mask.any():
        return out
    m = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(m[1:] != m[:-1])  # starts and ends (exclusive) alternate
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        out.append([float(x[start]), float(x[end - 1])])
    return out


def activation_profile(
    name: str,
    params: dict[str, Any] | None,
    x_min: float = -6.0,
    x_max: float = 6.0,
    n: int = 241,
    prefix: str = "params",
) -> dict[str, Any]:
    """f, f' on ``n`` points of ``[x_min, x_max]`` (each (n,)), saturated intervals, range.

    ``zero_centred``: f is odd (f(−z) = −f(z), checked on the grid), so outputs average to 0 for
    inputs symmetric around 0 (identity, tanh); ``negative_outputs``: f takes negative values.
    Parameter errors name ``<prefix>.<param>``.
    """
    comp = ACTIVATIONS.get(name, "name")
    resolved = comp.resolve(params or {}, prefix)
    act = comp.factory(**resolved)
    x = np.linspace(x_min, x_max, n)
    y = act.forward(x)
    dy = act.derivative(x, y)
    probe = np.linspace(-8.0, 8.0, 161)
    f_probe = act.forward(probe)
    odd = bool(np.max(np.abs(f_probe + f_probe[::-1])) < 1e-9)
    return {
        "x": x,
        "y": y,
        "dy": dy,
        "saturated": saturated_intervals(x, act.saturated(y)),
        "saturation_fraction": SATURATION_FRACTION,
        "saturating": bool(act.saturating),
        "output_range": output_range(name, resolved),
        "zero_centred": odd,
        "negative_outputs": bool(np.min(f_probe) < 0.0),
    }


# --- softmax ---------------------------------------------------------------------------------


def softmax_demo(logits: list[float], temperature: float = 1.0, target: int = 0) -> dict[str, Any]:
    """Softmax of ``z = logits / temperature`` (K,), naive and stable, and cross-entropy.

    ``naive_exp`` is ``exp(z)`` as computed without the shift (inf where it overflows,
    ``naive_overflow`` marks them); ``naive_probabilities`` is ``exp(z)/Σexp(z)`` (NaN when
    inf/inf). The stable path subtracts ``max(z)`` first: every ``exp`` is in (0, 1].
    ``cross_entropy = ln Σ e^(z_j) − z_y`` and ``gradient = p − onehot(y)`` are d/dz;
    ``gradient_logits = (p − onehot(y)) / T`` is d/d(logits).
    """
    if not isinstance(logits, list | tuple) or not 2 <= len(logits) <= MAX_LOGITS:
        raise ConfigError("logits", f"must be a list of 2 to {MAX_LOGITS} numbers")
    lp = Param("logits", "float", 0.0, min=-1e4, max=1e4)
    z_raw = np.array([check(lp, v, f"logits[{i}]") for i, v in enumerate(logits)])
    t = check(Param("temperature", "float", 1.0, min=0.01, max=100.0), temperature)
    k = len(logits)
    y = check(Param("target", "int", 0, min=0, max=k - 1), target)
    z = z_raw / t
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z)
        naive_sum = float(np.sum(naive))
        naive_p = naive / naive_sum
    m = float(np.max(z))
    shifted = z - m
    e = np.exp(shifted)
    s = float(np.sum(e))
    p = e / s
    lse = m + math.log(s)
    onehot = np.zeros(k)
    onehot[y] = 1.0
    grad = p - onehot
    return {
        "z": z,
        "naive_exp": naive,
        "naive_sum": naive_sum,
        "naive_overflow": [bool(v) for v in np.isinf(naive)],
        "naive_probabilities": naive_p,
        "naive_ok": bool(np.all(np.isfinite(naive_p))),
        "max": m,
        "shifted": shifted,
        "exp_shifted": e,
        "sum_shifted": s,
        "probabilities": p,
        "log_sum_exp": lse,
        "cross_entropy": float(lse - z[y]),
        "gradient": grad,
        "gradient_logits": grad / t,
        "target": y,
        "temperature": t,
    }


# --- loss curves -----------------------------------------------------------------------------

# name -> (x axis, torch name of the elementwise loss)
LOSS_CURVES: dict[str, tuple[str, str]] = {
    "mse": ("residual", "torch.nn.MSELoss(reduction='none')"),
    "mae": ("residual", "torch.nn.L1Loss(reduction='none')"),
    "smooth_l1": ("residual", "torch.nn.SmoothL1Loss(beta=β, reduction='none')"),
    "huber": ("residual", "torch.nn.HuberLoss(delta=δ, reduction='none')"),
    "bce": ("probability", "torch.nn.BCELoss(reduction='none') on p"),
    "cross_entropy": ("probability", "torch.nn.NLLLoss on log p (CrossEntropyLoss)"),
}
LOSS_FORMULAS: dict[str, str] = {
    "mse": "l(d) = d²,  dl/dŷ = 2d  (d = ŷ − y)",
    "mae": "l(d) = |d|,  dl/dŷ = sign(d)  (0 at d = 0, as torch)",
    "smooth_l1": "l(d) = ½d²/β if |d| < β else |d| − ½β,  dl/dŷ = clip(d/β, −1, 1)",
    "huber": "l(d) = ½d² if |d| < δ else δ(|d| − ½δ),  dl/dŷ = clip(d, −δ, δ)",
    "bce": "l(p) = −[y·ln p + (1 − y)·ln(1 − p)],  dl/dp = (p − y) / (p(1 − p))",
    "cross_entropy": "l(p) = −ln p  (p = softmax probability of the true class),  dl/dp = −1/p",
}


def loss_curve(
    name: str,
    params: dict[str, Any] | None = None,
    x_min: float | None = None,
    x_max: float | None = None,
    n: int = 201,
    target: float = 1.0,
) -> dict[str, Any]:
    """One loss element and its derivative on ``n`` grid points (each (n,)).

    Regression losses (``mse``, ``mae``, ``smooth_l1``, ``huber``, torch-named ``beta`` /
    ``delta``): ``x`` is the residual ``d = ŷ − y`` (default [−3, 3]), ``derivative = dl/dŷ``.
    ``bce``: ``x`` is the predicted probability p (default [0.01, 0.99]), target ``y`` in [0, 1];
    the value comes from the engine's ``bce_with_logits`` at the logit ln(p/(1 − p)), and
    ``derivative = dl/dp`` (``derivative_logit = p − y`` is dl/dz). ``cross_entropy``: x is the
    probability given to the true class (2 classes, logits [ln p, ln(1 − p)], class 0), the
    engine's ``cross_entropy``; ``derivative = dl/dp = −1/p``.
    """
    if name not in LOSS_CURVES:
        raise ConfigError("name", f"unknown loss {name!r}; choices: {', '.join(LOSS_CURVES)}")
    axis, torch_name = LOSS_CURVES[name]
    n = check(Param("n", "int", 201, min=2, max=MAX_POINTS), n)
    if axis == "residual":
        lim = Param("x", "float", 0.0, min=-1e3, max=1e3)
        lo = -3.0 if x_min is None else check(lim, x_min, "x_min")
        hi = 3.0 if x_max is None else check(lim, x_max, "x_max")
    else:
        lim = Param("x", "float", 0.5, min=0.0, max=1.0, exclusive_min=True, exclusive_max=True)
        lo = 0.01 if x_min is None else check(lim, x_min, "x_min")
        hi = 0.99 if x_max is None else check(lim, x_max, "x_max")
    if not lo < hi:
        raise ConfigError("x_max", f"must be greater than x_min ({lo})")
    x = np.linspace(lo, hi, n)
    value = np.empty(n)
    deriv = np.empty(n)
    extra: dict[str, Any] = {}
    if axis == "residual":
        loss = LOSSES.create(name, params or {}, "params")
        zero = np.zeros((1, 1))
        for i, d in enumerate(x):
            v, g = loss.value_and_grad(np.array([[d]]), zero)  # mean over 1 element = l(d)
            value[i], deriv[i] = v, g[0, 0]
        resolved = loss.params
    elif name == "bce":
        if params:
            raise ConfigError(f"params.{next(iter(params))}", "unknown parameter for bce")
        y = check(Param("target", "float", 1.0, min=0.0, max=1.0), target)
        loss = LOSSES.create("bce_with_logits", {})
        for i, p in enumerate(x):
            logit = math.log(p) - math.log1p(-p)
            v, g = loss.value_and_grad(np.array([[logit]]), np.array([[y]]))
            value[i] = v
            deriv[i] = g[0, 0] / (p * (1.0 - p))  # dl/dp = dl/dz · dz/dp, dz/dp = 1/(p(1−p))
        extra["derivative_logit"] = x - y
        extra["target"] = y
        resolved = {}
    else:
        if params:
            raise ConfigError(f"params.{next(iter(params))}", "unknown parameter for cross_entropy")
        loss = LOSSES.create("cross_entropy", {})
        cls = np.array([0])
        for i, p in enumerate(x):
            z = np.array([[math.log(p), math.log1p(-p)]])
            v, g = loss.value_and_grad(z, cls)
            value[i] = v
            # chain rule through z0 = ln p, z1 = ln(1 − p)
            deriv[i] = g[0, 0] / p - g[0, 1] / (1.0 - p)
        resolved = {}
    return {
        "name": name,
        "params": resolved,
        "axis": axis,
        "x": x,
        "value": value,
        "derivative": deriv,
        "formula": LOSS_FORMULAS[name],
        "torch": torch_name,
        **extra,
    }


# --- parameter counts and iterations -----------------------------------------------------------


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    return int(check(Param(name, "int", lo, min=lo, max=hi), value, name))


def mlp_param_count(sizes: list[int], bias: bool = True) -> dict[str, Any]:
    """Parameters of ``nn.Sequential(nn.Linear(sizes[0], sizes[1]), ...)``.

    ``sizes`` = [inputs, hidden..., outputs] (2..17 numbers). Layer l has
    ``sizes[l]·sizes[l+1]`` weights and ``sizes[l+1]`` biases; ``total`` equals torch's
    ``sum(p.numel() for p in model.parameters())``.
    """
    if not isinstance(sizes, list | tuple) or not 2 <= len(sizes) <= MAX_LAYERS + 1:
        raise ConfigError("sizes", f"must be a list of 2 to {MAX_LAYERS + 1} integers")
    ns = [_int(f"sizes[{i}]", v, 1, MAX_UNITS) for i, v in enumerate(sizes)]
    layers = []
    for a, b in zip(ns[:-1], ns[1:], strict=True):
        w, bb = a * b, b if bias else 0
        layers.append(
            {
                "in": a,
                "out": b,
                "weight": w,
                "bias": bb,
                "total": w + bb,
                "formula": f"{a}·{b}" + (f" + {b}" if bias else "") + f" = {w + bb}",
            }
        )
    return {"layers": layers, "total": sum(layer["total"] for layer in layers)}


def conv_param_count(
    input_size: int,
    in_channels: int,
    layers: list[dict[str, Any]],
    classes: int,
    bias: bool = True,
) -> dict[str, Any]:
    """Parameters and shapes of ``Conv2d`` layers (square kernels) + ``Flatten`` + ``Linear``.

    Each layer is ``{out_channels, kernel_size, stride=1, padding=0}``; a conv layer has
    ``C_out·C_in·F·F`` weights and ``C_out`` biases. The spatial size follows
    :func:`core.convshape.conv_shape`; the head is ``Linear(C·H·W, classes)``.
    """
    size = _int("input_size", input_size, 1, 4096)
    c_in = _int("in_channels", in_channels, 1, 4096)
    classes = _int("classes", classes, 1, MAX_UNITS)
    if not isinstance(layers, list | tuple) or not 1 <= len(layers) <= MAX_LAYERS:
        raise ConfigError("layers", f"must be a list of 1 to {MAX_LAYERS} conv layers")
    out_layers = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ConfigError(f"layers[{i}]", "must be an object {out_channels, kernel_size, ...}")
        unknown = set(layer) - {"out_channels", "kernel_size", "stride", "padding"}
        if unknown:
            raise ConfigError(
                f"layers[{i}].{sorted(unknown)[0]}",
                "unknown field; allowed: out_channels, kernel_size, stride, padding",
            )
        c_out = _int(f"layers[{i}].out_channels", layer.get("out_channels"), 1, 4096)
        f = _int(f"layers[{i}].kernel_size", layer.get("kernel_size"), 1, 64)
        s = _int(f"layers[{i}].stride", layer.get("stride", 1), 1, 64)
        p = _int(f"layers[{i}].padding", layer.get("padding", 0), 0, 64)
        try:
            new_size = conv_shape(size, f, p, s).output_size
        except ConfigError as exc:
            raise ConfigError(f"layers[{i}].{exc.field}", exc.message) from None
        w, b = c_out * c_in * f * f, c_out if bias else 0
        out_layers.append(
            {
                "kind": "conv",
                "in_channels": c_in,
                "out_channels": c_out,
                "kernel_size": f,
                "input_size": size,
                "output_size": new_size,
                "weight": w,
                "bias": b,
                "total": w + b,
                "formula": f"{c_out}·{c_in}·{f}·{f}"
                + (f" + {c_out}" if bias else "")
                + f" = {w + b}",
            }
        )
        c_in, size = c_out, new_size
    flat = c_in * size * size
    w, b = flat * classes, classes if bias else 0
    out_layers.append(
        {
            "kind": "linear",
            "in_features": flat,
            "out_features": classes,
            "weight": w,
            "bias": b,
            "total": w + b,
            "formula": f"({c_in}·{size}·{size})·{classes}"
            + (f" + {classes}" if bias else "")
            + f" = {w + b}",
        }
    )
    return {"layers": out_layers, "total": sum(layer["total"] for layer in out_layers)}


def iterations_per_epoch(n: int, batch_size: int) -> dict[str, Any]:
    """``len(DataLoader(range(n), batch_size, drop_last=...))`` for both settings.

    ``drop_last=False``: ``ceil(N/B)`` (the last batch holds ``N mod B`` samples, if any);
    ``drop_last=True``: ``floor(N/B)`` (those samples are skipped this epoch).
    """
    n = _int("n", n, 1, 10**9)
    b = _int("batch_size", batch_size, 1, 10**9)
    keep, drop = -(-n // b), n // b
    return {
        "n": n,
        "batch_size": b,
        "iterations": keep,
        "iterations_drop_last": drop,
        "last_batch": n % b or b,
        "dropped": n % b,
        "formula": f"ceil({n}/{b}) = {keep};  drop_last: floor({n}/{b}) = {drop}",
    }
