"""Golden values for the backprop lab: one SGD step of each preset by torch autograd.

Run ``python -m scripts.golden.backprop`` to (re)write ``tests/fixtures/golden_backprop.json``.
For every preset of ``core.labs.backprop.BACKPROP_PRESETS`` (the notes' 2-2-1 sigmoid half-MSE
example and the 2-3-3 softmax + cross-entropy one): per layer z and a (forward), δ = ∂L/∂z
(``z.grad`` with ``retain_grad``), ∂L/∂W and ∂L/∂b (``.grad``), the loss, the weights after one
``torch.optim.SGD`` step, and the losses of ``TRAIN_STEPS`` further SGD steps. W is (in, out)
as in the notes (z = a @ W + b). half_mse is ``0.5 * F.mse_loss``; cross_entropy is
``F.cross_entropy`` on the logits (class ids from 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_backprop.json"
TRAIN_STEPS = 20


def _torch_fn(name: str | None) -> Any:
    import torch

    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "identity": lambda t: t,
    }[name]


def one_preset(preset: dict[str, Any]) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    torch.set_default_dtype(torch.float64)
    params = [
        (torch.tensor(lay["W"], requires_grad=True), torch.tensor(lay["b"], requires_grad=True))
        for lay in preset["layers"]
    ]
    x = torch.tensor(preset["x"])
    n = len(params)

    def loss_of(a: Any) -> Any:
        if preset["loss"] == "cross_entropy":
            return F.cross_entropy(a[None, :], torch.tensor(preset["y"], dtype=torch.long))
        if preset["loss"] == "half_mse":
            return 0.5 * F.mse_loss(a, torch.tensor(preset["y"]))
        raise ValueError(preset["loss"])

    def forward() -> tuple[list[Any], list[Any], Any]:
        zs, acts = [], []
        a = x
        for k, (W, b) in enumerate(params):
            z = a @ W + b
            z.retain_grad()
            name = (
                preset["output_activation"]
                if k == n - 1 and preset["output_activation"]
                else preset["activation"]
            )
            a = _torch_fn(name)(z)
            zs.append(z)
            acts.append(a)
        return zs, acts, loss_of(a)

    zs, acts, loss = forward()
    loss.backward()
    out: dict[str, Any] = {
        "forward": [{"z": z.tolist(), "a": a.tolist()} for z, a in zip(zs, acts, strict=True)],
        "loss": loss.item(),
        "backward": [
            {"delta": z.grad.tolist(), "dW": W.grad.tolist(), "db": b.grad.tolist()}
            for z, (W, b) in zip(zs, params, strict=True)
        ],
    }
    opt = torch.optim.SGD([p for pair in params for p in pair], lr=preset["lr"])
    opt.step()
    out["updated"] = [{"W": W.tolist(), "b": b.tolist()} for W, b in params]
    losses = [loss.item()]
    for _ in range(TRAIN_STEPS):
        opt.zero_grad()
        _, _, loss = forward()
        losses.append(loss.item())
        loss.backward()
        opt.step()
    out["train_losses"] = losses  # loss before update 1, 2, …, TRAIN_STEPS + 1
    out["train_params"] = [{"W": W.tolist(), "b": b.tolist()} for W, b in params]
    return out


def generate() -> dict[str, Any]:
    from core.labs.backprop import BACKPROP_PRESETS

    return {
        "train_steps": TRAIN_STEPS + 1,
        "presets": {
            name: {"config": preset, "torch": one_preset(preset)}
            for name, preset in BACKPROP_PRESETS.items()
        },
    }


def main() -> None:
    FIXTURE.write_text(json.dumps(generate(), indent=1) + "\n")


if __name__ == "__main__":
    main()
