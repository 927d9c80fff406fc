"""Long work can be stopped (issue 16, defect 5): a POST .../step checks a cancel flag between
short slices, so DELETE of the run, a client that disconnects and the server's shutdown stop
it, and the run is left consistent: its step is the number of steps done, and replaying its
config and event log to that step gives the same history bit for bit. Real uvicorn: the
requests overlap in time. The run below takes a good fraction of a second per step, so the
largest step request its cost allows (GRADPLAY_MAX_REQUEST_SECONDS) takes minutes: finishing
early can only come from the cancellation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.sessions import RunSession
from core import cost
from core.history import history_digest
from core.trainer import Run, resolve_config
from tests.conftest import app_settings, run_live_server

SLOW_RUN = {
    "dataset": {"name": "spiral", "n": 20000},
    "model": {"hidden": [256] * 8},
    "batch_size": 2000,
}
STEPS = cost.max_steps(cost.shape_step_seconds(cost.shape_of(resolve_config(SLOW_RUN))), 300)
"""The most steps of SLOW_RUN one request may ask for by default (~325: minutes of work)."""
GUARD = httpx.Timeout(120.0)  # a hung test fails instead of hanging; not a speed assertion


@pytest.fixture
def server() -> Iterator[tuple[FastAPI, str]]:
    """A real uvicorn server of its own (the app, to look at the run after it is gone)."""
    app = create_app(app_settings())
    with run_live_server(app) as url:
        yield app, url


def _wait_until_training(api: httpx.Client, run_id: str) -> None:
    """Until the run has done a step (GET /api/runs reads without the run's lock)."""
    for _ in range(10_000):
        listed = {r["id"]: r for r in api.get("/api/runs").json()}
        if listed[run_id]["step"] >= 1:
            return
    raise AssertionError("the step request never started training")


def _start(app: FastAPI, url: str) -> tuple[httpx.Client, str, dict[str, str], RunSession]:
    api = httpx.Client(base_url=url, timeout=GUARD)  # keeps the owner cookie
    created = api.post("/api/runs", json=SLOW_RUN).json()
    run_id = created["id"]
    return (
        api,
        run_id,
        {"Authorization": f"Bearer {created['owner_token']}"},
        app.state.runs.sessions[run_id],
    )


def _assert_consistent(session: RunSession, reported_step: int | None = None) -> None:
    """The training thread has let go of the run; its step is the steps done (one history row
    each) and the replay of its config and events to that step is bit-identical."""
    assert session.lock.acquire(timeout=GUARD.read)  # the training thread has finished
    session.lock.release()
    run = session.run
    assert 1 <= run.step_count < STEPS  # stopped early
    assert run.history.size == run.step_count  # one row per completed step
    if reported_step is not None:
        assert reported_step == run.step_count
    replayed = Run.replay(run.initial_config, run.events, run.step_count)
    assert history_digest(replayed.history.columns()) == history_digest(run.history.columns())


def _post_steps(
    url: str,
    run_id: str,
    headers: dict[str, str],
    result: dict[str, Any],
    timeout: httpx.Timeout = GUARD,
) -> None:
    try:
        result["response"] = httpx.post(
            f"{url}/api/runs/{run_id}/step", json={"steps": STEPS}, timeout=timeout, headers=headers
        )
    except httpx.HTTPError as exc:
        result["error"] = exc


def test_delete_stops_a_long_step_request(server: tuple[FastAPI, str]) -> None:
    app, url = server
    api, run_id, owner, session = _start(app, url)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=_post_steps, args=(url, run_id, owner, result))
    worker.start()
    _wait_until_training(api, run_id)
    assert api.delete(f"/api/runs/{run_id}").status_code == 204
    worker.join()
    response = result["response"]
    assert response.status_code == 200
    assert 1 <= response.json()["step"] < STEPS  # stopped early, steps done are reported
    _assert_consistent(session, response.json()["step"])


def test_client_disconnect_stops_a_long_step_request(server: tuple[FastAPI, str]) -> None:
    app, url = server
    api, run_id, owner, session = _start(app, url)
    result: dict[str, Any] = {}
    # the client gives up after a second and closes its connection
    _post_steps(url, run_id, owner, result, httpx.Timeout(120.0, read=1.0))
    assert isinstance(result.get("error"), httpx.ReadTimeout)
    # GET waits for the run's lock, so it answers once the training has stopped
    detail = api.get(f"/api/runs/{run_id}").json()
    assert detail["step"] < STEPS
    _assert_consistent(session, detail["step"])


def test_shutdown_stops_a_long_step_request() -> None:
    """Stopping the server (lifespan exit; uvicorn first gives open requests
    ``timeout_graceful_shutdown`` seconds, then cancels them) stops the training thread too:
    before, the thread trained on alone after the server had gone."""
    app = create_app(app_settings())
    result: dict[str, Any] = {}
    with run_live_server(app) as url:
        api, run_id, owner, session = _start(app, url)
        worker = threading.Thread(target=_post_steps, args=(url, run_id, owner, result))
        worker.start()
        _wait_until_training(api, run_id)
    # the server has stopped (run_live_server joined its thread)
    worker.join()
    assert (
        "response" not in result
        or result["response"].status_code != 200
        or (result["response"].json()["step"] < STEPS)
    )
    _assert_consistent(session)


def test_import_of_an_expensive_replay_is_refused_naming_the_cost(client: Any) -> None:
    """Issue 16: an import claiming 200,000 steps of the largest network (~6 s per step) was
    accepted and would have trained for weeks. The estimate refuses it before any step."""
    from core.cost import step_seconds

    config = {"dataset": {"n": 20000}, "model": {"hidden": [512] * 64}}
    per_step = step_seconds(63 * 512 * 512 + 2 * 512 + 512, 10, 4000, 1)
    assert per_step * 200_000 > 300  # the default GRADPLAY_MAX_REQUEST_SECONDS
    r = client.post("/api/runs/import", json={"config": config, "step": 200_000})
    assert r.status_code == 422, r.text
    item = r.json()["detail"][0]
    # the network alone is over the memory budget (GRADPLAY_MAX_RUN_MB): refused first
    assert item["loc"] == ["body", "config"] and "GRADPLAY_MAX_RUN_MB" in item["msg"]
    # a network within it, for 200,000 steps: refused by its time
    config = {"dataset": {"n": 20000}, "model": {"hidden": [512] * 4}}
    r = client.post("/api/runs/import", json={"config": config, "step": 200_000})
    item = r.json()["detail"][0]
    assert item["loc"] == ["body", "step"]
    assert "would take about" in item["msg"] and "limit is 300 s" in item["msg"]
    # the default network for 200,000 steps is fine
    assert step_seconds(88, 10, 40, 1) * 200_000 < 300
