"""Golden values for activations (torch.nn.*), their autograd derivatives, softmax and gains.

Run ``python -m scripts.golden.activations`` to (re)write
``tests/fixtures/golden_activations.json``.
``generate(seed)`` is also called by the live ``@pytest.mark.torch`` tests with fresh seeds.
Derivatives are ``z.grad`` after ``f(z).sum().backward()``, i.e. what torch uses at kinks too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "golden_activations.json"

# (our registry name, params); the torch module is built from the same params.
CONFIGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("identity", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("relu", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 10.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
)

# Fixed points: kinks, softplus thresholds (β·z = threshold exactly and just above), tails.
FIXED_Z: tuple[float, ...] = (
    -1000.0, -50.0, -40.0, -20.5, -10.0, -5.0, -1.0, -0.5, -1e-3, -1e-9, 0.0,
    1e-9, 1e-3, 0.5, 1.0, 2.0, 5.0, 5.000001, 10.0, 20.0, 20.000001, 50.0, 1000.0,
)  # fmt: skip

GAIN_CASES: tuple[tuple[str, float | None], ...] = (
    ("linear", None),
    ("conv2d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 1.0),
    ("selu", None),
)


def torch_module(name: str, params: dict[str, Any]) -> Any:
    import torch

    factories = {
        "identity": torch.nn.Identity,
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "leaky_relu": torch.nn.LeakyReLU,
        "elu": torch.nn.ELU,
        "softplus": torch.nn.Softplus,
        "gelu": torch.nn.GELU,
        "silu": torch.nn.SiLU,
    }
    return factories[name](**params)


def _value_and_derivative(name: str, params: dict[str, Any], z: list[float]) -> tuple[list, list]:
    import torch

    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    y = torch_module(name, params)(zt)
    y.sum().backward()
    return y.detach().tolist(), zt.grad.tolist()


def generate(seed: int = 0, n_random: int = 64) -> dict[str, Any]:
    """Torch's values for ``CONFIGS`` on ``FIXED_Z`` plus ``n_random`` N(0, 4²) points."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    rand = (torch.randn(n_random, generator=gen, dtype=torch.float64) * 4.0).tolist()
    z = [*FIXED_Z, *rand]
    cases = []
    for name, params in CONFIGS:
        value, derivative = _value_and_derivative(name, params, z)
        cases.append({"name": name, "params": params, "value": value, "derivative": derivative})

    logits = torch.randn(5, 4, generator=gen, dtype=torch.float64) * 3.0
    logits[0] = torch.tensor([1000.0, -1000.0, 0.0, 999.0], dtype=torch.float64)
    logits[1] = torch.tensor([-1000.0, -1000.0, -1000.0, -1000.0], dtype=torch.float64)
    softmax = {
        "z": logits.tolist(),
        "softmax": torch.softmax(logits, dim=-1).tolist(),
        "log_softmax": torch.log_softmax(logits, dim=-1).tolist(),
    }
    gains = [
        {
            "nonlinearity": nl,
            "param": p,
            "gain": float(torch.nn.init.calculate_gain(nl, p)),  # type: ignore[arg-type]
        }
        for nl, p in GAIN_CASES
    ]
    return {
        "torch_version": torch.__version__,
        "seed": seed,
        "z": z,
        "cases": cases,
        "softmax": softmax,
        "gains": gains,
    }


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
