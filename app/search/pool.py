"""The server's own trial workers: ``GRADPLAY_SEARCH_WORKERS`` child processes running
``python -m app.search.worker --all`` against the server's storage.

Trials are CPU-bound NumPy loops; in processes they use every core and never touch the server's
event loop or GIL. The pool starts lazily (the first search created, or a server restarted with
unfinished searches), restarts a child that died, and stops with the server: SIGTERM first (a
child fails and requeues its current trial between two chunks), SIGKILL after
:data:`STOP_SECONDS` (the heartbeat then requeues the trial).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

logger = logging.getLogger("gradplay.search")
STOP_SECONDS = 3.0


class WorkerPool:
    """``size`` worker processes for ``storage_url``; thread-safe start/stop."""

    def __init__(self, size: int, storage_url: str) -> None:
        self.size = size
        self.storage_url = storage_url
        self._procs: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._procs if p.poll() is None]

    def ensure_started(self) -> None:
        """Start the missing workers (none when ``size`` is 0)."""
        with self._lock:
            self._procs = [p for p in self._procs if p.poll() is None]
            while len(self._procs) < self.size:
                env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
                self._procs.append(subprocess.Popen(
                    [sys.executable, "-m", "app.search.worker", "--all",
                     "--storage", self.storage_url],
                    env=env, stdin=subprocess.DEVNULL,
                ))
                logger.info("started search worker pid %s", self._procs[-1].pid)

    def stop(self) -> None:
        with self._lock:
            procs, self._procs = self._procs, []
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
