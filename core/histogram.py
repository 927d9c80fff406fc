"""Histograms that never fail: for snapshots of healthy, exploding or diverged networks."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def histogram(values: NDArray[np.float64], bins: int = 30) -> dict[str, Any]:
    """``{counts (bins,), edges (bins+1,), count, exact_zeros, nonfinite, min, max}``.

    Only finite entries are binned (``nonfinite`` counts the rest). ``exact_zeros`` counts
    entries that are exactly 0.0 (what L1's proximal step produces). Values are binned after
    dividing by ``max |v|`` so huge ranges (|v| ~ 1e308, where ``max − min`` overflows) work;
    (nearly) constant data gets a window centred on its value.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    finite = flat[np.isfinite(flat)]
    result: dict[str, Any] = {
        "count": int(flat.size),
        "exact_zeros": int(np.count_nonzero(finite == 0.0)),
        "nonfinite": int(flat.size - finite.size),
    }
    if finite.size == 0:
        return {**result, "counts": [], "edges": [], "min": None, "max": None}
    vmin, vmax = float(finite.min()), float(finite.max())
    scale = max(abs(vmin), abs(vmax)) or 1.0
    lo, hi = vmin / scale, vmax / scale  # within [-1, 1]
    if not hi - lo > 1e-9:
        lo, hi = lo - 0.5, hi + 0.5  # one spike: a unit-wide (relative) window around it
    counts, unit_edges = np.histogram(finite / scale, bins=bins, range=(lo, hi))
    return {**result, "counts": counts, "edges": unit_edges * scale, "min": vmin, "max": vmax}
