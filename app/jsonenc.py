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
the engine): ``POST .../step``, play chunks and WebSocket steps use it. This module imports no
web framework.
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
    bytes equal ``dumps(records)[1:-1]`` of the engine's record dicts; building dicts here
    from whole-array ``tolist`` calls is cheaper than the engine building them one step at a
    time (``bench/encode.py`` [2]).
    """
    ints = scalars[:, :_N_INT].astype(np.int64).tolist()
    floats = scalars[:, _N_INT:].tolist()
    per_layer = layers.tolist()
    records = [dict(zip(_FIELDS, i + f + lay, strict=True))
               for i, f, lay in zip(ints, floats, per_layer, strict=True)]
    return orjson.dumps(records, option=OPTIONS)[1:-1]
