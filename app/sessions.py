"""Run sessions: the live runs of one server process, their play loops and watchers.

A :class:`RunSession` wraps one :class:`core.trainer.Run`. All engine work happens in worker
threads (a small pool shared by all runs) under the session's lock, so training never blocks
the event loop and two requests never touch one run at once.

Playing: an asyncio task trains in chunks sized to the requested speed (steps per second, or
"unlimited") and pushes a ``frame`` with all records since the previous frame to every watcher,
at most ``FRAME_RATE`` times per second, plus a ``snapshot`` about every ``SNAPSHOT_INTERVAL``
seconds. Records reach the watchers as JSON text, encoded once per chunk on the training
thread (by orjson, from the history rows while they hold every step), not per watcher on the
event loop. Play loops take turns on one thread (``play_executor``); requests use the
``training_threads`` pool. Runs at unlimited speed each train their share of a frame interval
per chunk (measured in CPU time), scaled down while a full cycle takes longer than the
interval, so every watcher keeps getting frames however many runs play. Live changes wake the
loop so the next frame already carries them. When the last watcher leaves, a playing run
pauses.

The :class:`RunManager` keeps at most ``max_runs`` sessions; idle ones expire after
``run_ttl_seconds``. Each session has an owner (its client's owner token, see
:mod:`app.owners`): a client keeps at most ``max_runs_per_client`` runs, and a new run beyond
that evicts the client's own longest-idle run. When the server is full, a client with runs of
its own makes room by evicting its longest-idle one; a client without runs gets
:class:`ServerFullError` (503 + ``Retry-After``): another client's run is never evicted.

Memory (:mod:`app.budgets`): each session reserves its run's estimated lifetime bytes
(``reserved``); a run over ``max_run_mb`` is refused (422), and a new run that would take the
sum over ``max_memory_mb`` first evicts its client's idle runs (least recently used), else
:class:`app.budgets.MemoryFullError` (503 + ``Retry-After``).
With a :class:`app.run_store.RunStore`, runs survive a restart: every change is saved (create,
import, live change, weights edit, reset; the step at the end of each step request and play
session), deletion removes the run, shutdown saves every run. After a restart the stored runs
are listed at once and replayed to their step on first access (:meth:`RunManager.restore`);
they count towards ``max_runs`` and the per-client quota like live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar

from app.budgets import MemoryFullError, check_run_size, run_bytes
from app.compression import gzip_bytes
from app.datasets import DatasetStore
from app.jsonenc import dumps, records_json
from app.owners import new_watch_token, same_token, token_hash
from app.run_store import RunStore, SavedRun, StoredRun, StoredRunError
from app.settings import Settings
from core.errors import ConfigError, RunStateError
from core.trainer import Limits, Run, resolve_config

logger = logging.getLogger("gradplay")

FRAME_RATE = 30.0
SNAPSHOT_INTERVAL = 0.5
MAX_TOTAL_FRAME_RATE = 480.0
MAX_TOTAL_SNAPSHOT_RATE = 16.0
"""With many runs playing, frames and snapshots are spread so that the server as a whole sends
at most this many per second (frames then carry more records). One process with one GIL
trains, encodes and sends everything; with 32 runs at 60 steps/s or flat out, each watcher
gets ~14 or ~12 frames/s on the 2-core dev machine (bench/stream.py [3])."""
DEFAULT_SPEED = 60.0
MAX_SPEED = 1_000_000.0
MAX_CHUNK = 10_000
STEP_SLICE = 100
"""Steps per slice of a long POST .../step on a watched run: watchers get each slice's
records as soon as it is trained."""
CANCEL_SECONDS = 0.25
"""Requests that train check for cancellation (client gone, run deleted, shutdown) between
slices sized to take about this long, measured as they go (at least one step each)."""
SHUTDOWN_LOCK_SECONDS = 0.5
"""At shutdown, how long saving the runs waits (in all) for requests still training them."""
MAX_PENDING_RECORDS = 20_000
"""A watcher that stops reading keeps at most about this many unsent records (the oldest
chunks are dropped)."""

T = TypeVar("T")

# Hand the GIL over every 1 ms (default 5 ms) so the event loop gets a turn soon even while
# training threads run NumPy code that holds it.
sys.setswitchinterval(0.001)


def slice_sizes(n: int) -> list[int]:
    """``n`` steps as slices of at most ``STEP_SLICE``."""
    return [min(STEP_SLICE, n - k) for k in range(0, n, STEP_SLICE)]


def _changed_field(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The live-changeable field that changes a run's memory estimate (for the 422's loc)."""
    if old["batch_size"] != new["batch_size"]:
        return "batch_size"
    if old["model"]["dropout"] != new["model"]["dropout"]:
        return "dropout"
    return "optimizer" if old["optimizer"] != new["optimizer"] else ""


class ServerFullError(Exception):
    """The server holds ``max_runs`` runs and the client owns none it could give up."""

    def __init__(self, max_runs: int, retry_after: int) -> None:
        super().__init__(
            f"the server is full ({max_runs} runs, GRADPLAY_MAX_RUNS); retry in about "
            f"{retry_after} s, when idle runs expire"
        )
        self.retry_after = retry_after


class Watcher:
    """One WebSocket client of a session: pending records (as JSON text, encoded once per chunk
    for all watchers) and messages, and a wake-up event."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []  # records as JSON without brackets, each "{...},{...}"
        self.counts: list[int] = []  # records per chunk
        self.pending = 0
        self.messages: list[dict[str, Any]] = []
        self.event = asyncio.Event()
        self.dropped = 0

    def push_records(self, text: bytes, count: int) -> None:
        self.chunks.append(text)
        self.counts.append(count)
        self.pending += count
        while self.pending > MAX_PENDING_RECORDS and len(self.chunks) > 1:
            self.chunks.pop(0)
            oldest = self.counts.pop(0)
            self.pending -= oldest
            self.dropped += oldest
        self.event.set()

    def push_message(self, message: dict[str, Any]) -> None:
        # Only the latest snapshot matters: replace a pending one.
        if message.get("type") == "snapshot":
            self.messages = [m for m in self.messages if m.get("type") != "snapshot"]
        self.messages.append(message)
        self.event.set()

    def take(self) -> tuple[list[bytes], list[dict[str, Any]]]:
        """The pending record chunks and messages (and clears them)."""
        chunks, messages = self.chunks, self.messages
        self.chunks, self.counts, self.pending, self.messages = [], [], 0, []
        self.event.clear()
        return chunks, messages


class RunSession:
    """One live run plus its play state and watchers."""

    def __init__(
        self,
        run_id: str,
        run: Run,
        play_counts: Callable[[], tuple[int, int]] = lambda: (1, 1),
        executor: Executor | None = None,
        play_executor: Executor | None = None,
        owner: str = "",
        watch_token: str | None = None,
    ) -> None:
        self.id = run_id
        self.owner = owner  # the owner token of the client that created the run
        # restored runs know their owner only by this hash ("owner" is then empty)
        self.owner_sha256 = token_hash(owner) if owner else ""
        self.saved: SavedRun | None = None  # its copy in the run store, if any
        self.watch_token = watch_token or new_watch_token()
        self._executor = executor  # None: the event loop's default executor
        self._play_executor = play_executor or executor  # for the play loop's chunks
        self._play_counts = play_counts  # (runs playing, runs playing at unlimited speed)
        self.run = run
        self.created = time.time()
        self.last_access = time.monotonic()
        self.lock = threading.Lock()
        self.playing = False
        self.speed: float | None = DEFAULT_SPEED  # steps per second; None = unlimited
        self.watchers: set[Watcher] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._seconds_per_step = 1e-4  # running estimate (CPU time) for unlimited speed
        self._budget_scale = 1.0  # share of the unlimited budget that keeps the frame rate
        self.closed = threading.Event()  # deleted or shut down: training requests stop
        self.reserved = 0  # estimated bytes of the run (app.budgets), set by the manager

    # ------------------------------------------------------------------ state
    def touch(self) -> None:
        self.last_access = time.monotonic()

    @property
    def status(self) -> str:
        if self.run.status in ("diverged", "stopped"):
            return self.run.status
        if self.playing:
            return "running"
        return "ready" if self.run.step_count == 0 else "paused"

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "step": self.run.step_count,
            "epoch": self.run.epoch,
            "created": self.created,
        }

    def describe(self) -> dict[str, Any]:
        """Full state for GET /api/runs/{id} (call with the lock held or from a thread)."""
        run = self.run
        return {
            **self.summary(),
            "config": run.config,
            "metrics": run.last_record,
            "divergence": run.divergence,
            "early_stopping": run.early_stopping_info,
            "layers": run.model.layer_names(),
            "task": run.dataset.task,
            "speed": self.speed,
            # the log itself (up to max_event_bytes) is at GET .../events and in exports
            "event_count": len(run.events),
            "event_bytes": run.event_bytes,
            "watch_token": self.watch_token,
        }

    def _save(self) -> None:
        """Save what changed to the run store (with the lock held, or from its thread)."""
        if self.saved is not None:
            run = self.run
            status = run.status if run.status != "ready" else (
                "paused" if run.step_count else "ready")
            self.saved.save(run.initial_config, run.events, (run.step_count, run.epoch, status))

    def save_after(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, then :meth:`_save` (with the lock held: pass to :meth:`locked`)."""
        result = fn(*args)
        self._save()
        return result

    def patch_events(self) -> list[dict[str, Any]]:
        """The live changes of the event log without weights edits (small: chart markers)."""
        return [e for e in self.run.events if "patch" in e]

    async def locked(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a request worker thread while holding the session lock."""

        def call() -> T:
            with self.lock:
                return fn(*args)

        self.touch()
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def _post_text(self, loop: asyncio.AbstractEventLoop, text: bytes, count: int) -> None:
        """From a worker thread holding the lock: hand ``count`` records, encoded as ``text``,
        to the watchers. Posting under the lock keeps every producer's records (requests, the
        play loop) in step order on the event loop. No watchers: nothing to wake it for."""
        if count and self.watchers:
            with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                loop.call_soon_threadsafe(self.broadcast_records, text, count)

    def _post_records(self, loop: asyncio.AbstractEventLoop, records: list[dict[str, Any]]) -> None:
        if records and self.watchers:
            self._post_text(loop, dumps(records)[1:-1], len(records))

    def _rows_fit(self, n: int) -> bool:
        """Whether the history will hold the rows of the next ``n`` steps, one per step."""
        history = self.run.history
        return history.stride == 1 and history.size + n <= history.capacity

    def _encode_rows(self, start: int, stop: int) -> bytes:
        """History rows ``start:stop`` as the JSON text of their records (no brackets)."""
        return records_json(*self.run.record_rows(start, stop))

    def _train_text(self, n: int, as_rows: bool, cancel: threading.Event | None = None,
                    cancellable: bool = False) -> tuple[bytes, int]:
        """Train ``n`` steps: (their records as JSON text without brackets, steps done).
        ``as_rows`` (the caller checked :meth:`_rows_fit`): without record dicts, the text
        encoded from the history rows. ``cancellable``: in slices that stop early when
        ``cancel`` or :attr:`closed` is set (a slice of slow steps can take long)."""
        run = self.run
        if not as_rows:
            if not cancellable:
                records = run.step(n)
            else:
                records = []
                self._train_cancellable(n, cancel, records)
            return dumps(records)[1:-1], len(records)
        start = run.history.size
        if cancellable:
            self._train_cancellable(n, cancel, None)
        else:
            run.step(n, collect=False)
        return self._encode_rows(start, run.history.size), run.history.size - start

    def _step_and_post(
        self, n: int, loop: asyncio.AbstractEventLoop, cancel: threading.Event | None = None
    ) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        self._train_cancellable(n, cancel, records)
        self._post_records(loop, records)
        self._save()
        return records

    def _stopped(self, cancel: threading.Event | None) -> bool:
        return self.closed.is_set() or (cancel is not None and cancel.is_set())

    def _train_cancellable(
        self, n: int, cancel: threading.Event | None, records: list[dict[str, Any]] | None
    ) -> None:
        """``run.step(n)`` (appending the records to ``records``; None: without record dicts)
        in slices of about ``CANCEL_SECONDS``, stopping early when ``cancel`` or
        :attr:`closed` is set, or at divergence. Same steps, same bits as one call."""
        run, done, size = self.run, 0, 1
        while done < n and not self._stopped(cancel):
            size = min(size, n - done)
            began, start = time.perf_counter(), run.step_count
            if records is None:
                run.step(size, collect=False)
            else:
                records.extend(run.step(size))
            done += size
            if run.status != "ready":  # diverged or stopped early
                break
            per_step = (time.perf_counter() - began) / max(run.step_count - start, 1)
            size = max(1, min(MAX_CHUNK, int(CANCEL_SECONDS / max(per_step, 1e-7))))

    def _advance_and_post(self, n: int, loop: asyncio.AbstractEventLoop,
                          cancellable: bool = False) -> int:
        """Train ``n`` steps, post their records to the watchers; returns the steps done.
        Without building record dicts while the history holds every step (the rows are
        cheaper to encode than the engine's dicts are to build, from 1 step on:
        ``bench/encode.py`` [2])."""
        text, done = self._train_text(n, self._rows_fit(n), cancellable=cancellable)
        self._post_text(loop, text, done)
        return done

    # ------------------------------------------------------------------ commands
    async def step(
        self, n: int, cancel: threading.Event | None = None
    ) -> list[dict[str, Any]]:
        """Train ``n`` steps and return their records (watchers get them too); fewer when
        ``cancel`` is set or the session closes meanwhile."""
        return await self.locked(self._step_and_post, n, asyncio.get_running_loop(), cancel)

    async def advance(self, n: int) -> int:
        """Train ``n`` steps for the watchers only; returns the steps done (fewer when the
        session closes meanwhile)."""
        return await self.locked(self.save_after, self._advance_and_post, n,
                                 asyncio.get_running_loop(), True)

    async def step_body(
        self, n: int, gzip_level: int | None, cancel: threading.Event | None = None
    ) -> bytes:
        """Train ``n`` steps and return the JSON body of the step response, ``{"records":
        [...], "step", "status", "divergence"}``, gzip-compressed at ``gzip_level`` unless None.

        The steps run under one hold of the lock (contiguous even while the run plays). While
        the history holds one row per step, the engine builds no record dicts and the records
        are encoded from the rows (:func:`app.jsonenc.records_json`; with nobody watching,
        after the lock is released), a few per cent cheaper than building the dicts.
        Watchers get the records in slices of ``STEP_SLICE`` as they are trained; the body
        reuses that text. A diverged run raises RunStateError. Training stops early (the body
        holds the steps done) when ``cancel`` is set or the session closes.
        """
        loop = asyncio.get_running_loop()

        def train() -> bytes:
            pieces: list[bytes] = []  # the records' text, "{...},{...}" per piece
            rows: tuple[Any, ...] | None = None
            with self.lock:
                run, history = self.run, self.run.history
                start = history.size
                as_rows = self._rows_fit(n)
                if as_rows and not self.watchers:
                    self._train_cancellable(n, cancel, None)
                    if self.watchers:  # someone started watching meanwhile: they get it all
                        pieces.append(self._encode_rows(start, history.size))
                        self._post_text(loop, pieces[0], history.size - start)
                    else:
                        rows = run.record_rows(start, history.size)
                else:
                    for size in slice_sizes(n):  # a diverged run raises on the first slice
                        if pieces and self._stopped(cancel):
                            break
                        text, done = self._train_text(size, as_rows, cancel, cancellable=True)
                        pieces.append(text)
                        self._post_text(loop, text, done)
                        if run.status != "ready":  # diverged or stopped early
                            break
                final = dumps({"step": run.step_count, "status": self.status,
                               "divergence": run.divergence,
                               "early_stopping": run.early_stopping_info})
                self._save()
            if rows is not None:
                pieces.append(records_json(*rows))
            body = b"".join((b'{"records":[', b",".join(pieces), b"],", final[1:]))
            return body if gzip_level is None else gzip_bytes(body, gzip_level)

        self.touch()
        return await loop.run_in_executor(self._executor, train)

    async def apply_patch(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        config = await self.locked(self.save_after, self.run.apply_patch, patch)
        self.reserved = run_bytes(config, self.run.event_bytes, self.run.limits.tables)
        self._wake.set()
        self.broadcast({"type": "config", "config": config, "step": self.run.step_count,
                        "event": self.run.events[-1]})
        return config

    async def reset(self, seed: int | None = None) -> None:
        await self.locked(self.save_after, self.run.reset, seed)
        self.broadcast({"type": "reset", **self.summary(), "config": self.run.config})
        await self.send_snapshot()

    def set_speed(self, steps_per_second: float | None) -> None:
        self.speed = steps_per_second
        self._wake.set()

    async def snapshot(self) -> dict[str, Any]:
        return await self.locked(self.run.snapshot)

    async def send_snapshot(self) -> None:
        if self.watchers:
            snap = await self.snapshot()
            self.broadcast({"type": "snapshot", **snap})

    # ------------------------------------------------------------------ broadcasting
    def broadcast_records(self, text: bytes, count: int) -> None:
        for w in self.watchers:
            w.push_records(text, count)

    def broadcast(self, message: dict[str, Any]) -> None:
        for w in self.watchers:
            w.push_message(message)

    def frame(self, chunks: list[bytes]) -> str:
        """The text of a ``frame`` message with the records of ``chunks``: ``{"type": "frame",
        "step", "status", "records": [...], "divergence"}``."""
        head = dumps({"type": "frame", "step": self.run.step_count, "status": self.status})
        tail = dumps({"divergence": self.run.divergence,
                      "early_stopping": self.run.early_stopping_info})
        return b"".join((head[:-1], b',"records":[', b",".join(chunks), b"],",
                         tail[1:])).decode()

    # ------------------------------------------------------------------ playing
    def play(self) -> None:
        if self.run.status == "diverged":
            raise RunStateError("run diverged; reset it before playing")
        if self.run.status == "stopped":
            raise RunStateError("early stopping stopped the run; reset it before playing")
        self.playing = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._play_loop(), name=f"play-{self.id}")
        self._wake.set()

    def pause(self) -> None:
        self.playing = False
        self._wake.set()

    def _chunk_size(self, carry: float, interval: float) -> tuple[int, float]:
        if self.speed is None:
            n = max(1, int(interval / self._seconds_per_step))
            return min(n, MAX_CHUNK), 0.0
        carry += self.speed * interval
        n = int(carry)
        return min(n, MAX_CHUNK), carry - n

    def _pacing(self) -> tuple[float, float, float]:
        """(frame interval, snapshot interval, training seconds per unlimited chunk), given how
        many runs are playing.

        Runs at unlimited speed share one core (one GIL): each trains about its share of a
        frame interval per chunk, so that every one of them gets a frame each interval (32
        runs: a 67 ms interval, chunks of at most 2.1 ms of training) instead of one run
        hogging the trainer for a whole interval while the others wait their turn.
        """
        playing, unlimited = self._play_counts()
        interval = max(1.0 / FRAME_RATE, max(1, playing) / MAX_TOTAL_FRAME_RATE)
        return (interval, max(SNAPSHOT_INTERVAL, max(1, playing) / MAX_TOTAL_SNAPSHOT_RATE),
                interval / max(1, unlimited))

    def _unless_busy(self, fn: Callable[..., T], *args: Any) -> T | None:
        """On the play thread: ``fn(*args)`` under the lock, or None if a request holds it
        (all play loops share this one thread, which must never wait for one run's lock)."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            return fn(*args)
        finally:
            self.lock.release()

    def _timed_chunk(self, n: int, loop: asyncio.AbstractEventLoop) -> tuple[int, float]:
        """``n`` steps (records posted to the watchers): the steps done and the CPU seconds
        they took (encoding included): time spent waiting for the GIL, held by other runs'
        chunks, is not the cost of these steps."""
        t0 = time.thread_time()
        done = self._advance_and_post(n, loop)
        return done, time.thread_time() - t0

    async def _play_loop(self) -> None:
        loop = asyncio.get_running_loop()
        carry = 0.0
        last_snapshot = 0.0
        last_tick = time.perf_counter()
        busy = 0.0  # seconds the previous iteration took before it waited
        try:
            while self.playing:
                interval, snapshot_interval, unlimited_budget = self._pacing()
                now = time.perf_counter()
                elapsed, last_tick = now - last_tick, now
                # Unlimited: this run's share of a frame interval, scaled down while a cycle
                # (waiting for a worker, training, the frame, the others' turns) takes longer
                # than the interval, so frames keep their rate and training takes what is left.
                # Paced: the steps due for the time that really passed (capped, so a stall is
                # not paid back at once).
                if self.speed is None:
                    waited = busy < interval  # the last cycle had time to spare
                    target = 1.25 if waited else 0.95 * interval / max(elapsed, 1e-6)
                    correction = min(1.25, max(0.8, target))
                    self._budget_scale = min(1.0, max(0.05, self._budget_scale * correction))
                    budget = unlimited_budget * self._budget_scale
                else:
                    budget = min(max(elapsed, interval), 0.25)
                n, carry = self._chunk_size(carry, budget)
                if n:
                    self.touch()
                    try:
                        chunk = await loop.run_in_executor(
                            self._play_executor, self._unless_busy, self._timed_chunk, n, loop
                        )
                    except RunStateError:  # diverged meanwhile (e.g. via POST .../step)
                        chunk = None
                        self.playing = False
                    if chunk is not None and chunk[0]:
                        per_step = chunk[1] / chunk[0]
                        self._seconds_per_step = 0.7 * self._seconds_per_step + 0.3 * per_step
                    if self.run.status != "ready":  # diverged or stopped early
                        self.playing = False
                if not self.playing:  # the final snapshot must not be skipped: wait for it
                    await self.send_snapshot()
                elif time.perf_counter() - last_snapshot >= snapshot_interval and self.watchers:
                    last_snapshot = time.perf_counter()
                    snap = await loop.run_in_executor(
                        self._play_executor, self._unless_busy, self.run.snapshot
                    )
                    if snap is not None:
                        self.broadcast({"type": "snapshot", **snap})
                if not self.playing:
                    break
                busy = time.perf_counter() - now
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, interval - busy))
            await self.locked(self._save)  # paused: the step it reached
        except Exception:  # never let a play loop die silently
            logger.exception("play loop of run %s failed", self.id)
            self.playing = False
        finally:
            for w in self.watchers:
                w.event.set()  # let writers send the final status

    async def close(self) -> None:
        self.closed.set()  # training requests stop between slices
        self.playing = False
        task = self._task
        if task is not None and not task.done():
            self._wake.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def add_watcher(self) -> Watcher:
        watcher = Watcher()
        self.watchers.add(watcher)
        self.touch()
        return watcher

    def remove_watcher(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        if not self.watchers:
            self.pause()  # nobody is watching: a playing run pauses


class RunManager:
    """All runs of the server, bounded in number and idle time: live sessions and, with a run
    store, the stored runs not replayed yet (:attr:`stored`)."""

    def __init__(self, settings: Settings, store: RunStore | None = None) -> None:
        self.settings = settings
        assert settings.data_dir is not None
        # uploaded tables (custom data): the engine's table source
        self.datasets = DatasetStore(settings.data_dir / "datasets", settings.max_samples)
        self.limits = Limits(
            max_hidden_layers=settings.max_hidden_layers,
            max_units=settings.max_units,
            max_samples=settings.max_samples,
            max_events=settings.max_events,
            max_event_bytes=settings.max_event_bytes,
            tables=self.datasets,
        )
        self.sessions: dict[str, RunSession] = {}
        self.store = store
        self.stored: dict[str, StoredRun] = {}  # in the store, replayed on first access
        self._restoring: dict[str, asyncio.Task[RunSession | None]] = {}
        # All engine work shares a few threads: with the GIL, more threads would not train
        # faster, they would only take turns away from the event loop (so /healthz and the
        # WebSocket writers stay prompt while every run trains flat out).
        self.executor = ThreadPoolExecutor(
            max_workers=settings.training_threads, thread_name_prefix="gradplay-train"
        )
        # Play loops train one chunk at a time, all runs taking turns on one thread: a second
        # thread would not train faster (GIL) but would take GIL turns from the event loop,
        # which sends the frames. Requests (POST .../step, PATCH, ...) use the threads above;
        # a play chunk never waits for a run's lock (it skips a run a request is training), so
        # a long request on one run does not stall the others.
        self.play_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gradplay-play")

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(24)  # 192 random bits

    # ------------------------------------------------------------------ the run store
    def open_store(self) -> int:
        """List the stored runs (not replayed yet; their idle time starts now). Returns how
        many. Blocking: call from a thread."""
        if self.store is None:
            return 0
        for entry in self.store.index():
            if entry.id not in self.sessions:
                self.stored[entry.id] = entry
        if self.stored:
            logger.info("%d stored runs listed from %s", len(self.stored), self.store.path)
        return len(self.stored)

    def find(self, run_id: str) -> RunSession | StoredRun | None:
        """The live session or the stored run with this id (nothing is replayed)."""
        return self.sessions.get(run_id) or self.stored.get(run_id)

    def runs(self) -> list[RunSession | StoredRun]:
        return [*self.sessions.values(), *self.stored.values()]

    async def restore(self, run_id: str) -> RunSession | None:
        """The live session of ``run_id``, replaying a stored run to its step first (once,
        however many requests ask at the same time). None: no such run, or it could not be
        replayed (logged; the stored copy is deleted)."""
        session = self.sessions.get(run_id)
        if session is not None or run_id not in self.stored:
            return session
        task = self._restoring.get(run_id)
        if task is None:
            task = asyncio.ensure_future(self._replay_stored(self.stored[run_id]))
            self._restoring[run_id] = task
            task.add_done_callback(lambda _: self._restoring.pop(run_id, None))
        return await asyncio.shield(task)

    async def _replay_stored(self, entry: StoredRun) -> RunSession | None:
        assert self.store is not None
        store, loop = self.store, asyncio.get_running_loop()

        def replay() -> Run | None:
            loaded = store.load(entry.id)
            if loaded is None:
                return None
            config, events, step = loaded
            return Run.replay(config, events, step, self.limits)

        try:
            run = await loop.run_in_executor(self.executor, replay)
        except Exception as exc:  # damaged data must not break the request: log, drop it
            reason = exc if isinstance(exc, StoredRunError | ConfigError) else repr(exc)
            logger.warning("stored run %s cannot be replayed, deleting it: %s", entry.id,
                           reason)
            run = None
        if self.stored.get(entry.id) is not entry:  # deleted or expired meanwhile
            return None
        del self.stored[entry.id]
        if run is None:
            await loop.run_in_executor(None, store.delete, entry.id)
            return None
        session = RunSession(entry.id, run, self.play_counts, self.executor,
                             self.play_executor, watch_token=entry.watch_token)
        session.owner_sha256 = entry.owner_sha256
        session.created = entry.created
        session.saved = SavedRun(store, entry.id, entry.owner_sha256, entry.watch_token,
                                 entry.created)
        session.saved.mark_saved(run.events, (entry.step, entry.epoch, entry.status))
        # the memory budget counts it from now on, and its PATCHes are size-checked
        session.reserved = run_bytes(run.config, run.event_bytes, run.limits.tables)
        run.config_check = lambda cfg: self.check_size(cfg, _changed_field(run.config, cfg))
        self.sessions[entry.id] = session
        return session

    async def flush(self) -> None:
        """Save the step of every run that trained since its last save (runs playing for a
        long time; a run a request is training is saved when the request ends)."""
        if self.store is None:
            return
        loop = asyncio.get_running_loop()
        for session in list(self.sessions.values()):
            await loop.run_in_executor(self.play_executor, session._unless_busy, session._save)

    # ------------------------------------------------------------------ runs
    async def create(self, config: Mapping[str, Any] | None, owner: str = "") -> RunSession:
        """A new session of ``owner``: the config is checked against ``max_run_mb`` (422) and
        room made (or 503) before the run is built."""
        need = self.check_size(resolve_config(config, self.limits))
        await self.check_room(owner, need)
        run = await asyncio.get_running_loop().run_in_executor(
            self.executor, Run, config, self.limits
        )
        return await self.add(run, owner, need)

    def check_size(self, config: Mapping[str, Any], field: str = "") -> int:
        """Estimated bytes of a resolved config; 422 (BudgetError at ``field``) over
        ``max_run_mb``."""
        return check_run_size(config, self.settings.max_run_mb, field, tables=self.limits.tables)

    def memory_used(self) -> int:
        """Estimated bytes of every live run (their reservations)."""
        return sum(s.reserved for s in self.sessions.values())

    def _idle_own(self, owner: str) -> list[RunSession]:
        """The owner's idle live runs (not playing, not watched), least recently used first.
        Stored runs not replayed yet hold no memory: evicting them would free nothing."""
        return sorted((s for s in self.owned_by(owner)
                       if isinstance(s, RunSession) and not s.playing and not s.watchers),
                      key=lambda s: s.last_access)

    def _memory_full(self, need: int) -> MemoryFullError:
        return MemoryFullError(need, self.memory_used(), self.settings.max_memory_mb,
                               self.retry_after())

    def owned_by(self, owner: str) -> list[RunSession | StoredRun]:
        """The runs of one client (owner token), compared in constant time."""
        digest = token_hash(owner)
        return [s for s in self.runs() if same_token(s.owner, owner)
                or (not s.owner and same_token(s.owner_sha256, digest))]

    def count(self) -> int:
        """Runs held: live and stored (not replayed yet)."""
        return len(self.sessions) + len(self.stored)

    def retry_after(self) -> int:
        """Seconds until the first idle run expires (60 when every run is in use)."""
        idle = [s.last_access for s in self.runs() if not s.watchers and not s.playing]
        if not idle:
            return 60
        left = min(idle) + self.settings.run_ttl_seconds - time.monotonic()
        return max(1, int(left) + 1)

    async def check_room(self, owner: str, need: int = 0) -> None:
        """Raise :class:`ServerFullError` or :class:`MemoryFullError` when a new run of
        ``owner`` needing ``need`` bytes could not be added (so nothing is built in vain)."""
        await self.expire()
        if self.count() >= self.settings.max_runs and not self.owned_by(owner):
            raise ServerFullError(self.settings.max_runs, self.retry_after())
        freeable = sum(s.reserved for s in self._idle_own(owner))
        if self.memory_used() - freeable + need > self.settings.max_memory_mb * 2**20:
            raise self._memory_full(need)

    async def add(self, run: Run, owner: str = "", need: int | None = None) -> RunSession:
        """Keep ``run`` (estimated ``need`` bytes; None: from its config) as a new session of
        ``owner``, evicting only the owner's own runs (longest idle first, playing ones last)
        to stay within the per-client quota and the server's bound, and the owner's idle runs
        (least recently used first) to stay within the memory budget; saved in the run store."""
        await self.expire()
        if need is None:
            need = run_bytes(run.config, run.event_bytes, run.limits.tables)
        limit = self.settings.max_memory_mb * 2**20
        for victim in self._idle_own(owner):
            if self.memory_used() + need <= limit:
                break
            await self.delete(victim.id)
        if self.memory_used() + need > limit:
            raise self._memory_full(need)
        own = self.owned_by(owner)
        while own and (len(own) >= self.settings.max_runs_per_client
                       or self.count() >= self.settings.max_runs):
            victim = min(own, key=lambda s: (s.playing, s.last_access))
            own.remove(victim)
            await self.delete(victim.id)
        if self.count() >= self.settings.max_runs:
            raise ServerFullError(self.settings.max_runs, self.retry_after())
        session = RunSession(self.new_id(), run, self.play_counts, self.executor,
                             self.play_executor, owner=owner)
        session.reserved = need
        run.config_check = lambda cfg: self.check_size(cfg, _changed_field(run.config, cfg))
        self.sessions[session.id] = session
        if self.store is not None:
            session.saved = SavedRun(self.store, session.id, session.owner_sha256,
                                     session.watch_token, session.created)
            await session.locked(session._save)
        return session

    def play_counts(self) -> tuple[int, int]:
        """(runs playing, runs playing at unlimited speed)."""
        playing = unlimited = 0
        for s in self.sessions.values():
            if s.playing:
                playing += 1
                unlimited += s.speed is None
        return playing, unlimited

    def get(self, run_id: str) -> RunSession | None:
        session = self.sessions.get(run_id)
        if session is not None:
            session.touch()
        return session

    async def delete(self, run_id: str) -> bool:
        """Stop and forget a run, also in the run store."""
        session = self.sessions.pop(run_id, None)
        entry = self.stored.pop(run_id, None)
        if session is None and entry is None:
            return False
        loop = asyncio.get_running_loop()
        if session is not None:
            if session.saved is not None:
                session.saved.gone.set()  # no save from here on writes it back
            await session.close()
            for w in list(session.watchers):
                w.push_message({"type": "deleted", "id": run_id})
        if self.store is not None:
            await loop.run_in_executor(None, self._forget, run_id)
        return True

    def _forget(self, run_id: str) -> None:
        assert self.store is not None
        SavedRun(self.store, run_id, "", "", 0.0).forget()

    async def expire(self) -> None:
        """Drop runs idle for longer than the TTL (watched or playing ones are kept)."""
        cutoff = time.monotonic() - self.settings.run_ttl_seconds
        for run in self.runs():
            if run.last_access < cutoff and not run.watchers and not run.playing:
                await self.delete(run.id)

    def begin_shutdown(self) -> None:
        """The server is stopping (SIGTERM): training in requests and play loops stops at its
        next slice, so in-flight requests end and every run can be saved. Thread- and
        signal-safe (sets flags only)."""
        logger.info("shutting down: stopping the training of %d runs", len(self.sessions))
        for session in list(self.sessions.values()):
            session.closed.set()
            session.playing = False

    def stop_training(self) -> None:
        """Make every training request stop at its next slice (thread-safe, sync: for a
        shutdown hook that runs before the lifespan exit, e.g. on SIGTERM)."""
        for session in list(self.sessions.values()):
            session.closed.set()

    async def close_all(self) -> None:
        """Shutdown: stop every run and save it to the run store; they leave memory (a later
        start of the app lists them from the store again)."""
        self.begin_shutdown()
        loop = asyncio.get_running_loop()
        sessions = list(self.sessions.values())
        for session in sessions:
            await session.close()
        if self.store is not None:
            await loop.run_in_executor(None, self._save_all, sessions)
        # no "deleted" to the watchers: the runs are not deleted, they come back after a restart
        self.sessions.clear()
        self.stored.clear()
        if self.store is not None:
            self.store.close()
        # The executor stays: an app may be started again (tests reuse one app); its idle
        # threads cost nothing and end with the process.

    @staticmethod
    def _save_all(sessions: list[RunSession]) -> None:
        deadline = time.monotonic() + SHUTDOWN_LOCK_SECONDS
        for session in sessions:
            # training stops at its next slice (closed); a step that cannot be interrupted
            # (one huge step) is not waited for: then the state before it is saved, which
            # the event log is consistent with (a change needs the lock)
            locked = session.lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
            try:
                session._save()
            except Exception:
                logger.exception("could not save run %s at shutdown", session.id)
            finally:
                if locked:
                    session.lock.release()
