"""The run store: runs kept in the data directory so they survive a restart.

A run is its initial config, its seed (in the config) and its event log (live changes and
weights edits since its last reset); its state at step ``t`` is the replay of those to ``t``
(:meth:`core.trainer.Run.replay`, bit-identical, the same path as ``POST /api/runs/import``).
So the store keeps exactly that, plus who may use the run, in one SQLite file,
``<data_dir>/runs.sqlite3`` (standard library ``sqlite3``, WAL journal, mode 0600)::

    runs(id, owner_sha256, watch_token, created, step, epoch, status, config)
    events(run_id, seq, event)        -- one row per event-log entry, in log order

Owners are kept as the SHA-256 of their token (:func:`app.owners.token_hash`), never the
token. What is written when (:class:`SavedRun` works out the difference from the last save):

* create / import / reset: the whole run (one transaction: row and events replaced);
* a live change or weights edit: the new events and the step (one transaction);
* the end of a step request, of a play session, the periodic flush and shutdown: the step,
  epoch and status (a small ``UPDATE``; never per training step);
* delete, eviction, expiry: the row and its events.

Every write is one transaction, so a crash leaves either the old or the new state of a run.
The store holds at most what the server holds: ``max_runs`` runs (stored ones count), each
event log bounded by ``max_events``/``max_event_bytes``; idle runs expire as in memory.
A row that cannot be read (corrupt JSON, wrong types) is skipped with a logged warning; a
file that is not a SQLite database is moved aside (``runs.sqlite3.corrupt-<time>``) and a new
one started: a damaged store never stops the server.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("gradplay")

STORE_FILE = "runs.sqlite3"
STATUSES = frozenset({"ready", "paused", "diverged", "stopped"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    owner_sha256 TEXT NOT NULL,
    watch_token TEXT NOT NULL,
    created REAL NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"""


class StoredRunError(Exception):
    """A stored run cannot be read back (its row or events are damaged)."""


@dataclass
class StoredRun:
    """A run in the store that is not in memory yet (listed; replayed on first access).
    Has the attributes the run manager reads of a live session."""

    id: str
    owner_sha256: str
    watch_token: str
    created: float
    step: int
    epoch: int
    status: str
    last_access: float = 0.0  # time.monotonic(); idle time counts from the server's start
    owner: str = ""  # the token itself is not stored
    playing: bool = False
    watchers: tuple[()] = ()

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "step": self.step, "epoch": self.epoch,
                "created": self.created}


def _dumps(value: Any) -> str:
    # NaN/Infinity never occur in configs or weights (validated); plain json would still
    # round-trip them. Floats are written with repr: exact float64.
    return json.dumps(value, separators=(",", ":"))


class RunStore:
    """One SQLite file of runs; thread-safe (one connection, one lock: writes are small)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def in_dir(cls, data_dir: Path) -> RunStore:
        return cls(data_dir / STORE_FILE)

    # ------------------------------------------------------------------ connection
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # created private: the file holds configs, event logs and watch tokens
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=10.0)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a commit survives the process dying (not a power cut) and
                # costs no fsync, so a save is tens of microseconds
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------------ reading
    def index(self) -> list[StoredRun]:
        """Every readable run (without config and events); unreadable rows are skipped with a
        warning. A file that is not a database is moved aside with a warning. No file: []."""
        if not self.path.exists():
            return []
        try:
            with self._lock:
                rows = self._connect().execute(
                    "SELECT id, owner_sha256, watch_token, created, step, epoch, status, config "
                    "FROM runs ORDER BY created").fetchall()
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            return []
        now = time.monotonic()
        runs = []
        for row in rows:
            try:
                runs.append(self._entry(row, now))
            except StoredRunError as exc:
                logger.warning("skipping stored run %r in %s: %s", row[0], self.path, exc)
        return runs

    @staticmethod
    def _entry(row: Sequence[Any], now: float) -> StoredRun:
        run_id, owner, watch, created, step, epoch, status, config = row
        if not (isinstance(run_id, str) and isinstance(owner, str) and len(owner) == 64
                and isinstance(watch, str) and watch):
            raise StoredRunError("id, owner or watch token damaged")
        if not (isinstance(created, float | int) and math.isfinite(created)):
            raise StoredRunError(f"created must be a time, got {created!r}")
        for name, value in (("step", step), ("epoch", epoch)):
            if not isinstance(value, int) or value < 0:
                raise StoredRunError(f"{name} must be an integer >= 0, got {value!r}")
        if status not in STATUSES:
            raise StoredRunError(f"unknown status {status!r}")
        try:
            parsed = json.loads(config)
        except (TypeError, ValueError) as exc:
            raise StoredRunError(f"config is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise StoredRunError("config is not a JSON object")
        return StoredRun(run_id, owner, watch, float(created), step, epoch, status,
                         last_access=now)

    def load(self, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], int] | None:
        """(config, events, step) of a run; None if it is not stored; StoredRunError if it
        cannot be read."""
        try:
            with self._lock:
                conn = self._connect()
                row = conn.execute("SELECT config, step FROM runs WHERE id = ?",
                                   (run_id,)).fetchone()
                events = conn.execute("SELECT seq, event FROM events WHERE run_id = ? "
                                      "ORDER BY seq", (run_id,)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoredRunError(f"cannot read the store: {exc}") from None
        if row is None:
            return None
        try:
            config = json.loads(row[0])
            log = [json.loads(text) for _, text in events]
        except (TypeError, ValueError) as exc:
            raise StoredRunError(f"not JSON: {exc}") from None
        if [seq for seq, _ in events] != list(range(len(events))):
            raise StoredRunError("the event log has gaps")
        if not isinstance(config, dict) or not all(isinstance(e, dict) for e in log):
            raise StoredRunError("config and events must be JSON objects")
        if not isinstance(row[1], int) or row[1] < 0:
            raise StoredRunError(f"step must be an integer >= 0, got {row[1]!r}")
        return config, log, row[1]

    def _set_aside(self, exc: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        logger.warning("the run store %s cannot be read (%s): moved to %s, starting an empty "
                       "one", self.path, exc, aside)
        self.close()
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                try:
                    source.replace(Path(f"{aside}{suffix}"))
                except OSError:
                    logger.exception("cannot move %s aside", source)

    # ------------------------------------------------------------------ writing
    def put(self, run_id: str, owner_sha256: str, watch_token: str, created: float,
            config: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
            state: tuple[int, int, str], alive: Callable[[], bool] = lambda: True) -> None:
        """Write a whole run (replacing any stored version) in one transaction. ``state`` is
        (step, epoch, status). Nothing is written when ``alive()`` is false (checked under the
        store's lock: a run deleted meanwhile is not written back)."""
        with self._transaction() as conn:
            if not alive():
                return
            conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            conn.execute("INSERT OR REPLACE INTO runs (id, owner_sha256, watch_token, created, "
                         "step, epoch, status, config) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (run_id, owner_sha256, watch_token, created, *state, _dumps(config)))
            conn.executemany("INSERT INTO events (run_id, seq, event) VALUES (?, ?, ?)",
                             _event_rows(run_id, 0, events))

    def append_events(self, run_id: str, first_seq: int, events: Sequence[Mapping[str, Any]],
                      state: tuple[int, int, str], alive: Callable[[], bool] = lambda: True
                      ) -> bool:
        """Add ``events`` (numbered from ``first_seq``) and set the state, in one transaction.
        False (nothing written) if the run is not stored."""
        with self._transaction() as conn:
            if not alive() or conn.execute(
                    "UPDATE runs SET step = ?, epoch = ?, status = ? WHERE id = ?",
                    (*state, run_id)).rowcount != 1:
                return False
            conn.executemany("INSERT OR REPLACE INTO events (run_id, seq, event) "
                             "VALUES (?, ?, ?)", _event_rows(run_id, first_seq, events))
            return True

    def set_state(self, run_id: str, state: tuple[int, int, str],
                  alive: Callable[[], bool] = lambda: True) -> bool:
        """Update step, epoch and status; False if the run is not stored."""
        with self._transaction() as conn:
            return alive() and conn.execute(
                "UPDATE runs SET step = ?, epoch = ?, status = ? WHERE id = ?",
                (*state, run_id)).rowcount == 1

    def delete(self, run_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def _event_rows(run_id: str, first: int, events: Sequence[Mapping[str, Any]]
                ) -> Iterator[tuple[str, int, str]]:
    # encoded lazily, inside the transaction: an event that cannot be encoded rolls it back
    for k, event in enumerate(events):
        yield run_id, first + k, _dumps(event)


class _Transaction:
    """``with store._transaction() as conn``: the store's lock and ``BEGIN IMMEDIATE`` ...
    ``COMMIT`` (``ROLLBACK`` on any exception)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        try:
            conn = self.store._connect()
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._lock.release()
            raise
        self.conn = conn
        return conn

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        try:
            self.conn.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self.store._lock.release()


class SavedRun:
    """What of one live run is in the store: saves only the difference since the last save.

    A reset starts a new event log (a new list object) and may change the config: the whole
    run is written again. New events are appended; otherwise only the state is updated when
    it changed. Call from the thread that holds the run's lock. A failed write is logged and
    the next save writes the whole run again.
    """

    def __init__(self, store: RunStore, run_id: str, owner_sha256: str, watch_token: str,
                 created: float) -> None:
        self.store = store
        self.id = run_id
        self.owner_sha256 = owner_sha256
        self.watch_token = watch_token
        self.created = created
        self.gone = threading.Event()  # deleted: never written again
        self._log: list[Any] | None = None  # the event log object last saved
        self._count = 0  # its events in the store
        self._state: tuple[int, int, str] | None = None

    def mark_saved(self, events: list[Any], state: tuple[int, int, str]) -> None:
        """The store already holds this run as it is (restored from it)."""
        self._log, self._count, self._state = events, len(events), state

    def save(self, config: Mapping[str, Any], events: list[Any], state: tuple[int, int, str]
             ) -> None:
        alive = self._alive
        try:
            if self._log is not events or len(events) < self._count:
                self.store.put(self.id, self.owner_sha256, self.watch_token, self.created,
                               config, events, state, alive)
            elif len(events) > self._count:
                self.store.append_events(self.id, self._count, events[self._count:], state,
                                         alive)
            elif state != self._state:
                self.store.set_state(self.id, state, alive)
            else:
                return
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
            logger.warning("could not save run %s in %s: %s", self.id, self.store.path, exc)
            self._log = None  # write it whole next time
            return
        self._log, self._count, self._state = events, len(events), state

    def _alive(self) -> bool:
        return not self.gone.is_set()

    def forget(self) -> None:
        """Delete the run from the store (and never write it again)."""
        self.gone.set()
        try:
            self.store.delete(self.id)
        except (sqlite3.Error, OSError) as exc:
            logger.warning("could not delete run %s from %s: %s", self.id, self.store.path,
                           exc)
