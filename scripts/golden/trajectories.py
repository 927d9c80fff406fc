"""Golden optimizer paths on the 2-D test surfaces, with torch's optimizer state after every
step (the trajectory lab's ``"state": true``).

Run ``python -m scripts.golden.trajectories`` to (re)write
``tests/fixtures/golden_trajectories.json``. Each surface is written again here in torch and
differentiated by autograd (independent of GradPlay's analytic gradients); the optimizer is
``torch.optim`` (single-tensor path, float64, float64 default dtype as in
``scripts/golden/optimizers.py``). Per case: the surface and its parameters, start, optimizer
name and hyperparameters (GradPlay/torch names), a constant learning rate, and per step the
point after the update and ``optimizer.state[p]`` (without ``step``; 0-d tensors as floats).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from scripts.golden.optimizers import TORCH_CLASSES, _torch_hp

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_trajectories.json"

WELLS = ((2.0, 1.0, 1.5, 1.0), (-2.0, -1.5, 1.0, 0.8), (-1.5, 2.5, 0.8, 0.6))


def torch_surface(name: str, params: dict[str, float]) -> Any:
    """f(p) for a torch tensor p = [x, y]."""
    import torch

    def quadratic(p: Any) -> Any:
        t = math.radians(params.get("rotation", 0.0))
        rot = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        uv = rot.T @ p
        return 0.5 * (params.get("a", 1.0) * uv[0] ** 2 + params.get("b", 10.0) * uv[1] ** 2)

    def rosenbrock(p: Any) -> Any:
        return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2

    def himmelblau(p: Any) -> Any:
        return (p[0] ** 2 + p[1] - 11.0) ** 2 + (p[0] + p[1] ** 2 - 7.0) ** 2

    def plateau(p: Any) -> Any:
        w = params.get("width", 1.0)
        return 1.0 - torch.exp(-(p @ p) / (2.0 * w * w))

    def wells(p: Any) -> Any:
        f = 0.03 * (p @ p)
        for cx, cy, h, s in WELLS:
            d = p - torch.tensor([cx, cy])
            f = f - h * torch.exp(-(d @ d) / (2.0 * s * s))
        return f

    return {"quadratic": quadratic, "rosenbrock": rosenbrock, "himmelblau": himmelblau,
            "plateau": plateau, "wells": wells}[name]


def _cases() -> list[dict[str, Any]]:
    rot = {"a": 1.0, "b": 20.0, "rotation": 30.0}
    return [
        {"name": "sgd_nesterov_rosenbrock", "function": "rosenbrock", "params": {},
         "start": [-1.2, 1.0], "optimizer": "sgd",
         "hp": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, "lr": 1e-4},
        {"name": "adagrad_rotated_quadratic", "function": "quadratic", "params": rot,
         "start": [-2.5, 1.5], "optimizer": "adagrad", "hp": {"lr_decay": 0.01}, "lr": 0.5},
        {"name": "rmsprop_centered_himmelblau", "function": "himmelblau", "params": {},
         "start": [0.0, 0.0], "optimizer": "rmsprop",
         "hp": {"centered": True, "momentum": 0.5, "alpha": 0.9}, "lr": 0.01},
        {"name": "adam_amsgrad_rosenbrock", "function": "rosenbrock", "params": {},
         "start": [-1.2, 1.0], "optimizer": "adam", "hp": {"amsgrad": True}, "lr": 0.05},
        {"name": "adamw_wells", "function": "wells", "params": {}, "start": [-3.5, -3.5],
         "optimizer": "adamw", "hp": {"weight_decay": 0.1}, "lr": 0.1},
        {"name": "nadam_rotated_quadratic", "function": "quadratic", "params": rot,
         "start": [-2.5, 1.5], "optimizer": "nadam", "hp": {"momentum_decay": 0.01}, "lr": 0.1},
        {"name": "radam_plateau", "function": "plateau", "params": {"width": 1.0},
         "start": [-4.0, 3.0], "optimizer": "radam", "hp": {"betas": [0.9, 0.9]}, "lr": 0.1},
        {"name": "adamax_himmelblau", "function": "himmelblau", "params": {},
         "start": [0.0, 0.0], "optimizer": "adamax", "hp": {}, "lr": 0.1},
        {"name": "adadelta_wells", "function": "wells", "params": {}, "start": [-3.5, -3.5],
         "optimizer": "adadelta", "hp": {"rho": 0.95}, "lr": 1.0},
        {"name": "rprop_rosenbrock", "function": "rosenbrock", "params": {},
         "start": [-1.2, 1.0], "optimizer": "rprop", "hp": {"etas": [0.5, 1.2]}, "lr": 0.01},
        {"name": "sgd_momentum_plateau", "function": "plateau", "params": {"width": 1.5},
         "start": [-4.0, 3.0], "optimizer": "sgd", "hp": {"momentum": 0.9}, "lr": 0.5},
    ]


N_STEPS = 40


def torch_path(case: dict[str, Any]) -> tuple[list[list[float]], list[dict[str, Any]]]:
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        f = torch_surface(case["function"], case["params"])
        p = torch.tensor(case["start"], dtype=torch.float64, requires_grad=True)
        cls = getattr(torch.optim, TORCH_CLASSES[case["optimizer"]])
        opt = cls([p], lr=case["lr"], foreach=False, **_torch_hp(case["hp"]))
        path, states = [], []
        for _ in range(N_STEPS):
            opt.zero_grad()
            f(p).backward()
            opt.step()
            path.append(p.detach().tolist())
            states.append(
                {
                    k: (v.item() if v.dim() == 0 else v.tolist())
                    for k, v in opt.state[p].items()
                    if k != "step" and v is not None
                }
            )
        return path, states
    finally:
        torch.set_default_dtype(old)


def generate() -> dict[str, Any]:
    import torch

    cases = []
    for case in _cases():
        path, states = torch_path(case)
        cases.append({**case, "steps": N_STEPS, "path": path, "states": states})
    return {"torch_version": torch.__version__, "cases": cases}


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate()) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
