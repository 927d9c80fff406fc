"""Records encoded from history rows (app.rowjson) are byte for byte what json.dumps writes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.jsonenc import dumps
from app.rowjson import RecordRows, run_records
from core.trainer import Run

CONFIGS: list[dict[str, Any]] = [
    {},
    {"dataset": {"name": "sine"}, "model": {"hidden": [6, 5], "batch_norm": True},
     "optimizer": {"name": "adam", "lr": 0.01}},
    {"dataset": {"name": "spiral", "params": {"classes": 3}},
     "model": {"hidden": [8, 8], "activation": "tanh", "dropout": 0.2},
     "regularization": {"l1": 0.01, "l1_method": "proximal"},
     "grad_clip": {"mode": "norm", "max_norm": 0.5}, "eval_every": 7},
    {"model": {"hidden": [5, 5, 5], "activation": "sigmoid", "init": "zeros"},
     "schedule": {"name": "cosine_annealing", "T_max": 50}},
    {"model": {"hidden": [16], "activation": "relu", "layer_norm": True},
     "dataset": {"name": "xor", "val_fraction": 0.0}, "optimizer": {"name": "rmsprop"}},
    {"dataset": {"name": "unscaled"}, "model": {"hidden": []},
     "optimizer": {"name": "sgd", "lr": 10.0}},  # diverges: NaN and inf in the records
]


@pytest.mark.parametrize("config", CONFIGS)
def test_runs_records_match_dumps(config: dict[str, Any]) -> None:
    run = Run(config)
    run.step(3)
    start = run.history.size
    records = run.step(400)
    scalars, layers = run.record_rows(start, run.history.size)
    encoder = run_records(run.layer_count)
    assert b"[" + encoder.encode(scalars, layers) + b"]" == dumps(records)


def test_collecting_nothing_keeps_the_same_rows() -> None:
    """The server trains with collect=False; its rows encode to the records Run.step returns."""
    config = CONFIGS[2]
    quiet, loud = Run(config), Run(config)
    assert quiet.step(250, collect=False) == []
    records = loud.step(250)
    encoder = run_records(quiet.layer_count)
    body = encoder.encode(*quiet.record_rows(0, quiet.history.size))
    assert b"[" + body + b"]" == dumps(records)
    assert quiet.last_record == loud.last_record


@settings(max_examples=100, deadline=None)
@given(
    rows=st.integers(1, 30),
    n_layers=st.integers(1, 4),
    data=st.data(),
)
def test_any_rows(rows: int, n_layers: int, data: st.DataObject) -> None:
    scalars = data.draw(hnp.arrays(np.float64, (rows, 3), elements=st.floats(width=64)))
    scalars[:, 0] = data.draw(hnp.arrays(np.int64, rows, elements=st.integers(-10**15, 10**15)))
    layers = data.draw(hnp.arrays(np.float64, (rows, 2, n_layers), elements=st.floats(width=64)))
    encoder = RecordRows(("step", "a", "b"), ("g", "h"), n_layers, ("step",))
    want = [
        {"step": int(s[0]), "a": s[1], "b": s[2], "g": list(lay[0]), "h": list(lay[1])}
        for s, lay in zip(scalars.tolist(), layers.tolist(), strict=True)
    ]
    assert b"[" + encoder.encode(scalars, layers) + b"]" == dumps(want)


def test_blocks_and_shapes() -> None:
    encoder = RecordRows(("x",), (), 1)
    values = np.arange(20_000, dtype=np.float64)[:, None] / 8  # many blocks
    assert encoder.encode(values, np.zeros((20_000, 0, 1))) == dumps(
        [{"x": v / 8} for v in range(20_000)])[1:-1]
    assert encoder.encode(np.zeros((0, 1)), np.zeros((0, 0, 1))) == b""
    with pytest.raises(ValueError, match="values per record"):
        encoder.encode(np.zeros((2, 2)), np.zeros((2, 0, 1)))
    with pytest.raises(ValueError, match="integral"):
        RecordRows(("step",), (), 1, ("step",)).encode(np.array([[1.5]]), np.zeros((1, 0, 1)))
    with pytest.raises(ValueError, match="n_layers"):
        RecordRows(("x",), ("g",), 0)
