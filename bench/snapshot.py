"""Snapshot benchmark: prints figures, asserts nothing.

The cost of the small-net snapshot's per-neuron output maps (``neuron_maps``, a
``NEURON_MAP_GRID`` square of every hidden unit's activation) against the whole snapshot, for
the playground's default network and the largest net that still gets the diagram: CPU time of
``Run.snapshot()`` and of ``Run._neuron_maps()`` alone (``time.thread_time``, best of the
repeats: the machine is shared), and the JSON bytes of each (``app.jsonenc.dumps``).

Usage: ``OPENBLAS_NUM_THREADS=1 python bench/snapshot.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.jsonenc import dumps  # noqa: E402
from core.trainer import NETWORK_MAX_LAYERS, NETWORK_MAX_UNITS, Run  # noqa: E402


def best_ms(fn: Callable[[], object], repeats: int = 7, inner: int = 20) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(inner):
            fn()
        best = min(best, (time.thread_time() - t0) / inner)
    return best * 1e3


CASES = {
    "circle, 2 → 4 → 4 → 1": {"model": {"hidden": [4, 4]}},
    f"circle, 2 → {NETWORK_MAX_UNITS}×{NETWORK_MAX_LAYERS - 1} → 1 (largest with a diagram)": {
        "model": {"hidden": [NETWORK_MAX_UNITS] * (NETWORK_MAX_LAYERS - 1)}},
    "spiral, x1..sin_x2 → 8×2 → 3": {"dataset": {"name": "spiral", "features": [
        "x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]}, "model": {"hidden": [8, 8]}},
}

print(f"{'case':58s} {'snapshot ms':>11s} {'maps ms':>8s} {'snapshot kB':>11s} {'maps kB':>8s}")
for label, cfg in CASES.items():
    run = Run(cfg)
    run.step(20)
    snap_ms = best_ms(run.snapshot)
    maps_ms = best_ms(run._neuron_maps)
    snap = run.snapshot()
    size = len(dumps(snap))
    maps = len(dumps(snap["neuron_maps"]))
    print(f"{label:58s} {snap_ms:11.2f} {maps_ms:8.2f} {size / 1e3:11.1f} {maps / 1e3:8.1f}")
