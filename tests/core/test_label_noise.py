"""Label noise (``dataset.params.label_noise``): exactly ``round(f·n_train)`` training labels
are replaced by a different class, from the run's seed, after the split; validation and test
labels, the inputs and every other draw stay those of the clean dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import DATASETS, LABEL_NOISE, Dataset, flip_labels, make_dataset
from core.errors import ConfigError
from core.trainer import Run, resolve_config

CLASSIFICATION = ["circle", "xor", "gauss", "spiral", "moons"]
REGRESSION = ["plane", "sine", "sparse_linear", "unscaled"]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def pair(name: str, fraction: float, seed: int = 0, **kw: object) -> tuple[Dataset, Dataset]:
    """(noisy, clean) datasets of the same seed."""
    params = dict(kw.pop("params", {}) or {})  # type: ignore[call-overload]
    noisy = make_dataset(name, params={**params, LABEL_NOISE: fraction}, rng=rng(seed), **kw)
    clean = make_dataset(name, params=params, rng=rng(seed), **kw)
    return noisy, clean


def changed(noisy: Dataset, clean: Dataset) -> np.ndarray:
    """Positions in the training split whose label differs from the clean one."""
    a, b = (
        noisy.y_train.reshape(len(noisy.y_train), -1),
        clean.y_train.reshape(len(clean.y_train), -1),
    )
    return np.flatnonzero((a != b).any(axis=1))


def test_registry_gives_label_noise_to_the_classification_sets_only() -> None:
    for comp in DATASETS:
        names = [p.name for p in comp.params]
        assert (LABEL_NOISE in names) == (comp.name in CLASSIFICATION), comp.name
    p = DATASETS.get("circle").param(LABEL_NOISE)
    assert p.schema() == {
        "name": "label_noise",
        "type": "float",
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "exclusive_max": True,
        "help": p.help,
    }
    assert "training labels" in p.help and "Classification datasets only" in p.help


@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("fraction", [0.05, 0.25, 0.5, 0.9])
def test_exactly_the_fraction_of_training_labels_changes(name: str, fraction: float) -> None:
    noisy, clean = pair(name, fraction, seed=3, n=203, val_fraction=0.2, test_fraction=0.1)
    k = math.floor(fraction * noisy.n_train + 0.5)
    diff = changed(noisy, clean)
    assert len(diff) == k  # every chosen label really changed: none "flipped" to itself
    assert noisy.flipped is not None and noisy.flipped.tolist() == diff.tolist()
    assert noisy.summary()["n_flipped"] == k and noisy.params[LABEL_NOISE] == fraction
    # labels stay valid classes of the right dtype and shape
    assert noisy.y_train.dtype == clean.y_train.dtype
    assert noisy.y_train.shape == clean.y_train.shape
    if noisy.task == "binary":
        assert set(np.unique(noisy.y_train)) <= {0.0, 1.0}
        np.testing.assert_array_equal(noisy.y_train[diff], 1.0 - clean.y_train[diff])
    else:
        assert noisy.y_train.min() >= 0 and noisy.y_train.max() < noisy.n_classes


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_inputs_validation_and_test_labels_stay_clean(name: str) -> None:
    noisy, clean = pair(
        name, 0.4, seed=7, n=150, val_fraction=0.3, test_fraction=0.3, normalize="zscore"
    )
    for a, b in [
        (noisy.x_train, clean.x_train),
        (noisy.x_val, clean.x_val),
        (noisy.y_val, clean.y_val),
        (noisy.x_test, clean.x_test),
        (noisy.y_test, clean.y_test),
        (noisy.normalizer.shift, clean.normalizer.shift),
        (noisy.normalizer.scale, clean.normalizer.scale),
    ]:
        np.testing.assert_array_equal(a, b)
    assert noisy.n_train == 60 and len(changed(noisy, clean)) == 24  # round(0.4 · 60)


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_same_seed_same_labels_other_seed_other_flips(name: str) -> None:
    a = make_dataset(name, n=300, params={LABEL_NOISE: 0.3}, rng=rng(11))
    b = make_dataset(name, n=300, params={LABEL_NOISE: 0.3}, rng=rng(11))
    c = make_dataset(name, n=300, params={LABEL_NOISE: 0.3}, rng=rng(12))
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert a.y_train.tobytes() == b.y_train.tobytes()
    assert a.flipped is not None and b.flipped is not None and c.flipped is not None
    assert a.flipped.tolist() == b.flipped.tolist()
    assert a.flipped.tolist() != c.flipped.tolist()


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_zero_is_no_label_noise_bit_for_bit(name: str) -> None:
    zero = make_dataset(name, n=120, params={LABEL_NOISE: 0.0}, rng=rng(2))
    none = make_dataset(name, n=120, rng=rng(2))
    assert zero.flipped is None and "n_flipped" not in zero.summary()
    assert zero.y_train.tobytes() == none.y_train.tobytes()
    assert zero.x_train.tobytes() == none.x_train.tobytes()
    # a fraction too small to flip one label draws nothing either
    tiny = make_dataset(name, n=120, params={LABEL_NOISE: 0.001}, rng=rng(2))
    assert tiny.flipped is not None and len(tiny.flipped) == 0
    assert tiny.y_train.tobytes() == none.y_train.tobytes()


def test_multiclass_new_label_is_uniform_over_the_other_classes() -> None:
    noisy, clean = pair("spiral", 0.6, seed=1, n=20000, val_fraction=0.0, params={"classes": 5})
    diff = changed(noisy, clean)
    offsets = (noisy.y_train[diff] - clean.y_train[diff]) % 5
    counts = np.bincount(offsets, minlength=5)
    assert counts[0] == 0 and counts.sum() == 12000
    # 4 equally likely offsets, 3000 expected each (binomial std ≈ 47): within 5 %
    np.testing.assert_allclose(counts[1:], 3000, rtol=0.05)
    # and the flipped rows are spread over the classes like the data
    np.testing.assert_allclose(np.bincount(clean.y_train[diff], minlength=5), 2400, rtol=0.08)


def test_flip_labels_draw_order_is_the_documented_one() -> None:
    y = (np.arange(50) % 4).astype(np.int64)
    out, idx = flip_labels(y, 0.3, 4, rng(9))
    r = rng(9)
    want_idx = np.sort(r.choice(50, size=15, replace=False))
    want = y.copy()
    want[want_idx] = (y[want_idx] + r.integers(1, 4, size=15)) % 4
    assert idx.tolist() == want_idx.tolist()
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(y, np.arange(50) % 4)  # the input is not modified


@pytest.mark.parametrize("value", [1.0, 1.5, -0.1, math.nan, "0.2", True, None])
def test_out_of_range_names_the_field_and_range(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        make_dataset("moons", params={LABEL_NOISE: value}, rng=rng())
    assert info.value.field == "dataset.params.label_noise"
    assert "0.0 <= x < 1.0" in info.value.message


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_sets_refuse_label_noise_by_name(name: str) -> None:
    for call in (
        lambda: make_dataset(name, params={LABEL_NOISE: 0.1}, rng=rng()),
        lambda: resolve_config({"dataset": {"name": name, "params": {LABEL_NOISE: 0.0}}}),
    ):
        with pytest.raises(ConfigError) as info:
            call()
        assert info.value.field == "dataset.params.label_noise"
        assert (
            "classification datasets (circle, xor, gauss, spiral, moons) only" in info.value.message
        )
        assert "regression" in info.value.message and "dataset.noise" in info.value.message


def test_resolved_config_fills_the_default_like_every_parameter() -> None:
    # the playground compares its controls' values with the run's config: a missing default
    # would read as a change and ask for a restart
    assert resolve_config({})["dataset"]["params"] == {LABEL_NOISE: 0.0}
    assert resolve_config({"dataset": {"params": {LABEL_NOISE: 0}}})["dataset"]["params"] == {
        LABEL_NOISE: 0.0
    }
    cfg = resolve_config({"dataset": {"name": "spiral", "params": {LABEL_NOISE: 0.2}}})
    assert cfg["dataset"]["params"] == {"classes": 3, "turns": 1.0, LABEL_NOISE: 0.2}


def test_a_test_split_carves_the_same_noisy_training_rows() -> None:
    """(val v, test t) trains on exactly the rows — and now noisy labels — of (v + t, 0)."""
    base = {"seed": 4, "model": {"hidden": [5]}, "optimizer": {"name": "sgd", "lr": 0.1}}
    ds = {"name": "spiral", "n": 100, "params": {LABEL_NOISE: 0.3}}
    a = Run({**base, "dataset": {**ds, "val_fraction": 0.2, "test_fraction": 0.1}})
    b = Run({**base, "dataset": {**ds, "val_fraction": 0.3}})
    assert a.dataset.y_train.tobytes() == b.dataset.y_train.tobytes()
    a.step(30)
    b.step(30)
    assert a.model.theta.tobytes() == b.model.theta.tobytes()


def test_runs_train_on_the_noisy_labels_and_replay_bit_exact() -> None:
    cfg = {
        "seed": 8,
        "dataset": {"name": "moons", "n": 80, "params": {LABEL_NOISE: 0.25}},
        "model": {"hidden": [6]},
        "optimizer": {"name": "adam", "lr": 0.01},
    }
    run = Run(cfg)
    clean = make_dataset("moons", n=80, rng=np.random.default_rng(run_data_stream(8)))
    assert len(changed(run.dataset, clean)) == 16
    run.step(25)
    again = Run(run.config)
    again.step(25)
    assert again.model.theta.tobytes() == run.model.theta.tobytes()


def run_data_stream(seed: int) -> np.random.SeedSequence:
    from core.trainer import run_seed_streams

    return run_seed_streams(seed)[0]


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(CLASSIFICATION),
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(min_value=2, max_value=400),
    val_fraction=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_property_fraction_seed_and_clean_splits(
    name: str, fraction: float, seed: int, n: int, val_fraction: float
) -> None:
    noisy, clean = pair(name, fraction, seed=seed, n=n, val_fraction=val_fraction)
    k = math.floor(fraction * noisy.n_train + 0.5)
    diff = changed(noisy, clean)
    assert len(diff) == min(k, noisy.n_train)
    assert (noisy.flipped is None) == (fraction == 0.0)  # None: no label noise asked for
    flipped = [] if noisy.flipped is None else noisy.flipped.tolist()
    assert flipped == diff.tolist()
    assert noisy.y_val.tobytes() == clean.y_val.tobytes()
    assert noisy.x_train.tobytes() == clean.x_train.tobytes()
    again = make_dataset(
        name, n=n, val_fraction=val_fraction, params={LABEL_NOISE: fraction}, rng=rng(seed)
    )
    assert again.y_train.tobytes() == noisy.y_train.tobytes()
