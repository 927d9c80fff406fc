"""A multi-layer perceptron over one flat parameter vector, with per-layer telemetry.

Layout of the flat vectors (see docs/engine.md): ``[W_1 … W_L+1 | b_1 … b_L+1 | γ_1, β_1, …]``.
All dense weights come first, so the regularised weights are the contiguous slice
``theta[:n_weights]``. Each layer's arrays are views into ``theta`` (values) and ``grad``
(gradients), so the optimizer updates every layer at once and per-layer norms come from a single
``np.add.reduceat``.

A hidden block is ``dense -> [batch norm | layer norm] -> activation -> [dropout] (+ residual)``;
the residual connection (``h_out = h_in + block(h_in)``) exists only where the block's input and
output widths are equal. The output layer is a plain dense layer producing logits (binary: 1,
multiclass: K) or predictions (regression); the loss applies the link function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.activations import ACTIVATIONS, Activation, activation_gain
from core.errors import ConfigError
from core.initializers import INITIALIZERS
from core.layers import BN_MOMENTUM, BatchNorm1d, Dense, LayerNorm, dropout_mask

FloatArray = NDArray[np.float64]

MAX_HIDDEN_LAYERS = 64
MAX_UNITS = 512
MAX_DROPOUT = 0.95
NEAR_ZERO = 1e-3
"""``near_zero_fraction`` counts weights with ``|w| < NEAR_ZERO``."""


@dataclass(frozen=True)
class ModelSpec:
    """Frozen architecture hyperparameters (validated by :func:`make_model_spec`)."""

    input_dim: int
    output_dim: int
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "tanh"
    activation_params: Mapping[str, Any] = field(default_factory=dict)
    init: str = "xavier_uniform"
    init_params: Mapping[str, Any] = field(default_factory=dict)
    bias_init: str = "zeros"
    bias_init_params: Mapping[str, Any] = field(default_factory=dict)
    batch_norm: bool = False
    layer_norm: bool = False
    dropout: float = 0.0
    residual: bool = False
    batch_norm_momentum: float = BN_MOMENTUM


MODEL_DEFAULTS: dict[str, Any] = {
    "hidden": [8, 8],
    "activation": "tanh",
    "activation_params": {},
    "init": "xavier_uniform",
    "init_params": {},
    "bias_init": "zeros",
    "bias_init_params": {},
    "batch_norm": False,
    "layer_norm": False,
    "dropout": 0.0,
    "residual": False,
    "batch_norm_momentum": BN_MOMENTUM,
}


def resolve_model_config(
    values: Mapping[str, Any] | None,
    prefix: str = "model",
    max_layers: int = MAX_HIDDEN_LAYERS,
    max_units: int = MAX_UNITS,
) -> dict[str, Any]:
    """Validate a model config dict and fill in defaults (JSON-able result).

    Raises ConfigError naming e.g. ``model.hidden[2]`` with the allowed range.
    """
    values = dict(values or {})
    unknown = sorted(set(values) - set(MODEL_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{prefix}.{unknown[0]}",
            f"unknown model field; allowed: {', '.join(MODEL_DEFAULTS)}",
        )
    cfg = {**MODEL_DEFAULTS, **values}
    hidden = cfg["hidden"]
    if not isinstance(hidden, list | tuple) or len(hidden) > max_layers:
        raise ConfigError(
            f"{prefix}.hidden", f"must be a list of at most {max_layers} layer widths"
        )
    for i, width in enumerate(hidden):
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= max_units:
            raise ConfigError(
                f"{prefix}.hidden[{i}]", f"must be an integer with 1 <= x <= {max_units}"
            )
    cfg["hidden"] = [int(w) for w in hidden]
    for key in ("batch_norm", "layer_norm", "residual"):
        if not isinstance(cfg[key], bool):
            raise ConfigError(f"{prefix}.{key}", "must be true or false")
    if cfg["batch_norm"] and cfg["layer_norm"]:
        raise ConfigError(f"{prefix}.layer_norm", "choose batch_norm or layer_norm, not both")
    cfg["dropout"] = check_dropout(cfg["dropout"], f"{prefix}.dropout")
    cfg["batch_norm_momentum"] = check_bn_momentum(
        cfg["batch_norm_momentum"], f"{prefix}.batch_norm_momentum"
    )
    act = ACTIVATIONS.get(cfg["activation"], f"{prefix}.activation")
    cfg["activation_params"] = act.resolve(cfg["activation_params"], f"{prefix}.activation_params")
    init = INITIALIZERS.get(cfg["init"], f"{prefix}.init")
    cfg["init_params"] = init.resolve(cfg["init_params"], f"{prefix}.init_params")
    bias = INITIALIZERS.get(cfg["bias_init"], f"{prefix}.bias_init")
    if not bias.meta.get("bias_ok", False):
        ok = [c.name for c in INITIALIZERS if c.meta.get("bias_ok", False)]
        raise ConfigError(f"{prefix}.bias_init", f"must be one of {', '.join(ok)}")
    cfg["bias_init_params"] = bias.resolve(cfg["bias_init_params"], f"{prefix}.bias_init_params")
    return cfg


def check_dropout(value: Any, field_name: str) -> float:
    """Dropout probability p with ``0 <= p <= MAX_DROPOUT``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0.0 <= value <= MAX_DROPOUT
    ):
        raise ConfigError(field_name, f"must be a number with 0 <= x <= {MAX_DROPOUT}")
    return float(value)


def check_bn_momentum(value: Any, field_name: str) -> float:
    """Batch-norm momentum with ``0 <= m <= 1`` (torch's convention: ``running = (1 - m) *
    running + m * batch``; 0 freezes the running statistics, 1 keeps the last batch's)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigError(field_name, "must be a number with 0 <= x <= 1")
    return float(value)


def spec_from_config(cfg: Mapping[str, Any], input_dim: int, output_dim: int) -> ModelSpec:
    """Build a ModelSpec from a resolved model config."""
    return ModelSpec(
        input_dim=input_dim,
        output_dim=output_dim,
        hidden=tuple(cfg["hidden"]),
        activation=cfg["activation"],
        activation_params=dict(cfg["activation_params"]),
        init=cfg["init"],
        init_params=dict(cfg["init_params"]),
        bias_init=cfg["bias_init"],
        bias_init_params=dict(cfg["bias_init_params"]),
        batch_norm=cfg["batch_norm"],
        layer_norm=cfg["layer_norm"],
        dropout=cfg["dropout"],
        residual=cfg["residual"],
        batch_norm_momentum=cfg.get("batch_norm_momentum", BN_MOMENTUM),
    )


class HiddenBlock:
    """``dense -> [norm] -> activation -> [dropout] (+ residual)`` for one hidden layer."""

    def __init__(
        self,
        dense: Dense,
        norm: BatchNorm1d | LayerNorm | None,
        activation: Activation,
        residual: bool,
    ) -> None:
        self.dense = dense
        self.norm = norm
        self.activation = activation
        self.residual = residual
        self.pre: FloatArray | None = None  # input of the activation
        self.act: FloatArray | None = None  # output of the activation (before dropout)
        self.mask: FloatArray | None = None  # dropout mask of the last training pass


class MLP:
    """Multi-layer perceptron whose parameters live in one flat vector.

    Attributes: ``theta (P,)`` parameters, ``grad (P,)`` gradients, ``delta (P,)`` scratch for
    the last update; ``n_weights`` dense weights lead both vectors; ``buffers`` holds batch-norm
    running statistics. ``widths`` are the layer output widths (hidden layers, then output).
    """

    def __init__(self, spec: ModelSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        dims = [spec.input_dim, *spec.hidden, spec.output_dim]
        self.widths = dims[1:]
        self.n_layers = len(self.widths)  # hidden + output
        shapes = list(zip(dims[:-1], dims[1:], strict=True))
        self.n_weights = sum(i * o for i, o in shapes)
        n_bias = sum(self.widths)
        normed = spec.batch_norm or spec.layer_norm
        n_norm = 2 * sum(spec.hidden) if normed else 0
        self.n_params = self.n_weights + n_bias + n_norm
        # Rows: parameters, gradients, last update. Row views are contiguous 1-D vectors.
        self._state = np.zeros((3, self.n_params))
        self.theta, self.grad, self.delta = self._state
        self.buffers = np.zeros(2 * sum(spec.hidden) if spec.batch_norm else 0)
        self.weight_offsets = np.cumsum([0] + [i * o for i, o in shapes[:-1]])
        self.activation = ACTIVATIONS.create(spec.activation, spec.activation_params)

        cursor_w, cursor_b = 0, self.n_weights
        cursor_n, cursor_buf = self.n_weights + n_bias, 0
        denses: list[Dense] = []
        for i, o in shapes:
            W = self.theta[cursor_w : cursor_w + i * o].reshape(i, o)
            dW = self.grad[cursor_w : cursor_w + i * o].reshape(i, o)
            b = self.theta[cursor_b : cursor_b + o]
            db = self.grad[cursor_b : cursor_b + o]
            denses.append(Dense(W, b, dW, db))
            cursor_w += i * o
            cursor_b += o
        self.blocks: list[HiddenBlock] = []
        for dense, (i, o) in zip(denses[:-1], shapes[:-1], strict=True):
            norm: BatchNorm1d | LayerNorm | None = None
            if normed:
                views = [
                    arr[cursor_n + k * o : cursor_n + (k + 1) * o]
                    for arr in (self.theta, self.grad)
                    for k in (0, 1)
                ]
                gamma, beta, dgamma, dbeta = views
                cursor_n += 2 * o
                if spec.batch_norm:
                    running_mean = self.buffers[cursor_buf : cursor_buf + o]
                    running_var = self.buffers[cursor_buf + o : cursor_buf + 2 * o]
                    cursor_buf += 2 * o
                    norm = BatchNorm1d(gamma, beta, dgamma, dbeta, running_mean, running_var,
                                       momentum=spec.batch_norm_momentum)
                else:
                    norm = LayerNorm(gamma, beta, dgamma, dbeta)
            self.blocks.append(HiddenBlock(dense, norm, self.activation, spec.residual and i == o))
        self.output = denses[-1]
        self.dropout = spec.dropout
        self.last_dropout = spec.dropout  # p of the last training pass (its masks are kept)
        self._act_buffers: dict[int, FloatArray] = {}
        self._n_train = 0
        self._width_total = sum(self.widths)
        self._widths_f = np.asarray(self.widths, dtype=np.float64)
        self._width_offsets = np.concatenate(([0], np.cumsum(self.widths[:-1]))).astype(np.intp)
        self.initialize(rng)

    # ------------------------------------------------------------------ parameters
    def initialize(self, rng: np.random.Generator) -> None:
        """Draw weights and biases (in layer order W_1, b_1, W_2, …); reset norm parameters."""
        spec = self.spec
        init = INITIALIZERS.create(spec.init, spec.init_params)
        bias_init = INITIALIZERS.create(spec.bias_init, spec.bias_init_params)
        hidden_gain = activation_gain(self.activation)
        for k, dense in enumerate(self.dense_layers):
            fan_in, fan_out = dense.W.shape
            gain = hidden_gain if k < len(self.blocks) else 1.0  # output layer is linear
            dense.W[...] = init((fan_in, fan_out), fan_in, fan_out, rng, gain)
            dense.b[...] = bias_init((fan_out,), fan_in, fan_out, rng, gain)
        for block in self.blocks:
            if block.norm is not None:
                block.norm.gamma[...] = 1.0
                block.norm.beta[...] = 0.0
            if isinstance(block.norm, BatchNorm1d):
                block.norm.running_mean[...] = 0.0
                block.norm.running_var[...] = 1.0
        self.grad[...] = 0.0
        self.delta[...] = 0.0

    def set_bn_momentum(self, momentum: float) -> None:
        """Momentum of every batch-norm layer from the next training pass on."""
        for block in self.blocks:
            if isinstance(block.norm, BatchNorm1d):
                block.norm.momentum = momentum

    @property
    def dense_layers(self) -> list[Dense]:
        return [b.dense for b in self.blocks] + [self.output]

    @property
    def weights(self) -> FloatArray:
        """All dense weights as one contiguous 1-D view ``(n_weights,)``."""
        return self.theta[: self.n_weights]

    @property
    def weight_grads(self) -> FloatArray:
        return self.grad[: self.n_weights]

    def layer_names(self) -> list[str]:
        return [f"hidden {k + 1}" for k in range(len(self.blocks))] + ["output"]

    # ------------------------------------------------------------------ passes
    def _act_buffer(self, n: int) -> FloatArray:
        """Flat buffer holding every layer's activation for a batch of ``n`` (reused)."""
        buf = self._act_buffers.get(n)
        if buf is None:
            if len(self._act_buffers) > 8:
                self._act_buffers.clear()
            buf = np.empty(n * sum(self.widths))
            self._act_buffers[n] = buf
        return buf

    @property
    def eval_equals_train(self) -> bool:
        """True when training and eval mode compute the same function (no batch norm, no
        dropout), so extra evaluation rows can ride along in a training forward pass."""
        return not self.spec.batch_norm and self.dropout == 0.0

    def forward_train(
        self, x: FloatArray, rng: np.random.Generator, n_train: int | None = None
    ) -> FloatArray:
        """Training-mode forward of ``x (n, d)`` -> outputs ``(n, k)``; caches for backward.

        If ``n_train < n``, only the first ``n_train`` rows are the training batch: the rest
        (e.g. the validation set) are evaluated in the same pass, which is exact only when
        :attr:`eval_equals_train`; statistics and the backward pass use the batch rows only.
        Every layer's activation (the logits for the output layer) lands in one flat buffer,
        which :meth:`activation_stats` summarises with a few vectorised calls.
        """
        n = x.shape[0]
        self._n_train = n if n_train is None else n_train
        assert self._n_train == n or self.eval_equals_train, "extra rows need eval == train"
        buf = self._act_buffer(n)
        self._last_buffer = buf
        h = x
        start = 0
        p = self.last_dropout = self.dropout
        for block, width in zip(self.blocks, self.widths, strict=False):
            pre = block.dense.forward(h)
            if block.norm is not None:
                pre = block.norm.forward(pre, True)
            act = buf[start : start + n * width].reshape(n, width)
            start += n * width
            block.activation.forward(pre, out=act)
            block.pre, block.act = pre, act
            if p > 0.0:
                block.mask = dropout_mask(act.shape, p, rng)
                out = act * block.mask
            else:
                block.mask = None
                out = act
            h = h + out if block.residual else out
        logits = buf[start:].reshape(n, self.widths[-1])
        self.output.x = h
        np.matmul(h, self.output.W, out=logits)
        logits += self.output.b
        return logits

    def backward(self, g_out: FloatArray) -> None:
        """Backpropagate ``dL/doutputs (n_train, k)``; writes every gradient into ``grad``."""
        nt = g_out.shape[0]
        g = self.output.backward(g_out, need_dx=bool(self.blocks))
        for k in range(len(self.blocks) - 1, -1, -1):
            block = self.blocks[k]
            assert g is not None and block.pre is not None and block.act is not None
            g_act = g * block.mask if block.mask is not None else g
            g_pre = block.activation.derivative(block.pre[:nt], block.act[:nt])
            g_pre *= g_act
            if block.norm is not None:
                g_pre = block.norm.backward(g_pre)
            g_in = block.dense.backward(g_pre, need_dx=k > 0)
            if block.residual and g_in is not None:
                g_in += g
            g = g_in

    def predict(self, x: FloatArray) -> FloatArray:
        """Eval-mode forward (running BN statistics, no dropout): ``x (n, d) -> (n, k)``."""
        return self.forward_eval(x)[-1]

    def forward_eval(self, x: FloatArray) -> list[FloatArray]:
        """Eval-mode forward returning every layer's activation (logits last); no caching."""
        outs: list[FloatArray] = []
        h = x
        for block in self.blocks:
            pre = block.dense.forward(h, train=False)
            if block.norm is not None:
                pre = block.norm.forward(pre, False)
            act = block.activation.forward(pre)
            outs.append(act)
            h = h + act if block.residual else act
        outs.append(self.output.forward(h, train=False))
        return outs

    # ------------------------------------------------------------------ telemetry
    def activation_stats(self) -> tuple[FloatArray, FloatArray, FloatArray | None,
                                        FloatArray | None]:
        """Per-layer statistics of the last training forward pass, as arrays ``(L,)``.

        Returns ``(act_mean, act_std, saturation, dead_fraction)``. ``act_mean``/``act_std``:
        mean and (population) standard deviation of the activation output (pre-dropout,
        pre-residual; the logits for the output layer). ``saturation``: share of (example, unit)
        pairs in the flat tails of sigmoid/tanh (see core.activations), NaN for the output
        layer, None for non-saturating activations. ``dead_fraction``: share of ReLU units that
        output 0 for every example of the batch, NaN for the output layer, None unless ReLU.
        """
        buf = self._last_buffer
        n = buf.size // self._width_total
        nt = self._n_train
        counts = nt * self._widths_f
        offsets = n * self._width_offsets
        if nt != n:  # only the leading n_train rows of each layer's block are the batch
            bounds = np.empty(2 * len(offsets), dtype=np.intp)
            bounds[0::2] = offsets
            bounds[1::2] = offsets + nt * np.asarray(self.widths)
            sums = np.add.reduceat(buf, bounds)[0::2]
            sumsq = np.add.reduceat(buf * buf, bounds)[0::2]
        else:
            bounds = offsets
            sums = np.add.reduceat(buf, offsets)
            sumsq = np.add.reduceat(buf * buf, offsets)
        mean = sums / counts
        var = sumsq / counts
        var -= mean * mean
        np.maximum(var, 0.0, out=var)
        saturation = dead = None
        n_hidden = len(self.blocks)
        act = self.activation
        if n_hidden and act.saturating:
            hidden = buf[: offsets[-1]]
            saturation = np.full(n_hidden + 1, np.nan)
            sat = np.add.reduceat(act.saturated(hidden), bounds[: len(bounds) - (
                2 if nt != n else 1)], dtype=np.int64)
            saturation[:-1] = (sat[0::2] if nt != n else sat) / counts[:-1]
        if n_hidden and act.relu_like:
            dead = np.full(n_hidden + 1, np.nan)
            for k, block in enumerate(self.blocks):
                alive = block.act[:nt].any(axis=0)  # type: ignore[index]
                dead[k] = 1.0 - np.count_nonzero(alive) / alive.size
        return mean, np.sqrt(var), saturation, dead

    def squared_norms_rows(self) -> FloatArray:
        """Per-layer squared norms of the weight parts of ``theta``, ``grad`` and ``delta``
        at once: ``(3, n_layers)``."""
        w = self._state[:, : self.n_weights]
        return np.add.reduceat(w * w, self.weight_offsets, axis=1)

    def squared_norms(self, vector: FloatArray) -> FloatArray:
        """Per-layer squared Frobenius norms of the weight part of a flat vector ``(P,)``."""
        w = vector[: self.n_weights]
        return np.add.reduceat(w * w, self.weight_offsets)

    def first_nonfinite_layer(self, vector: FloatArray) -> int:
        """Index of the first layer whose part of a flat vector ``(P,)`` (weights, bias or
        norm parameters) holds a NaN or inf; the output layer if none is found."""
        views = self.layer_views(vector)
        for k, parts in enumerate(views):
            if not all(np.isfinite(v).all() for v in parts):
                return k
        return self.n_layers - 1

    def layer_views(self, vector: FloatArray) -> list[list[FloatArray]]:
        """Per layer, the slices of a flat vector ``(P,)`` belonging to it (same layout as
        ``theta``): ``[W, b, (gamma, beta)]``."""
        base = self.theta.__array_interface__["data"][0]
        item = self.theta.itemsize
        out: list[list[FloatArray]] = []
        for k, dense in enumerate(self.dense_layers):
            arrays = [dense.W, dense.b]
            if k < len(self.blocks) and self.blocks[k].norm is not None:
                norm = self.blocks[k].norm
                assert norm is not None
                arrays += [norm.gamma, norm.beta]
            parts = []
            for arr in arrays:
                start = (arr.__array_interface__["data"][0] - base) // item
                parts.append(vector[start : start + arr.size])
            out.append(parts)
        return out

    # ------------------------------------------------------------------ export / import
    def get_layers(self) -> list[dict[str, Any]]:
        """Parameters and buffers per layer, input to output; ``W`` is ``(in, out)``."""
        out: list[dict[str, Any]] = []
        for block in self.blocks:
            entry: dict[str, Any] = {"W": block.dense.W.copy(), "b": block.dense.b.copy()}
            if block.norm is not None:
                entry["gamma"] = block.norm.gamma.copy()
                entry["beta"] = block.norm.beta.copy()
            if isinstance(block.norm, BatchNorm1d):
                entry["running_mean"] = block.norm.running_mean.copy()
                entry["running_var"] = block.norm.running_var.copy()
            out.append(entry)
        out.append({"W": self.output.W.copy(), "b": self.output.b.copy()})
        return out

    def layer_targets(self) -> list[dict[str, FloatArray]]:
        """Writable views, per layer, of everything :meth:`get_layers` returns."""
        targets: list[dict[str, FloatArray]] = []
        for block in self.blocks:
            entry = {"W": block.dense.W, "b": block.dense.b}
            if block.norm is not None:
                entry["gamma"], entry["beta"] = block.norm.gamma, block.norm.beta
            if isinstance(block.norm, BatchNorm1d):
                entry["running_mean"] = block.norm.running_mean
                entry["running_var"] = block.norm.running_var
            targets.append(entry)
        targets.append({"W": self.output.W, "b": self.output.b})
        return targets

    def set_layers(self, layers: Sequence[Mapping[str, Any]], prefix: str = "layers") -> None:
        """Load parameters (exact float64). Every layer and key must match; nothing changes
        unless everything validates (ConfigError names e.g. ``layers[1].W``)."""
        targets = self.layer_targets()
        if not isinstance(layers, Sequence) or len(layers) != len(targets):
            raise ConfigError(prefix, f"expected a list of {len(targets)} layers")
        staged: list[tuple[FloatArray, FloatArray]] = []
        for k, (given, target) in enumerate(zip(layers, targets, strict=True)):
            if not isinstance(given, Mapping):
                raise ConfigError(f"{prefix}[{k}]", "must be an object")
            extra = sorted(set(given) - set(target))
            missing = sorted(set(target) - set(given))
            if extra or missing:
                raise ConfigError(
                    f"{prefix}[{k}]",
                    f"expected keys {sorted(target)}"
                    + (f"; unexpected {extra}" if extra else "")
                    + (f"; missing {missing}" if missing else ""),
                )
            for key, dest in target.items():
                field_name = f"{prefix}[{k}].{key}"
                _check_numbers(given[key], field_name)
                try:
                    arr = np.asarray(given[key], dtype=np.float64)
                except (TypeError, ValueError, OverflowError):
                    raise ConfigError(field_name, "must be numbers") from None
                if arr.shape != dest.shape:
                    raise ConfigError(
                        field_name, f"expected shape {list(dest.shape)}, got {list(arr.shape)}"
                    )
                if not np.all(np.isfinite(arr)):
                    raise ConfigError(field_name, "must be finite numbers")
                if key == "running_var" and np.any(arr < 0):
                    raise ConfigError(field_name, "must be >= 0")
                staged.append((dest, arr))
        for dest, arr in staged:
            dest[...] = arr

    def parameter_count(self) -> int:
        return self.n_params


_FLOAT_MAX = float(np.finfo(np.float64).max)


def _check_numbers(value: Any, field_name: str) -> None:
    """Raise ConfigError unless ``value`` is a number or nested lists of JSON numbers.

    NumPy would read ``"1.5"`` as 1.5 and ``true`` as 1.0, and overflow on integers beyond
    float64: weights must be numbers, as in the JSON schema.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, np.ndarray) and item.dtype.kind in "fiu":
            continue  # Python callers may pass arrays
        elif isinstance(item, bool) or not isinstance(item, int | float | np.number):
            raise ConfigError(field_name, f"must be numbers, got {type(item).__name__} "
                              f"{str(item)[:40]!r}")
        elif isinstance(item, int) and abs(item) > _FLOAT_MAX:
            raise ConfigError(field_name, "must be finite numbers, got an integer beyond float64")

