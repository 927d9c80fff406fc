"""Tests for core.regularizers: penalties, proximal L1, gradient clipping (torch oracles)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.errors import ConfigError
from core.regularizers import (
    GRAD_CLIPS,
    REGULARIZERS,
    GradClip,
    Regularization,
    add_penalty_gradient,
    clip_gradients,
    grad_norm,
    make_grad_clip,
    make_regularization,
    penalty,
    proximal_l1,
)
from scripts.golden.clipping import decode_norm_type

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden_clipping.json"
RTOL = 1e-6
ATOL = 1e-12

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
vectors = hnp.arrays(np.float64, st.integers(1, 40), elements=finite)


# ------------------------------------------------------------------ config and catalog


def test_make_regularization_defaults_and_values() -> None:
    assert make_regularization(None) == Regularization(0.0, 0.0, "proximal")
    reg = make_regularization({"l1": 0.01, "l2": 1, "l1_method": "subgradient"})
    assert reg == Regularization(0.01, 1.0, "subgradient")
    assert isinstance(reg.l2, float)
    assert make_regularization({"name": "l2", "l2": 0.5}) == Regularization(0.0, 0.5)
    assert make_regularization({"name": "elastic_net"}) == Regularization(1e-3, 1e-3)
    assert make_regularization({"name": "none"}) == Regularization()


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"l1": -0.1}, "regularization.l1", "0.0 <= x <= 10.0"),
        ({"l2": 10.5}, "regularization.l2", "0.0 <= x <= 10.0"),
        ({"l2": math.inf}, "regularization.l2", "finite"),
        ({"l1": math.nan}, "regularization.l1", "finite"),
        ({"l1_method": "ista"}, "regularization.l1_method", "'proximal', 'subgradient'"),
        ({"l3": 1.0}, "regularization.l3", "allowed: l1, l1_method, l2"),
        ({"name": "l1", "l2": 0.1}, "regularization.l2", "allowed: l1, l1_method"),
        ({"name": "dropout"}, "regularization.name", "choices: none, l1, l2, elastic_net"),
    ],
)
def test_make_regularization_errors(values: dict, field: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_regularization(values)
    assert info.value.field == field
    assert fragment in info.value.message


def test_make_regularization_custom_prefix() -> None:
    with pytest.raises(ConfigError) as info:
        make_regularization({"l1": 20}, prefix="lab.reg")
    assert info.value.field == "lab.reg.l1"


def test_make_grad_clip() -> None:
    assert make_grad_clip(None) == GradClip()
    clip = make_grad_clip({"mode": "norm", "max_norm": 5, "norm_type": "inf"})
    assert clip == GradClip("norm", 5.0, math.inf, 1.0)
    assert clip.to_dict()["norm_type"] == "inf"
    assert make_grad_clip({"mode": "norm", "norm_type": math.inf}).norm_type == math.inf
    assert make_grad_clip({"name": "value", "clip_value": 0.1}) == GradClip("value", clip_value=0.1)
    assert make_grad_clip({"name": "norm", "norm_type": 3}).norm_type == 3.0


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"mode": "norm", "max_norm": 0}, "grad_clip.max_norm", "0.0 < x <= 1000000.0"),
        ({"norm_type": 0.5}, "grad_clip.norm_type", "1.0 <= x, or 'inf'"),
        ({"norm_type": "two"}, "grad_clip.norm_type", "or 'inf'"),
        ({"clip_value": -1.0}, "grad_clip.clip_value", "0.0 < x"),
        ({"mode": "clamp"}, "grad_clip.mode", "'none', 'norm', 'value'"),
        ({"name": "value", "max_norm": 1.0}, "grad_clip.max_norm", "allowed: clip_value"),
        ({"name": "norm", "mode": "norm"}, "grad_clip.mode", "not both"),
    ],
)
def test_make_grad_clip_errors(values: dict, field: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_grad_clip(values)
    assert info.value.field == field
    assert fragment in info.value.message


def test_catalogs_are_documented() -> None:
    assert REGULARIZERS.names() == ["none", "l1", "l2", "elastic_net"]
    assert GRAD_CLIPS.names() == ["none", "norm", "value"]
    for comp in [*REGULARIZERS, *GRAD_CLIPS]:
        entry = comp.catalog_entry()
        assert entry["label"] and entry["formula"] and entry["description"]
        json.dumps(entry)  # JSON-able
    assert "(l2/2)·Σw²" in REGULARIZERS.get("elastic_net").formula
    assert "exactly" in REGULARIZERS.get("l1").description
    norm_type = GRAD_CLIPS.get("norm").param("norm_type").schema()
    assert norm_type["allow_inf"] is True


# ------------------------------------------------------------------ penalties


def test_penalty_formula() -> None:
    w = np.array([1.5, -2.0, 0.0, 0.25])
    reg = Regularization(l1=0.3, l2=0.2)
    expected = 0.3 * (1.5 + 2.0 + 0.25) + 0.1 * (2.25 + 4.0 + 0.0625)
    assert penalty(w, reg) == pytest.approx(expected, rel=1e-15)
    assert penalty(w, Regularization()) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 12),
    l1=st.floats(0.0, 10.0),
    l2=st.floats(0.0, 10.0),
)
def test_penalty_gradient_matches_finite_differences(
    seed: int, size: int, l1: float, l2: float
) -> None:
    rng = np.random.default_rng(seed)
    # keep |w| >= 0.1 so the L1 kink is never inside the difference stencil
    w = rng.uniform(0.1, 3.0, size) * rng.choice([-1.0, 1.0], size)
    reg = Regularization(l1=l1, l2=l2, l1_method="subgradient")
    g = np.zeros(size)
    add_penalty_gradient(g, w, reg)
    h = 1e-6
    fd = np.empty(size)
    for i in range(size):
        wp, wm = w.copy(), w.copy()
        wp[i] += h
        wm[i] -= h
        fd[i] = (penalty(wp, reg) - penalty(wm, reg)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7 * (1 + l1 + l2))


def test_penalty_gradient_proximal_only_adds_l2_and_accumulates() -> None:
    w = np.array([0.5, -1.0, 0.0, 2.0])
    g = np.array([1.0, 1.0, 1.0, 1.0])
    add_penalty_gradient(g, w, Regularization(l1=0.7, l2=0.1, l1_method="proximal"))
    np.testing.assert_array_equal(g, 1.0 + 0.1 * w)
    g2 = np.ones(4)
    add_penalty_gradient(g2, w, Regularization(l1=0.7, l2=0.0, l1_method="subgradient"))
    np.testing.assert_array_equal(g2, 1.0 + 0.7 * np.array([1.0, -1.0, 0.0, 1.0]))  # sign(0)=0


def test_penalty_gradient_works_on_views_of_flat_vectors() -> None:
    theta = np.arange(1.0, 11.0)
    grad = np.zeros(10)
    reg = Regularization(l1=1.0, l2=0.5, l1_method="subgradient")
    add_penalty_gradient(grad[:6], theta[:6], reg)
    np.testing.assert_array_equal(grad[:6], 1.0 + 0.5 * theta[:6])
    np.testing.assert_array_equal(grad[6:], 0.0)  # biases untouched
    proximal_l1(theta[:6], Regularization(l1=2.0), lr=1.0)
    np.testing.assert_array_equal(theta, [0, 0, 1, 2, 3, 4, 7, 8, 9, 10])


def test_noops_leave_arrays_untouched() -> None:
    w = np.array([0.3, -0.2])
    g = np.array([1.0, 2.0])
    add_penalty_gradient(g, w, Regularization())
    proximal_l1(w, Regularization(l1=0.0, l2=1.0), lr=0.1)
    proximal_l1(w, Regularization(l1=1.0, l1_method="subgradient"), lr=0.1)
    proximal_l1(w, Regularization(l1=1.0), lr=0.0)
    np.testing.assert_array_equal(w, [0.3, -0.2])
    np.testing.assert_array_equal(g, [1.0, 2.0])


def test_l2_equals_gradient_of_weight_decay_step() -> None:
    # one SGD step with the L2 gradient shrinks w by (1 - lr*l2) before the data gradient
    w = np.array([1.0, -3.0, 0.5])
    data_grad = np.array([0.2, 0.1, -0.4])
    lr, l2 = 0.1, 0.05
    g = data_grad.copy()
    add_penalty_gradient(g, w, Regularization(l2=l2))
    np.testing.assert_allclose(w - lr * g, (1 - lr * l2) * w - lr * data_grad, rtol=1e-15)


# ------------------------------------------------------------------ proximal operator


@settings(max_examples=40, deadline=None)
@given(v=st.floats(-3.0, 3.0), l1=st.floats(0.001, 2.0), lr=st.floats(0.01, 1.0))
def test_proximal_is_argmin_by_brute_force(v: float, l1: float, lr: float) -> None:
    t = lr * l1
    grid = np.linspace(-4.0, 4.0, 80001)  # step 1e-4
    obj = 0.5 * (grid - v) ** 2 + t * np.abs(grid)
    best = grid[np.argmin(obj)]
    w = np.array([v])
    proximal_l1(w, Regularization(l1=l1), lr)
    assert abs(w[0] - best) <= 1e-4 + 1e-12
    # and its objective is no worse than the grid's best point
    assert 0.5 * (w[0] - v) ** 2 + t * abs(w[0]) <= obj.min() + 1e-12


@settings(max_examples=80, deadline=None)
@given(w=vectors, l1=st.floats(0.0, 10.0), lr=st.floats(0.0, 10.0))
def test_proximal_shrinks_without_flipping_sign(w: np.ndarray, l1: float, lr: float) -> None:
    before = w.copy()
    proximal_l1(w, Regularization(l1=l1), lr)
    assert np.all(np.abs(w) <= np.abs(before))
    assert np.all(w * before >= 0.0)
    t = lr * l1
    expected = np.sign(before) * np.maximum(np.abs(before) - t, 0.0)
    np.testing.assert_allclose(w, expected, rtol=1e-15, atol=0.0)
    assert np.all(w[np.abs(before) <= t] == 0.0)  # exact zeros
    assert not np.any(np.signbit(w[w == 0.0]) & (before[w == 0.0] != 0.0))  # no -0.0 produced


def _run_1d(method: str, targets: list[float], steps: int) -> np.ndarray:
    """SGD on 0.5*(w - a)² + l1*|w| from w=1; returns the iterate history."""
    reg = Regularization(l1=0.1, l1_method=method)
    lr = 0.1
    w = np.array([1.0])
    hist = []
    for a in targets:
        for _ in range(steps):
            g = w - a
            add_penalty_gradient(g, w, reg)
            w -= lr * g
            proximal_l1(w, reg, lr)
            hist.append(w[0])
    return np.array(hist)


def test_proximal_reaches_exact_zero_and_regrows() -> None:
    hist = _run_1d("proximal", [0.05, 1.0], steps=200)
    first, second = hist[:200], hist[200:]
    assert first[-1] == 0.0  # |a| < l1: the lasso solution is exactly zero
    assert np.count_nonzero(first == 0.0) > 100  # and it stays there
    assert second[-1] == pytest.approx(0.9, rel=1e-9)  # data pushes it out: w* = a - l1


def test_subgradient_oscillates_and_never_hits_zero() -> None:
    hist = _run_1d("subgradient", [0.05], steps=300)
    assert np.all(hist != 0.0)
    tail = hist[100:]
    sign_changes = np.count_nonzero(np.diff(np.sign(tail)) != 0)
    assert sign_changes > 50  # jumps back and forth across zero
    assert np.max(np.abs(tail)) < 0.02  # ... close to zero, but never exactly zero


# ------------------------------------------------------------------ clipping


def _golden() -> dict:
    return json.loads(FIXTURE.read_text())


def test_clip_norm_matches_torch_golden() -> None:
    data = _golden()
    assert len(data["norm_cases"]) >= 50
    for case in data["norm_cases"]:
        g = np.array(case["grads"], dtype=np.float64)
        p = decode_norm_type(case["norm_type"])
        clip = GradClip("norm", max_norm=case["max_norm"], norm_type=p)
        total = clip_gradients(g, clip)
        assert total == pytest.approx(case["total_norm"], rel=RTOL, abs=ATOL)
        np.testing.assert_allclose(g, case["clipped"], rtol=RTOL, atol=ATOL)


def test_clip_value_matches_torch_golden() -> None:
    data = _golden()
    assert len(data["value_cases"]) >= 40
    for case in data["value_cases"]:
        g = np.array(case["grads"], dtype=np.float64)
        clip_gradients(g, GradClip("value", clip_value=case["clip_value"]))
        np.testing.assert_allclose(g, case["clipped"], rtol=RTOL, atol=ATOL)


def test_clip_norm_at_exactly_max_norm_still_scales_like_torch() -> None:
    g = np.array([0.6, -0.8])
    total = clip_gradients(g, GradClip("norm", max_norm=1.0))
    assert total == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(g, np.array([0.6, -0.8]) / (1.0 + 1e-6), rtol=1e-15)


def test_clip_none_does_nothing() -> None:
    g = np.array([1e9, -1e9])
    assert math.isnan(clip_gradients(g, GradClip()))
    np.testing.assert_array_equal(g, [1e9, -1e9])


def test_clip_value_returns_l2_norm_before() -> None:
    g = np.array([3.0, -4.0])
    assert clip_gradients(g, GradClip("value", clip_value=1.0)) == 5.0
    np.testing.assert_array_equal(g, [1.0, -1.0])


def test_clip_norm_nonfinite_propagates_like_torch() -> None:
    g = np.array([np.inf, 1.0])
    assert clip_gradients(g, GradClip("norm")) == math.inf
    assert math.isnan(g[0]) and g[1] == 0.0  # inf*0 = nan, 1*0 = 0 (torch does the same)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 7.5, math.inf])
def test_grad_norm_matches_numpy(p: float) -> None:
    rng = np.random.default_rng(3)
    g = rng.standard_normal(101)
    assert grad_norm(g, p) == pytest.approx(np.linalg.norm(g, p), rel=1e-12)
    assert grad_norm(np.zeros(0), p) == 0.0
    assert grad_norm(np.zeros(4), p) == 0.0


def test_grad_norm_extremes_match_torch() -> None:
    # torch 2.13: vector_norm([1e200, -5e199], p) = 1.5e200 (p=1), inf (p=2, 3), 1e200 (inf);
    # vector_norm([9e-181, -4.5e-181], p) = 1.35e-180 (p=1), 0.0 (p=2, 3), 9e-181 (inf).
    big = np.array([1e200, -5e199])
    assert grad_norm(big, 1.0) == pytest.approx(1.5e200)
    with np.errstate(over="ignore"):  # the p=2 fast path (np.dot) warns on overflow
        assert grad_norm(big, 2.0) == math.inf
    assert grad_norm(big, 3.0) == math.inf
    assert grad_norm(big, math.inf) == 1e200
    tiny = np.array([9e-181, -4.5e-181])
    assert grad_norm(tiny, 1.0) == pytest.approx(1.35e-180)
    assert grad_norm(tiny, 2.0) == 0.0 and grad_norm(tiny, 3.0) == 0.0
    assert grad_norm(tiny, math.inf) == 9e-181
    g = big.copy()
    clip_gradients(g, GradClip("norm", max_norm=1.0, norm_type=3.0))
    np.testing.assert_array_equal(g, [0.0, -0.0])  # total = inf -> coef 0, as in torch


@settings(max_examples=80, deadline=None)
@given(
    g=vectors,
    max_norm=st.floats(1e-3, 1e3),
    p=st.sampled_from([1.0, 2.0, 3.0, 10.0, math.inf]),
)
def test_clip_norm_properties(g: np.ndarray, max_norm: float, p: float) -> None:
    before = g.copy()
    total = clip_gradients(g, GradClip("norm", max_norm=max_norm, norm_type=p))
    assert total == pytest.approx(np.linalg.norm(before, p), rel=1e-9, abs=1e-300)
    assert grad_norm(g, p) <= max_norm * (1 + 1e-6)
    # direction is kept: g = c * before with 0 < c <= 1
    coef = min(1.0, max_norm / (total + 1e-6))
    np.testing.assert_allclose(g, before * coef, rtol=1e-15, atol=0.0)


@settings(max_examples=60, deadline=None)
@given(g=vectors, c=st.floats(1e-3, 1e3))
def test_clip_value_properties(g: np.ndarray, c: float) -> None:
    before = g.copy()
    clip_gradients(g, GradClip("value", clip_value=c))
    assert np.all(np.abs(g) <= c)
    inside = np.abs(before) <= c
    np.testing.assert_array_equal(g[inside], before[inside])


# ------------------------------------------------------------------ live torch


@pytest.mark.torch
def test_clip_matches_torch_live() -> None:
    pytest.importorskip("torch")
    from scripts.golden.clipping import random_case, torch_clip_norm, torch_clip_value

    rng = np.random.default_rng()
    for _ in range(40):
        flat, shapes = random_case(rng)
        p = float(rng.choice([1.0, 2.0, math.inf, rng.uniform(1.0, 12.0)]))
        max_norm = float(10.0 ** rng.uniform(-3, 3))
        total_t, clipped_t = torch_clip_norm(flat, shapes, max_norm, p)
        g = flat.copy()
        total = clip_gradients(g, GradClip("norm", max_norm=max_norm, norm_type=p))
        assert total == pytest.approx(total_t, rel=RTOL, abs=ATOL)
        np.testing.assert_allclose(g, clipped_t, rtol=RTOL, atol=ATOL)

        c = float(10.0 ** rng.uniform(-3, 2))
        g = flat.copy()
        clip_gradients(g, GradClip("value", clip_value=c))
        np.testing.assert_allclose(g, torch_clip_value(flat, shapes, c), rtol=RTOL, atol=ATOL)


@pytest.mark.torch
@pytest.mark.parametrize("scale", [1e-181, 1e200])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_clip_extremes_match_torch_live(scale: float, p: float) -> None:
    pytest.importorskip("torch")
    from scripts.golden.clipping import torch_clip_norm

    flat = np.array([1.0, -0.5, 0.25]) * scale
    total_t, clipped_t = torch_clip_norm(flat, [[3]], 1.0, p)
    g = flat.copy()
    with np.errstate(over="ignore"):
        total = clip_gradients(g, GradClip("norm", max_norm=1.0, norm_type=p))
    assert total == pytest.approx(total_t, rel=RTOL, abs=0.0)
    np.testing.assert_allclose(g, clipped_t, rtol=RTOL, atol=0.0)


@pytest.mark.torch
def test_l2_matches_torch_sgd_weight_decay_live() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng()
    w0 = rng.standard_normal(30)
    data_grad = rng.standard_normal(30)
    lr, l2 = float(rng.uniform(0.01, 1.0)), float(rng.uniform(0.0, 2.0))

    p = torch.tensor(w0.copy(), dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(data_grad.copy(), dtype=torch.float64)
    torch.optim.SGD([p], lr=lr, weight_decay=l2).step()

    w = w0.copy()
    g = data_grad.copy()
    add_penalty_gradient(g, w, Regularization(l2=l2))
    w -= lr * g
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=RTOL, atol=ATOL)
