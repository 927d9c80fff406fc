"""The server and its search workers open a fresh SQLite study storage at the same moment
(a first start, or ``bench/stream.py`` on a new data directory): none of them may fail.

Optuna creates its schema without a lock; before ``_create_rdb_storage`` retried, three of
four processes released together failed with "table studies already exists" or a unique
constraint on ``alembic_version`` (5 of 5 rounds here)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any


def _open(url: str, barrier: Any, results: Any) -> None:
    from app.search.store import open_storage

    barrier.wait()
    try:
        open_storage(url)
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts
        results.put(f"{type(exc).__name__}: {str(exc)[:200]}")


def test_processes_opening_a_fresh_storage_together_all_succeed(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    for round_ in range(1):
        url = f"sqlite:///{tmp_path}/round{round_}/searches.sqlite3"
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(url, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = [results.get(timeout=5) for _ in procs]
        assert outcomes == ["ok"] * 4, outcomes
