"""core.labs.gradient_noise against brute-force oracles: every minibatch enumerated (gradients
by central finite differences of the loss, independent of the model's backward), the
finite-population relation (N − b)/(b (N − 1))·σ², and the run left exactly as it was."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.labs.gradient_noise import MAX_SAMPLES, gradient_noise, parse_batch_sizes
from core.trainer import Run

TINY = {
    "seed": 3,
    "dataset": {"name": "circle", "n": 10, "noise": 0.3, "val_fraction": 0.3},
    "model": {"hidden": [3], "activation": "tanh"},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "batch_size": 2,
}


def fd_grad(run: Run, rows: tuple[int, ...], h: float = 1e-6) -> np.ndarray:
    """∂(mean loss over rows)/∂θ by central differences on a copy of θ (eval = train here)."""
    model, ds = run.model, run.dataset
    x, y = ds.x_train[list(rows)], ds.y_train[list(rows)]
    theta = model.theta.copy()
    g = np.empty_like(theta)
    for j in range(len(theta)):
        model.theta[j] = theta[j] + h
        up = run.loss.value(model.predict(x), y)
        model.theta[j] = theta[j] - h
        down = run.loss.value(model.predict(x), y)
        model.theta[j] = theta[j]
        g[j] = (up - down) / (2 * h)
    return g


def brute_force(run: Run, b: int) -> float:
    """E‖g_B − g‖² over every subset of b training rows (all equally likely)."""
    n = len(run.dataset.x_train)
    full = fd_grad(run, tuple(range(n)))
    devs = [
        float(np.sum((fd_grad(run, s) - full) ** 2)) for s in itertools.combinations(range(n), b)
    ]
    return float(np.mean(devs))


@pytest.fixture(scope="module")
def tiny() -> Run:
    run = Run(TINY)
    run.step(15)
    assert len(run.dataset.x_train) == 7
    return run


@pytest.mark.parametrize("b", [1, 2, 3, 6])
def test_exact_and_estimate_match_every_minibatch_enumerated(tiny: Run, b: int) -> None:
    oracle = brute_force(tiny, b)
    out = gradient_noise(tiny, [b], samples=MAX_SAMPLES)
    entry = out["batch_sizes"][0]
    # the sampling-theory value from per-example gradients equals the enumeration
    assert entry["exact"] == pytest.approx(oracle, rel=1e-6)
    # the sampled estimate is unbiased: within 4 standard errors of the enumeration
    assert abs(entry["variance"] - oracle) < 4 * entry["std_error"]
    assert entry["std_error"] < 0.1 * oracle


def test_full_batch_has_no_noise_and_sigma2_matches_per_example_oracle(tiny: Run) -> None:
    n = len(tiny.dataset.x_train)
    out = gradient_noise(tiny, [n, 1], samples=5)
    assert out["batch_sizes"][0]["variance"] == pytest.approx(0.0, abs=1e-20)
    assert out["batch_sizes"][0]["exact"] == 0.0
    full = fd_grad(tiny, tuple(range(n)))
    sigma2 = np.mean([np.sum((fd_grad(tiny, (i,)) - full) ** 2) for i in range(n)])
    assert out["per_example_variance"] == pytest.approx(sigma2, rel=1e-6)
    assert out["full_grad_sq_norm"] == pytest.approx(float(full @ full), rel=1e-6)
    assert out["batch_sizes"][1]["exact"] == pytest.approx(sigma2, rel=1e-6)  # b = 1: σ²


def test_the_run_is_left_exactly_as_it_was() -> None:
    cfg = {
        **TINY,
        "model": {"hidden": [4, 4], "batch_norm": True, "dropout": 0.2},
        "dataset": {"name": "moons", "n": 60},
        "augment": {"jitter_std": 0.2},
        "batch_size": 8,
    }
    a, b = Run(cfg), Run(cfg)
    a.step(7)
    b.step(7)
    grad, buffers = a.model.grad.copy(), a.model.buffers.copy()
    snap = a.snapshot(mode="train")
    first = gradient_noise(a, [2, 8, 48], samples=20)
    assert np.array_equal(a.model.grad, grad) and np.array_equal(a.model.buffers, buffers)
    assert str(a.snapshot(mode="train")) == str(snap)
    assert gradient_noise(a, [2, 8, 48], samples=20) == first  # same step: same batches
    a.step(20)
    b.step(20)
    ha, hb = a.history.rows(0, 27), b.history.rows(0, 27)
    assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(ha, hb, strict=True))
    assert np.array_equal(a.model.theta, b.model.theta)
    # batch norm: no per-example relation, the full batch itself still has no spread
    assert first["per_example_variance"] is None
    assert all(e["exact"] is None for e in first["batch_sizes"])
    assert first["batch_sizes"][-1]["variance"] == pytest.approx(0.0, abs=1e-20)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(0, 30))
def test_noise_shrinks_with_the_batch_size(seed: int, steps: int) -> None:
    run = Run({**TINY, "seed": seed, "dataset": {"name": "moons", "n": 40}})
    run.step(steps)
    n = len(run.dataset.x_train)
    out = gradient_noise(run, [1, 4, 16, n], samples=2)
    exact = [e["exact"] for e in out["batch_sizes"]]
    sigma2 = out["per_example_variance"]
    for e, b in zip(exact, [1, 4, 16, n], strict=True):
        assert e == pytest.approx((n - b) / (b * (n - 1)) * sigma2, rel=1e-12)
    assert exact[0] >= exact[1] >= exact[2] >= exact[3] == 0.0
    assert all(math.isfinite(v) for v in exact)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,8", "1 <= x <= 7"),
        ("8", "1 <= x <= 7"),
        ("a", "'a'"),
        ("", "1 to 8"),
        ("1,2,3,4,5,6,7,1,2", "1 to 8"),
        ("-1", "'-1'"),
    ],
)
def test_bad_batch_sizes_name_the_range(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_batch_sizes(text, 7, False)
    assert err.value.field == "batch_sizes" and message in err.value.message


def test_parse_batch_sizes() -> None:
    assert parse_batch_sizes("1, 4,full", 7, False) == [1, 4, 7]
    with pytest.raises(ConfigError, match="2 <= x <= 7"):
        parse_batch_sizes("1", 7, True)


def test_samples_and_cost_are_limited(tiny: Run) -> None:
    for bad in (1, MAX_SAMPLES + 1, 2.5, True):
        with pytest.raises(ConfigError) as err:
            gradient_noise(tiny, [1], samples=bad)
        assert err.value.field == "samples" and f"2 <= x <= {MAX_SAMPLES}" in err.value.message
    big = Run(
        {
            "dataset": {"name": "circle", "n": 2000},
            "model": {"hidden": [256, 256, 256]},
            "batch_size": 32,
        }
    )
    with pytest.raises(ConfigError) as err:
        gradient_noise(big, [1600], samples=MAX_SAMPLES)
    assert err.value.field == "samples" and "limit 5 s" in err.value.message
