"""core.tables and the ``custom`` dataset: validation, task inference, content ids, class ids,
and runs on a table through ``Limits.tables``."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets import DATASETS, make_dataset
from core.errors import ConfigError
from core.tables import MAX_CLASSES, TableError, make_table, table_from_dict
from core.trainer import Limits, Run


def table_xy(n: int = 40, labels: tuple[float, ...] = (0.0, 1.0), d: int = 2) -> np.ndarray:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, d))
    y = np.asarray(labels)[np.arange(n) % len(labels)]
    return np.column_stack([x, y])


def names(d: int = 2) -> list[str]:
    return [f"f{j}" for j in range(d)] + ["y"]


def test_inference_and_engine_tasks() -> None:
    assert make_table(table_xy(), names()).engine_task() == "binary"
    assert make_table(table_xy(labels=(3, 7, 9)), names()).engine_task() == "multiclass"
    reg = table_xy(labels=(0.5, 1.5))
    assert make_table(reg, names()).task == "regression"
    many = table_xy(n=200, labels=tuple(float(v) for v in range(MAX_CLASSES + 1)))
    assert make_table(many, names()).task == "regression"  # too many distinct integers
    with pytest.raises(TableError, match=f"at most {MAX_CLASSES}"):
        make_table(many, names(), task="classification")
    forced = make_table(table_xy(), names(), task="regression")
    assert forced.task == "regression" and forced.id != make_table(table_xy(), names()).id


def test_class_ids_follow_sorted_labels() -> None:
    t = make_table(table_xy(n=6, labels=(9.0, -1.0, 4.0)), names())
    assert t.classes == (-1.0, 4.0, 9.0)
    y, task, k = t.raw_targets()
    assert task == "multiclass" and k == 3 and y.dtype == np.int64
    assert y.tolist() == [2, 0, 1, 2, 0, 1]
    b = make_table(table_xy(n=4, labels=(-1.0, 1.0)), names())
    yb, task, k = b.raw_targets()
    assert task == "binary" and k == 1 and yb.shape == (4, 1) and yb[:, 0].tolist() == [0, 1, 0, 1]


def test_errors_name_the_first_bad_cell() -> None:
    data = table_xy(n=10)
    data[6, 1] = np.inf
    data[8, 0] = np.nan
    with pytest.raises(TableError) as exc:
        make_table(data, names())
    assert (exc.value.row, exc.value.column) == (6, 1)
    one = table_xy(labels=(1.0,))
    with pytest.raises(TableError, match="only one class"):
        make_table(one, names(), task="classification")
    with pytest.raises(TableError, match="not an integer"):
        make_table(table_xy(labels=(0.5, 1.0)), names(), task="classification")
    with pytest.raises(TableError, match="too many rows"):
        make_table(table_xy(n=11), names(), max_rows=10)
    with pytest.raises(TableError, match="too many columns"):
        make_table(table_xy(d=101), names(101))


def test_id_is_content_addressed_and_survives_to_dict() -> None:
    t = make_table(table_xy(), names())
    again = table_from_dict(t.to_dict())
    assert again.id == t.id and np.array_equal(again.x, t.x) and np.array_equal(again.y, t.y)
    moved = make_table(table_xy()[:, [2, 0, 1]], ["y", "f0", "f1"], target="y")
    assert moved.id == t.id  # same features, target and task: same table
    changed = table_xy()
    changed[0, 0] = np.nextafter(changed[0, 0], np.inf)  # one ulp
    assert make_table(changed, names()).id != t.id
    bad = t.to_dict()
    bad["id"] = "0" * 20
    with pytest.raises(TableError, match="does not match"):
        table_from_dict(bad)


def test_make_dataset_custom_needs_the_table() -> None:
    t = make_table(table_xy(n=50), names())
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError) as exc:
        make_dataset("custom", params={"id": t.id}, rng=rng)
    assert exc.value.field == "dataset.params.id"
    ds = make_dataset("custom", params={"id": t.id}, rng=rng, table=t, val_fraction=0.2,
                      normalize="minmax")
    assert ds.n_train + ds.n_val == 50 and ds.input_dim == 2 and ds.task == "binary"
    assert ds.plane_dim == 2 and ds.table is not None and ds.table["columns"] == ["f0", "f1"]
    raw = ds.normalizer.inverse_transform(np.concatenate([ds.x_train, ds.x_val]))
    assert np.allclose(np.sort(raw, axis=0), np.sort(t.x, axis=0), rtol=0, atol=1e-12)
    assert DATASETS.get("custom").meta["custom"] is True


def test_run_resolves_tables_through_limits_and_is_deterministic() -> None:
    t = make_table(table_xy(n=60, labels=(0.0, 1.0, 2.0)), names())
    limits = Limits(tables={t.id: t}.get)
    cfg = {"seed": 5, "dataset": {"name": "custom", "params": {"id": t.id}, "n": 7,
                                  "noise": 0.3}, "model": {"hidden": [4]}}
    with pytest.raises(ConfigError) as exc:
        Run(cfg)  # no table source
    assert exc.value.field == "dataset.params.id"
    a, b = Run(cfg, limits), Run(cfg, limits)
    assert a.config["dataset"]["n"] == 60 and a.config["dataset"]["noise"] == 0.0
    assert a.loss_name == "cross_entropy" and a.model.spec.output_dim == 3
    a.step(40)
    b.step(40)
    assert np.array_equal(a.history.columns()["loss"], b.history.columns()["loss"])
    assert a.export()["table"] == t.to_dict()
    reg = make_table(table_xy(labels=(0.5, 1.5)), names())
    with pytest.raises(ConfigError) as exc:
        Run({"dataset": {"name": "custom", "params": {"id": reg.id}},
             "early_stopping": {"monitor": "val_accuracy"}}, Limits(tables={reg.id: reg}.get))
    assert exc.value.field == "early_stopping.monitor"
