"""Batch-norm statistics in records, train/eval snapshots, dropout masks, the depth lab's norms
(core.normalization, core.trainer). Golden values against torch: test_normalization_golden.py."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.labs.depth import depth_profile
from core.layers import BatchNorm1d, dropout_mask
from core.losses import LOSSES
from core.normalization import forward_mode
from core.trainer import Run

BN = {
    "seed": 5,
    "model": {"hidden": [6, 5], "batch_norm": True},
    "batch_size": 8,
    "dataset": {"n": 120},
}
DROP = {
    "seed": 7,
    "model": {"hidden": [8, 6], "dropout": 0.4, "activation": "relu"},
    "batch_size": 16,
    "dataset": {"n": 160},
}


def bn_entries(snap: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["batch_norm"] for e in snap["network"] if "batch_norm" in e]


# ------------------------------------------------------------------------------ records
def test_records_carry_batch_norm_gaps_and_momentum() -> None:
    run = Run(BN)
    for _ in range(12):
        rec = run.step(1)[0]
        snap = run.snapshot()
        assert rec["bn_momentum"] == 0.1
        assert rec["bn_mean_gap"][-1] is None and rec["bn_var_gap"][-1] is None  # output layer
        for k, entry in enumerate(bn_entries(snap)):
            mean = np.asarray(entry["batch_mean"])
            var = np.asarray(entry["batch_var"])
            assert rec["bn_mean_gap"][k] == pytest.approx(
                np.abs(mean - entry["running_mean"]).mean(), rel=1e-12
            )
            assert rec["bn_var_gap"][k] == pytest.approx(
                np.abs(var - entry["running_var"]).mean(), rel=1e-12
            )
    assert len(run.history.columns(["bn_mean_gap"])["bn_mean_gap"]) == 12


def test_records_without_batch_norm_have_null_bn_fields() -> None:
    run = Run({"model": {"hidden": [4], "layer_norm": True}})
    rec = run.step(2)[-1]
    assert rec["bn_momentum"] is None
    assert rec["bn_mean_gap"] == [None, None] and rec["bn_var_gap"] == [None, None]
    scalars, layers = run.record_rows(0, 2)
    assert np.isnan(scalars[:, -1]).all() and np.isnan(layers[:, -2:]).all()


def test_running_statistics_follow_torch_update_rule_with_live_momentum() -> None:
    """running = (1 - m) running + m batch, with the unbiased batch variance, every step; a
    live momentum change applies from the next step, is in the records and replays exactly."""
    run = Run(BN)
    run.step(3)
    for m in (0.1, 0.5, 0.0, 1.0):
        if m != 0.1:
            run.apply_patch({"batch_norm_momentum": m})
        for _ in range(3):
            before = bn_entries(run.snapshot())
            rec = run.step(1)[0]
            after = bn_entries(run.snapshot())
            assert rec["bn_momentum"] == m
            for b, a in zip(before, after, strict=True):
                assert a["momentum"] == m
                n = a["batch_size"]
                np.testing.assert_allclose(
                    a["batch_var_unbiased"], np.asarray(a["batch_var"]) * n / (n - 1), rtol=1e-15
                )
                np.testing.assert_allclose(
                    a["running_mean"],
                    (1 - m) * np.asarray(b["running_mean"]) + m * np.asarray(a["batch_mean"]),
                    rtol=1e-12,
                    atol=1e-15,
                )
                np.testing.assert_allclose(
                    a["running_var"],
                    (1 - m) * np.asarray(b["running_var"]) + m * a["batch_var_unbiased"],
                    rtol=1e-12,
                    atol=1e-15,
                )
    assert run.config["model"]["batch_norm_momentum"] == 1.0
    exported = json.loads(json.dumps(run.export()))
    again = Run.replay(exported["config"], exported["events"], exported["step"])
    assert again.history.equal(run.history)
    np.testing.assert_array_equal(again.model.buffers, run.model.buffers)


def test_bad_momentum_names_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        Run({"model": {"batch_norm": True, "batch_norm_momentum": 1.5}, "batch_size": 4})
    assert err.value.field == "model.batch_norm_momentum" and "1" in err.value.message
    run = Run(BN)
    with pytest.raises(ConfigError) as err:
        run.apply_patch({"batch_norm_momentum": -0.1})
    assert err.value.field == "batch_norm_momentum"
    assert run.events == []


# ----------------------------------------------------------------------------- snapshots
def test_folded_affine_is_eval_mode_batch_norm() -> None:
    run = Run(BN)
    run.step(20)
    snap = run.snapshot()
    z = np.random.default_rng(1).normal(size=(9, 6))
    bn = run.model.blocks[0].norm
    assert isinstance(bn, BatchNorm1d)
    entry = bn_entries(snap)[0]
    np.testing.assert_allclose(
        entry["scale"] * z + entry["shift"], bn.normalize(z, False), rtol=1e-12, atol=1e-14
    )


@settings(max_examples=40)
@given(
    st.integers(1, 6),
    st.integers(2, 9),
    st.integers(0, 2**32 - 1),
)
def test_folded_affine_property(width: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    gamma, beta = rng.normal(size=width), rng.normal(size=width)
    rm, rv = rng.normal(size=width), rng.exponential(size=width)
    bn = BatchNorm1d(gamma, beta, np.zeros(width), np.zeros(width), rm, rv)
    z = rng.normal(scale=3, size=(n, width))
    scale, shift = bn.folded_affine()
    np.testing.assert_allclose(scale * z + shift, bn.forward(z, False), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "cfg",
    [BN, DROP, {**BN, "model": {**BN["model"], "dropout": 0.3}}],
    ids=["batch_norm", "dropout", "both"],
)
def test_snapshots_do_not_change_the_run(cfg: dict[str, Any]) -> None:
    a, b = Run(cfg), Run(cfg)
    a.step(15)
    for mode in ("train", "eval", None, "train"):
        a.snapshot(mode=mode)
    a.step(15)
    b.step(30)
    assert a.history.equal(b.history)
    np.testing.assert_array_equal(a.model.theta, b.model.theta)
    np.testing.assert_array_equal(a.model.buffers, b.model.buffers)
    c = Run.replay(a.export()["config"], a.export()["events"], 30)
    assert c.history.equal(a.history)


def test_mode_comparison() -> None:
    plain = Run({"model": {"hidden": [5]}})
    plain.step(5)
    snap = plain.snapshot(mode="train")
    modes = snap["modes"]
    assert modes["mode"] == "train" and modes["batch"] == "val" and modes["n"] == 40
    assert all(layer["mean_abs_diff"] == 0.0 for layer in modes["layers"])
    assert modes["loss"]["train"] == modes["loss"]["eval"]
    assert "modes" not in plain.snapshot()

    run = Run(BN)
    run.step(10)
    snap = run.snapshot(mode="eval")
    modes = snap["modes"]
    assert [layer["name"] for layer in modes["layers"]] == ["hidden 1", "hidden 2", "output"]
    assert all(layer["mean_abs_diff"] > 1e-6 for layer in modes["layers"])
    ds = run.dataset
    train = forward_mode(run.model, ds.x_val, True, np.random.default_rng(0))
    evals = run.model.forward_eval(ds.x_val)
    for k, layer in enumerate(modes["layers"]):
        assert layer["mean_abs_diff"] == pytest.approx(
            np.abs(train[k] - evals[k]).mean(), rel=1e-12
        )
        assert layer["eval_mean"] == pytest.approx(evals[k].mean(), rel=1e-12)
    loss = LOSSES.create("bce_with_logits")
    assert modes["loss"]["eval"] == pytest.approx(loss.value(evals[-1], ds.y_val), rel=1e-12)
    assert modes["loss"]["train"] == pytest.approx(loss.value(train[-1], ds.y_val), rel=1e-12)
    full = modes["activations"]
    assert full["rows"] == len(ds.x_val) == 24 and len(full["train"]) == 3
    np.testing.assert_array_equal(full["eval"][-1], evals[-1])

    # mode=train histograms come from a train-mode pass, default/eval from eval mode
    def counts(s: dict[str, Any]) -> list[list[int]]:
        return [list(layer["activations"]["counts"]) for layer in s["layers"]]

    assert counts(snap) == counts(run.snapshot())
    assert counts(run.snapshot(mode="train")) != counts(snap)
    with pytest.raises(ConfigError) as err:
        run.snapshot(mode="inference")
    assert err.value.field == "mode" and "train, eval" in err.value.message


def test_layer_norm_and_small_net_internals_in_snapshot() -> None:
    run = Run({"model": {"hidden": [4, 3], "layer_norm": True}})
    assert "layer_norm" in run.snapshot()["network"][0]
    run.step(3)
    net = run.snapshot()["network"]
    assert net[0]["layer_norm"]["eps"] == 1e-5
    np.testing.assert_array_equal(net[1]["layer_norm"]["gamma"], run.model.blocks[1].norm.gamma)
    assert (
        "batch_norm" not in net[0] and "dropout" not in net[0] and set(net[2]) == {"W", "dW", "b"}
    )
    big = Run({"model": {"hidden": [32], "batch_norm": True}})
    big.step(1)
    assert "network" not in big.snapshot()
    fresh = bn_entries(Run(BN).snapshot())[0]
    assert fresh["batch_mean"] is None and fresh["running_var"].tolist() == [1.0] * 6


# ------------------------------------------------------------------------------- dropout
def _captured_batches(run: Run) -> list[np.ndarray]:
    seen: list[np.ndarray] = []
    original = run.model.forward_train

    def wrapper(x: np.ndarray, rng: np.random.Generator, n_train: int | None = None) -> Any:
        seen.append(np.array(x, copy=True))
        return original(x, rng, n_train)

    run.model.forward_train = wrapper  # type: ignore[method-assign]
    return seen


def test_dropout_masks_are_the_ones_the_step_used() -> None:
    t = 9
    run = Run.replay(DROP, [], t)  # weights and random streams just before update t
    before = Run.replay(DROP, [], t)
    batches = _captured_batches(run)
    rec = run.step(1)[0]
    snap = run.snapshot()
    masks = [
        np.asarray(e["dropout"]["keep"]) * e["dropout"]["scale"]
        for e in snap["network"]
        if "dropout" in e
    ]
    assert len(masks) == 2 and snap["network"][0]["dropout"]["p"] == 0.4
    assert snap["network"][0]["dropout"]["rows"] == 16 == len(masks[0])
    # The step's training loss, recomputed with these masks on the pre-update weights.
    model = before.model
    h = batches[0]
    for block, mask in zip(model.blocks, masks, strict=True):
        h = block.activation.forward(block.dense.forward(h, train=False)) * mask
    out = model.output.forward(h, train=False)
    y = run._epoch_y[run._pos - 16 : run._pos]
    assert rec["data_loss"] == pytest.approx(run.loss.value(out, y), rel=1e-12)
    # Other masks give another loss (the check can fail).
    other = [dropout_mask(m.shape, 0.4, np.random.default_rng(3)) for m in masks]
    h = batches[0]
    for block, mask in zip(model.blocks, other, strict=True):
        h = block.activation.forward(block.dense.forward(h, train=False)) * mask
    assert rec["data_loss"] != pytest.approx(run.loss.value(model.output.forward(h, False), y))
    # A replay to the same step shows the same masks.
    again = Run.replay(DROP, [], t + 1).snapshot()
    assert [e["dropout"]["keep"].tolist() for e in again["network"] if "dropout" in e] == [
        e["dropout"]["keep"].tolist() for e in snap["network"] if "dropout" in e
    ]


def test_dropout_check_inverted_scaling_keeps_the_mean() -> None:
    run = Run(
        {
            "seed": 2,
            "model": {"hidden": [16, 16], "dropout": 0.5, "activation": "sigmoid"},
            "batch_size": 400,
            "dataset": {"n": 500},
        }
    )
    assert "dropout" not in run.snapshot()
    run.step(1)
    check = run.snapshot()["dropout"]
    assert [c["name"] for c in check] == ["hidden 1", "hidden 2"]
    for c, block in zip(check, run.model.blocks, strict=True):
        act = block.act
        assert c["act_mean"] == pytest.approx(act.mean(), rel=1e-12)
        assert c["scaled_mean"] == pytest.approx((act * block.mask).mean(), rel=1e-12)
        # E[x'] = x: within 2 % over 400 x 16 sigmoid units; without 1/(1-p): half of it.
        assert c["scaled_mean"] == pytest.approx(c["act_mean"], rel=0.02)
        assert c["unscaled_mean"] == pytest.approx(c["scaled_mean"] * 0.5, rel=1e-12)
        assert 0.45 < c["keep_fraction"] < 0.55
    run.apply_patch({"dropout": 0.0})
    run.step(1)
    snap = run.snapshot()
    assert "dropout" not in snap and all("dropout" not in e for e in snap["network"])


# ------------------------------------------------------------------------- gradients lab
def test_depth_lab_offers_layer_norm() -> None:
    base = {
        "depth": 6,
        "width": 16,
        "activation": "tanh",
        "init": "normal",
        "init_params": {"std": 1.0},
        "n": 64,
    }
    plain = depth_profile(**base)
    ln = depth_profile(**base, layer_norm=True)
    bn = depth_profile(**base, batch_norm=True)
    assert ln["layers"] != plain["layers"] and ln["layers"] != bn["layers"]
    assert ln["finite"]
    with pytest.raises(ConfigError) as err:
        depth_profile(**base, layer_norm=True, batch_norm=True)
    assert err.value.field == "layer_norm"
    with pytest.raises(ConfigError) as err:
        depth_profile(**base, layer_norm="yes")
    assert err.value.field == "layer_norm"


def test_identity_gamma_beta_make_eval_batch_norm_the_identity() -> None:
    """The snapshot's identity_gamma = sqrt(running_var + eps) and identity_beta = running_mean,
    written with set_weights, make every batch-norm layer's eval mode y = z: the gap the
    snapshot reports drops from the learned layer's to rounding. (The notes swap the two.)"""
    run = Run(BN)
    run.step(30)
    before = run.snapshot(mode="eval")["modes"]["layers"]
    gaps_before = [layer["bn_identity_max_abs_diff"] for layer in before[:-1]]
    assert min(gaps_before) > 1e-2
    assert "bn_identity_max_abs_diff" not in before[-1]  # the output layer has no batch norm
    layers = run.model.get_layers()
    for layer, entry in zip(layers, bn_entries(run.snapshot()), strict=False):
        np.testing.assert_array_equal(entry["identity_gamma"],
                                      np.sqrt(entry["running_var"] + entry["eps"]))
        np.testing.assert_array_equal(entry["identity_beta"], entry["running_mean"])
        layer["gamma"], layer["beta"] = entry["identity_gamma"], entry["identity_beta"]
    run.set_weights(layers)
    after = run.snapshot(mode="eval")["modes"]["layers"]
    for layer in after[:-1]:
        assert layer["bn_identity_max_abs_diff"] < 1e-12
    # the gap is max |BN_eval(z) - z| of the first layer's dense output, computed directly
    z = run.model.blocks[0].dense.forward(run.dataset.x_val[:200], train=False)
    norm = run.model.blocks[0].norm
    assert isinstance(norm, BatchNorm1d)
    direct = float(np.max(np.abs(norm.normalize(z, False) - z)))
    assert after[0]["bn_identity_max_abs_diff"] == direct
