"""Schedules: torch golden series, TF formulas transcribed per step, properties, validation."""

from __future__ import annotations

import json
import math
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.registry import Param
from core.schedules import (
    BLOCK,
    SCHEDULES,
    ReduceLROnPlateau,
    make_schedule,
    with_warmup,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden_schedules.json"
RTOL, ATOL = 1e-6, 1e-12

TORCH_NAMES = {
    "step", "multistep", "exponential", "cosine_annealing", "cosine_annealing_warm_restarts",
    "polynomial", "linear", "one_cycle",
}


def _fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


# -- torch golden values ---------------------------------------------------------------------


def test_fixture_covers_every_torch_schedule() -> None:
    data = _fixture()
    assert {c["name"] for c in data["cases"]} == TORCH_NAMES
    torch_origin = {c.name for c in SCHEDULES if c.meta["origin"] == "torch"}
    assert torch_origin == TORCH_NAMES | {"reduce_on_plateau"}
    assert len(data["plateau"]) >= 5


@pytest.mark.parametrize(
    "case", _fixture()["cases"], ids=lambda c: f"{c['name']}-{json.dumps(c['params'])}"
)
def test_golden_torch_series(case: dict[str, Any]) -> None:
    ref = np.array(case["lrs"])
    sched = make_schedule(case["name"], case["params"], case["base_lr"])
    np.testing.assert_allclose(sched.series(ref.size), ref, rtol=RTOL, atol=ATOL)
    for t in range(0, ref.size, 7):
        assert sched.lr_at(t) == pytest.approx(ref[t], rel=RTOL, abs=ATOL)


def _run_plateau(base_lr: float, params: dict[str, Any], metrics: list[float]) -> list[float]:
    sched = make_schedule("reduce_on_plateau", params, base_lr)
    out = []
    for m in metrics:
        sched.observe(m)
        out.append(sched.lr_at(len(out)))
    return out


@pytest.mark.parametrize("case", _fixture()["plateau"], ids=lambda c: json.dumps(c["params"]))
def test_golden_reduce_on_plateau(case: dict[str, Any]) -> None:
    ours = _run_plateau(case["base_lr"], case["params"], case["metrics"])
    np.testing.assert_allclose(ours, case["lrs"], rtol=RTOL, atol=ATOL)
    assert len(set(case["lrs"])) > 1  # the case actually reduces


def _random_torch_params(rng: np.random.Generator, name: str) -> dict[str, Any]:
    if name == "step":
        return {"step_size": int(rng.integers(1, 60)), "gamma": float(rng.uniform(0.05, 1))}
    if name == "multistep":
        ms = sorted(int(m) for m in rng.integers(1, 300, size=int(rng.integers(1, 6))))
        return {"milestones": ms, "gamma": float(rng.uniform(0.05, 1))}
    if name == "exponential":
        return {"gamma": float(rng.uniform(0.9, 1))}
    if name == "cosine_annealing":
        return {"T_max": int(rng.integers(1, 150)), "eta_min": float(rng.uniform(0, 0.05))}
    if name == "cosine_annealing_warm_restarts":
        return {"T_0": int(rng.integers(1, 60)), "T_mult": int(rng.integers(1, 4)),
                "eta_min": float(rng.uniform(0, 0.05))}
    if name == "polynomial":
        return {"total_iters": int(rng.integers(1, 300)), "power": float(rng.uniform(0.1, 4))}
    if name == "linear":
        return {"start_factor": float(rng.uniform(0.01, 1)),
                "end_factor": float(rng.uniform(0, 1)), "total_iters": int(rng.integers(1, 300))}
    total = int(rng.integers(20, 400))
    return {"max_lr": float(rng.uniform(0.01, 1)), "total_steps": total,
            "pct_start": float(rng.uniform(0.1, 0.45)),
            "anneal_strategy": str(rng.choice(["cos", "linear"])),
            "div_factor": float(rng.uniform(2, 50)),
            "final_div_factor": float(10 ** rng.uniform(0, 5)),
            "three_phase": bool(rng.random() < 0.5)}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(TORCH_NAMES))
def test_live_torch_random_parameters(name: str) -> None:
    pytest.importorskip("torch")
    from scripts.golden import schedules as golden

    rng = np.random.default_rng(secrets.randbits(32))
    for _ in range(4):
        params = _random_torch_params(rng, name)
        base_lr = float(rng.uniform(0.001, 1))
        # at least 3 periods for the periodic ones
        n = params["total_steps"] if name == "one_cycle" else 3 * 150 + 10
        ref = np.array(golden.torch_series(name, params, base_lr, n))
        ours = make_schedule(name, params, base_lr).series(n)
        np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=ATOL, err_msg=str(params))


@pytest.mark.torch
def test_live_torch_plateau_random() -> None:
    pytest.importorskip("torch")
    from scripts.golden import schedules as golden

    rng = np.random.default_rng(secrets.randbits(32))
    for _ in range(6):
        params = {
            "mode": str(rng.choice(["min", "max"])),
            "factor": float(rng.uniform(0.05, 0.9)),
            "patience": int(rng.integers(0, 6)),
            "threshold": float(rng.choice([0.0, 10 ** rng.uniform(-5, -1)])),
            "threshold_mode": str(rng.choice(["rel", "abs"])),
            "cooldown": int(rng.integers(0, 4)),
            "min_lr": float(rng.choice([0.0, 1e-4])),
        }
        metrics = np.cumsum(rng.normal(size=150) * 0.1).tolist()
        ref = golden.torch_plateau(params, 0.1, metrics)
        np.testing.assert_allclose(_run_plateau(0.1, params, metrics), ref, rtol=RTOL,
                                   atol=ATOL)


def test_cosine_annealing_past_t_max_follows_torch_periodicity() -> None:
    s = make_schedule("cosine_annealing", {"T_max": 10, "eta_min": 0.01}, 0.1)
    assert s.lr_at(10) == pytest.approx(0.01, rel=1e-12)
    assert s.lr_at(20) == pytest.approx(0.1, rel=1e-12)
    assert s.lr_at(15) == pytest.approx(s.lr_at(5), rel=1e-12)


def test_one_cycle_ignores_base_lr_and_holds_final_value() -> None:
    p = {"max_lr": 0.4, "total_steps": 100, "div_factor": 8.0, "final_div_factor": 50.0}
    a, b = make_schedule("one_cycle", p, 0.001), make_schedule("one_cycle", p, 3.0)
    assert np.array_equal(a.series(150), b.series(150))
    assert a.lr_at(0) == pytest.approx(0.05, rel=1e-15)
    assert max(a.series(100)) == pytest.approx(0.4, rel=1e-12)
    final = 0.05 / 50.0
    assert a.lr_at(99) == pytest.approx(final, rel=1e-12)
    assert all(a.lr_at(t) == a.lr_at(99) for t in (100, 101, 5000, 10**7))


def test_multistep_counts_repeated_milestones_like_torch() -> None:
    s = make_schedule("multistep", {"milestones": [5, 5, 2], "gamma": 0.5}, 1.0)
    assert s.series(7).tolist() == [1.0, 1.0, 0.5, 0.5, 0.5, 0.125, 0.125]


# -- TensorFlow formulas, transcribed per step -----------------------------------------------


def _tf_reference(name: str, lr: float, p: dict[str, Any], step: int) -> float:
    """Plain-math transcriptions of the formulas in TF's documentation."""
    if name == "exponential_decay":
        e = step / p["decay_steps"]
        if p["staircase"]:
            e = math.floor(e)
        return lr * p["decay_rate"] ** e
    if name == "natural_exp_decay":
        e = step / p["decay_steps"]
        if p["staircase"]:
            e = math.floor(e)
        return lr * math.exp(-p["decay_rate"] * e)
    if name == "inverse_time_decay":
        e = step / p["decay_steps"]
        if p["staircase"]:
            e = math.floor(e)
        return lr / (1 + p["decay_rate"] * e)
    if name == "polynomial_decay":
        ds = p["decay_steps"]
        if p["cycle"]:
            ds = ds * (1 if step == 0 else math.ceil(step / ds))
        else:
            step = min(step, ds)
        return (lr - p["end_learning_rate"]) * (1 - step / ds) ** p["power"] + p[
            "end_learning_rate"
        ]
    if name == "cosine_decay":
        step = min(step, p["decay_steps"])
        cos = 0.5 * (1 + math.cos(math.pi * step / p["decay_steps"]))
        return lr * ((1 - p["alpha"]) * cos + p["alpha"])
    if name == "cosine_decay_restarts":
        # walk the periods explicitly (independent of the closed-form log formula)
        start, length, i = 0.0, float(p["first_decay_steps"]), 0
        while step >= start + length:
            start += length
            length *= p["t_mul"]
            i += 1
        frac = (step - start) / length
        cos = 0.5 * p["m_mul"] ** i * (1 + math.cos(math.pi * frac))
        return lr * ((1 - p["alpha"]) * cos + p["alpha"])
    if name == "linear_cosine_decay":
        ds = p["decay_steps"]
        step = min(step, ds)
        linear = (ds - step) / ds
        cos = 0.5 * (1 + math.cos(math.pi * 2 * p["num_periods"] * step / ds))
        return lr * ((p["alpha"] + linear) * cos + p["beta"])
    if name == "piecewise_constant":
        for boundary, value in zip(p["boundaries"], p["values"], strict=False):
            if step <= boundary:
                return value
        return p["values"][-1]
    raise KeyError(name)


TF_CASES: list[tuple[str, float, dict[str, Any]]] = [
    ("exponential_decay", 0.1, {"decay_steps": 100, "decay_rate": 0.96, "staircase": False}),
    ("exponential_decay", 0.1, {"decay_steps": 30, "decay_rate": 0.5, "staircase": True}),
    ("exponential_decay", 1.0, {"decay_steps": 1, "decay_rate": 0.99, "staircase": True}),
    ("natural_exp_decay", 0.1, {"decay_steps": 100, "decay_rate": 0.5, "staircase": False}),
    ("natural_exp_decay", 0.3, {"decay_steps": 25, "decay_rate": 2.0, "staircase": True}),
    ("inverse_time_decay", 0.1, {"decay_steps": 100, "decay_rate": 0.5, "staircase": False}),
    ("inverse_time_decay", 0.1, {"decay_steps": 40, "decay_rate": 3.0, "staircase": True}),
    ("polynomial_decay", 0.1, {"decay_steps": 200, "end_learning_rate": 0.0001, "power": 1.0,
                               "cycle": False}),
    ("polynomial_decay", 0.1, {"decay_steps": 70, "end_learning_rate": 0.01, "power": 2.0,
                               "cycle": True}),
    ("polynomial_decay", 0.5, {"decay_steps": 33, "end_learning_rate": 0.0, "power": 0.5,
                               "cycle": True}),
    ("cosine_decay", 0.1, {"decay_steps": 250, "alpha": 0.0}),
    ("cosine_decay", 0.2, {"decay_steps": 90, "alpha": 0.1}),
    ("cosine_decay_restarts", 0.1, {"first_decay_steps": 20, "t_mul": 2.0, "m_mul": 1.0,
                                    "alpha": 0.0}),
    ("cosine_decay_restarts", 0.1, {"first_decay_steps": 1, "t_mul": 3.0, "m_mul": 0.8,
                                    "alpha": 0.05}),
    ("cosine_decay_restarts", 0.1, {"first_decay_steps": 37, "t_mul": 1.0, "m_mul": 0.9,
                                    "alpha": 0.0}),
    ("cosine_decay_restarts", 0.1, {"first_decay_steps": 10, "t_mul": 1.5, "m_mul": 0.7,
                                    "alpha": 0.2}),
    ("linear_cosine_decay", 0.1, {"decay_steps": 200, "num_periods": 0.5, "alpha": 0.0,
                                  "beta": 0.001}),
    ("linear_cosine_decay", 0.1, {"decay_steps": 150, "num_periods": 3.0, "alpha": 0.2,
                                  "beta": 0.01}),
    ("piecewise_constant", 0.1, {"boundaries": [100, 200], "values": [0.1, 0.01, 0.001]}),
    ("piecewise_constant", 0.1, {"boundaries": [0, 5, 6, 250], "values": [1.0, 0.5, 0.3, 0.2,
                                                                          0.01]}),
]


@pytest.mark.parametrize(("name", "lr", "params"), TF_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(TF_CASES)])
def test_tf_schedule_matches_documented_formula(
    name: str, lr: float, params: dict[str, Any]
) -> None:
    n = 400
    ref = np.array([_tf_reference(name, lr, params, t) for t in range(n)])
    sched = make_schedule(name, params, lr)
    np.testing.assert_allclose(sched.series(n), ref, rtol=RTOL, atol=ATOL)
    assert SCHEDULES.get(name).meta["origin"] == "tensorflow"


def test_cosine_decay_restarts_exact_restart_points() -> None:
    """Restarts where log(1 − f(1 − t_mul))/log(t_mul) rounds below an integer."""
    s = make_schedule("cosine_decay_restarts", {"first_decay_steps": 1, "t_mul": 3.0}, 1.0)
    starts = [0, 1, 4, 13, 40, 121, 364, 1093, 3280]
    for t in starts:
        assert s.lr_at(t) == pytest.approx(1.0, rel=1e-12), t
    assert s.lr_at(3279) < 1e-3


def test_polynomial_decay_cycle_restarts() -> None:
    s = make_schedule("polynomial_decay",
                      {"decay_steps": 10, "end_learning_rate": 0.0, "cycle": True}, 1.0)
    # t=0 multiplier 1; t=10 -> D=10 -> 0; t=11 -> D=20 -> 1 − 11/20
    assert s.lr_at(0) == 1.0 and s.lr_at(10) == 0.0
    assert s.lr_at(11) == pytest.approx(0.45, rel=1e-12)


def test_noisy_linear_cosine_is_a_pure_function_of_seed_and_step() -> None:
    p = {"decay_steps": 3000, "initial_variance": 0.5}
    a = make_schedule("noisy_linear_cosine_decay", p, 0.1, seed=11)
    b = make_schedule("noisy_linear_cosine_decay", p, 0.1, seed=11)
    c = make_schedule("noisy_linear_cosine_decay", p, 0.1, seed=12)
    sa = a.series(2500)
    # b is read backwards first: the order of queries must not matter
    assert [b.lr_at(t) for t in range(2499, -1, -1)][::-1] == sa.tolist()
    assert not np.array_equal(sa, c.series(2500))
    assert np.array_equal(sa, b.series(2500))
    noiseless = make_schedule("linear_cosine_decay", {"decay_steps": 3000}, 0.1).series(2500)
    assert np.mean(sa != noiseless) > 0.9


def test_noisy_linear_cosine_noise_statistics() -> None:
    """ε_t ~ N(0, iv/(1+s)^vd): recover ε from the rate and standardise it."""
    iv, vd, ds = 0.01, 0.55, 5000
    p = {"decay_steps": ds, "initial_variance": iv, "variance_decay": vd, "alpha": 1.0,
         "num_periods": 0.0, "beta": 0.0}
    lr = make_schedule("noisy_linear_cosine_decay", p, 2.0, seed=3).series(ds)
    t = np.arange(ds)
    eps = lr / 2.0 - 1.0 - (ds - t) / ds  # cosine part is 1 with num_periods = 0
    z = eps / np.sqrt(iv / (1.0 + t) ** vd)
    assert abs(z.mean()) < 0.06 and abs(z.std() - 1.0) < 0.05


# -- properties --------------------------------------------------------------------------------


def _param_strategy(p: Param) -> st.SearchStrategy[Any]:
    if p.type == "bool":
        return st.booleans()
    if p.type == "choice":
        return st.sampled_from(p.choices or ())
    lo = p.min if p.min is not None else 0.0
    hi = p.max if p.max is not None else 100.0
    if p.type == "int":
        return st.integers(int(lo), int(min(hi, 400)))
    if p.type == "float":
        hi = min(hi, 1e3)
        return st.floats(lo, hi, exclude_min=p.exclusive_min, exclude_max=p.exclusive_max)
    if p.type == "int_list":
        return st.lists(st.integers(max(int(lo), 0), 600), min_size=1, max_size=5,
                        unique=True).map(sorted)
    return st.lists(st.floats(lo, min(hi, 1.0)), min_size=1, max_size=6)


@st.composite
def schedule_configs(draw: st.DrawFn, names: list[str] | None = None) -> tuple[str, dict]:
    name = draw(st.sampled_from(names or [n for n in SCHEDULES.names()
                                          if n != "reduce_on_plateau"]))
    comp = SCHEDULES.get(name)
    values = {p.name: draw(_param_strategy(p)) for p in comp.params}
    if name == "piecewise_constant":
        values["values"] = draw(st.lists(st.floats(0, 1), min_size=len(values["boundaries"]) + 1,
                                         max_size=len(values["boundaries"]) + 1))
    if name == "one_cycle":
        values["total_steps"] = draw(st.integers(10, 3000))
    try:
        comp.resolve(values)
    except ConfigError:
        assume(False)
    return name, values


@settings(max_examples=150, deadline=None)
@given(cfg=schedule_configs(), base_lr=st.floats(0, 2), seed=st.integers(0, 2**31),
       n=st.integers(0, 2600), warmup=st.sampled_from([0, 0, 1, 7, 1500]))
def test_series_equals_lr_at_and_is_finite_nonnegative(
    cfg: tuple[str, dict], base_lr: float, seed: int, n: int, warmup: int
) -> None:
    name, values = cfg
    s = make_schedule(name, values, base_lr, seed=seed, warmup_steps=warmup)
    series = s.series(n)
    assert series.shape == (n,) and series.dtype == np.float64
    assert np.all(np.isfinite(series)) and np.all(series >= 0)
    fresh = make_schedule(name, values, base_lr, seed=seed, warmup_steps=warmup)
    ts = sorted({0, n - 1, n // 2, BLOCK - 1, BLOCK, 7 * n // 9} - {-1})
    for t in (t for t in ts if 0 <= t < n):
        assert fresh.lr_at(t) == series[t]
    if n:
        assert s.values_range(n // 3, n).tolist() == series[n // 3 :].tolist()


MONOTONE = ["step", "multistep", "exponential", "polynomial", "exponential_decay",
            "natural_exp_decay", "inverse_time_decay", "cosine_decay"]


@settings(max_examples=100, deadline=None)
@given(cfg=schedule_configs(MONOTONE), base_lr=st.floats(0, 2))
def test_decaying_schedules_never_increase(cfg: tuple[str, dict], base_lr: float) -> None:
    name, values = cfg
    s = make_schedule(name, values, base_lr).series(1200)
    assert np.all(np.diff(s) <= 1e-15 * base_lr)
    assert s[0] == pytest.approx(base_lr, rel=1e-15)


@settings(max_examples=60, deadline=None)
@given(cfg=schedule_configs(["polynomial_decay", "linear_cosine_decay", "linear"]),
       base_lr=st.floats(0.01, 2))
def test_more_monotone_cases(cfg: tuple[str, dict], base_lr: float) -> None:
    name, values = cfg
    if name == "polynomial_decay":
        assume(not values["cycle"] and values["end_learning_rate"] <= base_lr)
    if name == "linear_cosine_decay":
        assume(values["num_periods"] <= 0.5)
    if name == "linear":
        assume(values["end_factor"] <= values["start_factor"])
    s = make_schedule(name, values, base_lr).series(900)
    assert np.all(np.diff(s) <= 1e-12 * base_lr)


@settings(max_examples=80, deadline=None)
@given(base_lr=st.floats(0.001, 2), frac=st.floats(0, 1), T=st.integers(1, 300),
       T_mult=st.integers(1, 3))
def test_cosine_bounds(base_lr: float, frac: float, T: int, T_mult: int) -> None:
    eta_min = frac * base_lr
    tol = 1e-12 * base_lr
    for name, p in [("cosine_annealing", {"T_max": T, "eta_min": eta_min}),
                    ("cosine_annealing_warm_restarts",
                     {"T_0": T, "T_mult": T_mult, "eta_min": eta_min})]:
        s = make_schedule(name, p, base_lr).series(1000)
        assert np.all(s >= eta_min - tol) and np.all(s <= base_lr + tol)
        assert s[0] == pytest.approx(base_lr, rel=1e-15)
    s = make_schedule("cosine_decay", {"decay_steps": T, "alpha": frac}, base_lr).series(700)
    assert np.all(s >= frac * base_lr - tol) and np.all(s <= base_lr + tol)
    assert s[-1] == pytest.approx(frac * base_lr, rel=1e-12, abs=1e-15)


# -- warm-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize("w", [1, 5, BLOCK + 3])
def test_warmup_convention(w: int) -> None:
    inner = make_schedule("exponential", {"gamma": 0.99}, 0.2)
    s = with_warmup(make_schedule("exponential", {"gamma": 0.99}, 0.2), w)
    assert s.lr_at(0) == pytest.approx(0.2 / w, rel=1e-15)
    assert s.lr_at(w - 1) == pytest.approx(0.2, rel=1e-15)
    for k in (0, 1, 10, 3000):
        assert s.lr_at(w + k) == inner.lr_at(k)
    series = s.series(w + 2000)
    assert np.all(np.diff(series[:w]) > 0)
    assert series[w:].tolist() == inner.series(2000).tolist()
    assert make_schedule("exponential", {"gamma": 0.99}, 0.2, warmup_steps=w).series(
        w + 10
    ).tolist() == series[: w + 10].tolist()
    assert with_warmup(inner, 0) is inner


def test_warmup_on_plateau_forwards_observe() -> None:
    s = make_schedule("reduce_on_plateau", {"patience": 0}, 0.1, warmup_steps=4)
    assert s.stateful
    assert [s.lr_at(t) for t in range(4)] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    s.observe(1.0)
    s.observe(2.0)  # worse -> cut by 10
    assert s.lr_at(10) == pytest.approx(0.01)
    assert s.state_dict()["lr"] == pytest.approx(0.01)


# -- reduce_on_plateau ------------------------------------------------------------------------


def test_plateau_state_and_preview() -> None:
    s = make_schedule("reduce_on_plateau", {"patience": 1, "factor": 0.5}, 0.4)
    assert isinstance(s, ReduceLROnPlateau) and s.stateful
    for m in [1.0, 1.0, 1.0]:
        s.observe(m)
    assert s.lr_at(0) == s.lr_at(999) == pytest.approx(0.2)
    assert s.series(5).tolist() == [s.lr_at(0)] * 5
    saved = s.state_dict()
    clone = make_schedule("reduce_on_plateau", {"patience": 1, "factor": 0.5}, 0.4)
    clone.load_state_dict(saved)
    for m in [1.0, 0.5, 0.5, 0.5]:
        s.observe(m)
        clone.observe(m)
    assert clone.state_dict() == s.state_dict()
    assert s.lr_at(0) == pytest.approx(0.1)


# -- validation and catalog ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values", "kw", "field"),
    [
        ("step", {"gamma": 0.0}, {}, "schedule.gamma"),
        ("step", {"gamma": 1.5}, {}, "schedule.gamma"),
        ("step", {"step_size": 0}, {}, "schedule.step_size"),
        ("whatever", {}, {}, "schedule.name"),
        ("exponential", {}, {"warmup_steps": -1}, "schedule.warmup_steps"),
        ("exponential", {}, {"warmup_steps": 100_001}, "schedule.warmup_steps"),
        ("exponential", {"gama": 0.9}, {}, "schedule.gama"),
        ("multistep", {"milestones": [0, 10]}, {}, "schedule.milestones[0]"),
        ("multistep", {"milestones": []}, {}, "schedule.milestones"),
        ("cosine_annealing_warm_restarts", {"T_mult": 0}, {}, "schedule.T_mult"),
        ("piecewise_constant", {"boundaries": [10, 5], "values": [1, 2, 3]}, {},
         "schedule.boundaries"),
        ("piecewise_constant", {"boundaries": [10, 20], "values": [0.1, 0.2]}, {},
         "schedule.values"),
        ("one_cycle", {"pct_start": 0.001, "total_steps": 100}, {}, "schedule.pct_start"),
        ("one_cycle", {"pct_start": 0.6, "total_steps": 100, "three_phase": True}, {},
         "schedule.pct_start"),
        ("one_cycle", {"anneal_strategy": "exp"}, {}, "schedule.anneal_strategy"),
        ("linear", {"start_factor": 0.0}, {}, "schedule.start_factor"),
        ("cosine_decay_restarts", {"t_mul": 0.5}, {}, "schedule.t_mul"),
        ("reduce_on_plateau", {"factor": 1.0}, {}, "schedule.factor"),
        ("reduce_on_plateau", {"mode": "avg"}, {}, "schedule.mode"),
        ("constant", {}, {"base_lr": float("inf")}, "schedule.base_lr"),
    ],
)
def test_bad_values_raise_config_error(
    name: str, values: dict[str, Any], kw: dict[str, Any], field: str
) -> None:
    kwargs: dict[str, Any] = {"base_lr": 0.1, **kw}
    with pytest.raises(ConfigError) as exc:
        make_schedule(name, values, **kwargs)
    assert exc.value.field == field
    assert exc.value.message


def test_catalog_entries_are_complete() -> None:
    for comp in SCHEDULES:
        entry = comp.catalog_entry()
        assert entry["formula"] and entry["label"]
        assert entry["origin"] in ("torch", "tensorflow", "gradplay")
        if entry["origin"] == "torch":
            assert entry["torch"].startswith("torch.optim.lr_scheduler.")
        if entry["origin"] == "tensorflow":
            assert entry["tf"].startswith("tf.")
            # every parameter name appears in the equivalent call
            assert all(p.name in entry["tf"] for p in comp.params)
        if entry["origin"] == "torch":
            assert all(p.name in entry["torch"] for p in comp.params)
        assert all(p.help for p in comp.params)
        make_schedule(comp.name, None, 0.1).series(5)  # defaults are valid


@pytest.mark.torch
def test_defaults_match_torch_signatures() -> None:
    torch = pytest.importorskip("torch")
    import inspect

    for comp in SCHEDULES:
        if comp.meta["origin"] != "torch":
            continue
        cls = getattr(torch.optim.lr_scheduler, comp.meta["torch"].split("(")[0].split(".")[-1])
        sig = inspect.signature(cls.__init__).parameters
        for p in comp.params:
            default = sig[p.name].default
            if default is inspect.Parameter.empty or default is None:
                continue
            if isinstance(default, str | bool):
                assert default == p.default, (comp.name, p.name)
            else:
                assert default == pytest.approx(p.default), (comp.name, p.name)
