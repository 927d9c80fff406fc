"""Encoding long step responses in helper processes, in parallel with training.

One server process has one GIL, and both training (many small NumPy calls) and JSON encoding
(``float.__repr__`` dominates: ~0.4 µs per number, ~30 numbers per record of a small net) hold
it. Encoding and gzipping the ~0.7 MB of a 1,000-step ``POST .../step`` response in the server
process adds 15-20 % to the training time. So a long step request trains in slices and sends
each finished slice (pickled: ~1 µs per record) to a helper process, which encodes (and, for
remote clients, compresses) it on another core while the next slice trains; at the end the
helper returns the whole response body. See :meth:`app.sessions.RunSession.step_body`.

Design notes (each measured on the 2-core dev machine):

* One request pipe per helper, written by the training thread; nothing is read back until the
  end. A reader thread or ``ProcessPoolExecutor`` (management and feeder threads) would compete
  for the GIL with training on every slice and cost more than the encoding saves.
* The helper keeps the encoded body and one gzip stream until the request ends, so it never
  waits for the server to read, and the body is compressed progressively.
* Every wait on a helper has a deadline (the pipes are non-blocking on the server's side, with
  their own length-prefixed framing): a helper that dies, stops or falls far behind is killed
  and replaced, and the request encodes in-process instead (the records are kept anyway), so a
  request never fails or hangs because of a helper.
* Helpers start lazily, in the background; until one is ready, requests encode in-process.
  ``GRADPLAY_ENCODER_PROCESSES=0`` disables them (so does a platform without ``fcntl``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import select
import struct
import threading
import time
import zlib
from multiprocessing.connection import Connection
from typing import Any

from app.jsonenc import dumps

try:
    import fcntl
except ImportError:  # Windows: no helpers (non-blocking pipes need POSIX)
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("gradplay")

SEND_TIMEOUT_SECONDS = 5.0
"""A slice that cannot be written within this time means the helper is stuck."""
FINISH_TIMEOUT_SECONDS = 10.0
"""Time to wait for the body after the last slice (normally ~1 ms)."""
PIPE_BYTES = 1 << 20
"""Requested pipe size (Linux ``F_SETPIPE_SZ``, both directions): a whole 1,000-step request
fits, so the training thread never waits for the helper, and the body comes back in one read
instead of 64 KiB round trips between the processes (~2 ms)."""
MAX_STARTUP_FAILURES = 3
"""After this many helpers in a row failed to start, stop starting new ones."""
_READY = b"ready"
_HEADER = struct.Struct("!Q")


# ---------------------------------------------------------------------------- framing
def _write_message(fd: int, payload: bytes, deadline: float | None) -> None:
    """Length-prefixed write; ``deadline`` (monotonic) for a non-blocking ``fd``, None for a
    blocking one. Raises TimeoutError or OSError (BrokenPipeError: the reader is gone)."""
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            remaining = -1.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise TimeoutError("JSON encoder process is not reading") from None


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while n:
        try:
            chunk = os.read(fd, min(n, 1 << 20))
        except BlockingIOError:
            remaining = -1.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError("JSON encoder process did not answer") from None
            continue
        if not chunk:
            raise EOFError("JSON encoder process closed its pipe")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_message(fd: int, deadline: float | None) -> bytes:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    return _read_exact(fd, size, deadline)


# ---------------------------------------------------------------------------- the helper
def _serve(requests: Connection, results: Connection) -> None:
    """Helper process main loop. Messages on ``requests`` (pickled tuples):
    ``("begin", prefix, gzip_level)``, ``("records", [record, ...])``, ``("end", suffix)``;
    on ``end`` it writes to ``results`` the body: ``prefix + ",".join(record JSON) + suffix``,
    gzip-compressed unless the level is None. Any pipe error ends it quietly (the server
    closed its end, exited, or gave up on this helper)."""
    inbox, outbox = requests.fileno(), results.fileno()
    out: list[bytes] = []
    compressor: Any = None
    separator = b""
    try:
        _write_message(outbox, _READY, None)
        while True:
            message = pickle.loads(_read_message(inbox, None))
            kind = message[0]
            if kind == "begin":
                out, separator = [], b""
                level = message[2]
                compressor = None if level is None else zlib.compressobj(level, zlib.DEFLATED,
                                                                         31)
                chunk = message[1]
            elif kind == "records":
                chunk = separator + dumps(message[1])[1:-1]  # drop the list's brackets
                separator = b","
            else:  # "end"
                chunk = message[1]
            out.append(compressor.compress(chunk) if compressor is not None else chunk)
            if kind == "end":
                if compressor is not None:
                    out.append(compressor.flush())
                _write_message(outbox, b"".join(out), None)
                out, compressor = [], None
    except (EOFError, OSError):
        return


class EncoderProcess:
    """One helper process and its two pipes. Used by one request at a time.

    The server's ends are non-blocking and every wait has a deadline, so training never
    waits long for a helper; any error means the helper must be released as unhealthy.
    """

    def __init__(self, context: Any, generation: int) -> None:
        self.generation = generation
        child_requests, self.requests = context.Pipe(duplex=False)
        self.results, child_results = context.Pipe(duplex=False)
        try:
            for conn in (self.requests, self.results):
                with contextlib.suppress(AttributeError, OSError):  # not Linux, or over the max
                    fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            os.set_blocking(self.requests.fileno(), False)
            os.set_blocking(self.results.fileno(), False)
            self.process = context.Process(
                target=_serve, args=(child_requests, child_results), name="gradplay-encoder",
                daemon=True,
            )
            self.process.start()
        except BaseException:
            for conn in (self.requests, self.results):
                conn.close()
            raise
        finally:
            child_requests.close()
            child_results.close()
        self._ready = False

    def ready(self) -> bool:
        """True once the helper has started (non-blocking)."""
        if not self._ready and self.process.is_alive():
            with contextlib.suppress(TimeoutError, EOFError, OSError):
                fd = self.results.fileno()
                if select.select([fd], [], [], 0)[0]:
                    self._ready = _read_message(fd, time.monotonic() + 1.0) == _READY
        return self._ready

    def begin(self, prefix: bytes, gzip_level: int | None) -> None:
        """Start a body; ``gzip_level`` None means uncompressed."""
        self._send(("begin", prefix, gzip_level))

    def add(self, records: list[dict[str, Any]]) -> None:
        self._send(("records", records))

    def finish(self, suffix: bytes) -> bytes:
        """The whole body (waits until the helper has encoded the last slice)."""
        self._send(("end", suffix))
        return _read_message(self.results.fileno(), time.monotonic() + FINISH_TIMEOUT_SECONDS)

    def _send(self, message: tuple[Any, ...]) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        _write_message(self.requests.fileno(), payload, time.monotonic() + SEND_TIMEOUT_SECONDS)

    def close(self, kill: bool = False) -> None:
        """Close the pipes (a healthy helper then exits by itself); ``kill`` for a broken one."""
        self.requests.close()
        self.results.close()
        if kill:
            self.process.kill()
        self.process.join(timeout=1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=1.0)


class RecordEncoder:
    """Up to ``processes`` helpers, handed out one request at a time (thread-safe)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes if fcntl is not None else 0
        self._idle: list[EncoderProcess] = []
        self._count = 0  # helpers of the current generation, idle or in use
        self._generation = 0  # bumped by close(): older helpers are stopped when released
        self._startup_failures = 0  # in a row
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")  # fork + threads is unsafe

    def start(self) -> None:
        """Start missing helpers in the background (ready a fraction of a second later)."""
        while True:
            with self._lock:
                if self._count >= self.processes:
                    return
                self._count += 1
                generation = self._generation
            try:
                helper = EncoderProcess(self._context, generation)
            except OSError as exc:  # no processes or file descriptors left, ...
                logger.warning("could not start a JSON encoder process: %s", exc)
                self._startup_failed()
                with self._lock:
                    self._count -= 1
                return
            with self._lock:
                if generation == self._generation:
                    self._idle.append(helper)
                    continue
            helper.close(kill=True)  # closed meanwhile

    def _startup_failed(self) -> None:
        with self._lock:
            self._startup_failures += 1
            give_up = self._startup_failures >= MAX_STARTUP_FAILURES and self.processes > 0
            if give_up:
                self.processes = 0
        if give_up:
            logger.error("JSON encoder processes keep failing; encoding in the server process")

    def acquire(self) -> EncoderProcess | None:
        """An idle, ready helper, or None (then the caller encodes in-process)."""
        dead: list[EncoderProcess] = []
        with self._lock:
            for helper in list(self._idle):
                if helper.ready():
                    self._idle.remove(helper)
                    self._startup_failures = 0
                    return helper
                if not helper.process.is_alive():  # died before it became ready
                    self._idle.remove(helper)
                    self._count -= 1
                    dead.append(helper)
        for helper in dead:
            logger.warning("JSON encoder process exited with code %s at startup",
                           helper.process.exitcode)
            helper.close()
            self._startup_failed()
        self.start()
        return None

    def release(self, helper: EncoderProcess, healthy: bool = True) -> None:
        """Give a helper back; an unhealthy one is stopped (and replaced on the next use), as
        is one started before the last ``close``."""
        with self._lock:
            current = helper.generation == self._generation
            if current and healthy and helper.process.is_alive():
                self._idle.append(helper)
                return
            if current:
                self._count -= 1
        if current:
            logger.warning("JSON encoder process failed; the next request starts a new one")
        helper.close(kill=not healthy)

    def close(self) -> None:
        """Stop the idle helpers now and the ones in use when they are released; a later
        ``start`` (or ``acquire``) starts new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._count = 0
            self._generation += 1
        for helper in idle:
            helper.close()
