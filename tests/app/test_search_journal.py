"""The embedded search storage: a journal file with flock appends and heartbeats
(:class:`app.search.store.JournalSearchStorage` on :class:`app.search.store.LocalJournalBackend`).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from app.search import store, worker
from app.search.spec import check_search
from core.trainer import Limits


def test_default_storage_is_a_journal_unless_the_data_dir_has_the_old_sqlite_file(
        tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    assert store.default_storage_url(fresh) == \
        f"{store.JOURNAL_PREFIX}{(fresh / store.JOURNAL_FILE).resolve()}"
    old = tmp_path / "old"
    old.mkdir()
    (old / store.SQLITE_FILE).touch()  # an earlier version's searches stay where they are
    assert store.default_storage_url(old) == f"sqlite:///{(old / store.SQLITE_FILE).resolve()}"
    (old / store.JOURNAL_FILE).touch()  # a journal, once there, wins
    assert store.default_storage_url(old).startswith(store.JOURNAL_PREFIX)


def test_the_journal_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "a.journal"
    store.JournalSearchStorage(store.LocalJournalBackend(str(path)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _append(path: str, worker: int, count: int) -> None:
    backend = store.LocalJournalBackend(path)
    for k in range(count):
        # big enough that buffered writes would split a line across system calls
        backend.append_logs([{"worker": worker, "k": k, "pad": "x" * 5000}])


def test_appends_of_many_processes_are_whole_lines(tmp_path: Path) -> None:
    path = str(tmp_path / "log.journal")
    store.LocalJournalBackend(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append, args=(path, w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = Path(path).read_bytes().split(b"\n")
    assert lines[-1] == b""
    logs = [json.loads(line) for line in lines[:-1]]  # every line is one whole log
    assert sorted((log["worker"], log["k"]) for log in logs) == \
        [(w, k) for w in range(4) for k in range(50)]
    for w in range(4):  # each process's own appends stay in order
        assert [log["k"] for log in logs if log["worker"] == w] == list(range(50))


def test_a_stale_trial_is_failed_and_requeued_once_when_two_processes_find_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "s.journal")
    a = store.JournalSearchStorage(store.LocalJournalBackend(path))
    b = store.JournalSearchStorage(store.LocalJournalBackend(path))  # "another process"
    study = optuna.create_study(storage=a, study_name="s")
    study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING))
    trial_id = a.get_trial_id_from_study_id_trial_number(study._study_id, 0)
    assert a.set_trial_state_values(trial_id, TrialState.RUNNING)
    a.set_trial_param(trial_id, "lr", 0.25, FloatDistribution(0.0, 1.0))
    a.record_heartbeat(trial_id)
    assert a._get_stale_trial_ids(study._study_id) == []  # alive
    assert not b.set_trial_state_values(trial_id, TrialState.RUNNING)  # claimed once only

    # the worker died: a heartbeat newer than its start keeps it alive until the grace period
    # after that heartbeat has passed
    beat = time.time() + 2
    a.set_trial_system_attr(trial_id, store.HEARTBEAT_ATTR, beat)
    real_time = time.time
    monkeypatch.setattr(store.time, "time", lambda: beat + store.GRACE_SECONDS - 0.5)
    assert b._get_stale_trial_ids(study._study_id) == []
    monkeypatch.setattr(store.time, "time", lambda: beat + store.GRACE_SECONDS + 0.5)
    assert b._get_stale_trial_ids(study._study_id) == [trial_id]
    for storage in (b, a):
        store.fail_stale(optuna.load_study(study_name="s", storage=storage))
    trials = optuna.load_study(study_name="s", storage=a).get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[1].params == {"lr": 0.25}
    assert trials[1].system_attrs["failed_trial"] == 0
    # a requeued trial inherits the dead attempt's system attributes: an old heartbeat does
    # not make it stale the moment it is claimed again (its start counts)
    monkeypatch.setattr(store.time, "time", real_time)
    retry_id = trials[1]._trial_id
    assert a.set_trial_state_values(retry_id, TrialState.RUNNING)
    a.set_trial_system_attr(retry_id, store.HEARTBEAT_ATTR, real_time() - 100)
    assert a._get_stale_trial_ids(study._study_id) == []


def test_reads_resume_at_the_last_line_and_leave_an_unfinished_line_for_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.journal"
    writer = store.LocalJournalBackend(str(path))
    reader = store.LocalJournalBackend(str(path))
    monkeypatch.setattr(reader, "READ_CHUNK", 7)  # lines span several reads
    writer.append_logs([{"k": k, "pad": "y" * k} for k in range(20)])
    assert [log["k"] for log in reader.read_logs(0)] == list(range(20))
    assert list(reader.read_logs(20)) == []  # nothing new
    with open(path, "ab") as f:  # a writer caught mid-line (no newline yet)
        f.write(b'{"k":20}\n{"k":2')
    assert [log["k"] for log in reader.read_logs(20)] == [20]
    with open(path, "ab") as f:
        f.write(b'1}\n')
    assert [log["k"] for log in reader.read_logs(21)] == [21]
    assert [log["k"] for log in reader.read_logs(18)] == [18, 19, 20, 21]  # any known line
    fresh = store.LocalJournalBackend(str(path))  # a new process reads from the top
    assert [log["k"] for log in fresh.read_logs(0)] == list(range(22))
    assert [log["k"] for log in store.LocalJournalBackend(str(path)).read_logs(5)][:2] == [5, 6]
    with open(path, "ab") as f:
        f.write(b'not json\n{"k":23}\n')
    with pytest.raises(ValueError, match="invalid line 22"):
        list(reader.read_logs(22))


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (json.loads reads both as float('nan'))."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_journal_lines_read_back_as_optunas_own_json_would(tmp_path: Path) -> None:
    """Every log a real search writes (study, template trials, params, reports, attrs, tell)
    reads back from its orjson line exactly as from json.dumps; a number Optuna replays that is
    NaN or ±inf is written as json.dumps writes it and read back as that number."""
    seen: list[dict[str, Any]] = []

    class Recording(store.LocalJournalBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            seen.extend(logs)
            super().append_logs(logs)

    storage = store.JournalSearchStorage(Recording(str(tmp_path / "s.journal")))
    spec = check_search({
        "base": {"dataset": {"name": "moons", "n": 60}, "model": {"hidden": [4]}},
        "space": [{"path": "optimizer.lr", "type": "float", "low": 1e-3, "high": 1.0,
                   "log": True},
                  {"path": "batch_size", "type": "categorical", "choices": [8, 16]}],
        "sampler": {"name": "grid"}, "trials": 4, "steps": 20, "report_every": 5,
        "objective": {"metric": "val_loss"}, "pruner": {"name": "median"},
        "name": "网格 search ✓"}, Limits())
    search_id = store.create_search(storage, spec)
    stop = threading.Event()
    while worker.work_once(storage, [search_id], Limits(), stop):
        pass
    trial_id = storage.create_new_trial(storage.get_study_id_from_name(search_id))
    storage.set_trial_intermediate_value(trial_id, 1, float("nan"))
    storage.set_trial_intermediate_value(trial_id, 2, float("inf"))
    storage.set_trial_user_attr(trial_id, "note", {"x": float("nan"), "zh": "学习率"})
    ops = {log["op_code"] for log in seen}
    assert len(ops) >= 7, ops  # create study/trial, attrs, params, states, reports
    for log in seen:
        expected = json.loads(json.dumps(log))
        got = json.loads(store._log_line(log))
        if "user_attr" in log and log["user_attr"].get("note"):
            expected["user_attr"]["note"]["x"] = None  # an attribute's NaN is stored as null
        assert _same(got, expected), (got, expected)
    reread = store.JournalSearchStorage(store.LocalJournalBackend(str(tmp_path / "s.journal")))
    values = reread.get_trial(trial_id).intermediate_values
    assert math.isnan(values[1]) and values[2] == math.inf
    done = [t for t in reread.get_all_trials(storage.get_study_id_from_name(search_id))
            if t.state == TrialState.COMPLETE]
    assert len(done) == 4 and all(len(t.intermediate_values) == 4 for t in done)


def test_a_journal_worker_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    """SQLAlchemy (~0.2 s of a worker's start-up) is imported for the SQL storages only."""
    code = (
        "import sys; from pathlib import Path; from app.search import store, worker; "
        f"store.open_storage(store.default_storage_url(Path({str(tmp_path)!r}))); "
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
