"""Trial workers: claim a waiting trial of a search, train it as a normal run, report, repeat.

``gradplay worker [--search ID | --all] [--storage URL]`` runs this loop in its own process; the
server starts ``GRADPLAY_SEARCH_WORKERS`` of them itself (:mod:`app.search.pool`), and more can
run on other machines against the same storage (Optuna's distributed mode). A trial:

1. claims a WAITING trial atomically (``set_trial_state_values(RUNNING)`` returns False when
   another worker was first) and adds it to the process's heartbeat thread;
2. asks the search's sampler for the parameters (seeded by the trial number) and builds the run
   config (:func:`app.search.spec.apply_params`);
3. trains a :class:`core.trainer.Run` in chunks of ``report_every`` steps; after each chunk it
   reports the objective (validation loss or accuracy in eval mode, at the current weights) and
   stops early when the pruner says so (PRUNED) or the search was cancelled;
4. tells the result: COMPLETE with the objective, PRUNED, or FAIL with a ``fail_reason``
   (divergence, a non-finite objective, cancellation, an engine error).

The trial's resolved run config, the steps it trained, its wall time and ``worker``
(``"<hostname>:<pid>"``) are trial user attributes, so a trial reopens as a bit-identical run.
SIGTERM ends a worker between two chunks: its trial is failed and queued again.

Cost per trial (``bench/search.py``): every Optuna storage call is a transaction, about a
millisecond of SQLAlchemy on SQLite, which is a lot next to a 25 ms trial. So a worker keeps
what does not change between trials (:class:`_Search`): the study object, whose Optuna cache
reads a finished trial once instead of for every trial (samplers and pruners read them all),
the spec, the study id, and the numbers of the trials it saw waiting, which it claims one by
one without reading every waiting trial again (a trial that is no longer WAITING never becomes
WAITING again, and a requeued one is a new trial found by the next read). Stale trials are
looked for once a second, not before every claim; one heartbeat thread serves every trial of
the process. What is left per trial: the cancel flag, the claim, a heartbeat, Optuna's own
reads in ``Trial()`` and ``tell``, the parameters, one write per report and two result writes.
"""

from __future__ import annotations

# first: importing core limits BLAS to one thread, which only works before NumPy loads
import core  # isort: skip  # noqa: F401

import argparse
import dataclasses
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from app.datasets import DatasetStore
from app.search import store
from app.search.spec import apply_params
from app.settings import Settings, SettingsError
from core.errors import ConfigError
from core.trainer import Limits, Run

logger = logging.getLogger("gradplay.search")
IDLE_POLL_SECONDS = 0.25
IDLE_SLOW_POLL_SECONDS = 1.0
IDLE_SLOW_AFTER_SECONDS = 30.0
CANCEL_CHECK_SECONDS = 1.0
STALE_CHECK_SECONDS = float(store.HEARTBEAT_SECONDS)
"""A worker looks for trials of dead workers at most this often per search (they are found
:data:`app.search.store.GRACE_SECONDS` after their last heartbeat anyway)."""
SEARCH_LIST_SECONDS = 1.0
"""``--all``: a busy worker reads the list of searches at most this often."""
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class Stop(Exception):
    """Raised inside a trial when the worker is asked to stop (SIGTERM)."""


def limits_from(settings: Settings) -> Limits:
    assert settings.data_dir is not None
    # trials on custom data read the uploaded tables from the same data dir as the server
    return Limits(max_hidden_layers=settings.max_hidden_layers, max_units=settings.max_units,
                  max_samples=settings.max_samples,
                  tables=DatasetStore(settings.data_dir / "datasets", settings.max_samples))


def objective_value(run: Run, metric: str) -> float:
    """Validation loss (data loss, no penalty) or accuracy, eval mode, at the current weights."""
    ds = run.dataset
    out = run.model.predict(ds.x_val)
    if metric == "val_accuracy":
        acc = run._accuracy(out, ds.y_val)  # the engine's own definition
        return float("nan") if acc is None else acc
    return float(run.loss.value(out, ds.y_val))


@dataclasses.dataclass
class _Search:
    """What a worker keeps of one search between its trials."""

    study: optuna.Study
    """Loaded once: Optuna's cache in it reads each finished trial from the storage once."""
    study_id: int
    spec: dict[str, Any]
    """The checked request; it never changes after creation."""
    waiting: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    """(number, trial id) of trials seen WAITING at the last read, lowest number first."""
    next_stale_check: float = 0.0
    next_cancel_check: float = 0.0
    cancelled: bool = False

    def is_cancelled(self, storage: RDBStorage, now: bool = False) -> bool:
        """The search's cancel flag, read at most every CANCEL_CHECK_SECONDS (unless ``now``)."""
        if not self.cancelled and (now or time.monotonic() >= self.next_cancel_check):
            self.next_cancel_check = time.monotonic() + CANCEL_CHECK_SECONDS
            self.cancelled = bool(storage.get_study_user_attrs(self.study_id).get("cancelled"))
        return self.cancelled


# per storage, per (thread, search): a worker thread's study object is its own (run_trial sets
# the study's sampler), should a process run several
_searches: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], _Search]] = \
    weakref.WeakKeyDictionary()
_searches_lock = threading.Lock()


def _search(storage: RDBStorage, search_id: str) -> _Search | None:
    """The worker's state of ``search_id`` (loaded on first use), or None if it is gone."""
    key = (threading.get_ident(), search_id)
    with _searches_lock:
        known = _searches.setdefault(storage, {})
        search = known.get(key)
    if search is None:
        study = store.load(storage, search_id)
        spec = store.spec_of(study) if study is not None else None
        if study is None or spec is None:
            return None
        search = _Search(study, storage.get_study_id_from_name(search_id), spec)
        with _searches_lock:
            known[key] = search
    return search


def _forget(storage: RDBStorage, search_id: str) -> None:
    with _searches_lock:
        _searches.get(storage, {}).pop((threading.get_ident(), search_id), None)


def claim(storage: RDBStorage, search: _Search) -> tuple[int, int] | None:
    """Atomically take one WAITING trial of the search; its (trial id, number), or None."""
    for refresh in (False, True):
        if refresh or not search.waiting:
            # through the study's cache, which must know a trial before Trial() writes to it;
            # FrozenTrial._trial_id is what Optuna's own Study.ask claims with
            search.waiting = [(t.number, t._trial_id) for t in search.study.get_trials(
                deepcopy=False, states=(TrialState.WAITING,))]
        while search.waiting:
            number, trial_id = search.waiting.pop(0)
            try:
                # False: another worker took it (RUNNING); finished: cancelled meanwhile.
                # Neither becomes WAITING again, so the trial leaves the list for good.
                if storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                    if isinstance(storage, RDBStorage):
                        # at once: there a trial with no heartbeat yet is never found stale
                        # (the journal storage counts from the trial's start instead)
                        storage.record_heartbeat(trial_id)
                    return trial_id, number
            except optuna.exceptions.UpdateFinishedTrialError:
                # a waiting trial only finishes unclaimed when the search is cancelled
                if search.is_cancelled(storage, now=True):
                    return None
    return None


class _Heartbeat:
    """The process's one heartbeat thread: records a heartbeat of every trial it was given,
    every HEARTBEAT_SECONDS (not a thread per trial: starting one costs a trial's scheduling
    round on a busy machine)."""

    def __init__(self) -> None:
        self._trials: set[tuple[Any, int]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, storage: RDBStorage, trial_id: int) -> None:
        if not hasattr(storage, "record_heartbeat"):
            return
        with self._lock:
            self._trials.add((storage, trial_id))
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, daemon=True,
                                                name="gradplay-heartbeat")
                self._thread.start()

    def discard(self, storage: RDBStorage, trial_id: int) -> None:
        with self._lock:
            self._trials.discard((storage, trial_id))

    def _beat(self) -> None:
        while True:
            time.sleep(store.HEARTBEAT_SECONDS)
            with self._lock:
                trials = list(self._trials)
            for storage, trial_id in trials:
                try:
                    storage.record_heartbeat(trial_id)
                except Exception:  # the study was deleted: the trial notices at its next report
                    self.discard(storage, trial_id)


_heartbeat = _Heartbeat()


def run_trial(storage: RDBStorage, search: _Search, trial_id: int, number: int,
              limits: Limits, stop: threading.Event) -> str:
    """Train one claimed trial of the search to its end; returns the final state's name."""
    study, spec = search.study, search.spec
    search_id = study.study_name
    study.sampler = store.make_sampler(spec, number)
    study.pruner = store.make_pruner(spec)
    _heartbeat.add(storage, trial_id)
    trial = optuna.trial.Trial(study, trial_id)
    started = time.perf_counter()
    trial.set_user_attr("worker", WORKER_ID)

    run: Run | None = None

    def finish(state: TrialState, value: float | None = None, reason: str | None = None) -> str:
        # one write for everything the API shows of a finished trial
        trial.set_user_attr("result", {
            "wall_time": time.perf_counter() - started,
            "steps": run.step_count if run is not None else 0,
            "run_config": run.config if run is not None else None,
            "fail_reason": reason,
            # train/val/test metrics at the final weights (one eval pass). The API shows them
            # for the winner only: the winner is chosen on validation, then measured once on
            # the test split, which no choice ever sees.
            "evaluation": run.evaluate() if run is not None and state == TrialState.COMPLETE
            else None,
        })
        if state == TrialState.COMPLETE:
            study.tell(trial, value)
        else:
            study.tell(trial, state=state)
        return state.name

    try:
        params = {}
        for dim in spec["space"]:
            path = dim["path"]
            if dim["type"] == "float":
                params[path] = trial.suggest_float(path, dim["low"], dim["high"],
                                                   log=bool(dim.get("log")))
            elif dim["type"] == "int":
                params[path] = trial.suggest_int(path, dim["low"], dim["high"],
                                                 step=int(dim.get("step", 1)),
                                                 log=bool(dim.get("log")))
            else:
                params[path] = trial.suggest_categorical(path, dim["choices"])
        try:
            run = Run(apply_params(spec, params), limits)
        except ConfigError as exc:
            return finish(TrialState.FAIL, reason=f"invalid run config: {exc}")
        metric, steps, every = spec["objective"]["metric"], spec["steps"], spec["report_every"]
        done = 0
        while done < steps:
            if stop.is_set():
                raise Stop
            run.step(min(every, steps - done), collect=False)
            done = run.step_count
            if run.status == "diverged":
                d = run.divergence or {}
                return finish(TrialState.FAIL, reason=f"diverged at step {d.get('step')}: "
                              f"{d.get('reason')} ({d.get('layer_name')})")
            value = objective_value(run, metric)
            if not math.isfinite(value):
                return finish(TrialState.FAIL, reason=f"{metric} is not finite")
            trial.report(value, done)
            if run.status == "stopped":  # early stopping in the base config ended it
                break
            if search.is_cancelled(storage):  # a read per second at most
                return finish(TrialState.FAIL, reason="cancelled")
            if trial.should_prune():
                return finish(TrialState.PRUNED)
        return finish(TrialState.COMPLETE, value)
    except Stop:
        state = finish(TrialState.FAIL, reason="worker stopped")
        frozen = storage.get_trial(trial_id)
        RetryHeartbeatStaleTrialCallback(max_retry=store.MAX_REQUEUES)(study, frozen)
        return state
    except (KeyError, optuna.exceptions.UpdateFinishedTrialError):
        raise  # the search was deleted (or the trial failed elsewhere): nothing to tell
    except Exception as exc:  # an engine bug must not leave the trial RUNNING for ever
        logger.exception("search %s trial %s failed", search_id, number)
        return finish(TrialState.FAIL, reason=f"internal error: {type(exc).__name__}: {exc}")
    finally:
        _heartbeat.discard(storage, trial_id)


def work_once(storage: RDBStorage, search_ids: Sequence[str], limits: Limits,
              stop: threading.Event) -> bool:
    """Run one trial of the first of ``search_ids`` that has one waiting; False if none had."""
    for search_id in search_ids:
        search = _search(storage, search_id)
        if search is None:
            continue
        try:
            if search.is_cancelled(storage):
                continue
            if time.monotonic() >= search.next_stale_check:
                search.next_stale_check = time.monotonic() + STALE_CHECK_SECONDS
                store.fail_stale(search.study)
            claimed = claim(storage, search)
        except KeyError:  # the search was deleted
            _forget(storage, search_id)
            continue
        if claimed is None:
            continue
        trial_id, number = claimed
        try:
            state = run_trial(storage, search, trial_id, number, limits, stop)
            logger.info("search %s trial %s: %s", search_id, number, state)
        except Stop:
            raise
        except Exception:  # e.g. the search was deleted mid-trial: the worker carries on
            logger.warning("search %s: trial %s ended with an error", search_id, number,
                           exc_info=True)
        return True
    return False


def pending(storage: RDBStorage, search_id: str) -> bool:
    """Whether the search still has trials waiting or running."""
    study = store.load(storage, search_id)
    if study is None:
        return False
    return store.describe(study, trials=False)["state"] in ("queued", "running")


def work(url: str, search_id: str | None, limits: Limits, stop: threading.Event,
         exit_when_done: bool = True) -> int:
    """The worker loop. ``search_id=None``: every search; otherwise exits once that search
    has nothing left (when ``exit_when_done``)."""
    storage = store.open_storage(url)
    idle_since = time.monotonic()
    ids: list[str] = []
    next_list = 0.0
    while not stop.is_set():
        if search_id:
            ids = [search_id]
        elif time.monotonic() >= next_list:
            ids, next_list = store.search_ids(storage), time.monotonic() + SEARCH_LIST_SECONDS
        if work_once(storage, ids, limits, stop):
            idle_since = time.monotonic()
            continue
        next_list = 0.0  # nothing to do in the known searches: read the list again
        if search_id and exit_when_done and not pending(storage, search_id):
            return 0
        # poll quickly while searches come and go, slowly when nothing has run for a while
        idle = time.monotonic() - idle_since > IDLE_SLOW_AFTER_SECONDS
        stop.wait(IDLE_SLOW_POLL_SECONDS if idle else IDLE_POLL_SECONDS)
    return 0


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="gradplay worker")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--search", metavar="ID", help="run trials of this search, then exit")
    which.add_argument("--all", action="store_true",
                       help="run trials of every search, waiting for new ones (the default)")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna storage URL (default: GRADPLAY_SEARCH_STORAGE, else the "
                        "journal file searches.journal in GRADPLAY_DATA_DIR)")
    return parser


def main(argv: Sequence[str] | None = None, args: argparse.Namespace | None = None) -> int:
    if args is None:
        args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"gradplay worker: invalid configuration: {exc}", file=sys.stderr)
        return 2
    assert settings.data_dir is not None
    url = args.storage or settings.search_storage or store.default_storage_url(settings.data_dir)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s worker %(message)s")
    stop = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        return work(url, args.search, limits_from(settings), stop)
    except Stop:
        return 0


if __name__ == "__main__":
    sys.exit(main())
