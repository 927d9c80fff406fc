"""Batch norm and layer norm inside a mini-batch training run, against PyTorch, after every step.

Fixture from ``scripts/golden/normalization.py`` (``make golden``): torch's running statistics,
batch statistics, mean absolute gaps, folded inference affine (``fuse_linear_bn_eval``), and
every layer's activation on validation rows in eval mode and in train mode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.layers import BatchNorm1d, LayerNorm
from core.losses import LOSSES
from core.model import MLP, ModelSpec
from core.normalization import bn_gaps, forward_mode, mode_comparison
from core.optimizers import make_optimizer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden_normalization.json"
GOLDEN = json.loads(FIXTURE.read_text())
RTOL, ATOL = 1e-6, 1e-12


def close(got: Any, want: Any, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64), np.asarray(want), rtol=RTOL, atol=ATOL, err_msg=what
    )


def build(case: dict[str, Any], inputs: dict[str, Any]) -> MLP:
    spec = ModelSpec(
        input_dim=case["input_dim"],
        output_dim=case["output_dim"],
        hidden=tuple(case["hidden"]),
        activation=case["activation"],
        batch_norm=case["batch_norm"],
        layer_norm=case["layer_norm"],
        residual=case["residual"],
        batch_norm_momentum=case["momentum"],
    )
    model = MLP(spec, np.random.default_rng(0))
    model.set_layers(inputs["layers"])
    return model


def targets(case: dict[str, Any], values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int64 if case["task"] == "multiclass" else np.float64)


@pytest.mark.parametrize("entry", GOLDEN["cases"], ids=[c["case"]["name"] for c in GOLDEN["cases"]])
def test_every_step_matches_torch(entry: dict[str, Any]) -> None:
    case, inputs = entry["case"], entry["inputs"]
    model = build(case, inputs)
    x, y = np.asarray(inputs["x"], dtype=np.float64), targets(case, inputs["y"])
    x_val, y_val = np.asarray(inputs["x_val"], dtype=np.float64), targets(case, inputs["y_val"])
    loss = LOSSES.create(case["loss"])
    opt_cfg = dict(case["optimizer"])
    optimizer = make_optimizer(opt_cfg.pop("name"), opt_cfg)
    bns = [b.norm for b in model.blocks if isinstance(b.norm, BatchNorm1d)]
    assert len(bns) == (len(case["hidden"]) if case["batch_norm"] else 0)
    rng = np.random.default_rng(0)
    for t, step in enumerate(entry["steps"]):
        lo, hi = step["batch"]
        out = model.forward_train(x[lo:hi], rng)
        value, g = loss.value_and_grad(out, y[lo:hi])
        model.backward(g)
        optimizer.step(model.theta, model.grad, case["optimizer"]["lr"])
        assert value == pytest.approx(step["loss"], rel=RTOL), f"loss at step {t}"
        # Parameters and running statistics after the step.
        for k, (got, want) in enumerate(zip(model.get_layers(), step["params"], strict=True)):
            assert set(got) == set(want), f"step {t} layer {k}"
            for key in want:
                close(got[key], want[key], f"step {t} layers[{k}].{key}")
        # Batch statistics, gaps, folded affine.
        assert len(step["batch_norm"]) == len(bns)
        for k, (bn, want) in enumerate(zip(bns, step["batch_norm"], strict=True)):
            assert bn.momentum == case["momentum"]
            close(bn.batch_mean, want["batch_mean"], f"step {t} bn {k} batch_mean")
            close(bn.batch_var, want["batch_var"], f"step {t} bn {k} batch_var")
            mean_gap, var_gap = bn_gaps(bn)
            assert mean_gap == pytest.approx(want["mean_gap"], rel=RTOL), f"step {t} bn {k}"
            assert var_gap == pytest.approx(want["var_gap"], rel=RTOL), f"step {t} bn {k}"
            scale, shift = bn.folded_affine()
            close(scale, want["scale"], f"step {t} bn {k} scale")
            # shift = beta - scale * running_mean cancels: judge it on the size of its terms.
            terms = np.abs(bn.beta) + np.abs(scale * bn.running_mean)
            np.testing.assert_allclose(
                shift,
                want["shift"],
                rtol=0,
                atol=RTOL * terms.max(),
                err_msg=f"step {t} bn {k} shift",
            )
        # Both modes on the validation rows; the train-mode look changes nothing.
        before = model.buffers.copy(), model.theta.copy()
        evals = forward_mode(model, x_val, False, rng)
        trains = forward_mode(model, x_val, True, rng)
        assert np.array_equal(model.buffers, before[0]) and np.array_equal(model.theta, before[1])
        for k in range(model.n_layers):
            close(evals[k], step["eval_activations"][k], f"step {t} eval layer {k}")
            close(trains[k], step["train_activations"][k], f"step {t} train layer {k}")
        close(model.predict(x_val), step["eval_activations"][-1], f"step {t} predict")
        cmp = mode_comparison(model, x_val, y_val, loss, rng, full=True)
        for k, layer in enumerate(cmp["layers"]):
            a = np.asarray(step["train_activations"][k])
            b = np.asarray(step["eval_activations"][k])
            want = np.abs(a - b).mean()
            assert layer["mean_abs_diff"] == pytest.approx(want, rel=1e-6, abs=1e-12)
        close(cmp["activations"]["eval"][-1], step["eval_activations"][-1], f"step {t} cmp")


def test_fixture_has_batch_norm_that_moves() -> None:
    """The fixture is not degenerate: running statistics move and train != eval."""
    for entry in GOLDEN["cases"]:
        if not entry["case"]["batch_norm"]:
            continue
        first, last = entry["steps"][0], entry["steps"][-1]
        assert first["params"][0]["running_mean"] != last["params"][0]["running_mean"]
        diff = np.abs(
            np.asarray(last["train_activations"][-1]) - np.asarray(last["eval_activations"][-1])
        )
        assert diff.max() > 1e-3


# ------------------------------------------------------------------ live, when torch is here
@settings(max_examples=25)
@given(
    width=st.integers(1, 6),
    n=st.integers(2, 9),
    steps=st.integers(1, 6),
    momentum=st.sampled_from([0.0, 0.1, 0.3, 0.9, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_batch_norm_layer_live_against_torch(
    width: int, n: int, steps: int, momentum: float, seed: int
) -> None:
    """Fresh random cases: running statistics after every training pass, train-mode and
    eval-mode outputs and the folded affine equal torch.nn.BatchNorm1d's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    gamma, beta = 1.0 + rng.normal(scale=0.3, size=width), rng.normal(size=width)
    ours = BatchNorm1d(
        gamma.copy(),
        beta.copy(),
        np.zeros(width),
        np.zeros(width),
        np.zeros(width),
        np.ones(width),
        momentum=momentum,
    )
    theirs = torch.nn.BatchNorm1d(width, momentum=momentum).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    for _ in range(steps):
        z = rng.normal(loc=rng.normal(), scale=rng.uniform(0.5, 3), size=(n, width))
        theirs.train()
        want = theirs(torch.tensor(z)).detach().numpy()
        close(ours.normalize(z, True), want, "train look")
        close(ours.forward(z, True), want, "train")
        close(ours.running_mean, theirs.running_mean.numpy(), "running_mean")
        close(ours.running_var, theirs.running_var.numpy(), "running_var")
        theirs.eval()
        with torch.no_grad():
            close(ours.forward(z, False), theirs(torch.tensor(z)).numpy(), "eval")
        identity = torch.nn.Linear(width, width).double().eval()
        with torch.no_grad():
            identity.weight.copy_(torch.eye(width, dtype=torch.float64))
            identity.bias.zero_()
        fused = torch.nn.utils.fusion.fuse_linear_bn_eval(identity, theirs)
        scale, shift = ours.folded_affine()
        close(scale, torch.diagonal(fused.weight).detach().numpy(), "scale")
        np.testing.assert_allclose(shift, fused.bias.detach().numpy(), rtol=1e-9, atol=1e-12)


@settings(max_examples=25)
@given(width=st.integers(2, 8), n=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_layer_norm_layer_live_against_torch(width: int, n: int, seed: int) -> None:
    """torch.nn.LayerNorm(width) (eps 1e-5, elementwise affine), both modes, and its backward."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    gamma, beta = 1.0 + rng.normal(scale=0.3, size=width), rng.normal(size=width)
    dgamma, dbeta = np.zeros(width), np.zeros(width)
    ours = LayerNorm(gamma.copy(), beta.copy(), dgamma, dbeta)
    theirs = torch.nn.LayerNorm(width).double()
    assert theirs.eps == ours.eps and theirs.elementwise_affine
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    z = rng.normal(loc=rng.normal(), scale=rng.uniform(0.5, 3), size=(n, width))
    zt = torch.tensor(z, requires_grad=True)
    want = theirs(zt)
    gy = rng.normal(size=(n, width))
    want.backward(torch.tensor(gy))
    close(ours.forward(z, False), want.detach().numpy(), "eval")
    close(ours.forward(z, True), want.detach().numpy(), "train")
    close(ours.backward(gy), zt.grad.numpy(), "dL/dz")
    close(dgamma, theirs.weight.grad.numpy(), "dL/dgamma")
    close(dbeta, theirs.bias.grad.numpy(), "dL/dbeta")
