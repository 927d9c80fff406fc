"""Golden values for the losses: torch's mean loss and its autograd gradient w.r.t. the output.

Run ``python -m scripts.golden.losses`` to (re)write ``tests/fixtures/golden_losses.json``.
``generate(seed)`` is also called by the live ``@pytest.mark.torch`` tests with fresh seeds.
Each case: ``loss`` and ``params`` (our registry name and params), ``out``, ``target``, torch's
``value`` and ``grad`` (= d value / d out). Cases include kinks (out == target for L1) and exact
SmoothL1/Huber boundaries (|out − target| == beta/delta), and huge logits (±50, ±1000).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_losses.json"

REGRESSION: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mse", {}),
    ("half_mse", {}),
    ("mae", {}),
    ("smooth_l1", {}),
    ("smooth_l1", {"beta": 0.5}),
    ("smooth_l1", {"beta": 0.0}),
    ("huber", {}),
    ("huber", {"delta": 2.5}),
    ("huber", {"delta": 0.5}),
)

# Differences 0 (L1 kink), ±0.5, ±1, ±2.5 (SmoothL1/Huber boundaries for the params above).
KINK_OUT = [[0.0, 1.0, -1.0], [2.5, 0.5, 3.0], [-0.25, 0.25, 7.0]]
KINK_TARGET = [[0.0, 0.0, 0.0], [0.0, -0.5, 3.0], [0.25, -0.25, 4.5]]


def torch_loss(name: str, params: dict[str, Any], out: Any, target: Any) -> Any:
    import torch.nn.functional as F

    if name == "mse":
        return F.mse_loss(out, target)
    if name == "half_mse":
        return 0.5 * F.mse_loss(out, target)
    if name == "mae":
        return F.l1_loss(out, target)
    if name == "smooth_l1":
        return F.smooth_l1_loss(out, target, beta=params.get("beta", 1.0))
    if name == "huber":
        return F.huber_loss(out, target, delta=params.get("delta", 1.0))
    if name == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(out, target)
    if name == "cross_entropy":
        return F.cross_entropy(out, target)
    raise KeyError(name)


def _case(name: str, params: dict[str, Any], out: Any, target: Any) -> dict[str, Any]:
    import torch

    o = out.detach().clone().to(torch.float64).requires_grad_(True)
    val = torch_loss(name, params, o, target)
    val.backward()
    return {
        "loss": name,
        "params": params,
        "out": o.detach().tolist(),
        "target": target.tolist(),
        "value": float(val.item()),
        "grad": o.grad.tolist(),
    }


def generate(seed: int = 0) -> dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    f64 = torch.float64

    def randn(*shape: int, scale: float = 1.0) -> Any:
        return torch.randn(*shape, generator=gen, dtype=f64) * scale

    cases = []
    for name, params in REGRESSION:
        out, target = randn(6, 3, scale=2.0), randn(6, 3, scale=2.0)
        cases.append(_case(name, params, out, target))
        cases.append(_case(name, params, randn(5, 1), randn(5, 1)))  # single output
        one = torch.ones(1, 1, dtype=f64)
        cases.append(_case(name, params, torch.tensor([[0.8]], dtype=f64), one))  # the notes' case
        kink_out = torch.tensor(KINK_OUT, dtype=f64)
        cases.append(_case(name, params, kink_out, torch.tensor(KINK_TARGET, dtype=f64)))

    # binary: logits (n, 1), float targets in [0, 1] (0/1 labels and soft labels)
    logits = randn(8, 1, scale=3.0)
    labels = (torch.rand(8, 1, generator=gen, dtype=f64) < 0.5).to(f64)
    cases.append(_case("bce_with_logits", {}, logits, labels))
    soft = torch.rand(8, 1, generator=gen, dtype=f64)
    cases.append(_case("bce_with_logits", {}, logits, soft))
    huge = torch.tensor([[50.0], [-50.0], [1e3], [-1e3], [1e3], [-1e3], [0.0]], dtype=f64)
    huge_t = torch.tensor([[1.0], [1.0], [0.0], [1.0], [1.0], [0.0], [0.3]], dtype=f64)
    cases.append(_case("bce_with_logits", {}, huge, huge_t))

    # multiclass: logits (n, K), int64 class ids
    k = 4
    cases.append(
        _case("cross_entropy", {}, randn(7, k, scale=2.0), torch.randint(0, k, (7,), generator=gen))
    )
    cases.append(_case("cross_entropy", {}, randn(3, 2), torch.randint(0, 2, (3,), generator=gen)))
    huge_ce = torch.tensor(
        [[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 50.0], [50.0, 50.0, -50.0], [0.0, 0.0, 0.0]],
        dtype=f64,
    )
    cases.append(_case("cross_entropy", {}, huge_ce, torch.tensor([1, 1, 0, 2])))
    return {"torch_version": torch.__version__, "seed": seed, "cases": cases}


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
