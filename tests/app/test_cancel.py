"""Long work can be stopped (issue 16, defect 5): a POST .../step checks a cancel flag between
short slices, so DELETE of the run and a client that disconnects stop it. Real uvicorn: the
requests overlap in time. The run below takes a good fraction of a second per step, so its
10,000 steps would take hours: finishing early can only come from the cancellation."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

SLOW_RUN = {"dataset": {"name": "spiral", "n": 20000}, "model": {"hidden": [256] * 8},
            "batch_size": 2000}
GUARD = httpx.Timeout(120.0)  # a hung test fails instead of hanging; not a speed assertion


def _wait_until_training(api: httpx.Client, run_id: str) -> None:
    """Until the run has done a step (GET /api/runs reads without the run's lock)."""
    for _ in range(10_000):
        listed = {r["id"]: r for r in api.get("/api/runs").json()}
        if listed[run_id]["step"] >= 1:
            return
    raise AssertionError("the step request never started training")


def test_delete_stops_a_long_step_request(live_server: str) -> None:
    api = httpx.Client(base_url=live_server, timeout=GUARD)  # keeps the owner cookie
    created = api.post("/api/runs", json=SLOW_RUN).json()
    run_id, owner = created["id"], {"Authorization": f"Bearer {created['owner_token']}"}
    result: dict[str, Any] = {}

    def train() -> None:
        result["response"] = httpx.post(f"{live_server}/api/runs/{run_id}/step",
                                        json={"steps": 10000}, timeout=GUARD, headers=owner)

    worker = threading.Thread(target=train)
    worker.start()
    _wait_until_training(api, run_id)
    assert api.delete(f"/api/runs/{run_id}").status_code == 204
    worker.join()
    response = result["response"]
    assert response.status_code == 200
    assert 1 <= response.json()["step"] < 10000  # stopped early, steps done are reported


def test_client_disconnect_stops_a_long_step_request(live_server: str) -> None:
    api = httpx.Client(base_url=live_server, timeout=GUARD)  # keeps the owner cookie
    created = api.post("/api/runs", json=SLOW_RUN).json()
    run_id, owner = created["id"], {"Authorization": f"Bearer {created['owner_token']}"}
    with pytest.raises(httpx.ReadTimeout):
        # the client gives up after a second and closes its connection
        httpx.post(f"{live_server}/api/runs/{run_id}/step", json={"steps": 10000},
                   timeout=httpx.Timeout(120.0, read=1.0), headers=owner)
    # GET waits for the run's lock, so it answers once the training has stopped
    detail = api.get(f"/api/runs/{run_id}").json()
    assert detail["step"] < 10000
    api.delete(f"/api/runs/{run_id}")


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
    assert item["loc"] == ["body", "step"]
    assert "would take about" in item["msg"] and "limit is 300 s" in item["msg"]
    # the same network for a few steps, and the default network for 200,000, are fine
    assert step_seconds(88, 10, 40, 1) * 200_000 < 300
