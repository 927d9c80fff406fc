"""Golden values for torch.nn.utils.clip_grad_norm_ and clip_grad_value_ (gradient clipping).

Run ``python -m scripts.golden.clipping`` to (re)write ``tests/fixtures/golden_clipping.json``.
Each case holds a flat float64 gradient vector, the parameter shapes torch sees (the vector is
split into several tensors, so the "total norm over all parameters" semantics are exercised), the
clipping settings, and torch's results. An infinite ``norm_type`` is stored as the string "inf".
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_clipping.json"

NORM_TYPES: tuple[float, ...] = (2.0, 1.0, math.inf, 3.0, 7.5)
MAX_NORMS: tuple[float, ...] = (0.5, 1.0, 10.0, 1000.0)
CLIP_VALUES: tuple[float, ...] = (0.01, 0.5, 1.0, 5.0)
SHAPE_SETS: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((7,),),
    ((3, 4), (4,), (4, 2), (2,)),
    ((6, 8), (8,), (8, 1), (1,)),
    ((1,),),
)


def _params(flat: np.ndarray, shapes: list[list[int]]) -> list[Any]:
    """Split ``flat`` into torch parameters of the given shapes whose ``.grad`` is the slice."""
    import torch

    params = []
    offset = 0
    for shape in shapes:
        size = int(np.prod(shape))
        p = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(flat[offset : offset + size].reshape(shape), dtype=torch.float64)
        params.append(p)
        offset += size
    assert offset == flat.size
    return params


def _flat_grads(params: list[Any]) -> list[float]:
    return [float(v) for p in params for v in p.grad.reshape(-1).tolist()]


def encode_norm_type(norm_type: float) -> float | str:
    return "inf" if math.isinf(norm_type) else norm_type


def decode_norm_type(value: float | str) -> float:
    return math.inf if value == "inf" else float(value)


def torch_clip_norm(
    flat: np.ndarray, shapes: list[list[int]], max_norm: float, norm_type: float
) -> tuple[float, list[float]]:
    """(total_norm, clipped flat grads) from ``torch.nn.utils.clip_grad_norm_``."""
    import torch

    params = _params(flat, shapes)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm=max_norm, norm_type=norm_type)
    return float(total), _flat_grads(params)


def torch_clip_value(flat: np.ndarray, shapes: list[list[int]], clip_value: float) -> list[float]:
    """Clipped flat grads from ``torch.nn.utils.clip_grad_value_``."""
    import torch

    params = _params(flat, shapes)
    torch.nn.utils.clip_grad_value_(params, clip_value=clip_value)
    return _flat_grads(params)


def random_case(rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
    """A random flat gradient (scale spanning 1e-4..1e2) and its parameter shapes."""
    shapes = [list(s) for s in SHAPE_SETS[int(rng.integers(len(SHAPE_SETS)))]]
    size = sum(int(np.prod(s)) for s in shapes)
    scale = 10.0 ** rng.uniform(-4.0, 2.0)
    return rng.standard_normal(size) * scale, shapes


def generate() -> dict[str, Any]:
    import torch

    rng = np.random.default_rng(20240611)
    norm_cases: list[dict[str, Any]] = []
    value_cases: list[dict[str, Any]] = []
    for i, shapes_t in enumerate(SHAPE_SETS):
        shapes = [list(s) for s in shapes_t]
        size = sum(int(np.prod(s)) for s in shapes)
        for scale in (1e-3, 1.0, 100.0):
            flat = rng.standard_normal(size) * scale
            for norm_type in NORM_TYPES:
                max_norm = MAX_NORMS[(i + len(norm_cases)) % len(MAX_NORMS)]
                total, clipped = torch_clip_norm(flat, shapes, max_norm, norm_type)
                norm_cases.append(
                    {
                        "grads": flat.tolist(),
                        "shapes": shapes,
                        "max_norm": max_norm,
                        "norm_type": encode_norm_type(norm_type),
                        "total_norm": total,
                        "clipped": clipped,
                    }
                )
            for clip_value in CLIP_VALUES:
                value_cases.append(
                    {
                        "grads": flat.tolist(),
                        "shapes": shapes,
                        "clip_value": clip_value,
                        "clipped": torch_clip_value(flat, shapes, clip_value),
                    }
                )
    # Edge cases: all-zero gradient; norm below max_norm (coef > 1: untouched); norm exactly
    # max_norm (coef = 1/(1 + 1e-6) < 1: torch still scales slightly).
    for grads in ([0.0] * 5, [0.3, -0.4], [0.6, -0.8]):
        flat = np.array(grads)
        total, clipped = torch_clip_norm(flat, [[flat.size]], 1.0, 2.0)
        norm_cases.append(
            {
                "grads": flat.tolist(),
                "shapes": [[flat.size]],
                "max_norm": 1.0,
                "norm_type": 2.0,
                "total_norm": total,
                "clipped": clipped,
            }
        )
    return {
        "torch_version": torch.__version__,
        "eps": 1e-6,
        "norm_cases": norm_cases,
        "value_cases": value_cases,
    }


def main() -> None:
    data = generate()
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(data) + "\n")
    print(
        f"wrote {FIXTURE} ({len(data['norm_cases'])} norm cases, "
        f"{len(data['value_cases'])} value cases, torch {data['torch_version']})"
    )


if __name__ == "__main__":
    main()
