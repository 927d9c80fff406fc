"""Golden values for whole-model training steps, batch norm and layer norm, from PyTorch.

Each case fixes the data, the initial parameters (our ``W (in, out)`` layout; torch gets the
transpose), the optimizer and the loss, then records for 5 full-batch updates: the loss, every
gradient and every parameter after the update, plus batch-norm running statistics and eval-mode
outputs at the end. ``tests/core/test_model_golden.py`` replays the same steps with the NumPy
engine.

Run: ``python -m scripts.golden.model`` (writes tests/fixtures/golden_model.json).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_model.json"
STEPS = 5

CASES: list[dict[str, Any]] = [
    {
        "name": "tanh_sgd_momentum_bce",
        "input_dim": 2, "hidden": [5, 4], "output_dim": 1, "task": "binary",
        "activation": "tanh", "batch_norm": False, "layer_norm": False, "residual": False,
        "loss": "bce_with_logits", "n": 16,
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.0,
                      "nesterov": False, "weight_decay": 0.0},
    },
    {
        "name": "relu_batchnorm_adam_ce",
        "input_dim": 3, "hidden": [6, 6], "output_dim": 3, "task": "multiclass",
        "activation": "relu", "batch_norm": True, "layer_norm": False, "residual": False,
        "loss": "cross_entropy", "n": 12,
        "optimizer": {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8,
                      "weight_decay": 0.0, "amsgrad": False},
    },
    {
        "name": "sigmoid_layernorm_residual_rmsprop_mse",
        "input_dim": 2, "hidden": [4, 4, 4], "output_dim": 1, "task": "regression",
        "activation": "sigmoid", "batch_norm": False, "layer_norm": True, "residual": True,
        "loss": "mse", "n": 10,
        "optimizer": {"name": "rmsprop", "lr": 0.01, "alpha": 0.99, "eps": 1e-8,
                      "weight_decay": 0.0, "momentum": 0.5, "centered": True},
    },
    {
        "name": "gelu_batchnorm_residual_adamw_mse_wd",
        "input_dim": 3, "hidden": [5, 5], "output_dim": 2, "task": "regression",
        "activation": "gelu", "batch_norm": True, "layer_norm": False, "residual": True,
        "loss": "mse", "n": 9,
        "optimizer": {"name": "adamw", "lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-8,
                      "weight_decay": 0.05, "amsgrad": True},
    },
]

_ACT = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid,
        "gelu": torch.nn.GELU}


class TorchMLP(torch.nn.Module):
    """The same architecture as core.model.MLP, written with torch modules (batch-norm
    momentum ``case["momentum"]``, torch's 0.1 when the case has none)."""

    def __init__(self, case: dict[str, Any]) -> None:
        super().__init__()
        dims = [case["input_dim"], *case["hidden"], case["output_dim"]]
        self.linears = torch.nn.ModuleList(
            torch.nn.Linear(i, o).double() for i, o in zip(dims[:-1], dims[1:], strict=True)
        )
        self.norms = torch.nn.ModuleList()
        for width in case["hidden"]:
            if case["batch_norm"]:
                momentum = case.get("momentum", 0.1)
                self.norms.append(torch.nn.BatchNorm1d(width, momentum=momentum).double())
            elif case["layer_norm"]:
                self.norms.append(torch.nn.LayerNorm(width).double())
        self.act = _ACT[case["activation"]]()
        self.residual_flags = [
            case["residual"] and i == o for i, o in zip(dims[:-2], dims[1:-1], strict=True)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for k, lin in enumerate(self.linears[:-1]):
            z = lin(h)
            if len(self.norms):
                z = self.norms[k](z)
            a = self.act(z)
            h = h + a if self.residual_flags[k] else a
        return self.linears[-1](h)


def make_inputs(case: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n, d = case["n"], case["input_dim"]
    x = rng.normal(size=(n, d))
    if case["task"] == "binary":
        y: Any = (rng.random((n, 1)) > 0.5).astype(float)
    elif case["task"] == "multiclass":
        y = rng.integers(0, case["output_dim"], size=n)
    else:
        y = rng.normal(size=(n, case["output_dim"]))
    dims = [d, *case["hidden"], case["output_dim"]]
    layers = []
    for k, (i, o) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layer: dict[str, Any] = {"W": rng.normal(scale=1 / np.sqrt(i), size=(i, o)),
                                 "b": rng.normal(scale=0.1, size=o)}
        if k < len(case["hidden"]) and (case["batch_norm"] or case["layer_norm"]):
            layer["gamma"] = 1.0 + rng.normal(scale=0.1, size=o)
            layer["beta"] = rng.normal(scale=0.1, size=o)
        if k < len(case["hidden"]) and case["batch_norm"]:
            layer["running_mean"] = np.zeros(o)
            layer["running_var"] = np.ones(o)
        layers.append(layer)
    return {"x": x, "y": y, "layers": layers}


def _load(model: TorchMLP, layers: list[dict[str, Any]]) -> None:
    with torch.no_grad():
        for k, layer in enumerate(layers):
            model.linears[k].weight.copy_(torch.tensor(layer["W"].T))
            model.linears[k].bias.copy_(torch.tensor(layer["b"]))
            if "gamma" in layer:
                model.norms[k].weight.copy_(torch.tensor(layer["gamma"]))
                model.norms[k].bias.copy_(torch.tensor(layer["beta"]))


def _snapshot(model: TorchMLP, grads: bool) -> list[dict[str, Any]]:
    out = []
    for k, lin in enumerate(model.linears):
        src = (lambda p: p.grad) if grads else (lambda p: p.detach())
        entry = {"W": src(lin.weight).numpy().T.tolist(), "b": src(lin.bias).numpy().tolist()}
        if k < len(model.norms):
            norm = model.norms[k]
            entry["gamma"] = src(norm.weight).numpy().tolist()
            entry["beta"] = src(norm.bias).numpy().tolist()
            if not grads and isinstance(norm, torch.nn.BatchNorm1d):
                entry["running_mean"] = norm.running_mean.numpy().tolist()
                entry["running_var"] = norm.running_var.numpy().tolist()
        out.append(entry)
    return out


def _optimizer(case: dict[str, Any], params: Any) -> torch.optim.Optimizer:
    hp = dict(case["optimizer"])
    name = hp.pop("name")
    if "betas" in hp:
        hp["betas"] = tuple(hp["betas"])
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop}[name]
    return cls(params, **hp)


def run_case(case: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    torch.manual_seed(0)
    model = TorchMLP(case)
    _load(model, inputs["layers"])
    opt = _optimizer(case, model.parameters())
    x = torch.tensor(inputs["x"])
    if case["task"] == "multiclass":
        y = torch.tensor(inputs["y"], dtype=torch.long)
        loss_fn: Any = torch.nn.CrossEntropyLoss()
    elif case["task"] == "binary":
        y = torch.tensor(inputs["y"])
        loss_fn = torch.nn.BCEWithLogitsLoss()
    else:
        y = torch.tensor(inputs["y"])
        loss_fn = torch.nn.MSELoss()
    steps = []
    model.train()
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        grads = _snapshot(model, grads=True)
        opt.step()
        steps.append({"loss": loss.item(), "grads": grads, "params": _snapshot(model, False)})
    model.eval()
    with torch.no_grad():
        eval_out = model(x).numpy().tolist()
    return {"steps": steps, "eval_output": eval_out}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return obj


def generate() -> dict[str, Any]:
    rng = np.random.default_rng(20261122)
    cases = []
    for case in CASES:
        inputs = make_inputs(case, rng)
        result = run_case(case, inputs)
        cases.append({"case": case, "inputs": _jsonable(inputs), **result})
    return {"torch_version": torch.__version__, "steps": STEPS, "cases": cases}


if __name__ == "__main__":
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate(), indent=1))
    print(f"wrote {FIXTURE}")
