"""Runs that survive a restart (issue 16): the run store, the signing key kept in the data
directory, lazy restoration after a restart, and the import of a run at step 0."""

from __future__ import annotations

import json
import logging
import sqlite3
import warnings
from collections.abc import Callable
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from app.owners import COOKIE_NAME
from app.run_store import STORE_FILE
from core.history import history_digest
from core.trainer import Run
from tests.app.test_runs import DIVERGING

FAST: dict[str, Any] = {"dataset": {"n": 40}, "model": {"hidden": [3]}}


# ------------------------------------------------------------------------ import at step 0
@pytest.mark.parametrize("hidden", [[3], [4, 2], []])
def test_export_at_step_0_imports_with_history(client: TestClient, hidden: list[int]) -> None:
    """A run never stepped exports an empty history (per-layer columns with no rows); its
    import verifies against the replay instead of failing on the columns' shape."""
    run = client.post("/api/runs", json={**FAST, "model": {"hidden": hidden}}).json()
    exported = client.get(f"/api/runs/{run['id']}/export").json()
    assert exported["step"] == 0 and exported["history"]["grad_norm"] == []
    r = client.post("/api/runs/import", json=exported)
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is True and r.json()["step"] == 0
    again = client.get(f"/api/runs/{r.json()['id']}/export").json()
    assert again["history_sha256"] == exported["history_sha256"]
    # a tampered empty history is still refused: one row where the replay has none
    exported["history"]["loss"] = [0.5]
    assert client.post("/api/runs/import", json=exported).status_code == 422
    exported["history"]["loss"] = []
    exported["history"]["grad_norm"] = [[]]  # one (empty) row where the replay has none
    assert client.post("/api/runs/import", json=exported).status_code == 422


# ------------------------------------------------------------------------ restart in process
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def restarted(make_client: Callable[..., TestClient], first: TestClient,
              **overrides: Any) -> TestClient:
    """Stop ``first``'s app (its lifespan ends: every run saved) and start a new app on the
    same data directory: a restart of the server, in process."""
    settings = first.app.state.settings  # type: ignore[attr-defined]
    first.__exit__(None, None, None)
    return make_client(data_dir=settings.data_dir, **overrides)


def oracle(config: dict[str, Any], weights: list[dict[str, Any]], more: int) -> Run:
    """The same run trained without interruption: 5 steps, a live lr change, 2 steps, the
    weights put, 3 steps, then ``more``."""
    run = Run(config)
    run.step(5)
    run.apply_patch({"optimizer": {"lr": 0.2}})
    run.step(2)
    run.set_weights(weights)
    run.step(3 + more)
    return run


def drive(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    """Step 5, patch, step 2, put weights (scaled), step 3 through the API; returns the
    weights put."""
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 5}).status_code == 200
    assert client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.2}}).status_code == 200
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 2}).status_code == 200
    layers = client.get(f"/api/runs/{run_id}/weights").json()["layers"]
    layers[0]["W"] = [[w * 0.5 for w in row] for row in layers[0]["W"]]
    assert client.put(f"/api/runs/{run_id}/weights", json={"layers": layers}).status_code == 200
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 3}).status_code == 200
    return layers  # type: ignore[no-any-return]


def test_runs_survive_a_restart(make_client: Callable[..., TestClient]) -> None:
    first = make_client()
    created = first.post("/api/runs", json=FAST).json()
    run_id, owner, watch = created["id"], created["owner_token"], created["watch_token"]
    weights = drive(first, run_id)
    before = first.get(f"/api/runs/{run_id}/export").json()
    epoch = first.get(f"/api/runs/{run_id}").json()["epoch"]
    assert epoch > 0
    untouched = first.post("/api/runs", json={**FAST, "seed": 5}).json()["id"]

    second = restarted(make_client, first)
    assert second.get("/api/runs", headers=bearer(owner)).json() == [
        {"id": run_id, "status": "paused", "step": 10, "epoch": epoch,
         "created": created_time(second, run_id)},
        {"id": untouched, "status": "ready", "step": 0, "epoch": 0,
         "created": created_time(second, untouched)}]
    # listed, not replayed until first opened
    assert set(second.app.state.runs.stored) == {run_id, untouched}  # type: ignore[attr-defined]
    detail = second.get(f"/api/runs/{run_id}", headers=bearer(owner)).json()
    assert detail["step"] == 10 and detail["watch_token"] == watch
    assert detail["config"]["optimizer"]["lr"] == 0.2
    after = second.get(f"/api/runs/{run_id}/export", headers=bearer(owner)).json()
    assert after == before  # config, events (weights included), step and history, exactly
    # the watch token still reads it; control still needs the owner token
    assert second.get(f"/api/runs/{run_id}?watch={watch}").status_code == 200
    assert second.post(f"/api/runs/{run_id}/step?watch={watch}",
                       json={"steps": 1}).status_code == 403
    # it continues bit-identically with an uninterrupted run of the same config and events
    records = second.post(f"/api/runs/{run_id}/step", json={"steps": 4},
                          headers=bearer(owner)).json()["records"]
    expected = oracle(before["config"], weights, 4)
    assert history_digest(expected.history.columns()) == second.get(
        f"/api/runs/{run_id}/export", headers=bearer(owner)).json()["history_sha256"]
    assert [r["loss"] for r in records] == expected.history.columns()["loss"][-4:].tolist()


def created_time(client: TestClient, run_id: str) -> float:
    return client.app.state.runs.find(run_id).created  # type: ignore[attr-defined, no-any-return]


def test_other_clients_still_get_404_after_a_restart(
    make_client: Callable[..., TestClient]
) -> None:
    first = make_client()
    created = first.post("/api/runs", json=FAST).json()
    run_id = created["id"]
    second = restarted(make_client, first)
    stranger = TestClient(second.app)
    stranger.post("/api/runs", json=FAST)  # a token of its own (cookie)
    forged = created["owner_token"].split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAAAA"
    for headers in ({}, bearer(forged)):
        for method, suffix, body in [("GET", "", None), ("PATCH", "", {"batch_size": 5}),
                                     ("POST", "/step", {"steps": 1}), ("DELETE", "", None),
                                     ("GET", "/export", None)]:
            r = stranger.request(method, f"/api/runs/{run_id}{suffix}", json=body,
                                 headers=headers)
            assert r.status_code == 404, (method, suffix, r.text)
        assert run_id not in [r["id"] for r in stranger.get("/api/runs", headers=headers).json()
                              ] if headers else True
        with stranger.websocket_connect(f"/api/runs/{run_id}/stream", headers=headers) as ws:
            assert ws.receive_json()["of"] == "connect"
    assert run_id in second.app.state.runs.stored  # type: ignore[attr-defined]  # not replayed
    # the owner streams it (replayed on connect)
    with second.websocket_connect(f"/api/runs/{run_id}/stream",
                                  headers=bearer(created["owner_token"])) as ws:
        state = ws.receive_json()
        assert state["type"] == "state" and state["id"] == run_id and state["step"] == 0


def test_delete_and_reset_are_kept_over_a_restart(
    make_client: Callable[..., TestClient]
) -> None:
    first = make_client()
    keep = first.post("/api/runs", json=FAST).json()
    gone = first.post("/api/runs", json=FAST).json()["id"]
    owner = keep["owner_token"]
    first.post(f"/api/runs/{keep['id']}/step", json={"steps": 3})
    first.patch(f"/api/runs/{keep['id']}", json={"batch_size": 4})
    first.post(f"/api/runs/{keep['id']}/reset", json={"seed": 11})
    first.post(f"/api/runs/{keep['id']}/step", json={"steps": 2})
    expected = first.get(f"/api/runs/{keep['id']}/export").json()
    assert expected["config"]["seed"] == 11 and expected["events"] == []
    assert first.delete(f"/api/runs/{gone}").status_code == 204
    second = restarted(make_client, first)
    assert [r["id"] for r in second.get("/api/runs", headers=bearer(owner)).json()] == [
        keep["id"]]
    assert second.get(f"/api/runs/{keep['id']}/export", headers=bearer(owner)).json() == expected
    # deleting a stored run that was never opened removes it without replaying it
    third = restarted(make_client, second)
    assert third.delete(f"/api/runs/{keep['id']}", headers=bearer(owner)).status_code == 204
    fourth = restarted(make_client, third)
    assert fourth.get("/api/runs", headers=bearer(owner)).json() == []


def test_stored_runs_count_towards_the_quotas(make_client: Callable[..., TestClient]) -> None:
    first = make_client(max_runs_per_client=2, max_runs=3)
    a = first.post("/api/runs", json=FAST).json()
    owner = a["owner_token"]
    b = first.post("/api/runs", json=FAST).json()
    other = TestClient(first.app)
    c = other.post("/api/runs", json=FAST).json()
    second = restarted(make_client, first, max_runs_per_client=2, max_runs=3)
    # the server holds 3 (stored) runs: a client without runs is refused...
    newcomer = TestClient(second.app)
    r = newcomer.post("/api/runs", json=FAST)
    assert r.status_code == 503 and "Retry-After" in r.headers
    # ...and a client at its quota evicts its own longest-idle run, a stored one
    third_run = second.post("/api/runs", json=FAST, headers=bearer(owner)).json()
    assert third_run["owner_token"] == owner
    mine = [r["id"] for r in second.get("/api/runs", headers=bearer(owner)).json()]
    assert sorted(mine) == sorted([b["id"], third_run["id"]])
    assert second.get(f"/api/runs/{c['id']}",
                      headers=bearer(c["owner_token"])).status_code == 200
    assert second.app.state.runs.count() == 3  # type: ignore[attr-defined]
    third = restarted(make_client, second)
    assert sorted(r.id for r in third.app.state.runs.runs()) == sorted(  # type: ignore[attr-defined]
        [b["id"], third_run["id"], c["id"]])


def test_idle_stored_runs_expire(make_client: Callable[..., TestClient]) -> None:
    first = make_client()
    run_id = first.post("/api/runs", json=FAST).json()["id"]
    second = restarted(make_client, first)
    manager = second.app.state.runs  # type: ignore[attr-defined]
    manager.stored[run_id].last_access -= second.app.state.settings.run_ttl_seconds + 1  # type: ignore[attr-defined]
    second.portal.call(manager.expire)  # type: ignore[union-attr]
    assert manager.count() == 0
    assert manager.store.index() == []  # the stored copy is gone too


def test_damaged_stored_runs_are_skipped(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    first = make_client()
    good = first.post("/api/runs", json=FAST).json()
    bad = first.post("/api/runs", json=FAST).json()["id"]
    broken = first.post("/api/runs", json=FAST).json()["id"]
    first.post(f"/api/runs/{good['id']}/step", json={"steps": 2})
    data_dir = first.app.state.settings.data_dir  # type: ignore[attr-defined]
    first.__exit__(None, None, None)
    conn = sqlite3.connect(data_dir / STORE_FILE)
    with conn:
        conn.execute("UPDATE runs SET config = 'garbage' WHERE id = ?", (bad,))
        # valid JSON, but not a config the engine accepts: found on first access
        conn.execute("UPDATE runs SET config = ? WHERE id = ?",
                     (json.dumps({"optimizer": {"name": "no-such-optimizer"}}), broken))
    conn.close()
    with caplog.at_level(logging.WARNING, logger="gradplay"):
        second = make_client(data_dir=data_dir)
        assert second.get("/healthz").status_code == 200
        owner = bearer(good["owner_token"])
        assert {r["id"] for r in second.get("/api/runs", headers=owner).json()} == {
            good["id"], broken}
        assert second.get(f"/api/runs/{broken}", headers=owner).status_code == 404
    assert bad in caplog.text and broken in caplog.text
    assert second.get(f"/api/runs/{good['id']}", headers=owner).json()["step"] == 2
    assert [r["id"] for r in second.get("/api/runs", headers=owner).json()] == [good["id"]]
    assert broken not in {e.id for e in second.app.state.runs.store.index()}  # type: ignore[attr-defined]


def test_search_owner_keeps_control_after_a_restart(
    make_client: Callable[..., TestClient]
) -> None:
    """The signing key is kept in the data directory: the owner token that created a search
    still cancels and deletes it after a restart; another client's does not."""
    first = make_client()
    search = first.post("/api/searches", json={
        "space": [{"path": "optimizer.lr", "type": "float", "low": 0.001, "high": 0.1}],
        "trials": 2, "steps": 10}).json()
    owner = first.cookies[COOKIE_NAME]
    second = restarted(make_client, first)
    stranger = TestClient(second.app)
    stranger.post("/api/runs", json=FAST)
    assert stranger.post(f"/api/searches/{search['id']}/cancel").status_code == 404
    r = second.post(f"/api/searches/{search['id']}/cancel", headers=bearer(owner))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert second.delete(f"/api/searches/{search['id']}", headers=bearer(owner)).status_code == 204


def test_a_run_changed_after_it_diverged_is_kept(make_client: Callable[..., TestClient]) -> None:
    """A diverged run whose lr was lowered (before the reset the page asks for) replays: the
    change sits at the step where it diverged. It was refused as "diverged before this
    event", so its export did not import and the stored run would have been dropped."""
    first = make_client()
    created = first.post("/api/runs", json=DIVERGING).json()
    run_id, owner = created["id"], bearer(created["owner_token"])
    first.post(f"/api/runs/{run_id}/step", json={"steps": 200})
    assert first.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.01}}).status_code == 200
    exported = first.get(f"/api/runs/{run_id}/export").json()
    assert exported["events"][0]["step"] == exported["step"] < 200
    imported = first.post("/api/runs/import", json=exported)
    assert imported.status_code == 201, imported.text
    assert imported.json()["status"] == "diverged" and imported.json()["verified"]
    second = restarted(make_client, first)
    detail = second.get(f"/api/runs/{run_id}", headers=owner).json()
    assert detail["status"] == "diverged" and detail["step"] == exported["step"]
    assert second.get(f"/api/runs/{run_id}/export", headers=owner).json() == exported
    # an event beyond the divergence cannot have happened: still refused
    exported["events"][0]["step"] += 1
    exported["step"] += 1
    r = second.post("/api/runs/import", json=exported)
    assert r.status_code == 422 and "diverged before this event" in r.text
