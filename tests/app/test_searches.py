"""Searches API: request checks, samplers, pruning, cancel/delete/export, trials reopened as
runs, and survival across app restarts. Trials run in-process here (``worker.work``); the
worker processes (real ``gradplay worker`` and the server's pool) are in test_search_workers.py."""

from __future__ import annotations

import csv
import io
import itertools
import math
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from fastapi.testclient import TestClient
from optuna.trial import TrialState
from sqlalchemy import event

from app.search import store, worker
from app.settings import Settings

LR = {"path": "optimizer.lr", "type": "float", "low": 0.001, "high": 0.1, "log": True}


@pytest.fixture(params=["journal", "sqlite"])
def search_client(request: pytest.FixtureRequest, make_client: Callable[..., TestClient],
                  tmp_path: Path) -> TestClient:
    """An app with its own data directory and no worker processes, on the embedded default
    storage (a journal file) and on SQLite (the default of earlier versions, still used by a
    data directory that holds one)."""
    if request.param == "journal":
        return make_client(data_dir=tmp_path, search_workers=0)
    return sqlite_client(make_client, tmp_path)


def sqlite_client(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    return make_client(data_dir=tmp_path, search_workers=0,
                       search_storage=f"sqlite:///{tmp_path / store.SQLITE_FILE}")


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("steps", 40)
    r = client.post("/api/searches", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def run_trials(client: TestClient, search_id: str) -> dict[str, Any]:
    """Run every waiting trial in this process; the search's detail afterwards."""
    url = client.app.state.searches.url  # type: ignore[attr-defined]
    worker.work(url, search_id, worker.limits_from(Settings()), threading.Event())
    r = client.get(f"/api/searches/{search_id}")
    assert r.status_code == 200
    return r.json()


@pytest.mark.parametrize(
    ("body", "loc", "text"),
    [
        ({"space": [{**LR, "path": "optimizer.lrx"}]}, ["space", 0, "path"], "unknown field"),
        ({"space": [{**LR, "path": "optimizer..lr"}]}, ["space", 0, "path"], "not a field path"),
        ({"space": [{**LR, "high": 20.0}]}, ["space", 0, "high"], "<= 10"),
        ({"space": [{**LR, "low": 0.0}]}, ["space", 0, "low"], "> 0 with log"),
        ({"space": [{**LR, "low": 0.1, "high": 0.1}]}, ["space", 0, "high"], "range is empty"),
        ({"space": [{"path": "batch_size", "type": "float", "low": 1.0, "high": 9.0}]},
         ["space", 0, "low"], "must be an integer"),
        ({"space": [{"path": "batch_size", "type": "int", "low": 1, "high": 10, "step": 4}]},
         ["space", 0, "high"], "multiple of step"),
        ({"space": [{"path": "optimizer.name", "type": "categorical",
                     "choices": ["sgd", "adamx"]}]}, ["space", 0, "choices"], "unknown optimizer"),
        ({"space": [LR, LR]}, ["space", 1, "path"], "twice"),
        ({"space": [LR], "trials": 501}, ["trials"], "less than or equal to 500"),
        ({"space": [LR], "steps": 20_001}, ["steps"], "20000"),
        ({"space": []}, ["space"], "at least 1"),
        ({"space": [LR], "sampler": {"name": "random", "points": 3}}, ["sampler", "points"],
         "grid sampler only"),
        ({"space": [LR], "sampler": {"name": "bayes"}}, ["sampler", "name"], "grid"),
        ({"space": [LR], "base": {"dataset": {"val_fraction": 0.0}}},
         ["base", "dataset", "val_fraction"], "validation split"),
        ({"space": [LR], "base": {"optimizer": {"name": "nope"}}}, ["base", "optimizer", "name"],
         "unknown optimizer"),
        ({"space": [{"path": "model.hidden[5]", "type": "int", "low": 2, "high": 8}]},
         ["space", 0, "path"], "index must be < 2"),
        ({"space": [{"path": "model.hidden[*]", "type": "int", "low": 2, "high": 100_000}]},
         ["space", 0, "high"], "model.hidden"),
    ],
)
def test_bad_requests_name_the_field(search_client: TestClient, body: dict[str, Any],
                                     loc: list[Any], text: str) -> None:
    r = search_client.post("/api/searches", json=body)
    assert r.status_code == 422, r.text
    item = r.json()["detail"][0]
    assert item["loc"] == ["body", *loc]
    assert text in item["msg"]
    storage_url = search_client.app.state.searches.url  # type: ignore[attr-defined]
    assert store.search_ids(store.open_storage(storage_url)) == []  # nothing half-stored


def test_grid_runs_every_point_once(search_client: TestClient) -> None:
    opt = {"path": "optimizer.name", "type": "categorical", "choices": ["sgd", "adam"]}
    s = create(search_client, space=[LR, opt], sampler={"name": "grid", "points": 3},
               trials=100)
    assert s["state"] == "queued" and s["trials_total"] == 6  # capped at the grid size
    done = run_trials(search_client, s["id"])
    assert done["state"] == "done"
    assert done["counts"]["COMPLETE"] == 6
    seen = sorted((t["params"]["optimizer.lr"], t["params"]["optimizer.name"])
                  for t in done["trials"])
    expected = sorted(itertools.product([0.001, 0.01, 0.1], ["adam", "sgd"]))
    assert len(seen) == 6
    for (lr, name), (lr_x, name_x) in zip(seen, expected, strict=True):
        assert name == name_x and math.isclose(lr, lr_x, rel_tol=1e-12)
    for t in done["trials"]:  # the trial trained what its params say
        assert t["run_config"]["optimizer"]["name"] == t["params"]["optimizer.name"]
        assert t["run_config"]["optimizer"]["lr"] == t["params"]["optimizer.lr"]
        assert t["steps"] == 40 and t["worker"] and t["wall_time"] > 0


def test_width_of_every_layer(search_client: TestClient) -> None:
    width = {"path": "model.hidden[*]", "type": "int", "low": 2, "high": 6, "step": 4}
    s = create(search_client, base={"model": {"hidden": [3, 3, 3]}}, space=[width],
               sampler={"name": "grid"})
    done = run_trials(search_client, s["id"])
    assert sorted(t["run_config"]["model"]["hidden"] for t in done["trials"]) == [
        [2, 2, 2], [6, 6, 6]]


def test_random_search_is_reproducible(search_client: TestClient) -> None:
    space = [LR, {"path": "batch_size", "type": "int", "low": 4, "high": 64, "log": True}]
    params = []
    for _ in range(2):
        s = create(search_client, space=space, sampler={"name": "random", "seed": 7}, trials=4)
        params.append([t["params"] for t in run_trials(search_client, s["id"])["trials"]])
    assert params[0] == params[1]
    assert len({tuple(p.values()) for p in params[0]}) == 4


def test_best_trial_and_objective_direction(search_client: TestClient) -> None:
    s = create(search_client, space=[LR], sampler={"name": "random"}, trials=5,
               objective={"metric": "val_accuracy"})
    assert s["spec"]["objective"]["direction"] == "maximize"
    done = run_trials(search_client, s["id"])
    values = [t["value"] for t in done["trials"]]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert done["best"]["value"] == max(values)


def test_trial_reopens_as_the_identical_run(search_client: TestClient) -> None:
    s = create(search_client, space=[LR], sampler={"name": "random", "seed": 3}, trials=2,
               steps=60, report_every=25)
    done = run_trials(search_client, s["id"])
    trial = done["trials"][1]
    r = search_client.post(f"/api/searches/{s['id']}/trials/1/run")
    assert r.status_code == 201, r.text
    run = search_client.app.state.runs.get(r.json()["id"]).run  # type: ignore[attr-defined]
    assert run.step_count == 60 and r.json()["step"] == 60
    assert worker.objective_value(run, "val_loss") == trial["value"]  # bit for bit
    assert [v for _, v in trial["intermediate_values"]][-1] == trial["value"]
    assert [s for s, _ in trial["intermediate_values"]] == [25, 50, 60]
    r = search_client.post(f"/api/searches/{s['id']}/trials/9/run")
    assert r.status_code == 404


def test_diverging_trial_fails_with_its_reason(search_client: TestClient) -> None:
    s = create(search_client, base={"dataset": {"name": "unscaled"}, "model": {"hidden": []}},
               space=[{"path": "optimizer.lr", "type": "categorical", "choices": [10.0, 1e-6]}],
               sampler={"name": "grid"}, steps=200)
    done = run_trials(search_client, s["id"])
    by_lr = {t["params"]["optimizer.lr"]: t for t in done["trials"]}
    assert by_lr[10.0]["state"] == "FAIL"
    assert by_lr[10.0]["fail_reason"].startswith("diverged at step")
    assert by_lr[1e-6]["state"] == "COMPLETE"
    assert done["state"] == "done" and done["best"]["number"] == by_lr[1e-6]["number"]


def test_median_pruner_stops_poor_trials_early(search_client: TestClient) -> None:
    s = create(search_client, base={"dataset": {"name": "spiral"}},
               space=[{**LR, "low": 1e-5, "high": 1.0}], sampler={"name": "random", "seed": 1},
               trials=12, steps=200, report_every=20,
               pruner={"name": "median", "n_startup_trials": 2})
    done = run_trials(search_client, s["id"])
    pruned = [t for t in done["trials"] if t["state"] == "PRUNED"]
    assert pruned, [t["state"] for t in done["trials"]]
    for t in pruned:
        assert t["steps"] < 200 and t["value"] == t["intermediate_values"][-1][1]
    assert done["counts"]["PRUNED"] == len(pruned)


def test_cancel_keeps_results_and_runs_nothing_more(search_client: TestClient) -> None:
    s = create(search_client, space=[LR], sampler={"name": "random"}, trials=30)
    storage = search_client.app.state.searches.storage  # type: ignore[attr-defined]
    assert worker.work_once(storage, [s["id"]], worker.limits_from(Settings()),
                            threading.Event())
    r = search_client.post(f"/api/searches/{s['id']}/cancel")
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "cancelled"
    assert body["counts"]["COMPLETE"] == 1 and body["counts"]["WAITING"] == 0
    assert {t["fail_reason"] for t in body["trials"] if t["state"] == "FAIL"} == {"cancelled"}
    assert not worker.work_once(storage, [s["id"]], worker.limits_from(Settings()),
                                threading.Event())


def test_export_json_and_csv(search_client: TestClient) -> None:
    s = create(search_client, space=[LR], sampler={"name": "random"}, trials=3)
    done = run_trials(search_client, s["id"])
    assert search_client.get(f"/api/searches/{s['id']}/export").json()["trials"] == \
        done["trials"]
    r = search_client.get(f"/api/searches/{s['id']}/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["number"]) for row in rows] == [0, 1, 2]
    for row, t in zip(rows, done["trials"], strict=True):
        assert float(row["value"]) == t["value"]
        assert float(row["params.optimizer.lr"]) == t["params"]["optimizer.lr"]
    assert search_client.get(f"/api/searches/{s['id']}/export",
                             params={"format": "xml"}).status_code == 422


def test_delete(search_client: TestClient) -> None:
    s = create(search_client, space=[LR], trials=2)
    assert search_client.delete(f"/api/searches/{s['id']}").status_code == 204
    assert search_client.get(f"/api/searches/{s['id']}").status_code == 404
    assert search_client.delete(f"/api/searches/{s['id']}").status_code == 404
    assert search_client.post(f"/api/searches/{s['id']}/cancel").status_code == 404


def test_searches_survive_a_restart(make_client: Callable[..., TestClient],
                                    tmp_path: Path) -> None:
    first = make_client(data_dir=tmp_path, search_workers=0)
    s = create(first, space=[LR], sampler={"name": "random"}, trials=2)
    done = run_trials(first, s["id"])
    second = make_client(data_dir=tmp_path, search_workers=0)  # a new app, same data dir
    assert store.search_ids(store.open_storage(second.app.state.searches.url)) == [s["id"]]
    assert second.get(f"/api/searches/{s['id']}").json()["trials"] == done["trials"]


def test_figures_from_optuna_visualization(search_client: TestClient) -> None:
    s = create(search_client, space=[LR, {"path": "regularization.l2", "type": "float",
                                          "low": 1e-5, "high": 1e-2, "log": True}],
               sampler={"name": "random"}, trials=4)
    early = search_client.get(f"/api/searches/{s['id']}/figures/contour")
    assert early.status_code == 409 and "completed trial" in early.json()["detail"]
    run_trials(search_client, s["id"])
    for name in ("history", "parallel_coordinate", "slice", "contour", "param_importances",
                 "intermediate_values"):
        r = search_client.get(f"/api/searches/{s['id']}/figures/{name}")
        assert r.status_code == 200, (name, r.text)
        figure = r.json()
        assert figure["data"], name
    history = search_client.get(f"/api/searches/{s['id']}/figures/history").json()
    objective = next(tr for tr in history["data"] if tr.get("mode") == "markers")
    values = [t["value"] for t in search_client.get(f"/api/searches/{s['id']}").json()["trials"]]
    assert objective["y"] == values  # the figure shows the trials' numbers
    assert search_client.get(f"/api/searches/{s['id']}/figures/pie").status_code == 404


def test_stream_pushes_trials_as_they_finish(search_client: TestClient) -> None:
    s = create(search_client, space=[LR], sampler={"name": "random"}, trials=3, steps=100)
    url = search_client.app.state.searches.url  # type: ignore[attr-defined]
    messages = []
    with search_client.websocket_connect(f"/api/searches/{s['id']}/stream") as ws:
        first = ws.receive_json()
        assert first["type"] == "search" and first["state"] == "queued"
        runner = threading.Thread(target=worker.work, args=(
            url, s["id"], worker.limits_from(Settings()), threading.Event()))
        runner.start()
        while True:
            message = ws.receive_json()
            messages.append(message)
            if message["type"] == "end":
                break
        runner.join()
    assert messages[-1] == {"type": "end", "state": "done"}
    finished = {m["trial"]["number"]: m["trial"] for m in messages
                if m["type"] == "trial" and m["trial"]["state"] == "COMPLETE"}
    assert sorted(finished) == [0, 1, 2]
    assert all(t["value"] is not None and t["worker"] for t in finished.values())
    states = [m for m in messages if m["type"] == "state"]
    assert states[-1]["state"] == "done" and states[-1]["counts"]["COMPLETE"] == 3


def test_stream_of_unknown_search(search_client: TestClient) -> None:
    with search_client.websocket_connect("/api/searches/nope/stream") as ws:
        assert ws.receive_json()["type"] == "error"


def test_an_engine_error_fails_the_trial_not_the_search(
        search_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    s = create(search_client, space=[LR], sampler={"name": "random"}, trials=2)

    def broken(run: Any, metric: str) -> float:
        raise RuntimeError("planted")

    monkeypatch.setattr(worker, "objective_value", broken)
    done = run_trials(search_client, s["id"])
    assert done["state"] == "done"
    assert [t["state"] for t in done["trials"]] == ["FAIL", "FAIL"]
    assert done["trials"][0]["fail_reason"] == "internal error: RuntimeError: planted"



def test_searches_belong_to_their_creator(search_client: TestClient,
                                          make_client: Callable[..., TestClient],
                                          tmp_path: Path) -> None:
    mine = create(search_client, space=[LR], trials=2)
    assert mine["owner_token"] and "owner_sha256" not in mine["spec"]
    assert search_client.cookies.get("gradplay_owner") == mine["owner_token"]
    other = TestClient(search_client.app)  # another browser: no cookie
    assert other.get("/api/searches").status_code == 401
    theirs = other.post("/api/searches", json={"space": [LR], "trials": 1, "steps": 10}).json()
    assert [x["id"] for x in search_client.get("/api/searches").json()] == [mine["id"]]
    assert [x["id"] for x in other.get("/api/searches").json()] == [theirs["id"]]
    # another client can read a search by id but neither cancel nor delete it
    assert other.get(f"/api/searches/{mine['id']}").status_code == 200
    for call in (other.post(f"/api/searches/{mine['id']}/cancel"),
                 other.delete(f"/api/searches/{mine['id']}")):
        assert call.status_code == 404
        assert call.json()["detail"] == f"no search with id {mine['id']!r}"
    bearer = {"Authorization": f"Bearer {mine['owner_token']}"}
    assert TestClient(search_client.app).post(f"/api/searches/{mine['id']}/cancel",
                                              headers=bearer).status_code == 200
    assert search_client.get(f"/api/searches/{mine['id']}").json()["state"] == "cancelled"


def test_winner_is_measured_once_on_the_test_split(search_client: TestClient) -> None:
    """The protocol: trials are chosen on validation; the winner's train/val/test metrics at
    its final weights come with `best`, equal to the reopened run's /evaluate; no trial
    exposes its test metrics."""
    s = create(search_client, base={"dataset": {"name": "circle", "test_fraction": 0.2}},
               space=[LR], sampler={"name": "random", "seed": 4}, trials=3, steps=40)
    done = run_trials(search_client, s["id"])
    best = done["best"]
    evaluation = best["evaluation"]
    assert set(evaluation) == {"step", "train", "val", "test"}
    assert evaluation["val"]["loss"] == best["value"]  # the objective is the val loss
    assert all("evaluation" not in t and "test" not in t for t in done["trials"])
    r = search_client.post(f"/api/searches/{s['id']}/trials/{best['number']}/run")
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['owner_token']}"} \
        if r.json().get("owner_token") else {}
    again = search_client.get(f"/api/runs/{r.json()['id']}/evaluate", headers=headers).json()
    assert again == evaluation
    # without a test split there is no test entry
    s2 = create(search_client, space=[LR], sampler={"name": "random", "seed": 4}, trials=1,
                steps=20)
    assert "test" not in run_trials(search_client, s2["id"])["best"]["evaluation"]


def test_a_worker_skips_trials_claimed_behind_its_back_and_finds_new_ones(
        search_client: TestClient) -> None:
    """A worker keeps the list of trials it saw waiting between its trials (no reread of every
    waiting trial per claim): a trial another process claimed meanwhile is skipped, not run
    twice, and a trial queued after the list was read (a requeued one) is still found."""
    s = create(search_client, space=[LR], sampler={"name": "random"}, trials=3, steps=20)
    storage = search_client.app.state.searches.storage  # type: ignore[attr-defined]
    limits, stop = worker.limits_from(Settings()), threading.Event()
    assert worker.work_once(storage, [s["id"]], limits, stop)  # trial 0; 1 and 2 listed
    study_id = storage.get_study_id_from_name(s["id"])
    taken = storage.get_trial_id_from_study_id_trial_number(study_id, 1)
    assert storage.set_trial_state_values(taken, TrialState.RUNNING)  # "another worker"
    assert worker.work_once(storage, [s["id"]], limits, stop)
    study = store.load(storage, s["id"])
    assert study is not None
    study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING))  # number 3
    assert worker.work_once(storage, [s["id"]], limits, stop)
    assert not worker.work_once(storage, [s["id"]], limits, stop)
    trials = search_client.get(f"/api/searches/{s['id']}").json()["trials"]
    assert [(t["number"], t["state"]) for t in trials] == [
        (0, "COMPLETE"), (1, "RUNNING"), (2, "COMPLETE"), (3, "COMPLETE")]
    assert trials[1]["worker"] is None and trials[1]["intermediate_values"] == []


def test_sqlite_reads_take_no_write_lock(make_client: Callable[..., TestClient],
                                         tmp_path: Path) -> None:
    """SQLite: Optuna's read-only calls (every page and WebSocket poll) begin a deferred
    transaction, which reads a WAL snapshot while another process holds the write lock;
    every call that may write (the claim above all) still begins with BEGIN IMMEDIATE."""
    search_client = sqlite_client(make_client, tmp_path)
    s = create(search_client, space=[LR], trials=2, steps=20)
    storage = search_client.app.state.searches.storage  # type: ignore[attr-defined]
    study_id = storage.get_study_id_from_name(s["id"])
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, 0)
    begins: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(storage.engine, "before_cursor_execute", record)
    try:
        storage.get_all_trials(study_id)
        storage.get_study_user_attrs(study_id)
        assert begins == ["BEGIN", "BEGIN"]
        begins.clear()
        assert storage.set_trial_state_values(trial_id, TrialState.RUNNING)
        storage.set_trial_intermediate_value(trial_id, 1, 0.5)
        assert begins == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE"]
    finally:
        event.remove(storage.engine, "before_cursor_execute", record)
    # another process holds the write lock: a reader still gets its answer
    path = storage.url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        result: list[Any] = []
        reader = threading.Thread(target=lambda: result.append(
            search_client.get(f"/api/searches/{s['id']}").json()))
        reader.start()
        reader.join(20)  # a reader waiting for the lock would wait 30 s (the busy timeout)
        assert result and result[0]["trials"][0]["intermediate_values"] == [[1, 0.5]]
    finally:
        other.execute("ROLLBACK")
        other.close()
        reader.join()
