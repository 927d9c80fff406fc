"""Run in a fresh process by ``test_cost_rss.py``: build a run from the JSON config in argv[1],
train argv[2] steps, take a snapshot, and print the peak RSS growth (bytes) and the estimate.

Growth = peak RSS after (``resource.getrusage``: ``ru_maxrss``) minus the resident set before
(``/proc/self/statm``), both after a tiny warm-up run has loaded every module the engine uses.
"""

from __future__ import annotations

import json
import os
import resource
import sys

import core  # noqa: F401  # isort: skip  # limits BLAS to one thread
from core import cost
from core.trainer import Run, resolve_config


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    config, steps = json.loads(sys.argv[1]), int(sys.argv[2])
    warm = Run({"dataset": {"n": 20}, "model": {"hidden": [2]}})
    warm.step(2)
    warm.snapshot()
    del warm
    before = rss_bytes()
    run = Run(config)
    run.step(steps, collect=False)
    run.snapshot()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    estimate = cost.run_memory(cost.shape_of(resolve_config(config), steps=steps))
    print(json.dumps({"growth": peak - before, "estimate": estimate}))


if __name__ == "__main__":
    main()
