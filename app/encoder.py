"""Encoding long step responses in helper processes, in parallel with training.

One server process has one GIL, and both training (many small NumPy calls) and JSON encoding
(``float.__repr__`` dominates: ~0.4 µs per number, ~30 numbers per record of a small net) hold
it. Encoding and gzipping the ~0.7 MB of a 1,000-step ``POST .../step`` response in the server
process adds 15-20 % to the training time. So a long step request trains in slices and sends
each finished slice (pickled: ~1 µs per record) to a helper process, which encodes and
compresses it on another core while the next slice trains; at the end the helper returns the
whole response body. See :meth:`app.sessions.RunSession.step_body`.

Design notes (each measured on the 2-core dev machine):

* One request pipe per helper, written by the training thread without blocking; nothing is
  read back until the end.
  A reader thread or ``ProcessPoolExecutor`` (management and feeder threads) would compete for
  the GIL with training on every slice and cost more than the encoding saves.
* The helper keeps the encoded body and one gzip stream until the request ends, so a full pipe
  never blocks it and the body is compressed progressively (gzip is the last step that would
  otherwise happen after training).
* Helpers start lazily and in the background; a request that finds no ready, idle helper, or
  whose helper fails, encodes in the server process instead (the records are kept anyway), so
  a request never fails because of a helper. ``GRADPLAY_ENCODER_PROCESSES=0`` disables them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import pickle
import threading
import zlib
from multiprocessing.connection import Connection
from typing import Any

from app.jsonenc import dumps

logger = logging.getLogger("gradplay")

FINISH_TIMEOUT_SECONDS = 30.0
REQUEST_PIPE_BYTES = 1 << 20
MAX_STARTUP_FAILURES = 3
"""After this many helpers died before becoming ready, stop starting new ones."""
_READY = b"ready"


def _serve(requests: Connection, results: Connection) -> None:
    """Helper process main loop. Messages on ``requests`` (pickled tuples):
    ``("begin", prefix, gzip_level)``, ``("records", [record, ...])``, ``("end", suffix)``;
    on ``end`` it writes to ``results`` the body: ``prefix + ",".join(record JSON) + suffix``,
    gzip-compressed unless the level is None."""
    results.send_bytes(_READY)
    out: list[bytes] = []
    compressor: Any = None
    separator = b""
    while True:
        try:
            message = pickle.loads(requests.recv_bytes())
        except (EOFError, OSError):  # the server closed its end or exited
            return
        kind = message[0]
        if kind == "begin":
            out, separator = [], b""
            level = message[2]
            compressor = None if level is None else zlib.compressobj(level, zlib.DEFLATED, 31)
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
            results.send_bytes(b"".join(out))
            out, compressor = [], None


class EncoderProcess:
    """One helper process and its two pipes. Used by one request at a time.

    The request pipe is enlarged (Linux: to 1 MiB, a whole 1,000-step request) and written
    without blocking: if the helper falls that far behind or stops, the write fails, the
    request encodes in-process and the helper is replaced, so training never waits on it.
    """

    def __init__(self, context: Any) -> None:
        child_requests, self.requests = context.Pipe(duplex=False)
        self.results, child_results = context.Pipe(duplex=False)
        with contextlib.suppress(AttributeError, OSError):  # not Linux, or above the maximum
            fcntl.fcntl(self.requests.fileno(), fcntl.F_SETPIPE_SZ, REQUEST_PIPE_BYTES)
        os.set_blocking(self.requests.fileno(), False)
        self.process = context.Process(
            target=_serve, args=(child_requests, child_results), name="gradplay-encoder",
            daemon=True,
        )
        self.process.start()
        child_requests.close()
        child_results.close()
        self._ready = False

    def ready(self) -> bool:
        """True once the helper has started (non-blocking)."""
        if not self._ready and self.process.is_alive() and self.results.poll():
            self._ready = self.results.recv_bytes() == _READY
        return self._ready

    def begin(self, prefix: bytes, gzip_level: int | None) -> None:
        """Start a body; ``gzip_level`` None means uncompressed."""
        self._send(("begin", prefix, gzip_level))

    def add(self, records: list[dict[str, Any]]) -> None:
        self._send(("records", records))

    def finish(self, suffix: bytes) -> bytes:
        """The whole body (blocks until the helper has encoded the last slice)."""
        self._send(("end", suffix))
        if not self.results.poll(FINISH_TIMEOUT_SECONDS):
            raise TimeoutError("JSON encoder process did not answer")
        return self.results.recv_bytes()

    def _send(self, message: tuple[Any, ...]) -> None:
        """Raises OSError (BlockingIOError: the pipe is full; BrokenPipeError: the helper
        died); the helper must then be released as unhealthy."""
        self.requests.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

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
        self.processes = processes
        self._idle: list[EncoderProcess] = []
        self._count = 0  # helpers started and not closed (idle or in use)
        self._startup_failures = 0
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")  # fork + threads is unsafe

    def start(self) -> None:
        """Start missing helpers in the background (they are ready a fraction of a second
        later; until then requests encode in-process)."""
        with self._lock:
            while self._count < self.processes:
                self._idle.append(EncoderProcess(self._context))
                self._count += 1

    def acquire(self) -> EncoderProcess | None:
        """An idle, ready helper, or None (then the caller encodes in-process)."""
        dead: list[EncoderProcess] = []
        with self._lock:
            for helper in list(self._idle):
                if helper.ready():
                    self._idle.remove(helper)
                    return helper
                if not helper.process.is_alive():  # died before it became ready
                    self._idle.remove(helper)
                    self._count -= 1
                    dead.append(helper)
        for helper in dead:
            self._startup_failures += 1
            logger.warning("JSON encoder process exited with code %s at startup",
                           helper.process.exitcode)
            helper.close()
        if self._startup_failures >= MAX_STARTUP_FAILURES:
            if self.processes:
                logger.error("JSON encoder processes keep failing; encoding in the server process")
            self.processes = 0
        self.start()
        return None

    def release(self, helper: EncoderProcess, healthy: bool = True) -> None:
        """Give a helper back; an unhealthy one is stopped (and replaced on the next use)."""
        if healthy and helper.process.is_alive():
            with self._lock:
                if self._count <= self.processes:  # not closed meanwhile
                    self._idle.append(helper)
                    return
        logger.warning("JSON encoder process failed; the next request starts a new one")
        with self._lock:
            self._count -= 1
        helper.close(kill=True)

    def close(self) -> None:
        """Stop the idle helpers (helpers in use stop when released); ``start`` restarts."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for helper in idle:
            helper.close()
