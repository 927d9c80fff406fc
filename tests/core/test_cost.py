"""The cost estimate (issue 16): positive, finite and monotone in width, depth, samples and
batch size for every config the schema allows; its constants match the engine's."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from core import cost
from core.datasets import DATASETS
from core.history import DEFAULT_FLOAT_BUDGET, LAYER_FIELDS, SCALAR_FIELDS, History
from core.optimizers import OPTIMIZERS, make_optimizer
from core.trainer import Run, resolve_config

OPTIMIZER_NAMES = [c.name for c in OPTIMIZERS]
# "custom" needs an uploaded table (tests/app/test_datasets_api.py covers its runs)
DATASET_NAMES = [c.name for c in DATASETS if c.name != "custom"]


@st.composite
def configs(draw: st.DrawFn) -> dict:
    depth = draw(st.integers(0, 64))
    width = draw(st.integers(1, 512))
    return {
        "dataset": {
            "name": draw(st.sampled_from(DATASET_NAMES)),
            "n": draw(st.integers(2, 20000)),
            "val_fraction": draw(st.sampled_from([0.0, 0.2, 0.5])),
            "test_fraction": draw(st.sampled_from([0.0, 0.1])),
        },
        "model": {
            "hidden": [width] * depth,
            "dropout": draw(st.sampled_from([0.0, 0.3])),
            "batch_norm": draw(st.booleans()),
            "residual": draw(st.booleans()),
        },
        "optimizer": {"name": draw(st.sampled_from(OPTIMIZER_NAMES))},
        "batch_size": draw(st.integers(2, 20000)),
        "eval_every": draw(st.integers(1, 100)),
    }


def _total(config: dict) -> int:
    return cost.run_memory(cost.shape_of(resolve_config(config)))["total"]


def _seconds(config: dict) -> float:
    return cost.shape_step_seconds(cost.shape_of(resolve_config(config)))


@given(configs())
def test_estimates_are_positive_and_finite_for_every_allowed_config(config: dict) -> None:
    parts = cost.run_memory(cost.shape_of(resolve_config(config)))
    assert all(isinstance(v, int) and v >= 0 for v in parts.values())
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total") > 0
    seconds = _seconds(config)
    assert math.isfinite(seconds) and seconds > 0


def _with(config: dict, path: tuple[str, ...], value: object) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


@given(configs(), st.integers(1, 512))
def test_monotone_in_width(config: dict, other: int) -> None:
    depth = len(config["model"]["hidden"]) or 1
    w = config["model"]["hidden"][0] if config["model"]["hidden"] else 1
    lo, hi = sorted((w, other))
    small = _with(config, ("model", "hidden"), [lo] * depth)
    large = _with(config, ("model", "hidden"), [hi] * depth)
    assert _total(small) <= _total(large)
    assert _seconds(small) <= _seconds(large)


@given(configs(), st.integers(0, 64))
def test_monotone_in_depth(config: dict, other: int) -> None:
    hidden = config["model"]["hidden"]
    w = hidden[0] if hidden else 8
    lo, hi = sorted((len(hidden), other))
    small = _with(config, ("model", "hidden"), [w] * lo)
    large = _with(config, ("model", "hidden"), [w] * hi)
    assert _total(small) <= _total(large)
    assert _seconds(small) <= _seconds(large)


@given(configs(), st.integers(2, 20000))
def test_monotone_in_samples(config: dict, other: int) -> None:
    lo, hi = sorted((config["dataset"]["n"], other))
    small = _with(config, ("dataset", "n"), lo)
    large = _with(config, ("dataset", "n"), hi)
    assert _total(small) <= _total(large)
    assert _seconds(small) <= _seconds(large)


@given(configs(), st.integers(2, 20000))
def test_monotone_in_batch_size(config: dict, other: int) -> None:
    lo, hi = sorted((config["batch_size"], other))
    small, large = dict(config, batch_size=lo), dict(config, batch_size=hi)
    assert _total(small) <= _total(large)
    assert _seconds(small) <= _seconds(large)


def test_constants_match_the_engine() -> None:
    assert len(SCALAR_FIELDS) == cost.N_SCALAR_FIELDS
    assert len(LAYER_FIELDS) == cost.N_LAYER_FIELDS
    assert cost.HISTORY_FLOAT_BUDGET == DEFAULT_FLOAT_BUDGET
    for layers in (1, 3, 65):
        assert cost.history_capacity(layers) == History(layers).capacity
    for name in OPTIMIZER_NAMES:
        buffers = type(make_optimizer(name, {}))._buffer_names
        assert cost.OPTIMIZER_BUFFERS[name] >= len(buffers), name


@given(
    st.integers(1, 20000),
    st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9]),
    st.sampled_from([0.0, 0.05, 0.3]),
)
def test_split_rows_match_the_datasets(n: int, val: float, test: float) -> None:
    from core.datasets import make_dataset

    if test and val + test > 0.9:  # the engine refuses those
        return
    ds = make_dataset(
        "gauss",
        n=n,
        noise=0.1,
        val_fraction=val,
        normalize="none",
        params={},
        rng=np.random.default_rng(0),
        test_fraction=test,
    )
    assert cost.split_rows(n, val, test) == (len(ds.x_train), ds.n_val, ds.n_test)


def test_shape_of_matches_a_built_run() -> None:
    for raw in (
        {},
        {"dataset": {"name": "spiral", "params": {"classes": 5}}},
        {"dataset": {"name": "sparse_linear"}},
        {"dataset": {"name": "sine"}},
        {
            "dataset": {"features": ["x1", "x2", "x1_x2", "sin_x1"]},
            "model": {"hidden": [6, 5], "batch_norm": True},
        },
    ):
        run = Run(raw)
        shape = cost.shape_of(run.config)
        assert shape.n_params == run.model.n_params
        assert shape.n_weights == run.model.n_weights
        assert (shape.input_dim, shape.output_dim) == (
            run.dataset.input_dim,
            run.dataset.output_dim,
        )
        assert run.estimated_step_seconds() == cost.shape_step_seconds(shape)
