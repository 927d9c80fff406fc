"""Search trials in real worker processes: two ``gradplay worker`` processes share one study
(one killed mid-trial) on the embedded SQLite storage and on a real PostgreSQL server, and the
server's own pool resumes a search after a restart.

PostgreSQL: a throwaway cluster in a temporary directory, run as the ``postgres`` user (Debian's
``postgresql`` package; ``make test`` installs it when missing), removed afterwards."""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import run_live_server

GRID = {
    "base": {"dataset": {"name": "spiral", "n": 300}, "model": {"hidden": [16, 16]}},
    "space": [
        {"path": "optimizer.lr", "type": "float", "low": 0.01, "high": 0.1, "log": True},
        {"path": "optimizer.name", "type": "categorical", "choices": ["sgd", "adam"]},
    ],
    "sampler": {"name": "grid", "points": 3},
    # long enough (~1-2 s a trial here) that a poll every 0.2 s catches a trial in its first
    # half on every storage: on the journal a 1,500-step trial took ~0.2 s, too short a window
    "steps": 12000,
    "report_every": 500,
}


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on loopback with an empty database; its SQLAlchemy URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: `make test` installs Debian's postgresql")
    bindir = Path(found[-1]).parent
    # not under pytest's tmp dir: its parents are private to root, and the server runs as the
    # postgres user
    data = Path(tempfile.mkdtemp(prefix="gradplay-pg-"))
    shutil.chown(data, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    port = _free_port()
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust",
                    "-U", "postgres", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w",
                    "-l", str(data / "log"), "-o",
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        subprocess.run([*as_postgres, str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", "postgres", "-c", "CREATE DATABASE gradplay"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/gradplay"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m",
                        "fast", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(params=["journal", "sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """"": the embedded default (a journal file in the data directory); SQLite there (the
    default of earlier versions, still used by a data directory that holds one); or a
    PostgreSQL URL."""
    if request.param == "journal":
        return ""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'searches.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def workers(tmp_path: Path,
            storage_url: str) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(search_id: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "GRADPLAY_DATA_DIR": str(tmp_path),
               "GRADPLAY_SEARCH_STORAGE": storage_url}
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--search",
                                 search_id], env=env, stdin=subprocess.DEVNULL)
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_two_workers_share_a_study_and_survive_a_killed_one(
        make_client: Callable[..., TestClient], tmp_path: Path, storage_url: str,
        workers: Callable[[str], subprocess.Popen[bytes]]) -> None:
    client = make_client(data_dir=tmp_path, search_workers=0, search_storage=storage_url)
    search_id = client.post("/api/searches", json=GRID).json()["id"]
    doomed, survivor = workers(search_id), workers(search_id)

    def detail() -> dict[str, Any]:
        return client.get(f"/api/searches/{search_id}").json()  # type: ignore[no-any-return]

    # kill the first worker in the middle of a trial (after it reported at least once)
    # ... in its first half (<= 6,000 of 12,000 steps), so it cannot finish before the kill lands
    # (a trial caught at a late report once completed first, and nothing was requeued)
    wait_for(lambda: any(t["state"] == "RUNNING" and t["worker"]
                         and t["worker"].endswith(f":{doomed.pid}") and t["intermediate_values"]
                         and t["intermediate_values"][-1][0] <= 6000
                         for t in detail()["trials"]), 60, "a running trial of the first worker")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert survivor.wait(timeout=180) == 0  # exits when nothing is left

    final = detail()
    assert final["state"] == "done"
    assert final["counts"] == {"WAITING": 0, "RUNNING": 0, "COMPLETE": 6, "PRUNED": 0,
                               "FAIL": 0}
    complete = [t for t in final["trials"] if t["state"] == "COMPLETE"]
    points = {(round(t["params"]["optimizer.lr"], 9), t["params"]["optimizer.name"])
              for t in complete}
    assert len(points) == 6  # every grid point once: none lost, none run twice
    lost = [t for t in final["trials"] if t["requeued"]]
    assert len(lost) == 1 and lost[0]["state"] == "FAIL"
    assert lost[0]["worker"].endswith(f":{doomed.pid}")
    retry = [t for t in final["trials"] if t["retry_of"] == lost[0]["number"]]
    assert len(retry) == 1 and retry[0]["state"] == "COMPLETE"
    assert retry[0]["params"] == lost[0]["params"]
    assert retry[0]["worker"].endswith(f":{survivor.pid}")
    assert {t["worker"].rsplit(":", 1)[1] for t in complete} <= {str(doomed.pid),
                                                                  str(survivor.pid)}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_server_pool_resumes_a_search_after_restart(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    small = {**GRID, "steps": 200, "report_every": 50}
    # a server without workers accepts the search; nothing runs it
    queued = make_client(data_dir=tmp_path, search_workers=0).post("/api/searches", json=small)
    search_id = queued.json()["id"]
    assert queued.json()["state"] == "queued"

    settings = dataclasses.replace(Settings(), data_dir=tmp_path, search_workers=2)
    app = create_app(settings)
    with run_live_server(app) as url:
        final = wait_for(
            lambda: (d := httpx.get(f"{url}/api/searches/{search_id}").json())["state"] == "done"
            and d, 120, "the restarted server's workers to finish the search")
        pool_pids = app.state.searches.pool.pids
        assert len(pool_pids) == 2
    assert final["counts"]["COMPLETE"] == 6
    assert {int(t["worker"].rsplit(":", 1)[1]) for t in final["trials"]} <= set(pool_pids)
    # the server's shutdown stopped its workers
    wait_for(lambda: not any(_pid_alive(p) for p in pool_pids), 10, "the workers to exit")
