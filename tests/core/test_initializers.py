"""Initialisers: large-sample statistics vs the formulas, vs torch.nn.init, determinism."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from core.activations import ACTIVATIONS, activation_gain
from core.errors import ConfigError
from core.initializers import INITIALIZERS

FAN_IN, FAN_OUT = 400, 300  # weight shape (fan_in, fan_out): 120,000 samples
SHAPE = (FAN_IN, FAN_OUT)
STD_RTOL = 0.02  # the sample std of 120k draws is within ~0.2-0.3% (1 sigma) of the true std

UNIFORM_KINDS = ["default", "xavier_uniform", "kaiming_uniform"]
NORMAL_KINDS = ["xavier_normal", "kaiming_normal"]


def _expected_std(name: str, params: dict[str, Any], gain: float) -> float:
    """The formulas, written out independently of the module."""
    if name == "default":
        return 1.0 / math.sqrt(3.0 * FAN_IN)
    if name.startswith("xavier"):
        return params.get("gain", 1.0) * math.sqrt(2.0 / (FAN_IN + FAN_OUT))
    fan = FAN_IN if params.get("mode", "fan_in") == "fan_in" else FAN_OUT
    return gain / math.sqrt(fan)


CASES: list[tuple[str, dict[str, Any], float]] = [
    ("default", {}, 1.0),
    ("xavier_uniform", {}, 1.0),
    ("xavier_uniform", {"gain": 5.0 / 3.0}, 1.0),
    ("xavier_normal", {"gain": 2.0}, 1.0),
    ("kaiming_uniform", {}, math.sqrt(2.0)),
    ("kaiming_uniform", {"mode": "fan_out"}, 5.0 / 3.0),
    ("kaiming_normal", {}, math.sqrt(2.0)),
    ("kaiming_normal", {"mode": "fan_out"}, 1.0),
]


@pytest.mark.parametrize(("name", "params", "gain"), CASES)
def test_sample_statistics_match_formula(name: str, params: dict[str, Any], gain: float) -> None:
    init = INITIALIZERS.create(name, params)
    w = init(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(0), nonlinearity_gain=gain)
    std = _expected_std(name, params, gain)
    assert w.shape == SHAPE and w.dtype == np.float64
    assert init.expected_std(FAN_IN, FAN_OUT, gain) == pytest.approx(std, rel=1e-14)
    assert np.std(w) == pytest.approx(std, rel=STD_RTOL)
    assert abs(np.mean(w)) < 5.0 * std / math.sqrt(w.size)
    if name in UNIFORM_KINDS:
        bound = math.sqrt(3.0) * std
        assert np.max(np.abs(w)) <= bound
        assert np.max(np.abs(w)) > 0.999 * bound
    else:  # normal: ~68.3% within one std
        assert np.mean(np.abs(w) < std) == pytest.approx(0.6827, abs=0.01)


def test_xavier_ignores_the_activation_gain() -> None:
    init = INITIALIZERS.create("xavier_uniform")
    a = init(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(1), nonlinearity_gain=1.0)
    b = init(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(1), nonlinearity_gain=3.0)
    np.testing.assert_array_equal(a, b)


def test_kaiming_uses_the_activation_gain() -> None:
    init = INITIALIZERS.create("kaiming_normal")
    relu = activation_gain(ACTIVATIONS.create("relu"))
    a = init(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(1), nonlinearity_gain=1.0)
    b = init(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(1), nonlinearity_gain=relu)
    np.testing.assert_allclose(b, relu * a, rtol=1e-15)


def test_constants_and_simple_distributions() -> None:
    rng = np.random.default_rng(2)
    assert np.all(INITIALIZERS.create("zeros")(SHAPE, FAN_IN, FAN_OUT, rng) == 0.0)
    assert np.all(INITIALIZERS.create("ones")((5,), FAN_IN, 5, rng) == 1.0)
    const = INITIALIZERS.create("constant", {"value": -0.25})
    assert np.all(const((3, 2), 3, 2, rng) == -0.25)
    assert const.expected_std(3, 2) == 0.0

    u = INITIALIZERS.create("uniform", {"a": -2.0, "b": 3.0})(SHAPE, FAN_IN, FAN_OUT, rng)
    assert u.min() >= -2.0 and u.max() < 3.0 and u.min() < -1.99 and u.max() > 2.99
    assert np.mean(u) == pytest.approx(0.5, abs=0.02)
    assert np.std(u) == pytest.approx(5.0 / math.sqrt(12.0), rel=STD_RTOL)
    u01 = INITIALIZERS.create("uniform")(SHAPE, FAN_IN, FAN_OUT, rng)  # torch default U(0, 1)
    assert u01.min() >= 0.0 and u01.max() < 1.0

    n = INITIALIZERS.create("normal")(SHAPE, FAN_IN, FAN_OUT, rng)  # N(0, 1)
    assert np.std(n) == pytest.approx(1.0, rel=STD_RTOL) and abs(np.mean(n)) < 0.02
    n2 = INITIALIZERS.create("normal", {"mean": 3.0, "std": 0.5})(SHAPE, FAN_IN, FAN_OUT, rng)
    assert np.mean(n2) == pytest.approx(3.0, abs=0.01)
    assert np.std(n2) == pytest.approx(0.5, rel=STD_RTOL)


def test_bias_uses_layer_fan_in() -> None:
    init = INITIALIZERS.create("default")
    b = init((FAN_OUT,), FAN_IN, FAN_OUT, np.random.default_rng(3))
    assert b.shape == (FAN_OUT,)
    assert np.max(np.abs(b)) <= 1.0 / math.sqrt(FAN_IN)
    assert np.max(np.abs(b)) > 0.9 / math.sqrt(FAN_IN)


@pytest.mark.parametrize("name", INITIALIZERS.names())
def test_deterministic_given_seed(name: str) -> None:
    init = INITIALIZERS.create(name)
    a = init((7, 5), 7, 5, np.random.default_rng(42), nonlinearity_gain=2.0)
    b = init((7, 5), 7, 5, np.random.default_rng(42), nonlinearity_gain=2.0)
    np.testing.assert_array_equal(a, b)
    if name not in ("zeros", "ones", "constant"):
        c = init((7, 5), 7, 5, np.random.default_rng(43), nonlinearity_gain=2.0)
        assert not np.array_equal(a, c)


def test_bias_ok_meta() -> None:
    bias_ok = {c.name for c in INITIALIZERS if c.meta["bias_ok"]}
    assert bias_ok == {"zeros", "ones", "constant", "uniform", "normal", "default"}
    for entry in INITIALIZERS.catalog():
        assert entry["label"] and entry["formula"] and entry["torch"].startswith("torch.nn.")


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("uniform", {"a": 1.0, "b": 1.0}, "init.b"),
        ("uniform", {"a": 2.0, "b": 1.0}, "init.b"),
        ("normal", {"std": -1.0}, "init.std"),
        ("xavier_uniform", {"gain": 0.0}, "init.gain"),
        ("kaiming_normal", {"mode": "fan_avg"}, "init.mode"),
        ("kaiming_uniform", {"a": 0.0}, "init.a"),
    ],
)
def test_bad_params_raise_config_error(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        INITIALIZERS.create(name, params, prefix="init")
    assert info.value.field == field


def test_bad_fans_raise() -> None:
    with pytest.raises(ConfigError, match="fan_in"):
        INITIALIZERS.create("default")((0, 3), 0, 3, np.random.default_rng(0))


# --- live comparison with torch.nn.init ----------------------------------------------------------


def _torch_init(name: str, params: dict[str, Any], nonlinearity: str) -> Any:
    import torch

    torch.manual_seed(0)
    w = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)  # torch layout (out, in)
    nn_init = torch.nn.init
    if name == "default":
        layer = torch.nn.Linear(FAN_IN, FAN_OUT, dtype=torch.float64)
        return layer.weight.detach().numpy(), layer.bias.detach().numpy()
    if name == "xavier_uniform":
        nn_init.xavier_uniform_(w, **params)
    elif name == "xavier_normal":
        nn_init.xavier_normal_(w, **params)
    elif name == "kaiming_uniform":
        nn_init.kaiming_uniform_(w, nonlinearity=nonlinearity, **params)
    elif name == "kaiming_normal":
        nn_init.kaiming_normal_(w, nonlinearity=nonlinearity, **params)
    return w.numpy(), None


TORCH_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("default", {}, "relu"),
    ("xavier_uniform", {"gain": 1.5}, "relu"),
    ("xavier_normal", {}, "relu"),
    ("kaiming_uniform", {}, "relu"),
    ("kaiming_uniform", {"mode": "fan_out"}, "tanh"),
    ("kaiming_normal", {}, "leaky_relu"),
    ("kaiming_normal", {"mode": "fan_out"}, "sigmoid"),
]


@pytest.mark.torch
@pytest.mark.parametrize(("name", "params", "nonlinearity"), TORCH_CASES)
def test_matches_torch_init_statistics(
    name: str, params: dict[str, Any], nonlinearity: str
) -> None:
    torch = pytest.importorskip("torch")
    gain = torch.nn.init.calculate_gain(nonlinearity)
    act = ACTIVATIONS.create(nonlinearity)
    assert activation_gain(act) == pytest.approx(gain, rel=1e-15)
    w_torch, b_torch = _torch_init(name, params, nonlinearity)
    assert w_torch.T.shape == SHAPE
    init = INITIALIZERS.create(name, params)
    std = init.expected_std(FAN_IN, FAN_OUT, gain)
    ours = init(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(5), nonlinearity_gain=gain)
    assert np.std(w_torch) == pytest.approx(std, rel=STD_RTOL)
    assert np.std(ours) == pytest.approx(np.std(w_torch), rel=2 * STD_RTOL)
    if name in UNIFORM_KINDS:  # same support: torch's max |w| sits just under our bound
        bound = math.sqrt(3.0) * std
        assert 0.999 * bound < np.max(np.abs(w_torch)) <= bound
    if b_torch is not None:  # nn.Linear's bias: U(±1/√fan_in), our "default" for a bias
        assert np.max(np.abs(b_torch)) <= 1.0 / math.sqrt(FAN_IN)
