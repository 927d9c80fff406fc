"""Columnar, bounded storage of a run's per-step records.

Records are stored as float64 columns (``None`` becomes NaN, which the web layer turns back into
``null``). Memory is bounded: when a run's history reaches ``capacity`` rows it keeps every other
row and from then on stores every ``stride``-th step only (the ``step`` column keeps the true
step numbers). ``capacity`` derives from a float budget so deep nets (many per-layer columns)
keep fewer rows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

SCALAR_FIELDS = (
    "step",
    "epoch",
    "lr",
    "loss",
    "data_loss",
    "reg_loss",
    "val_loss",
    "train_acc",
    "val_acc",
    "grad_norm_total",
    "zero_fraction",
    "near_zero_fraction",
    "bn_momentum",
)
"""Per-update scalar fields of a record (accuracies are null for regression; ``val_*`` are null
on steps without evaluation or without a validation split; ``bn_momentum``, the batch-norm
momentum the update used, is null without batch norm)."""

LAYER_FIELDS = (
    "grad_norm",
    "weight_norm",
    "update_ratio",
    "act_mean",
    "act_std",
    "saturation",
    "dead_fraction",
    "bn_mean_gap",
    "bn_var_gap",
)
"""Per-update lists with one entry per layer (hidden layers, then the output layer).

``bn_mean_gap`` / ``bn_var_gap``: per batch-norm layer, the mean over units of
``|batch mean - running_mean|`` and ``|batch variance - running_var|``, with the batch statistics
the training pass normalised with (the variance is the biased one, as torch normalises) and the
running statistics after this update's running-average step (what eval mode uses from now on);
null for layers without batch norm and for the output layer."""

ALL_FIELDS = SCALAR_FIELDS + LAYER_FIELDS
INT_FIELDS = ("step", "epoch")
"""Scalar fields that are integers in records (stored as float64 here, exactly)."""
DEFAULT_FLOAT_BUDGET = 4_000_000  # ~32 MB of float64 per run


class History:
    """Append-only columns of records with automatic decimation past ``capacity`` rows."""

    def __init__(self, n_layers: int, float_budget: int = DEFAULT_FLOAT_BUDGET) -> None:
        self.n_layers = n_layers
        per_row = len(SCALAR_FIELDS) + len(LAYER_FIELDS) * n_layers
        self.capacity = max(1024, float_budget // per_row)
        self.stride = 1
        self.size = 0
        self._alloc = min(256, self.capacity)
        self._scalars = np.full((self._alloc, len(SCALAR_FIELDS)), np.nan)
        self._layers = np.full((self._alloc, len(LAYER_FIELDS), n_layers), np.nan)

    def __len__(self) -> int:
        return self.size

    def append(self, record: Mapping[str, Any]) -> None:
        """Store one record (a dict with every field; see :meth:`append_block` for the fast
        path the trainer uses)."""
        layers = np.array([[_num(v) for v in record[f]] for f in LAYER_FIELDS])
        self.append_block(tuple(record[f] for f in SCALAR_FIELDS), layers)

    def append_block(self, scalars: tuple[Any, ...], layers: np.ndarray) -> None:
        """Fast path: ``scalars`` in SCALAR_FIELDS order (None allowed), ``layers (F, L)`` in
        LAYER_FIELDS order (``F = len(LAYER_FIELDS)``)."""
        step = scalars[0]
        if step % self.stride:
            return
        if self.size == self._alloc:
            if self._alloc < self.capacity:
                self._grow(min(self.capacity, 2 * self._alloc))
            else:
                self._decimate()
                if step % self.stride:
                    return
        self._scalars[self.size] = [math.nan if v is None else v for v in scalars]
        self._layers[self.size] = layers
        self.size += 1

    def _grow(self, rows: int) -> None:
        scalars = np.full((rows, len(SCALAR_FIELDS)), np.nan)
        layers = np.full((rows, len(LAYER_FIELDS), self.n_layers), np.nan)
        scalars[: self.size] = self._scalars[: self.size]
        layers[: self.size] = self._layers[: self.size]
        self._scalars, self._layers, self._alloc = scalars, layers, rows

    def _decimate(self) -> None:
        """Keep the rows whose step is a multiple of the doubled stride."""
        self.stride *= 2
        steps = self._scalars[: self.size, 0]
        keep = np.flatnonzero(steps % self.stride == 0)
        n = len(keep)
        self._scalars[:n] = self._scalars[keep]
        self._layers[:n] = self._layers[keep]
        self._scalars[n:] = np.nan
        self._layers[n:] = np.nan
        self.size = n

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of stored rows ``start:stop``: ``(scalars (m, S), layers (m, F, L))`` with
        ``S = len(SCALAR_FIELDS)``, ``F = len(LAYER_FIELDS)``."""
        if not 0 <= start <= stop <= self.size:
            raise IndexError(f"rows {start}:{stop} of {self.size}")
        return self._scalars[start:stop].copy(), self._layers[start:stop].copy()

    def columns(
        self,
        fields: Iterable[str] | None = None,
        every: int = 1,
        max_points: int | None = None,
        since_step: int | None = None,
    ) -> dict[str, Any]:
        """Columnar view ``{field: [values]}`` (layer fields: one list per row).

        ``every`` keeps every k-th stored row; ``max_points`` raises ``every`` until at most
        that many rows remain (the last row is always included). ``since_step`` keeps rows with
        ``step >= since_step``. Returns numpy arrays; the web layer serialises them.
        """
        fields = list(fields) if fields is not None else list(ALL_FIELDS)
        rows = np.arange(self.size)
        if since_step is not None:
            rows = rows[self._scalars[: self.size, 0] >= since_step]
        if max_points is not None and len(rows) > max_points:
            every = max(every, math.ceil(len(rows) / max_points))
        if every > 1 and len(rows):
            picked = rows[::every]
            if picked[-1] != rows[-1]:
                picked = np.append(picked, rows[-1])
            if max_points is not None and len(picked) > max_points:
                picked = np.append(picked[: max_points - 1], rows[-1])
            rows = picked
        out: dict[str, Any] = {}
        for f in fields:
            if f in SCALAR_FIELDS:
                out[f] = self._scalars[rows, SCALAR_FIELDS.index(f)]
            else:
                out[f] = self._layers[rows, LAYER_FIELDS.index(f)]
        return out

    def equal(self, other: History) -> bool:
        """Bit-for-bit equality of the stored histories (NaN equals NaN)."""
        if self.size != other.size or self.stride != other.stride:
            return False
        a, b = self._scalars[: self.size], other._scalars[: other.size]
        c, d = self._layers[: self.size], other._layers[: other.size]
        return bool(
            np.array_equal(a, b, equal_nan=True) and np.array_equal(c, d, equal_nan=True)
        )


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def history_digest(columns: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a full history, ``columns`` as from :meth:`History.columns` (every
    field, every stored row) or parsed from an export's ``history`` (``null`` as NaN).

    For each field of ``ALL_FIELDS`` in order: the field name, NUL, the array's shape as text
    (e.g. ``(1000, 3)``) and its values as little-endian float64 bytes, every non-finite value
    written as the one canonical NaN (exports write NaN and ±inf alike as ``null``). An import
    that replays a run to the same digest reproduced every stored number bit for bit, so a long
    run can be verified without uploading its history.
    """
    digest = hashlib.sha256()
    for name in ALL_FIELDS:
        values = np.asarray(columns[name], dtype="<f8")
        values = np.where(np.isfinite(values), values, np.nan).astype("<f8")
        digest.update(name.encode() + b"\0" + str(values.shape).encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()
