"""Optimizer benchmark: prints figures, asserts nothing.

1. One ``Optimizer.step`` on a flat vector of P = 250 parameters (the size of a small playground
   net) for every catalog optimizer, in µs, next to torch's single-tensor step
   (``foreach=False``, float64) on the same vector when torch is installed;
2. ``POST /api/optimizers/trajectory``'s engine function for 10,000 steps on Rosenbrock with and
   without ``state=True`` (the optimizer state and effective step size after every update).

The figure is the best of the repeats (this shared machine's speed drifts by 2-3x over seconds).

Usage: ``OPENBLAS_NUM_THREADS=1 python bench/optimizers.py``
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

from core.labs.trajectories import trajectory  # noqa: E402
from core.optimizers import OPTIMIZERS, make_optimizer  # noqa: E402

P = 250
STEPS = 2000
REPEATS = 5


def best(fn: Callable[[], None], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def ours(name: str) -> float:
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(16, P))
    opt = make_optimizer(name)
    params = rng.normal(size=P)

    def run() -> None:
        for t in range(STEPS):
            opt.step(params, grads[t & 15], 1e-3)

    return best(run) / STEPS * 1e6


def torch_step(name: str) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    cls = getattr(torch.optim, OPTIMIZERS.get(name).meta["torch"].split(".")[-1])
    rng = np.random.default_rng(0)
    grads = [torch.tensor(g) for g in rng.normal(size=(16, P))]
    p = torch.tensor(rng.normal(size=P), requires_grad=True)
    opt = cls([p], lr=1e-3, foreach=False)

    def run() -> None:
        for t in range(STEPS):
            p.grad = grads[t & 15]
            opt.step()

    return best(run) / STEPS * 1e6


def main() -> None:
    print(f"[1] one optimizer step on P = {P} (µs, best of {REPEATS} × {STEPS} steps)")
    print(f"{'optimizer':<10} {'GradPlay':>9} {'torch':>9}")
    for name in OPTIMIZERS.names():
        ref = torch_step(name)
        ref_text = "-" if ref is None else f"{ref:9.1f}"
        print(f"{name:<10} {ours(name):9.1f} {ref_text:>9}")
    print("\n[2] trajectory(rosenbrock, 10,000 steps) (ms, best of 3)")
    for name in ("sgd", "adam", "nadam", "rprop"):
        opt = {"name": name, "lr": 1e-4}
        plain = best(lambda o=opt: trajectory("rosenbrock", None, o, steps=10_000), 3)
        state = best(lambda o=opt: trajectory("rosenbrock", None, o, steps=10_000, state=True), 3)
        print(f"{name:<10} state=False {plain * 1e3:7.1f}   state=True {state * 1e3:7.1f}")


if __name__ == "__main__":
    main()
