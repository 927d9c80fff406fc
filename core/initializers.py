"""Weight and bias initialisers (torch.nn.init semantics).

Each component's factory returns an :class:`Initializer`, called as
``init(shape, fan_in, fan_out, rng, nonlinearity_gain=1.0) -> ndarray`` (float64, ``shape``).
Dense weights have shape (fan_in, fan_out) in our convention (torch stores (out, in); fan_in is the
same number). A bias of shape (fan_out,) is drawn with its layer's fan_in (as torch.nn.Linear).
Only components with meta ``bias_ok=True`` are offered for biases.

``nonlinearity_gain`` is the gain of the layer's activation (``core.activations.activation_gain``);
only kaiming uses it (torch's ``calculate_gain(nonlinearity)``). Xavier uses its explicit ``gain``
parameter, as torch does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError
from core.registry import Param, Registry

FloatArray = NDArray[np.float64]

# draw(shape, fan_in, fan_out, rng, nonlinearity_gain) -> array of that shape
_Draw = Callable[[tuple[int, ...], int, int, np.random.Generator, float], FloatArray]


class Initializer:
    """A configured initialiser: ``init(shape, fan_in, fan_out, rng, nonlinearity_gain)``.

    ``expected_std(fan_in, fan_out, nonlinearity_gain)`` is the standard deviation the
    distribution has by formula (0 for constants), used by tests and by the UI.
    """

    def __init__(
        self,
        name: str,
        params: dict[str, Any],
        draw: _Draw,
        std: Callable[[int, int, float], float],
    ) -> None:
        self.name = name
        self.params = dict(params)
        self._draw = draw
        self._std = std

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Initializer({self.name!r}{', ' if args else ''}{args})"

    def __call__(
        self,
        shape: tuple[int, ...],
        fan_in: int,
        fan_out: int,
        rng: np.random.Generator,
        nonlinearity_gain: float = 1.0,
    ) -> FloatArray:
        _check_fans(fan_in, fan_out)
        out = self._draw(tuple(shape), fan_in, fan_out, rng, float(nonlinearity_gain))
        return np.asarray(out, dtype=np.float64)

    def expected_std(self, fan_in: int, fan_out: int, nonlinearity_gain: float = 1.0) -> float:
        _check_fans(fan_in, fan_out)
        return self._std(fan_in, fan_out, float(nonlinearity_gain))


def _check_fans(fan_in: int, fan_out: int) -> None:
    if fan_in < 1:
        raise ConfigError("fan_in", f"must be an integer >= 1, got {fan_in!r}")
    if fan_out < 1:
        raise ConfigError("fan_out", f"must be an integer >= 1, got {fan_out!r}")


INITIALIZERS: Registry[Initializer] = Registry("initializer")

_SQRT3 = math.sqrt(3.0)


def _const(value: float) -> _Draw:
    return lambda shape, fi, fo, rng, g: np.full(shape, value, dtype=np.float64)


def _uniform_bound(bound: Callable[[int, int, float], float]) -> _Draw:
    def draw(
        shape: tuple[int, ...], fi: int, fo: int, rng: np.random.Generator, g: float
    ) -> FloatArray:
        b = bound(fi, fo, g)
        return rng.uniform(-b, b, size=shape)

    return draw


def _normal_std(std: Callable[[int, int, float], float]) -> _Draw:
    def draw(
        shape: tuple[int, ...], fi: int, fo: int, rng: np.random.Generator, g: float
    ) -> FloatArray:
        return rng.normal(0.0, std(fi, fo, g), size=shape)

    return draw


def _zero_std(fi: int, fo: int, g: float) -> float:
    return 0.0


@INITIALIZERS.register(
    "zeros",
    label="Zeros",
    formula="w = 0",
    description="All zeros. For weights this makes every unit of a layer identical (symmetry).",
    bias_ok=True,
    torch="torch.nn.init.zeros_(w)",
)
def zeros() -> Initializer:
    return Initializer("zeros", {}, _const(0.0), _zero_std)


@INITIALIZERS.register(
    "ones",
    label="Ones",
    formula="w = 1",
    bias_ok=True,
    torch="torch.nn.init.ones_(w)",
)
def ones() -> Initializer:
    return Initializer("ones", {}, _const(1.0), _zero_std)


@INITIALIZERS.register(
    "constant",
    label="Constant",
    formula="w = value",
    params=[Param("value", "float", 0.0, min=-100.0, max=100.0, help="the constant")],
    bias_ok=True,
    torch="torch.nn.init.constant_(w, val)",
)
def constant(value: float = 0.0) -> Initializer:
    return Initializer("constant", {"value": value}, _const(float(value)), _zero_std)


def _check_uniform(p: dict[str, Any]) -> None:
    if not p["b"] > p["a"]:
        raise ConfigError("b", f"must be greater than a = {p['a']}, got {p['b']}")


@INITIALIZERS.register(
    "uniform",
    label="Uniform U(a, b)",
    formula="w ~ U(a, b),  std = (b − a)/√12",
    params=[
        Param("a", "float", 0.0, min=-100.0, max=100.0, help="lower bound"),
        Param("b", "float", 1.0, min=-100.0, max=100.0, help="upper bound (> a)"),
    ],
    check=_check_uniform,
    bias_ok=True,
    torch="torch.nn.init.uniform_(w, a=0.0, b=1.0)",
)
def uniform(a: float = 0.0, b: float = 1.0) -> Initializer:
    if not b > a:
        raise ConfigError("b", f"must be greater than a = {a}, got {b}")

    def draw(
        shape: tuple[int, ...], fi: int, fo: int, rng: np.random.Generator, g: float
    ) -> FloatArray:
        return rng.uniform(a, b, size=shape)

    return Initializer("uniform", {"a": a, "b": b}, draw, lambda fi, fo, g: (b - a) / math.sqrt(12))


@INITIALIZERS.register(
    "normal",
    label="Normal N(mean, std²)",
    formula="w ~ N(mean, std²)  (the notes' N(0, 1) with the defaults)",
    params=[
        Param("mean", "float", 0.0, min=-100.0, max=100.0, help="mean"),
        Param("std", "float", 1.0, min=0.0, max=100.0, help="standard deviation"),
    ],
    bias_ok=True,
    torch="torch.nn.init.normal_(w, mean=0.0, std=1.0)",
)
def normal(mean: float = 0.0, std: float = 1.0) -> Initializer:
    def draw(
        shape: tuple[int, ...], fi: int, fo: int, rng: np.random.Generator, g: float
    ) -> FloatArray:
        return rng.normal(mean, std, size=shape)

    return Initializer("normal", {"mean": mean, "std": std}, draw, lambda fi, fo, g: std)


def _default_bound(fi: int, fo: int, g: float) -> float:
    return 1.0 / math.sqrt(fi)


@INITIALIZERS.register(
    "default",
    label="PyTorch Linear default",
    formula="w ~ U(−1/√fan_in, 1/√fan_in)  (kaiming_uniform with a = √5),  std = 1/√(3·fan_in)",
    description="What torch.nn.Linear does for its weight and its bias.",
    bias_ok=True,
    torch="torch.nn.Linear.reset_parameters()",
)
def default() -> Initializer:
    return Initializer(
        "default",
        {},
        _uniform_bound(_default_bound),
        lambda fi, fo, g: _default_bound(fi, fo, g) / _SQRT3,
    )


_GAIN = Param("gain", "float", 1.0, min=0.0, exclusive_min=True, max=10.0, help="gain")


@INITIALIZERS.register(
    "xavier_uniform",
    label="Xavier/Glorot uniform",
    formula="w ~ U(−b, b),  b = gain·√(6 / (fan_in + fan_out))",
    params=[_GAIN],
    description="Keeps activation and gradient variance balanced for tanh/linear layers.",
    bias_ok=False,
    torch="torch.nn.init.xavier_uniform_(w, gain=1.0)",
)
def xavier_uniform(gain: float = 1.0) -> Initializer:
    def bound(fi: int, fo: int, g: float) -> float:
        return gain * math.sqrt(6.0 / (fi + fo))

    def std(fi: int, fo: int, g: float) -> float:
        return bound(fi, fo, g) / _SQRT3

    return Initializer("xavier_uniform", {"gain": gain}, _uniform_bound(bound), std)


@INITIALIZERS.register(
    "xavier_normal",
    label="Xavier/Glorot normal",
    formula="w ~ N(0, std²),  std = gain·√(2 / (fan_in + fan_out))",
    params=[_GAIN],
    bias_ok=False,
    torch="torch.nn.init.xavier_normal_(w, gain=1.0)",
)
def xavier_normal(gain: float = 1.0) -> Initializer:
    def std(fi: int, fo: int, g: float) -> float:
        return gain * math.sqrt(2.0 / (fi + fo))

    return Initializer("xavier_normal", {"gain": gain}, _normal_std(std), std)


_MODE = Param(
    "mode",
    "choice",
    "fan_in",
    choices=("fan_in", "fan_out"),
    help="fan_in preserves forward variance, fan_out backward variance",
)


def _kaiming_std(mode: str) -> Callable[[int, int, float], float]:
    def std(fi: int, fo: int, g: float) -> float:
        return g / math.sqrt(fi if mode == "fan_in" else fo)

    return std


@INITIALIZERS.register(
    "kaiming_uniform",
    label="Kaiming/He uniform",
    formula=(
        "w ~ U(−b, b),  b = gain·√(3 / fan),  fan = fan_in or fan_out (mode);  gain from the "
        "activation: relu √2, leaky_relu √(2/(1+s²)), tanh 5/3, sigmoid/identity 1, "
        "elu/softplus/gelu/silu √2 (our choice; torch has none)"
    ),
    params=[_MODE],
    bias_ok=False,
    torch="torch.nn.init.kaiming_uniform_(w, mode='fan_in', nonlinearity=...)",
)
def kaiming_uniform(mode: str = "fan_in") -> Initializer:
    std = _kaiming_std(mode)
    return Initializer(
        "kaiming_uniform",
        {"mode": mode},
        _uniform_bound(lambda fi, fo, g: _SQRT3 * std(fi, fo, g)),
        std,
    )


@INITIALIZERS.register(
    "kaiming_normal",
    label="Kaiming/He normal",
    formula=(
        "w ~ N(0, std²),  std = gain / √fan,  fan = fan_in or fan_out (mode);  gain from the "
        "activation: relu √2, leaky_relu √(2/(1+s²)), tanh 5/3, sigmoid/identity 1, "
        "elu/softplus/gelu/silu √2 (our choice; torch has none)"
    ),
    params=[_MODE],
    bias_ok=False,
    torch="torch.nn.init.kaiming_normal_(w, mode='fan_in', nonlinearity=...)",
)
def kaiming_normal(mode: str = "fan_in") -> Initializer:
    std = _kaiming_std(mode)
    return Initializer("kaiming_normal", {"mode": mode}, _normal_std(std), std)
