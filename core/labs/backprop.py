"""Backprop lab: forward pass, backward pass and one SGD update for a single example, every
intermediate number returned (the notes' 2-2-1 worked example and its generalisations).

Layer ``l``: ``z_l = a_{l−1} @ W_l + b_l`` with ``W_l (in, out)`` (the notes' convention and the
engine's), ``a_l = f_l(z_l)``. Activations and losses are the engine's (``core.activations``,
``core.losses``), each backward next to its forward there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.activations import ACTIVATIONS, Activation, softmax
from core.errors import ConfigError
from core.labs._common import FloatArray, check
from core.losses import LOSSES, Loss
from core.registry import Param
from core.trainer import as_mapping

__all__ = [
    "BACKPROP_FD_H",
    "BACKPROP_MAX_ABS",
    "BACKPROP_MAX_LAYERS",
    "BACKPROP_MAX_LR",
    "BACKPROP_MAX_TRAIN_STEPS",
    "BACKPROP_MAX_WALK_PARAMS",
    "BACKPROP_MAX_WIDTH",
    "BACKPROP_PRESETS",
    "backprop_example",
    "backprop_train",
    "backprop_walk",
    "fmt",
]

BACKPROP_MAX_LAYERS = 8
BACKPROP_MAX_WIDTH = 64
# Every input number (x, y, W, b) lies in [−BACKPROP_MAX_ABS, BACKPROP_MAX_ABS]: a worked example
# by hand never needs more, and it keeps every formula's numbers printable.
BACKPROP_MAX_ABS = 1000.0
BACKPROP_MAX_TRAIN_STEPS = 1000
BACKPROP_MAX_LR = 10.0
# Central-difference step of the finite-difference check: truncation error O(h²) ≈ 1e-10 and
# round-off ≈ 1e-16·|L|/h stay far below the gradients shown (relative error ~1e-9 typical).
BACKPROP_FD_H = 1e-5
# The lab's presets (the page and the golden script read them from here):
# the notes' 2-2-1 example (003:158–166) and a 2-3-3 softmax + cross-entropy network.
BACKPROP_PRESETS: dict[str, dict[str, Any]] = {
    "notes_221": {
        "x": [1.0, 2.0],
        "y": [0.5],
        "layers": [
            {"W": [[0.5, 0.6], [0.7, 0.8]], "b": [0.1, 0.2]},
            {"W": [[0.9], [0.1]], "b": [0.3]},
        ],
        "activation": "sigmoid",
        "output_activation": None,
        "loss": "half_mse",
        "lr": 0.1,
    },
    "softmax_233": {
        "x": [1.0, 2.0],
        "y": [2],
        "layers": [
            {"W": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], "b": [0.1, 0.1, 0.1]},
            {"W": [[0.9, -0.1, 0.2], [0.1, 0.3, -0.4], [0.5, 0.2, 0.1]], "b": [0.0, 0.0, 0.1]},
        ],
        "activation": "sigmoid",
        "output_activation": "identity",
        "loss": "cross_entropy",
        "lr": 0.5,
    },
}
# The step-by-step walk lists ~3 steps per parameter; beyond this it is no longer "by hand".
BACKPROP_MAX_WALK_PARAMS = 200


def _vector(value: Any, field_name: str, size: int | None = None) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(field_name, "must be a list of numbers") from None
    if arr.ndim != 1 or not 1 <= arr.size <= BACKPROP_MAX_WIDTH:
        raise ConfigError(
            field_name,
            f"must be a list of 1 to {BACKPROP_MAX_WIDTH} numbers, got shape {list(arr.shape)}",
        )
    if size is not None and arr.size != size:
        raise ConfigError(field_name, f"must have {size} entries, got {arr.size}")
    _check_range(arr, field_name)
    return arr


def _check_range(arr: FloatArray, field_name: str) -> None:
    lim = BACKPROP_MAX_ABS
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > lim):
        raise ConfigError(field_name, f"must be finite numbers with {-lim:g} <= x <= {lim:g}")


@dataclass
class _Net:
    """A validated worked example: ``Ws[l] (in, out)``, ``bs[l] (out,)``, one activation per
    layer, the loss and its target (``(1, k)`` floats, or ``(1,)`` class ids for cross_entropy)."""

    x: FloatArray
    target: NDArray[Any]
    Ws: list[FloatArray]
    bs: list[FloatArray]
    acts: list[Activation]
    act_names: list[str]
    loss_fn: Loss
    lr: float


def _parse(
    x: Sequence[float],
    y: Sequence[float],
    layers: Sequence[Mapping[str, Any]],
    activation: str,
    loss: str,
    lr: float,
    output_activation: str | None,
    activation_params: Mapping[str, Any] | None,
) -> _Net:
    act_comp = ACTIVATIONS.get(activation, "activation")
    act_params = act_comp.resolve(
        as_mapping(activation_params, "activation_params"), "activation_params"
    )
    hidden_act = act_comp.factory(**act_params)
    out_act = (
        hidden_act
        if output_activation is None
        else ACTIVATIONS.create(output_activation, {}, "output_activation")
    )
    loss_fn = LOSSES.create(loss, {}, "loss")
    lr = check(Param("lr", "float", 0.1, min=0.0, max=BACKPROP_MAX_LR), lr)
    x_arr = _vector(x, "x")
    if (
        isinstance(layers, str | bytes)
        or not isinstance(layers, Sequence)
        or not (1 <= len(layers) <= BACKPROP_MAX_LAYERS)
    ):
        raise ConfigError("layers", f"must be a list of 1 to {BACKPROP_MAX_LAYERS} layers")
    Ws: list[FloatArray] = []
    bs: list[FloatArray] = []
    fan_in = x_arr.size
    for k, layer in enumerate(layers):
        field = f"layers[{k}]"
        if not isinstance(layer, Mapping) or set(layer) != {"W", "b"}:
            raise ConfigError(field, "must be an object with exactly the keys 'W' and 'b'")
        try:
            W = np.asarray(layer["W"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{field}.W", "must be a nested list of numbers (in, out)") from None
        if W.ndim != 2 or W.shape[0] != fan_in or not 1 <= W.shape[1] <= BACKPROP_MAX_WIDTH:
            raise ConfigError(
                f"{field}.W",
                f"must have shape ({fan_in}, out) with 1 <= out <= {BACKPROP_MAX_WIDTH} "
                f"(rows = {'len(x)' if k == 0 else f'outputs of layers[{k - 1}]'}), "
                f"got {list(W.shape)}",
            )
        _check_range(W, f"{field}.W")
        b = _vector(layer["b"], f"{field}.b", W.shape[1])
        Ws.append(W)
        bs.append(b)
        fan_in = W.shape[1]
    k_out = fan_in
    if loss_fn.name == "cross_entropy":
        try:
            y_val = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            y_val = np.array([np.nan])
        if (
            y_val.shape != (1,)
            or not np.isfinite(y_val[0])
            or y_val[0] != int(y_val[0])
            or not 0 <= y_val[0] < k_out
        ):
            raise ConfigError("y", f"must be [class id] with an integer 0 <= id < {k_out}")
        target: NDArray[Any] = y_val.astype(np.int64)
    else:
        target = _vector(y, "y", k_out)[None, :]
    n_layers = len(Ws)
    names = [act_comp.name] * (n_layers - 1) + [out_act.name]
    acts = [hidden_act] * (n_layers - 1) + [out_act]
    return _Net(x_arr, target, Ws, bs, acts, names, loss_fn, lr)


def _loss_only(net: _Net, Ws: Sequence[FloatArray], bs: Sequence[FloatArray]) -> float:
    a = net.x
    with np.errstate(all="ignore"):
        for W, b, f in zip(Ws, bs, net.acts, strict=True):
            a = f.forward(a @ W + b)
        return float(net.loss_fn.value(a[None, :], net.target))


def _compute(net: _Net) -> dict[str, Any]:
    """Forward, loss, backward and the SGD update of ``net`` (see :func:`backprop_example`)."""
    n_layers = len(net.Ws)
    forward: list[dict[str, FloatArray]] = []
    a = net.x
    with np.errstate(all="ignore"):
        for W, b, f in zip(net.Ws, net.bs, net.acts, strict=True):
            z = a @ W + b
            a = f.forward(z)
            forward.append({"z": z, "a": a})
        value, dL_da = net.loss_fn.value_and_grad(a[None, :], net.target)
        dL_da = dL_da[0]
        backward: list[dict[str, FloatArray]] = [{}] * n_layers
        g = dL_da
        for k in range(n_layers - 1, -1, -1):
            z, a_k = forward[k]["z"], forward[k]["a"]
            delta = g * net.acts[k].derivative(z, a_k)
            a_prev = net.x if k == 0 else forward[k - 1]["a"]
            backward[k] = {"delta": delta, "dW": np.outer(a_prev, delta), "db": delta.copy()}
            g = net.Ws[k] @ delta
        updated = [
            {"W": W - net.lr * bk["dW"], "b": b - net.lr * bk["db"]}
            for W, b, bk in zip(net.Ws, net.bs, backward, strict=True)
        ]
    return {
        "input": net.x,
        "forward": forward,
        "output": forward[-1]["a"],
        "loss": float(value),
        "dL_da": dL_da,
        "backward": backward,
        "updated": updated,
    }


def backprop_example(
    x: Sequence[float],
    y: Sequence[float],
    layers: Sequence[Mapping[str, Any]],
    activation: str = "sigmoid",
    loss: str = "half_mse",
    lr: float = 0.1,
    output_activation: str | None = None,
    activation_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Forward pass, backward pass and one SGD update for a single example, every number shown.

    Layer l: ``z_l = a_{l−1} @ W_l + b_l`` (``W_l (in, out)``, the notes' convention; a_0 = x),
    ``a_l = f_l(z_l)``. ``activation`` applies to every layer INCLUDING the output, as in the
    notes' 2-2-1 example (sigmoid output, L = ½(ŷ − y)²); ``output_activation`` overrides the
    output layer's (e.g. ``"identity"``). The loss is ``core.losses`` on ``a_L`` of shape (1, k)
    (its mean over the k outputs; cross_entropy takes ``y = [class id]``).

    Backward: ``delta_l = ∂L/∂z_l``: ``delta_L = ∂L/∂a_L ⊙ f_L'(z_L)``,
    ``delta_l = (delta_{l+1} @ W_{l+1}ᵀ) ⊙ f_l'(z_l)``; ``dW_l = outer(a_{l−1}, delta_l)``
    (in, out), ``db_l = delta_l``. Update: ``W ← W − lr·dW``, ``b ← b − lr·db``.

    Returns ``{"forward": [{"z", "a"}], "output", "loss", "dL_da": ∂L/∂a_L,
    "backward": [{"delta", "dW", "db"}], "updated": [{"W", "b"}]}``, lists ordered input to
    output. Shapes are validated: errors name e.g. ``layers[1].W``; every number must be finite
    and within ±``BACKPROP_MAX_ABS``.
    """
    net = _parse(x, y, layers, activation, loss, lr, output_activation, activation_params)
    return _compute(net)


def backprop_train(
    x: Sequence[float],
    y: Sequence[float],
    layers: Sequence[Mapping[str, Any]],
    steps: int,
    activation: str = "sigmoid",
    loss: str = "half_mse",
    lr: float = 0.1,
    output_activation: str | None = None,
    activation_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``steps`` SGD updates of :func:`backprop_example`'s network on its one example.

    Returns ``{"loss": (steps + 1,)`` (the loss before each update and after the last),
    ``"params": [{"name", "symbol", "values": (steps + 1,)}]`` (every weight and bias, layer by
    layer, W row-major (in, out) then b), ``"diverged"``: the first step whose loss is not
    finite, or None}. Full float64 precision; the same update as ``updated`` step after step.
    Like the walk, only for networks with at most ``BACKPROP_MAX_WALK_PARAMS`` parameters.
    """
    steps = check(Param("train_steps", "int", 0, min=0, max=BACKPROP_MAX_TRAIN_STEPS), steps)
    net = _parse(x, y, layers, activation, loss, lr, output_activation, activation_params)
    names = _param_names(net)
    if len(names) > BACKPROP_MAX_WALK_PARAMS:  # the response holds (steps + 1) × parameters
        raise ConfigError(
            "train_steps",
            f"needs a network with at most {BACKPROP_MAX_WALK_PARAMS} parameters, "
            f"this one has {len(names)}",
        )
    losses = np.empty(steps + 1)
    values = np.empty((steps + 1, len(names)))
    Ws, bs = [W.copy() for W in net.Ws], [b.copy() for b in net.bs]
    diverged: int | None = None
    for t in range(steps + 1):
        values[t] = np.concatenate(
            [np.concatenate([W.ravel(), b]) for W, b in zip(Ws, bs, strict=True)]
        )
        if t == steps:
            losses[t] = _loss_only(net, Ws, bs)
            break
        step = _Net(net.x, net.target, Ws, bs, net.acts, net.act_names, net.loss_fn, net.lr)
        r = _compute(step)
        losses[t] = r["loss"]
        Ws = [u["W"] for u in r["updated"]]
        bs = [u["b"] for u in r["updated"]]
    bad = ~np.isfinite(losses)
    if np.any(bad):
        diverged = int(np.argmax(bad))
    return {
        "loss": losses,
        "params": [
            {"name": name, "symbol": sym, "values": values[:, i]}
            for i, (name, sym) in enumerate(names)
        ],
        "diverged": diverged,
    }


# --- the walk: every quantity as its formula with the numbers substituted --------------------

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_ACT_SYMBOL = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "identity": ""}


def fmt(v: float) -> str:
    """A number as the walk prints it: 5 decimals (at least 4 significant digits), trailing zeros
    dropped, Unicode minus; e.g. 0.765738 → ``0.76574``, 0.5 → ``0.5``, 3.634e-4 → ``0.0003634``."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 1e6 or mag < 1e-9:
        text = f"{v:.4e}"
    else:
        decimals = max(5, 3 - math.floor(math.log10(mag)))
        text = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
    return text.replace("-", "−")


def _op(v: float) -> str:
    """An operand inside an expression: negative numbers in parentheses."""
    text = fmt(v)
    return f"({text})" if text.startswith("−") else text


def _param_names(net: _Net) -> list[tuple[str, str]]:
    """(name, symbol) of every parameter, layer by layer: W (in, out) row-major, then b."""
    out: list[tuple[str, str]] = []
    for k, W in enumerate(net.Ws):
        sym = _Symbols(net)
        out += [(f"layers[{k}].W[{i}][{j}]", sym.W(k, i, j)) for i, j in np.ndindex(W.shape)]
        out += [(f"layers[{k}].b[{j}]", sym.b(k, j)) for j in range(W.shape[1])]
    return out


class _Symbols:
    """Names as the notes write them: layers numbered from 1 (a₀ = x), units from 1 in brackets,
    no bracket for a layer of one unit; the output is ŷ."""

    def __init__(self, net: _Net) -> None:
        self.widths = [net.x.size] + [W.shape[1] for W in net.Ws]
        self.L = len(net.Ws)

    @staticmethod
    def _idx(name: str, j: int, width: int) -> str:
        return name if width == 1 else f"{name}[{j + 1}]"

    def a(self, k: int, j: int) -> str:
        """Activation j of layer k (k = −1: the input x)."""
        if k < 0:
            return self._idx("x", j, self.widths[0])
        if k == self.L - 1:
            return self._idx("ŷ", j, self.widths[-1])
        return self._idx(f"a{str(k + 1).translate(_SUB)}", j, self.widths[k + 1])

    def z(self, k: int, j: int) -> str:
        return self._idx(f"z{str(k + 1).translate(_SUB)}", j, self.widths[k + 1])

    def delta(self, k: int, j: int) -> str:
        return self._idx(f"δ{str(k + 1).translate(_SUB)}", j, self.widths[k + 1])

    def b(self, k: int, j: int) -> str:
        return self._idx(f"b{str(k + 1).translate(_SUB)}", j, self.widths[k + 1])

    def W(self, k: int, i: int, j: int) -> str:
        n_in, n_out = self.widths[k], self.widths[k + 1]
        name = f"W{str(k + 1).translate(_SUB)}"
        if n_out == 1:
            return self._idx(name, i, n_in)
        return f"{name}[{i + 1},{j + 1}]"

    def y(self, j: int) -> str:
        return self._idx("y", j, self.widths[-1])


def _step(
    phase: str,
    kind: str,
    symbol: str,
    formula: str,
    substituted: str,
    value: float,
    *,
    relation: str = "=",
    nodes: Sequence[Sequence[int]] = (),
    edges: Sequence[Sequence[int]] = (),
    operands: Sequence[tuple[str, float]] = (),
    detail: Sequence[str] = (),
    check: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "phase": phase,
        "kind": kind,
        "symbol": symbol,
        "relation": relation,
        "formula": formula,
        "substituted": substituted,
        "value": float(value),
        "value_text": fmt(value),
        "operands": [{"symbol": s, "value": float(v), "text": fmt(v)} for s, v in operands],
        "detail": list(detail),
        "highlight": {"nodes": [list(n) for n in nodes], "edges": [list(e) for e in edges]},
        "check": dict(check) if check is not None else None,
    }


def _derivative_text(
    name: str, a_sym: str, z_sym: str, a: float, z: float, d: float
) -> tuple[str, str]:
    """(symbol of f′(z), one detail line ``f′(z) = formula = numbers = value``)."""
    f = _ACT_SYMBOL.get(name, name)
    dsym = f"{f}′({z_sym})"
    if name == "sigmoid":
        body = f"{a_sym}·(1 − {a_sym}) = {_op(a)}·(1 − {_op(a)})"
    elif name == "tanh":
        body = f"1 − {a_sym}² = 1 − {_op(a)}²"
    elif name == "relu":
        body = f"1[{z_sym} > 0] = 1[{fmt(z)} > 0]"
    else:
        body = f"{f}′({fmt(z)})"
    return dsym, f"{dsym} = {body} = {fmt(d)}"


def _fd_check(net: _Net, k: int, key: str, idx: tuple[int, ...], analytic: float) -> dict[str, Any]:
    """Central difference (L(θ + h) − L(θ − h)) / 2h on one parameter, beside the analytic one."""
    h = BACKPROP_FD_H
    vals = []
    for sign in (1.0, -1.0):
        Ws = [W.copy() for W in net.Ws]
        bs = [b.copy() for b in net.bs]
        (Ws if key == "W" else bs)[k][idx] += sign * h
        vals.append(_loss_only(net, Ws, bs))
    numeric = (vals[0] - vals[1]) / (2.0 * h)
    scale = max(abs(analytic), abs(numeric))
    rel = abs(analytic - numeric) / scale if scale > 0 else 0.0
    return {
        "analytic": analytic,
        "numeric": numeric,
        "rel_error": rel,
        "h": h,
        "numeric_text": fmt(numeric),
        "rel_error_text": f"{rel:.1e}".replace("-", "−"),
    }


def _loss_steps(net: _Net, r: dict[str, Any], sym: _Symbols) -> list[dict[str, Any]]:
    """The softmax steps (cross_entropy) and the loss step."""
    out = r["output"]
    k = out.size
    L = len(net.Ws)
    name = net.loss_fn.name
    steps: list[dict[str, Any]] = []
    loss_node = [[L + 1, 0]]
    if name == "cross_entropy":
        with np.errstate(all="ignore"):
            p = softmax(out[None, :])[0]
        denom = " + ".join(f"e^{_op(v)}" for v in out)
        denom_sym = " + ".join(f"e^{sym.a(L - 1, m)}" for m in range(k))
        for j in range(k):
            steps.append(
                _step(
                    "forward",
                    "p",
                    f"p[{j + 1}]",
                    f"e^{sym.a(L - 1, j)} / ({denom_sym})",
                    f"e^{_op(out[j])} / ({denom})",
                    p[j],
                    nodes=[[L, j]],
                    operands=[(sym.a(L - 1, m), out[m]) for m in range(k)],
                )
            )
        c = int(net.target[0])
        steps.append(
            _step(
                "loss",
                "loss",
                "L",
                f"−ln p[{c + 1}]",
                f"−ln {fmt(p[c])}",
                r["loss"],
                nodes=loss_node,
                operands=[(f"p[{c + 1}]", p[c])],
                detail=[f"y = {c} (class id, from 0) → p[{c + 1}]"],
            )
        )
        return steps
    y = net.target[0]
    terms = [(sym.a(L - 1, j), sym.y(j), out[j], y[j]) for j in range(k)]
    if name in ("half_mse", "mse"):
        half = "½" if name == "half_mse" else ""
        f_terms = [f"{half}({a} − {t})²" for a, t, _, _ in terms]
        s_terms = [f"{half}({fmt(av)} − {_op(tv)})²" for _, _, av, tv in terms]
    elif name == "mae":
        f_terms = [f"|{a} − {t}|" for a, t, _, _ in terms]
        s_terms = [f"|{fmt(av)} − {_op(tv)}|" for _, _, av, tv in terms]
    elif name == "bce_with_logits":
        f_terms = [f"max({a}, 0) − {a}·{t} + ln(1 + e^(−|{a}|))" for a, t, _, _ in terms]
        s_terms = [
            f"max({fmt(av)}, 0) − {_op(av)}·{_op(tv)} + ln(1 + e^(−|{fmt(av)}|))"
            for _, _, av, tv in terms
        ]
    else:  # smooth_l1, huber, …: the catalog's formula, the numbers in the generic form
        f_terms = [f"{name}({a}, {t})" for a, t, _, _ in terms]
        s_terms = [f"{name}({fmt(av)}, {_op(tv)})" for _, _, av, tv in terms]
    if k == 1:
        formula, subst = f_terms[0], s_terms[0]
    else:
        formula = f"(1/{k})·[{' + '.join(f_terms)}]"
        subst = f"(1/{k})·[{' + '.join(s_terms)}]"
    operands = [(a, av) for a, _, av, _ in terms] + [(t, tv) for _, t, _, tv in terms]
    steps.append(
        _step("loss", "loss", "L", formula, subst, r["loss"], nodes=loss_node, operands=operands)
    )
    return steps


def _output_grad_text(net: _Net, r: dict[str, Any], sym: _Symbols, j: int) -> tuple[str, str]:
    """(formula, numbers) of ∂L/∂ŷ[j] as the loss defines it."""
    L = len(net.Ws)
    out = r["output"]
    k = out.size
    a, av = sym.a(L - 1, j), out[j]
    name = net.loss_fn.name
    per_k = "" if k == 1 else f"/{k}"
    if name == "cross_entropy":
        with np.errstate(all="ignore"):
            p = softmax(out[None, :])[0]
        one = 1 if j == int(net.target[0]) else 0
        return f"(p[{j + 1}] − {one})", f"({fmt(p[j])} − {one})"
    t, tv = sym.y(j), net.target[0][j]
    if name == "half_mse":
        return f"({a} − {t}){per_k}", f"({fmt(av)} − {_op(tv)}){per_k}"
    if name == "mse":
        return f"2({a} − {t}){per_k}", f"2({fmt(av)} − {_op(tv)}){per_k}"
    if name == "bce_with_logits":
        s = 1.0 / (1.0 + math.exp(-av)) if av >= 0 else math.exp(av) / (1.0 + math.exp(av))
        return f"(σ({a}) − {t}){per_k}", f"({fmt(s)} − {_op(tv)}){per_k}"
    return f"∂L/∂{a}", _op(r["dL_da"][j])


def backprop_walk(
    x: Sequence[float],
    y: Sequence[float],
    layers: Sequence[Mapping[str, Any]],
    activation: str = "sigmoid",
    loss: str = "half_mse",
    lr: float = 0.1,
    output_activation: str | None = None,
    activation_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`backprop_example` plus ``"steps"``: one training step by hand, one quantity at a time.

    Order: forward (per unit: z, then a; softmax p for cross_entropy), the loss, backward from
    the output layer (per layer: δ per unit, ∂L/∂W entries, ∂L/∂b entries), then the update
    (output layer first, as the notes do). Each step is ``{"phase", "kind", "symbol",
    "relation" ("=" or "←"), "formula" (symbolic), "substituted" (the same with this example's
    numbers, printed by :func:`fmt`), "value", "value_text", "operands": [{"symbol", "value",
    "text"}], "detail": [derivation lines], "highlight": {"nodes": [[layer, unit]], "edges":
    [[layer, in, out]]}, "check"}``. Graph layers: 0 = inputs, l = layer l, L + 1 = the loss.
    ``check`` (gradient steps only): ``{"analytic", "numeric" (central difference with
    h = BACKPROP_FD_H on the loss), "rel_error", "h", "numeric_text", "rel_error_text"}``.

    Networks with more than ``BACKPROP_MAX_WALK_PARAMS`` parameters are refused (field ``walk``).
    """
    net = _parse(x, y, layers, activation, loss, lr, output_activation, activation_params)
    n_params = sum(W.size + b.size for W, b in zip(net.Ws, net.bs, strict=True))
    if n_params > BACKPROP_MAX_WALK_PARAMS:
        raise ConfigError(
            "walk",
            f"needs a network with at most {BACKPROP_MAX_WALK_PARAMS} "
            f"parameters, this one has {n_params}",
        )
    r = _compute(net)
    sym = _Symbols(net)
    L = len(net.Ws)
    steps: list[dict[str, Any]] = []
    # forward
    for k in range(L):
        a_prev = net.x if k == 0 else r["forward"][k - 1]["a"]
        z, a = r["forward"][k]["z"], r["forward"][k]["a"]
        f = _ACT_SYMBOL.get(net.act_names[k], net.act_names[k])
        W, b = net.Ws[k], net.bs[k]
        for j in range(W.shape[1]):
            ins = range(W.shape[0])
            formula = " + ".join(f"{sym.a(k - 1, i)}·{sym.W(k, i, j)}" for i in ins)
            subst = " + ".join(f"{_op(a_prev[i])}·{_op(W[i, j])}" for i in ins)
            steps.append(
                _step(
                    "forward",
                    "z",
                    sym.z(k, j),
                    f"{formula} + {sym.b(k, j)}",
                    f"{subst} + {_op(b[j])}",
                    z[j],
                    nodes=[[k + 1, j]],
                    edges=[[k + 1, i, j] for i in ins],
                    operands=[
                        *[(sym.a(k - 1, i), a_prev[i]) for i in ins],
                        *[(sym.W(k, i, j), W[i, j]) for i in ins],
                        (sym.b(k, j), b[j]),
                    ],
                )
            )
            if f:
                steps.append(
                    _step(
                        "forward",
                        "a",
                        sym.a(k, j),
                        f"{f}({sym.z(k, j)})",
                        f"{f}({fmt(z[j])})",
                        a[j],
                        nodes=[[k + 1, j]],
                        operands=[(sym.z(k, j), z[j])],
                    )
                )
            else:
                steps.append(
                    _step(
                        "forward",
                        "a",
                        sym.a(k, j),
                        sym.z(k, j),
                        fmt(z[j]),
                        a[j],
                        nodes=[[k + 1, j]],
                        operands=[(sym.z(k, j), z[j])],
                    )
                )
    steps += _loss_steps(net, r, sym)
    # backward
    for k in range(L - 1, -1, -1):
        bk = r["backward"][k]
        z, a = r["forward"][k]["z"], r["forward"][k]["a"]
        a_prev = net.x if k == 0 else r["forward"][k - 1]["a"]
        with np.errstate(all="ignore"):
            deriv = net.acts[k].derivative(z, a)
        name = net.act_names[k]
        width = z.size
        for j in range(width):
            if k == L - 1:
                g_formula, g_subst = _output_grad_text(net, r, sym, j)
                edges: list[list[int]] = [[L + 1, j, 0]]
                operands = [(f"∂L/∂{sym.a(k, j)}", r["dL_da"][j])]
            else:
                nxt = range(net.Ws[k + 1].shape[1])
                dn = r["backward"][k + 1]["delta"]
                Wn = net.Ws[k + 1]
                g_formula = (
                    "("
                    + " + ".join(f"{sym.delta(k + 1, m)}·{sym.W(k + 1, j, m)}" for m in nxt)
                    + ")"
                )
                g_subst = "(" + " + ".join(f"{_op(dn[m])}·{_op(Wn[j, m])}" for m in nxt) + ")"
                edges = [[k + 2, j, m] for m in nxt]
                operands = [
                    *[(sym.delta(k + 1, m), dn[m]) for m in nxt],
                    *[(sym.W(k + 1, j, m), Wn[j, m]) for m in nxt],
                ]
            detail: list[str] = []
            if name == "identity":
                formula, subst = g_formula, g_subst
            else:
                dsym, line = _derivative_text(name, sym.a(k, j), sym.z(k, j), a[j], z[j], deriv[j])
                formula, subst = f"{g_formula}·{dsym}", f"{g_subst}·{_op(deriv[j])}"
                detail.append(line)
                operands.append((dsym, deriv[j]))
            steps.append(
                _step(
                    "backward",
                    "delta",
                    sym.delta(k, j),
                    formula,
                    subst,
                    bk["delta"][j],
                    nodes=[[k + 1, j]],
                    edges=edges,
                    detail=detail,
                    operands=operands,
                )
            )
        for i, j in np.ndindex(bk["dW"].shape):
            steps.append(
                _step(
                    "backward",
                    "dW",
                    f"∂L/∂{sym.W(k, i, j)}",
                    f"{sym.a(k - 1, i)}·{sym.delta(k, j)}",
                    f"{_op(a_prev[i])}·{_op(bk['delta'][j])}",
                    bk["dW"][i, j],
                    edges=[[k + 1, i, j]],
                    operands=[(sym.a(k - 1, i), a_prev[i]), (sym.delta(k, j), bk["delta"][j])],
                    check=_fd_check(net, k, "W", (i, j), float(bk["dW"][i, j])),
                )
            )
        for j in range(width):
            steps.append(
                _step(
                    "backward",
                    "db",
                    f"∂L/∂{sym.b(k, j)}",
                    sym.delta(k, j),
                    fmt(bk["delta"][j]),
                    bk["db"][j],
                    nodes=[[k + 1, j]],
                    operands=[(sym.delta(k, j), bk["delta"][j])],
                    check=_fd_check(net, k, "b", (j,), float(bk["db"][j])),
                )
            )
    # update (output layer first, as the notes)
    eta = fmt(net.lr)
    for k in range(L - 1, -1, -1):
        bk, up = r["backward"][k], r["updated"][k]
        for i, j in np.ndindex(bk["dW"].shape):
            s = sym.W(k, i, j)
            steps.append(
                _step(
                    "update",
                    "W",
                    s,
                    f"{s} − η·∂L/∂{s}",
                    f"{_op(net.Ws[k][i, j])} − {eta}·{_op(bk['dW'][i, j])}",
                    up["W"][i, j],
                    relation="←",
                    edges=[[k + 1, i, j]],
                    operands=[(s, net.Ws[k][i, j]), ("η", net.lr), (f"∂L/∂{s}", bk["dW"][i, j])],
                )
            )
        for j in range(bk["db"].size):
            s = sym.b(k, j)
            steps.append(
                _step(
                    "update",
                    "b",
                    s,
                    f"{s} − η·∂L/∂{s}",
                    f"{_op(net.bs[k][j])} − {eta}·{_op(bk['db'][j])}",
                    up["b"][j],
                    relation="←",
                    nodes=[[k + 1, j]],
                    operands=[(s, net.bs[k][j]), ("η", net.lr), (f"∂L/∂{s}", bk["db"][j])],
                )
            )
    return {**r, "steps": steps}
