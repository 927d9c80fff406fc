"""``/api/datasets`` (bring your own data): uploads, every error naming row and column, storage,
runs on custom data, and export -> import across two servers (different data directories)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.datasets import DatasetStore
from core.tables import make_table


def xor_csv(n: int = 60, header: str = "x1,x2,label") -> str:
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, (n, 2)).round(3)
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    lines = [header] + [f"{a},{b},{c}" for (a, b), c in zip(x.tolist(), y.tolist(), strict=True)]
    return "\n".join(lines) + "\n"


def upload(client: TestClient, text: str | bytes, **form: str) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post("/api/datasets", files={"file": ("data.csv", io.BytesIO(data), "text/csv")},
                       data=form)


def only_error(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    (item,) = response.json()["detail"]
    return item


@pytest.fixture
def tmp_client(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    return make_client(data_dir=tmp_path)


# ------------------------------------------------------------------ the 201 body


def test_csv_upload_answers_id_task_n_columns_summary_and_preview(tmp_client: TestClient,
                                                                   tmp_path: Path) -> None:
    r = upload(tmp_client, xor_csv(60))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["task"] == "classification" and body["n"] == 60
    assert body["columns"] == ["x1", "x2"] and body["target"] == "label"
    assert len(body["id"]) == 20 and int(body["id"], 16) >= 0
    summary = body["summary"]
    assert [c["name"] for c in summary["columns"]] == ["x1", "x2", "label"]
    assert summary["classes"] == [0, 1] and sum(summary["class_counts"]) == 60
    assert summary["engine_task"] == "binary" and summary["input_dim"] == 2
    rows = [line.split(",") for line in xor_csv(60).splitlines()[1:11]]
    assert body["preview"]["rows"] == [[float(v) for v in row] for row in rows]
    # stored under the data dir, readable back with GET
    assert (tmp_path / "datasets" / f"{body['id']}.json").is_file()
    got = tmp_client.get(f"/api/datasets/{body['id']}")
    assert got.status_code == 200 and got.json() == body
    assert tmp_client.get("/api/datasets/" + "0" * 20).status_code == 404


def test_same_table_same_id_and_json_rows_equal_csv(tmp_client: TestClient) -> None:
    text = xor_csv(30)
    a = upload(tmp_client, text).json()
    b = upload(tmp_client, text).json()
    assert a["id"] == b["id"]
    lines = text.splitlines()
    rows = [[float(v) for v in line.split(",")] for line in lines[1:]]
    c = tmp_client.post("/api/datasets", json={"columns": lines[0].split(","), "rows": rows})
    assert c.status_code == 201 and c.json()["id"] == a["id"]


def test_task_inference_and_override(tmp_client: TestClient) -> None:
    reg = "a,b,y\n1,2,0.5\n2,3,1.5\n3,1,2.25\n"
    assert upload(tmp_client, reg).json()["task"] == "regression"
    ints = "a,y\n1,0\n2,1\n3,2\n4,1\n"
    body = upload(tmp_client, ints).json()
    assert body["task"] == "classification" and body["summary"]["engine_task"] == "multiclass"
    as_reg = upload(tmp_client, ints, task="regression").json()
    assert as_reg["task"] == "regression" and as_reg["id"] != body["id"]
    err = only_error(upload(tmp_client, reg, task="classification"))
    assert err["loc"] == ["body", "file", "row 2", "column y"]
    assert "row 2" in err["msg"] and "not an integer class label" in err["msg"]
    # another target column: the last column becomes a feature
    chosen = upload(tmp_client, "y,a,b\n0,1.5,2\n1,2.5,3\n1,0.5,1\n", target="y").json()
    assert chosen["columns"] == ["a", "b"] and chosen["target"] == "y"
    assert chosen["task"] == "classification"
    err = only_error(upload(tmp_client, ints, target="nope"))
    assert err["loc"] == ["body", "target"] and "'nope'" in err["msg"]
    err = only_error(upload(tmp_client, ints, task="clustering"))
    assert err["loc"] == ["body", "task"]


# ------------------------------------------------------------------ every error names row/column


@pytest.mark.parametrize(("text", "loc", "words"), [
    ("", ["body", "file"], "empty"),
    ("\n\n", ["body", "file"], "empty"),
    ("1,2,3\n4,5,6\n", ["body", "file", "row 1"], "no header"),
    ("a,b,y\n", ["body", "file", "row 2"], "no data rows"),
    ("a,b,y\n1,2,0\n1,2\n", ["body", "file", "row 3", "column y"], "has 2 values"),
    ("a,b,y\n1,2,0\n1,2,1,9\n", ["body", "file", "row 3", "column 4"], "has 4 values"),
    ("a,b,y\n1,2,0\n3,4,1\n5,abc,1\n", ["body", "file", "row 4", "column b"],
     "'abc' is not a number"),
    ("a,b,y\n1,,0\n", ["body", "file", "row 2", "column b"], "an empty cell is not a number"),
    ("a,b,y\n1,2,0\n3,nan,1\n", ["body", "file", "row 3", "column b"], "not a finite number"),
    ("a,b,y\n1,2,0\n3,4,1\n-inf,4,1\n", ["body", "file", "row 4", "column a"],
     "not a finite number"),
    ("a,b,y\n1,2,1\n3,4,1\n", ["body", "file", "row 2", "column y"], "only one class"),
    ("a,a,y\n1,2,0\n", ["body", "file", "row 1", "column a"], "duplicate"),
    ("a\n1\n2\n", ["body", "file"], "at least 2 columns"),
])
def test_csv_errors_name_row_and_column(tmp_client: TestClient, text: str, loc: list[str],
                                        words: str) -> None:
    err = only_error(upload(tmp_client, text, **({"task": "classification"}
                                                 if "only one class" in words else {})))
    assert err["loc"][:len(loc)] == loc and words in err["msg"], err
    if len(loc) > 2:
        assert loc[2] in err["msg"]  # the message names the row too
    if len(loc) > 3:
        assert f'column "{loc[3].removeprefix("column ")}"' in err["msg"]


def test_csv_blank_line_rows_count_as_file_lines(tmp_client: TestClient) -> None:
    err = only_error(upload(tmp_client, "a,b,y\n1,2,0\n\n3,x2,1\n"))
    assert err["loc"] == ["body", "file", "row 4", "column b"]
    assert err["msg"] == "row 4, column \"b\": 'x2' is not a number"


def test_too_many_rows_and_columns(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    client = make_client(data_dir=tmp_path, max_samples=5)
    err = only_error(upload(client, "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(6))))
    assert err["loc"] == ["body", "file", "row 7"] and "at most 5" in err["msg"]
    assert upload(client, "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(5))).status_code == 201
    header = ",".join(f"f{j}" for j in range(101)) + ",y"
    row = ",".join("1" for _ in range(101)) + ",0"
    err = only_error(upload(client, f"{header}\n{row}\n"))
    assert err["loc"] == ["body", "file", "row 1", "column y"] and "at most 100" in err["msg"]
    ok = ",".join(f"f{j}" for j in range(100)) + ",y\n" + \
        (",".join("1" for _ in range(100)) + ",0\n") + (",".join("2" for _ in range(100)) + ",1\n")
    assert upload(client, ok).status_code == 201


def test_body_over_the_upload_limit_is_413(make_client: Callable[..., TestClient],
                                            tmp_path: Path) -> None:
    client = make_client(data_dir=tmp_path, max_upload_bytes=2000)
    big = xor_csv(200)
    assert len(big) > 2000
    r = upload(client, big)
    assert r.status_code == 413 and "2000" in r.json()["detail"]
    assert not (tmp_path / "datasets").exists() or not list((tmp_path / "datasets").iterdir())
    assert upload(client, xor_csv(20)).status_code == 201
    # the larger limit is the upload's only: other bodies keep max_body_bytes
    small = make_client(data_dir=tmp_path, max_body_bytes=1000)
    assert upload(small, xor_csv(60)).status_code == 201
    assert small.post("/api/runs", json={"seed": 0, "optimizer": {"name": "sgd", "lr": 0.1},
                                         "x": "y" * 1000}).status_code == 413


def test_json_rows_errors_name_row_and_column(tmp_client: TestClient) -> None:
    def post(body: dict[str, Any]) -> Any:
        return tmp_client.post("/api/datasets", json=body)

    err = only_error(post({"columns": ["a", "b", "y"], "rows": [[1, 2, 0], [1, "abc", 1]]}))
    assert err["loc"] == ["body", "rows", 1, 1] and err["msg"].startswith('rows[1], column "b"')
    err = only_error(post({"columns": ["a", "b", "y"], "rows": [[1, 2, 0], [1, 2]]}))
    assert err["loc"][:3] == ["body", "rows", 1] and "2 values" in err["msg"]
    err = only_error(tmp_client.post(
        "/api/datasets", content=b'{"columns":["a","y"],"rows":[[1,0],[Infinity,1]]}',
        headers={"content-type": "application/json"}))
    assert err["loc"] == ["body", "rows", 1, 0] and "not a finite number" in err["msg"]
    err = only_error(post({"columns": ["a", "y"], "rows": []}))
    assert err["loc"] == ["body", "rows"]
    err = only_error(post({"rows": [[1, 0]]}))
    assert err["loc"] == ["body", "columns"]
    assert post({"columns": ["a", "y"], "rows": [[1, 0], [2, 1]], "task": "regression"}
                ).json()["task"] == "regression"


def test_other_content_types_are_refused(tmp_client: TestClient) -> None:
    r = tmp_client.post("/api/datasets", content=b"a,y\n1,0\n",
                        headers={"content-type": "text/csv"})
    assert r.status_code == 415
    # forms only on the upload path: elsewhere multipart is still refused
    r = tmp_client.post("/api/runs", files={"file": ("a.csv", b"a,y\n1,0\n", "text/csv")})
    assert r.status_code == 415
    err = only_error(tmp_client.post("/api/datasets", data={"target": "y"},
                                     files={"other": ("a.csv", b"a,y\n1,0\n", "text/csv")}))
    assert err["loc"] == ["body", "file"]


# ------------------------------------------------------------------ nothing half-stored


def test_failed_uploads_leave_no_file(tmp_client: TestClient, tmp_path: Path) -> None:
    for text in ("a,b,y\n1,2,0\n3,abc,1\n", "a,y\n1,nan\n", "a,y\n1,1\n2,1\n"):
        assert upload(tmp_client, text, task="classification").status_code == 422
    folder = tmp_path / "datasets"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_store_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the table is written only a temporary file exists (a crash then leaves nothing
    under the id); a write that fails midway (disk full) leaves neither."""
    store = DatasetStore(tmp_path, 100)
    table = make_table(np.array([[1.0, 0.0], [2.0, 1.0]]), ["a", "y"])
    seen: list[list[str]] = []

    def broken_fsync(fd: int) -> None:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("app.datasets.os.fsync", broken_fsync)
    with pytest.raises(OSError):
        store.put(table)
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].startswith(".upload-")
    assert list(tmp_path.iterdir()) == []
    assert DatasetStore(tmp_path, 100).get(table.id) is None
    monkeypatch.undo()
    store.put(table)
    assert [p.name for p in tmp_path.iterdir()] == [f"{table.id}.json"]
    fresh = DatasetStore(tmp_path, 100).get(table.id)  # survives a restart (new store)
    assert fresh is not None and np.array_equal(fresh.x, table.x)


def test_datasets_survive_a_restart(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    ident = upload(make_client(data_dir=tmp_path), xor_csv(40)).json()["id"]
    again = make_client(data_dir=tmp_path)
    assert again.get(f"/api/datasets/{ident}").status_code == 200
    r = again.post("/api/runs", json={"dataset": {"name": "custom", "params": {"id": ident}}})
    assert r.status_code == 201


# ------------------------------------------------------------------ runs on custom data


def custom_config(ident: str, **extra: Any) -> dict[str, Any]:
    return {"seed": 3, "dataset": {"name": "custom", "params": {"id": ident},
                                   "normalize": "zscore", "val_fraction": 0.25,
                                   "test_fraction": 0.1},
            "model": {"hidden": [5]}, "optimizer": {"name": "adam", "lr": 0.02},
            "batch_size": 8, **extra}


def test_run_on_custom_data_trains_surface_evaluate_and_replays_bit_exact(
        tmp_client: TestClient) -> None:
    ident = upload(tmp_client, xor_csv(80)).json()["id"]
    cfg = custom_config(ident, early_stopping={"monitor": "val_loss", "patience": 500})
    r = tmp_client.post("/api/runs", json=cfg)
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    resolved = r.json()["config"]["dataset"]
    assert resolved["n"] == 80 and resolved["params"] == {"id": ident}
    tmp_client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.01}})
    assert tmp_client.post(f"/api/runs/{run_id}/step", json={"steps": 60}).status_code == 200
    snap = tmp_client.get(f"/api/runs/{run_id}/snapshot").json()
    assert "surface" in snap and len(snap["surface"]["prob"]) > 2
    data = tmp_client.get(f"/api/runs/{run_id}/data").json()
    assert len(data["train"]["x"]) == 80 - 20 - 8 and len(data["val"]["x"]) == 20
    assert data["table"]["columns"] == ["x1", "x2"] and data["table"]["classes"] == [0, 1]
    ev = tmp_client.get(f"/api/runs/{run_id}/evaluate")
    assert ev.status_code == 200, ev.text
    export = tmp_client.get(f"/api/runs/{run_id}/export").json()
    assert export["table"]["id"] == ident
    again = tmp_client.post("/api/runs/import", json=export)
    assert again.status_code == 201 and again.json()["verified"] is True


def test_unknown_id_and_features_are_422(tmp_client: TestClient) -> None:
    err = only_error(tmp_client.post("/api/runs", json={
        "dataset": {"name": "custom", "params": {"id": "f" * 20}}}))
    assert err["loc"] == ["body", "dataset", "params", "id"]
    err = only_error(tmp_client.post("/api/runs", json={"dataset": {"name": "custom"}}))
    assert err["loc"] == ["body", "dataset", "params", "id"]
    ident = upload(tmp_client, xor_csv(20)).json()["id"]
    err = only_error(tmp_client.post("/api/runs", json={
        "dataset": {"name": "custom", "params": {"id": ident}, "features": ["x1_sq", "x2_sq"]}}))
    assert err["loc"] == ["body", "dataset", "features"] and "built-in 2-D" in err["msg"]


def test_more_than_two_features_skip_the_surface(tmp_client: TestClient) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).round(4)
    y = x @ np.array([1.0, -2.0, 0.5])
    text = "a,b,c,y\n" + "".join(f"{a},{b},{c},{t}\n" for (a, b, c), t in zip(x.tolist(),
                                                                                  y.tolist(),
                                                                                  strict=True))
    ident = upload(tmp_client, text).json()["id"]
    r = tmp_client.post("/api/runs", json={"dataset": {"name": "custom", "params": {"id": ident}},
                                           "model": {"hidden": []}, "optimizer": {"lr": 0.05}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    assert r.json()["config"]["loss"] is None
    tmp_client.post(f"/api/runs/{run_id}/step", json={"steps": 30})
    snap = tmp_client.get(f"/api/runs/{run_id}/snapshot")
    assert snap.status_code == 200 and "surface" not in snap.json()
    assert tmp_client.get(f"/api/runs/{run_id}").json()["task"] == "regression"


# ------------------------------------------------------------------ export -> import elsewhere


def test_export_imports_on_a_fresh_server_bit_for_bit(make_client: Callable[..., TestClient],
                                                      tmp_path: Path) -> None:
    a = make_client(data_dir=tmp_path / "a")
    ident = upload(a, xor_csv(70)).json()["id"]
    run_id = a.post("/api/runs", json=custom_config(ident)).json()["id"]
    a.post(f"/api/runs/{run_id}/step", json={"steps": 25})
    a.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.005}})
    a.post(f"/api/runs/{run_id}/step", json={"steps": 25})
    export = a.get(f"/api/runs/{run_id}/export").json()
    b = make_client(data_dir=tmp_path / "b")
    assert b.get(f"/api/datasets/{ident}").status_code == 404
    # without the embedded data the other server cannot know the table
    bare = {k: v for k, v in export.items() if k != "table"}
    err = only_error(b.post("/api/runs/import", json=bare))
    assert err["loc"] == ["body", "config", "dataset", "params", "id"]
    r = b.post("/api/runs/import", json=export)
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is True and r.json()["step"] == 50
    assert (tmp_path / "b" / "datasets" / f"{ident}.json").is_file()
    hist_a = a.get(f"/api/runs/{run_id}/history").json()
    hist_b = b.get(f"/api/runs/{r.json()['id']}/history").json()
    assert hist_a["loss"] == hist_b["loss"] and len(hist_a["loss"]) == 50
    assert b.get(f"/api/datasets/{ident}").json()["n"] == 70


def test_import_rejects_a_table_that_is_not_the_configs(make_client: Callable[..., TestClient],
                                                        tmp_path: Path) -> None:
    a = make_client(data_dir=tmp_path / "a")
    ident = upload(a, xor_csv(30)).json()["id"]
    run_id = a.post("/api/runs", json=custom_config(ident)).json()["id"]
    export = a.get(f"/api/runs/{run_id}/export").json()
    b = make_client(data_dir=tmp_path / "b")
    tampered = json.loads(json.dumps(export))
    tampered["table"]["x"][0][0] += 1.0
    err = only_error(b.post("/api/runs/import", json=tampered))
    assert err["loc"][:2] == ["body", "table"] and "does not match" in err["msg"]
    tampered = json.loads(json.dumps(export))
    tampered["table"]["x"][3][1] = "abc"
    assert b.post("/api/runs/import", json=tampered).status_code == 422
    assert not (tmp_path / "b" / "datasets").exists()


def test_pytorch_export_of_a_custom_run_embeds_the_data(tmp_client: TestClient) -> None:
    ident = upload(tmp_client, xor_csv(30)).json()["id"]
    run_id = tmp_client.post("/api/runs", json=custom_config(ident)).json()["id"]
    tmp_client.post(f"/api/runs/{run_id}/step", json={"steps": 5})
    script = tmp_client.get(f"/api/runs/{run_id}/export?format=pytorch")
    assert script.status_code == 200 and "X_TRAIN = np.array(" in script.text


# ------------------------------------------------------------------ property: values round-trip


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_tables_round_trip_to_the_engine(tmp_client: TestClient, data: st.DataObject
                                                ) -> None:
    """Random valid CSV tables: the values the engine trains on are the CSV's (exact float64,
    as Python's ``float`` reads the cell), in the order of the split's permutation."""
    n = data.draw(st.integers(2, 30))
    d = data.draw(st.integers(1, 4))
    x = np.array(data.draw(st.lists(st.lists(finite, min_size=d, max_size=d), min_size=n,
                                    max_size=n)))
    y = np.array(data.draw(st.lists(finite, min_size=n, max_size=n)))
    fmt = data.draw(st.sampled_from([repr, lambda v: f"{v:.6e}", lambda v: f"{v:.17g}"]))
    cols = [f"c{j}" for j in range(d)]
    text = ",".join([*cols, "t"]) + "\n" + "".join(
        ",".join(fmt(float(v)) for v in [*row, t]) + "\n"
        for row, t in zip(x.tolist(), y.tolist(), strict=True))
    r = upload(tmp_client, text, task="regression")
    assert r.status_code == 201, r.text
    ident = r.json()["id"]
    store: DatasetStore = tmp_client.app.state.datasets  # type: ignore[attr-defined]
    store._cache.clear()  # read the stored file, not the upload's object
    table = store.get(ident)
    assert table is not None
    want_x = np.array([[float(fmt(float(v))) for v in row] for row in x.tolist()])
    want_y = np.array([float(fmt(float(v))) for v in y.tolist()])
    assert np.array_equal(table.x, want_x.reshape(n, d)) and np.array_equal(table.y, want_y)
    from core.trainer import Run  # the engine's view: the same numbers, split and unnormalised
    run = Run({"dataset": {"name": "custom", "params": {"id": ident}, "val_fraction": 0.0}},
              tmp_client.app.state.runs.limits)  # type: ignore[attr-defined]
    got = run.dataset.x_train
    order = np.lexsort(got.T[::-1])
    want_order = np.lexsort(want_x.T[::-1])
    assert np.array_equal(got[order], want_x[want_order])
    assert np.array_equal(np.sort(run.dataset.y_train[:, 0]), np.sort(want_y))


def test_search_workers_read_the_same_tables(tmp_client: TestClient, tmp_path: Path) -> None:
    """Search trials run in worker processes: their limits find the server's uploaded tables."""
    from app.search.worker import limits_from
    from core.trainer import Run
    from tests.conftest import app_settings

    ident = upload(tmp_client, xor_csv(30)).json()["id"]
    limits = limits_from(app_settings(data_dir=tmp_path))
    run = Run({"dataset": {"name": "custom", "params": {"id": ident}}}, limits)
    assert run.dataset.n_train + run.dataset.n_val == 30


def test_pytorch_script_of_a_custom_run_reproduces_its_losses(tmp_client: TestClient,
                                                               tmp_path: Path) -> None:
    """The script embeds the custom data (multiclass labels 2/5/9 as class ids) and, run with
    torch, prints the run's losses (1e-6 relative)."""
    pytest.importorskip("torch")
    from tests.app.test_export_pytorch import _assert_same

    rng = np.random.default_rng(4)
    x = rng.normal(size=(45, 2)).round(3)
    labels = np.array([2, 5, 9])[np.argmax(np.column_stack([x[:, 0], x[:, 1], -x.sum(1)]), 1)]
    text = "a,b,k\n" + "".join(f"{p},{q},{c}\n" for (p, q), c in zip(x.tolist(), labels.tolist(),
                                                                       strict=True))
    ident = upload(tmp_client, text).json()["id"]
    run_id = tmp_client.post("/api/runs", json=custom_config(ident)).json()["id"]
    tmp_client.post(f"/api/runs/{run_id}/step", json={"steps": 12})
    _assert_same(tmp_client, run_id, tmp_path)
