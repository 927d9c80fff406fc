"""Optimizers: the notes' worked numbers, torch golden trajectories, state handling, validation."""

from __future__ import annotations

import json
import math
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.errors import ConfigError
from core.optimizers import OPTIMIZERS, Optimizer, make_optimizer, switch_optimizer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden_optimizers.json"
RTOL, ATOL = 1e-6, 1e-12

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def _run(
    name: str,
    hp: dict[str, Any],
    params0: list[float],
    grads: list[list[float]],
    lrs: list[float],
    changes: dict[str, dict[str, Any]] | None = None,
) -> list[np.ndarray]:
    opt = make_optimizer(name, hp)
    params = np.array(params0, dtype=np.float64)
    out = []
    for t, g in enumerate(grads):
        change = (changes or {}).get(str(t))
        if change:
            opt.update_hyperparameters(change)
        opt.step(params, np.array(g, dtype=np.float64), lrs[t])
        out.append(params.copy())
    return out


def _assert_trajectory(case: dict[str, Any], trajectory: list[list[float]]) -> None:
    ours = _run(
        case["optimizer"], case["hp"], case["params0"], case["grads"], case["lrs"],
        case.get("changes"),
    )
    for t, (mine, ref) in enumerate(zip(ours, trajectory, strict=True)):
        np.testing.assert_allclose(
            mine, np.array(ref), rtol=RTOL, atol=ATOL, err_msg=f"{case['name']} step {t}"
        )


# -- the notes' numbers ----------------------------------------------------------------------


def test_sgd_momentum_notes_example() -> None:
    """f = ½w², w₀ = 1, SGD(lr=0.01, momentum=0.9): 0.99 then 0.9711."""
    opt = make_optimizer("sgd", {"lr": 0.01, "momentum": 0.9})
    w = np.array([1.0])
    opt.step(w, w.copy(), 0.01)
    assert w[0] == pytest.approx(0.99, abs=1e-12)
    opt.step(w, w.copy(), 0.01)
    assert w[0] == pytest.approx(0.9711, abs=1e-12)


def test_rmsprop_notes_example() -> None:
    """f = ½w², w₀ = 0.1, RMSprop(lr=0.01, alpha=0.9): 0.0684 after one update."""
    opt = make_optimizer("rmsprop", {"lr": 0.01, "alpha": 0.9})
    w = np.array([0.1])
    opt.step(w, w.copy(), 0.01)
    assert round(float(w[0]), 4) == 0.0684
    assert w[0] == pytest.approx(0.1 - 0.01 * 0.1 / (math.sqrt(0.1 * 0.01) + 1e-8), rel=1e-14)


# -- torch golden values ---------------------------------------------------------------------


def _fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def test_fixture_covers_every_optimizer_and_midrun_changes() -> None:
    cases = _fixture()["cases"]
    assert {c["optimizer"] for c in cases} == set(OPTIMIZERS.names())
    assert sum(1 for c in cases if c["changes"]) >= 3
    assert any(len(set(c["lrs"])) == len(c["lrs"]) for c in cases)  # a per-step rate


@pytest.mark.parametrize("case", _fixture()["cases"], ids=lambda c: c["name"])
def test_golden_trajectory(case: dict[str, Any]) -> None:
    _assert_trajectory(case, case["trajectory"])


def _assert_states(case: dict[str, Any], states: list[dict[str, Any]]) -> None:
    """After every step, ``torch_state()`` has exactly torch's ``optimizer.state`` keys and
    values (without ``step``, which must equal the number of updates)."""
    opt = make_optimizer(case["optimizer"], case["hp"])
    params = np.array(case["params0"], dtype=np.float64)
    for t, (g, ref) in enumerate(zip(case["grads"], states, strict=True)):
        change = (case.get("changes") or {}).get(str(t))
        if change:
            opt.update_hyperparameters(change)
        opt.step(params, np.array(g, dtype=np.float64), case["lrs"][t])
        mine = opt.torch_state()
        assert sorted(mine) == sorted(ref), f"{case['name']} step {t}"
        assert opt.n_steps == t + 1
        for key, value in ref.items():
            np.testing.assert_allclose(
                mine[key], np.array(value), rtol=RTOL, atol=ATOL,
                err_msg=f"{case['name']} step {t} state {key}",
            )


@pytest.mark.parametrize("case", _fixture()["cases"], ids=lambda c: c["name"])
def test_golden_state_after_every_step(case: dict[str, Any]) -> None:
    _assert_states(case, case["states"])


def _random_case(rng: np.random.Generator) -> dict[str, Any]:
    name = str(rng.choice(OPTIMIZERS.names()))
    hp: dict[str, Any] = {}
    if name == "sgd":
        hp["momentum"] = float(rng.choice([0.0, rng.uniform(0, 0.99)]))
        if hp["momentum"] > 0 and rng.random() < 0.5:
            hp["nesterov"] = True
        else:
            hp["dampening"] = float(rng.choice([0.0, rng.uniform(0, 1)]))
    elif name == "adagrad":
        hp.update(lr_decay=float(rng.uniform(0, 0.5)),
                  initial_accumulator_value=float(rng.uniform(0, 1)))
    elif name == "rmsprop":
        hp.update(alpha=float(rng.uniform(0.5, 0.999)), centered=bool(rng.random() < 0.5),
                  momentum=float(rng.choice([0.0, rng.uniform(0, 0.95)])))
    elif name == "rprop":
        hp.update(etas=[float(rng.uniform(0.1, 0.9)), float(rng.uniform(1.05, 3.0))],
                  step_sizes=[float(10 ** rng.uniform(-6, -3)), float(10 ** rng.uniform(-1, 1))])
    elif name == "adadelta":
        hp["rho"] = float(rng.uniform(0.0, 0.999))
    else:
        hp["betas"] = [float(rng.uniform(0, 0.99)), float(rng.uniform(0.5, 0.9999))]
        if name in ("adam", "adamw"):
            hp["amsgrad"] = bool(rng.random() < 0.5)
        if name in ("nadam", "radam"):
            hp["decoupled_weight_decay"] = bool(rng.random() < 0.5)
        if name == "nadam":
            hp["momentum_decay"] = float(rng.uniform(0, 0.1))
    if name != "rprop":
        hp["weight_decay"] = float(rng.choice([0.0, rng.uniform(0, 0.5)]))
    if name not in ("sgd", "rprop"):
        hp["eps"] = float(10 ** rng.uniform(-10, -3))
    n_params, n_steps = int(rng.integers(1, 40)), int(rng.integers(1, 25))
    params0 = rng.normal(size=n_params).tolist()
    grads = (rng.normal(size=(n_steps, n_params)) * 10 ** rng.uniform(-3, 1)).tolist()
    lrs = (10 ** rng.uniform(-4, -1, size=n_steps)).tolist()
    changes = {}
    if n_steps > 3 and name in ("sgd", "adam", "adamw", "nadam", "radam", "adamax"):
        key = "momentum" if name == "sgd" else "betas"
        value = (
            hp.get("momentum", 0.0) and float(rng.uniform(0.01, 0.99))
            if name == "sgd"
            else [float(rng.uniform(0, 0.99)), float(rng.uniform(0.5, 0.9999))]
        )
        changes[str(n_steps // 2)] = {key: value}
    return {"name": f"random_{name}", "optimizer": name, "hp": hp, "params0": params0,
            "grads": grads, "lrs": lrs, "changes": changes}


@pytest.mark.torch
@pytest.mark.parametrize("repeat", range(3))
def test_live_torch_random_cases(repeat: int) -> None:
    pytest.importorskip("torch")
    from scripts.golden import optimizers as golden

    rng = np.random.default_rng(secrets.randbits(32))
    for _ in range(10):
        case = _random_case(rng)
        ref = golden.torch_run(
            case["optimizer"], case["hp"], case["params0"], case["grads"], case["lrs"],
            case["changes"],
        )
        _assert_trajectory(case, ref)


@pytest.mark.torch
def test_live_torch_two_parameter_trajectory() -> None:
    """The 2-D trajectory lab: f = ½x² + 5y² + 0.3·sin(3x), gradients fed step by step."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)  # NAdam's mu_product in float64, as GradPlay's
    for name, hp in [("sgd", {"momentum": 0.9, "nesterov": True}), ("rmsprop", {}),
                     ("adam", {}), ("adagrad", {}), ("adamw", {"weight_decay": 0.1}),
                     ("rprop", {}), ("nadam", {}), ("radam", {}), ("adamax", {}),
                     ("adadelta", {})]:
        ours = make_optimizer(name, hp)
        w = np.array([-1.5, 2.0])
        p = torch.tensor(w.copy(), requires_grad=True)
        cls = getattr(torch.optim, OPTIMIZERS.get(name).meta["torch"].split(".")[-1])
        ref = cls([p], lr=0.02, foreach=False, **hp)
        for _ in range(200):
            x, y = w
            g = np.array([x + 0.9 * math.cos(3 * x), 10 * y])
            ours.step(w, g, 0.02)
            p.grad = torch.tensor(g)
            ref.step()
        assert np.all(np.isfinite(w))
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=RTOL, atol=ATOL)
    torch.set_default_dtype(torch.float32)


# -- semantics and state ---------------------------------------------------------------------

ALL_CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("sgd", {"momentum": 0.5, "dampening": 0.3}),
    ("adagrad", {"lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.2}),
    ("rmsprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("rmsprop", {}),
    ("adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"amsgrad": True}),
    ("adamw", {"weight_decay": 0.0}),
    ("rprop", {"etas": [0.3, 1.5]}),
    ("nadam", {"weight_decay": 0.1, "momentum_decay": 0.1}),
    ("nadam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("radam", {"betas": [0.9, 0.9], "weight_decay": 0.1}),
    ("adamax", {"weight_decay": 0.1}),
    ("adadelta", {"weight_decay": 0.1, "rho": 0.5}),
]


@settings(max_examples=40, deadline=None)
@given(
    config=st.sampled_from(ALL_CONFIGS),
    data=st.data(),
    lr=st.floats(1e-4, 1.0),
)
def test_grads_never_modified_and_params_in_place(
    config: tuple[str, dict[str, Any]], data: st.DataObject, lr: float
) -> None:
    name, hp = config
    n = data.draw(st.integers(1, 30))
    params = data.draw(arrays(np.float64, n, elements=finite))
    opt = make_optimizer(name, hp)
    for _ in range(3):
        grads = data.draw(arrays(np.float64, n, elements=finite))
        before = grads.copy()
        ident = id(params)
        opt.step(params, grads, lr)
        assert np.array_equal(grads, before)
        assert id(params) == ident
        assert np.all(np.isfinite(params))


@settings(max_examples=50, deadline=None)
@given(
    params=arrays(np.float64, 12, elements=finite),
    grads=arrays(np.float64, 12, elements=finite),
    lr=st.floats(1e-4, 1.0),
    wd=st.floats(0.0, 1.0),
)
def test_plain_sgd_is_the_textbook_update(
    params: np.ndarray, grads: np.ndarray, lr: float, wd: float
) -> None:
    expected = params - lr * (grads + wd * params)
    make_optimizer("sgd", {"weight_decay": wd}).step(params, grads, lr)
    np.testing.assert_allclose(params, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    grads=arrays(np.float64, 8, elements=st.floats(1e-3, 10) | st.floats(-10, -1e-3)),
    lr=st.floats(1e-4, 1.0),
    b1=st.floats(0.0, 0.99),
    b2=st.floats(0.0, 0.999),
)
def test_adam_first_step_has_size_lr(
    grads: np.ndarray, lr: float, b1: float, b2: float
) -> None:
    """After bias correction, Adam's first step is −lr·g/(|g| + ε): about lr·sign(g)."""
    params = np.zeros(8)
    make_optimizer("adam", {"betas": [b1, b2], "eps": 1e-12}).step(params, grads, lr)
    np.testing.assert_allclose(params, -lr * np.sign(grads), rtol=1e-8)


@pytest.mark.parametrize(("name", "hp"), ALL_CONFIGS)
def test_state_dict_round_trip_and_copy(name: str, hp: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    grads = rng.normal(size=(10, 7))
    a = make_optimizer(name, hp)
    pa = rng.normal(size=7)
    for g in grads[:5]:
        a.step(pa, g, 0.01)
    saved = a.state_dict()
    pb = pa.copy()
    for g in grads[5:]:
        a.step(pa, g, 0.01)
    # Scribbling on the saved arrays must not affect a restored optimizer.
    b = make_optimizer(name, hp)
    b.load_state_dict(saved)
    for arr in saved["buffers"].values():
        if arr is not None:
            arr += 1e3
    for g in grads[5:]:
        b.step(pb, g, 0.01)
    assert np.array_equal(pa, pb)
    assert b.n_steps == a.n_steps == 10
    # And state_dict returns copies.
    sd = b.state_dict()
    for arr in sd["buffers"].values():
        if arr is not None:
            arr[:] = np.nan
    pb2 = pb.copy()
    b.step(pb2, grads[0], 0.01)
    assert np.all(np.isfinite(pb2))


@pytest.mark.parametrize(("name", "hp"), ALL_CONFIGS)
def test_reset_state_behaves_like_fresh(name: str, hp: dict[str, Any]) -> None:
    rng = np.random.default_rng(4)
    grads = rng.normal(size=(6, 5))
    p0 = rng.normal(size=5)
    used = make_optimizer(name, hp)
    scratch = p0.copy()
    for g in grads:
        used.step(scratch, g, 0.05)
    used.reset_state()
    assert used.n_steps == 0
    p1, p2 = p0.copy(), p0.copy()
    fresh = make_optimizer(name, hp)
    for g in grads:
        used.step(p1, g, 0.05)
        fresh.step(p2, g, 0.05)
    assert np.array_equal(p1, p2)


@pytest.mark.parametrize(("name", "hp"), ALL_CONFIGS)
def test_update_with_same_values_keeps_state(name: str, hp: dict[str, Any]) -> None:
    """A live no-op change between steps must not disturb momentum buffers etc."""
    rng = np.random.default_rng(5)
    grads = rng.normal(size=(8, 6))
    p0 = rng.normal(size=6)
    a, b = make_optimizer(name, hp), make_optimizer(name, hp)
    pa, pb = p0.copy(), p0.copy()
    for t, g in enumerate(grads):
        if t == 4:
            b.update_hyperparameters(dict(b.hp))
            b.update_hyperparameters({})
        a.step(pa, g, 0.02)
        b.step(pb, g, 0.02)
    assert np.array_equal(pa, pb)


def test_momentum_buffer_survives_a_change() -> None:
    """Changing momentum mid-run keeps the buffer: not the same as restarting."""
    g = np.ones(3)
    kept = make_optimizer("sgd", {"momentum": 0.9})
    p = np.zeros(3)
    kept.step(p, g, 0.1)
    kept.update_hyperparameters({"momentum": 0.5})
    kept.step(p, g, 0.1)
    # buffer: 1 → 0.5·1 + 1 = 1.5; params: −0.1 − 0.15
    np.testing.assert_allclose(p, -0.25, rtol=1e-15)
    assert kept.hp["momentum"] == 0.5


def test_switch_optimizer() -> None:
    opt = make_optimizer("adam", {"lr": 0.01})
    p = np.ones(4)
    opt.step(p, np.ones(4), 0.01)
    same = switch_optimizer(opt, "adam", {"lr": 0.02, "betas": [0.8, 0.9]})
    assert same is opt and same.hp["lr"] == 0.02 and same.hp["betas"] == [0.8, 0.9]
    assert same.state_dict()["buffers"]["exp_avg"] is not None and same.n_steps == 1
    other = switch_optimizer(opt, "sgd", {"momentum": 0.9})
    assert other is not opt and isinstance(other, Optimizer)
    assert other.name == "sgd" and other.n_steps == 0 and other.hp["lr"] == 0.001
    with pytest.raises(ConfigError) as exc:
        switch_optimizer(opt, "nope", None)
    assert exc.value.field == "optimizer.name"


def test_defaults_match_torch() -> None:
    expected = {
        "sgd": {"lr": 0.001, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
                "weight_decay": 0.0},
        "adagrad": {"lr": 0.01, "lr_decay": 0.0, "weight_decay": 0.0,
                    "initial_accumulator_value": 0.0, "eps": 1e-10},
        "rmsprop": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0,
                    "momentum": 0.0, "centered": False},
        "adam": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
                 "amsgrad": False},
        "adamw": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
                  "amsgrad": False},
        "rprop": {"lr": 0.01, "etas": [0.5, 1.2], "step_sizes": [1e-6, 50.0]},
        "nadam": {"lr": 0.002, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
                  "momentum_decay": 0.004, "decoupled_weight_decay": False},
        "radam": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
                  "decoupled_weight_decay": False},
        "adamax": {"lr": 0.002, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
        "adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
    }
    for name, hp in expected.items():
        assert make_optimizer(name, None).hp == hp
        comp = OPTIMIZERS.get(name)
        assert comp.meta["torch"].startswith("torch.optim.")
        assert comp.formula and all(p.help for p in comp.params)


@pytest.mark.torch
def test_defaults_match_live_torch_signatures() -> None:
    torch = pytest.importorskip("torch")
    import inspect

    for comp in OPTIMIZERS:
        cls = getattr(torch.optim, comp.meta["torch"].split(".")[-1])
        sig = inspect.signature(cls.__init__).parameters
        for p in comp.params:
            default = sig[p.name].default
            assert (list(default) if isinstance(default, tuple) else default) == p.default


@pytest.mark.parametrize(
    ("name", "values", "field"),
    [
        ("sgd", {"nesterov": True}, "optimizer.nesterov"),
        ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "optimizer.nesterov"),
        ("sgd", {"lr": -0.1}, "optimizer.lr"),
        ("sgd", {"momentum": 1.0}, "optimizer.momentum"),
        ("sgd", {"lr": float("nan")}, "optimizer.lr"),
        ("adam", {"betas": [0.9]}, "optimizer.betas"),
        ("adam", {"betas": [0.9, 0.99, 0.1]}, "optimizer.betas"),
        ("adam", {"betas": [0.9, 1.0]}, "optimizer.betas[1]"),
        ("adamw", {"betas": [-0.1, 0.9]}, "optimizer.betas[0]"),
        ("adam", {"eps": 0.0}, "optimizer.eps"),
        ("rmsprop", {"alpha": 1.5}, "optimizer.alpha"),
        ("adagrad", {"lr_decay": -1.0}, "optimizer.lr_decay"),
        ("adam", {"momentum": 0.9}, "optimizer.momentum"),
        ("lbfgs", {}, "optimizer.name"),
        ("rprop", {"etas": [0.5, 0.9]}, "optimizer.etas"),
        ("rprop", {"etas": [1.0, 1.2]}, "optimizer.etas"),
        ("rprop", {"etas": [0.5]}, "optimizer.etas"),
        ("rprop", {"step_sizes": [1.0, 0.1]}, "optimizer.step_sizes"),
        ("rprop", {"step_sizes": [-1.0, 0.1]}, "optimizer.step_sizes[0]"),
        ("nadam", {"momentum_decay": -0.1}, "optimizer.momentum_decay"),
        ("nadam", {"betas": [0.9, 1.0]}, "optimizer.betas[1]"),
        ("radam", {"decoupled_weight_decay": 1}, "optimizer.decoupled_weight_decay"),
        ("adamax", {"amsgrad": True}, "optimizer.amsgrad"),
        ("adadelta", {"rho": 1.5}, "optimizer.rho"),
        ("adadelta", {"eps": 0.0}, "optimizer.eps"),
    ],
)
def test_bad_values_raise_config_error(name: str, values: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as exc:
        make_optimizer(name, values)
    assert exc.value.field == field
    assert exc.value.message


def test_update_hyperparameters_validates_and_keeps_old_values_on_error() -> None:
    opt = make_optimizer("sgd", {"momentum": 0.9}, prefix="run.optimizer")
    with pytest.raises(ConfigError) as exc:
        opt.update_hyperparameters({"momentum": 0.0, "nesterov": True})
    assert exc.value.field == "run.optimizer.nesterov"
    assert opt.hp["momentum"] == 0.9 and opt.hp["nesterov"] is False


def test_centered_rmsprop_stays_finite_on_constant_gradient() -> None:
    """v − ḡ² can round below 0 for a constant gradient; GradPlay clamps (torch gives NaN)."""
    opt = make_optimizer("rmsprop", {"centered": True})
    p = np.zeros(50)
    g = np.linspace(0.1, 3.0, 50)
    for _ in range(500):
        opt.step(p, g, 1e-4)
    assert np.all(np.isfinite(p))


def test_load_state_rejects_other_optimizer() -> None:
    a = make_optimizer("adam")
    a.step(np.zeros(3), np.ones(3), 0.1)
    with pytest.raises(ValueError):
        make_optimizer("sgd").load_state_dict(a.state_dict())

