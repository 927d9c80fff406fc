"""Inside batch norm, layer norm and dropout: train mode vs eval mode, as numbers.

What a run's snapshot shows about its normalisation and dropout layers (``Run.snapshot``):

- :func:`forward_mode`: a forward pass in train or eval mode **without side effects**. Train
  mode normalises with the batch's statistics and drops units, as a training step does, but the
  running statistics, the backward caches and the run's random streams stay untouched, so a
  snapshot never changes a run (a replay after a snapshot stays bit-identical). Dropout masks of
  such a pass come from a generator the caller passes (the snapshot derives one from the seed and
  the step).
- :func:`mode_comparison`: both modes on the same batch; per layer the mean absolute difference
  of the activations, and the loss in each mode.
- :func:`network_internals`: per hidden layer of a small net, batch norm's last batch statistics
  next to its running statistics and the folded inference affine
  ``scale = gamma / sqrt(running_var + eps)``, ``shift = beta - scale * running_mean``; layer
  norm's parameters; the last training step's dropout mask.
- :func:`dropout_check`: per hidden layer, the last step's activation mean before dropout (what
  eval-mode dropout, the identity, passes on), after the inverted-dropout mask (scaled by
  ``1 / (1 - p)``) and after the same mask without the scaling: ``E[x'] = x`` holds for the
  first, the second is about ``(1 - p)`` times too small.

Shapes: a batch is ``x (n, d)``; per-layer lists run from the first hidden layer to the output
layer (the logits), as in records. Activations are a layer's activation output before dropout
and before the residual sum (the logits for the output layer), as ``act_mean`` in records.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.layers import BatchNorm1d, LayerNorm, dropout_mask
from core.losses import Loss
from core.model import MLP

FloatArray = NDArray[np.float64]

MODES = ("train", "eval")
MODE_FULL_ROWS = 200
"""Small nets: the full activations of both modes are given for at most this many rows."""
MASK_MAX_ROWS = 256
"""Small nets: the last step's dropout mask is given for at most this many batch rows."""


def forward_mode(
    model: MLP, x: FloatArray, train: bool, rng: np.random.Generator
) -> list[FloatArray]:
    """Every layer's activation for ``x (n, d)``, in train or eval mode, with no side effects.

    Returns ``L`` arrays ``(n, width_k)``; the last is the output ``(n, k)``. Train mode needs
    ``n >= 2`` with batch norm. ``rng`` draws the dropout masks (train mode only).
    """
    outs: list[FloatArray] = []
    h = x
    p = model.dropout if train else 0.0
    for block in model.blocks:
        z = block.dense.forward(h, train=False)  # train=False: no cached input
        norm = block.norm
        if isinstance(norm, BatchNorm1d):
            z = norm.normalize(z, train)
        elif isinstance(norm, LayerNorm):
            z = norm.forward(z, train=False)  # the same in both modes; no cache
        act = block.activation.forward(z)
        outs.append(act)
        out = act * dropout_mask(act.shape, p, rng) if p > 0.0 else act
        h = h + out if block.residual else out
    outs.append(model.output.forward(h, train=False))
    return outs


def mode_comparison(
    model: MLP,
    x: FloatArray,
    y: Any,
    loss: Loss,
    rng: np.random.Generator,
    full: bool,
) -> dict[str, Any]:
    """Train mode vs eval mode on the same batch ``x (n, d)`` with targets ``y``.

    Returns ``{n, loss: {train, eval}, layers: [{name, train_mean, train_std, eval_mean,
    eval_std, mean_abs_diff, max_abs_diff[, bn_identity_max_abs_diff]}]}`` (the last for
    batch-norm layers: :func:`bn_identity_gaps`); with ``full``, also ``activations: {rows,
    train: [(rows, width_k)], eval: [...]}`` for the first ``MODE_FULL_ROWS`` rows.
    """
    train = forward_mode(model, x, True, rng)
    evals = forward_mode(model, x, False, rng)
    identity_gaps = bn_identity_gaps(model, x)
    layers = []
    for k, (name, a, b) in enumerate(zip(model.layer_names(), train, evals, strict=True)):
        diff = np.abs(a - b)
        layer: dict[str, Any] = {
            "name": name,
            "train_mean": float(a.mean()),
            "train_std": float(a.std()),
            "eval_mean": float(b.mean()),
            "eval_std": float(b.std()),
            "mean_abs_diff": float(diff.mean()),
            "max_abs_diff": float(diff.max()),
        }
        if k < len(identity_gaps) and identity_gaps[k] is not None:
            layer["bn_identity_max_abs_diff"] = identity_gaps[k]
        layers.append(layer)
    out: dict[str, Any] = {
        "n": len(x),
        "loss": {"train": float(loss.value(train[-1], y)), "eval": float(loss.value(evals[-1], y))},
        "layers": layers,
    }
    if full:
        rows = min(len(x), MODE_FULL_ROWS)
        out["activations"] = {
            "rows": rows,
            "train": [a[:rows] for a in train],
            "eval": [b[:rows] for b in evals],
        }
    return out


def bn_identity_gaps(model: MLP, x: FloatArray) -> list[float | None]:
    """Per hidden layer, for batch-norm layers: ``max |BN_eval(z) - z|`` over the batch, where
    ``z (n, width)`` is the layer's dense output in an eval-mode pass of ``x (n, d)``; None for
    layers without batch norm. 0 (to rounding) exactly when the layer's eval mode is the
    identity, i.e. ``gamma = sqrt(running_var + eps)`` and ``beta = running_mean`` (the
    ``identity_gamma`` / ``identity_beta`` of :func:`network_internals`)."""
    gaps: list[float | None] = []
    h = x
    for block in model.blocks:
        z = block.dense.forward(h, train=False)
        norm = block.norm
        if isinstance(norm, BatchNorm1d):
            y = norm.normalize(z, False)
            gaps.append(float(np.max(np.abs(y - z))) if z.size else 0.0)
        else:
            y = norm.forward(z, train=False) if isinstance(norm, LayerNorm) else z
            gaps.append(None)
        h = h + block.activation.forward(y) if block.residual else block.activation.forward(y)
    return gaps


def bn_gaps(norm: BatchNorm1d) -> tuple[float, float]:
    """``(mean |batch_mean - running_mean|, mean |batch_var - running_var|)`` over the units of
    a batch-norm layer after a training pass: the statistics the pass normalised with (biased
    variance) against the running statistics after its running-average update. The records'
    ``bn_mean_gap`` / ``bn_var_gap``."""
    assert norm.batch_mean is not None and norm.batch_var is not None, "no training pass yet"
    width = len(norm.running_mean)
    mean_gap = np.add.reduce(np.abs(norm.batch_mean - norm.running_mean)) / width
    var_gap = np.add.reduce(np.abs(norm.batch_var - norm.running_var)) / width
    return float(mean_gap), float(var_gap)


def network_internals(model: MLP) -> list[dict[str, Any]]:
    """Per hidden layer (input to output), the normalisation and dropout internals of a small
    net: ``batch_norm`` (vectors ``(width,)``: the last training batch's ``batch_mean``,
    ``batch_var`` (biased, what it normalised with) and ``batch_var_unbiased`` (what the running
    average took), ``running_mean``, ``running_var``, ``gamma``, ``beta``, the folded ``scale``
    and ``shift``, ``identity_gamma = sqrt(running_var + eps)`` and ``identity_beta =
    running_mean``, which make eval mode the identity; scalars ``momentum``, ``eps``,
    ``batch_size``), ``layer_norm`` (``gamma``,
    ``beta``, ``eps``), ``dropout`` (the last training step's mask: ``keep`` 0/1 ``(rows,
    width)`` for its first ``MASK_MAX_ROWS`` batch rows, ``rows`` of the batch, ``p`` and
    ``scale = 1 / (1 - p)``: the mask is ``keep * scale``). Keys are absent where a layer has
    no such part; batch statistics are null before the first step.
    """
    out: list[dict[str, Any]] = []
    for block in model.blocks:
        entry: dict[str, Any] = {}
        norm = block.norm
        if isinstance(norm, BatchNorm1d):
            scale, shift = norm.folded_affine()
            n = norm.batch_n
            seen = norm.batch_mean is not None and norm.batch_var is not None
            entry["batch_norm"] = {
                "momentum": norm.momentum,
                "eps": norm.eps,
                "batch_size": n if seen else None,
                "batch_mean": norm.batch_mean.copy() if seen else None,  # type: ignore[union-attr]
                "batch_var": norm.batch_var.copy() if seen else None,  # type: ignore[union-attr]
                "batch_var_unbiased": norm.batch_var * (n / (n - 1)) if seen else None,
                "running_mean": norm.running_mean.copy(),
                "running_var": norm.running_var.copy(),
                "gamma": norm.gamma.copy(),
                "beta": norm.beta.copy(),
                "scale": scale,
                "shift": shift,
                # the gamma and beta that make eval mode the identity (y = z): what the
                # notes' "switch batch norm off" means, with gamma and beta the right way round
                "identity_gamma": np.sqrt(norm.running_var + norm.eps),
                "identity_beta": norm.running_mean.copy(),
            }
        elif isinstance(norm, LayerNorm):
            entry["layer_norm"] = {
                "eps": norm.eps,
                "gamma": norm.gamma.copy(),
                "beta": norm.beta.copy(),
            }
        if block.mask is not None:
            p = model.last_dropout
            keep = block.mask[:MASK_MAX_ROWS] != 0.0
            entry["dropout"] = {
                "p": p,
                "scale": 1.0 / (1.0 - p),
                "rows": len(block.mask),
                "keep": keep.astype(np.int64),
            }
        out.append(entry)
    return out


def dropout_check(model: MLP) -> list[dict[str, Any]] | None:
    """``E[x'] = x`` on the last training step, per hidden layer, or None if that step used no
    dropout: ``{name, p, keep_fraction, act_mean, scaled_mean, unscaled_mean}`` where
    ``act_mean`` is the mean activation ``x`` entering dropout (eval-mode dropout passes it on
    unchanged), ``scaled_mean`` the mean of ``x * mask`` (inverted dropout, as trained) and
    ``unscaled_mean`` the mean of ``x * keep`` (the same units dropped, no ``1 / (1 - p)``).
    Means over the step's batch rows and the layer's units."""
    if not model.blocks or model.blocks[0].mask is None:
        return None
    out = []
    names = model.layer_names()
    for k, block in enumerate(model.blocks):
        mask, act = block.mask, block.act
        assert mask is not None and act is not None
        act = act[: len(mask)]  # the batch rows (no evaluation rows ride along with dropout)
        keep = mask != 0.0
        out.append(
            {
                "name": names[k],
                "p": model.last_dropout,
                "keep_fraction": float(np.count_nonzero(keep)) / keep.size,
                "act_mean": float(act.mean()),
                "scaled_mean": float((act * mask).mean()),
                "unscaled_mean": float((act * keep).mean()),
            }
        )
    return out
