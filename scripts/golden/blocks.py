"""Golden values for the building blocks lab, from PyTorch.

Run ``python -m scripts.golden.blocks`` to (re)write ``tests/fixtures/golden_blocks.json``:

* ``loss_curves``: elementwise losses (``reduction="none"``) and their autograd derivatives on
  grids — MSELoss, L1Loss, SmoothL1Loss(beta), HuberLoss(delta) vs the residual ŷ − y (kinks
  and β/δ boundaries included); BCELoss vs p (d/dp), CrossEntropyLoss on logits
  [ln p, ln(1 − p)] for class 0 (d/dp through the logits).
* ``softmax``: ``torch.softmax(logits / T)``, ``cross_entropy`` and d/dlogits.
* ``conv_sizes`` / ``pool_sizes``: output width of ``F.conv2d`` and ``F.max_pool2d`` (with
  ``ceil_mode``) over a grid of W, F, P, S, D; ``null`` where torch raises.
* ``param_counts``: ``sum(p.numel())`` of ``nn.Sequential`` MLPs and conv stacks.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_blocks.json"

RESIDUAL_LOSSES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mse", {}),
    ("mae", {}),
    ("smooth_l1", {}),
    ("smooth_l1", {"beta": 0.5}),
    ("smooth_l1", {"beta": 0.0}),
    ("huber", {}),
    ("huber", {"delta": 2.0}),
)
# -3 … 3 in steps of 0.25: hits 0 (L1 kink) and ±0.5, ±1, ±2 (β/δ boundaries) exactly
RESIDUALS = [i / 4 for i in range(-12, 13)]
PROBS = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
BCE_TARGETS = [0.0, 0.3, 1.0]

SOFTMAX_CASES: tuple[tuple[list[float], float, int], ...] = (
    ([2.0, 1.0, 0.1], 1.0, 0),
    ([2.0, 1.0, 0.1], 0.5, 2),
    ([2.0, 1.0, 0.1], 5.0, 1),
    ([1000.0, 999.0, 998.0], 1.0, 0),
    ([-1000.0, 1000.0, 0.0, 50.0], 2.0, 3),
)

# conv/pool grid: W 1..9, F 1..4, P 0..2, S 1..3, D 1..2
GRID = list(itertools.product(range(1, 10), range(1, 5), range(3), range(1, 4), range(1, 3)))

MLPS: tuple[tuple[list[int], bool], ...] = (
    ([2, 8, 8, 1], True),
    ([784, 128, 64, 10], True),
    ([784, 128, 64, 10], False),
    ([3, 1], True),
)
# (input_size, in_channels, [(out, kernel, stride, padding)], classes, bias)
CONVS: tuple[tuple[int, int, list[tuple[int, int, int, int]], int, bool], ...] = (
    (28, 1, [(8, 3, 1, 1), (16, 3, 2, 1)], 10, True),
    (32, 3, [(16, 5, 1, 0), (32, 3, 2, 0), (64, 3, 1, 1)], 10, True),
    (5, 1, [(1, 3, 2, 0)], 2, False),
)


def torch_loss(name: str, params: dict[str, Any], out: Any, target: Any) -> Any:
    import torch.nn as nn

    if name == "mse":
        return nn.MSELoss(reduction="none")(out, target)
    if name == "mae":
        return nn.L1Loss(reduction="none")(out, target)
    if name == "smooth_l1":
        return nn.SmoothL1Loss(reduction="none", **params)(out, target)
    if name == "huber":
        return nn.HuberLoss(reduction="none", **params)(out, target)
    raise KeyError(name)


def loss_cases() -> list[dict[str, Any]]:
    import torch

    f64 = torch.float64
    cases = []
    for name, params in RESIDUAL_LOSSES:
        out = torch.tensor(RESIDUALS, dtype=f64, requires_grad=True)
        value = torch_loss(name, params, out, torch.zeros_like(out))
        value.sum().backward()  # elementwise: d(sum)/d(out_i) = dl_i/d(out_i)
        cases.append(
            {
                "name": name,
                "params": params,
                "x": RESIDUALS,
                "value": value.tolist(),
                "derivative": out.grad.tolist(),
            }
        )
    for y in BCE_TARGETS:
        p = torch.tensor(PROBS, dtype=f64, requires_grad=True)
        value = torch.nn.BCELoss(reduction="none")(p, torch.full_like(p, y))
        value.sum().backward()
        cases.append(
            {
                "name": "bce",
                "params": {},
                "target": y,
                "x": PROBS,
                "value": value.tolist(),
                "derivative": p.grad.tolist(),
            }
        )
    p = torch.tensor(PROBS, dtype=f64, requires_grad=True)
    logits = torch.stack([torch.log(p), torch.log1p(-p)], dim=1)
    value = torch.nn.CrossEntropyLoss(reduction="none")(
        logits, torch.zeros(len(PROBS), dtype=torch.long)
    )
    value.sum().backward()
    cases.append(
        {
            "name": "cross_entropy",
            "params": {},
            "x": PROBS,
            "value": value.tolist(),
            "derivative": p.grad.tolist(),
        }
    )
    return cases


def softmax_cases() -> list[dict[str, Any]]:
    import torch

    cases = []
    for logits, t, y in SOFTMAX_CASES:
        z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        probs = torch.softmax(z / t, dim=0)
        ce = torch.nn.functional.cross_entropy((z / t)[None], torch.tensor([y]))
        ce.backward()
        cases.append(
            {
                "logits": logits,
                "temperature": t,
                "target": y,
                "probabilities": probs.tolist(),
                "cross_entropy": float(ce.item()),
                "gradient_logits": z.grad.tolist(),
            }
        )
    return cases


def size_cases() -> tuple[list[list[Any]], list[list[Any]]]:
    import torch
    import torch.nn.functional as F

    conv, pool = [], []
    for w, f, p, s, d in GRID:
        x = torch.zeros(1, 1, w, w)
        try:
            out = F.conv2d(x, torch.zeros(1, 1, f, f), padding=p, stride=s, dilation=d)
            conv.append([w, f, p, s, d, int(out.shape[-1])])
        except RuntimeError:
            conv.append([w, f, p, s, d, None])
        for ceil in (False, True):
            try:
                out = F.max_pool2d(x, f, stride=s, padding=p, dilation=d, ceil_mode=ceil)
                pool.append([w, f, p, s, d, ceil, int(out.shape[-1])])
            except RuntimeError:
                pool.append([w, f, p, s, d, ceil, None])
    return conv, pool


def count_cases() -> list[dict[str, Any]]:
    import torch.nn as nn

    def numel(model: nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    cases: list[dict[str, Any]] = []
    for sizes, bias in MLPS:
        mods = [nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        cases.append(
            {"kind": "mlp", "sizes": sizes, "bias": bias, "total": numel(nn.Sequential(*mods))}
        )
    import torch

    for size, c_in, layers, classes, bias in CONVS:
        mods: list[nn.Module] = []
        c = c_in
        for out, k, s, p in layers:
            mods.append(nn.Conv2d(c, out, k, stride=s, padding=p, bias=bias))
            c = out
        body = nn.Sequential(*mods, nn.Flatten())
        flat = body(torch.zeros(1, c_in, size, size)).shape[1]
        model = nn.Sequential(body, nn.Linear(flat, classes, bias=bias))
        cases.append(
            {
                "kind": "conv",
                "input_size": size,
                "in_channels": c_in,
                "classes": classes,
                "bias": bias,
                "layers": [
                    {"out_channels": o, "kernel_size": k, "stride": s, "padding": p}
                    for o, k, s, p in layers
                ],
                "total": numel(model),
            }
        )
    return cases


def generate() -> dict[str, Any]:
    import torch

    conv, pool = size_cases()
    return {
        "torch_version": torch.__version__,
        "loss_curves": loss_cases(),
        "softmax": softmax_cases(),
        "conv_sizes": conv,
        "pool_sizes": pool,
        "param_counts": count_cases(),
    }


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate()) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
