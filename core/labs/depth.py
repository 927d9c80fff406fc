"""Depth lab: gradient and activation statistics of a fresh deep MLP at initialisation.

One forward/backward pass of ``width -> width ×depth -> 1`` on ``x ~ N(0, 1) (n, width)`` with
random regression targets shows vanishing and exploding gradients, and what initialisation,
batch norm and residual connections do about them (``POST /api/labs/depth``, the gradients lab).
The model is the training code itself (``core.model.MLP``); randomness comes from two streams
spawned from an explicit ``seed`` (initialisation, data). Work is bounded by
:data:`DEPTH_WORK_LIMIT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.activations import ACTIVATIONS
from core.errors import ConfigError
from core.histogram import histogram
from core.initializers import INITIALIZERS
from core.labs._common import FloatArray, check, none_if_nan, seed_param
from core.losses import LOSSES
from core.model import MLP, ModelSpec
from core.registry import Param
from core.trainer import as_mapping

__all__ = ["DEPTH_MAX", "DEPTH_WORK_LIMIT", "depth_profile", "depth_setup"]

DEPTH_MAX = 50
WIDTH_MAX = 512
N_MAX = 4096
BINS_MAX = 200


def depth_setup(
    depth: int,
    width: int,
    activation: str = "tanh",
    init: str = "xavier_uniform",
    batch_norm: bool = False,
    residual: bool = False,
    n: int = 256,
    seed: int = 0,
    activation_params: Mapping[str, Any] | None = None,
    init_params: Mapping[str, Any] | None = None,
    layer_norm: bool = False,
) -> tuple[MLP, FloatArray, FloatArray]:
    """Validate and build what :func:`depth_profile` measures: ``(model, x (n, width), y (n, 1))``.

    The model is a fresh ``MLP`` with ``depth`` hidden layers of ``width`` units, input width
    ``width`` and one linear output; ``x ~ N(0, 1)`` and ``y ~ N(0, 1)``. Two independent RNG
    streams are spawned from ``seed`` (initialisation, data), so the data does not change when only
    the initialiser or the activation changes.
    """
    depth = check(Param("depth", "int", 10, min=1, max=DEPTH_MAX), depth)
    width = check(Param("width", "int", 32, min=1, max=WIDTH_MAX), width)
    n = check(Param("n", "int", 256, min=1, max=N_MAX), n)
    seed = seed_param(seed)
    batch_norm = check(Param("batch_norm", "bool", False), batch_norm)
    residual = check(Param("residual", "bool", False), residual)
    layer_norm = check(Param("layer_norm", "bool", False), layer_norm)
    if batch_norm and layer_norm:
        raise ConfigError("layer_norm", "choose batch_norm or layer_norm, not both")
    if batch_norm and n < 2:
        raise ConfigError("n", "must be an integer with 2 <= x <= 4096 when batch_norm is on")
    act = ACTIVATIONS.get(activation, "activation")
    act_params = act.resolve(
        as_mapping(activation_params, "activation_params"), "activation_params"
    )
    ini = INITIALIZERS.get(init, "init")
    ini_params = ini.resolve(as_mapping(init_params, "init_params"), "init_params")
    spec = ModelSpec(
        input_dim=width,
        output_dim=1,
        hidden=(width,) * depth,
        activation=activation,
        activation_params=act_params,
        init=init,
        init_params=ini_params,
        batch_norm=batch_norm,
        layer_norm=layer_norm,
        residual=residual,
    )
    init_ss, data_ss = np.random.SeedSequence(seed).spawn(2)
    model = MLP(spec, np.random.default_rng(init_ss))
    data_rng = np.random.default_rng(data_ss)
    x = data_rng.standard_normal((n, width))
    y = data_rng.standard_normal((n, 1))
    return model, x, y


DEPTH_WORK_LIMIT = 4 * 10**9
"""Bound on ``depth × width² × n`` multiply-adds per pass, so one request stays ~1-2 s."""


def depth_profile(
    depth: int,
    width: int,
    activation: str = "tanh",
    init: str = "xavier_uniform",
    batch_norm: bool = False,
    residual: bool = False,
    n: int = 256,
    seed: int = 0,
    activation_params: Mapping[str, Any] | None = None,
    init_params: Mapping[str, Any] | None = None,
    bins: int = 30,
    layer_norm: bool = False,
) -> dict[str, Any]:
    """Per-layer gradient and activation statistics of ONE forward/backward pass at init.

    Setup (:func:`depth_setup`): a fresh MLP ``width -> width ×depth -> 1`` on ``x ~ N(0, 1)``
    ``(n, width)`` with regression targets ``y ~ N(0, 1)`` ``(n, 1)`` and the ``mse`` loss (torch
    ``MSELoss``); one training-mode forward (batch norm uses batch statistics) and one backward.
    Random targets make the output-layer error ``2(ŷ − y)/n`` of order 1, so what happens to the
    gradient on its way back to the input is the network's doing, not the data's.

    Returns ``{"loss": float, "finite": bool, "layers": [...]}`` with one entry per layer, input
    to output (``depth`` hidden layers, then the output layer)::

        index, name, width,
        grad_norm    ‖∂L/∂W‖_F of the layer's dense weights
        bias_grad_norm  ‖∂L/∂b‖ of its biases (with all-zero weights every hidden gradient is
                     0, but the output bias still gets δ_out summed over the batch)
        weight_norm  ‖W‖_F
        act_mean, act_std   of the layer's activation output (logits for the output layer)
        saturation   share of saturated units (sigmoid/tanh hidden layers), else None
        dead_fraction share of dead ReLU units (relu hidden layers), else None
        act_hist  {counts (bins,), edges (bins+1,), nonfinite}: activation values
        grad_hist {counts, edges, nonfinite}: entries of ∂L/∂W

    Never raises on overflow: non-finite values are reported (``finite`` false).
    """
    bins = check(Param("bins", "int", 30, min=1, max=BINS_MAX), bins)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (depth, width, n)):
        work = depth * width * width * n
        if work > DEPTH_WORK_LIMIT:
            max_n = max(1, DEPTH_WORK_LIMIT // (depth * width * width))
            raise ConfigError(
                "n", f"depth × width² × n must be <= {DEPTH_WORK_LIMIT:.0e} (about 2 s of "
                f"work); with depth {depth} and width {width}, use n <= {max_n}"
            )
    model, x, y = depth_setup(
        depth, width, activation, init, batch_norm, residual, n, seed,
        activation_params, init_params, layer_norm,
    )
    loss_fn = LOSSES.create("mse")
    with np.errstate(all="ignore"):
        out = model.forward_train(x, np.random.default_rng(0))  # no dropout: rng unused
        loss, g = loss_fn.value_and_grad(out, y)
        model.backward(g)
        act_mean, act_std, saturation, dead = model.activation_stats()
        grad_norms = np.sqrt(model.squared_norms(model.grad))
        weight_norms = np.sqrt(model.squared_norms(model.theta))
        bias_grad_norms = [float(np.sqrt(np.dot(d.db, d.db))) for d in model.dense_layers]
    acts = [block.act for block in model.blocks] + [out]
    layers: list[dict[str, Any]] = []
    for k, (name, dense) in enumerate(zip(model.layer_names(), model.dense_layers, strict=True)):
        layers.append(
            {
                "index": k,
                "name": name,
                "width": int(model.widths[k]),
                "grad_norm": float(grad_norms[k]),
                "bias_grad_norm": bias_grad_norms[k],
                "weight_norm": float(weight_norms[k]),
                "act_mean": float(act_mean[k]),
                "act_std": float(act_std[k]),
                "saturation": None if saturation is None else none_if_nan(saturation[k]),
                "dead_fraction": None if dead is None else none_if_nan(dead[k]),
                "act_hist": histogram(acts[k], bins),
                "grad_hist": histogram(dense.dW, bins),
            }
        )
    finite = bool(np.isfinite(loss) and np.all(np.isfinite(model.grad)))
    return {"loss": float(loss), "finite": finite, "layers": layers}
