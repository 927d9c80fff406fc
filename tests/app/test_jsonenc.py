"""JSON written by orjson (app.jsonenc): strict (no NaN/Infinity), values exact, records from
history rows equal to the engine's records."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app import jsonenc
from app.jsonenc import dumps, records_json, sanitize
from core.history import LAYER_FIELDS, SCALAR_FIELDS
from core.trainer import Run
from tests.app.test_runs import strict_loads

FLOAT_KINDS = [np.float16, np.float32, np.float64, np.longdouble]

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
DIVERGING_CONFIGS: list[dict[str, Any]] = [
    CONFIGS[-1],
    {"dataset": {"name": "unscaled"}, "model": {"hidden": [8], "activation": "relu"},
     "optimizer": {"name": "sgd", "lr": 10.0}},
    {"dataset": {"name": "unscaled"}, "model": {"hidden": [6, 6], "batch_norm": True},
     "optimizer": {"name": "sgd", "lr": 10.0, "momentum": 0.9}},
    {"dataset": {"name": "sine"}, "model": {"hidden": [8]},
     "optimizer": {"name": "sgd", "lr": 10.0, "momentum": 0.9}},  # regression
]


# --- every float kind -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", FLOAT_KINDS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numpy_scalars_and_arrays_are_null(kind: type, value: float) -> None:
    arr = np.array([[1.0, value], [value, 2.0]], dtype=kind)
    content = {"scalar": kind(value), "array": arr, "column": arr[:, 1], "zero_d": arr[0, 1],
               "objects": np.array([value, 1], dtype=object)}
    assert strict_loads(dumps(content)) == {
        "scalar": None, "array": [[1.0, None], [None, 2.0]], "column": [None, 2.0],
        "zero_d": None, "objects": [None, 1]}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), kind=st.sampled_from(FLOAT_KINDS))
def test_any_float_kind_round_trips_at_its_precision(data: st.DataObject, kind: type) -> None:
    """Finite values parse back to the same value of their own type; the rest is null."""
    width = {np.float16: 16, np.float32: 32}.get(kind, 64)
    arr = data.draw(hnp.arrays(kind, st.integers(1, 20), elements=st.floats(width=width)))
    parsed = strict_loads(dumps({"a": arr, "s": [kind(v) for v in arr], "t": arr[::2]}))
    for values, source in ((parsed["a"], arr), (parsed["s"], arr), (parsed["t"], arr[::2])):
        assert len(values) == len(source)
        for got, want in zip(values, source, strict=True):
            if np.isfinite(want):
                assert got is not None and kind(got) == want
            else:
                assert got is None


def test_integers_and_bools_of_numpy() -> None:
    content = {"i": np.int8(-3), "u": np.uint64(2**64 - 1), "b": np.bool_(True),
               "arr": np.arange(4, dtype=np.int32).reshape(2, 2)[:, ::-1], "set": {3}}
    assert strict_loads(dumps(content)) == {"i": -3, "u": 2**64 - 1, "b": True,
                                            "arr": [[1, 0], [3, 2]], "set": [3]}


def test_what_orjson_refuses_falls_back_to_strict_json() -> None:
    """Integers beyond 64 bits and non-string keys (a 422 may echo such input)."""
    content = {"big": 2**70, 3: math.nan, "np": np.float32(math.inf), "arr": np.array([1.5])}
    assert strict_loads(dumps(content)) == {"big": 2**70, "3": None, "np": None, "arr": [1.5]}
    with pytest.raises(TypeError):
        dumps({"c": 1 + 2j})


def test_huge_integer_in_a_request_gets_a_strict_422(client: TestClient) -> None:
    r = client.post("/api/runs", json={"seed": 2**70})
    assert r.status_code == 422
    detail = strict_loads(r.text)["detail"]
    assert detail[0]["loc"][-1] == "seed" and detail[0]["input"] == 2**70


# --- records from history rows ----------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS)
def test_rows_give_the_engines_records(config: dict[str, Any]) -> None:
    """Byte for byte what orjson writes for the engine's record dicts, and the same values."""
    run = Run(config)
    run.step(3)
    start = run.history.size
    records = run.step(400)
    text = b"[" + records_json(*run.record_rows(start, run.history.size)) + b"]"
    assert text == dumps(records) == orjson.dumps(records, option=orjson.OPT_SERIALIZE_NUMPY)
    assert strict_loads(text) == sanitize(records)  # every float64 parses back exactly


def test_collecting_nothing_keeps_the_same_rows() -> None:
    """The server trains with collect=False; its rows encode to the records Run.step returns."""
    config = CONFIGS[2]
    quiet, loud = Run(config), Run(config)
    assert quiet.step(250, collect=False) == []
    records = loud.step(250)
    assert b"[" + records_json(*quiet.record_rows(0, quiet.history.size)) + b"]" == dumps(records)
    assert quiet.last_record == loud.last_record


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(1, 30), n_layers=st.integers(1, 4), data=st.data())
def test_any_rows(rows: int, n_layers: int, data: st.DataObject) -> None:
    """Any float64 (subnormals, 1e16, -0.0, NaN, inf) is written exactly or as null."""
    scalars = data.draw(hnp.arrays(np.float64, (rows, len(SCALAR_FIELDS)),
                                   elements=st.floats(width=64)))
    scalars[:, :2] = data.draw(hnp.arrays(np.int64, (rows, 2),
                                          elements=st.integers(-10**15, 10**15)))
    layers = data.draw(hnp.arrays(np.float64, (rows, len(LAYER_FIELDS), n_layers),
                                  elements=st.floats(width=64)))
    parsed = strict_loads(b"[" + records_json(scalars, layers) + b"]")
    assert len(parsed) == rows
    for record, s, lay in zip(parsed, scalars.tolist(), layers.tolist(), strict=True):
        values = list(record.values())
        assert type(values[0]) is int and type(values[1]) is int
        assert values[:len(SCALAR_FIELDS)] == sanitize([int(s[0]), int(s[1]), *s[2:]])
        assert values[len(SCALAR_FIELDS):] == sanitize(lay)


@settings(max_examples=150, deadline=None)
@given(rows=st.integers(1, 40), n_layers=st.integers(1, 5), data=st.data())
def test_columns_write_the_bytes_of_the_dicts(rows: int, n_layers: int,
                                              data: st.DataObject) -> None:
    """records_json writes many rows column by column (orjson on NumPy arrays, split into
    values): byte for byte what it writes through one dict per record, for any float64, any
    row count (one row: the first value is the last) and any number of layers."""
    floats = st.one_of(st.floats(width=64),
                       st.integers(0, 2**64 - 1).map(lambda b: np.uint64(b).view(np.float64)))
    scalars = data.draw(hnp.arrays(np.float64, (rows, len(SCALAR_FIELDS)), elements=floats))
    scalars[:, :2] = data.draw(hnp.arrays(np.int64, (rows, 2),
                                          elements=st.integers(-10**15, 10**15)))
    layers = data.draw(hnp.arrays(np.float64, (rows, len(LAYER_FIELDS), n_layers),
                                  elements=floats))
    want = jsonenc._records_json_dicts(scalars, layers)
    assert jsonenc._records_json_columns(scalars, layers) == want
    assert records_json(scalars, layers) == want


def test_no_rows() -> None:
    empty = records_json(np.zeros((0, len(SCALAR_FIELDS))), np.zeros((0, len(LAYER_FIELDS), 2)))
    assert empty == b""


# --- diverged runs through the API ------------------------------------------------------------
@pytest.mark.parametrize("config", DIVERGING_CONFIGS)
def test_diverged_runs_give_strict_json_everywhere(client: TestClient,
                                                   config: dict[str, Any]) -> None:
    """Short and long step responses, state, history, export, snapshot, weights and WebSocket
    messages of runs that diverge: strict JSON, the engine's values with null for NaN/inf."""
    engine = Run(config)
    want = engine.step(150)
    assert engine.status == "diverged"
    assert any(isinstance(v, float) and not math.isfinite(v)
               for r in want for v in (*r.values(), *r["grad_norm"]))
    run_id = client.post("/api/runs", json=config).json()["id"]
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        got = strict_loads(client.post(f"/api/runs/{run_id}/step", json={"steps": 5}).text)
        got_long = strict_loads(
            client.post(f"/api/runs/{run_id}/step", json={"steps": 145}).text)
        assert got_long["status"] == "diverged"
        assert got["records"] + got_long["records"] == sanitize(want)
        texts = []
        while True:  # state, snapshot, then the frames of both requests
            texts.append(ws.receive_text())
            message = strict_loads(texts[-1])
            if message["type"] == "frame" and message["status"] == "diverged":
                break
    for path in ("", "/history", "/export", "/snapshot", "/weights"):
        r = client.get(f"/api/runs/{run_id}{path}")
        assert r.status_code == 200, path
        texts.append(r.text)
    for text in texts:
        strict_loads(text)
        assert "NaN" not in text and "Infinity" not in text


@settings(max_examples=12, deadline=None)
@given(
    optimizer=st.sampled_from(["sgd", "adam", "rmsprop", "adagrad"]),
    lr=st.floats(1.0, 10.0),
    hidden=st.lists(st.integers(1, 8), max_size=2),
    batch_norm=st.booleans(),
    dataset=st.sampled_from(["unscaled", "sine", "xor"]),
)
def test_large_learning_rates_never_write_nan(optimizer: str, lr: float, hidden: list[int],
                                              batch_norm: bool, dataset: str) -> None:
    """Whatever diverges, the records (from rows and from dicts) are strict JSON with the
    engine's values."""
    config = {"dataset": {"name": dataset}, "optimizer": {"name": optimizer, "lr": lr},
              "model": {"hidden": hidden, "batch_norm": batch_norm and bool(hidden)}}
    quiet, loud = Run(config), Run(config)
    quiet.step(200, collect=False)
    records = loud.step(200)
    text = b"[" + records_json(*quiet.record_rows(0, quiet.history.size)) + b"]"
    assert text == dumps(records)
    assert strict_loads(text) == sanitize(records)
    assert json.loads(dumps({"divergence": loud.divergence, "last": loud.last_record}))
