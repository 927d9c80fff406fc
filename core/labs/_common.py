"""Shared validation helpers of the lab analyses (``core.labs.*``).

Messages come from :class:`core.registry.Param`, so a lab's bad input reads like every other
field's: ``ConfigError(field, "must be a number with lo <= x <= hi")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError
from core.registry import Param

__all__ = ["FloatArray", "check", "float_pair", "none_if_nan", "seed_param"]

FloatArray = NDArray[np.float64]



def check(param: Param, value: Any, field_name: str | None = None) -> Any:
    return param.validate(value, field_name or param.name)


def seed_param(value: Any) -> int:
    return check(Param("seed", "int", 0, min=0, max=2**63 - 1), value)


def float_pair(value: Any, field_name: str, lo: float, hi: float,
                exclusive_lo: bool = False) -> FloatArray:
    """Two finite numbers in [lo, hi] (or (lo, hi]) -> array (2,)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    kind = f"{lo} {'<' if exclusive_lo else '<='} x <= {hi}"
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(field_name, f"must be a list of 2 numbers, each x with {kind}")
    p = Param(field_name, "float", 0.0, min=lo, max=hi, exclusive_min=exclusive_lo)
    return np.array([p.validate(v, f"{field_name}[{i}]") for i, v in enumerate(value)])


def none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)
