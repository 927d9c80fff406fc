"""Compact JSON that never contains NaN or Infinity (stdlib + NumPy only).

Standard JSON has no NaN/Infinity, and browsers' ``JSON.parse`` rejects them. A diverged run
produces such values routinely, so every non-finite float (Python float, NumPy scalar or array
element) is written as ``null``. NumPy arrays are encoded directly (no per-element Python work
when all values are finite).

Records of long step responses take a faster path from the history rows (:mod:`app.rowjson`);
this module is the general encoder and the reference it is tested against. It imports no web
framework.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def _array_to_list(arr: np.ndarray) -> list[Any]:
    if arr.dtype.kind in "fc":
        finite = np.isfinite(arr)
        if not finite.all():
            # object array so the non-finite slots can hold None; tolist keeps nesting
            obj = arr.astype(object)
            obj[~finite] = None
            return obj.tolist()
    return arr.tolist()


def _default(obj: Any) -> Any:
    """``json.dumps`` hook for the NumPy types the standard encoder does not know."""
    if isinstance(obj, np.ndarray):
        return _array_to_list(obj)
    if isinstance(obj, np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def sanitize(obj: Any) -> Any:
    """Copy of ``obj`` with non-finite floats replaced by ``None`` (NumPy values converted)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [sanitize(v) for v in obj]
    if isinstance(obj, np.ndarray | np.generic):
        return _default(obj)
    return obj


def dumps(content: Any) -> bytes:
    """Compact, UTF-8 JSON without NaN/Infinity."""
    try:
        # fast path: no non-finite Python floats anywhere (NumPy values go through _default)
        text = json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
        )
    except ValueError:
        text = json.dumps(
            sanitize(content),
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
            default=_default,
        )
    return text.encode("utf-8")
