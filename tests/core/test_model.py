"""Finite-difference gradient checks and structural tests for core.model.MLP."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.errors import ConfigError
from core.losses import LOSSES
from core.model import MLP, ModelSpec, resolve_model_config


def fd_check(spec: ModelSpec, loss_name: str, y: np.ndarray, n: int = 6, seed: int = 0) -> None:
    """Central differences (h = 1e-6) on every parameter; dropout uses a fixed mask."""
    rng = np.random.default_rng(seed)
    model = MLP(spec, rng)
    model.theta += rng.normal(scale=0.05, size=model.n_params)  # move off symmetric init
    x = rng.normal(size=(n, spec.input_dim))
    loss = LOSSES.create(loss_name)

    def value() -> float:
        out = model.forward_train(x, np.random.default_rng(123))  # same dropout mask each time
        return loss.value(out, y)

    out = model.forward_train(x, np.random.default_rng(123))
    _, g = loss.value_and_grad(out, y)
    model.backward(g)
    analytic = model.grad.copy()
    numeric = np.empty_like(analytic)
    h = 1e-6
    for i in range(model.n_params):
        old = model.theta[i]
        model.theta[i] = old + h
        up = value()
        model.theta[i] = old - h
        down = value()
        model.theta[i] = old
        numeric[i] = (up - down) / (2 * h)
    scale = max(1.0, float(np.max(np.abs(numeric))))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7 * scale)


CASES: list[dict[str, Any]] = [
    {"hidden": (5, 4), "activation": "tanh"},
    {"hidden": (4, 4, 4), "activation": "sigmoid", "residual": True},
    {"hidden": (5, 5), "activation": "gelu", "batch_norm": True},
    {"hidden": (4, 4), "activation": "silu", "layer_norm": True, "residual": True},
    {"hidden": (6, 5), "activation": "tanh", "dropout": 0.3},
    {"hidden": (5, 5), "activation": "elu", "batch_norm": True, "dropout": 0.2, "residual": True},
    {"hidden": (4,), "activation": "softplus"},
    {"hidden": (), "activation": "tanh"},
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_whole_model_gradients_match_finite_differences(case: dict[str, Any], task: str) -> None:
    rng = np.random.default_rng(7)
    n = 6
    if task == "binary":
        out_dim, loss, y = 1, "bce_with_logits", (rng.random((n, 1)) > 0.5).astype(float)
    elif task == "multiclass":
        out_dim, loss, y = 3, "cross_entropy", rng.integers(0, 3, size=n)
    else:
        out_dim, loss, y = 2, "smooth_l1", rng.normal(size=(n, 2))
    spec = ModelSpec(input_dim=3, output_dim=out_dim, init="xavier_normal", **case)
    fd_check(spec, loss, y, n=n)


def test_layout_weights_first_and_views_share_memory() -> None:
    spec = ModelSpec(input_dim=2, output_dim=1, hidden=(3, 4), batch_norm=True)
    model = MLP(spec, np.random.default_rng(0))
    assert model.n_weights == 2 * 3 + 3 * 4 + 4 * 1
    assert model.n_params == model.n_weights + (3 + 4 + 1) + 2 * (3 + 4)
    model.blocks[1].dense.W[0, 0] = 42.0
    assert model.theta[6] == 42.0  # W_2 starts right after W_1 (2 x 3)
    assert np.shares_memory(model.weights, model.theta)


def test_relu_dead_fraction_and_tanh_saturation() -> None:
    spec = ModelSpec(input_dim=2, output_dim=1, hidden=(4,), activation="relu")
    model = MLP(spec, np.random.default_rng(0))
    model.blocks[0].dense.W[...] = 0.0
    model.blocks[0].dense.b[...] = np.array([-1.0, -1.0, 1.0, 1.0])  # two units always off
    model.forward_train(np.ones((5, 2)), np.random.default_rng(0))
    _, _, saturation, dead = model.activation_stats()
    assert saturation is None
    assert dead is not None and dead[0] == 0.5 and np.isnan(dead[1])

    spec = ModelSpec(input_dim=1, output_dim=1, hidden=(2,), activation="tanh")
    model = MLP(spec, np.random.default_rng(0))
    model.blocks[0].dense.W[...] = np.array([[10.0, 0.1]])  # unit 0 saturates at |x| = 1
    model.blocks[0].dense.b[...] = 0.0
    model.forward_train(np.array([[1.0], [-1.0], [0.01]]), np.random.default_rng(0))
    mean, std, saturation, _ = model.activation_stats()
    assert saturation is not None and saturation[0] == pytest.approx(2 / 6)
    acts = np.tanh(np.array([[10.0, 0.1], [-10.0, -0.1], [0.1, 0.001]]))
    assert mean[0] == pytest.approx(acts.mean()) and std[0] == pytest.approx(acts.std())


def test_dropout_is_inverted_and_identity_in_eval() -> None:
    spec = ModelSpec(input_dim=3, output_dim=1, hidden=(200,), activation="identity",
                     dropout=0.25, init="ones")
    model = MLP(spec, np.random.default_rng(0))
    x = np.ones((50, 3))
    model.forward_train(x, np.random.default_rng(1))
    mask = model.blocks[0].mask
    assert mask is not None
    assert set(np.unique(mask)) <= {0.0, 1 / 0.75}
    assert abs((mask == 0).mean() - 0.25) < 0.02
    evals = model.forward_eval(x)
    np.testing.assert_allclose(evals[0], 3.0)  # no dropout, no scaling in eval


def test_set_layers_validates_shapes_and_keeps_state_on_error() -> None:
    spec = ModelSpec(input_dim=2, output_dim=1, hidden=(3,))
    model = MLP(spec, np.random.default_rng(0))
    layers = model.get_layers()
    before = model.theta.copy()
    bad = [dict(layers[0]), {"W": np.zeros((4, 1)), "b": np.zeros(1)}]
    bad[0]["W"] = bad[0]["W"] + 1.0
    with pytest.raises(ConfigError) as err:
        model.set_layers(bad)
    assert err.value.field == "layers[1].W" and "expected shape [3, 1]" in err.value.message
    np.testing.assert_array_equal(model.theta, before)
    model.set_layers([{k: v.tolist() for k, v in lay.items()} for lay in layers])
    np.testing.assert_array_equal(model.theta, before)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"hidden": [8] * 65}, "model.hidden"),
        ({"hidden": [0]}, "model.hidden[0]"),
        ({"hidden": [513]}, "model.hidden[0]"),
        ({"activation": "swish"}, "model.activation"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"batch_norm": True, "layer_norm": True}, "model.layer_norm"),
        ({"bias_init": "xavier_uniform"}, "model.bias_init"),
        ({"colour": "red"}, "model.colour"),
    ],
)
def test_model_config_errors_name_the_field(values: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_model_config(values)
    assert err.value.field == field


@pytest.mark.parametrize(
    "case",
    [
        {"hidden": (5, 4), "activation": "tanh"},
        {"hidden": (4, 4), "activation": "relu", "layer_norm": True, "residual": True},
        {"hidden": (6,), "activation": "sigmoid"},
        {"hidden": (), "activation": "tanh"},
    ],
)
def test_extra_evaluation_rows_change_nothing_for_the_batch(case: dict[str, Any]) -> None:
    """The trainer appends the validation rows to the training forward pass (when eval mode
    equals train mode): gradients, statistics and outputs of the batch must be unaffected, and
    the extra rows must equal an eval-mode prediction."""
    rng = np.random.default_rng(3)
    spec = ModelSpec(input_dim=2, output_dim=1, **case)
    a, b = MLP(spec, np.random.default_rng(0)), MLP(spec, np.random.default_rng(0))
    assert a.eval_equals_train
    x, extra = rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    y = (rng.random((7, 1)) > 0.5).astype(float)
    loss = LOSSES.create("bce_with_logits")

    out_a = a.forward_train(x, rng)
    out_b = b.forward_train(np.concatenate((x, extra)), rng, n_train=7)
    np.testing.assert_allclose(out_b[:7], out_a, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(out_b[7:], a.predict(extra), rtol=1e-13, atol=1e-15)
    for sa, sb in zip(a.activation_stats(), b.activation_stats(), strict=True):
        if sa is None:
            assert sb is None
        else:
            np.testing.assert_allclose(sb, sa, rtol=1e-12, atol=1e-15, equal_nan=True)
    a.backward(loss.value_and_grad(out_a, y)[1])
    b.backward(loss.value_and_grad(out_b[:7], y)[1])
    np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12, atol=1e-15)
