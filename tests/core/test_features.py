"""Feature crosses as inputs (``dataset.features``): validation, the (x1, x2) plane of the
decision surface, and the point of it all: a linear model with x1² + x2² separates the circle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import DEFAULT_FEATURES, FEATURES, grid_for, make_dataset
from core.errors import ConfigError
from core.trainer import Run

NAMES = FEATURES.names()


def _run(features: list[str], steps: int = 600) -> Run:
    run = Run(
        {
            "seed": 3,
            "dataset": {"name": "circle", "n": 400, "noise": 0.1, "features": features},
            "model": {"hidden": []},
            "optimizer": {"name": "adam", "lr": 0.05},
            "batch_size": 20,
        }
    )
    run.step(steps, collect=False)
    return run


def _val_accuracy(run: Run) -> float:
    ds = run.dataset
    pred = run.model.predict(ds.x_val)[:, 0] > 0.0
    return float(np.mean(pred == (ds.y_val[:, 0] == 1.0)))


def test_registry_names_are_the_contract() -> None:
    assert NAMES == ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]
    assert list(DEFAULT_FEATURES) == ["x1", "x2"]


def test_linear_model_separates_circle_only_with_squares() -> None:
    crossed = _run(["x1_sq", "x2_sq"])
    plain = _run(["x1", "x2"])
    assert crossed.model.spec.hidden == () and crossed.dataset.input_dim == 2
    assert _val_accuracy(crossed) > 0.95
    assert _val_accuracy(plain) < 0.75  # a line cannot separate a disc from a ring
    # the records agree with the direct measurement
    assert crossed.history.columns(["val_acc"])["val_acc"][-1] > 0.95


def test_default_features_are_bit_identical_to_no_features() -> None:
    a = make_dataset("spiral", n=120, rng=np.random.default_rng(1), normalize="zscore")
    b = make_dataset(
        "spiral", n=120, rng=np.random.default_rng(1), normalize="zscore", features=["x1", "x2"]
    )
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.x_val, b.x_val)
    assert not b.crossed and b.points_train is b.x_train


@given(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=7, unique=True),
    st.sampled_from(["none", "minmax", "zscore"]),
)
@settings(max_examples=30, deadline=None)
def test_crossed_inputs_are_features_of_the_same_points(
    features: list[str], normalize: str
) -> None:
    base = make_dataset("moons", n=60, rng=np.random.default_rng(5), normalize=normalize)
    ds = make_dataset(
        "moons", n=60, rng=np.random.default_rng(5), normalize=normalize, features=features
    )
    assert ds.x_train.shape == (base.n_train, len(features))
    # the plane points are the un-crossed dataset's inputs (same draws, same normalisation)
    np.testing.assert_allclose(ds.points_train, base.x_train, rtol=1e-12, atol=1e-12)
    # inputs_for maps plane points to exactly the model's inputs
    np.testing.assert_allclose(ds.inputs_for(ds.points_train), ds.x_train, rtol=1e-9, atol=1e-9)
    raw = base.normalizer.inverse_transform(base.x_train)
    cols = {
        "x1": raw[:, 0],
        "x2": raw[:, 1],
        "x1_sq": raw[:, 0] ** 2,
        "x2_sq": raw[:, 1] ** 2,
        "x1_x2": raw[:, 0] * raw[:, 1],
        "sin_x1": np.sin(raw[:, 0]),
        "sin_x2": np.sin(raw[:, 1]),
    }
    expect = ds.normalizer.transform(np.column_stack([cols[f] for f in features]))
    np.testing.assert_allclose(ds.x_train, expect, rtol=1e-9, atol=1e-9)


def test_surface_is_drawn_over_the_plane() -> None:
    run = _run(["x1_sq", "x2_sq"], steps=300)
    ds = run.dataset
    snap = run.snapshot(grid=21)
    xs, ys, points = grid_for(ds, resolution=21)
    np.testing.assert_array_equal(snap["surface"]["x"], xs)
    lo = ds.points_train.min(axis=0)
    assert xs[0] < lo[0] and ys[0] < lo[1]  # the window covers the 2-D points, not x1², x2²
    prob = 1.0 / (1.0 + np.exp(-run.model.predict(ds.inputs_for(points))[:, 0]))
    np.testing.assert_allclose(snap["surface"]["prob"].ravel(), prob, rtol=1e-12)
    # centre of the disc is class 1, far corner class 0
    p = snap["surface"]["prob"]
    assert p[10, 10] > 0.9 and p[0, 0] < 0.1
    assert "coefficients" not in snap


@pytest.mark.parametrize(
    ("dataset", "features", "field", "text"),
    [
        ("circle", ["x1", "x3"], "dataset.features[1]", "allowed: 'x1', 'x2', 'x1_sq'"),
        ("circle", ["x1", "x1"], "dataset.features[1]", "duplicate"),
        ("circle", [], "dataset.features", "non-empty"),
        ("circle", "x1", "dataset.features", "non-empty list"),
        ("sine", ["x1_sq"], "dataset.features", "need a 2-D dataset"),
        ("sparse_linear", ["x1", "x2", "x1_x2"], "dataset.features", "2-D dataset (circle"),
    ],
)
def test_bad_features_name_the_field(dataset: str, features: object, field: str, text: str) -> None:
    with pytest.raises(ConfigError) as exc:
        Run({"dataset": {"name": dataset, "features": features}})
    assert exc.value.field == field
    assert text in exc.value.message


def test_non_2d_datasets_keep_the_default() -> None:
    run = Run({"dataset": {"name": "sine"}})
    assert run.config["dataset"]["features"] == ["x1", "x2"]
    assert run.dataset.input_dim == 1 and not run.dataset.crossed


def test_replay_with_features_is_exact() -> None:
    run = Run(
        {"dataset": {"name": "xor", "features": ["x1", "x2", "x1_x2"]}, "model": {"hidden": [4]}}
    )
    run.step(50)
    run.apply_patch({"optimizer": {"lr": 0.1}})
    run.step(30)
    exported = run.export()
    again = Run.replay(exported["config"], exported["events"], exported["step"])
    assert again.config["dataset"]["features"] == ["x1", "x2", "x1_x2"]
    assert np.array_equal(again.model.theta, run.model.theta)
