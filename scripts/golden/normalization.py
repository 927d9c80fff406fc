"""Golden values for batch norm and layer norm inside a short mini-batch training run, from PyTorch.

Each case fixes the data (training rows in a fixed batch order, validation rows), the initial
parameters (our ``W (in, out)`` layout; torch gets the transpose), the batch-norm momentum and an
optimizer, and trains a ``torch.nn`` MLP (``Linear -> BatchNorm1d | LayerNorm -> activation``,
optional residual) one mini-batch at a time. After every step it records, from torch:

- the loss and every parameter after the update;
- per batch-norm layer: the batch mean and biased variance of the step's training pass (the
  norm's input, captured by a forward pre-hook), ``running_mean`` / ``running_var`` after the
  step, the mean absolute gaps between the two, and the folded inference affine taken from
  ``torch.nn.utils.fusion.fuse_linear_bn_eval`` applied to an identity ``Linear`` (its weight's
  diagonal is the scale, its bias the shift);
- on the validation rows: every layer's activation (hooks on the activation module; the logits
  last) in eval mode and in train mode, train mode on a deep copy so the running statistics of
  the run are not touched.

``tests/core/test_normalization_golden.py`` replays the same steps with the NumPy engine.

Run: ``python -m scripts.golden.normalization`` (writes tests/fixtures/golden_normalization.json).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

# the torch MLP, its parameter loading and JSON conversion are the model golden's
from scripts.golden.model import TorchMLP, _jsonable, _load

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_normalization.json"

CASES: list[dict[str, Any]] = [
    {
        "name": "batchnorm_tanh_sgd_ce",
        "input_dim": 3,
        "hidden": [5, 4],
        "output_dim": 3,
        "task": "multiclass",
        "activation": "tanh",
        "batch_norm": True,
        "layer_norm": False,
        "residual": False,
        "momentum": 0.1,
        "loss": "cross_entropy",
        "n_train": 24,
        "n_val": 7,
        "batch_size": 6,
        "steps": 10,
        "optimizer": {
            "name": "sgd",
            "lr": 0.2,
            "momentum": 0.9,
            "dampening": 0.0,
            "nesterov": False,
            "weight_decay": 0.0,
        },
    },
    # SGD, not Adam: the dense bias before batch norm has a gradient that is zero up to
    # rounding (batch norm removes the mean), and Adam's m / sqrt(v) would scale that noise up
    # to ~1e-8 of drift in the bias and the running mean, in torch and here alike.
    {
        "name": "batchnorm_relu_residual_nesterov_mse_momentum03_batch3",
        "input_dim": 4,
        "hidden": [4, 4],
        "output_dim": 2,
        "task": "regression",
        "activation": "relu",
        "batch_norm": True,
        "layer_norm": False,
        "residual": True,
        "momentum": 0.3,
        "loss": "mse",
        "n_train": 12,
        "n_val": 5,
        "batch_size": 3,
        "steps": 8,
        "optimizer": {
            "name": "sgd",
            "lr": 0.05,
            "momentum": 0.9,
            "dampening": 0.0,
            "nesterov": True,
            "weight_decay": 0.0,
        },
    },
    {
        "name": "layernorm_sigmoid_sgd_bce",
        "input_dim": 3,
        "hidden": [5, 4],
        "output_dim": 1,
        "task": "binary",
        "activation": "sigmoid",
        "batch_norm": False,
        "layer_norm": True,
        "residual": False,
        "momentum": 0.1,
        "loss": "bce_with_logits",
        "n_train": 20,
        "n_val": 6,
        "batch_size": 5,
        "steps": 8,
        "optimizer": {
            "name": "sgd",
            "lr": 0.5,
            "momentum": 0.0,
            "dampening": 0.0,
            "nesterov": False,
            "weight_decay": 0.0,
        },
    },
]

def make_inputs(case: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    d, k = case["input_dim"], case["output_dim"]
    x = rng.normal(loc=0.5, scale=2.0, size=(case["n_train"], d))  # not centred: stats move
    x_val = rng.normal(loc=0.5, scale=2.0, size=(case["n_val"], d))

    def targets(n: int) -> Any:
        if case["task"] == "binary":
            return (rng.random((n, 1)) > 0.5).astype(float)
        if case["task"] == "multiclass":
            return rng.integers(0, k, size=n)
        return rng.normal(size=(n, k))

    y, y_val = targets(len(x)), targets(len(x_val))
    dims = [d, *case["hidden"], k]
    layers = []
    for j, (i, o) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layer: dict[str, Any] = {
            "W": rng.normal(scale=1 / np.sqrt(i), size=(i, o)),
            "b": rng.normal(scale=0.1, size=o),
        }
        if j < len(case["hidden"]) and (case["batch_norm"] or case["layer_norm"]):
            layer["gamma"] = 1.0 + rng.normal(scale=0.1, size=o)
            layer["beta"] = rng.normal(scale=0.1, size=o)
        if j < len(case["hidden"]) and case["batch_norm"]:
            layer["running_mean"] = np.zeros(o)
            layer["running_var"] = np.ones(o)
        layers.append(layer)
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val, "layers": layers}


def batches(case: dict[str, Any]) -> list[tuple[int, int]]:
    """Row ranges of the training batches, step by step (fixed order, epochs repeat)."""
    n, bs = case["n_train"], case["batch_size"]
    starts = list(range(0, n, bs))
    return [
        (starts[t % len(starts)], min(starts[t % len(starts)] + bs, n))
        for t in range(case["steps"])
    ]


def _params(model: TorchMLP) -> list[dict[str, Any]]:
    out = []
    for k, lin in enumerate(model.linears):
        entry = {
            "W": lin.weight.detach().numpy().T.tolist(),
            "b": lin.bias.detach().numpy().tolist(),
        }
        if k < len(model.norms):
            norm = model.norms[k]
            entry["gamma"] = norm.weight.detach().numpy().tolist()
            entry["beta"] = norm.bias.detach().numpy().tolist()
            if isinstance(norm, torch.nn.BatchNorm1d):
                entry["running_mean"] = norm.running_mean.numpy().tolist()
                entry["running_var"] = norm.running_var.numpy().tolist()
        out.append(entry)
    return out


def _folded(bn: torch.nn.BatchNorm1d) -> dict[str, Any]:
    """torch's own fold of eval-mode batch norm into the linear layer before it."""
    width = bn.num_features
    identity = torch.nn.Linear(width, width).double().eval()
    with torch.no_grad():
        identity.weight.copy_(torch.eye(width, dtype=torch.float64))
        identity.bias.zero_()
    fused = torch.nn.utils.fusion.fuse_linear_bn_eval(identity, copy.deepcopy(bn).eval())
    return {
        "scale": torch.diagonal(fused.weight).detach().numpy().tolist(),
        "shift": fused.bias.detach().numpy().tolist(),
    }


def _activations(model: TorchMLP, x: torch.Tensor) -> list[list[Any]]:
    """Every hidden activation output (pre-residual) and the logits, for ``x``."""
    seen: list[torch.Tensor] = []
    handle = model.act.register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        handle.remove()
    return [a.numpy().tolist() for a in [*seen, out]]


def _loss_fn(case: dict[str, Any]) -> Any:
    return {
        "cross_entropy": torch.nn.CrossEntropyLoss,
        "mse": torch.nn.MSELoss,
        "bce_with_logits": torch.nn.BCEWithLogitsLoss,
    }[case["loss"]]()


def _optimizer(case: dict[str, Any], params: Any) -> torch.optim.Optimizer:
    hp = dict(case["optimizer"])
    name = hp.pop("name")
    return {"sgd": torch.optim.SGD}[name](params, **hp)


def run_case(case: dict[str, Any], inputs: dict[str, Any]) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    model = TorchMLP(case)
    _load(model, inputs["layers"])
    opt = _optimizer(case, model.parameters())
    loss_fn = _loss_fn(case)
    x_all = torch.tensor(inputs["x"])
    y_dtype = torch.long if case["task"] == "multiclass" else torch.float64
    y_all = torch.tensor(inputs["y"], dtype=y_dtype)
    x_val = torch.tensor(inputs["x_val"])
    batch_stats: list[dict[str, Any]] = []

    def capture(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if module.training:
            z = args[0].detach()
            batch_stats.append({"batch_mean": z.mean(0), "batch_var": z.var(0, unbiased=False)})

    hooks = [
        norm.register_forward_pre_hook(capture)
        for norm in model.norms
        if isinstance(norm, torch.nn.BatchNorm1d)
    ]
    steps = []
    for lo, hi in batches(case):
        model.train()
        batch_stats.clear()
        opt.zero_grad()
        loss = loss_fn(model(x_all[lo:hi]), y_all[lo:hi])
        loss.backward()
        opt.step()
        step: dict[str, Any] = {"batch": [lo, hi], "loss": loss.item(), "params": _params(model)}
        bn_layers = []
        for stats, norm in zip(
            batch_stats,
            [m for m in model.norms if isinstance(m, torch.nn.BatchNorm1d)],
            strict=True,
        ):
            mean, var = stats["batch_mean"], stats["batch_var"]
            bn_layers.append(
                {
                    "batch_mean": mean.numpy().tolist(),
                    "batch_var": var.numpy().tolist(),
                    "mean_gap": (mean - norm.running_mean).abs().mean().item(),
                    "var_gap": (var - norm.running_var).abs().mean().item(),
                    **_folded(norm),
                }
            )
        step["batch_norm"] = bn_layers
        for h in hooks:  # the look at the validation rows must not add batch statistics
            h.remove()
        model.eval()
        step["eval_activations"] = _activations(model, x_val)
        look = copy.deepcopy(model).train()  # train mode on a copy: running stats untouched
        step["train_activations"] = _activations(look, x_val)
        hooks = [
            norm.register_forward_pre_hook(capture)
            for norm in model.norms
            if isinstance(norm, torch.nn.BatchNorm1d)
        ]
        steps.append(step)
    for h in hooks:
        h.remove()
    return steps


def generate() -> dict[str, Any]:
    rng = np.random.default_rng(20261130)
    cases = []
    for case in CASES:
        inputs = make_inputs(case, rng)
        cases.append({"case": case, "inputs": _jsonable(inputs), "steps": run_case(case, inputs)})
    return {"torch_version": torch.__version__, "cases": cases}


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate(), indent=1))
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
