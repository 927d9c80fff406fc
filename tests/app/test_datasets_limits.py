"""Bring your own data at its limits: the largest table the upload accepts (20,000 rows, 100
feature columns, every number at its longest) exports, imports on a fresh server with another
data directory and replays bit for bit, and its "Copy as PyTorch" script carries the exact data;
the body limits that stay name themselves (413), and an upload whose run export could not be
imported is refused up front (422), so no accepted table is stuck on its server."""

from __future__ import annotations

import base64
import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from app.datasets import IMPORT_RESERVE_BYTES, table_json
from app.settings import Settings
from core import export_pytorch
from core.tables import MAX_FEATURE_COLUMNS, make_table

ROWS = Settings().max_samples
COLS = MAX_FEATURE_COLUMNS


def longest_numbers(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Numbers whose shortest round-trip text is as long as a float64's gets (24 characters,
    e.g. ``-1.2345678901234567e-123``): the largest export a table of this shape can have."""
    mant = rng.uniform(1.0, 2.0, shape)
    exp = rng.integers(100, 300, shape)
    return -mant * 10.0 ** (-exp.astype(np.float64))


def csv_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    head = ",".join([*(f"f{j}" for j in range(x.shape[1])), "label"])
    body = "\n".join(",".join(map(repr, row)) + f",{t}" for row, t in
                     zip(x.tolist(), y.tolist(), strict=True))
    return (head + "\n" + body + "\n").encode()


def upload(client: TestClient, data: bytes, **form: str) -> Any:
    return client.post("/api/datasets", files={"file": ("t.csv", io.BytesIO(data), "text/csv")},
                       data=form)


def one_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text[:500]
    (item,) = response.json()["detail"]
    return item


def small_run(client: TestClient, ident: str, steps: int) -> str:
    r = client.post("/api/runs", json={
        "seed": 5, "dataset": {"name": "custom", "params": {"id": ident}, "normalize": "zscore"},
        "model": {"hidden": [4]}, "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 16})
    assert r.status_code == 201, r.text[:500]
    run_id = r.json()["id"]
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": steps}).status_code == 200
    return str(run_id)


def test_the_largest_table_round_trips_bit_for_bit(make_client: Callable[..., TestClient],
                                                   tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = longest_numbers(rng, (ROWS, COLS))
    y = (rng.uniform(size=ROWS) < 0.5).astype(int)
    assert max(len(repr(v)) for v in x[:50].ravel().tolist()) == 24
    data = csv_bytes(x, y)
    a = make_client(data_dir=tmp_path / "a")
    r = upload(a, data)
    assert r.status_code == 201, r.text[:500]
    info = r.json()
    assert (info["n"], len(info["columns"])) == (ROWS, COLS)
    ident = info["id"]
    r = a.post("/api/runs", json={
        "seed": 5, "dataset": {"name": "custom", "params": {"id": ident}, "normalize": "zscore"},
        "model": {"hidden": [6]}, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": 32})
    assert r.status_code == 201, r.text[:500]
    run_id = r.json()["id"]
    a.post(f"/api/runs/{run_id}/step", json={"steps": 3})
    assert a.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.01}}).status_code == 200
    a.post(f"/api/runs/{run_id}/step", json={"steps": 2})

    export = a.get(f"/api/runs/{run_id}/export")
    assert export.status_code == 200
    body = export.content
    assert len(body) > 48_000_000  # well over the general 1 MiB body limit
    assert orjson.loads(body)["table"]["x"][0] == x[0].tolist()

    b = make_client(data_dir=tmp_path / "b")
    assert b.get(f"/api/datasets/{ident}").status_code == 404
    r = b.post("/api/runs/import", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text[:500]
    assert r.json()["verified"] is True and r.json()["step"] == 5
    history_a = a.get(f"/api/runs/{run_id}/history").json()
    history_b = b.get(f"/api/runs/{r.json()['id']}/history").json()
    assert history_a == history_b and len(history_a["loss"]) == 5
    # the same export gzip-compressed (random digits hardly compress: ~45 % of the size)
    c = make_client(data_dir=tmp_path / "c")
    r = c.post("/api/runs/import", content=gzip.compress(body, 1),
               headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 201, r.text[:500]
    assert c.get(f"/api/runs/{r.json()['id']}/history").json() == history_a

    # Copy as PyTorch: the exact training rows, packed (not a 1.6-million-float literal)
    script = a.get(f"/api/runs/{run_id}/export?format=pytorch")
    assert script.status_code == 200
    assert "base64.b64decode" in script.text and "X_TRAIN = np.array(" not in script.text
    assert len(script.content) < 25_000_000
    start = script.text.index("X_TRAIN = ")
    end = script.text.index("\nHIDDEN = ")
    names: dict[str, Any] = {"np": np, "base64": base64}
    exec(script.text[start:end], names)  # our own generated data lines only
    ds = a.app.state.runs.get(run_id).run.dataset  # type: ignore[attr-defined]
    assert names["X_TRAIN"].dtype == np.float64 and names["X_TRAIN"].shape == ds.x_train.shape
    assert np.array_equal(names["X_TRAIN"], ds.x_train)
    assert np.array_equal(names["Y_TRAIN"], ds.y_train)


def test_packed_script_data_reproduces_the_losses(client: TestClient, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The base64 form runs under torch and prints the run's losses, as the literal does (a
    small table packed on purpose; multiclass: int64 labels. Float64 labels are compared
    exactly at the limit above)."""
    pytest.importorskip("torch")
    from tests.app.test_export_pytorch import _assert_same

    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 3))
    labels = np.array([3, 7, 9])[np.argmax(x, axis=1)]
    run_id = small_run(client, upload(client, csv_bytes(x, labels)).json()["id"], 6)
    assert "X_TRAIN = np.array(" in client.get(f"/api/runs/{run_id}/export?format=pytorch").text
    monkeypatch.setattr(export_pytorch, "LITERAL_MAX_VALUES", 10)
    assert "base64.b64decode" in client.get(f"/api/runs/{run_id}/export?format=pytorch").text
    _assert_same(client, run_id, tmp_path)


# ------------------------------------------------------------------ limits that stay: named


def test_an_import_over_its_limit_is_413_naming_it(make_client: Callable[..., TestClient],
                                                   tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    data = csv_bytes(x, (x[:, 0] > 0).astype(int))
    a = make_client(data_dir=tmp_path / "a")
    run_id = small_run(a, upload(a, data).json()["id"], 3)
    body = a.get(f"/api/runs/{run_id}/export").content
    limit = len(body) - 1
    b = make_client(data_dir=tmp_path / "b", max_import_bytes=limit, max_event_bytes=1000)
    r = b.post("/api/runs/import", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    detail = r.json()["detail"]
    assert f"the limit is {limit} bytes" in detail and "GRADPLAY_MAX_IMPORT_BYTES" in detail
    assert "?history=false" in detail
    # compressed it fits as sent, but not once decompressed: the same limit, named
    r = b.post("/api/runs/import", content=gzip.compress(body),
               headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 413
    assert "decompressed" in r.json()["detail"] and "GRADPLAY_MAX_IMPORT_BYTES" in r.json()[
        "detail"]
    # one byte more and it is imported; the import's limit is its own (other bodies: 1 MiB)
    c = make_client(data_dir=tmp_path / "c", max_import_bytes=len(body), max_event_bytes=1000,
                    max_body_bytes=1000)
    r = c.post("/api/runs/import", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text[:500]
    r = c.post("/api/runs", content=b'{"seed": 1, "x": "' + b"y" * 1000 + b'"}',
               headers={"content-type": "application/json"})
    assert r.status_code == 413 and "GRADPLAY_MAX_BODY_BYTES" in r.json()["detail"]
    r = upload(make_client(data_dir=tmp_path / "d", max_upload_bytes=500), data)
    assert r.status_code == 413 and "GRADPLAY_MAX_UPLOAD_BYTES" in r.json()["detail"]


def test_an_upload_whose_export_would_not_import_is_refused(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    """The upload keeps room for the import: table + a full event log + the reserve must fit
    max_import_bytes. At the exact boundary the table is accepted, one byte less is a 422 at
    the file (or the JSON rows) naming the limits, and nothing is stored."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 2)).round(4)
    y = (x[:, 0] > 0).astype(int)
    data = csv_bytes(x, y)
    size = len(table_json(make_table(np.column_stack([x, y]), ["f0", "f1", "label"])))
    events = 5000
    fits = size + events + IMPORT_RESERVE_BYTES

    tight = make_client(data_dir=tmp_path / "tight", max_import_bytes=fits - 1,
                        max_event_bytes=events)
    err = one_error(upload(tight, data))
    assert err["loc"] == ["body", "file"]
    assert f"takes {size} bytes" in err["msg"] and "GRADPLAY_MAX_IMPORT_BYTES" in err["msg"]
    assert "GRADPLAY_MAX_EVENT_BYTES" in err["msg"]
    rows = {"columns": ["f0", "f1", "label"],
            "rows": np.column_stack([x, y]).tolist()}
    err = one_error(tight.post("/api/datasets", json=rows))
    assert err["loc"] == ["body", "rows"] and "GRADPLAY_MAX_IMPORT_BYTES" in err["msg"]
    folder = tmp_path / "tight" / "datasets"
    assert not folder.exists() or list(folder.iterdir()) == []

    room = make_client(data_dir=tmp_path / "room", max_import_bytes=fits,
                       max_event_bytes=events)
    r = upload(room, data)
    assert r.status_code == 201, r.text
    # and that table's export, with a log of live changes, does import there
    run_id = small_run(room, r.json()["id"], 2)
    for lr in (0.02, 0.03, 0.04):
        room.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": lr}})
    room.post(f"/api/runs/{run_id}/step", json={"steps": 2})
    body = room.get(f"/api/runs/{run_id}/export").content
    other = make_client(data_dir=tmp_path / "other", max_import_bytes=fits,
                        max_event_bytes=events)
    r = other.post("/api/runs/import", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 201 and r.json()["verified"] is True, r.text[:300]


def test_default_limits_leave_room_for_the_longest_table() -> None:
    """With the defaults the largest table's export (every number 24 characters, the longest
    float64 text) fits an import beside a full event log, so the upload never refuses a
    table for this reason (the round-trip test above measures a real one)."""
    s = Settings()
    numbers = s.max_samples * (MAX_FEATURE_COLUMNS + 1)
    names = (MAX_FEATURE_COLUMNS + 1) * (64 * 4 + 3)  # 64 characters, 4 bytes each, quoted
    bound = numbers * 25 + 2 * s.max_samples + names + 200
    assert bound + s.max_event_bytes + IMPORT_RESERVE_BYTES <= s.max_import_bytes


def test_data_without_points_for_pages_that_draw_none(client: TestClient) -> None:
    """``GET .../data?points=false`` (the playground, for tables of more than 2 features):
    everything but the points, with the split sizes; the default still has every point."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3))
    ident = upload(client, csv_bytes(x, (x[:, 0] > 0).astype(int))).json()["id"]
    run_id = small_run(client, ident, 1)
    full = client.get(f"/api/runs/{run_id}/data").json()
    lean = client.get(f"/api/runs/{run_id}/data", params={"points": "false"}).json()
    assert "train" not in lean and "val" not in lean
    assert (lean["n_train"], lean["n_val"]) == (len(full["train"]["x"]), len(full["val"]["x"]))
    assert lean["n_train"] + lean["n_val"] == 50 and lean["input_dim"] == 3
    assert {k: v for k, v in full.items() if k not in ("train", "val")} == lean
    assert lean["table"]["columns"] == ["f0", "f1", "f2"]


def test_budgets_count_a_tables_width(client: TestClient) -> None:
    """Memory and time budgets (max_run_mb, max_memory_mb, an import's replay estimate) see
    the table's columns and classes: the estimate of a custom run's step equals the built
    run's own (from its real network), and its data part holds the table's rows."""
    from app.budgets import run_bytes
    from core import cost
    from core.trainer import Run

    rng = np.random.default_rng(6)
    x = rng.normal(size=(400, 40))
    labels = np.array([1, 4, 6, 8])[np.argmax(x[:, :4], axis=1)]
    ident = upload(client, csv_bytes(x, labels)).json()["id"]
    r = client.post("/api/runs", json={"dataset": {"name": "custom", "params": {"id": ident}},
                                       "model": {"hidden": [16]}})
    assert r.status_code == 201, r.text
    session = client.app.state.runs.get(r.json()["id"])  # type: ignore[attr-defined]
    run: Run = session.run
    shape = cost.shape_of(run.config, tables=run.limits.tables)
    assert (shape.input_dim, shape.output_dim) == (40, 4)
    assert cost.shape_step_seconds(shape) == run.estimated_step_seconds()
    data_bytes = cost.run_memory(shape)["data"]
    assert data_bytes >= (run.dataset.x_train.nbytes + run.dataset.x_val.nbytes)
    assert session.reserved == run_bytes(run.config, run.event_bytes, run.limits.tables)
    assert session.reserved > run_bytes(run.config, run.event_bytes)  # without the table
