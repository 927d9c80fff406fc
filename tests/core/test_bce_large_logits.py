"""bce_with_logits at large logits against a 60-digit reference (stdlib ``decimal``).

Where the loss is tiny (y = 1 with z ≫ 0, y = 0 with z ≪ 0) it is ln(1 + e^(−|z|)) ≈ e^(−|z|),
which only ``log1p`` keeps: ``log(1 + e)`` rounds 1 + 4e−18 to 1 and returns 0 at |z| = 40.
Both ``value()`` and ``value_and_grad()`` are checked, each on its own (they are separate code).
"""

from __future__ import annotations

import sys
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.losses import LOSSES

EPS = sys.float_info.epsilon
BCE = LOSSES.create("bce_with_logits")


def reference(z: float, y: float) -> tuple[float, float]:
    """(loss, dloss/dz) of one element, exact to far beyond float64.

    l = −[y ln σ(z) + (1 − y) ln(1 − σ(z))] = ln(1 + e^(−z)) + (1 − y)·z, using
    ln σ(z) = −ln(1 + e^(−z)) and ln(1 − σ(z)) = −z − ln(1 + e^(−z)); dl/dz = σ(z) − y.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        dz, dy = Decimal(z), Decimal(y)  # exact binary values of the float inputs
        e = (-dz).exp()
        loss = (1 + e).ln() + (1 - dy) * dz
        grad = 1 / (1 + e) - dy
        return float(loss), float(grad)


LARGE = [1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 33.3, 36.0, 38.5, 40.0]


@pytest.mark.parametrize("z", LARGE + [-v for v in LARGE])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_value_matches_reference_at_large_logits(z: float, y: float) -> None:
    out, target = np.array([[z]]), np.array([[y]])
    want, want_grad = reference(z, y)
    val = BCE.value(out, target)
    val2, grad = BCE.value_and_grad(out, target)
    # y in {0, 1}: max(z, 0) − z·y is exact, so only log1p's few ulps remain (relative)
    assert val == pytest.approx(want, rel=8 * EPS, abs=0.0), "value()"
    assert val2 == pytest.approx(want, rel=8 * EPS, abs=0.0), "value_and_grad()"
    assert val == pytest.approx(val2, rel=4 * EPS, abs=0.0)
    # σ(z) − y: absolute accuracy (like torch, σ(40) − 1 rounds to 0, an error of 4e−18)
    assert grad[0, 0] == pytest.approx(want_grad, rel=8 * EPS, abs=2 * EPS)


def test_the_tiny_losses_are_not_zero() -> None:
    # the values log(1 + e) would lose entirely
    for z, y in [(40.0, 1.0), (-40.0, 0.0), (38.5, 1.0)]:
        val = BCE.value(np.array([[z]]), np.array([[y]]))
        assert 0.0 < val < 1e-16
        assert val == pytest.approx(np.exp(-abs(z)), rel=1e-15)


@given(
    z=st.floats(-40.0, 40.0, allow_nan=False, allow_subnormal=False),
    y=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)),
)
def test_value_matches_reference_property(z: float, y: float) -> None:
    out, target = np.array([[z]]), np.array([[y]])
    want, want_grad = reference(z, y)
    # max(z, 0) − z·y rounds z·y once: an absolute error of a few ulps of |z|
    tol = 4 * EPS * (abs(z) + abs(want)) + 4 * EPS * abs(want)
    if y in (0.0, 1.0):
        tol = 8 * EPS * abs(want)
    assert abs(BCE.value(out, target) - want) <= tol
    val, grad = BCE.value_and_grad(out, target)
    assert abs(val - want) <= tol
    assert abs(grad[0, 0] - want_grad) <= 2 * EPS * (1 + abs(want_grad))


def test_batch_mean_matches_reference() -> None:
    z = np.array([[40.0], [-40.0], [25.0], [-25.0], [0.5], [-3.0], [39.0], [-39.0]])
    y = np.array([[1.0], [0.0], [1.0], [0.0], [1.0], [0.0], [0.25], [0.75]])
    refs = [reference(float(a), float(b)) for a, b in zip(z[:, 0], y[:, 0], strict=True)]
    want = sum(r[0] for r in refs) / len(refs)
    tol = 16 * EPS * float(np.abs(z).max())
    assert abs(BCE.value(z, y) - want) <= tol
    val, grad = BCE.value_and_grad(z, y)
    assert abs(val - want) <= tol
    np.testing.assert_allclose(
        grad[:, 0], [r[1] / len(refs) for r in refs], rtol=1e-14, atol=2 * EPS / len(refs)
    )
