"""Long step responses (RunSession.step_body): the body, the paths to it, compression."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.compression import is_loopback_client, wants_gzip
from app.jsonenc import dumps, sanitize
from app.sessions import (
    MAX_PENDING_RECORDS,
    STEP_SLICE,
    RunManager,
    RunSession,
    Watcher,
    slice_sizes,
)
from app.settings import Settings
from core.errors import RunStateError
from core.trainer import Run

DIVERGING = {"dataset": {"name": "unscaled"}, "model": {"hidden": []},
             "optimizer": {"name": "sgd", "lr": 10.0}}
REGRESSION_BN = {"dataset": {"name": "sine"}, "model": {"hidden": [6, 5], "batch_norm": True},
                 "optimizer": {"name": "adam", "lr": 0.01}}


def expected_body(config: dict[str, Any], n: int, status: str = "paused") -> bytes:
    """What a step response must be, byte for byte: the engine's own records, dumped (by
    orjson, whose float text parses back to the same float64: checked where used)."""
    run = Run(config)
    records = run.step(n)
    return dumps({"records": records, "step": run.step_count,
                  "status": "diverged" if run.status == "diverged" else status,
                  "divergence": run.divergence,
                  "early_stopping": run.early_stopping_info})


def steps_of(text: bytes, count: int) -> list[int]:
    """The steps of records pushed to a watcher as JSON text (checking their count)."""
    records = json.loads(b"[" + text + b"]")
    assert len(records) == count
    return [r["step"] for r in records]


def step_body(config: dict[str, Any], n: int, gzip_level: int | None = None,
              watched: bool = False, capacity: int | None = None) -> bytes:
    async def go() -> bytes:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run(config), executor=pool)
            if watched:
                session.add_watcher()
            if capacity is not None:
                session.run.history.capacity = capacity
            return await session.step_body(n, gzip_level)

    return asyncio.run(go())


@pytest.mark.parametrize("n", [1, 50, STEP_SLICE, STEP_SLICE + 1, 1000, 10_000])
def test_slices_cover_every_step(n: int) -> None:
    sizes = slice_sizes(n)
    assert sum(sizes) == n and all(0 < s <= STEP_SLICE for s in sizes)


@pytest.mark.parametrize("config", [{}, REGRESSION_BN, DIVERGING])
@pytest.mark.parametrize("n", [STEP_SLICE + 1, 345])
def test_body_is_the_engines_records_on_every_path(config: dict[str, Any], n: int) -> None:
    """History rows (nobody watching), record dicts (watchers; history full): same bytes."""
    want = expected_body(config, n)
    run = Run(config)
    assert json.loads(want)["records"] == sanitize(run.step(n))  # the engine's values
    assert step_body(config, n) == want
    assert step_body(config, n, watched=True) == want
    assert step_body(config, n, capacity=n // 2) == want  # history cannot hold every row
    assert gzip.decompress(step_body(config, n, gzip_level=1)) == want
    if config is DIVERGING:
        assert len(json.loads(want)["records"]) < n


@pytest.mark.parametrize(("watched", "capacity", "dicts"),
                         [(False, None, False), (True, None, False), (False, 100, True),
                          (True, 100, True)])
def test_record_dicts_only_when_needed(watched: bool, capacity: int | None, dicts: bool) -> None:
    """Room in the history for every step: the engine builds no record dicts."""
    calls: list[bool] = []

    async def go() -> None:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run({}), executor=pool)
            if watched:
                session.add_watcher()
            if capacity is not None:
                session.run.history.capacity = capacity
            step = session.run.step

            def spy(n: int, collect: bool = True) -> list[dict[str, Any]]:
                calls.append(collect)
                return step(n, collect)

            session.run.step = spy  # type: ignore[method-assign]
            await session.step_body(250, None)

    asyncio.run(go())
    assert set(calls) == {dicts}


def test_diverged_run_raises() -> None:
    async def go() -> None:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run(DIVERGING), executor=pool)
            await session.step_body(500, None)  # diverges within these steps
            assert session.run.status == "diverged"
            with pytest.raises(RunStateError, match="reset"):
                await session.step_body(500, None)

    asyncio.run(go())


def test_two_long_requests_at_once() -> None:
    async def go() -> list[bytes]:
        with ThreadPoolExecutor(2) as pool:
            a = RunSession("a", Run({}), executor=pool)
            b = RunSession("b", Run(REGRESSION_BN), executor=pool)
            return list(await asyncio.gather(a.step_body(400, 1), b.step_body(300, None)))

    body_a, body_b = asyncio.run(go())
    assert gzip.decompress(body_a) == expected_body({}, 400)
    assert body_b == expected_body(REGRESSION_BN, 300)


# --- HTTP ------------------------------------------------------------------------------------
def test_long_step_over_real_http_is_plain_on_loopback(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=60) as http:
        run_id = http.post("/api/runs", json={"seed": 5}).json()["id"]
        r = http.post(f"/api/runs/{run_id}/step", json={"steps": 1000},
                      headers={"accept-encoding": "gzip"})
        assert r.status_code == 200
        assert "content-encoding" not in r.headers  # loopback: no compression
        assert r.headers["content-type"] == "application/json"
        assert r.content == expected_body({"seed": 5}, 1000)
        # the small path and the catalog are plain on loopback too
        small = http.post(f"/api/runs/{run_id}/step", json={"steps": 100},
                          headers={"accept-encoding": "gzip"})
        assert small.status_code == 200 and "content-encoding" not in small.headers
        catalog = http.get("/api/catalog", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in catalog.headers
        http.delete(f"/api/runs/{run_id}")


def test_long_step_is_gzipped_for_remote_clients(client: TestClient) -> None:
    # TestClient's client address is "testclient", not a loopback IP: treated as remote
    run_id = client.post("/api/runs", json={}).json()["id"]
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 300},
                    headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert [v.lower() for v in r.headers.get_list("vary")] == ["accept-encoding"]
    assert r.content == expected_body({}, 300)  # (httpx decompressed it)
    plain = client.post(f"/api/runs/{run_id}/step", json={"steps": 300},
                        headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert [rec["step"] for rec in plain.json()["records"]] == list(range(300, 600))


def test_long_step_on_diverged_run_is_409(client: TestClient) -> None:
    run_id = client.post("/api/runs", json=DIVERGING).json()["id"]
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 500}).json()["status"] \
        == "diverged"
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 500})
    assert r.status_code == 409 and "reset" in r.json()["detail"]


def test_metrics_after_a_long_step_are_the_last_record(client: TestClient) -> None:
    run_id = client.post("/api/runs", json={"seed": 2}).json()["id"]
    last = client.post(f"/api/runs/{run_id}/step", json={"steps": 700}).json()["records"][-1]
    assert client.get(f"/api/runs/{run_id}").json()["metrics"] == last


# --- loopback detection ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("client", "loopback"),
    [(("127.0.0.1", 5), True), (("127.8.9.1", 5), True), (("::1", 5), True),
     (("192.0.2.2", 5), False), (("10.0.0.1", 5), False), (("2001:db8::1", 5), False),
     (("::ffff:127.0.0.1", 5), True), (("::ffff:192.0.2.2", 5), False),
     (("testclient", 50000), False), (None, False)],
)
def test_loopback_detection(client: Any, loopback: bool) -> None:
    scope = {"type": "http", "client": client}
    assert is_loopback_client(scope) is loopback
    assert wants_gzip(scope, "gzip, deflate") is (not loopback)
    assert wants_gzip(scope, "identity") is False


# --- with the play loop ----------------------------------------------------------------------
def test_watchers_get_records_in_step_order() -> None:
    """A run plays flat out while long requests train it and the event loop is slow (as with
    many watchers): every watcher still sees each step once, in order."""

    async def go() -> list[int]:
        manager = RunManager(Settings())
        session = await manager.create({})
        watcher = session.add_watcher()
        seen: list[int] = []
        watcher.push_records = lambda text, n: seen.extend(steps_of(text, n))
        stop = False

        async def slow_loop() -> None:
            k = 0
            while not stop:
                k += 1
                time.sleep(0.005 + 0.005 * (k % 5))  # blocks the loop, like encoding frames
                await asyncio.sleep(0.001)

        blocker = asyncio.create_task(slow_loop())
        session.set_speed(None)
        session.play()
        for k in range(30):
            await session.step_body(150, None)
            await asyncio.sleep(0.01 * (k % 4))  # the play loop trains meanwhile
        session.pause()
        stop = True
        await blocker
        await asyncio.sleep(0.1)
        await manager.close_all()
        return seen

    seen = asyncio.run(go())
    assert len(seen) > 30 * 150 + 100  # both the requests and the play loop trained
    assert seen == list(range(seen[0], seen[0] + len(seen)))


def test_a_long_request_does_not_stall_other_playing_runs() -> None:
    async def go() -> int:
        manager = RunManager(Settings())
        busy = await manager.create({})
        other = await manager.create({"seed": 1})
        busy.add_watcher()
        busy.set_speed(None)
        busy.play()  # its play chunks wait while the request holds its lock
        watcher = other.add_watcher()
        pushed: list[int] = []
        watcher.push_records = lambda text, n: pushed.append(n)
        other.set_speed(None)
        other.play()
        await asyncio.sleep(0.3)
        before = len(pushed)
        await busy.step_body(5000, None)  # holds busy's lock for ~0.5-1 s
        during = len(pushed) - before
        await manager.close_all()
        return during

    assert asyncio.run(go()) >= 5  # chunks of the other run kept coming (~30/s when alone)


def test_a_watcher_that_joins_during_a_request_gets_its_records() -> None:
    async def go() -> tuple[list[int], bytes]:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run({}), executor=pool)
            seen: list[int] = []
            step = session.run.step

            def step_then_join(n: int, collect: bool = True) -> list[dict[str, Any]]:
                out = step(n, collect)
                if not session.watchers:  # one watcher joins, after the first slice
                    watcher = session.add_watcher()  # (on the worker thread: fine for a test)
                    watcher.push_records = lambda text, n: seen.extend(steps_of(text, n))
                return out

            session.run.step = step_then_join  # type: ignore[method-assign]
            body = await session.step_body(300, None)
            await asyncio.sleep(0.05)  # the posted records reach the watcher
            return seen, body

    seen, body = asyncio.run(go())
    assert seen == list(range(300))
    assert body == expected_body({}, 300)


# --- what watchers get -------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "capacity"), [(1, None), (2, None), (300, None), (300, 100)])
def test_advance_posts_the_engines_records(n: int, capacity: int | None) -> None:
    """WebSocket "step" and play chunks: from the rows, or as dicts once the history cannot
    hold every step; watchers get the same text either way."""

    async def go() -> tuple[list[bytes], int]:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run({"seed": 3}), executor=pool)
            if capacity is not None:
                session.run.history.capacity = capacity
            watcher = session.add_watcher()
            done = await session.advance(n)
            await asyncio.sleep(0.02)
            chunks, _ = watcher.take()
            return chunks, done

    chunks, done = asyncio.run(go())
    assert done == n
    records = Run({"seed": 3}).step(n)
    assert b"[" + b",".join(chunks) + b"]" == dumps(records)
    assert json.loads(b"[" + b",".join(chunks) + b"]") == sanitize(records)  # values, too


def test_frame_text() -> None:
    async def go() -> str:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run(DIVERGING), executor=pool)
            session.add_watcher()
            await session.advance(500)  # diverges
            return session.frame([b'{"step":1}', b'{"step":2},{"step":3}'])

    frame = json.loads(asyncio.run(go()))
    assert list(frame) == ["type", "step", "status", "records", "divergence", "early_stopping"]
    assert frame["type"] == "frame" and frame["status"] == "diverged"
    assert frame["records"] == [{"step": 1}, {"step": 2}, {"step": 3}]
    assert frame["divergence"]["step"] == frame["step"] - 1
    assert json.loads(RunSession("s", Run({})).frame([]))["records"] == []


def test_a_watcher_that_stops_reading_keeps_the_newest_chunks() -> None:
    watcher = Watcher()
    for _ in range(30):
        watcher.push_records(b"x", 1000)
    assert watcher.pending <= MAX_PENDING_RECORDS and watcher.dropped == 30_000 - watcher.pending
    watcher.push_records(b"big", 3 * MAX_PENDING_RECORDS)  # one chunk is always kept
    chunks, messages = watcher.take()
    assert chunks == [b"big"] and messages == [] and watcher.pending == 0
    assert not watcher.event.is_set()
