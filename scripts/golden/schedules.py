"""Golden learning-rate series of torch.optim.lr_scheduler schedulers.

Run ``python -m scripts.golden.schedules`` to (re)write ``tests/fixtures/golden_schedules.json``.
For every PyTorch-equivalent GradPlay schedule and several parameter sets, ``lrs[t]`` is
``scheduler.get_last_lr()[0]`` after ``t`` calls of ``scheduler.step()`` on an SGD optimizer
created with ``lr=base_lr``. ReduceLROnPlateau cases store a metric sequence and the rate after
each ``scheduler.step(metric)``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_schedules.json"

N_STEPS = 300

TORCH_CLASSES = {
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "cosine_annealing": "CosineAnnealingLR",
    "cosine_annealing_warm_restarts": "CosineAnnealingWarmRestarts",
    "polynomial": "PolynomialLR",
    "linear": "LinearLR",
    "one_cycle": "OneCycleLR",
}


def _optimizer(base_lr: float) -> Any:
    import torch

    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    return torch.optim.SGD([p], lr=base_lr)


def torch_series(name: str, params: dict[str, Any], base_lr: float, n: int) -> list[float]:
    """``get_last_lr()[0]`` after 0 … n−1 scheduler steps (the optimizer is stepped first)."""
    import torch

    opt = _optimizer(base_lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = getattr(torch.optim.lr_scheduler, TORCH_CLASSES[name])(opt, **params)
        out = []
        for t in range(n):
            out.append(float(sched.get_last_lr()[0]))
            if t < n - 1:
                opt.step()
                sched.step()
    return out


def torch_plateau(params: dict[str, Any], base_lr: float, metrics: list[float]) -> list[float]:
    """The rate after each ``ReduceLROnPlateau.step(metric)``."""
    import torch

    opt = _optimizer(base_lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **params)
    out = []
    for m in metrics:
        opt.step()
        sched.step(m)
        out.append(float(sched.get_last_lr()[0]))
    return out


def plateau_metrics(rng: np.random.Generator, n: int = 120) -> list[float]:
    """A loss-like curve: fast decrease, long noisy plateaus, occasional tiny improvements."""
    t = np.arange(n)
    base = 1.0 / (1.0 + 0.2 * t) + 0.3 * (t > 60)
    noise = rng.normal(scale=0.01, size=n) * (t > 20)
    plateau = np.where((t > 25) & (t < 50), 0.25, base)
    return (plateau + noise).tolist()


CASES: list[tuple[str, float, dict[str, Any]]] = [
    ("step", 0.1, {"step_size": 30, "gamma": 0.1}),
    ("step", 0.5, {"step_size": 7, "gamma": 0.5}),
    ("step", 0.01, {"step_size": 1, "gamma": 0.98}),
    ("multistep", 0.1, {"milestones": [30, 80], "gamma": 0.1}),
    ("multistep", 0.2, {"milestones": [10, 10, 50, 120, 250], "gamma": 0.5}),
    ("multistep", 1.0, {"milestones": [200, 5], "gamma": 0.9}),
    ("exponential", 0.1, {"gamma": 0.95}),
    ("exponential", 0.3, {"gamma": 0.99}),
    ("exponential", 1.0, {"gamma": 1.0}),
    ("cosine_annealing", 0.1, {"T_max": 100, "eta_min": 0.0}),
    ("cosine_annealing", 0.1, {"T_max": 37, "eta_min": 0.001}),
    ("cosine_annealing", 0.05, {"T_max": 1, "eta_min": 0.01}),
    ("cosine_annealing", 1.0, {"T_max": 90, "eta_min": 0.3}),
    ("cosine_annealing_warm_restarts", 0.1, {"T_0": 50, "T_mult": 1, "eta_min": 0.0}),
    ("cosine_annealing_warm_restarts", 0.1, {"T_0": 10, "T_mult": 2, "eta_min": 0.001}),
    ("cosine_annealing_warm_restarts", 0.5, {"T_0": 3, "T_mult": 3, "eta_min": 0.05}),
    ("cosine_annealing_warm_restarts", 0.2, {"T_0": 1, "T_mult": 1, "eta_min": 0.0}),
    ("polynomial", 0.1, {"total_iters": 5, "power": 1.0}),
    ("polynomial", 0.1, {"total_iters": 200, "power": 2.0}),
    ("polynomial", 0.3, {"total_iters": 77, "power": 0.5}),
    ("linear", 0.1, {"start_factor": 1.0 / 3.0, "end_factor": 1.0, "total_iters": 5}),
    ("linear", 0.1, {"start_factor": 0.05, "end_factor": 1.0, "total_iters": 150}),
    ("linear", 0.2, {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 100}),
    ("linear", 0.2, {"start_factor": 0.5, "end_factor": 0.25, "total_iters": 40}),
    ("one_cycle", 0.1, {"max_lr": 0.1, "total_steps": 300}),
    ("one_cycle", 0.1, {"max_lr": 0.5, "total_steps": 250, "pct_start": 0.1,
                        "anneal_strategy": "linear"}),
    ("one_cycle", 0.1, {"max_lr": 0.2, "total_steps": 300, "three_phase": True,
                        "div_factor": 10.0, "final_div_factor": 100.0}),
    ("one_cycle", 0.1, {"max_lr": 1.0, "total_steps": 101, "pct_start": 0.45,
                        "three_phase": True, "anneal_strategy": "linear"}),
]

PLATEAU_CASES: list[tuple[float, dict[str, Any]]] = [
    (0.1, {}),
    (0.1, {"patience": 3, "factor": 0.5}),
    (0.1, {"patience": 2, "factor": 0.5, "cooldown": 4, "min_lr": 0.01}),
    (0.1, {"patience": 0, "threshold": 0.05, "threshold_mode": "abs", "factor": 0.7}),
    (0.1, {"patience": 4, "mode": "max", "threshold": 0.01}),
    (0.1, {"patience": 1, "mode": "max", "threshold_mode": "abs", "threshold": 0.0}),
    (1e-7, {"patience": 1, "factor": 0.5, "eps": 1e-8}),
]


def _n_steps(name: str, params: dict[str, Any]) -> int:
    # OneCycleLR raises after total_steps; GradPlay's cycle ends at total_steps − 1.
    return params["total_steps"] if name == "one_cycle" else N_STEPS


def generate() -> dict[str, Any]:
    import torch

    rng = np.random.default_rng(7)
    cases = [
        {"name": name, "base_lr": base_lr, "params": params,
         "lrs": torch_series(name, params, base_lr, _n_steps(name, params))}
        for name, base_lr, params in CASES
    ]
    plateau = []
    for base_lr, params in PLATEAU_CASES:
        metrics = plateau_metrics(rng)
        if params.get("mode") == "max":
            metrics = [-m for m in metrics]
        lrs = torch_plateau(params, base_lr, metrics)
        assert all(math.isfinite(v) for v in lrs)
        plateau.append({"base_lr": base_lr, "params": params, "metrics": metrics, "lrs": lrs})
    return {"torch_version": torch.__version__, "cases": cases, "plateau": plateau}


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate()) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
