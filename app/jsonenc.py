"""Compact JSON that never contains NaN or Infinity, written by orjson.

Standard JSON has no NaN/Infinity, and browsers' ``JSON.parse`` rejects them. A diverged run
produces such values routinely. orjson writes every non-finite float as ``null`` (Python
floats, NumPy scalars of every float kind and NumPy arrays, with ``OPT_SERIALIZE_NUMPY``), and
its float text is the shortest that round-trips (Ryu): a float64 parses back to the same bits.
float32/float16 values are written with the shortest text of *their* precision (``0.1`` for
``np.float32(0.1)``), which parses back to the same float32/float16.

What orjson refuses goes through :func:`_default` (non-contiguous arrays, 0-d and object
arrays, ``long double``, sets) or, for the rare documents it cannot write at all (integers
beyond 64 bits and non-string dict keys, e.g. a 422 echoing a huge number), through the
standard library after :func:`sanitize`. Either way the result is strict JSON.

:func:`records_json` writes training records straight from history rows (no record dicts from
the engine): ``POST .../step``, play chunks and WebSocket steps use it. Beyond a few rows it
builds no dicts either: orjson writes each field's column as one NumPy array (the same float
text as for Python floats, NaN/±inf as ``null``), the column texts are split into values and
one bytes template per record puts the keys around them (``bench/encode.py`` [1]: about 1.7x
faster than dicts for 1,000 records). This module imports no web framework.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson

from core.history import INT_FIELDS, LAYER_FIELDS, SCALAR_FIELDS

OPTIONS = orjson.OPT_SERIALIZE_NUMPY

_NATIVE_DTYPES = frozenset(np.dtype(t) for t in (
    np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
))
"""Array dtypes orjson serialises itself (when the array is C-contiguous)."""


def _default(obj: Any) -> Any:
    """orjson hook for what it does not serialise natively."""
    if isinstance(obj, np.ndarray):
        if obj.ndim and obj.dtype in _NATIVE_DTYPES:
            return np.ascontiguousarray(obj)  # e.g. a column slice
        return obj.tolist()  # 0-d, object, long double: Python values (or NumPy scalars)
    if isinstance(obj, np.floating):  # long double
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, set | frozenset):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def sanitize(obj: Any) -> Any:
    """Copy of ``obj`` as plain Python values: non-finite floats become ``None``, NumPy values
    Python ones, tuples and sets lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [sanitize(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return sanitize(obj.tolist())
    if isinstance(obj, np.floating):
        return sanitize(float(obj))
    if isinstance(obj, np.generic):
        return sanitize(obj.item())
    return obj


def dumps(content: Any) -> bytes:
    """Compact, UTF-8 JSON without NaN/Infinity."""
    try:
        return orjson.dumps(content, default=_default, option=OPTIONS)
    except orjson.JSONEncodeError:
        # integers beyond 64 bits, non-string keys: the standard library writes those
        text = json.dumps(sanitize(content), ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
        return text.encode("utf-8")


_N_INT = len(INT_FIELDS)
if SCALAR_FIELDS[:_N_INT] != INT_FIELDS:  # records_json relies on it
    raise ImportError("core.history.INT_FIELDS must be the first SCALAR_FIELDS")
_FIELDS = SCALAR_FIELDS + LAYER_FIELDS


def records_json(scalars: np.ndarray, layers: np.ndarray) -> bytes:
    """The JSON text of records given as history rows, ``{...},{...}`` without brackets.

    ``scalars (R, len(SCALAR_FIELDS))`` and ``layers (R, len(LAYER_FIELDS), L)`` float64 as
    :meth:`core.trainer.Run.record_rows` gives them: NaN and ±inf stand for null, and the
    integer fields (``INT_FIELDS``, the first columns, finite) are written as integers. The
    bytes equal ``dumps(records)[1:-1]`` of the engine's record dicts (``tests/app/
    test_jsonenc.py`` checks this byte for byte, for any float64): cheaper than the engine
    building dicts one step at a time (``bench/encode.py`` [2]).
    """
    if len(scalars) < _COLUMNS_FROM:
        return _records_json_dicts(scalars, layers)
    return _records_json_columns(scalars, layers)


_COLUMNS_FROM = 16
"""Rows from which :func:`_records_json_columns` is the faster (measured: 16 rows ~15 % faster,
1,000 rows ~40 %; below ~12 rows the fixed cost of 22 orjson calls loses to the dicts)."""


def _records_json_dicts(scalars: np.ndarray, layers: np.ndarray) -> bytes:
    """:func:`records_json` through one dict per record (fastest for a few rows)."""
    ints = scalars[:, :_N_INT].astype(np.int64).tolist()
    floats = scalars[:, _N_INT:].tolist()
    per_layer = layers.tolist()
    records = [dict(zip(_FIELDS, i + f + lay, strict=True))
               for i, f, lay in zip(ints, floats, per_layer, strict=True)]
    return orjson.dumps(records, option=OPTIONS)[1:-1]


_TEMPLATE = b"{" + b",".join(
    [b'"%s":%%s' % name.encode() for name in SCALAR_FIELDS]
    + [b'"%s":[%%s]' % name.encode() for name in LAYER_FIELDS]) + b"}"
"""One record with a ``%s`` for each field's value text (a layer field's without brackets)."""


def _records_json_columns(scalars: np.ndarray, layers: np.ndarray) -> bytes:
    """:func:`records_json` from one orjson call per field (no Python float per value).

    Number text has no ``,``, ``[`` or ``]``, so splitting a column's text at ``,`` (one value
    per row) or a per-layer column's at ``],[`` (one list per row) gives each row's value text
    exactly as orjson writes it inside a record."""
    columns: list[list[bytes]] = []
    ints = scalars[:, :_N_INT].T.astype(np.int64, order="C")  # (I, R)
    floats = np.ascontiguousarray(scalars[:, _N_INT:].T)  # (S - I, R)
    for column in (*ints, *floats):
        text = orjson.dumps(column, option=OPTIONS)  # "[v,v,...]"
        values = text.split(b",")
        values[0] = values[0][1:]  # one after the other: one row is one piece
        values[-1] = values[-1][:-1]
        columns.append(values)
    for column in np.ascontiguousarray(layers.transpose(1, 0, 2)):  # (F, R, L): (R, L) each
        text = orjson.dumps(column, option=OPTIONS)  # "[[v,v],[v,v],...]"
        values = text.split(b"],[")
        values[0] = values[0][2:]
        values[-1] = values[-1][:-2]
        columns.append(values)
    template = _TEMPLATE
    return b",".join([template % row for row in zip(*columns, strict=True)])
