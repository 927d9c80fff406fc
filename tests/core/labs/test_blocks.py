"""core.labs.blocks and core.convshape.pool_shape: golden values from PyTorch
(scripts/golden/blocks.py), finite differences, and the sine dataset's outliers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.activations import ACTIVATIONS
from core.convshape import conv_shape, pool_shape
from core.datasets import make_dataset
from core.errors import ConfigError
from core.labs.blocks import (
    activation_profile,
    conv_param_count,
    iterations_per_epoch,
    loss_curve,
    mlp_param_count,
    softmax_demo,
)
from core.trainer import Run

GOLDEN = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "golden_blocks.json").read_text()
)


# --- golden vs torch ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["loss_curves"], ids=lambda c: f"{c['name']}{c['params']}")
def test_loss_curve_matches_torch(case: dict[str, Any]) -> None:
    xs = case["x"]
    axis_lo, axis_hi = xs[0], xs[-1]
    res = loss_curve(
        case["name"], case["params"], axis_lo, axis_hi, n=len(xs), target=case.get("target", 1.0)
    )
    if case["name"] in ("bce", "cross_entropy"):
        # the probability grid is not equally spaced: evaluate point by point
        vals, ders = [], []
        for x in xs:
            r = loss_curve(
                case["name"],
                case["params"],
                x,
                min(x + 1e-9, 1 - 1e-12),
                n=2,
                target=case.get("target", 1.0),
            )
            vals.append(r["value"][0])
            ders.append(r["derivative"][0])
        np.testing.assert_allclose(vals, case["value"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ders, case["derivative"], rtol=1e-9, atol=1e-12)
    else:
        # the engine's grid is linspace: the golden residuals are equally spaced too
        np.testing.assert_allclose(res["x"], xs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res["value"], case["value"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(res["derivative"], case["derivative"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", GOLDEN["softmax"], ids=lambda c: str(c["logits"]))
def test_softmax_matches_torch(case: dict[str, Any]) -> None:
    res = softmax_demo(case["logits"], case["temperature"], case["target"])
    np.testing.assert_allclose(res["probabilities"], case["probabilities"], rtol=1e-12, atol=1e-300)
    assert res["cross_entropy"] == pytest.approx(case["cross_entropy"], rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(
        res["gradient_logits"], case["gradient_logits"], rtol=1e-10, atol=1e-15
    )


def test_conv_sizes_match_torch() -> None:
    for w, f, p, s, d, want in GOLDEN["conv_sizes"]:
        if want is None:
            with pytest.raises(ConfigError):
                conv_shape(w, f, p, s, d)
        else:
            assert conv_shape(w, f, p, s, d).output_size == want, (w, f, p, s, d)


def test_pool_sizes_match_torch() -> None:
    for w, f, p, s, d, ceil, want in GOLDEN["pool_sizes"]:
        if want is None:
            with pytest.raises(ConfigError):
                pool_shape(w, f, p, s, d, ceil_mode=ceil)
        else:
            assert pool_shape(w, f, p, s, d, ceil_mode=ceil).output_size == want, (
                w,
                f,
                p,
                s,
                d,
                ceil,
            )


@pytest.mark.parametrize("case", GOLDEN["param_counts"], ids=lambda c: c["kind"])
def test_param_counts_match_torch_numel(case: dict[str, Any]) -> None:
    if case["kind"] == "mlp":
        got = mlp_param_count(case["sizes"], case["bias"])
    else:
        got = conv_param_count(
            case["input_size"], case["in_channels"], case["layers"], case["classes"], case["bias"]
        )
    assert got["total"] == case["total"]
    assert sum(layer["weight"] + layer["bias"] for layer in got["layers"]) == case["total"]


# --- the notes' numbers --------------------------------------------------------------------------


def test_notes_conv_example_and_iterations() -> None:
    assert conv_shape(5, 3, 0, 2).output_size == 2
    it = iterations_per_epoch(50000, 256)
    assert (it["iterations"], it["iterations_drop_last"], it["dropped"]) == (196, 195, 80)
    assert iterations_per_epoch(512, 256)["iterations"] == 2
    assert iterations_per_epoch(512, 256)["dropped"] == 0


@given(n=st.integers(1, 10**6), b=st.integers(1, 10**6))
def test_iterations_cover_every_sample(n: int, b: int) -> None:
    it = iterations_per_epoch(n, b)
    assert (it["iterations"] - 1) * b < n <= it["iterations"] * b
    assert it["iterations_drop_last"] * b <= n < (it["iterations_drop_last"] + 1) * b


# --- activations -------------------------------------------------------------------------------


def test_saturated_regions_are_the_engines_definition() -> None:
    sig = activation_profile("sigmoid", {}, -10, 10, 2001)
    assert len(sig["saturated"]) == 2
    (lo0, hi0), (lo1, hi1) = sig["saturated"]
    # σ'(z) = 0.0125 at |z| = 4.3567…: the intervals end at the last grid points beyond it
    assert lo0 == -10 and hi1 == 10
    assert hi0 == pytest.approx(-4.36, abs=0.011) and lo1 == pytest.approx(4.36, abs=0.011)
    dy = np.asarray(sig["dy"])
    x = np.asarray(sig["x"])
    inside = (x > hi0) & (x < lo1)
    assert np.all(dy[inside] >= 0.05 * 0.25) and np.all(dy[~inside] < 0.05 * 0.25)
    tanh = activation_profile("tanh", {}, -6, 6, 1201)
    assert tanh["saturated"][1][0] == pytest.approx(2.18, abs=0.011)
    for name in ("relu", "identity", "gelu", "silu", "elu", "softplus", "leaky_relu"):
        assert activation_profile(name, {})["saturated"] == []


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_every_activation_has_a_true_range(name: str) -> None:
    prof = activation_profile(name, {}, -50, 50, 5001)
    rng = prof["output_range"]
    y = np.asarray(prof["y"])
    if rng["min"] is not None:
        assert np.all(y >= rng["min"] - 1e-9)
        if rng["min_closed"]:
            assert np.min(y) == pytest.approx(rng["min"], abs=1e-3)
    if rng["max"] is not None:
        assert np.all(y <= rng["max"] + 1e-9)
    assert prof["zero_centred"] == (name in ("identity", "tanh"))
    assert prof["negative_outputs"] == (
        name in ("identity", "tanh", "leaky_relu", "elu", "gelu", "silu")
    )


def test_range_follows_parameters() -> None:
    assert activation_profile("elu", {"alpha": 2.5})["output_range"]["min"] == -2.5
    assert activation_profile("leaky_relu", {"negative_slope": 0.0})["output_range"]["min"] == 0.0
    with pytest.raises(ConfigError) as err:
        activation_profile("elu", {"alpha": -1})
    assert err.value.field == "params.alpha"


# --- softmax -------------------------------------------------------------------------------------


def test_naive_softmax_overflows_and_the_shift_does_not() -> None:
    res = softmax_demo([1000.0, 999.0, 998.0])
    assert res["naive_overflow"] == [True, True, True]
    assert not res["naive_ok"]
    assert all(math.isnan(v) for v in res["naive_probabilities"])
    assert np.all(np.isfinite(res["probabilities"]))
    assert res["probabilities"][0] == pytest.approx(1 / (1 + math.exp(-1) + math.exp(-2)))
    small = softmax_demo([2.0, 1.0, 0.1])
    assert small["naive_ok"]
    np.testing.assert_allclose(small["naive_probabilities"], small["probabilities"], rtol=1e-14)


@settings(max_examples=50, deadline=None)
@given(
    logits=st.lists(st.floats(-50, 50), min_size=2, max_size=6),
    t=st.floats(0.1, 10),
    data=st.data(),
)
def test_softmax_gradient_is_finite_difference(logits: list[float], t: float, data: Any) -> None:
    y = data.draw(st.integers(0, len(logits) - 1))
    res = softmax_demo(logits, t, y)
    assert sum(res["probabilities"]) == pytest.approx(1.0)
    h = 1e-6
    for i in range(len(logits)):
        up, down = list(logits), list(logits)
        up[i] += h
        down[i] -= h
        fd = softmax_demo(up, t, y)["cross_entropy"] - softmax_demo(down, t, y)["cross_entropy"]
        assert res["gradient_logits"][i] == pytest.approx(fd / (2 * h), abs=1e-5)


def test_softmax_errors_name_the_field() -> None:
    for kwargs, field in (
        ({"logits": [1.0]}, "logits"),
        ({"logits": [1.0, 2e4]}, "logits[1]"),
        ({"logits": [1.0, 2.0], "temperature": 0.0}, "temperature"),
        ({"logits": [1.0, 2.0], "target": 2}, "target"),
    ):
        with pytest.raises(ConfigError) as err:
            softmax_demo(**kwargs)
        assert err.value.field == field


# --- losses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,params",
    [
        ("mse", {}),
        ("mae", {}),
        ("smooth_l1", {"beta": 0.7}),
        ("huber", {"delta": 1.3}),
        ("bce", {}),
        ("cross_entropy", {}),
    ],
)
def test_loss_derivative_is_finite_difference(name: str, params: dict[str, Any]) -> None:
    lo, hi = (-2.9, 2.9) if name not in ("bce", "cross_entropy") else (0.05, 0.95)
    res = loss_curve(name, params, lo, hi, n=57, target=0.3)
    x, v, d = (np.asarray(res[k]) for k in ("x", "value", "derivative"))
    h = 1e-6
    up = np.array([loss_curve(name, params, xi + h, xi + 2 * h, 2, 0.3)["value"][0] for xi in x])
    down = np.array([loss_curve(name, params, xi - h, xi, 2, 0.3)["value"][0] for xi in x])
    fd = (up - down) / (2 * h)
    smooth = np.abs(x) > 1e-3  # the MAE kink at 0 is not differentiable
    np.testing.assert_allclose(d[smooth], fd[smooth], rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(v))


def test_loss_curve_errors_name_the_field() -> None:
    for args, field in (
        (("bce", {}, 0.0, 0.5), "x_min"),
        (("mse", {}, 1.0, 0.5), "x_max"),
        (("huber", {"delta": 0.0}), "params.delta"),
        (("nope", {}), "name"),
        (("bce", {"beta": 1.0}), "params.beta"),
    ):
        with pytest.raises(ConfigError) as err:
            loss_curve(*args)
        assert err.value.field == field


# --- parameter counts ----------------------------------------------------------------------------


def test_conv_count_errors_name_the_layer() -> None:
    with pytest.raises(ConfigError) as err:
        conv_param_count(4, 1, [{"out_channels": 2, "kernel_size": 3}] * 2, 10)
    assert err.value.field == "layers[1].kernel_size"
    with pytest.raises(ConfigError) as err:
        mlp_param_count([2, 0, 1])
    assert err.value.field == "sizes[1]"


# --- outliers ------------------------------------------------------------------------------------


def test_sine_outliers_are_seeded_and_leave_clean_data_alone() -> None:
    def data(outliers: float) -> Any:
        return make_dataset(
            "sine", n=100, noise=0.1, params={"outliers": outliers}, rng=np.random.default_rng(3)
        )

    clean, dirty, again = data(0.0), data(0.2), data(0.2)
    np.testing.assert_array_equal(dirty.y_train, again.y_train)

    def by_x(ds: Any) -> tuple[np.ndarray, np.ndarray]:
        # the outliers are drawn before the split, so compare the points sorted by x
        x = np.concatenate([ds.x_train, ds.x_val])[:, 0]
        y = np.concatenate([ds.y_train, ds.y_val])[:, 0]
        order = np.argsort(x)
        return x[order], y[order]

    (xc, yc), (xd, yd) = by_x(clean), by_x(dirty)
    np.testing.assert_array_equal(xc, xd)  # same inputs, same clean targets underneath
    shift = yd - yc
    moved = shift != 0
    assert moved.sum() == 20
    assert np.all((shift[moved] >= 3) & (shift[moved] <= 5))
    assert len(dirty.truth["outliers"]) == 20
    with pytest.raises(ConfigError) as err:
        data(0.6)
    assert err.value.field == "dataset.params.outliers"


def _fit(loss: str) -> float:
    run = Run(
        {
            "seed": 0,
            "dataset": {"name": "sine", "n": 200, "noise": 0.1, "params": {"outliers": 0.2}},
            "model": {"hidden": [16, 16], "activation": "tanh"},
            "loss": loss,
            "optimizer": {"name": "adam", "lr": 0.01},
            "batch_size": 32,
        }
    )
    run.step(1500, collect=False)
    curve = run.snapshot(30, 50, 2000, None)["curve"]
    x, y = np.asarray(curve["x"]), np.asarray(curve["y"])
    return float(np.median(y - np.sin(x)))  # how far the fit sits above the clean sine


def test_outliers_pull_the_mse_fit_not_the_mae_fit() -> None:
    mse, mae, smooth = _fit("mse"), _fit("mae"), _fit("smooth_l1")
    # 20 % of targets shifted by ~4: the mean moves by ~0.8, the median hardly
    assert mse > 0.5
    assert abs(mae) < 0.25
    assert abs(smooth) < mse - 0.3
