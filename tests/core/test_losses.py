"""Losses: torch golden values and gradients, finite differences, kinks, stability."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.errors import ConfigError
from core.losses import LOSSES

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden_losses.json"
RTOL, ATOL = 1e-6, 1e-12
STRICT = {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"}

REGRESSION: list[tuple[str, dict[str, Any]]] = [
    ("mse", {}),
    ("half_mse", {}),
    ("mae", {}),
    ("smooth_l1", {}),
    ("smooth_l1", {"beta": 0.3}),
    ("smooth_l1", {"beta": 0.0}),
    ("huber", {}),
    ("huber", {"delta": 0.3}),
]


def _target(case: dict[str, Any]) -> np.ndarray:
    dtype = np.int64 if case["loss"] == "cross_entropy" else np.float64
    return np.array(case["target"], dtype=dtype)


def _compare_to_torch(data: dict[str, Any]) -> None:
    for case in data["cases"]:
        loss = LOSSES.create(case["loss"], case["params"])
        out = np.array(case["out"], dtype=np.float64)
        target = _target(case)
        with np.errstate(**STRICT):
            val, grad = loss.value_and_grad(out, target)
            val_only = loss.value(out, target)
        msg = f"{case['loss']} {case['params']} out={case['out']} (seed {data['seed']})"
        assert isinstance(val, float)
        np.testing.assert_allclose(val, case["value"], rtol=RTOL, atol=ATOL, err_msg=msg)
        np.testing.assert_allclose(val_only, case["value"], rtol=RTOL, atol=ATOL, err_msg=msg)
        np.testing.assert_allclose(grad, case["grad"], rtol=RTOL, atol=ATOL, err_msg=msg)
        assert grad.shape == out.shape


def test_golden_fixture_matches_torch() -> None:
    data = json.loads(FIXTURE.read_text())
    assert {c["loss"] for c in data["cases"]} == set(LOSSES.names())
    _compare_to_torch(data)


@pytest.mark.torch
@pytest.mark.parametrize("repeat", range(3))
def test_live_torch_fresh_random_cases(repeat: int) -> None:
    pytest.importorskip("torch")
    from scripts.golden import losses as golden

    _compare_to_torch(golden.generate(seed=secrets.randbits(32)))


# --- finite differences ------------------------------------------------------------------------


def _fd_grad(loss: Any, out: np.ndarray, target: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central differences. h = 1e-4 keeps rounding (~eps·|L|/h) below 1e-9 for |L| <= 100;
    kinks are kept >= 1e-3 > h away, so piecewise-quadratic losses have no truncation error."""
    g = np.zeros_like(out)
    for idx in np.ndindex(out.shape):
        plus, minus = out.copy(), out.copy()
        plus[idx] += h
        minus[idx] -= h
        g[idx] = (loss.value(plus, target) - loss.value(minus, target)) / (2.0 * h)
    return g


def _check_fd(loss: Any, out: np.ndarray, target: np.ndarray) -> None:
    _, grad = loss.value_and_grad(out, target)
    np.testing.assert_allclose(_fd_grad(loss, out, target), grad, rtol=1e-6, atol=1e-9)


def _push_off_kinks(d: np.ndarray, kinks: list[float], gap: float = 1e-3) -> np.ndarray:
    for k in kinks:
        near = np.abs(np.abs(d) - k) < gap
        d = np.where(near, np.sign(d + 0.5 * gap) * (k + 2 * gap), d)
    return d


shapes = st.tuples(st.integers(1, 5), st.integers(1, 3))


@pytest.mark.parametrize(("name", "params"), REGRESSION, ids=[f"{n}{p}" for n, p in REGRESSION])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_regression_grad_matches_central_differences(
    name: str, params: dict[str, Any], data: st.DataObject
) -> None:
    shape = data.draw(shapes)
    out = data.draw(arrays(np.float64, shape, elements=st.floats(-5.0, 5.0)))
    target = data.draw(arrays(np.float64, shape, elements=st.floats(-5.0, 5.0)))
    kink = params.get("beta", params.get("delta", 1.0))
    d = _push_off_kinks(out - target, [0.0, kink])  # 0: L1 kink; beta/delta: switch point
    _check_fd(LOSSES.create(name, params), target + d, target)


@settings(max_examples=40, deadline=None)
@given(
    z=arrays(np.float64, st.tuples(st.integers(1, 6), st.just(1)), elements=st.floats(-8, 8)),
    data=st.data(),
)
def test_bce_grad_matches_central_differences(z: np.ndarray, data: st.DataObject) -> None:
    y = data.draw(arrays(np.float64, z.shape, elements=st.floats(0.0, 1.0)))
    _check_fd(LOSSES.create("bce_with_logits"), z, y)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_cross_entropy_grad_matches_central_differences(data: st.DataObject) -> None:
    n, k = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 5))
    z = data.draw(arrays(np.float64, (n, k), elements=st.floats(-8, 8)))
    t = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    _check_fd(LOSSES.create("cross_entropy"), z, t)


# --- kinks, special cases ----------------------------------------------------------------------


def test_kinks_follow_torch() -> None:
    out = np.array([[0.0, 1.0, -1.0, 3.0]])
    target = np.zeros((1, 4))
    n = out.size
    _, g = LOSSES.create("mae").value_and_grad(out, target)
    assert g.tolist() == [[0.0, 1 / n, -1 / n, 1 / n]]  # sign(0) = 0
    _, g = LOSSES.create("smooth_l1").value_and_grad(out, target)
    assert g.tolist() == [[0.0, 1 / n, -1 / n, 1 / n]]  # |d| == beta: ±1
    _, g = LOSSES.create("huber", {"delta": 1.0}).value_and_grad(out, target)
    assert g.tolist() == [[0.0, 1 / n, -1 / n, 1 / n]]
    val, g = LOSSES.create("smooth_l1", {"beta": 0.0}).value_and_grad(out, target)
    assert val == pytest.approx(5.0 / 4.0)
    assert g.tolist() == [[0.0, 1 / n, -1 / n, 1 / n]]  # beta = 0 is L1, no 0/0


def test_half_mse_single_example_is_the_textbook_loss() -> None:
    loss = LOSSES.create("half_mse")
    val, g = loss.value_and_grad(np.array([[0.8]]), np.array([[1.0]]))
    assert val == pytest.approx(0.5 * 0.2**2, rel=1e-15)
    assert g[0, 0] == pytest.approx(-0.2, rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), delta=st.floats(0.1, 3.0))
def test_loss_identities(data: st.DataObject, delta: float) -> None:
    shape = data.draw(shapes)
    out = data.draw(arrays(np.float64, shape, elements=st.floats(-10, 10)))
    target = data.draw(arrays(np.float64, shape, elements=st.floats(-10, 10)))
    mse, g_mse = LOSSES.create("mse").value_and_grad(out, target)
    half, g_half = LOSSES.create("half_mse").value_and_grad(out, target)
    assert mse == pytest.approx(2.0 * half, rel=1e-14, abs=1e-300)
    np.testing.assert_allclose(g_mse, 2.0 * g_half, rtol=1e-14, atol=1e-300)  # subnormals
    hub, g_hub = LOSSES.create("huber", {"delta": delta}).value_and_grad(out, target)
    sl1, g_sl1 = LOSSES.create("smooth_l1", {"beta": delta}).value_and_grad(out, target)
    assert hub == pytest.approx(delta * sl1, rel=1e-12, abs=1e-300)  # torch's documented relation
    np.testing.assert_allclose(g_hub, delta * g_sl1, rtol=1e-12)
    for val in (mse, half, hub, sl1):
        assert val >= 0.0


@given(
    z=arrays(
        np.float64, st.tuples(st.integers(1, 8), st.just(1)), elements=st.floats(-1e300, 1e300)
    ),
    data=st.data(),
)
def test_bce_with_logits_finite_for_huge_logits(z: np.ndarray, data: st.DataObject) -> None:
    y = data.draw(arrays(np.float64, z.shape, elements=st.sampled_from([0.0, 1.0])))
    with np.errstate(**STRICT):
        val, g = LOSSES.create("bce_with_logits").value_and_grad(z, y)
    assert np.isfinite(val) and val >= 0.0
    assert np.all(np.abs(g) <= 1.0 / z.size + 1e-18)
    # a confidently right logit costs ~nothing, a confidently wrong one costs |z|
    right = LOSSES.create("bce_with_logits").value(np.array([[1000.0]]), np.array([[1.0]]))
    wrong = LOSSES.create("bce_with_logits").value(np.array([[-1000.0]]), np.array([[1.0]]))
    assert right == 0.0 and wrong == 1000.0


@given(data=st.data())
def test_cross_entropy_finite_and_grad_rows_sum_to_zero(data: st.DataObject) -> None:
    n, k = data.draw(st.integers(1, 6)), data.draw(st.integers(2, 6))
    z = data.draw(arrays(np.float64, (n, k), elements=st.floats(-1e6, 1e6)))
    t = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    with np.errstate(**STRICT):
        val, g = LOSSES.create("cross_entropy").value_and_grad(z, t)
    assert np.isfinite(val) and val >= 0.0
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-15)
    assert np.all(g[np.arange(n), t] <= 0.0)


# --- validation, catalog -----------------------------------------------------------------------


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        LOSSES.create("mse").value_and_grad(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError):
        LOSSES.create("cross_entropy").value_and_grad(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="integer"):
        LOSSES.create("cross_entropy").value_and_grad(np.zeros((2, 2)), np.array([0.5, 1.0]))


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("huber", {"delta": 0.0}, "loss.delta"),
        ("smooth_l1", {"beta": -1.0}, "loss.beta"),
        ("mse", {"reduction": "sum"}, "loss.reduction"),
    ],
)
def test_bad_params_raise_config_error(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        LOSSES.create(name, params, prefix="loss")
    assert info.value.field == field


def test_catalog_tasks_and_labels() -> None:
    tasks = {e["name"]: e["tasks"] for e in LOSSES.catalog()}
    assert tasks == {
        "mse": ["regression"],
        "half_mse": ["regression"],
        "mae": ["regression"],
        "smooth_l1": ["regression"],
        "huber": ["regression"],
        "bce_with_logits": ["binary"],
        "cross_entropy": ["multiclass"],
    }
    mae = next(e for e in LOSSES.catalog() if e["name"] == "mae")
    assert "L1Loss" in mae["label"]
    for c in LOSSES:
        assert list(c.create().tasks) == c.meta["tasks"]
