"""Activations: torch golden values, finite differences, stability, saturation, gains."""

from __future__ import annotations

import json
import math
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.activations import (
    ACTIVATIONS,
    SATURATION_FRACTION,
    activation_gain,
    calculate_gain,
    curve,
    log_softmax,
    norm_cdf,
    sigmoid,
    softmax,
)
from core.errors import ConfigError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden_activations.json"
RTOL, ATOL = 1e-6, 1e-12
# Overflow / 0-division / NaN must never happen. Underflow to 0 is the correctly rounded result
# of e.g. σ(−1000), so it is not an error.
STRICT = {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"}

ALL_CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("identity", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("relu", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.3}),
    ("elu", {}),
    ("elu", {"alpha": 2.0}),
    ("softplus", {}),
    ("softplus", {"beta": 3.0, "threshold": 5.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
]
CONFIG_IDS = [f"{n}-{p}" if p else n for n, p in ALL_CONFIGS]


def _load() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _compare_to_torch(data: dict[str, Any]) -> None:
    z = np.array(data["z"], dtype=np.float64)
    for case in data["cases"]:
        act = ACTIVATIONS.create(case["name"], case["params"])
        with np.errstate(**STRICT):
            a = act.forward(z)
            d = act.derivative(z, a)
        msg = f"{case['name']} {case['params']} (seed {data['seed']})"
        np.testing.assert_allclose(a, case["value"], rtol=RTOL, atol=ATOL, err_msg=msg)
        np.testing.assert_allclose(d, case["derivative"], rtol=RTOL, atol=ATOL, err_msg=msg)
    sm = data["softmax"]
    zs = np.array(sm["z"])
    with np.errstate(**STRICT):
        np.testing.assert_allclose(softmax(zs), sm["softmax"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(log_softmax(zs), sm["log_softmax"], rtol=RTOL, atol=ATOL)


def test_golden_fixture_matches_torch() -> None:
    data = _load()
    assert {c["name"] for c in data["cases"]} == set(ACTIVATIONS.names())
    assert {-1000.0, -50.0, 0.0, 50.0, 1000.0} <= set(data["z"])
    _compare_to_torch(data)


def test_golden_gains_match_torch() -> None:
    for g in _load()["gains"]:
        assert calculate_gain(g["nonlinearity"], g["param"]) == pytest.approx(g["gain"], rel=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("repeat", range(3))
def test_live_torch_fresh_random_cases(repeat: int) -> None:
    pytest.importorskip("torch")
    from scripts.golden import activations as golden

    _compare_to_torch(golden.generate(seed=secrets.randbits(32), n_random=500))


# --- finite differences ------------------------------------------------------------------------


def _finite_difference(act: Any, z: np.ndarray, h: float = 1e-5) -> np.ndarray:
    # rounding ~eps·|f|/h ~ 2e-10 for |f| <= 8; truncation h²·f'''/6 < 1e-10
    return (act.forward(z + h) - act.forward(z - h)) / (2.0 * h)


def _away_from_kinks(name: str, params: dict[str, Any], z: np.ndarray) -> np.ndarray:
    z = np.where(np.abs(z) < 1e-3, 0.5, z)  # relu / leaky_relu / elu kink at 0
    if name == "softplus":  # torch switches to the linear branch at β·z = threshold
        edge = params.get("threshold", 20.0) / params.get("beta", 1.0)
        z = np.where(np.abs(z - edge) < 1e-3, edge - 0.5, z)
    return z


@pytest.mark.parametrize(("name", "params"), ALL_CONFIGS, ids=CONFIG_IDS)
@settings(max_examples=40, deadline=None)
@given(z=arrays(np.float64, st.integers(1, 30), elements=st.floats(-8.0, 8.0)))
def test_derivative_matches_central_differences(
    name: str, params: dict[str, Any], z: np.ndarray
) -> None:
    act = ACTIVATIONS.create(name, params)
    z = _away_from_kinks(name, params, z)
    d = act.derivative(z, act.forward(z))
    np.testing.assert_allclose(_finite_difference(act, z), d, rtol=1e-6, atol=1e-9)


def test_kink_derivatives_follow_torch() -> None:
    z = np.array([0.0])
    assert ACTIVATIONS.create("relu").derivative(z, z)[0] == 0.0
    lr = ACTIVATIONS.create("leaky_relu", {"negative_slope": 0.2})
    assert lr.derivative(z, z)[0] == 0.2
    elu = ACTIVATIONS.create("elu", {"alpha": 2.0})
    assert elu.derivative(z, elu.forward(z))[0] == 2.0
    sp = ACTIVATIONS.create("softplus", {"beta": 2.0, "threshold": 10.0})
    edge = np.array([5.0, 5.0 + 1e-9])
    a = sp.forward(edge)
    assert a[0] == pytest.approx(math.log1p(math.exp(10.0)) / 2.0, rel=1e-15)
    assert a[1] == edge[1]  # linear branch above the threshold, as torch
    assert sp.derivative(edge, a)[1] == 1.0


# --- stability ---------------------------------------------------------------------------------

HUGE = np.array([-1e6, -1000.0, -745.0, -710.0, -50.0, 50.0, 710.0, 745.0, 1000.0, 1e6])


@pytest.mark.parametrize(("name", "params"), ALL_CONFIGS, ids=CONFIG_IDS)
def test_huge_inputs_without_overflow(name: str, params: dict[str, Any]) -> None:
    act = ACTIVATIONS.create(name, params)
    with np.errstate(**STRICT):
        a = act.forward(HUGE)
        d = act.derivative(HUGE, a)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    # f(z) ≈ z far right for all but the squashing ones; derivative 1 there (or 0 if squashing)
    if name in ("sigmoid", "tanh"):
        assert a[-1] == 1.0 and d[-1] == 0.0
    else:
        assert a[-1] == 1e6 and d[-1] == 1.0


def test_known_limits() -> None:
    z = np.array([-1000.0, 1000.0])
    with np.errstate(**STRICT):
        assert sigmoid(z).tolist() == pytest.approx([0.0, 1.0], abs=1e-300)
        assert ACTIVATIONS.create("softplus").forward(z).tolist() == pytest.approx([0.0, 1000.0])
        assert ACTIVATIONS.create("silu").forward(z)[0] == pytest.approx(0.0, abs=1e-290)
        assert ACTIVATIONS.create("gelu").forward(z).tolist() == [0.0, 1000.0]
        # sigmoid keeps relative precision deep in the left tail (no 1 − x cancellation)
        assert sigmoid(np.array([-40.0]))[0] == pytest.approx(1.0 / (1.0 + math.exp(40.0)))


def test_norm_cdf_accuracy_against_math_erfc() -> None:
    x = np.concatenate([np.linspace(-37.0, 37.0, 4001), [0.0, 1e-12, -1e-12]])
    ref = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x])
    got = norm_cdf(x)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0.0)
    assert norm_cdf(np.zeros((2, 3))).shape == (2, 3)


@given(z=arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e6, 1e6)))
def test_sigmoid_and_tanh_ranges(z: np.ndarray) -> None:
    with np.errstate(**STRICT):
        s = sigmoid(z)
        t = ACTIVATIONS.create("tanh").forward(z)
    assert np.all((s >= 0.0) & (s <= 1.0))
    assert np.all((t >= -1.0) & (t <= 1.0))
    np.testing.assert_allclose(ACTIVATIONS.create("sigmoid").forward(-z), 1.0 - s, atol=1e-15)


@given(
    z=arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-1e4, 1e4),
    )
)
def test_softmax_properties(z: np.ndarray) -> None:
    with np.errstate(**STRICT):
        p = softmax(z)
        lp = log_softmax(z)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(lp <= 1e-12) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(np.exp(lp), p, rtol=1e-10, atol=1e-300)
    # shift invariance
    np.testing.assert_allclose(softmax(z + 123.0), p, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(softmax(z.T, axis=0), p.T, rtol=1e-15)


# --- buffers, flags, saturation ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "params"), ALL_CONFIGS, ids=CONFIG_IDS)
def test_out_buffers_are_used_and_input_untouched(name: str, params: dict[str, Any]) -> None:
    act = ACTIVATIONS.create(name, params)
    z = np.random.default_rng(0).normal(0.0, 3.0, size=(4, 5))
    z_copy = z.copy()
    a_ref = act.forward(z)
    d_ref = act.derivative(z, a_ref)
    out_a = np.full_like(z, np.nan)
    out_d = np.full_like(z, np.nan)
    assert act.forward(z, out=out_a) is out_a
    assert act.derivative(z, out_a, out=out_d) is out_d
    np.testing.assert_array_equal(out_a, a_ref)
    np.testing.assert_array_equal(out_d, d_ref)
    np.testing.assert_array_equal(z, z_copy)
    assert a_ref.dtype == np.float64 and d_ref.shape == z.shape


def test_flags() -> None:
    saturating = {c.name for c in ACTIVATIONS if c.create().saturating}
    relu_like = {c.name for c in ACTIVATIONS if c.create().relu_like}
    assert saturating == {"sigmoid", "tanh"}
    assert relu_like == {"relu"}


@pytest.mark.parametrize(("name", "peak"), [("sigmoid", 0.25), ("tanh", 1.0)])
@given(z=arrays(np.float64, st.integers(1, 40), elements=st.floats(-12.0, 12.0)))
def test_saturated_means_derivative_below_5_percent_of_peak(
    name: str, peak: float, z: np.ndarray
) -> None:
    act = ACTIVATIONS.create(name)
    a = act.forward(z)
    d = act.derivative(z, a)
    np.testing.assert_array_equal(act.saturated(a), d < SATURATION_FRACTION * peak)


def test_saturation_thresholds() -> None:
    sig, tanh = ACTIVATIONS.create("sigmoid"), ACTIVATIONS.create("tanh")
    z = np.array([0.0, 4.3, 4.4, -4.4, 2.1, 2.2, -2.2])
    assert sig.saturated(sig.forward(z)).tolist() == [False, False, True, True] + [False] * 3
    assert tanh.saturated(tanh.forward(z)).tolist() == [False, True, True, True, False, True, True]
    relu = ACTIVATIONS.create("relu")
    assert relu.saturated(np.ones((3, 2))).shape == (3, 2)
    assert not relu.saturated(np.ones((3, 2))).any()


# --- gains, registry, curve --------------------------------------------------------------------


def test_calculate_gain_values() -> None:
    assert calculate_gain("linear") == 1.0
    assert calculate_gain("identity") == 1.0
    assert calculate_gain("sigmoid") == 1.0
    assert calculate_gain("tanh") == 5.0 / 3.0
    assert calculate_gain("relu") == math.sqrt(2.0)
    assert calculate_gain("leaky_relu") == math.sqrt(2.0 / (1.0 + 0.01**2))
    assert calculate_gain("leaky_relu", 0.5) == math.sqrt(2.0 / 1.25)
    assert calculate_gain("selu") == 0.75
    with pytest.raises(ConfigError, match="nonlinearity"):
        calculate_gain("swish")
    with pytest.raises(ConfigError):
        calculate_gain("leaky_relu", True)  # type: ignore[arg-type]


def test_activation_gain_mapping() -> None:
    expected = {
        "identity": 1.0,
        "sigmoid": 1.0,
        "tanh": 5.0 / 3.0,
        "relu": math.sqrt(2.0),
        "leaky_relu": math.sqrt(2.0 / (1.0 + 0.01**2)),
        "elu": math.sqrt(2.0),
        "softplus": math.sqrt(2.0),
        "gelu": math.sqrt(2.0),
        "silu": math.sqrt(2.0),
    }
    assert {c.name: activation_gain(c.create()) for c in ACTIVATIONS} == expected
    lr = ACTIVATIONS.create("leaky_relu", {"negative_slope": 0.2})
    assert activation_gain(lr) == math.sqrt(2.0 / 1.04)


def test_catalog_entries() -> None:
    for entry in ACTIVATIONS.catalog():
        assert entry["label"] and entry["formula"]
        assert entry["torch"].startswith("torch.nn.")
    gelu = next(e for e in ACTIVATIONS.catalog() if e["name"] == "gelu")
    assert "erf" in gelu["formula"] and "tanh" in gelu["formula"]
    sig = next(e for e in ACTIVATIONS.catalog() if e["name"] == "sigmoid")
    assert "0.0125" in sig["description"]


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("leaky_relu", {"negative_slope": 2.0}, "activation.negative_slope"),
        ("elu", {"alpha": 0.0}, "activation.alpha"),
        ("softplus", {"beta": -1.0}, "activation.beta"),
        ("gelu", {"approximate": "fast"}, "activation.approximate"),
        ("relu", {"inplace": True}, "activation.inplace"),
    ],
)
def test_bad_params_raise_config_error(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ACTIVATIONS.create(name, params, prefix="activation")
    assert info.value.field == field


def test_unknown_activation() -> None:
    with pytest.raises(ConfigError, match="choices"):
        ACTIVATIONS.create("swish")


def test_curve() -> None:
    x = np.linspace(-3.0, 3.0, 7)
    a, da = curve("leaky_relu", {"negative_slope": 0.1}, x)
    np.testing.assert_allclose(a, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(da, np.where(x > 0, 1.0, 0.1))
    a, da = curve("tanh", None, [0.0])  # type: ignore[arg-type]
    assert a.tolist() == [0.0] and da.tolist() == [1.0]
    with pytest.raises(ConfigError):
        curve("elu", {"alpha": -1.0}, x)
