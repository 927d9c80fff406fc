"""The notes' worked examples, reproduced by the engine (backprop 2-2-1, conv shape, optimizers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.convshape import conv_shape
from core.errors import ConfigError
from core.labs.backprop import backprop_example
from core.labs.trajectories import trajectory
from core.optimizers import make_optimizer

NOTES = {
    "x": [1.0, 2.0],
    "y": [0.5],
    "layers": [
        {"W": [[0.5, 0.6], [0.7, 0.8]], "b": [0.1, 0.2]},
        {"W": [[0.9], [0.1]], "b": [0.3]},
    ],
}


def run_notes() -> dict:
    return backprop_example(**NOTES, activation="sigmoid", loss="half_mse", lr=0.1)


def test_backprop_221_forward() -> None:
    r = run_notes()
    close = lambda a, b: np.testing.assert_allclose(a, b, atol=5e-7)  # noqa: E731  6 decimals
    close(r["forward"][0]["z"], [2.0, 2.4])
    close(r["forward"][0]["a"], [0.880797, 0.916827])
    close(r["forward"][1]["z"], [1.184400])
    close(r["output"], [0.765738])
    assert r["loss"] == pytest.approx(0.035308, abs=5e-7)


def test_backprop_221_backward_and_update() -> None:
    r = run_notes()
    close = lambda a, b: np.testing.assert_allclose(a, b, atol=5e-7)  # noqa: E731
    b1, b2 = r["backward"]
    close(b2["delta"], [0.047669])
    close(b2["dW"], [[0.041987], [0.043704]])
    close(b2["db"], [0.047669])
    close(b1["delta"], [0.004504, 0.000363])
    close(b1["dW"], [[0.004504, 0.000363], [0.009009, 0.000727]])  # (in, out)
    u1, u2 = r["updated"]
    close(u1["W"], [[0.499550, 0.599964], [0.699099, 0.799927]])
    close(u1["b"], [0.099550, 0.199964])
    close(u2["W"], [[0.895801], [0.095630]])
    close(u2["b"], [0.295233])


def test_notes_table_slip_sigmoid_2_4() -> None:
    """The notes' table uses σ(2.4) = 0.9084; the true value is 0.916827 (we use the truth)."""
    true = 1.0 / (1.0 + math.exp(-2.4))
    assert true == pytest.approx(0.916827, abs=5e-7)
    assert abs(true - 0.9084) > 8e-3
    assert run_notes()["forward"][0]["a"][1] == pytest.approx(true, rel=1e-15)


def test_backprop_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    layers = [{"W": rng.normal(size=(3, 4)).tolist(), "b": rng.normal(size=4).tolist()},
              {"W": rng.normal(size=(4, 2)).tolist(), "b": rng.normal(size=2).tolist()}]
    x, y = [0.3, -1.2, 0.8], [0.2, -0.4]
    kw = dict(activation="tanh", loss="half_mse", output_activation="identity")
    r = backprop_example(x, y, layers, **kw)
    h = 1e-6
    for k, key in [(0, "W"), (1, "W"), (0, "b"), (1, "b")]:
        arr = np.array(layers[k][key])
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            vals = []
            for sgn in (1, -1):
                pert = [dict(lay) for lay in layers]
                a2 = arr.copy()
                a2[idx] += sgn * h
                pert[k][key] = a2.tolist()
                vals.append(backprop_example(x, y, pert, **kw)["loss"])
            num[idx] = (vals[0] - vals[1]) / (2 * h)
        grad = r["backward"][k]["dW" if key == "W" else "db"]
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(4))
def test_backprop_matches_torch(seed: int) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    dims = [int(d) for d in rng.integers(1, 5, size=rng.integers(2, 5))]
    act, out_act = [("sigmoid", None), ("tanh", "identity"), ("relu", "sigmoid"),
                    ("gelu", None)][seed]
    layers = [{"W": rng.normal(size=(i, o)), "b": rng.normal(size=o)}
              for i, o in zip(dims[:-1], dims[1:], strict=False)]
    x, y = rng.normal(size=dims[0]), rng.normal(size=dims[-1])
    r = backprop_example(x.tolist(), y.tolist(),
                         [{"W": lay["W"].tolist(), "b": lay["b"].tolist()} for lay in layers],
                         activation=act, output_activation=out_act, lr=0.05)
    fns = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "gelu": torch.nn.functional.gelu, "identity": lambda t: t}
    params = [(torch.tensor(lay["W"], requires_grad=True), torch.tensor(lay["b"],
               requires_grad=True)) for lay in layers]
    a = torch.tensor(x)
    for k, (W, b) in enumerate(params):
        f = fns[out_act or act] if k == len(params) - 1 else fns[act]
        a = f(a @ W + b)
    loss = 0.5 * torch.nn.functional.mse_loss(a, torch.tensor(y))
    loss.backward()
    assert r["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for (W, b), bk, up in zip(params, r["backward"], r["updated"], strict=True):
        np.testing.assert_allclose(bk["dW"], W.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(bk["db"], b.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(up["W"], (W - 0.05 * W.grad).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"x": [1.0, 2.0, 3.0]}, "layers[0].W"),
        ({"y": [0.5, 0.1]}, "y"),
        ({"layers": [NOTES["layers"][0], {"W": [[0.9, 0.1]], "b": [0.3]}]}, "layers[1].W"),
        ({"layers": [NOTES["layers"][0], {"W": [[0.9], [0.1]], "b": [0.3, 1]}]}, "layers[1].b"),
        ({"layers": [NOTES["layers"][0], {"W": [[0.9], [0.1]]}]}, "layers[1]"),
        ({"layers": []}, "layers"),
        ({"activation": "nope"}, "activation"),
        ({"loss": "nope"}, "loss.name"),
        ({"lr": -0.1}, "lr"),
        ({"x": [1.0, float("inf")]}, "x"),
    ],
)
def test_backprop_validation(change: dict, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        backprop_example(**{**NOTES, **change})
    assert e.value.field == field


def test_conv_feature_map_example() -> None:
    assert conv_shape(5, 3, padding=0, stride=2).output_size == 2  # W1=5, F=3, P=0, S=2


# --- optimizer numbers on f(w) = ½w² (gradient w) -------------------------------------------


def test_sgd_momentum_notes_numbers() -> None:
    opt = make_optimizer("sgd", {"lr": 0.01, "momentum": 0.9})
    w = np.array([1.0])
    seen = []
    for _ in range(2):
        opt.step(w, w.copy(), 0.01)
        seen.append(round(float(w[0]), 4))
    assert seen == [0.99, 0.9711]
    # the same through the trajectory lab (quadratic with a = 1 in x)
    r = trajectory("quadratic", [1.0, 0.0], {"name": "sgd", "lr": 0.01, "momentum": 0.9},
                   steps=2, params={"a": 1.0, "b": 1.0})
    np.testing.assert_allclose(r["path"][:, 0], [1.0, 0.99, 0.9711], rtol=1e-12)


def test_rmsprop_notes_numbers() -> None:
    opt = make_optimizer("rmsprop", {"lr": 0.01, "alpha": 0.9})
    w = np.array([0.1])
    opt.step(w, w.copy(), 0.01)
    assert round(float(w[0]), 4) == 0.0684
    r = trajectory("quadratic", [0.1, 0.0], {"name": "rmsprop", "lr": 0.01, "alpha": 0.9},
                   steps=1, params={"a": 1.0, "b": 1.0})
    assert r["path"][1, 0] == pytest.approx(0.1 - 0.01 * 0.1 / (math.sqrt(0.1 * 0.01) + 1e-8))
