"""Gradient noise of a run: how far a minibatch gradient strays from the full-batch gradient at
the run's current weights, per batch size.

For a batch ``B`` of ``b`` training rows drawn uniformly without replacement (as the trainer's
epoch shuffling draws them), ``g_B`` is the gradient of the mean data loss over ``B`` and ``g``
the gradient over all ``N`` training rows, both from the model's own forward/backward in
training mode. The figure reported per batch size is

    variance(b) = E_B ‖g_B − g‖²                     (the trace of Cov(g_B); P parameters)

estimated without bias by the mean of ``‖g_Bk − g‖²`` over ``K`` sampled batches (``g`` is
computed exactly, so no ``K − 1`` correction is needed), with its standard error
``std(ddof=1) / √K``. Without batch norm the mean loss is the average of per-example losses, so
``E[g_B] = g`` and sampling theory gives the exact value

    variance(b) = (N − b) / (b (N − 1)) · σ²,   σ² = (1/N) Σ_i ‖g_i − g‖²

(the finite-population correction: 0 at ``b = N``, ``σ²`` at ``b = 1``); it is reported as
``exact`` from the ``N`` per-example gradients. With batch norm a batch's gradient is not an
average of per-example gradients (each example's output depends on its batch), ``E[g_B] ≠ g``,
and the figure is the mean squared distance to the full-batch gradient (bias included);
``exact`` is then null.

Deliberate choices, with the reason:
* The model is a twin (same parameters and statistics, built afresh): batch norm's running
  statistics, the cached activations and masks a snapshot shows, and the run's gradient vector
  are left exactly as they were.
* Batches come from a generator of their own, ``SeedSequence(seed, spawn_key=(STREAM,
  step))``: the same run at the same step gives the same figures, and the run's random streams
  (shuffling, dropout, augmentation) are never drawn from, so training continues bit for bit
  as it would have.
* Dropout is off in the copy and augmentation is not applied: the figure is the noise of
  sampling the data, which is what the batch size controls; dropout's own noise would add a
  term that does not shrink with ``b`` in the same way.
* The regularisation penalty's gradient is left out: it is the same for every batch and
  cancels in ``g_B − g``.

Shapes: training inputs ``x (N, d)``, targets ``y (N, k)`` or ``(N,)``; gradients ``(P,)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.cost import FLOPS
from core.errors import ConfigError
from core.labs._common import FloatArray
from core.layers import BatchNorm1d
from core.model import MLP
from core.trainer import Run

__all__ = [
    "GRADIENT_NOISE_STREAM",
    "MAX_BATCH_SIZES",
    "MAX_SECONDS",
    "check_samples",
    "gradient_noise",
    "parse_batch_sizes",
]

GRADIENT_NOISE_STREAM = 1001
"""Spawn-key root of the batches drawn here (``(1001, step)``), apart from the run's streams
and the snapshot's (1000)."""
MAX_BATCH_SIZES = 8
MAX_SAMPLES = 2000
MAX_SECONDS = 5.0
"""Refuse a request whose estimated cost (``core.cost.FLOPS``, pessimistic) exceeds this."""


def parse_batch_sizes(text: str, n_train: int, batch_norm: bool) -> list[int]:
    """``"1,8,32,full"`` -> ``[1, 8, 32, n_train]``; ``full`` is the whole training split.

    Raises ConfigError("batch_sizes", ...) naming the allowed range."""
    lo = 2 if batch_norm else 1
    rule = (
        f"must be a comma-separated list of 1 to {MAX_BATCH_SIZES} integers with "
        f"{lo} <= x <= {n_train} (the training rows{', batch norm needs 2' if lo == 2 else ''}"
        ") or 'full'"
    )
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or len(parts) > MAX_BATCH_SIZES or any(not p for p in parts):
        raise ConfigError("batch_sizes", rule)
    out: list[int] = []
    for p in parts:
        if p == "full":
            b = n_train
        elif p.isdigit():
            b = int(p)
        else:
            raise ConfigError("batch_sizes", f"{rule}; got {p!r}")
        if not lo <= b <= n_train:
            raise ConfigError("batch_sizes", f"{rule}; got {b}")
        out.append(b)
    return out


def check_samples(samples: object) -> int:
    """``samples`` (K) must be an integer in [2, MAX_SAMPLES]: two batches give a variance."""
    if (
        isinstance(samples, bool)
        or not isinstance(samples, int)
        or not (2 <= samples <= MAX_SAMPLES)
    ):
        raise ConfigError("samples", f"must be an integer with 2 <= x <= {MAX_SAMPLES}")
    return samples


def estimate_seconds(run: Run, batch_sizes: Sequence[int], samples: int) -> float:
    """Pessimistic cost: forward + backward (6 flop per weight and row) over every row used."""
    n = len(run.dataset.x_train)
    rows = n + samples * sum(batch_sizes) + (n if not run.model.spec.batch_norm else 0)
    return 6.0 * run.model.n_weights * rows / FLOPS + 2e-4 * (1 + samples * len(batch_sizes) + n)


def gradient_noise(run: Run, batch_sizes: Sequence[int], samples: int) -> dict[str, Any]:
    """Minibatch gradient variance around the full-batch gradient (see the module docstring).

    Returns ``{step, n_train, n_params, samples, full_grad_sq_norm, per_example_variance,
    batch_sizes: [{batch_size, variance, std_error, exact, noise_to_signal}]}``:
    ``per_example_variance`` is σ² (null with batch norm), ``exact`` the sampling-theory value
    (null with batch norm), ``noise_to_signal`` ``variance / ‖g‖²`` (null when ``g = 0``).
    Raises ConfigError for ``samples`` outside [2, MAX_SAMPLES] or a request estimated above
    ``MAX_SECONDS``.
    """
    check_samples(samples)
    seconds = estimate_seconds(run, batch_sizes, samples)
    if seconds > MAX_SECONDS:
        most = int(samples * MAX_SECONDS / seconds)
        allowed = f"use 2 <= x <= {most}" if most >= 2 else "use fewer or smaller batch sizes"
        raise ConfigError(
            "samples",
            f"this request would take about {seconds:.1f} s (limit {MAX_SECONDS:g} s) on a "
            f"network of {run.model.n_weights} weights; {allowed}",
        )
    ds = run.dataset
    x, y = ds.x_train, ds.y_train
    n = len(x)
    model = _twin(run.model)
    loss = run.loss
    unused = np.random.default_rng(0)  # forward_train needs a generator; no dropout draws it

    def grad(rows: Any) -> FloatArray:
        out = model.forward_train(x[rows], unused)
        _, g_out = loss.value_and_grad(out, y[rows])
        model.backward(g_out)
        return model.grad.copy()

    seq = np.random.SeedSequence(
        run.config["seed"], spawn_key=(GRADIENT_NOISE_STREAM, run.step_count)
    )
    rng = np.random.default_rng(seq)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        full = grad(slice(None))
        full_sq = float(full @ full)
        sigma2: float | None = None
        if not model.spec.batch_norm and n >= 2:
            dev = 0.0
            for i in range(n):
                d = grad(slice(i, i + 1)) - full
                dev += float(d @ d)
            sigma2 = dev / n
        entries = []
        for b in batch_sizes:
            sq = np.empty(samples)
            for k in range(samples):
                rows = np.sort(rng.permutation(n)[:b])
                d = grad(rows) - full
                sq[k] = d @ d
            variance = float(sq.mean())
            exact = None
            if sigma2 is not None:
                exact = (n - b) / (b * (n - 1)) * sigma2
            entries.append(
                {
                    "batch_size": int(b),
                    "variance": _finite(variance),
                    "std_error": _finite(float(sq.std(ddof=1)) / math.sqrt(samples)),
                    "exact": _finite(exact),
                    "noise_to_signal": _finite(variance / full_sq) if full_sq > 0 else None,
                }
            )
    return {
        "step": run.step_count,
        "n_train": n,
        "n_params": model.n_params,
        "samples": samples,
        "full_grad_sq_norm": _finite(full_sq),
        "per_example_variance": _finite(sigma2),
        "batch_sizes": entries,
    }


def _twin(model: MLP) -> MLP:
    """A fresh model with ``model``'s parameters and batch-norm statistics, dropout off.

    Not ``copy.deepcopy``: the layers' weight and gradient arrays are views into the flat
    ``theta`` / ``grad`` vectors, and a deep copy would cut those ties."""
    twin = MLP(model.spec, np.random.default_rng(0))  # initial draw overwritten below
    np.copyto(twin.theta, model.theta)
    np.copyto(twin.buffers, model.buffers)
    for mine, theirs in zip(twin.blocks, model.blocks, strict=True):
        if isinstance(theirs.norm, BatchNorm1d):
            mine.norm.momentum = theirs.norm.momentum  # type: ignore[union-attr]
    twin.dropout = 0.0  # see the module docstring
    return twin


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None
