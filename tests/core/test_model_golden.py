"""Whole-model training steps against PyTorch (fixture from scripts/golden/model.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.layers import BatchNorm1d
from core.losses import LOSSES
from core.model import MLP, ModelSpec
from core.optimizers import make_optimizer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden_model.json"
RTOL, ATOL = 1e-6, 1e-12


def build(case: dict[str, Any], inputs: dict[str, Any]) -> MLP:
    spec = ModelSpec(
        input_dim=case["input_dim"],
        output_dim=case["output_dim"],
        hidden=tuple(case["hidden"]),
        activation=case["activation"],
        batch_norm=case["batch_norm"],
        layer_norm=case["layer_norm"],
        residual=case["residual"],
    )
    model = MLP(spec, np.random.default_rng(0))
    model.set_layers(inputs["layers"])
    return model


def grads_of(model: MLP) -> list[dict[str, np.ndarray]]:
    out = []
    for block in model.blocks:
        entry = {"W": block.dense.dW, "b": block.dense.db}
        if block.norm is not None:
            entry["gamma"], entry["beta"] = block.norm.dgamma, block.norm.dbeta
        out.append(entry)
    out.append({"W": model.output.dW, "b": model.output.db})
    return out


def assert_layers_close(got: list[dict[str, Any]], want: list[dict[str, Any]], what: str) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert set(w) <= set(g), f"{what} layer {k}: missing {set(w) - set(g)}"
        for key in w:
            np.testing.assert_allclose(
                g[key], np.asarray(w[key]), rtol=RTOL, atol=ATOL, err_msg=f"{what}[{k}].{key}"
            )


def replay(case: dict[str, Any], inputs: dict[str, Any], expected: dict[str, Any]) -> None:
    model = build(case, inputs)
    x = np.asarray(inputs["x"], dtype=np.float64)
    y = np.asarray(inputs["y"], dtype=np.int64 if case["task"] == "multiclass" else np.float64)
    loss = LOSSES.create(case["loss"])
    opt_cfg = dict(case["optimizer"])
    optimizer = make_optimizer(opt_cfg.pop("name"), opt_cfg)
    rng = np.random.default_rng(0)
    for i, step in enumerate(expected["steps"]):
        out = model.forward_train(x, rng)
        value, g = loss.value_and_grad(out, y)
        model.backward(g)
        assert value == pytest.approx(step["loss"], rel=RTOL), f"loss at step {i}"
        assert_layers_close(grads_of(model), step["grads"], f"grads step {i}")
        optimizer.step(model.theta, model.grad, case["optimizer"]["lr"])
        assert_layers_close(model.get_layers(), step["params"], f"params step {i}")
    np.testing.assert_allclose(model.predict(x), expected["eval_output"], rtol=RTOL, atol=ATOL)


GOLDEN = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("entry", GOLDEN["cases"], ids=[c["case"]["name"] for c in GOLDEN["cases"]])
def test_training_steps_match_torch(entry: dict[str, Any]) -> None:
    replay(entry["case"], entry["inputs"], entry)


def test_fixture_covers_batch_norm_running_stats() -> None:
    bn_cases = [c for c in GOLDEN["cases"] if c["case"]["batch_norm"]]
    assert bn_cases and "running_var" in bn_cases[0]["steps"][-1]["params"][0]
    # running_var must differ from its initial 1.0: the unbiased update really happened.
    assert not np.allclose(bn_cases[0]["steps"][-1]["params"][0]["running_var"], 1.0)


@pytest.mark.torch
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_random_cases_match_torch(seed: int) -> None:
    pytest.importorskip("torch")
    from scripts.golden import model as golden

    rng = np.random.default_rng(seed)
    for case in golden.CASES:
        case = {**case, "n": int(rng.integers(4, 20))}
        inputs = golden.make_inputs(case, rng)
        expected = golden.run_case(case, inputs)
        replay(case, golden._jsonable(inputs), expected)


def test_batch_norm_eval_uses_running_stats() -> None:
    rng = np.random.default_rng(5)
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), rng.random(3) + 0.5
    bn = BatchNorm1d(gamma, beta, np.zeros(3), np.zeros(3), rm, rv)
    x = rng.normal(size=(4, 3))
    expected = (x - rm) / np.sqrt(rv + 1e-5) * gamma + beta
    np.testing.assert_allclose(bn.forward(x, train=False), expected, rtol=1e-12)
