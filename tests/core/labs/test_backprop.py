"""Tests for core.labs.backprop's lab functions: the walk (formulas with numbers, finite-difference
checks), N training steps, the presets against PyTorch (golden fixture from
``scripts/golden/backprop.py``) and the notes' printed values (core.labs.backprop_notes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.labs.backprop import (
    BACKPROP_MAX_ABS,
    BACKPROP_PRESETS,
    backprop_example,
    backprop_train,
    backprop_walk,
    fmt,
)
from core.labs.backprop_notes import PRINTED, notes_comparison

GOLDEN = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "golden_backprop.json").read_text()
)
PRESETS = sorted(GOLDEN["presets"])


def kwargs(preset: dict[str, Any]) -> dict[str, Any]:
    return {
        k: preset[k] for k in ("x", "y", "layers", "activation", "output_activation", "loss", "lr")
    }


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-15
    )


# --- golden: torch autograd ---------------------------------------------------------------


def test_golden_covers_the_lab_presets() -> None:
    assert PRESETS == sorted(BACKPROP_PRESETS) == ["notes_221", "softmax_233"]
    for name in PRESETS:  # the fixture was made from the presets as they are now
        assert GOLDEN["presets"][name]["config"] == BACKPROP_PRESETS[name]


@pytest.mark.parametrize("name", PRESETS)
def test_one_step_matches_torch(name: str) -> None:
    g = GOLDEN["presets"][name]["torch"]
    r = backprop_example(**kwargs(BACKPROP_PRESETS[name]))
    for ours, theirs in zip(r["forward"], g["forward"], strict=True):
        close(ours["z"], theirs["z"])
        close(ours["a"], theirs["a"])
    assert r["loss"] == pytest.approx(g["loss"], rel=1e-13)
    for ours, theirs in zip(r["backward"], g["backward"], strict=True):
        close(ours["delta"], theirs["delta"])
        close(ours["dW"], theirs["dW"])
        close(ours["db"], theirs["db"])
    for ours, theirs in zip(r["updated"], g["updated"], strict=True):
        close(ours["W"], theirs["W"])
        close(ours["b"], theirs["b"])


@pytest.mark.parametrize("name", PRESETS)
def test_walk_values_match_torch(name: str) -> None:
    """Every number the page shows (the walk's steps) is torch's."""
    g = GOLDEN["presets"][name]["torch"]
    steps = backprop_walk(**kwargs(BACKPROP_PRESETS[name]))["steps"]
    by_kind: dict[str, list[float]] = {}
    for s in steps:
        by_kind.setdefault(s["kind"], []).append(s["value"])
    close(by_kind["z"], [v for layer in g["forward"] for v in layer["z"]])
    close(by_kind["a"], [v for layer in g["forward"] for v in layer["a"]])
    close(by_kind["loss"], [g["loss"]])
    back = g["backward"][::-1]  # the walk goes from the output layer back
    close(by_kind["delta"], [v for layer in back for v in layer["delta"]])
    close(by_kind["dW"], [v for layer in back for v in np.ravel(layer["dW"])])
    close(by_kind["db"], [v for layer in back for v in layer["db"]])
    up = g["updated"][::-1]
    close(by_kind["W"], [v for layer in up for v in np.ravel(layer["W"])])
    close(by_kind["b"], [v for layer in up for v in layer["b"]])


@pytest.mark.parametrize("name", PRESETS)
def test_training_matches_torch_sgd(name: str) -> None:
    g = GOLDEN["presets"][name]["torch"]
    n = GOLDEN["train_steps"]
    r = backprop_train(**kwargs(BACKPROP_PRESETS[name]), steps=n)
    close(r["loss"][:n], g["train_losses"])
    flat = [v for layer in g["train_params"] for v in [*np.ravel(layer["W"]), *layer["b"]]]
    close([p["values"][-1] for p in r["params"]], flat)
    assert r["loss"][-1] < r["loss"][0] and r["diverged"] is None


# --- the worked numbers of the issue and the walk's shape -------------------------------------


def notes_walk() -> list[dict[str, Any]]:
    return backprop_walk(**kwargs(BACKPROP_PRESETS["notes_221"]))["steps"]


def line(s: dict[str, Any]) -> str:
    return f"{s['symbol']} {s['relation']} {s['formula']} = {s['substituted']} = {s['value_text']}"


def test_delta2_formula_with_numbers() -> None:
    lines = [line(s) for s in notes_walk()]
    assert "δ₂ = (ŷ − y)·σ′(z₂) = (0.76574 − 0.5)·0.17938 = 0.04767" in lines
    delta2 = next(s for s in notes_walk() if s["symbol"] == "δ₂")
    assert [o for o in delta2["detail"]] == ["σ′(z₂) = ŷ·(1 − ŷ) = 0.76574·(1 − 0.76574) = 0.17938"]
    assert "a₁[2] = σ(z₁[2]) = σ(2.4) = 0.91683" in lines  # not the notes' 0.9084
    assert "L = ½(ŷ − y)² = ½(0.76574 − 0.5)² = 0.03531" in lines


def test_walk_order_and_count_221() -> None:
    steps = notes_walk()
    phases = [s["phase"] for s in steps]
    # forward: z, a for 2 + 1 units; loss; backward: δ₂, 2 dW, db, 2 δ₁, 4 dW, 2 db; 9 updates
    assert phases == ["forward"] * 6 + ["loss"] + ["backward"] * 12 + ["update"] * 9
    assert [s["kind"] for s in steps[:6]] == ["z", "a"] * 3
    assert [s["symbol"] for s in steps[7:11]] == ["δ₂", "∂L/∂W₂[1]", "∂L/∂W₂[2]", "∂L/∂b₂"]
    assert steps[-1]["symbol"] == "b₁[2]" and steps[-1]["relation"] == "←"


def test_walk_ends_at_the_updated_weights() -> None:
    r = backprop_walk(**kwargs(BACKPROP_PRESETS["notes_221"]))
    updates = [s["value"] for s in r["steps"] if s["phase"] == "update"]
    expected = [v for u in r["updated"][::-1] for v in [*np.ravel(u["W"]), *u["b"]]]
    assert updates == expected  # bit for bit


def test_softmax_preset_has_three_outputs_and_p_minus_y() -> None:
    r = backprop_walk(**kwargs(BACKPROP_PRESETS["softmax_233"]))
    p = [s for s in r["steps"] if s["kind"] == "p"]
    assert len(p) == 3 and sum(s["value"] for s in p) == pytest.approx(1.0, rel=1e-15)
    deltas = [s for s in r["steps"] if s["kind"] == "delta"][:3]
    assert [d["value"] for d in deltas] == pytest.approx(
        [p[0]["value"], p[1]["value"], p[2]["value"] - 1.0], rel=1e-14
    )
    assert deltas[2]["formula"] == "(p[3] − 1)"


@pytest.mark.parametrize("name", PRESETS)
def test_every_gradient_has_an_agreeing_finite_difference(name: str) -> None:
    steps = backprop_walk(**kwargs(BACKPROP_PRESETS[name]))["steps"]
    grads = [s for s in steps if s["kind"] in ("dW", "db")]
    assert grads and all(s["check"] is not None for s in grads)
    assert all(s["check"] is None for s in steps if s["kind"] not in ("dW", "db"))
    for s in grads:
        c = s["check"]
        assert c["analytic"] == s["value"]
        assert c["rel_error"] < 1e-6, (s["symbol"], c)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    act=st.sampled_from(["sigmoid", "tanh", "softplus", "gelu", "silu"]),
    loss=st.sampled_from(["half_mse", "mse", "cross_entropy"]),
)
def test_finite_differences_agree_on_random_networks(seed: int, act: str, loss: str) -> None:
    rng = np.random.default_rng(seed)
    dims = [int(d) for d in rng.integers(1, 4, size=3)]
    layers = [
        {"W": rng.normal(size=(i, o)).tolist(), "b": rng.normal(size=o).tolist()}
        for i, o in zip(dims[:-1], dims[1:], strict=True)
    ]
    y = (
        [int(rng.integers(dims[-1]))]
        if loss == "cross_entropy"
        else rng.normal(size=dims[-1]).tolist()
    )
    out = "identity" if loss == "cross_entropy" else None
    steps = backprop_walk(
        rng.normal(size=dims[0]).tolist(),
        y,
        layers,
        activation=act,
        loss=loss,
        output_activation=out,
    )["steps"]
    for s in steps:
        if s["check"] is not None:
            c = s["check"]
            assert abs(c["analytic"] - c["numeric"]) <= 1e-7 * max(1.0, abs(c["analytic"]))


def test_fmt() -> None:
    assert [fmt(v) for v in (0.7657380129960468, 0.5, 2.0, 0.047669, 3.6343e-4, -1.25)] == [
        "0.76574",
        "0.5",
        "2",
        "0.04767",
        "0.0003634",
        "−1.25",
    ]
    assert fmt(float("nan")) == "NaN" and fmt(float("inf")) == "∞" and fmt(0.0) == "0"
    assert fmt(1.5e7) == "1.5000e+07"


# --- training -------------------------------------------------------------------------------


def test_train_zero_steps_and_first_step() -> None:
    p = kwargs(BACKPROP_PRESETS["notes_221"])
    r0 = backprop_train(**p, steps=0)
    assert len(r0["loss"]) == 1 and r0["loss"][0] == backprop_example(**p)["loss"]
    r1 = backprop_train(**p, steps=1)
    one = backprop_example(**p)["updated"]
    assert [q["values"][1] for q in r1["params"]] == [
        v for u in one for v in [*np.ravel(u["W"]), *u["b"]]
    ]
    assert [q["name"] for q in r1["params"]][:2] == ["layers[0].W[0][0]", "layers[0].W[0][1]"]


def test_train_divergence_is_a_state() -> None:
    p = {
        **kwargs(BACKPROP_PRESETS["notes_221"]),
        "activation": "identity",
        "lr": 10.0,
        "x": [1000.0, 1000.0],
    }
    r = backprop_train(**p, steps=50)
    assert r["diverged"] is not None and not np.isfinite(r["loss"][-1])


# --- validation: fields and ranges ----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"x": [1.0, 2000.0]}, "x", "-1000 <= x <= 1000"),
        ({"y": [-1e4]}, "y", "-1000 <= x <= 1000"),
        (
            {
                "layers": [
                    {"W": [[0.5, 0.6], [0.7, 1e9]], "b": [0.1, 0.2]},
                    {"W": [[0.9], [0.1]], "b": [0.3]},
                ]
            },
            "layers[0].W",
            "-1000 <= x <= 1000",
        ),
        (
            {
                "layers": [
                    {"W": [[0.5, 0.6], [0.7, 0.8]], "b": [0.1, 0.2]},
                    {"W": [[0.9], [0.1]], "b": [-1001.0]},
                ]
            },
            "layers[1].b",
            "-1000 <= x <= 1000",
        ),
        ({"lr": 11.0}, "lr", "10"),
    ],
)
def test_value_ranges(change: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(ConfigError) as e:
        backprop_example(**{**kwargs(BACKPROP_PRESETS["notes_221"]), **change})
    assert e.value.field == field and text in e.value.message
    assert BACKPROP_MAX_ABS == 1000.0


def test_cross_entropy_class_id_range() -> None:
    with pytest.raises(ConfigError) as e:
        backprop_example(**{**kwargs(BACKPROP_PRESETS["softmax_233"]), "y": [3]})
    assert e.value.field == "y" and "0 <= id < 3" in e.value.message


def test_walk_and_train_limits() -> None:
    p = kwargs(BACKPROP_PRESETS["notes_221"])
    with pytest.raises(ConfigError) as e:
        backprop_train(**p, steps=1001)
    assert e.value.field == "train_steps" and "1000" in e.value.message
    big = [
        {"W": np.zeros((2, 30)).tolist(), "b": [0.0] * 30},
        {"W": np.zeros((30, 5)).tolist(), "b": [0.0] * 5},
    ]
    with pytest.raises(ConfigError) as e:
        backprop_walk([1.0, 2.0], [0.0] * 5, big)
    assert e.value.field == "walk" and "200" in e.value.message
    with pytest.raises(ConfigError) as e:
        backprop_train([1.0, 2.0], [0.0] * 5, big, steps=1)
    assert e.value.field == "train_steps" and "200" in e.value.message


# --- the notes' printed values ----------------------------------------------------------------


def test_notes_slips_exactly_where_documented() -> None:
    """The exact values differ from the printed ones where the notes slipped and agree
    (to the notes' printed precision) everywhere else."""
    rows = notes_comparison()["rows"]
    assert [r["id"] for r in rows] == [p[0] for p in PRINTED]
    n_agree = n_slip = 0
    for r in rows:
        for e in r["entries"]:
            assert e["agrees"] == (e["slip"] is None), (r["id"], e)
            n_agree += e["agrees"]
            n_slip += not e["agrees"]
    assert (n_agree, n_slip) == (16, 18)


def test_notes_sigma_2_4_and_the_w1_layout() -> None:
    rows = {r["id"]: r for r in notes_comparison()["rows"]}
    a1 = rows["a1"]["entries"][1]
    assert a1["printed"] == "0.9084" and round(a1["exact"], 4) == 0.9168
    assert a1["slip"] == "sigmoid_2_4" and rows["a1"]["line"] == 177
    # the notes' ∂L/∂W₁ is the engine's transposed: δ₁ᵀX (out, in) vs Xᵀδ₁ (in, out)
    printed = np.array(
        [[float(e["printed"]) for e in rows["dW1"]["entries"][i * 2 : i * 2 + 2]] for i in range(2)]
    )
    exact = np.array(backprop_example(**kwargs(BACKPROP_PRESETS["notes_221"]))["backward"][0]["dW"])
    assert np.all(np.abs(printed.T - exact) <= 1e-4)  # agree up to rounding once transposed
    assert {e["slip"] for e in rows["W1_new"]["entries"]} == {None, "layout"}
    # σ(2.4) carries into ŷ and δ₂; L, printed to 3 decimals (0.035), still agrees
    assert [rows[k]["entries"][0]["agrees"] for k in ("yhat", "delta2", "loss")] == [
        False,
        False,
        True,
    ]
