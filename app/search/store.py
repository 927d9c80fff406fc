"""Searches are Optuna studies in an Optuna storage: creating, reading, cancelling, deleting.

One search = one study named by the search id. The checked request (:func:`app.search.spec.
check_search`) is the study's user attribute ``gradplay``; the budget is laid out at creation as
``trials`` WAITING trials, which workers claim one at a time (:mod:`app.search.worker`), so any
number of workers on any number of machines run exactly the budget, never a trial twice.

Storage: an Optuna storage URL. The embedded default (:func:`default_storage_url`) is a journal
file in the data directory, opened with :class:`LocalJournalBackend`; ``postgresql://…`` (or any
SQLAlchemy URL Optuna accepts) scales out to many machines, and ``sqlite:///…`` is still read
(the default of earlier versions, kept by a data directory that holds one). Heartbeats are on for
every storage: a trial whose worker stops sending them for :data:`GRACE_SECONDS` is failed by the
next worker or reader that looks, and Optuna's
:class:`~optuna.storages.RetryHeartbeatStaleTrialCallback` puts it back in the queue with the same
parameters (the failed attempt stays visible, marked ``requeued``). The journal storage gets its
heartbeats from :class:`JournalSearchStorage`.

Why a journal by default: a 200-step trial of the default network trains in ~20 ms, and every
Optuna storage call is a transaction. On SQLite through SQLAlchemy that is ~20 transactions per
trial, +125 to +147 % of the trial's time; on the journal file, one appended line each (tens of
microseconds without an fsync), +5 to +9 %; Optuna's stock file backend, which fsyncs every
line, about +40 %. ``bench/search.py`` [1] prints these figures.

SQLite note: Optuna claims a waiting trial with ``SELECT … FOR UPDATE`` and an ``UPDATE``;
SQLite ignores ``FOR UPDATE``, so two processes could both claim one trial. Every SQLite
transaction that may write therefore starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented
recipe), which takes the write lock first and serialises the claims. Optuna's read-only storage
calls (:data:`READ_ONLY_CALLS`: a search page's or WebSocket's reads of every trial, a worker's
reads) start a plain deferred ``BEGIN`` instead: in WAL mode they read a snapshot without the
write lock, so they neither wait for the workers' writes nor hold them up.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import hmac
import json
import logging
import math
import os
import random
import secrets
import threading
import time
import warnings
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna
import orjson
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat  # not exported; fail_stale_trials needs it
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from app.search.spec import grid_values

optuna.logging.set_verbosity(optuna.logging.WARNING)
# heartbeats and fail_stale_trials are marked experimental (since Optuna 2.9); they are what
# Optuna documents for failed workers in distributed mode
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
logger = logging.getLogger("gradplay.search")

ATTR = "gradplay"
HEARTBEAT_SECONDS = 1
GRACE_SECONDS = 6
MAX_REQUEUES = 2
"""A trial whose worker died is queued again at most this many times (then it stays FAIL)."""


def token_hash(token: str) -> str:
    """What a search stores of its owner's token: a SHA-256, never the bearer secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def owned_by(spec: Mapping[str, Any], tokens: tuple[str, ...]) -> bool:
    """Whether one of the caller's owner ``tokens`` created the search (constant time)."""
    stored = str(spec.get("owner_sha256", ""))
    return any(hmac.compare_digest(stored, token_hash(t)) for t in tokens)


SQLITE_FILE = "searches.sqlite3"
"""The embedded storage of earlier versions: a data directory holding one keeps using it."""
JOURNAL_FILE = "searches.journal"
JOURNAL_PREFIX = "journal:///"
HEARTBEAT_ATTR = "gradplay:heartbeat"
"""System attribute of a RUNNING trial in a journal: the wall-clock time of its last heartbeat."""


def default_storage_url(data_dir: Path) -> str:
    """The embedded default: ``journal:///<data_dir>/searches.journal``, unless the data
    directory already holds the SQLite file of an earlier version and no journal: then that
    file, so its searches stay where they are."""
    sqlite, journal = data_dir / SQLITE_FILE, data_dir / JOURNAL_FILE
    if sqlite.exists() and not journal.exists():
        return f"sqlite:///{sqlite.resolve()}"
    return f"{JOURNAL_PREFIX}{journal.resolve()}"


_REPLAYED_NUMBERS = ("intermediate_value", "value", "values", "param_value_internal",
                     "intermediate_values", "params")
"""The fields of Optuna's journal operations whose numbers its replay uses as numbers."""


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _log_line(log: dict[str, Any]) -> bytes:
    """One journal line: orjson (several times faster than ``json.dumps`` on a trial's
    result), unless a number Optuna replays is NaN or ±inf: orjson writes those as ``null``,
    so that log is written by ``json.dumps`` (``NaN``, ``Infinity``) as Optuna's own backend
    does. In attributes (user and system attrs: what the API shows, where JSON has no NaN
    anyway) a non-finite number is stored as null. :meth:`LocalJournalBackend.read_logs` reads
    both (orjson, and ``json.loads`` for a line orjson rejects)."""
    if all(_finite(log.get(key)) for key in _REPLAYED_NUMBERS):
        # int keys (a trial template's intermediate values by step) as json.dumps writes them
        return orjson.dumps(log, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)
    return (json.dumps(log, separators=(",", ":")) + "\n").encode()


class LocalJournalBackend(JournalFileBackend):
    """Optuna's journal file backend with two changes for many small trials on one machine.

    * Appends are serialised with ``flock`` on the log itself. The kernel releases it when a
      process dies; Optuna's default lock (a symlink, made for NFS) would stay behind a killed
      worker for its 30 s grace period and hold up every other writer.
    * No fsync per append (``bench/search.py`` [1] prints the cost with it: Optuna's stock
      backend). A process that dies loses nothing it wrote; a power cut may lose the last
      appends, as the SQLite default's ``synchronous=NORMAL`` may lose the last commits.

    Each append is one ``write`` to a descriptor opened with ``O_APPEND`` (kept open by each
    process), so a log line is never interleaved with another process's or torn by a killed
    writer. Reading (:meth:`read_logs`) resumes at the last line read, on a descriptor kept
    open too. Local file systems only (``flock`` on NFS is not
    reliable): many machines use PostgreSQL.
    """

    READ_CHUNK = 1 << 20
    """Bytes read per system call when catching up (bounds the memory of a first read)."""

    def __init__(self, file_path: str) -> None:
        # created private (as the run store is) before Optuna would create it world-readable
        os.close(os.open(file_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        super().__init__(file_path)
        # (pid, fd) of this process's descriptors, kept open: one open per process, not one
        # per call (a forked child opens its own)
        self._fds: dict[str, tuple[int, int]] = {}

    def _fd(self, kind: str) -> int:
        known = self._fds.get(kind)
        if known is None or known[0] != os.getpid():
            flags = os.O_WRONLY | os.O_APPEND if kind == "append" else os.O_RDONLY
            known = self._fds[kind] = (os.getpid(), os.open(self._file_path, flags))
        return known[1]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = b"".join(_log_line(log) for log in logs)
        fd = self._fd("append")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            view = memoryview(text)
            while view:  # a regular file takes it in one write unless the disk is full
                view = view[os.write(fd, view):]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        """The logs from number ``log_number_from`` on. Optuna's storage reads after every
        call, mostly a line or two it just wrote: so one ``fstat`` when nothing is new, else
        ``pread`` from the end offset of the last line read (the base class's table of line
        offsets) on a descriptor kept open, instead of opening and reading the file each time.
        A line not yet ended by its newline is left for the next read. Logs are yielded as
        they are read (a first read of a long journal is not held in memory at once)."""
        offsets = self._log_number_offset
        start = offsets.get(log_number_from)
        if start is None:  # a number never read here: the base class scans from the top
            yield from super().read_logs(log_number_from)
            return
        fd = self._fd("read")
        size = os.fstat(fd).st_size
        number, pos, rest = log_number_from, start, b""
        while pos + len(rest) < size:
            chunk = os.pread(fd, min(self.READ_CHUNK, size - pos - len(rest)), pos + len(rest))
            if not chunk:
                break
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                try:
                    log = orjson.loads(line)
                except orjson.JSONDecodeError:
                    try:  # NaN or ±Infinity (see _log_line), which orjson does not read
                        log = json.loads(line)
                    except json.JSONDecodeError as err:
                        raise ValueError(f"invalid line {number} in the journal "
                                         f"{self._file_path}") from err
                pos += len(line) + 1
                number += 1
                offsets[number] = pos
                yield log

class JournalSearchStorage(JournalStorage, BaseHeartbeat):
    """Optuna's journal storage with the heartbeats RDBStorage has (Optuna's journal storage
    has none, so a trial whose worker died would stay RUNNING and its search never end).

    A heartbeat is the trial's :data:`HEARTBEAT_ATTR` system attribute set to ``time.time()``
    (one journal line per running trial every :data:`HEARTBEAT_SECONDS`); a RUNNING trial is
    stale when the later of its last heartbeat and its start is older than
    :data:`GRACE_SECONDS` by the reader's clock (one machine: one clock). Optuna's
    ``fail_stale_trials`` then fails it; when two processes both find it stale, the journal
    lets only the first FAIL through, so it is requeued once."""

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            # the later of its last heartbeat and its start: a requeued trial inherits the
            # dead attempt's system attributes, heartbeat included
            beat = t.system_attrs.get(HEARTBEAT_ATTR)
            start = t.datetime_start.timestamp() if t.datetime_start is not None else None
            times = [x for x in (beat if isinstance(beat, int | float) else None, start)
                     if x is not None]
            if not times:
                continue
            last = max(times)
            if now - last > GRACE_SECONDS:
                stale.append(t._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return HEARTBEAT_SECONDS

    def get_heartbeat_stale_trial_callback(self) -> Any:
        return RetryHeartbeatStaleTrialCallback(max_retry=MAX_REQUEUES)

    def get_failed_trial_callback(self) -> Any:
        # the name before Optuna 4.9 (abstract there, what its fail_stale_trials calls)
        return self.get_heartbeat_stale_trial_callback()


@functools.cache
def open_storage(url: str) -> RDBStorage:
    """The process's storage object for ``url`` (creates the tables or the file on first use).

    ``journal:///path/file`` opens a :class:`JournalSearchStorage` on a
    :class:`LocalJournalBackend`; anything else is an Optuna RDB URL.
    """
    # SQLAlchemy only for the SQL storages: a worker on the journal default starts ~0.2 s
    # sooner without it (Optuna imports it only for RDBStorage too)
    if url.startswith(JOURNAL_PREFIX):
        path = Path(url.removeprefix(JOURNAL_PREFIX))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalSearchStorage(LocalJournalBackend(str(path)))  # type: ignore[return-value]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # the driver's own transaction handling off, so BEGIN IMMEDIATE below is the only one;
        # wait up to 30 s for another process's write lock instead of failing
        engine_kwargs["connect_args"] = {"timeout": 30, "isolation_level": None}
    else:
        engine_kwargs["pool_pre_ping"] = True
    storage = _create_rdb_storage(
        url, engine_kwargs, _SQLiteStorage if url.startswith("sqlite") else RDBStorage)
    if url.startswith("sqlite"):
        from sqlalchemy import event

        @event.listens_for(storage.engine, "connect")
        def _pragmas(dbapi_conn: Any, record: Any) -> None:
            # WAL: readers never wait for the writer; synchronous=NORMAL: a commit is not an
            # fsync (WAL stays consistent; a power cut may lose the last commits, not corrupt)
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        @event.listens_for(storage.engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN" if getattr(_reading, "on", False) else "BEGIN IMMEDIATE")

        storage.engine.dispose()  # connections made before the listeners get the pragmas too

    return storage


READ_ONLY_CALLS = (
    "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "get_all_studies",
    "get_trial_id_from_study_id_trial_number", "get_trial_number_from_id", "get_trial_param",
    "get_trial", "get_all_trials", "_get_trials", "get_n_trials", "get_best_trial",
    "get_trial_params", "get_trial_user_attrs", "get_trial_system_attrs", "_get_stale_trial_ids",
)
"""Optuna's RDBStorage methods that only read (each opens and commits its own session)."""
_reading = threading.local()


def _read_only(method: Any) -> Any:
    @functools.wraps(method)
    def call(self: RDBStorage, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_reading, "on", False)
        _reading.on = True
        try:
            return method(self, *args, **kwargs)
        finally:
            _reading.on = outer

    return call


class _SQLiteStorage(RDBStorage):
    """Optuna's RDBStorage, unchanged but for its read-only calls marking their transactions
    as such for the ``begin`` listener of :func:`open_storage` (a deferred ``BEGIN``)."""


for _name in READ_ONLY_CALLS:
    setattr(_SQLiteStorage, _name, _read_only(getattr(RDBStorage, _name)))


def _create_rdb_storage(url: str, engine_kwargs: dict[str, Any],
                        cls: type[RDBStorage] = RDBStorage) -> RDBStorage:
    """``RDBStorage(url)``, tolerating other processes creating the same schema right now.

    Optuna creates the tables (and its alembic version row) on first use without a lock, so
    the server and its worker processes starting together on a fresh database race: the
    losers fail with "table … already exists" or a unique-constraint error. Once the winner
    has committed, a retry finds the schema and goes through.
    """
    import sqlalchemy.exc

    attempts = 8
    for attempt in range(attempts):
        try:
            return cls(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=MAX_REQUEUES),
            )
        except sqlalchemy.exc.DBAPIError as exc:
            text = str(exc.orig).lower()
            racing = "already exists" in text or "unique" in text or "duplicate" in text
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)
    raise AssertionError("unreachable")


def new_search_id() -> str:
    return "s" + secrets.token_urlsafe(12)


def create_search(storage: RDBStorage, spec: Mapping[str, Any]) -> str:
    """Store a checked spec as a new study with its budget of WAITING trials."""
    search_id = new_search_id()
    direction = "minimize" if spec["objective"]["direction"] == "minimize" else "maximize"
    study = optuna.create_study(storage=storage, study_name=search_id, direction=direction)
    study.set_user_attr(ATTR, {**spec, "created": time.time()})
    # Plain WAITING trials (not enqueue_trial's fixed params, which GridSampler would skip).
    study.add_trials([optuna.trial.create_trial(state=TrialState.WAITING)
                      for _ in range(spec["trials"])])
    return search_id


def load(storage: RDBStorage, search_id: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=search_id, storage=storage)
    except KeyError:
        return None


def spec_of(study: optuna.Study) -> dict[str, Any] | None:
    value = study.user_attrs.get(ATTR)
    return value if isinstance(value, dict) else None


def search_ids(storage: RDBStorage) -> list[str]:
    """Every GradPlay search in the storage, oldest first."""
    ids = []
    for frozen in storage.get_all_studies():
        if ATTR in frozen.user_attrs:
            ids.append((frozen.user_attrs[ATTR].get("created", 0), frozen.study_name))
    return [name for _, name in sorted(ids)]


def fail_stale(study: optuna.Study) -> None:
    """Fail (and requeue) trials whose worker stopped sending heartbeats."""
    try:
        optuna.storages.fail_stale_trials(study)
    except Exception:  # a concurrent delete: nothing to fail
        logger.debug("fail_stale_trials failed", exc_info=True)


def cancel(storage: RDBStorage, study: optuna.Study) -> None:
    """No new trials start; waiting ones become FAIL ("cancelled"); running ones stop at their
    next report (a worker reads the flag at most once a second)."""
    study.set_user_attr("cancelled", True)
    study_id = storage.get_study_id_from_name(study.study_name)
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:  # the reason first: a finished trial takes no more attributes
            storage.set_trial_user_attr(trial_id, "fail_reason", "cancelled")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # a worker took it meanwhile: it stops at its first report


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def trial_dict(t: FrozenTrial, requeued: set[int]) -> dict[str, Any]:
    attrs = t.user_attrs
    result = attrs.get("result") or {}  # written by the worker when the trial ends
    return {
        "number": t.number,
        "state": t.state.name,
        "params": dict(t.params),
        "value": _finite_or_none(t.value) if t.state == TrialState.COMPLETE or
        t.state == TrialState.PRUNED else None,
        "intermediate_values": [[step, _finite_or_none(v)]
                                for step, v in sorted(t.intermediate_values.items())],
        "steps": result.get("steps", 0),
        "run_config": result.get("run_config"),
        "wall_time": result.get("wall_time"),
        "worker": attrs.get("worker"),
        "fail_reason": result.get("fail_reason") or attrs.get("fail_reason") or (
            "worker stopped sending heartbeats" if t.state == TrialState.FAIL and
            t.number in requeued else None),
        "retry_of": t.system_attrs.get("failed_trial"),
        "requeued": t.number in requeued,
    }


def describe(study: optuna.Study, trials: bool = True) -> dict[str, Any]:
    """The API's view of a search: state, counts, best trial and (optionally) every trial."""
    spec = spec_of(study) or {}
    fail_stale(study)
    frozen = study.get_trials(deepcopy=False)
    requeued = {t.system_attrs["failed_trial"] for t in frozen if "failed_trial" in t.system_attrs}
    counts = {s.name: 0 for s in (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE,
                                  TrialState.PRUNED, TrialState.FAIL)}
    for t in frozen:
        if t.number not in requeued:
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
    if study.user_attrs.get("cancelled"):
        state = "cancelled"
    elif counts["WAITING"] == 0 and counts["RUNNING"] == 0:
        state = "done"
    elif counts["WAITING"] == len(frozen):
        state = "queued"
    else:
        state = "running"
    complete = [t for t in frozen if t.state == TrialState.COMPLETE and t.value is not None
                and math.isfinite(t.value)]
    best = None
    if complete:
        pick = min if spec.get("objective", {}).get("direction") == "minimize" else max
        best_trial = pick(complete, key=lambda t: (t.value, -t.number))
        best = {"number": best_trial.number, "value": best_trial.value,
                "params": dict(best_trial.params),
                # the protocol: chosen on validation, then measured once on the test split
                "evaluation": (best_trial.user_attrs.get("result") or {}).get("evaluation")}
    out: dict[str, Any] = {
        "id": study.study_name,
        "state": state,
        "created": spec.get("created"),
        "trials_total": spec.get("trials"),
        "counts": counts,
        "best": best,
        "spec": {k: v for k, v in spec.items()
                 if k not in ("created", "base_raw", "owner_sha256")},
    }
    if trials:
        out["trials"] = [trial_dict(t, requeued) for t in frozen]
    return out


def make_sampler(spec: Mapping[str, Any], trial_number: int) -> optuna.samplers.BaseSampler:
    """The search's sampler, seeded from the search seed and the trial number, so a random
    search samples the same points whichever worker runs which trial."""
    sampler = spec["sampler"]
    base_seed = int(sampler.get("seed", 0))
    name = sampler["name"]
    # the sampler's name enters the seed: random search and TPE's random start-up trials draw
    # different points from the same search seed
    seed = (base_seed * 1_000_003 + zlib.crc32(name.encode()) + trial_number) % 2**32
    if name == "grid":
        # one shuffle of the grid for the whole search: trial k takes grid point k
        grid = {d["path"]: grid_values(d, sampler["points"]) for d in spec["space"]}
        return _BudgetGridSampler(grid, seed=base_seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=int(sampler.get("n_startup_trials") or 10),
        multivariate=bool(sampler.get("multivariate") or False),
    )


class _BudgetGridSampler(optuna.samplers.GridSampler):
    """GridSampler without its end-of-grid ``study.stop()``: the budget of WAITING trials,
    capped at the grid size, already ends the search (and ``stop`` only works inside
    ``Study.optimize``, which workers do not use)."""

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Any) -> None:
        return None


def make_pruner(spec: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    pruner = spec["pruner"]
    name = pruner["name"]
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=int(pruner.get("n_startup_trials") or 5),
            n_warmup_steps=int(pruner.get("n_warmup_steps") or 0),
        )
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=int(pruner.get("min_resource") or spec["report_every"]),
            reduction_factor=int(pruner.get("reduction_factor") or 4),
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=int(pruner.get("min_resource") or spec["report_every"]),
            max_resource=int(spec["steps"]),
            reduction_factor=int(pruner.get("reduction_factor") or 3),
        )
    return optuna.pruners.NopPruner()
