"""Tests for core.labs.ewa: exponentially weighted averages, bias correction, the notes' variant
and momentum as an EWA of gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.labs.ewa import ewa
from core.optimizers import make_optimizer

values_st = st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(values=values_st, beta=st.floats(0.0, 0.999))
def test_matches_the_closed_form_sums(values: list[float], beta: float) -> None:
    r = ewa(values, beta)
    y = np.array(values)
    n = y.size
    for t in range(1, n + 1):
        w = (1 - beta) * beta ** (t - np.arange(1, t + 1))  # weight of Y_i in s_t, i = 1 … t
        scale = 1e-9 * (1 + np.abs(y[:t]).sum())
        assert r["zero_start"][t - 1] == pytest.approx(w @ y[:t], abs=scale)
        assert r["bias_corrected"][t - 1] == pytest.approx(w @ y[:t] / w.sum(), abs=scale)
        # the notes': s_1 = Y_1 carries the weight β^{t−1} that the zero start gives to 0
        first = beta ** (t - 1) * y[0] + w[1:] @ y[1:t]
        assert r["first_value_start"][t - 1] == pytest.approx(first, abs=scale)
    np.testing.assert_allclose(r["weights"].sum(), 1 - beta**n, rtol=1e-12)
    np.testing.assert_allclose(r["bias"], 1 - beta ** np.arange(1, n + 1), rtol=1e-15)


def test_bias_correction_removes_the_pull_towards_zero() -> None:
    r = ewa([5.0] * 20, 0.9)
    assert r["zero_start"][0] == pytest.approx(0.5)  # (1 − β)·5
    np.testing.assert_allclose(r["bias_corrected"], 5.0, rtol=1e-14)
    np.testing.assert_allclose(r["first_value_start"], 5.0, rtol=1e-15)
    assert r["window"] == pytest.approx(10.0)


def test_larger_beta_is_smoother_and_lags() -> None:
    smooth = ewa(None, 0.98, n=400, noise=2.0, seed=1)
    rough = ewa(None, 0.5, n=400, noise=2.0, seed=1)
    assert np.array_equal(smooth["values"], rough["values"])  # same series for the same seed

    def wiggle(a: np.ndarray) -> float:
        return float(np.std(np.diff(a)))

    assert wiggle(smooth["bias_corrected"]) < wiggle(rough["bias_corrected"]) < wiggle(
        smooth["values"])
    err = lambda r: np.abs(r["bias_corrected"] - r["signal"])[50:].mean()  # noqa: E731
    assert err(rough) < 2.0 and err(smooth) < 2.0
    assert smooth["window"] == pytest.approx(50.0)


def test_momentum_buffer_is_the_notes_ewa_with_dampening_beta() -> None:
    """torch's SGD buffer with dampening = β is the notes' EWA of the gradients (s_1 = g_1)."""
    beta = 0.9
    grads = np.random.default_rng(3).normal(size=30)
    r = ewa(grads.tolist(), beta)
    opt = make_optimizer("sgd", {"momentum": beta, "dampening": beta})
    p = np.zeros(1)
    for t, g in enumerate(grads):
        opt.step(p, np.array([g]), 0.01)
        buf = opt.torch_state()["momentum_buffer"]
        assert buf[0] == pytest.approx(r["first_value_start"][t], rel=1e-12, abs=1e-15)


def test_seeded_series_is_reproducible() -> None:
    a, b = ewa(None, 0.9, n=50, seed=7), ewa(None, 0.9, n=50, seed=7)
    assert np.array_equal(a["values"], b["values"])
    assert not np.array_equal(a["values"], ewa(None, 0.9, n=50, seed=8)["values"])
    assert ewa([1.0, 2.0])["signal"] is None and a["signal"].shape == (50,)


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"beta": 1.0}, "beta"), ({"beta": -0.1}, "beta"), ({"values": []}, "values"),
     ({"values": [1.0, float("nan")]}, "values[1]"), ({"values": [0.0] * 10_001}, "values"),
     ({"n": 0}, "n"), ({"n": 10_001}, "n"), ({"noise": -1.0}, "noise"), ({"seed": -1}, "seed")],
)
def test_validation_names_the_field(kw: dict, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        ewa(**kw)
    assert e.value.field == field
    assert "<=" in e.value.message  # the allowed range is named
