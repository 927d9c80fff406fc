"""Run in a fresh process by ``test_cost_rss.py``: build a run from the JSON config in argv[1],
train argv[2] steps, take a snapshot, and print the peak RSS growth (bytes) and the estimate.

Growth = peak RSS after (``VmHWM``, see :func:`peak_rss_bytes`) minus the resident set before
(``/proc/self/statm``), both after a tiny warm-up run has loaded every module the engine uses.
"""

from __future__ import annotations

import json
import os
import sys

import core  # noqa: F401  # isort: skip  # limits BLAS to one thread
from core import cost
from core.trainer import Run, resolve_config


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """This process's peak resident set (``VmHWM`` of /proc/self/status). Not ``ru_maxrss``:
    Linux keeps that across ``execve``, so a probe started by a large parent (pytest late in
    the suite, ~1.3 GB) reported the parent's size as its own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


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
    peak = peak_rss_bytes()
    estimate = cost.run_memory(cost.shape_of(resolve_config(config), steps=steps))
    print(json.dumps({"growth": peak - before, "estimate": estimate}))


if __name__ == "__main__":
    main()
