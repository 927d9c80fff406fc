"""What a run costs: its memory (bytes) and one training step's time (seconds), from its config.

The server refuses work by these estimates before doing it (issue 16): a run over
``GRADPLAY_MAX_RUN_MB``, runs that together exceed ``GRADPLAY_MAX_MEMORY_MB``, a request whose
training would take longer than ``GRADPLAY_MAX_REQUEST_SECONDS``. Everything here is a function of
plain numbers (:class:`RunShape`), so it costs nothing to evaluate and can be property-tested;
:func:`shape_of` reads them from a resolved run config without building any array.

**Time.** One update of an MLP with ``W`` weights on a batch of ``B`` examples does about
``6 W B`` floating-point operations (forward ``2 W B``, backward twice that); validating on ``V``
examples every ``k`` steps adds ``2 W V / k`` per step, and the per-layer telemetry a few
passes over the parameters. Python overhead adds a roughly constant time per step.
``FLOPS`` is a documented constant set below what NumPy's single-threaded float64 matrix
products reach on a small server (issue 16 measured the largest network, 64 x 512 units on
20,000 samples, at ~6.4 s per step, i.e. ~2e10 flop/s): the estimate errs on the long side, so
refusing work by it never lets through what would take far longer than the limit.

**Memory** (float64, 8 bytes a number; ``P`` parameters, ``S = sum(hidden) + outputs`` units,
``L`` layers), by part of :func:`run_memory`:

- ``parameters``: ``P`` x 4 (values, gradients, the update, the previous values for the
  update ratio); ``optimizer``: ``P`` x (state buffers + 2 scratch vectors), e.g. Adam 5, SGD 3
  (momentum's buffer exists only with momentum; counted anyway).
- ``activations``: the training forward pass keeps, per unit and row, the pre-activation and
  the activation (plus a dropout mask, batch/layer-norm intermediates, a residual sum), for
  ``B + V`` rows when validation rides along in the training pass, else ``B`` rows plus an
  eval-mode pass over ``V`` rows; the model also caches the flat activation buffer of each batch
  size it saw (``B``, ``B + V``, an epoch's last partial batch), and the backward pass and the
  telemetry make a few row-by-unit temporaries. Counted: ``ACT_PER_UNIT`` numbers per row and
  unit for ``B + V`` rows plus ``ACT_CACHE`` per batch row and unit.
- ``data``: inputs, plane points and targets of every split, raw and normalised.
- ``history``: the run's metric rows, ``(scalar fields + 9 L)`` numbers each, up to the
  history's capacity (it keeps every other row past it, so this is the lifetime bound), or the
  rows allocated after ``steps`` updates (it grows by doubling from 256).
- ``snapshot``: a snapshot's eval-mode passes (a 50 x 50 decision-surface grid, 2,000
  activation rows) keep every layer's output: ``(2500 + 2000) x S`` numbers, transient.
- ``events``: the event log, counted at ``EVENT_FACTOR`` x its compact-JSON bytes (weights
  edits are kept as Python floats).
- ``base``: Python objects, RNGs and small arrays of one run.

The estimate is checked against the RSS growth of real runs within a factor 2
(``tests/core/test_cost_rss.py``) and is monotone in width, depth, samples and batch size
(``tests/core/test_cost.py``, hypothesis).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

FLOPS = 1e10
"""Floating-point operations per second assumed for the engine (pessimistic)."""
STEP_OVERHEAD_SECONDS = 1e-4
"""Python time per step regardless of size (a tiny network takes ~50-100 us per step)."""

FLOAT = 8
"""Bytes per float64."""
N_SCALAR_FIELDS = 13
"""Scalar metrics per history row (``core.history.SCALAR_FIELDS``; checked by a test)."""
N_LAYER_FIELDS = 9
"""Per-layer metrics per history row (``core.history.LAYER_FIELDS``; checked by a test)."""
HISTORY_FLOAT_BUDGET = 4_000_000
"""``core.history.DEFAULT_FLOAT_BUDGET`` (checked by a test)."""
HISTORY_MIN_ROWS = 1024
HISTORY_FIRST_ROWS = 256
ACT_PER_UNIT = 3.0
"""Numbers per row and unit a training step holds at its peak without dropout or norm layers:
the pre-activation and the activation (both kept until the next step) and a telemetry
temporary."""
ACT_CACHE = 4
"""Numbers per batch row and unit besides: the backward pass's gradients and the flat
activation buffers of the other batch sizes the model saw (``B`` alone, an epoch's last
partial batch)."""
SNAPSHOT_ROWS = 2500 + 2000
"""Rows of a snapshot's eval-mode passes (surface grid + activation sample)."""
EVENT_FACTOR = 4
"""Memory of the event log per byte of its compact JSON."""
BASE_BYTES = 2 * 2**20
"""Python objects, RNGs and small arrays of one run (measured: ~1-2 MB)."""
OPTIMIZER_BUFFERS = {
    "sgd": 1,
    "adagrad": 1,
    "rmsprop": 3,
    "adam": 3,
    "adamw": 3,
    "adamax": 2,
    "nadam": 2,
    "radam": 2,
    "adadelta": 2,
    "rprop": 2,
}
"""State arrays shaped like the parameters per optimizer (``_buffer_names``; the maximum when
an option such as amsgrad or momentum adds one; checked by a test against the registry)."""
MB = 2**20


@dataclass(frozen=True)
class RunShape:
    """The numbers a run's cost depends on.

    ``hidden``: hidden widths; ``n_train``/``n_val``/``n_test``: rows per split;
    ``optimizer_buffers``: state arrays of the optimizer; ``history_rows``: rows to count
    (None: the history's capacity, the lifetime bound).
    """

    input_dim: int
    output_dim: int
    hidden: tuple[int, ...]
    n_train: int
    n_val: int
    n_test: int
    batch_size: int
    eval_every: int = 1
    optimizer_buffers: int = 1
    batch_norm: bool = False
    layer_norm: bool = False
    dropout: bool = False
    residual: bool = False
    event_bytes: int = 0
    history_rows: int | None = None

    @property
    def widths(self) -> tuple[int, ...]:
        """Layer widths: hidden layers, then the output layer."""
        return (*self.hidden, self.output_dim)

    @property
    def n_weights(self) -> int:
        dims = (self.input_dim, *self.widths)
        return sum(i * o for i, o in zip(dims[:-1], dims[1:], strict=False))

    @property
    def n_params(self) -> int:
        norm = 2 * sum(self.hidden) if (self.batch_norm or self.layer_norm) else 0
        return self.n_weights + sum(self.widths) + norm

    @property
    def batch(self) -> int:
        """Rows of one training batch (at most the training split)."""
        return max(1, min(self.batch_size, self.n_train))


def history_capacity(n_layers: int) -> int:
    """Rows the history keeps before it decimates (``core.history.History.capacity``)."""
    per_row = N_SCALAR_FIELDS + N_LAYER_FIELDS * n_layers
    return max(HISTORY_MIN_ROWS, HISTORY_FLOAT_BUDGET // per_row)


def history_rows_after(steps: int, n_layers: int) -> int:
    """Rows the history has allocated after ``steps`` updates (doubling from 256)."""
    capacity = history_capacity(n_layers)
    rows = min(HISTORY_FIRST_ROWS, capacity)
    while rows < min(steps, capacity):
        rows = min(capacity, 2 * rows)
    return rows


def run_memory(shape: RunShape) -> dict[str, int]:
    """Estimated bytes of one run, by part (see the module docstring), plus ``total``."""
    p, units = shape.n_params, sum(shape.widths)
    n_layers = len(shape.widths)
    per_unit = (
        ACT_PER_UNIT + shape.dropout + 2.0 * (shape.batch_norm or shape.layer_norm) + shape.residual
    )
    rows = shape.batch + shape.n_val
    act = per_unit * rows * units + ACT_CACHE * shape.batch * units
    n = shape.n_train + shape.n_val + shape.n_test
    history_rows = history_capacity(n_layers) if shape.history_rows is None else shape.history_rows
    parts = {
        "parameters": 4 * p * FLOAT,
        "optimizer": (shape.optimizer_buffers + 2) * p * FLOAT,
        "activations": int(act * FLOAT),
        "data": 2 * n * (shape.input_dim + 2 + 1) * FLOAT,
        "history": history_rows * (N_SCALAR_FIELDS + N_LAYER_FIELDS * n_layers) * FLOAT,
        "snapshot": SNAPSHOT_ROWS * units * FLOAT,
        "events": EVENT_FACTOR * shape.event_bytes,
        "base": BASE_BYTES,
    }
    parts["total"] = sum(parts.values())
    return parts


def step_seconds(n_weights: int, batch_size: int, n_val: int, eval_every: int) -> float:
    """Estimated seconds per training step (see the module docstring)."""
    flops = 6.0 * n_weights * batch_size + 2.0 * n_weights * n_val / eval_every
    flops += 20.0 * n_weights  # telemetry and the optimizer's elementwise updates
    return STEP_OVERHEAD_SECONDS + flops / FLOPS


def shape_step_seconds(shape: RunShape) -> float:
    """:func:`step_seconds` of a :class:`RunShape`."""
    return step_seconds(shape.n_weights, shape.batch, shape.n_val, shape.eval_every)


def max_steps(per_step: float, max_seconds: float) -> int:
    """The most steps of ``per_step`` seconds that fit in ``max_seconds`` (0 if none does)."""
    return max(0, math.floor(max_seconds / per_step)) if per_step > 0 else 2**31


def depth_lab_seconds(depth: int, width: int, n: int) -> float:
    """Estimated seconds of ``/api/labs/depth``: one forward and backward pass of
    ``width -> width x depth -> 1`` on ``n`` rows, plus histograms of every layer."""
    n_weights = depth * width * width + width
    return STEP_OVERHEAD_SECONDS * depth + (6.0 * n_weights * n + 40.0 * depth * width * n) / FLOPS


def split_rows(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(n_train, n_val, n_test) as ``core.datasets`` cuts them (checked by a test)."""
    n_val = math.floor(val_fraction * n + 0.5)
    if val_fraction > 0 and n >= 2:
        n_val = max(n_val, 1)
    n_val = min(n_val, n - 1) if n >= 1 else 0
    n_val = max(n_val, 0)
    n_test = 0
    if test_fraction > 0:
        n_test = min(math.floor(test_fraction * n + 0.5), n - 1 - n_val)
        n_test = max(n_test, 1 if n - 1 - n_val >= 1 else 0)
    return n - n_val - n_test, n_val, n_test


def shape_of(config: Mapping[str, Any], event_bytes: int = 0, steps: int | None = None,
             tables: Callable[[str], Any] | None = None) -> RunShape:
    """The :class:`RunShape` of a resolved run config (``core.trainer.resolve_config``),
    without building it. ``steps``: count the history rows after that many updates (None:
    its capacity). ``tables``: the table source of custom data (``Limits.tables``): its table
    gives the input and output widths (without it a custom run counts as 1 input, 1 output,
    far too few for a 100-column table)."""
    from core.datasets import DATASETS  # here: core.trainer imports this module

    ds, model = config["dataset"], config["model"]
    comp = DATASETS.get(ds["name"], "dataset.name")
    params = {p.name: p.default for p in comp.params} | dict(ds.get("params") or {})
    plane_dim = comp.meta.get("input_dim")
    if plane_dim == 2:  # feature crosses: one input per feature
        input_dim = len(ds.get("features") or ()) or 2
    else:  # 1-D data, or sparse_linear's n_features
        input_dim = int(plane_dim if plane_dim is not None else params.get("n_features", 1))
    task = comp.meta.get("task", "binary")
    output_dim = int(params.get("classes", 1)) if task == "multiclass" else 1
    table = tables(str(params.get("id", ""))) if comp.meta.get("custom") and tables else None
    if table is not None:  # an uploaded table: its own widths
        input_dim = table.d
        output_dim = len(table.classes) if len(table.classes) > 2 else 1
    n_train, n_val, n_test = split_rows(
        int(ds["n"]), float(ds["val_fraction"]), float(ds.get("test_fraction") or 0.0)
    )
    hidden = tuple(int(w) for w in model["hidden"])
    shape = RunShape(
        input_dim=max(1, input_dim),
        output_dim=output_dim,
        hidden=hidden,
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        batch_size=int(config["batch_size"]),
        eval_every=int(config.get("eval_every") or 1),
        optimizer_buffers=OPTIMIZER_BUFFERS.get(config["optimizer"]["name"], 3),
        batch_norm=bool(model.get("batch_norm")),
        layer_norm=bool(model.get("layer_norm")),
        dropout=float(model.get("dropout") or 0.0) > 0.0,
        residual=bool(model.get("residual")),
        event_bytes=event_bytes,
    )
    if steps is not None:
        shape = replace(shape, history_rows=history_rows_after(steps, len(shape.widths)))
    return shape
