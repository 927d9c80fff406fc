"""Vectorised number text (app.numtext) against the reference: Python's repr / json.dumps."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app import numtext


def reference(values: np.ndarray) -> list[str]:
    return [repr(v) if math.isfinite(v) else "null" for v in values.reshape(-1).tolist()]


def assert_like_repr(values: np.ndarray) -> None:
    got = numtext.texts(numtext.float_text(values))
    want = reference(values)
    bad = [(v, g, w) for v, g, w in zip(values.reshape(-1).tolist(), got, want, strict=True)
           if g != w]
    assert not bad, bad[:5]


def test_random_bit_patterns_cover_every_exponent() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**63, 200_000, dtype=np.int64).view(np.float64)  # incl. NaN, inf
    assert_like_repr(np.concatenate((x, -x)))


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 5, 8, 12, 15])
def test_short_decimals(decimals: int) -> None:
    """Values like 0.075 or 12.5, whose shortest text has few digits."""
    rng = np.random.default_rng(decimals)
    x = np.round(rng.random(20_000) * 10.0 ** rng.integers(-6, 18, 20_000), decimals)
    assert_like_repr(x)


def test_fractions_as_training_produces_them() -> None:
    rng = np.random.default_rng(3)
    k, n = rng.integers(0, 1000, 20_000), rng.integers(1, 1000, 20_000)
    assert_like_repr(k / n)  # accuracies, saturation and dead fractions
    assert_like_repr(np.exp(rng.normal(0, 30, 20_000)))  # losses, norms, ratios of any size


def test_powers_and_their_neighbours() -> None:
    p10 = 10.0 ** np.arange(-307, 309)
    p2 = np.ldexp(1.0, np.arange(-1074, 1024))
    edges = np.concatenate((p10, p2))
    assert_like_repr(np.concatenate((edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf))))


def test_notation_boundaries_and_specials() -> None:
    x = np.array([0.0, -0.0, 1.0, -1.0, 100.0, 1e-4, 9.999e-5, 1e-5, 1e15, 1e16, 9999999999999998.0,
                  1.5e16, 123456789012345678.0, 0.1, 0.2, 0.30000000000000004, 1 / 3, 2 / 3,
                  5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e-300,
                  1e300, 1e100, 1e-100, np.nan, np.inf, -np.inf, -np.nan])
    assert_like_repr(x)
    assert numtext.texts(numtext.float_text(np.array([1e-5, 1e16, 1e100, -1e-100]))) == [
        "1e-05", "1e+16", "1e+100", "-1e-100"]


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(width=64)))
def test_any_float_array(x: np.ndarray) -> None:
    assert_like_repr(x)


def test_values_it_cannot_decide_come_from_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the safety margin huge, every value takes the repr path: same text."""
    monkeypatch.setattr(numtext, "_MARGIN", 10.0)
    rng = np.random.default_rng(11)
    assert_like_repr(rng.normal(0, 1, 3000) * 10.0 ** rng.integers(-20, 20, 3000))


def test_strided_output_and_json_round_trip() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (40, 3)) * 10.0 ** rng.integers(-8, 8, (40, 3))
    x[3, 1] = np.nan
    big = np.full((120, numtext.WIDTH + 9), ord("#"), dtype=np.uint8)
    numtext.float_text(x, big[:, 4:4 + numtext.WIDTH])
    assert (big[:, :4] == ord("#")).all() and (big[:, 4 + numtext.WIDTH:] == ord("#")).all()
    texts = numtext.texts(big[:, 4:4 + numtext.WIDTH])
    assert texts == reference(x)
    back = json.loads("[" + ",".join(texts) + "]")
    assert [b if b is not None else math.nan for b in back] == pytest.approx(
        x.reshape(-1).tolist(), nan_ok=True, rel=0, abs=0)


def test_integral_values_drop_the_point_where_asked() -> None:
    x = np.array([0.0, 7.0, 12.0, 1000.0, 9007199254740993.0, -3.0])
    out = numtext.float_text(x)
    out[:, numtext.POINT] = 0
    out[:, numtext.LAST] = 0
    assert numtext.texts(out) == ["0", "7", "12", "1000", "9007199254740992", "-3"]


def test_join_drops_the_padding() -> None:
    rows = numtext.float_text(np.array([0.5, np.inf, -2.25]))
    assert numtext.join(rows) == b"0.5null-2.25"
