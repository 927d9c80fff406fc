"""Streaming benchmark: prints figures, asserts nothing.

Starts its own uvicorn server (a subprocess on a free loopback port, so the benchmark's client
threads do not share the server's GIL) and measures:

1. one client streaming the default run at unlimited speed: steps/s and frames/s over ~5 s;
2. latency from a ``set`` lr message to the first frame carrying the new lr (p50/p95, 100x);
3. 1, 8 and 32 runs streaming at once (one client each), at 60 steps/s and unlimited:
   frames/s per client (min/median) and total steps/s;
4. ``POST /api/runs/{id}/step`` with 1,000 steps vs ``core.trainer.Run.step(1000)`` directly,
   from a loopback client (plain JSON) and, if the machine has one, via a non-loopback address
   (gzip, as a remote client gets it). The server trains with ``Run.step(n, collect=False)``
   (no record dicts) and encodes the history rows with orjson (``app.jsonenc.records_json``),
   so the figure is also printed against that engine call: the cost of the API alone
   (encoding, HTTP).

Usage: ``OPENBLAS_NUM_THREADS=1 python bench/stream.py [--quick]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from core.trainer import Run  # noqa: E402

QUICK = "--quick" in sys.argv


@contextlib.contextmanager
def server(host: str = "127.0.0.1") -> Any:
    """``gradplay serve`` in a subprocess on a free port of ``host``; yields the base URL."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    # A non-loopback bind needs its address as an allowed host (gradplay serve refuses else);
    # one script (one owner token) plays 32 runs at once here: above the default quota.
    # A data dir of its own: nothing of the user's is resumed (runs, searches) or left behind.
    data_dir = tempfile.mkdtemp(prefix="gradplay-bench-")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "GRADPLAY_ALLOWED_HOSTS": host,
           "GRADPLAY_MAX_RUNS_PER_CLIENT": "64", "GRADPLAY_DATA_DIR": data_dir}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", host, "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    base = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


def ws_url(base: str, run_id: str) -> str:
    return base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream"


def create_run(http: httpx.Client, config: dict[str, Any]) -> str:
    """POST /api/runs; the first run's ``owner_token`` becomes ``http``'s bearer token, so
    every later request (and run) of this script is the same client's."""
    created = http.post("/api/runs", json=config).json()
    http.headers["Authorization"] = f"Bearer {created['owner_token']}"
    return str(created["id"])


class Client:
    """A WebSocket client reading in a background thread, counting frames and records."""

    def __init__(self, base: str, run_id: str, http: httpx.Client) -> None:
        self.conn = connect(ws_url(base, run_id), max_size=None, proxy=None, legacy=True,
                            additional_headers={"Authorization": http.headers["Authorization"]})
        self.frames = 0
        self.records = 0
        self.lr_seen: dict[float, float] = {}  # lr -> first arrival time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                text = self.conn.recv(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            msg = json.loads(text)
            if msg["type"] == "frame" and msg["records"]:
                self.frames += 1
                self.records += len(msg["records"])
                now = time.perf_counter()
                for rec in msg["records"]:
                    self.lr_seen.setdefault(rec["lr"], now)

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send(json.dumps(message))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.conn.close()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def bench_single(base: str, http: httpx.Client, seconds: float) -> None:
    run_id = create_run(http, {})
    c = Client(base, run_id, http)
    c.send({"type": "speed", "steps_per_second": "unlimited"})
    c.send({"type": "play"})
    time.sleep(0.5)
    f0, r0, t0 = c.frames, c.records, time.perf_counter()
    time.sleep(seconds)
    f1, r1, t1 = c.frames, c.records, time.perf_counter()
    c.send({"type": "pause"})
    c.close()
    dt = t1 - t0
    print(f"[1] single client, default run, unlimited: {(r1 - r0) / dt:,.0f} steps/s, "
          f"{(f1 - f0) / dt:.1f} frames/s over {dt:.1f} s")


def bench_set_latency(base: str, http: httpx.Client, n: int) -> None:
    run_id = create_run(http, {})
    c = Client(base, run_id, http)
    c.send({"type": "play"})  # default speed 60 steps/s
    time.sleep(0.3)
    latencies = []
    for k in range(n):
        lr = round(0.01 + 0.001 * (k + 1), 6)
        t0 = time.perf_counter()
        c.send({"type": "set", "patch": {"optimizer": {"lr": lr}}})
        deadline = t0 + 5
        while lr not in c.lr_seen and time.perf_counter() < deadline:
            time.sleep(0.0005)
        if lr in c.lr_seen:
            latencies.append(c.lr_seen[lr] - t0)
    c.send({"type": "pause"})
    c.close()
    ms = [x * 1000 for x in latencies]
    print(f"[2] set lr -> first frame with new lr ({len(ms)}/{n} seen, 60 steps/s): "
          f"p50 {pct(ms, 0.5):.1f} ms, p95 {pct(ms, 0.95):.1f} ms, max {max(ms):.1f} ms "
          "(target p95 <= 50 ms)")


def bench_many(base: str, http: httpx.Client, n_runs: int, speed: Any, seconds: float) -> None:
    ids = [create_run(http, {"seed": k}) for k in range(n_runs)]
    clients = [Client(base, rid, http) for rid in ids]
    for c in clients:
        c.send({"type": "speed", "steps_per_second": speed})
        c.send({"type": "play"})
    time.sleep(0.5)
    start = [(c.frames, c.records) for c in clients]
    t0 = time.perf_counter()
    lat = []
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        h0 = time.perf_counter()
        http.get("/healthz")
        lat.append(time.perf_counter() - h0)
        time.sleep(0.05)
    dt = time.perf_counter() - t0
    fps = [(c.frames - f) / dt for c, (f, _) in zip(clients, start, strict=True)]
    steps = sum(c.records - r for c, (_, r) in zip(clients, start, strict=True)) / dt
    for c in clients:
        c.send({"type": "pause"})
        c.close()
    for rid in ids:
        http.delete(f"/api/runs/{rid}")
    label = "unlimited" if speed is None else f"{speed:g}/s"
    print(f"[3] {n_runs:2d} runs @ {label:>9}: frames/s per client min {min(fps):5.1f} "
          f"median {statistics.median(fps):5.1f}; total {steps:9,.0f} steps/s; "
          f"/healthz p95 {pct(lat, 0.95) * 1000:6.1f} ms")


def bench_step_overhead(http: httpx.Client, repeats: int, label: str) -> None:
    """API vs engine, interleaved (rotating which goes first) so that drifts in this shared
    machine's speed hit all three; the figures are medians of the per-round ratios and best
    vs best. The client accepts gzip (as httpx does by default; the server compresses for
    non-loopback clients) and its decompression is counted."""

    def api_once() -> float:
        run_id = create_run(http, {})
        t0 = time.perf_counter()
        r = http.post(f"/api/runs/{run_id}/step", json={"steps": 1000})
        body = r.content  # read and decompressed
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200 and len(json.loads(body)["records"]) == 1000
        http.delete(f"/api/runs/{run_id}")
        return elapsed

    def engine_once(collect: bool) -> float:
        run = Run({})
        t0 = time.perf_counter()
        run.step(1000, collect=collect)
        return time.perf_counter() - t0

    api_once()  # warm-up
    time.sleep(1.0)
    times: dict[str, list[float]] = {"api": [], "records": [], "rows": []}
    calls = {"api": api_once, "records": lambda: engine_once(True),
             "rows": lambda: engine_once(False)}
    order = list(calls)
    for i in range(repeats):
        for name in order[i % 3:] + order[: i % 3]:
            times[name].append(calls[name]())
    api = times["api"]
    for name, text, target in (("records", "Run.step(1000)", ""),
                               ("rows", "Run.step(1000, collect=False)", "; target <= 5%")):
        base = times[name]
        ratio = statistics.median(x / y for x, y in zip(api, base, strict=True))
        best = min(api) / min(base)
        print(f"[4] {label}: 1,000 steps: API {statistics.median(api) * 1000:.0f} ms vs "
              f"{text} {statistics.median(base) * 1000:.0f} ms (medians of {repeats}, "
              f"interleaved): overhead {100 * (ratio - 1):+.1f}% median of rounds, "
              f"{100 * (best - 1):+.1f}% best vs best ({min(api) * 1000:.0f} / "
              f"{min(base) * 1000:.0f} ms){target}")


def main() -> None:
    with server() as base, \
            httpx.Client(base_url=base, timeout=120) as http:
        print(f"server {base}  (OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
              f"{os.cpu_count()} CPUs)")
        bench_single(base, http, 2.0 if QUICK else 5.0)
        bench_set_latency(base, http, 30 if QUICK else 100)
        for speed in (60, None):
            for n in (1, 8, 32):
                bench_many(base, http, n, speed, 1.5 if QUICK else 3.0)
        bench_step_overhead(http, 7 if QUICK else 41, "loopback client")
    host = non_loopback_address()
    if host is None:
        print("[4] non-loopback client: skipped (no non-loopback IPv4 address)")
        return
    with server(host) as base, httpx.Client(base_url=base, timeout=120) as http:
        bench_step_overhead(http, 7 if QUICK else 41, f"client via {host} (gzip)")


def non_loopback_address() -> str | None:
    """This machine's outbound IPv4 address (no packet is sent), if it is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
        except OSError:
            return None
        host = str(sock.getsockname()[0])
    return None if host.startswith("127.") else host


if __name__ == "__main__":
    main()
