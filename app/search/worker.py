"""Trial workers: claim a waiting trial of a search, train it as a normal run, report, repeat.

``gradplay worker [--search ID | --all] [--storage URL]`` runs this loop in its own process; the
server starts ``GRADPLAY_SEARCH_WORKERS`` of them itself (:mod:`app.search.pool`), and more can
run on other machines against the same storage (Optuna's distributed mode). A trial:

1. claims a WAITING trial atomically (``set_trial_state_values(RUNNING)`` returns False when
   another worker was first) and starts a heartbeat thread;
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
"""

from __future__ import annotations

# first: importing core limits BLAS to one thread, which only works before NumPy loads
import core  # isort: skip  # noqa: F401

import argparse
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
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


def claim(storage: RDBStorage, search_id: str) -> int | None:
    """Atomically take one WAITING trial of the search; its trial id, or None."""
    study_id = storage.get_study_id_from_name(search_id)
    for t in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:
            if storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                if hasattr(storage, "record_heartbeat"):  # not the journal storage
                    storage.record_heartbeat(trial_id)
                return trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # cancelled meanwhile
    return None


class _Heartbeat:
    """Records the trial's heartbeat every HEARTBEAT_SECONDS until stopped."""

    def __init__(self, storage: RDBStorage, trial_id: int) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(storage, trial_id), daemon=True)
        self._thread.start()

    def _beat(self, storage: RDBStorage, trial_id: int) -> None:
        if not hasattr(storage, "record_heartbeat"):
            return
        while not self._stop.wait(store.HEARTBEAT_SECONDS):
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # the study was deleted: the trial notices at its next report
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_trial(storage: RDBStorage, study: optuna.Study, trial_id: int, limits: Limits,
              stop: threading.Event) -> str:
    """Train one claimed trial of ``study`` to its end; returns the final state's name."""
    search_id = study.study_name
    number = storage.get_trial_number_from_id(trial_id)
    spec = store.spec_of(study)
    assert spec is not None
    study.sampler = store.make_sampler(spec, number)
    study.pruner = store.make_pruner(spec)
    heartbeat = _Heartbeat(storage, trial_id)
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
        study_id = storage.get_study_id_from_name(search_id)
        next_cancel_check = 0.0
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
            if time.monotonic() >= next_cancel_check:  # a read per second at most
                next_cancel_check = time.monotonic() + CANCEL_CHECK_SECONDS
                if storage.get_study_user_attrs(study_id).get("cancelled"):
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
        heartbeat.stop()


def work_once(storage: RDBStorage, search_ids: Sequence[str], limits: Limits,
              stop: threading.Event) -> bool:
    """Run one trial of the first of ``search_ids`` that has one waiting; False if none had."""
    for search_id in search_ids:
        study = store.load(storage, search_id)
        if study is None or study.user_attrs.get("cancelled"):
            continue
        store.fail_stale(study)
        # The study reads through Optuna's caching wrapper of the storage, which only knows
        # trials it has read: read the waiting ones before claiming one behind its back.
        study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        trial_id = claim(storage, search_id)
        if trial_id is None:
            continue
        try:
            state = run_trial(storage, study, trial_id, limits, stop)
            logger.info("search %s trial %s: %s", search_id, trial_id, state)
        except Stop:
            raise
        except Exception:  # e.g. the search was deleted mid-trial: the worker carries on
            logger.warning("search %s: trial %s ended with an error", search_id, trial_id,
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
    while not stop.is_set():
        ids = [search_id] if search_id else store.search_ids(storage)
        if work_once(storage, ids, limits, stop):
            idle_since = time.monotonic()
            continue
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
                        "SQLite file in GRADPLAY_DATA_DIR)")
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
