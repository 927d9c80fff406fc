"""The run store (``app/run_store.py``) and the signing key kept in the data directory: exact
round trips, one transaction per write, damaged rows and files skipped with a warning."""

from __future__ import annotations

import logging
import sqlite3
import stat
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.owners import SECRET_KEY_FILE, TokenSigner, signing_key, token_hash
from app.run_store import STORE_FILE, RunStore, SavedRun, StoredRunError
from app.settings import Settings, SettingsError

OWNER = token_hash("owner-token")
CONFIG: dict[str, Any] = {"seed": 3, "optimizer": {"name": "adam", "lr": 0.1 + 0.2}}
PATCH = {"step": 2, "patch": {"optimizer": {"lr": 1e-300}}}
WEIGHTS = {"step": 5, "weights": [{"W": [[0.1, -0.0], [5e-324, 1.7976931348623157e308]],
                                   "b": [1 / 3, -2.5]}]}


def bits(value: Any) -> Any:
    """Floats as their IEEE bits (so -0.0 != 0.0), recursively."""
    if isinstance(value, float):
        return struct.pack("<d", value)
    if isinstance(value, dict):
        return {k: bits(v) for k, v in value.items()}
    if isinstance(value, list):
        return [bits(v) for v in value]
    return value


def put(store: RunStore, run_id: str = "r1", events: list[Any] | None = None,
        state: tuple[int, int, str] = (7, 1, "paused"), **kw: Any) -> None:
    store.put(run_id, OWNER, "watch-" + run_id, 1700000000.5, CONFIG,
              [PATCH, WEIGHTS] if events is None else events, state, **kw)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    store = RunStore.in_dir(tmp_path)
    put(store)
    [entry] = store.index()
    assert (entry.id, entry.owner_sha256, entry.watch_token, entry.created) == (
        "r1", OWNER, "watch-r1", 1700000000.5)
    assert (entry.step, entry.epoch, entry.status, entry.owner) == (7, 1, "paused", "")
    config, events, step = store.load("r1")  # type: ignore[misc]
    assert bits(config) == bits(CONFIG) and bits(events) == bits([PATCH, WEIGHTS])
    assert step == 7
    assert store.load("missing") is None
    # a second store on the same file (a restarted server) reads the same
    store.close()
    assert bits(RunStore.in_dir(tmp_path).load("r1")) == bits((CONFIG, [PATCH, WEIGHTS], 7))


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_weights_round_trip_bit_for_bit(tmp_path_factory: pytest.TempPathFactory,
                                        values: list[float]) -> None:
    store = RunStore.in_dir(tmp_path_factory.mktemp("store"))
    event = {"step": 1, "weights": [{"W": [values], "b": values}]}
    put(store, events=[event])
    assert bits(store.load("r1")[1]) == bits([event])  # type: ignore[index]
    store.close()


def test_append_set_state_and_replace(tmp_path: Path) -> None:
    store = RunStore.in_dir(tmp_path)
    put(store, events=[PATCH])
    assert store.append_events("r1", 1, [WEIGHTS], (9, 2, "paused"))
    assert store.set_state("r1", (12, 3, "diverged"))
    assert store.load("r1") == (CONFIG, [PATCH, WEIGHTS], 12)
    assert store.index()[0].status == "diverged"
    put(store, events=[], state=(0, 0, "ready"))  # a reset: the log starts again
    assert store.load("r1") == (CONFIG, [], 0)
    # a run that is not stored is not brought back by an append or a state update
    assert not store.append_events("gone", 0, [PATCH], (3, 0, "paused"))
    assert not store.set_state("gone", (3, 0, "paused"))
    assert [e.id for e in store.index()] == ["r1"]
    store.delete("r1")
    assert store.index() == [] and store.load("r1") is None


def test_a_failed_write_changes_nothing(tmp_path: Path) -> None:
    """Every write is one transaction: an event that cannot be encoded (after others were
    written in the same transaction) leaves the stored run as it was."""
    store = RunStore.in_dir(tmp_path)
    put(store)
    bad = {"step": 9, "patch": {"optimizer": {"lr": object()}}}
    with pytest.raises(TypeError):
        put(store, events=[PATCH, PATCH, bad], state=(9, 2, "paused"))
    assert store.load("r1") == (CONFIG, [PATCH, WEIGHTS], 7)
    with pytest.raises(TypeError):
        store.append_events("r1", 2, [PATCH, bad], (11, 2, "paused"))
    assert store.load("r1") == (CONFIG, [PATCH, WEIGHTS], 7)
    assert store.index()[0].step == 7


def test_nothing_is_written_for_a_deleted_run(tmp_path: Path) -> None:
    store = RunStore.in_dir(tmp_path)
    put(store, alive=lambda: False)
    assert store.index() == []
    put(store)
    assert not store.set_state("r1", (99, 0, "paused"), alive=lambda: False)
    assert store.index()[0].step == 7


def test_saved_run_writes_only_what_changed(tmp_path: Path) -> None:
    store = RunStore.in_dir(tmp_path)
    saved = SavedRun(store, "r1", OWNER, "w", 1.0)
    log: list[Any] = []
    saved.save(CONFIG, log, (0, 0, "ready"))
    assert store.load("r1") == (CONFIG, [], 0)
    log.append(PATCH)
    saved.save(CONFIG, log, (2, 0, "paused"))
    log.append(WEIGHTS)
    saved.save(CONFIG, log, (5, 1, "paused"))
    assert store.load("r1") == (CONFIG, [PATCH, WEIGHTS], 5)
    new_log: list[Any] = []  # reset with a new seed: a new log and config
    saved.save({**CONFIG, "seed": 4}, new_log, (0, 0, "ready"))
    assert store.load("r1") == ({**CONFIG, "seed": 4}, [], 0)
    saved.forget()
    assert store.load("r1") is None
    saved.save(CONFIG, [PATCH], (9, 0, "paused"))  # forgotten: never written back
    assert store.index() == []


def test_damaged_rows_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = RunStore.in_dir(tmp_path)
    put(store, "good")
    for run_id in ("bad-json", "bad-status", "bad-step", "bad-owner", "bad-events"):
        put(store, run_id)
    conn = sqlite3.connect(tmp_path / STORE_FILE)
    with conn:
        conn.execute("UPDATE runs SET config = '{not json' WHERE id = 'bad-json'")
        conn.execute("UPDATE runs SET status = 'exploded' WHERE id = 'bad-status'")
        conn.execute("UPDATE runs SET step = 'seven' WHERE id = 'bad-step'")
        conn.execute("UPDATE runs SET owner_sha256 = 'x' WHERE id = 'bad-owner'")
        conn.execute("UPDATE events SET event = '[1,' WHERE run_id = 'bad-events'")
    conn.close()
    with caplog.at_level(logging.WARNING, logger="gradplay"):
        listed = sorted(e.id for e in store.index())
    assert listed == ["bad-events", "good"]  # events are read on first access only
    for run_id in ("bad-json", "bad-status", "bad-step", "bad-owner"):
        assert any(run_id in r.getMessage() for r in caplog.records), run_id
    with pytest.raises(StoredRunError, match="not JSON"):
        store.load("bad-events")
    conn = sqlite3.connect(tmp_path / STORE_FILE)
    with conn:
        conn.execute("DELETE FROM events WHERE run_id = 'good' AND seq = 0")
    conn.close()
    with pytest.raises(StoredRunError, match="gaps"):
        store.load("good")


def test_a_file_that_is_not_a_database_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / STORE_FILE).write_bytes(b"this is not a SQLite database" * 100)
    store = RunStore.in_dir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="gradplay"):
        assert store.index() == []
    assert "moved to" in caplog.text
    assert [p.name.split("-")[0] for p in tmp_path.glob(f"{STORE_FILE}.corrupt-*")] == [
        f"{STORE_FILE}.corrupt"]
    put(store)  # a fresh store in its place
    assert [e.id for e in store.index()] == ["r1"]


def test_store_file_is_private(tmp_path: Path) -> None:
    store = RunStore.in_dir(tmp_path / "new")  # the directory is made when first needed
    put(store)
    assert stat.S_IMODE((tmp_path / "new" / STORE_FILE).stat().st_mode) == 0o600
    assert store.index()[0].owner_sha256 == OWNER  # the hash, never the token


# ------------------------------------------------------------------------ the signing key
def test_signing_key_is_made_once_and_kept(tmp_path: Path) -> None:
    key = signing_key("", tmp_path / "data")
    path = tmp_path / "data" / SECRET_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and signing_key("", tmp_path / "data") == key
    assert [p.name for p in path.parent.iterdir()] == [SECRET_KEY_FILE]  # no temporary left
    token = TokenSigner(key).issue()
    assert TokenSigner(signing_key("", tmp_path / "data")).valid(token)  # after a restart
    assert not TokenSigner(signing_key("", tmp_path / "other")).valid(token)


def test_secret_key_from_the_environment(tmp_path: Path) -> None:
    secret = "k" * 40
    settings = Settings.from_env({"GRADPLAY_SECRET_KEY": secret})
    assert settings.secret_key == secret and secret not in repr(settings)
    assert "secret_key" not in settings.limits()
    token = TokenSigner(signing_key(secret, tmp_path / "a")).issue()
    assert TokenSigner(signing_key(secret, tmp_path / "b")).valid(token)
    assert not (tmp_path / "a" / SECRET_KEY_FILE).exists()
    with pytest.raises(SettingsError, match="secret_key must have at least 32"):
        Settings.from_env({"GRADPLAY_SECRET_KEY": "short"})


def test_unusable_key_file_warns_and_still_signs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / SECRET_KEY_FILE).write_text("tiny")
    with caplog.at_level(logging.WARNING, logger="gradplay"):
        key = signing_key("", tmp_path)
    assert "no valid key" in caplog.text and len(key) == 32


def test_building_an_app_writes_nothing_until_needed(tmp_path: Path) -> None:
    """``app.main`` builds an app at import: that alone must not write into ``./data``."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import app_settings

    data_dir = tmp_path / "data"
    app = create_app(app_settings(data_dir=data_dir))
    assert TestClient(app).get("/healthz").status_code == 200
    assert not data_dir.exists()
    with TestClient(app) as client:
        assert client.post("/api/runs", json={"dataset": {"n": 40}}).status_code == 201
    assert sorted(p.name for p in data_dir.iterdir() if not p.name.endswith(("-wal", "-shm"))
                  ) == [STORE_FILE, SECRET_KEY_FILE]
