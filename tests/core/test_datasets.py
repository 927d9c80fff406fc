"""Tests for core.datasets: generators, split, normalisation, grids, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import (
    DATASETS,
    MAX_SAMPLES,
    Dataset,
    Normalizer,
    curve_grid,
    grid_for,
    make_dataset,
    split_sizes,
)
from core.errors import ConfigError

ALL = [name for name in DATASETS.names() if name != "custom"]  # custom: tests/core/test_tables.py
EXPECTED = {
    "circle": ("binary", 2),
    "xor": ("binary", 2),
    "gauss": ("binary", 2),
    "spiral": ("multiclass", 2),
    "moons": ("binary", 2),
    "plane": ("regression", 2),
    "sine": ("regression", 1),
    "sparse_linear": ("regression", 20),
    "unscaled": ("regression", 2),
}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _all_x(d: Dataset) -> np.ndarray:
    return np.concatenate([d.x_train, d.x_val])


def _all_y(d: Dataset) -> np.ndarray:
    return np.concatenate([d.y_train, d.y_val])


# ------------------------------------------------------------------ registry / catalog


def test_registry_contents_and_catalog() -> None:
    assert set(ALL) == set(EXPECTED)
    for comp in (DATASETS.get(name) for name in ALL):
        entry = comp.catalog_entry()
        assert entry["label"] and entry["formula"] and entry["description"]
        assert entry["task"] == EXPECTED[comp.name][0]
        if comp.name != "sparse_linear":
            assert entry["input_dim"] == EXPECTED[comp.name][1]
        json.dumps(entry)


# ------------------------------------------------------------------ shapes, dtypes, tasks


@pytest.mark.parametrize("name", ALL)
def test_shapes_dtypes_tasks(name: str) -> None:
    task, dim = EXPECTED[name]
    d = make_dataset(name, n=101, noise=0.2, val_fraction=0.25, rng=rng(1))
    assert (d.name, d.task, d.input_dim) == (name, task, dim)
    assert d.n_train + d.n_val == 101 and d.n_val == 25
    for x in (d.x_train, d.x_val):
        assert x.dtype == np.float64 and x.ndim == 2 and x.shape[1] == dim
        assert np.all(np.isfinite(x))
    if task == "multiclass":
        assert d.y_train.dtype == np.int64 and d.y_train.shape == (d.n_train,)
        assert d.n_classes == d.output_dim == 3
    else:
        assert d.y_train.dtype == np.float64 and d.y_train.shape == (d.n_train, 1)
        assert d.y_val.shape == (d.n_val, 1)
        assert d.output_dim == 1
        assert d.n_classes == (1 if task == "binary" else 0)
    if task == "binary":
        assert set(np.unique(_all_y(d))) <= {0.0, 1.0}
    json.dumps(d.summary())


@pytest.mark.parametrize("name", ["circle", "xor", "gauss", "moons"])
def test_binary_sets_are_balanced(name: str) -> None:
    d = make_dataset(name, n=401, rng=rng(2))
    assert abs(int(_all_y(d).sum()) - 200) <= 1  # halves, up to one for odd n
    assert 0.3 < d.y_train.mean() < 0.7  # the random split keeps it balanced-ish


@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_spiral_has_k_classes(k: int) -> None:
    d = make_dataset("spiral", n=40 * k, params={"classes": k, "turns": 1.5}, rng=rng(k))
    y = _all_y(d)
    assert d.n_classes == d.output_dim == k
    np.testing.assert_array_equal(np.bincount(y), [40] * k)


def test_spiral_arms_follow_the_formula_without_noise() -> None:
    d = make_dataset("spiral", n=300, noise=0.0, val_fraction=0.0, params={"classes": 3}, rng=rng())
    x, y = d.x_train, d.y_train
    r = np.hypot(x[:, 0], x[:, 1])
    t = r / 5.0
    expected_angle = 2 * np.pi * (1.0 * t + y / 3)
    diff = np.angle(np.exp(1j * (np.arctan2(x[:, 1], x[:, 0]) - expected_angle)))
    assert np.max(np.abs(diff[r > 1e-9])) < 1e-9


def test_clean_classification_geometry() -> None:
    c = make_dataset("circle", n=500, noise=0.0, rng=rng())
    r = np.hypot(*_all_x(c).T)
    y = _all_y(c)[:, 0]
    assert r[y == 1].max() <= 2.5 and r[y == 0].min() >= 3.5 and r.max() <= 5.0
    x = make_dataset("xor", n=500, noise=0.0, rng=rng())
    xx, yy = _all_x(x), _all_y(x)[:, 0]
    np.testing.assert_array_equal(yy, (xx[:, 0] * xx[:, 1] > 0).astype(float))
    assert np.abs(xx).min() >= 0.3 and np.abs(xx).max() <= 5.0
    g = make_dataset("gauss", n=2000, noise=0.0, rng=rng())
    gx, gy = _all_x(g), _all_y(g)[:, 0]
    np.testing.assert_allclose(gx[gy == 1].mean(axis=0), [2, 2], atol=0.1)
    np.testing.assert_allclose(gx[gy == 0].std(axis=0), [0.5, 0.5], atol=0.05)
    m = make_dataset("moons", n=400, noise=0.0, rng=rng())
    mx, my = _all_x(m), _all_y(m)[:, 0]
    # upper moon: (cos t, sin t) scaled: distance 3 from the centre 3*(-0.5, -0.25)
    upper = np.hypot(mx[my == 0, 0] + 1.5, mx[my == 0, 1] + 0.75)
    np.testing.assert_allclose(upper, 3.0, rtol=1e-12)


def test_noise_widens_the_cloud() -> None:
    clean = make_dataset("circle", n=1000, noise=0.0, rng=rng(5))
    noisy = make_dataset("circle", n=1000, noise=1.0, rng=rng(5))
    assert np.hypot(*_all_x(noisy).T).max() > np.hypot(*_all_x(clean).T).max() + 1.0
    g0 = make_dataset("gauss", n=1000, noise=0.0, rng=rng(5))
    g1 = make_dataset("gauss", n=1000, noise=1.0, rng=rng(5))
    assert _all_x(g1).std() > _all_x(g0).std() + 1.0


# ------------------------------------------------------------------ regression sets


def test_plane_and_sine_without_noise() -> None:
    p = make_dataset("plane", n=200, noise=0.0, rng=rng())
    np.testing.assert_allclose(_all_y(p)[:, 0], _all_x(p) @ np.array([0.1, 0.1]), rtol=1e-14)
    assert p.truth == {"coef": [0.1, 0.1], "intercept": 0.0}
    s = make_dataset("sine", n=200, noise=0.0, rng=rng())
    xs = _all_x(s)
    np.testing.assert_allclose(_all_y(s), np.sin(xs), rtol=1e-14)
    assert xs.min() >= -2 * np.pi and xs.max() <= 2 * np.pi


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    p=st.integers(2, 60),
    data=st.data(),
)
def test_sparse_linear_truth(seed: int, p: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, p))
    d = make_dataset(
        "sparse_linear",
        n=50,
        noise=0.0,
        val_fraction=0.2,
        params={"n_features": p, "n_informative": k},
        rng=rng(seed),
    )
    coef = np.array(d.truth["coef"])
    assert coef.shape == (p,) and d.input_dim == p
    assert np.count_nonzero(coef) == k
    assert d.truth["informative"] == sorted(np.flatnonzero(coef).tolist())
    assert np.all((np.abs(coef[coef != 0]) >= 1.0) & (np.abs(coef[coef != 0]) <= 3.0))
    np.testing.assert_allclose(_all_y(d)[:, 0], _all_x(d) @ coef, rtol=1e-12, atol=1e-12)


def test_sparse_linear_noise_is_relative_to_signal() -> None:
    d = make_dataset("sparse_linear", n=4000, noise=0.5, val_fraction=0.0, rng=rng(3))
    coef = np.array(d.truth["coef"])
    resid = d.y_train[:, 0] - d.x_train @ coef
    assert resid.std() == pytest.approx(0.5 * np.linalg.norm(coef), rel=0.05)
    assert d.truth["noise_std"] == pytest.approx(0.5 * np.linalg.norm(coef), rel=1e-15)
    x = d.x_train
    assert abs(x.mean()) < 0.05 and x.std() == pytest.approx(1.0, rel=0.05)


def test_unscaled_feature_ranges_and_truth() -> None:
    d = make_dataset("unscaled", n=1000, noise=0.0, rng=rng(4))
    x = _all_x(d)
    assert x[:, 0].min() >= 0.0 and x[:, 0].max() <= 1.0 and x[:, 0].max() > 0.9
    assert x[:, 1].min() >= 0.0 and x[:, 1].max() <= 1000.0 and x[:, 1].max() > 900.0
    assert d.truth["coef"] == [3.0, 0.003] and d.truth["intercept"] == 1.0
    np.testing.assert_allclose(_all_y(d)[:, 0], x @ np.array([3.0, 0.003]) + 1.0, rtol=1e-13)


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("name", ALL)
def test_determinism(name: str) -> None:
    a = make_dataset(name, n=60, noise=0.3, normalize="zscore", rng=rng(7))
    b = make_dataset(name, n=60, noise=0.3, normalize="zscore", rng=rng(7))
    c = make_dataset(name, n=60, noise=0.3, normalize="zscore", rng=rng(8))
    for attr in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    np.testing.assert_array_equal(a.normalizer.shift, b.normalizer.shift)
    assert a.truth == b.truth
    assert not np.array_equal(a.x_train, c.x_train)


# ------------------------------------------------------------------ split


@pytest.mark.parametrize(
    ("n", "frac", "expected"),
    [
        (200, 0.2, (160, 40)),
        (1, 0.5, (1, 0)),
        (2, 0.01, (1, 1)),
        (2, 0.9, (1, 1)),
        (10, 0.0, (10, 0)),
        (10, 0.9, (1, 9)),
        (5, 0.5, (2, 3)),
        (3, 0.9, (1, 2)),
    ],
)
def test_split_sizes(n: int, frac: float, expected: tuple[int, int]) -> None:
    assert split_sizes(n, frac) == expected


def test_split_is_a_random_partition() -> None:
    d = make_dataset("plane", n=100, noise=0.0, val_fraction=0.3, rng=rng(11))
    raw = DATASETS.get("plane").factory(n=100, noise=0.0, rng=rng(11))
    rows = {tuple(r) for r in raw.x}
    got = [tuple(r) for r in _all_x(d)]
    assert len(got) == 100 and set(got) == rows  # every example exactly once
    # not simply the last 30 rows of the generator output
    assert {tuple(r) for r in d.x_val} != {tuple(r) for r in raw.x[70:]}


# ------------------------------------------------------------------ normalisation


def test_zscore_uses_train_stats_only() -> None:
    d = make_dataset("unscaled", n=500, noise=0.1, val_fraction=0.4, normalize="zscore", rng=rng())
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(d.x_train.std(axis=0), 1.0, rtol=1e-12)
    assert np.all(d.x_val.mean(axis=0) != 0.0)
    assert np.all(np.abs(d.x_val.mean(axis=0)) > 1e-6)  # val is transformed, not re-fitted
    raw_train = d.normalizer.inverse_transform(d.x_train)
    np.testing.assert_allclose(d.normalizer.shift, raw_train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(d.normalizer.scale, raw_train.std(axis=0), rtol=1e-12)
    stats = d.normalizer.to_dict()
    assert stats["method"] == "zscore" and stats["mean"] == d.normalizer.shift.tolist()
    json.dumps(stats)


def test_minmax_maps_train_to_unit_box() -> None:
    d = make_dataset("unscaled", n=300, val_fraction=0.3, normalize="minmax", rng=rng(1))
    np.testing.assert_allclose(d.x_train.min(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(d.x_train.max(axis=0), 1.0, rtol=1e-14)
    assert np.all(d.x_train >= 0.0) and np.all(d.x_train <= 1.0)
    stats = d.normalizer.to_dict()
    raw_train = d.normalizer.inverse_transform(d.x_train)
    np.testing.assert_allclose(stats["min"], raw_train.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats["max"], raw_train.max(axis=0), rtol=1e-12)


def test_none_normalisation_is_identity() -> None:
    d = make_dataset("unscaled", n=50, normalize="none", rng=rng(1))
    assert _all_x(d)[:, 1].max() > 100.0
    np.testing.assert_array_equal(d.normalizer.scale, 1.0)
    np.testing.assert_array_equal(d.normalizer.shift, 0.0)


@pytest.mark.parametrize("method", ["minmax", "zscore"])
def test_constant_feature_is_centred_not_divided(method: str) -> None:
    x = np.column_stack([np.full(6, 0.1), np.arange(6.0)])
    norm = Normalizer.fit(method, x)
    out = norm.transform(x)
    assert np.all(np.isfinite(out))
    assert norm.scale[0] == 1.0
    np.testing.assert_allclose(out[:, 0], 0.0, atol=1e-15)
    np.testing.assert_allclose(norm.inverse_transform(out), x, rtol=1e-15, atol=1e-15)


def test_single_training_example_gives_no_nan() -> None:
    for method in ("minmax", "zscore"):
        d = make_dataset("gauss", n=2, val_fraction=0.5, normalize=method, rng=rng())
        assert d.n_train == 1 and d.n_val == 1
        assert np.all(np.isfinite(d.x_train)) and np.all(np.isfinite(d.x_val))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(ALL),
    n=st.integers(1, 300),
    noise=st.floats(0.0, 1.0),
    val_fraction=st.floats(0.0, 0.9),
    normalize=st.sampled_from(["none", "minmax", "zscore"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_make_dataset_properties(
    name: str, n: int, noise: float, val_fraction: float, normalize: str, seed: int
) -> None:
    d = make_dataset(
        name, n=n, noise=noise, val_fraction=val_fraction, normalize=normalize, rng=rng(seed)
    )
    assert d.n_train >= 1 and d.n_train + d.n_val == n
    if val_fraction > 0 and n >= 2:
        assert d.n_val >= 1
    assert d.n_val == split_sizes(n, val_fraction)[1]
    assert abs(d.n_val - val_fraction * n) <= 1.0 or d.n_val in (1, n - 1)
    x = _all_x(d)
    assert np.all(np.isfinite(x)) and x.dtype == np.float64
    if normalize == "minmax":
        assert np.all(d.x_train >= -1e-12) and np.all(d.x_train <= 1 + 1e-12)
    if normalize == "zscore":
        assert np.all(np.abs(d.x_train.mean(axis=0)) < 1e-9)
        std = d.x_train.std(axis=0)
        assert np.all((np.abs(std - 1.0) < 1e-9) | (std < 1e-9))  # constant columns stay 0
    raw = d.normalizer.inverse_transform(d.x_train)
    np.testing.assert_allclose(d.normalizer.transform(raw), d.x_train, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ grids


def test_grid_for_covers_points_with_margin() -> None:
    d = make_dataset("moons", n=200, normalize="zscore", rng=rng(2))
    xs, ys, pts = grid_for(d, resolution=30, margin=0.1)
    assert xs.shape == (30,) and ys.shape == (30,) and pts.shape == (900, 2)
    x = _all_x(d)
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = hi - lo
    np.testing.assert_allclose([xs[0], ys[0]], lo - 0.1 * span, rtol=1e-14)
    np.testing.assert_allclose([xs[-1], ys[-1]], hi + 0.1 * span, rtol=1e-14)
    grid = pts.reshape(30, 30, 2)
    assert grid[4, 7, 0] == xs[7] and grid[4, 7, 1] == ys[4]  # rows are y, columns are x


def test_grid_for_degenerate_and_errors() -> None:
    d = make_dataset("gauss", n=1, val_fraction=0.0, rng=rng())
    xs, ys, _ = grid_for(d, resolution=3, margin=0.0)
    # a single point gets a unit window centred on it
    assert xs[-1] - xs[0] == pytest.approx(1.0) and ys[-1] - ys[0] == pytest.approx(1.0)
    np.testing.assert_allclose([xs[1], ys[1]], d.x_train[0], rtol=1e-14)
    with pytest.raises(ConfigError) as info:
        grid_for(make_dataset("sine", n=10, rng=rng()))
    assert info.value.field == "dataset.name"
    with pytest.raises(ConfigError) as info:
        grid_for(d, resolution=1)
    assert info.value.field == "resolution" and "2 <= x <= 1000" in info.value.message


def test_curve_grid() -> None:
    d = make_dataset("sine", n=100, rng=rng(3))
    xs = curve_grid(d, n=50)
    x = _all_x(d)[:, 0]
    span = x.max() - x.min()
    assert xs.shape == (50, 1) and xs.dtype == np.float64
    assert xs[0, 0] == pytest.approx(x.min() - 0.1 * span)
    assert xs[-1, 0] == pytest.approx(x.max() + 0.1 * span)
    assert np.all(np.diff(xs[:, 0]) > 0)
    with pytest.raises(ConfigError):
        curve_grid(make_dataset("plane", n=10, rng=rng()))


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"n": 0}, "dataset.n", f"1 <= x <= {MAX_SAMPLES}"),
        ({"n": MAX_SAMPLES + 1}, "dataset.n", f"1 <= x <= {MAX_SAMPLES}"),
        ({"n": 10.5}, "dataset.n", "an integer"),
        ({"noise": 1.5}, "dataset.noise", "0.0 <= x <= 1.0"),
        ({"noise": math.nan}, "dataset.noise", "finite"),
        ({"val_fraction": 0.95}, "dataset.val_fraction", "0.0 <= x <= 0.9"),
        ({"val_fraction": -0.1}, "dataset.val_fraction", "0.0 <= x <= 0.9"),
        ({"normalize": "l2"}, "dataset.normalize", "'none', 'minmax', 'zscore'"),
        ({"name": "mnist"}, "dataset.name", "choices: circle"),
        ({"name": "spiral", "params": {"classes": 9}}, "dataset.params.classes", "2 <= x <= 8"),
        ({"name": "spiral", "params": {"turns": 0.1}}, "dataset.params.turns", "0.25 <= x"),
        ({"name": "spiral", "params": {"arms": 3}}, "dataset.params.arms", "allowed: classes"),
        ({"params": {"classes": 3}}, "dataset.params.classes", "allowed: label_noise"),
        (
            {"name": "sparse_linear", "params": {"n_features": 5, "n_informative": 6}},
            "dataset.params.n_informative",
            "1 <= x <= n_features (= 5)",
        ),
        (
            {"name": "sparse_linear", "params": {"n_features": 201}},
            "dataset.params.n_features",
            "2 <= x <= 200",
        ),
    ],
)
def test_validation_errors(kwargs: dict, field: str, fragment: str) -> None:
    args = {"name": "circle", **kwargs}
    with pytest.raises(ConfigError) as info:
        make_dataset(**args, rng=rng())
    assert info.value.field == field
    assert fragment in info.value.message
