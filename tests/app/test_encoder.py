"""Long step responses: the helper-process encoder, its fallbacks, and loopback compression."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app import encoder as encoder_module
from app.compression import is_loopback_client, wants_gzip
from app.encoder import EncoderProcess, RecordEncoder, _read_message, _serve, _write_message
from app.jsonenc import dumps
from app.sessions import STEP_SLICE, TAIL_SLICE, RunManager, RunSession, slice_sizes
from app.settings import Settings
from core.errors import RunStateError
from core.trainer import Run

DIVERGING = {"dataset": {"name": "unscaled"}, "model": {"hidden": []},
             "optimizer": {"name": "sgd", "lr": 10.0}}
REGRESSION_BN = {"dataset": {"name": "sine"}, "model": {"hidden": [6, 5], "batch_norm": True},
                 "optimizer": {"name": "adam", "lr": 0.01}}


def expected_body(config: dict[str, Any], n: int) -> dict[str, Any]:
    """What a step response must hold: the engine's own records for the same config."""
    run = Run(config)
    records = run.step(n)
    return json.loads(dumps({"records": records, "step": run.step_count,
                             "divergence": run.divergence}))


def ready_encoder(processes: int = 1, timeout: float = 30.0) -> RecordEncoder:
    """A RecordEncoder whose helpers have all started."""
    enc = RecordEncoder(processes)
    enc.start()
    deadline = time.monotonic() + timeout
    while not all(h.ready() for h in enc._idle):
        assert time.monotonic() < deadline, "encoder helper did not start"
        time.sleep(0.02)
    return enc


@pytest.fixture
def encoder() -> Iterator[RecordEncoder]:
    enc = ready_encoder()
    yield enc
    enc.close()


def step_body(config: dict[str, Any], n: int, enc: RecordEncoder,
              gzip_level: int | None = None) -> tuple[dict[str, Any], bool]:
    async def go() -> tuple[bytes, bool]:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run(config), executor=pool)
            return await session.step_body(n, enc, gzip_level)

    body, compressed = asyncio.run(go())
    if compressed:
        body = gzip.decompress(body)
    return json.loads(body), compressed


# --- slicing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 50, STEP_SLICE, STEP_SLICE + 1, STEP_SLICE + TAIL_SLICE,
                               STEP_SLICE + TAIL_SLICE + 1, 1000, 1005, 10_000])
def test_slices_cover_every_step_and_end_small(n: int) -> None:
    sizes = slice_sizes(n)
    assert sum(sizes) == n and all(0 < s <= STEP_SLICE for s in sizes)
    if n > STEP_SLICE:
        assert sizes[-1] == TAIL_SLICE
        assert sizes[-2] == 4 * TAIL_SLICE and sizes[-3] == 16 * TAIL_SLICE
        assert len(sizes) <= n // STEP_SLICE + 5


# --- the helper's protocol (run in a thread here, so it is visible to coverage) -------------
def serve_in_thread() -> tuple[Any, Any, threading.Thread]:
    """The helper's main loop in a thread; returns (request writer, result reader, thread)."""
    requests_in, requests_out = multiprocessing.Pipe(duplex=False)
    results_in, results_out = multiprocessing.Pipe(duplex=False)
    thread = threading.Thread(target=_serve, args=(requests_in, results_out), daemon=True)
    thread.start()
    assert _read_message(results_in.fileno(), None) == b"ready"
    return requests_out, results_in, thread


def send(conn: Any, *message: Any) -> None:
    _write_message(conn.fileno(), pickle.dumps(message), None)


@pytest.mark.parametrize("level", [None, 1, 9])
def test_helper_protocol_builds_the_body(level: int | None) -> None:
    conn, results, thread = serve_in_thread()
    records = Run({}).step(25)
    a, b = records[:10], records[10:]
    # an unfinished body is discarded by the next "begin"
    send(conn, "begin", b"IGNORED", None)
    send(conn, "records", a)
    send(conn, "begin", b'{"records":[', level)
    send(conn, "records", a)
    send(conn, "records", b)
    send(conn, "end", b'],"step":25}')
    body = _read_message(results.fileno(), None)
    if level is not None:
        body = gzip.decompress(body)
    assert body == b'{"records":[' + dumps(records)[1:-1] + b'],"step":25}'
    conn.close()  # EOF ends the loop
    thread.join(timeout=5)
    assert not thread.is_alive()


# --- the real helper process -------------------------------------------------------------------
def test_helper_process_encodes_like_dumps(encoder: RecordEncoder) -> None:
    helper = encoder.acquire()
    assert helper is not None and helper.process.is_alive()
    assert encoder.acquire() is None  # one helper, in use: the next request encodes itself
    records = Run({"dataset": {"name": "spiral"}}).step(30)
    helper.begin(b"[", None)
    helper.add(records[:7])
    helper.add(records[7:])
    assert helper.finish(b"]") == dumps(records)
    encoder.release(helper)
    assert encoder.acquire() is helper
    encoder.release(helper)
    process = helper.process
    encoder.close()
    process.join(timeout=5)
    assert not process.is_alive()


def _exit_at_startup(requests: Any, results: Any) -> None:
    os._exit(3)


def test_helpers_that_fail_at_startup_are_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # fork (not spawn) so that the child runs the patched main function
    monkeypatch.setattr(encoder_module, "_serve", _exit_at_startup)
    enc = RecordEncoder(1)
    enc._context = multiprocessing.get_context("fork")
    deadline = time.monotonic() + 30
    while enc.processes:
        assert enc.acquire() is None  # never a broken helper; the caller encodes itself
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert enc._startup_failures == encoder_module.MAX_STARTUP_FAILURES
    assert enc.acquire() is None and enc._count == 0 and enc._idle == []


def test_no_helpers_when_disabled() -> None:
    enc = RecordEncoder(0)
    assert enc.acquire() is None
    assert enc._idle == []


@pytest.mark.parametrize("config", [{}, REGRESSION_BN, DIVERGING])
@pytest.mark.parametrize("n", [STEP_SLICE + 1, 345])
def test_step_body_matches_the_engine_with_and_without_helper(
    encoder: RecordEncoder, config: dict[str, Any], n: int
) -> None:
    want = expected_body(config, n)
    for enc in (encoder, RecordEncoder(0)):
        for level in (None, 1):
            got, compressed = step_body(config, n, enc, level)
            assert compressed == (enc is encoder and level is not None)
            assert got.pop("status") in ("paused", "diverged")
            assert got == want
    if config is DIVERGING:
        assert want["divergence"] is not None and len(want["records"]) < n


def test_step_body_survives_a_helper_that_dies(
    encoder: RecordEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = EncoderProcess.add
    calls = []

    def dying_add(self: EncoderProcess, records: list[dict[str, Any]]) -> None:
        calls.append(len(records))
        if len(calls) == 2:  # the helper dies after its first slice
            self.process.kill()
            self.process.join(timeout=5)
        real_add(self, records)

    monkeypatch.setattr(EncoderProcess, "add", dying_add)
    got, compressed = step_body({}, 500, encoder, 1)
    assert not compressed  # encoded in-process instead
    got.pop("status")
    assert got == expected_body({}, 500)
    # the dead helper was dropped; the next acquire starts a fresh one
    assert encoder._count == 0 and encoder._idle == []
    monkeypatch.setattr(EncoderProcess, "add", real_add)
    fresh = ready_encoder_after(encoder)
    assert fresh.process.is_alive()
    encoder.release(fresh)


def ready_encoder_after(enc: RecordEncoder, timeout: float = 30.0) -> EncoderProcess:
    deadline = time.monotonic() + timeout
    while (helper := enc.acquire()) is None:
        assert time.monotonic() < deadline, "replacement helper did not start"
        time.sleep(0.02)
    return helper


@pytest.mark.parametrize("pipe_bytes", [4096, encoder_module.PIPE_BYTES])
def test_step_body_never_waits_for_a_stopped_helper(
    monkeypatch: pytest.MonkeyPatch, pipe_bytes: int
) -> None:
    """A frozen helper (SIGSTOP): with a small pipe a write times out, with the big one the
    final answer does; either way the request encodes in-process."""
    monkeypatch.setattr(encoder_module, "FINISH_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(encoder_module, "SEND_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(encoder_module, "PIPE_BYTES", pipe_bytes)
    enc = ready_encoder()
    helper = enc._idle[0]
    os.kill(helper.process.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        got, compressed = step_body({}, 300, enc, 1)
        assert time.monotonic() - t0 < 20
        assert not compressed
        got.pop("status")
        assert got == expected_body({}, 300)
        assert enc._count == 0  # dropped (and killed)
        helper.process.join(timeout=5)
        assert not helper.process.is_alive()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(helper.process.pid, signal.SIGCONT)
        enc.close()


def test_diverged_run_raises_and_keeps_the_helper(encoder: RecordEncoder) -> None:
    async def go() -> None:
        with ThreadPoolExecutor(1) as pool:
            session = RunSession("r", Run(DIVERGING), executor=pool)
            await session.step_body(500, encoder, None)  # diverges within these steps
            assert session.run.status == "diverged"
            with pytest.raises(RunStateError, match="reset"):
                await session.step_body(500, encoder, None)

    asyncio.run(go())
    assert len(encoder._idle) == 1 and encoder._idle[0].process.is_alive()
    got, _ = step_body({}, 150, encoder, None)  # and it still works
    assert len(got["records"]) == 150


def test_two_long_requests_at_once(encoder: RecordEncoder) -> None:
    """One helper: one request uses it, the other encodes in-process; both are right."""

    async def go() -> list[tuple[bytes, bool]]:
        with ThreadPoolExecutor(2) as pool:
            a = RunSession("a", Run({}), executor=pool)
            b = RunSession("b", Run(REGRESSION_BN), executor=pool)
            return list(await asyncio.gather(a.step_body(400, encoder, 1),
                                             b.step_body(300, encoder, 1)))

    (body_a, gz_a), (body_b, gz_b) = asyncio.run(go())
    assert gz_a != gz_b or gz_a  # at least one went through the helper
    for (body, gz), config, n in (((body_a, gz_a), {}, 400), ((body_b, gz_b), REGRESSION_BN, 300)):
        got = json.loads(gzip.decompress(body) if gz else body)
        got.pop("status")
        assert got == expected_body(config, n)


# --- HTTP ------------------------------------------------------------------------------------
def test_long_step_over_real_http_is_plain_on_loopback(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=60) as http:
        run_id = http.post("/api/runs", json={"seed": 5}).json()["id"]
        r = http.post(f"/api/runs/{run_id}/step", json={"steps": 1000},
                      headers={"accept-encoding": "gzip"})
        assert r.status_code == 200
        assert "content-encoding" not in r.headers  # loopback: no compression
        assert r.headers["content-type"] == "application/json"
        body = json.loads(r.content)
        assert body.pop("status") == "paused"
        assert body == expected_body({"seed": 5}, 1000)
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
    for _ in range(2):  # the first may be encoded before the helper is ready
        r = client.post(f"/api/runs/{run_id}/step", json={"steps": 300},
                        headers={"accept-encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert [v.lower() for v in r.headers.get_list("vary")] == ["accept-encoding"]
    body = r.json()
    assert [rec["step"] for rec in body["records"]] == list(range(300, 600))
    plain = client.post(f"/api/runs/{run_id}/step", json={"steps": 300},
                        headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.json()["records"]) == 300


def test_long_step_on_diverged_run_is_409(client: TestClient) -> None:
    run_id = client.post("/api/runs", json=DIVERGING).json()["id"]
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 500}).json()["status"] \
        == "diverged"
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 500})
    assert r.status_code == 409 and "reset" in r.json()["detail"]


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


def test_close_stops_helpers_in_use_when_they_come_back(encoder: RecordEncoder) -> None:
    helper = encoder.acquire()
    assert helper is not None
    encoder.close()
    encoder.release(helper)  # healthy, but from before close(): stopped, not reused
    helper.process.join(timeout=5)
    assert not helper.process.is_alive()
    assert encoder._idle == [] and encoder._count == 0


def test_helpers_that_cannot_be_started_do_not_fail_requests(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_processes(*args: Any) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(encoder_module, "EncoderProcess", no_processes)
    client = make_client()
    run_id = client.post("/api/runs", json={}).json()["id"]
    for k in range(encoder_module.MAX_STARTUP_FAILURES + 1):
        r = client.post(f"/api/runs/{run_id}/step", json={"steps": 150})
        assert r.status_code == 200, r.text
        assert [rec["step"] for rec in r.json()["records"]] == list(range(150 * k, 150 * (k + 1)))
    assert client.app.state.encoder.processes == 0  # gave up after repeated failures


def test_watchers_get_records_in_step_order(encoder: RecordEncoder) -> None:
    """A run plays flat out while long requests train it and the event loop is slow (as with
    many watchers): every watcher still sees each step once, in order."""

    async def go() -> list[int]:
        manager = RunManager(Settings())
        session = await manager.create({})
        watcher = session.add_watcher()
        seen: list[int] = []
        watcher.push_records = lambda records: seen.extend(r["step"] for r in records)
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
            await session.step_body(150, encoder, None)
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


def test_a_long_request_does_not_stall_other_playing_runs(encoder: RecordEncoder) -> None:
    async def go() -> int:
        manager = RunManager(Settings())
        busy = await manager.create({})
        other = await manager.create({"seed": 1})
        busy.add_watcher()
        busy.set_speed(None)
        busy.play()  # its play chunks wait while the request holds its lock
        watcher = other.add_watcher()
        pushed: list[int] = []
        watcher.push_records = lambda records: pushed.append(len(records))
        other.set_speed(None)
        other.play()
        await asyncio.sleep(0.3)
        before = len(pushed)
        await busy.step_body(5000, encoder, None)  # holds busy's lock for ~0.5-1 s
        during = len(pushed) - before
        await manager.close_all()
        return during

    assert asyncio.run(go()) >= 5  # chunks of the other run kept coming (~30/s when alone)
