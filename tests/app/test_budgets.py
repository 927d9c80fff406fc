"""Cost-based budgets (issue 16, defect 4): runs are refused by their estimated memory
(``GRADPLAY_MAX_RUN_MB``), the server keeps its runs within ``GRADPLAY_MAX_MEMORY_MB`` by
evicting the same client's idle runs first, and one request's training is capped by its
estimated seconds (``GRADPLAY_MAX_REQUEST_SECONDS``) for steps, imports and the depth lab."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.budgets import MB, run_bytes
from core import cost
from core.trainer import resolve_config

BIG = {"dataset": {"n": 20000}, "model": {"hidden": [512] * 8}}
MID = {"dataset": {"n": 5000}, "model": {"hidden": [128] * 4}}


def _mb(config: dict[str, Any]) -> float:
    return run_bytes(resolve_config(config)) / MB


def _item(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    return item  # type: ignore[no-any-return]


def test_the_maximum_network_is_refused_by_default_naming_estimate_and_limit(client: Any) -> None:
    """Defect 4: a 64 x 512 network on 20,000 samples was accepted (381 MB at creation,
    ~2.9 GB once stepped). Now: 422 before anything is built."""
    config = {
        "dataset": {"n": 20000},
        "model": {"hidden": [512] * 64},
        "optimizer": {"name": "adam"},
    }
    item = _item(client.post("/api/runs", json=config))
    assert item["loc"] == ["body"]
    assert item["ctx"]["limit_mb"] == 1024
    assert item["ctx"]["estimate_mb"] == round(_mb(config), 1) > 2900
    assert "GRADPLAY_MAX_RUN_MB" in item["msg"] and "1,024 MB" in item["msg"]
    assert client.cookies.get("gradplay_owner") is None  # no run, no owner token


def test_run_size_limit_on_create_patch_and_import(make_client: Callable[..., Any]) -> None:
    limit = int(_mb(MID)) + 5  # MID fits, BIG does not
    client = make_client(max_run_mb=limit)
    item = _item(client.post("/api/runs", json=BIG))
    assert item["loc"] == ["body"] and item["ctx"]["limit_mb"] == limit
    assert item["ctx"]["estimate_mb"] == round(_mb(BIG), 1)
    assert f"{limit:,} MB per run" in item["msg"]

    created = client.post("/api/runs", json=MID)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    # a larger batch grows the activations past the limit: refused, nothing changes
    item = _item(client.patch(f"/api/runs/{run_id}", json={"batch_size": 4000}))
    assert item["loc"] == ["body", "batch_size"]
    assert item["ctx"]["estimate_mb"] > limit
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["config"]["batch_size"] == 10 and detail["event_count"] == 0
    assert client.patch(f"/api/runs/{run_id}", json={"batch_size": 20}).status_code == 200

    item = _item(client.post("/api/runs/import", json={"config": BIG, "step": 0}))
    assert item["loc"] == ["body", "config"] and item["ctx"]["limit_mb"] == limit


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_memory_budget_evicts_the_same_clients_idle_runs_lru_first(
    make_client: Callable[..., Any],
) -> None:
    client = make_client(max_memory_mb=int(3.5 * _mb(MID)))  # room for three
    ids = [client.post("/api/runs", json=MID).json()["id"] for _ in range(3)]
    client.get(f"/api/runs/{ids[0]}")  # ids[0] used recently: ids[1] is now the LRU
    fourth = client.post("/api/runs", json=MID)
    assert fourth.status_code == 201, fourth.text
    listed = {r["id"] for r in client.get("/api/runs").json()}
    assert listed == {ids[0], ids[2], fourth.json()["id"]}


def test_memory_budget_evicts_idle_runs_only(make_client: Callable[..., Any]) -> None:
    client = make_client(max_memory_mb=int(2.5 * _mb(MID)))  # room for two
    first, second = (client.post("/api/runs", json=MID).json() for _ in range(2))
    client.get(f"/api/runs/{second['id']}")  # first is the LRU, but it is watched:
    with client.websocket_connect(
        f"/api/runs/{first['id']}/stream", headers=_bearer(first["owner_token"])
    ) as ws:
        assert ws.receive_json()["type"] == "state"  # watching from here on
        third = client.post("/api/runs", json=MID)
        assert third.status_code == 201, third.text
        listed = {r["id"] for r in client.get("/api/runs").json()}
        assert listed == {first["id"], third.json()["id"]}  # the idle one went
        # both left are busy or the newest; with the watched one still open, one more run
        # evicts the idle third, never the watched first
        fourth = client.post("/api/runs", json=MID)
        assert {r["id"] for r in client.get("/api/runs").json()} == {
            first["id"],
            fourth.json()["id"],
        }


def test_memory_budget_never_evicts_another_clients_runs_503_with_retry_after(
    make_client: Callable[..., Any],
) -> None:
    limit = int(2.5 * _mb(MID))
    client = make_client(max_memory_mb=limit)
    alice = [client.post("/api/runs", json=MID).json() for _ in range(2)]
    client.cookies.clear()  # from here on: another client (no owner token)
    r = client.post("/api/runs", json=MID)
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) >= 1
    detail = r.json()["detail"]
    assert "GRADPLAY_MAX_MEMORY_MB" in detail and f"of {limit:,} MB" in detail
    assert f"needs an estimated {_mb(MID):,.0f} MB" in detail
    r = client.post("/api/runs/import", json={"config": MID, "step": 0})
    assert r.status_code == 503 and "Retry-After" in r.headers
    token = alice[0]["owner_token"]
    assert {s["id"] for s in client.get("/api/runs", headers=_bearer(token)).json()} == {
        a["id"] for a in alice
    }
    # alice herself makes room by giving up her own least recently used run
    r = client.post("/api/runs", json=MID, headers=_bearer(token))
    assert r.status_code == 201, r.text
    assert {s["id"] for s in client.get("/api/runs", headers=_bearer(token)).json()} == {
        alice[1]["id"],
        r.json()["id"],
    }


def test_step_request_capped_by_estimated_seconds(make_client: Callable[..., Any]) -> None:
    client = make_client(max_request_seconds=2)
    run = client.post("/api/runs", json=MID).json()
    per_step = cost.shape_step_seconds(cost.shape_of(run["config"]))
    allowed = cost.max_steps(per_step, 2)
    assert 1 <= allowed < 10_000
    item = _item(client.post(f"/api/runs/{run['id']}/step", json={"steps": allowed + 1}))
    assert item["loc"] == ["body", "steps"]
    assert item["ctx"] == {
        "estimate_seconds": round(per_step * (allowed + 1), 3),
        "limit_seconds": 2,
        "seconds_per_step": per_step,
        "max_steps": allowed,
    }
    assert (
        f"at most {allowed:,} steps" in item["msg"]
        and "GRADPLAY_MAX_REQUEST_SECONDS" in item["msg"]
    )
    assert client.get(f"/api/runs/{run['id']}").json()["step"] == 0  # nothing trained
    ok = client.post(f"/api/runs/{run['id']}/step", json={"steps": min(allowed, 50)})
    assert ok.status_code == 200 and ok.json()["step"] == min(allowed, 50)


def test_import_replay_capped_by_estimated_seconds(make_client: Callable[..., Any]) -> None:
    client = make_client(max_request_seconds=2)
    per_step = cost.shape_step_seconds(cost.shape_of(resolve_config(MID)))
    allowed = cost.max_steps(per_step, 2)
    item = _item(client.post("/api/runs/import", json={"config": MID, "step": allowed + 1}))
    assert item["loc"] == ["body", "step"] and "limit is 2 s" in item["msg"]


def test_depth_lab_capped_by_estimated_seconds(make_client: Callable[..., Any]) -> None:
    body = {"depth": 50, "width": 512, "n": 4096}
    seconds = cost.depth_lab_seconds(50, 512, 4096)
    client = make_client(max_request_seconds=max(1, int(seconds / 4)))
    item = _item(client.post("/api/labs/depth", json=body))
    limit = max(1, int(seconds / 4))
    assert item["loc"] == ["body", "n"]
    assert item["ctx"]["limit_seconds"] == limit
    assert item["ctx"]["estimate_seconds"] == round(seconds, 3)
    allowed = item["ctx"]["max_n"]
    assert (
        cost.depth_lab_seconds(50, 512, allowed)
        <= limit + 1e-9
        < cost.depth_lab_seconds(50, 512, allowed + 2)
    )
    small = client.post("/api/labs/depth", json={"depth": 10, "width": 64, "n": 256})
    assert small.status_code == 200, small.text


def test_defaults_leave_the_largest_existing_flows_working(client: Any) -> None:
    """The biggest configs the pages and tests use fit the default budgets."""
    for config in (
        {
            "dataset": {"name": "spiral", "n": 20000},
            "model": {"hidden": [256] * 8},
            "batch_size": 2000,
        },  # tests/app/test_cancel.py
        {"dataset": {"n": 20000}, "model": {"hidden": [512]}},
    ):
        assert _mb(config) < 1024
        r = client.post("/api/runs", json=config)
        assert r.status_code == 201, r.text
        client.delete(f"/api/runs/{r.json()['id']}")
    # the depth lab's own work bound (depth x width^2 x n <= 4e9) is the larger allowed
    r = client.post("/api/labs/depth", json={"depth": 50, "width": 512, "n": 305})
    assert r.status_code == 200, r.text


def test_websocket_step_capped_by_estimated_seconds(make_client: Callable[..., Any]) -> None:
    client = make_client(max_request_seconds=2)
    run = client.post("/api/runs", json=MID).json()
    allowed = cost.max_steps(cost.shape_step_seconds(cost.shape_of(run["config"])), 2)
    with client.websocket_connect(
        f"/api/runs/{run['id']}/stream", headers=_bearer(run["owner_token"])
    ) as ws:
        assert ws.receive_json()["type"] == "state"
        ws.send_json({"type": "step", "steps": allowed + 1})
        while (reply := ws.receive_json())["type"] not in ("error", "ack"):
            pass
        assert reply["type"] == "error" and reply["of"] == "step"
        (item,) = reply["detail"]
        assert item["loc"] == ["steps"] and item["ctx"]["max_steps"] == allowed
        assert item["ctx"]["limit_seconds"] == 2
    assert client.get(f"/api/runs/{run['id']}").json()["step"] == 0
