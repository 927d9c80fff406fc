"""Search benchmark: prints figures, asserts nothing.

1. Storage overhead: one worker in this process runs N trials of the default network (200
   steps, a report every 20) on each storage, vs the same N runs trained by the engine alone
   (``Run(config).step(200)``), in interleaved rounds; the overhead is the median over the
   rounds of worker time / engine time - 1.
   For the SQL storages also the transactions (commits) and SQL statements per trial, which
   unlike the times do not depend on the machine's load, and the CPU time of this process
   (engine and worker, the heartbeat thread included; not a PostgreSQL server's), which
   depends less on it than the wall time.
2. Throughput: 100 trials x 200 steps with 1 and 2 ``gradplay worker`` processes on each
   storage (the journal file, the embedded default; SQLite; PostgreSQL when Debian's
   ``postgresql`` is installed: a throwaway cluster in a temporary directory, as the tests
   start), trials/s and the speed-up.
3. Latency: ``gradplay serve`` (its own pool of 2 workers), ``POST /api/searches``, then the
   time until the search's WebSocket reports the first trial starting and finishing.

Usage: ``OPENBLAS_NUM_THREADS=1 python bench/search.py [--quick]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import contextlib
import glob
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import optuna  # noqa: E402
from optuna.storages import JournalStorage  # noqa: E402
from optuna.storages.journal import JournalFileBackend  # noqa: E402
from sqlalchemy import event  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from app.search import store, worker  # noqa: E402
from app.search.spec import check_search  # noqa: E402
from core.trainer import Limits, Run  # noqa: E402

QUICK = "--quick" in sys.argv
TRIALS = 20 if QUICK else 100
REQUEST: dict[str, Any] = {
    "space": [{"path": "optimizer.lr", "type": "float", "low": 1e-3, "high": 1.0, "log": True}],
    "sampler": {"name": "random", "seed": 0},
    "trials": TRIALS,
    "steps": 200,
    "report_every": 20,
    "objective": {"metric": "val_loss"},
    "pruner": {"name": "none"},
}


POSTGRES_URL: str | None = None
"""Set by :func:`postgres` while its throwaway server runs."""


def storages(tmp: Path) -> dict[str, str]:
    out = {
        "journal": store.default_storage_url(tmp / "journal"),  # the embedded default
        "sqlite": f"sqlite:///{tmp / 'sqlite' / store.SQLITE_FILE}",
    }
    if POSTGRES_URL:
        out["postgres"] = POSTGRES_URL
    return out


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    """A throwaway PostgreSQL server on loopback (as the ``postgres`` user when root, fsync
    off as in the tests); its URL, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        yield None
        return
    bindir = Path(found[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="gradplay-bench-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(data, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = data / "db"
    try:
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(db), "-A", "trust",
                        "-U", "postgres", "--no-sync"], check=True, capture_output=True)
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(db), "-w", "-l",
                        str(data / "log"), "-o", f"-p {port} -k {data} "
                        "-c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)
        subprocess.run([*as_postgres, str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", "postgres", "-c", "CREATE DATABASE gradplay"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/gradplay"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(db), "-m", "fast",
                        "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def count_sql(url: str) -> dict[str, int]:
    """Counts of commits and SQL statements on ``url``'s engine from now on."""
    counts = {"commits": 0, "statements": 0}
    engine = getattr(store.open_storage(url), "engine", None)
    if engine is not None:
        event.listen(engine, "commit", lambda conn: counts.__setitem__(
            "commits", counts["commits"] + 1))
        event.listen(engine, "before_cursor_execute", lambda *a: counts.__setitem__(
            "statements", counts["statements"] + 1))
    return counts


def new_search(url: str, trials: int) -> str:
    spec = check_search({**REQUEST, "trials": trials}, Limits())
    return store.create_search(store.open_storage(url), spec)


def bench_overhead(tmp: Path) -> None:
    """Interleaved rounds (the engine alone, then each storage, ROUND trials each) so that a
    drift in this shared machine's speed hits all of them: medians of the per-round ratios."""
    rounds, per_round = (3, 10) if QUICK else (10, 10)
    n = rounds * per_round
    spec = check_search({**REQUEST, "trials": n}, Limits())
    pool = dict(storages(tmp / "overhead"))
    targets: dict[str, Any] = {name: store.open_storage(url) for name, url in pool.items()}
    # for comparison: Optuna's stock journal file backend (an fsync per append, a symlink lock,
    # no heartbeats)
    targets["stock journal"] = JournalStorage(
        JournalFileBackend(str(tmp / "overhead" / "stock.journal")))
    # the same worker with no storage cost: Optuna's in-memory storage (what is left over the
    # engine is Optuna's own work per trial and the worker's evaluations, not the storage)
    targets["in-memory"] = optuna.storages.InMemoryStorage()
    searches = {name: store.create_search(storage, spec) for name, storage in targets.items()}
    counts = {name: count_sql(url) for name, url in pool.items()}
    wall: dict[str, list[float]] = {name: [] for name in ("engine", *targets)}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    stop = threading.Event()
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per_round):
            Run(spec["base"]).step(200, collect=False)
        wall["engine"].append(time.perf_counter() - t0)
        cpu["engine"].append(time.process_time() - c0)
        for name, storage in targets.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(per_round):
                assert worker.work_once(storage, [searches[name]], Limits(), stop)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    engine = sum(wall["engine"]) / n
    print(f"[1] storage overhead: {n} trials x 200 steps in one process, in {rounds} interleaved "
          f"rounds of {per_round} (engine alone {1000 * engine:.1f} ms/trial, CPU "
          f"{1000 * sum(cpu['engine']) / n:.1f} ms/trial). Medians over the rounds of: storage "
          "= worker time on the storage / on the in-memory storage - 1 (what the storage "
          "costs); all = worker time / engine time - 1 (everything a trial costs beyond its "
          "training: the storage, Optuna's ask/tell, the evaluations)")

    def median_ratio(a: list[float], b: list[float]) -> float:
        return statistics.median(x / y for x, y in zip(a, b, strict=True)) - 1

    for name in targets:
        c = counts.get(name, {"commits": 0})
        sql = (f", {c['commits'] / n:.1f} transactions and {c['statements'] / n:.0f} SQL "
               "statements/trial" if c["commits"] else "")
        note = {"journal": " (the default; target: storage <= 10 %)",
                "stock journal": " (Optuna's JournalFileBackend)"}.get(name, "")
        storage_part = ("" if name == "in-memory" else
                        f"storage {100 * median_ratio(wall[name], wall['in-memory']):+4.0f} %, ")
        print(f"    {name:13s} {1000 * sum(wall[name]) / n:6.1f} ms/trial: {storage_part}all "
              f"{100 * median_ratio(wall[name], wall['engine']):+4.0f} % (CPU "
              f"{100 * median_ratio(cpu[name], cpu['engine']):+.0f} %){sql}{note}")


def run_workers(url: str, search_id: str, n: int, data_dir: Path) -> tuple[float, float]:
    """Seconds from starting ``n`` worker processes until all exited, and the wall-clock time
    (``time.time()``) they were started at."""
    env = {**os.environ, "GRADPLAY_DATA_DIR": str(data_dir), "OPENBLAS_NUM_THREADS": "1"}
    wall0 = time.time()
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--search", search_id,
                               "--storage", url], env=env, cwd=ROOT,
                              stderr=subprocess.DEVNULL)
             for _ in range(n)]
    for p in procs:
        p.wait()
    return time.perf_counter() - t0, wall0


def trial_span(url: str, search_id: str) -> tuple[float, float]:
    """Seconds from the first trial's start to the last trial's end, from the storage (the
    workers' start-up, a Python interpreter and its imports each, left out), and the first
    trial's start (wall clock)."""
    study = store.load(store.open_storage(url), search_id)
    assert study is not None
    trials = [t for t in study.get_trials(deepcopy=False) if t.datetime_complete is not None]
    first = min(t.datetime_start for t in trials if t.datetime_start is not None)
    last = max(t.datetime_complete for t in trials if t.datetime_complete is not None)
    return (last - first).total_seconds(), first.timestamp()


def bench_throughput(tmp: Path) -> None:
    print(f"[2] {TRIALS} trials x 200 steps, gradplay worker processes: trials/s from the "
          "workers' start until they all exited (the one done first polls every "
          f"{worker.IDLE_POLL_SECONDS} s until the others finish); from the workers' start to "
          "the last trial's end (their start-up counted: an interpreter and its imports each); "
          "and from the first trial's start to the last trial's end (trials only)")
    for name, url in storages(tmp / "throughput").items():
        rates: dict[int, float] = {}
        to_end: dict[int, float] = {}
        steady: dict[int, float] = {}
        for n in (1, 2):
            search_id = new_search(url, TRIALS)
            seconds, started = run_workers(url, search_id, n, tmp)
            span, first = trial_span(url, search_id)
            rates[n] = TRIALS / seconds
            to_end[n] = TRIALS / (first - started + span)
            steady[n] = TRIALS / span
            print(f"    {name:8s} {n} worker(s): {seconds:6.2f} s, {rates[n]:5.2f} trials/s; to "
                  f"the last trial's end {to_end[n]:5.2f} trials/s; trials only "
                  f"{steady[n]:5.2f} trials/s; first trial {first - started:.2f} s after the "
                  "start")
        print(f"    {name:8s} 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x; to the last "
              f"trial's end {to_end[2] / to_end[1]:.2f}x; trials only "
              f"{steady[2] / steady[1]:.2f}x (target >= 1.7x)")


def bench_latency(tmp: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GRADPLAY_DATA_DIR": str(tmp / "latency"), "OPENBLAS_NUM_THREADS": "1",
           "GRADPLAY_SEARCH_WORKERS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        print("[3] POST /api/searches -> first trial event on its WebSocket (server pool of 2)")
        for label in ("cold (workers start)", "warm"):
            t0 = time.perf_counter()
            r = httpx.post(f"{base}/api/searches", json={**REQUEST, "trials": 4}, timeout=60)
            search_id = r.json()["id"]
            started = finished = None
            with connect(f"ws://127.0.0.1:{port}/api/searches/{search_id}/stream") as ws:
                while finished is None:
                    message = json.loads(ws.recv(timeout=60))
                    if message["type"] == "trial":
                        now = time.perf_counter() - t0
                        if message["trial"]["state"] == "RUNNING" and started is None:
                            started = now
                        if message["trial"]["state"] == "COMPLETE":
                            finished = now
                            started = started if started is not None else now
                    if message["type"] == "end":
                        break
            print(f"    {label:22s} first trial started {1000 * (started or 0):6.0f} ms, "
                  f"first finished {1000 * (finished or 0):6.0f} ms")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    global POSTGRES_URL
    print(f"cores: {os.cpu_count()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
          f"; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp, postgres() as POSTGRES_URL:
        if POSTGRES_URL is None:
            print("(PostgreSQL is not installed: `make postgresql`; its figures are left out)")
        bench_overhead(Path(tmp))
        bench_throughput(Path(tmp))
        bench_latency(Path(tmp))


if __name__ == "__main__":
    main()
