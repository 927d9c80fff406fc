"""Golden trajectories of torch.optim optimizers on a flat parameter vector.

Run ``python -m scripts.golden.optimizers`` to (re)write ``tests/fixtures/golden_optimizers.json``.
Each case stores the optimizer name and hyperparameters (GradPlay/torch names; ``betas`` as a
list), the initial parameters, the gradient fed at every step, the learning rate of every step
(constant, or varying as a scheduler would set it), optional hyperparameter changes applied before
a given step (through ``param_groups``, state kept), torch's parameters after every step and
torch's ``optimizer.state[p]`` after every step (``states``: ``{key: list or float}`` without
``"step"``).

torch's default dtype is set to float64 while generating: torch keeps scalar state (the step
counter, NAdam's ``mu_product``) in the default dtype, and GradPlay computes it in float64.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_optimizers.json"

N_PARAMS = 20
N_STEPS = 10

TORCH_CLASSES = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "rprop": "Rprop",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adamax": "Adamax",
    "adadelta": "Adadelta",
}


def _torch_hp(hp: dict[str, Any]) -> dict[str, Any]:
    out = dict(hp)
    for key in ("betas", "etas", "step_sizes"):
        if key in out:
            out[key] = tuple(out[key])
    return out


def torch_run(
    name: str,
    hp: dict[str, Any],
    params0: list[float],
    grads: list[list[float]],
    lrs: list[float],
    changes: dict[str, dict[str, Any]] | None = None,
) -> list[list[float]]:
    """Parameters after each torch step (float64, single-tensor code path).

    ``lrs[t]`` is written to ``param_groups[0]["lr"]`` before step ``t``; ``changes[str(t)]``
    updates other hyperparameters before step ``t``.
    """
    return torch_run_with_state(name, hp, params0, grads, lrs, changes)[0]


def torch_run_with_state(
    name: str,
    hp: dict[str, Any],
    params0: list[float],
    grads: list[list[float]],
    lrs: list[float],
    changes: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[list[float]], list[dict[str, Any]]]:
    """Like :func:`torch_run`, plus ``optimizer.state[p]`` after each step (without ``step``;
    tensors as lists, 0-d tensors as floats)."""
    import torch

    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _torch_run(name, hp, params0, grads, lrs, changes)
    finally:
        torch.set_default_dtype(old_dtype)


def _torch_run(
    name: str,
    hp: dict[str, Any],
    params0: list[float],
    grads: list[list[float]],
    lrs: list[float],
    changes: dict[str, dict[str, Any]] | None,
) -> tuple[list[list[float]], list[dict[str, Any]]]:
    import torch

    cls = getattr(torch.optim, TORCH_CLASSES[name])
    p = torch.tensor(params0, dtype=torch.float64, requires_grad=True)
    opt = cls([p], foreach=False, **_torch_hp(hp))
    group = opt.param_groups[0]
    out = []
    states = []
    for t, g in enumerate(grads):
        for key, value in _torch_hp((changes or {}).get(str(t), {})).items():
            group[key] = value
        group["lr"] = lrs[t]
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(p.detach().tolist())
        states.append(
            {
                k: (v.item() if v.dim() == 0 else v.tolist())
                for k, v in opt.state[p].items()
                if k != "step" and v is not None
            }
        )
    return out, states


def random_inputs(
    rng: np.random.Generator, n_params: int, n_steps: int
) -> tuple[list[float], list[list[float]]]:
    """Parameters ~ N(0, 1) and gradients with per-step scales 1e-3…10; component 0 gets zero
    gradient throughout (a "dead" unit, exercising the eps paths)."""
    params0 = rng.normal(size=n_params)
    scales = 10.0 ** rng.uniform(-3, 1, size=(n_steps, 1))
    grads = rng.normal(size=(n_steps, n_params)) * scales
    grads[:, 0] = 0.0
    return params0.tolist(), grads.tolist()


def _cases() -> list[dict[str, Any]]:
    const = [0.01] * N_STEPS
    changed = [0.05] * 5 + [0.01] * 5
    cosine = [0.05 * (1 + np.cos(np.pi * t / N_STEPS)) / 2 for t in range(N_STEPS)]
    decaying = [0.01 * 0.8**t for t in range(N_STEPS)]
    return [
        # SGD
        {"name": "sgd_plain", "optimizer": "sgd", "hp": {"lr": 0.01}, "lrs": const},
        {"name": "sgd_default_lr", "optimizer": "sgd", "hp": {}, "lrs": [0.001] * N_STEPS},
        {"name": "sgd_momentum", "optimizer": "sgd", "hp": {"momentum": 0.9}, "lrs": const},
        {"name": "sgd_dampening", "optimizer": "sgd",
         "hp": {"momentum": 0.9, "dampening": 0.5}, "lrs": const},
        {"name": "sgd_nesterov", "optimizer": "sgd",
         "hp": {"momentum": 0.9, "nesterov": True}, "lrs": const},
        {"name": "sgd_weight_decay", "optimizer": "sgd", "hp": {"weight_decay": 0.1},
         "lrs": const},
        {"name": "sgd_momentum_wd_nesterov", "optimizer": "sgd",
         "hp": {"momentum": 0.8, "weight_decay": 0.05, "nesterov": True}, "lrs": const},
        {"name": "sgd_change_midrun", "optimizer": "sgd", "hp": {"lr": 0.05, "momentum": 0.9},
         "lrs": changed, "changes": {"5": {"lr": 0.01, "momentum": 0.5}}},
        {"name": "sgd_momentum_scheduled_lr", "optimizer": "sgd",
         "hp": {"lr": 0.05, "momentum": 0.9}, "lrs": cosine},
        # Adagrad
        {"name": "adagrad_default", "optimizer": "adagrad", "hp": {}, "lrs": [0.01] * N_STEPS},
        {"name": "adagrad_lr_decay", "optimizer": "adagrad", "hp": {"lr_decay": 0.1},
         "lrs": const},
        {"name": "adagrad_initial_acc", "optimizer": "adagrad",
         "hp": {"initial_accumulator_value": 0.5}, "lrs": const},
        {"name": "adagrad_wd_eps", "optimizer": "adagrad",
         "hp": {"weight_decay": 0.05, "eps": 1e-6, "lr_decay": 0.01}, "lrs": const},
        {"name": "adagrad_change_midrun", "optimizer": "adagrad",
         "hp": {"lr": 0.05, "lr_decay": 0.1}, "lrs": changed,
         "changes": {"5": {"lr": 0.01, "lr_decay": 0.5, "weight_decay": 0.1}}},
        # RMSprop
        {"name": "rmsprop_default", "optimizer": "rmsprop", "hp": {}, "lrs": const},
        {"name": "rmsprop_alpha", "optimizer": "rmsprop", "hp": {"alpha": 0.9}, "lrs": const},
        {"name": "rmsprop_centered", "optimizer": "rmsprop", "hp": {"centered": True},
         "lrs": const},
        {"name": "rmsprop_momentum", "optimizer": "rmsprop", "hp": {"momentum": 0.9},
         "lrs": const},
        {"name": "rmsprop_centered_momentum_wd", "optimizer": "rmsprop",
         "hp": {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-6},
         "lrs": const},
        {"name": "rmsprop_change_midrun", "optimizer": "rmsprop",
         "hp": {"lr": 0.05, "momentum": 0.9}, "lrs": changed,
         "changes": {"5": {"lr": 0.01, "momentum": 0.5, "alpha": 0.9}}},
        # Adam
        {"name": "adam_default", "optimizer": "adam", "hp": {}, "lrs": [0.001] * N_STEPS},
        {"name": "adam_betas", "optimizer": "adam", "hp": {"betas": [0.8, 0.99]},
         "lrs": const},
        {"name": "adam_amsgrad", "optimizer": "adam", "hp": {"amsgrad": True}, "lrs": const},
        {"name": "adam_weight_decay", "optimizer": "adam", "hp": {"weight_decay": 0.1},
         "lrs": const},
        {"name": "adam_amsgrad_eps_wd", "optimizer": "adam",
         "hp": {"amsgrad": True, "eps": 1e-3, "weight_decay": 0.01}, "lrs": const},
        {"name": "adam_change_midrun", "optimizer": "adam", "hp": {"lr": 0.05},
         "lrs": changed, "changes": {"5": {"lr": 0.01, "betas": [0.5, 0.9]}}},
        {"name": "adam_scheduled_lr", "optimizer": "adam", "hp": {}, "lrs": decaying},
        # AdamW
        {"name": "adamw_default", "optimizer": "adamw", "hp": {}, "lrs": [0.001] * N_STEPS},
        {"name": "adamw_weight_decay", "optimizer": "adamw", "hp": {"weight_decay": 0.1},
         "lrs": const},
        {"name": "adamw_amsgrad", "optimizer": "adamw",
         "hp": {"amsgrad": True, "weight_decay": 0.5, "betas": [0.85, 0.95]}, "lrs": const},
        {"name": "adamw_change_midrun", "optimizer": "adamw", "hp": {"lr": 0.05},
         "lrs": changed,
         "changes": {"5": {"lr": 0.01, "weight_decay": 0.2, "betas": [0.7, 0.99]}}},
        {"name": "adamw_scheduled_lr", "optimizer": "adamw", "hp": {"weight_decay": 0.3},
         "lrs": cosine},
        # Rprop (lr only sets the initial step sizes; later rates are ignored, as in torch)
        {"name": "rprop_default", "optimizer": "rprop", "hp": {}, "lrs": const},
        {"name": "rprop_etas_step_sizes", "optimizer": "rprop",
         "hp": {"lr": 0.05, "etas": [0.3, 1.5], "step_sizes": [1e-3, 0.2]},
         "lrs": [0.05] * N_STEPS},
        {"name": "rprop_change_midrun", "optimizer": "rprop", "hp": {"lr": 0.05},
         "lrs": changed, "changes": {"5": {"etas": [0.4, 2.0], "step_sizes": [0.01, 0.06]}}},
        # NAdam
        {"name": "nadam_default", "optimizer": "nadam", "hp": {}, "lrs": [0.002] * N_STEPS},
        {"name": "nadam_momentum_decay_wd", "optimizer": "nadam",
         "hp": {"momentum_decay": 0.1, "weight_decay": 0.1, "betas": [0.8, 0.99]},
         "lrs": const},
        {"name": "nadam_decoupled", "optimizer": "nadam",
         "hp": {"decoupled_weight_decay": True, "weight_decay": 0.2, "eps": 1e-3}, "lrs": cosine},
        {"name": "nadam_change_midrun", "optimizer": "nadam", "hp": {"lr": 0.05},
         "lrs": changed,
         "changes": {"5": {"lr": 0.01, "betas": [0.5, 0.9], "momentum_decay": 0.02}}},
        # RAdam (β2 = 0.9 makes ρₜ > 5 from step 6, so both branches run)
        {"name": "radam_default", "optimizer": "radam", "hp": {}, "lrs": [0.001] * N_STEPS},
        {"name": "radam_rectified", "optimizer": "radam", "hp": {"betas": [0.9, 0.9]},
         "lrs": const},
        {"name": "radam_wd", "optimizer": "radam",
         "hp": {"betas": [0.8, 0.8], "weight_decay": 0.1, "eps": 1e-4}, "lrs": decaying},
        {"name": "radam_decoupled", "optimizer": "radam",
         "hp": {"betas": [0.9, 0.85], "decoupled_weight_decay": True, "weight_decay": 0.3},
         "lrs": const},
        {"name": "radam_change_midrun", "optimizer": "radam", "hp": {"lr": 0.05},
         "lrs": changed, "changes": {"5": {"lr": 0.01, "betas": [0.7, 0.8]}}},
        # Adamax
        {"name": "adamax_default", "optimizer": "adamax", "hp": {}, "lrs": [0.002] * N_STEPS},
        {"name": "adamax_betas_wd_eps", "optimizer": "adamax",
         "hp": {"betas": [0.8, 0.9], "weight_decay": 0.1, "eps": 1e-3}, "lrs": const},
        {"name": "adamax_change_midrun", "optimizer": "adamax", "hp": {"lr": 0.05},
         "lrs": changed, "changes": {"5": {"lr": 0.01, "betas": [0.5, 0.99], "eps": 0.01}}},
        # Adadelta
        {"name": "adadelta_default", "optimizer": "adadelta", "hp": {}, "lrs": [1.0] * N_STEPS},
        {"name": "adadelta_rho_wd_eps", "optimizer": "adadelta",
         "hp": {"rho": 0.5, "weight_decay": 0.1, "eps": 1e-3}, "lrs": cosine},
        {"name": "adadelta_change_midrun", "optimizer": "adadelta", "hp": {"lr": 0.5},
         "lrs": [0.5] * 5 + [0.2] * 5, "changes": {"5": {"lr": 0.2, "rho": 0.99}}},
    ]


def generate() -> dict[str, Any]:
    import torch

    rng = np.random.default_rng(20240613)
    cases = []
    for case in _cases():
        params0, grads = random_inputs(rng, N_PARAMS, N_STEPS)
        changes = case.get("changes", {})
        traj, states = torch_run_with_state(
            case["optimizer"], case["hp"], params0, grads, case["lrs"], changes
        )
        cases.append(
            {**case, "changes": changes, "params0": params0, "grads": grads, "trajectory": traj,
             "states": states}
        )
    return {"torch_version": torch.__version__, "n_params": N_PARAMS, "cases": cases}


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate()) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
