"""Encoding benchmark: prints figures, asserts nothing.

Measures the NumPy number text (``app.numtext``) and record encoder (``app.rowjson``) that long
``POST .../step`` responses use, against the standard library they replace:

1. ``numtext.float_text`` vs ``repr`` (what ``json.dumps`` calls) on 9,000 standard-normal
   floats (one block of ``rowjson.BLOCK_VALUES``) and on 30,000 at once;
2. ``RecordRows.encode`` on history rows vs ``jsonenc.dumps`` on the record dicts of the default
   run, for 1 to 3,000 records (the crossover is where the server could switch);
3. ``Run.step(1000)`` vs ``Run.step(1000, collect=False)``: the cost of building record dicts.

Every pair is interleaved and the figure is the best of the repeats (this shared machine's
speed drifts by 2-3x over seconds).

Usage: ``OPENBLAS_NUM_THREADS=1 python bench/encode.py``
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

import numpy as np  # noqa: E402

from app import numtext  # noqa: E402
from app.jsonenc import dumps  # noqa: E402
from app.rowjson import BLOCK_VALUES, run_records  # noqa: E402
from core.trainer import Run  # noqa: E402


def best_of(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best time in seconds of each function, calls interleaved."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    for n in (BLOCK_VALUES, 30_000):
        x = rng.standard_normal(n)
        values = x.tolist()
        t = best_of({"numpy": lambda x=x: numtext.float_text(x),
                     "repr": lambda v=values: list(map(repr, v))}, 30)
        print(f"[1] {n:,} floats: float_text {t['numpy'] * 1e3:.2f} ms vs repr "
              f"{t['repr'] * 1e3:.2f} ms ({t['repr'] / t['numpy']:.1f}x)")

    run = Run({})
    records = run.step(3000)
    scalars, layers = run.record_rows(0, run.history.size)
    encoder = run_records(run.layer_count)
    for n in (1, 10, 30, 100, 1000, 3000):
        s, lay, recs = scalars[:n], layers[:n], records[:n]
        t = best_of({"rows": lambda s=s, lay=lay: encoder.encode(s, lay),
                     "dumps": lambda recs=recs: dumps(recs)}, 200 if n <= 100 else 20)
        print(f"[2] {n:>5,} records ({encoder.n_slots} numbers each): rows "
              f"{t['rows'] * 1e3:7.3f} ms vs dumps {t['dumps'] * 1e3:7.3f} ms "
              f"({t['dumps'] / t['rows']:.2f}x)")

    def steps(collect: bool) -> None:
        Run({}).step(1000, collect=collect)

    t = best_of({"dicts": lambda: steps(True), "rows": lambda: steps(False)}, 15)
    print(f"[3] Run({{}}).step(1000): with records {t['dicts'] * 1e3:.1f} ms, collect=False "
          f"{t['rows'] * 1e3:.1f} ms (dicts cost {100 * (t['dicts'] / t['rows'] - 1):.0f}%)")


if __name__ == "__main__":
    main()
