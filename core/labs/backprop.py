"""Backprop lab: forward pass, backward pass and one SGD update for a single example, every
intermediate number returned (the notes' 2-2-1 worked example and its generalisations).

Layer ``l``: ``z_l = a_{l−1} @ W_l + b_l`` with ``W_l (in, out)`` (the notes' convention and the
engine's), ``a_l = f_l(z_l)``. Activations and losses are the engine's (``core.activations``,
``core.losses``), each backward next to its forward there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.activations import ACTIVATIONS
from core.errors import ConfigError
from core.labs._common import FloatArray, check
from core.losses import LOSSES
from core.registry import Param
from core.trainer import as_mapping

__all__ = ["BACKPROP_MAX_LAYERS", "BACKPROP_MAX_WIDTH", "backprop_example"]

BACKPROP_MAX_LAYERS = 8
BACKPROP_MAX_WIDTH = 64


def _vector(value: Any, field_name: str, size: int | None = None) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(field_name, "must be a list of numbers") from None
    if arr.ndim != 1 or not 1 <= arr.size <= BACKPROP_MAX_WIDTH:
        raise ConfigError(field_name,
                          f"must be a list of 1 to {BACKPROP_MAX_WIDTH} numbers, "
                          f"got shape {list(arr.shape)}")
    if size is not None and arr.size != size:
        raise ConfigError(field_name, f"must have {size} entries, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(field_name, "must be finite numbers")
    return arr


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
    output. Shapes are validated: errors name e.g. ``layers[1].W``.
    """
    act_comp = ACTIVATIONS.get(activation, "activation")
    act_params = act_comp.resolve(as_mapping(activation_params, "activation_params"),
                                  "activation_params")
    hidden_act = act_comp.factory(**act_params)
    out_act = (
        hidden_act if output_activation is None
        else ACTIVATIONS.create(output_activation, {}, "output_activation")
    )
    loss_fn = LOSSES.create(loss, {}, "loss")
    lr = check(Param("lr", "float", 0.1, min=0.0, max=10.0), lr)
    x_arr = _vector(x, "x")
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence) or not (
        1 <= len(layers) <= BACKPROP_MAX_LAYERS
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
        if not np.all(np.isfinite(W)):
            raise ConfigError(f"{field}.W", "must be finite numbers")
        b = _vector(layer["b"], f"{field}.b", W.shape[1])
        Ws.append(W)
        bs.append(b)
        fan_in = W.shape[1]
    k_out = fan_in
    if loss_fn.name == "cross_entropy":
        y_val = _vector(y, "y", 1)
        if y_val[0] != int(y_val[0]) or not 0 <= y_val[0] < k_out:
            raise ConfigError("y", f"must be [class id] with an integer 0 <= id < {k_out}")
        target: NDArray[Any] = y_val.astype(np.int64)
    else:
        target = _vector(y, "y", k_out)[None, :]

    n_layers = len(Ws)
    acts = [hidden_act] * (n_layers - 1) + [out_act]
    forward: list[dict[str, FloatArray]] = []
    a = x_arr
    with np.errstate(all="ignore"):
        for W, b, f in zip(Ws, bs, acts, strict=True):
            z = a @ W + b
            a = f.forward(z)
            forward.append({"z": z, "a": a})
        value, dL_da = loss_fn.value_and_grad(a[None, :], target)
        dL_da = dL_da[0]
        backward: list[dict[str, FloatArray]] = [{}] * n_layers
        g = dL_da
        for k in range(n_layers - 1, -1, -1):
            z, a_k = forward[k]["z"], forward[k]["a"]
            delta = g * acts[k].derivative(z, a_k)
            a_prev = x_arr if k == 0 else forward[k - 1]["a"]
            backward[k] = {"delta": delta, "dW": np.outer(a_prev, delta), "db": delta.copy()}
            g = Ws[k] @ delta
        updated = [
            {"W": W - lr * bk["dW"], "b": b - lr * bk["db"]}
            for W, b, bk in zip(Ws, bs, backward, strict=True)
        ]
    return {
        "input": x_arr,
        "forward": forward,
        "output": forward[-1]["a"],
        "loss": float(value),
        "dL_da": dL_da,
        "backward": backward,
        "updated": updated,
    }
