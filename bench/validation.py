"""Validation cadence cost: the share of a training step spent on the validation pass.

Times ``Run.step`` (``collect=False``, as the play loop trains) on small runs with validation
every step (``eval_every = 1``, the default) and with validation only at step 0
(``eval_every = 1_000_000``); the share is ``1 - t(no validation) / t(every step)``. Best of
``REPEATS`` timed repeats of the thread's CPU time (``time.thread_time``). Only prints.

Run with ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/validation.py``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.trainer import Run  # noqa: E402

STEPS = 3000
REPEATS = 7

CASES: list[tuple[str, dict[str, Any]]] = [
    ("default run: circle n=200 (160/40), 2-8-8-1 tanh, batch 10", {}),
    ("same with dropout 0.2 (separate eval pass)", {"model": {"dropout": 0.2}}),
    ("circle n=500 (400/100), batch 32", {"dataset": {"n": 500}, "batch_size": 32}),
]


def timed(run: Run) -> float:
    # CPU time of this thread: a machine shared with other work deschedules us, which
    # wall-clock time would count
    start = time.thread_time()
    run.step(STEPS, collect=False)
    return (time.thread_time() - start) / STEPS


def main() -> None:
    print(f"{'case':58s} {'us/step val':>12s} {'us/step none':>13s} {'val share':>10s}")
    for label, cfg in CASES:
        # Alternate the two settings repeat by repeat (best of each), so a busy machine
        # slows both alike.
        best = {1: float("inf"), 1_000_000: float("inf")}
        for _ in range(REPEATS):
            for every in best:
                run = Run({**cfg, "eval_every": every})
                run.step(50, collect=False)  # warm-up
                best[every] = min(best[every], timed(run))
        with_val, without = best[1], best[1_000_000]
        share = 1.0 - without / with_val
        print(f"{label:58s} {with_val * 1e6:12.1f} {without * 1e6:13.1f} {share:10.1%}")


if __name__ == "__main__":
    main()
