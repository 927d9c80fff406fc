"""Tests for core.labs.depth: depth profile."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from core.labs.depth import depth_profile, depth_setup
from core.losses import LOSSES

# --- depth profile ---------------------------------------------------------------------------


def grad_norms(**kw: object) -> np.ndarray:
    return np.array([layer["grad_norm"] for layer in depth_profile(**kw)["layers"]])


def test_depth_profile_structure() -> None:
    r = depth_profile(depth=3, width=5, activation="relu", n=16, bins=7)
    names = [layer["name"] for layer in r["layers"]]
    assert names == ["hidden 1", "hidden 2", "hidden 3", "output"]
    for layer in r["layers"]:
        assert len(layer["act_hist"]["counts"]) == 7 and len(layer["act_hist"]["edges"]) == 8
        assert layer["saturation"] is None
    assert sum(r["layers"][0]["act_hist"]["counts"]) == 16 * 5
    assert r["layers"][-1]["dead_fraction"] is None  # n/a for the output layer
    assert all(0.0 <= layer["dead_fraction"] <= 1.0 for layer in r["layers"][:-1])
    assert r["finite"]


def test_depth_profile_grad_norm_equals_finite_differences() -> None:
    kw = dict(depth=3, width=4, activation="tanh", init="normal", n=5, seed=3,
              init_params={"std": 0.7})
    r = depth_profile(**kw)
    model, x, y = depth_setup(**kw)
    loss = LOSSES.create("mse")
    rng = np.random.default_rng(0)
    h = 1e-6
    numeric = np.empty(model.n_weights)
    for i in range(model.n_weights):
        old = model.theta[i]
        model.theta[i] = old + h
        up = loss.value(model.forward_train(x, rng), y)
        model.theta[i] = old - h
        down = loss.value(model.forward_train(x, rng), y)
        model.theta[i] = old
        numeric[i] = (up - down) / (2 * h)
    fd_norms = np.sqrt(np.add.reduceat(numeric**2, model.weight_offsets))
    np.testing.assert_allclose([lay["grad_norm"] for lay in r["layers"]], fd_norms, rtol=1e-6)
    np.testing.assert_allclose(r["loss"], loss.value(model.forward_train(x, rng), y), rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_sigmoid_normal_init_vanishes(seed: int) -> None:
    g = grad_norms(depth=20, width=16, activation="sigmoid", init="normal", seed=seed)
    assert g[0] < 1e-3 * g[-2]  # first hidden layer vs last hidden layer


@pytest.mark.parametrize("seed", range(5))
def test_kaiming_relu_and_xavier_tanh_stay_flat(seed: int) -> None:
    g = grad_norms(depth=20, width=32, activation="relu", init="kaiming_normal", seed=seed)
    assert 0.1 < g[0] / g[-2] < 10
    g = grad_norms(depth=20, width=32, activation="tanh", init="xavier_uniform", seed=seed)
    assert 0.1 < g[0] / g[-2] < 10


@pytest.mark.parametrize("fix", [{"batch_norm": True}, {"residual": True}])
def test_batch_norm_and_residual_stop_vanishing(fix: dict) -> None:
    for seed in range(3):
        g = grad_norms(depth=20, width=16, activation="sigmoid", init="normal", seed=seed, **fix)
        assert g[0] > 1e-2 * g[-2]


def test_relu_normal_init_explodes() -> None:
    r = depth_profile(depth=20, width=32, activation="relu", init="normal")
    std = np.array([layer["act_std"] for layer in r["layers"][:-1]])
    growth = std[1:] / std[:-1]  # ≈ √(width/2) = 4 per layer for ReLU with N(0, 1)
    assert np.all((growth > 2) & (growth < 8))
    assert min(layer["grad_norm"] for layer in r["layers"]) > 1e15


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_zero_init_hidden_gradients_are_exactly_zero(activation: str) -> None:
    g = grad_norms(depth=5, width=8, activation=activation, init="zeros")
    assert np.all(g[:-1] == 0.0)  # W_out = 0 blocks every signal to the hidden layers
    # output layer: dL/dW_out = hᵀg with h = f(0): zero for tanh/relu, not for sigmoid (0.5)
    assert (g[-1] > 0) == (activation == "sigmoid")


@pytest.mark.filterwarnings("error::RuntimeWarning")  # overflow is a state, not a warning
def test_depth_profile_overflow_does_not_raise() -> None:
    r = depth_profile(depth=50, width=128, activation="relu", init="normal", n=8,
                      init_params={"std": 100.0})  # activations near 1e296: finite, but the
    assert r["loss"] > 1e290  # histogram range max − min overflows
    for layer in r["layers"]:
        for hist in (layer["act_hist"], layer["grad_hist"]):
            assert np.all(np.isfinite(hist["edges"]))
        assert sum(layer["act_hist"]["counts"]) == 8 * layer["width"]
        assert sum(layer["grad_hist"]["counts"]) + layer["grad_hist"]["nonfinite"] == (
            128 * layer["width"])
    r = depth_profile(depth=50, width=256, activation="relu", init="normal", n=8,
                      init_params={"std": 100.0})
    assert not r["finite"]  # the loss (≈ 1e310) overflowed; still no exception
    assert all(np.all(np.isfinite(layer["grad_hist"]["edges"])) for layer in r["layers"])


def test_saturation_reported_for_sigmoid() -> None:
    r = depth_profile(depth=4, width=16, activation="sigmoid", init="normal",
                      init_params={"std": 5.0})
    sat = [layer["saturation"] for layer in r["layers"]]
    assert sat[-1] is None and all(s > 0.5 for s in sat[:-1])


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"depth": 0}, "depth"), ({"depth": 51}, "depth"), ({"width": 513}, "width"),
     ({"n": 0}, "n"), ({"activation": "nope"}, "activation"), ({"init": "x"}, "init"),
     ({"bins": 0}, "bins"), ({"init_params": {"std": -1.0}, "init": "normal"}, "init_params.std"),
     ({"seed": -1}, "seed")],
)
def test_depth_profile_validation(kw: dict, field: str) -> None:
    args = {"depth": 2, "width": 3, **kw}
    with pytest.raises(ConfigError) as e:
        depth_profile(**args)
    assert e.value.field == field
