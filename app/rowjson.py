"""JSON text of training records from their columnar form, without a Python object per value.

A run's history (:mod:`core.history`) holds every record as one row of numbers. Encoding those
rows directly (:mod:`app.numtext` for the numbers, fixed key text in between) gives the same
bytes as ``jsonenc.dumps(records)`` about twice as fast, which is what keeps a long
``POST .../step`` within a few per cent of the engine's own time. Tests compare both encoders
byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

import numpy as np

from app import numtext
from core.history import INT_FIELDS, LAYER_FIELDS, SCALAR_FIELDS

BLOCK_VALUES = 9000
"""Values encoded per block (see :meth:`RecordRows.encode`): the fastest size on the dev
machine (3,000: 1.3x slower; all 33,000 of a 1,000-step response at once: 1.4x)."""


class RecordRows:
    """Encoder for records of fixed shape: scalar fields, then per-layer list fields.

    ``encode(scalars, layers)`` with ``scalars (R, len(scalar_fields))`` and ``layers (R,
    len(layer_fields), n_layers)`` float64 gives ``{...},{...}`` (R comma-separated records,
    no brackets). NaN and ±inf are written as ``null``; ``int_fields`` (integral values below
    1e16, as a history stores step numbers) are written as integers.
    """

    def __init__(
        self,
        scalar_fields: Sequence[str],
        layer_fields: Sequence[str],
        n_layers: int,
        int_fields: Sequence[str] = (),
    ) -> None:
        if n_layers < 1 or not scalar_fields:
            raise ValueError("records need a scalar field and n_layers >= 1")
        self.n_slots = len(scalar_fields) + len(layer_fields) * n_layers
        self.int_slots = np.array([i for i, f in enumerate(scalar_fields) if f in int_fields],
                                  dtype=np.intp)
        # The text before each value. A record's closing "]}," leads the next record's first
        # literal, so every record has the same layout (the very first one is cut off).
        close = "]}," if layer_fields else "},"
        literals: list[str] = []
        for i, name in enumerate(scalar_fields):
            literals.append((close + "{" if i == 0 else ",") + json.dumps(name) + ":")
        for j, name in enumerate(layer_fields):
            literals.append(("]," if j else ",") + json.dumps(name) + ":[")
            literals.extend([","] * (n_layers - 1))
        self._skip = len(close)
        self._tail = close[:-1].encode()
        width = max(len(t) for t in literals)
        self.literals = np.zeros((len(literals), width), dtype=np.uint8)
        for i, text in enumerate(literals):
            self.literals[i, : len(text)] = np.frombuffer(text.encode(), dtype=np.uint8)

    def encode(self, scalars: np.ndarray, layers: np.ndarray) -> bytes:
        rows = len(scalars)
        if rows == 0:
            return b""
        values = np.concatenate((scalars, layers.reshape(rows, -1)), axis=1)
        if values.shape[1] != self.n_slots:
            raise ValueError(f"expected {self.n_slots} values per record, got {values.shape[1]}")
        if len(self.int_slots):
            ints = values[:, self.int_slots]
            ints = ints[np.isfinite(ints)]
            if (ints != np.trunc(ints)).any() or (np.abs(ints) >= 1e16).any():
                raise ValueError("integer fields must hold integral values below 1e16")
        # In blocks of records whose temporaries stay in the CPU cache (the whole batch at
        # once is ~1.5x slower: every NumPy pass would go to memory).
        lit_width = self.literals.shape[1]
        per_block = max(1, BLOCK_VALUES // self.n_slots)
        out = np.empty((min(rows, per_block), self.n_slots, lit_width + numtext.WIDTH),
                       dtype=np.uint8)
        out[:, :, :lit_width] = self.literals
        pieces = []
        for start in range(0, rows, per_block):
            block = values[start:start + per_block]
            view = out[: len(block)]
            numtext.float_text(block, view.reshape(view.shape[0] * self.n_slots, -1)[:, lit_width:])
            if len(self.int_slots):  # "12.0" -> "12"
                view[:, self.int_slots, lit_width + numtext.POINT] = 0
                view[:, self.int_slots, lit_width + numtext.LAST] = 0
            pieces.append(numtext.join(view))
        pieces[0] = pieces[0][self._skip:]
        pieces.append(self._tail)
        return b"".join(pieces)


@cache
def run_records(n_layers: int) -> RecordRows:
    """The encoder of a run's records (:mod:`core.history` fields) for ``n_layers`` layers,
    shared: :meth:`core.trainer.Run.record_rows` gives its input."""
    return RecordRows(SCALAR_FIELDS, LAYER_FIELDS, n_layers, INT_FIELDS)
