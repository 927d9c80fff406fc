"""Closing connections that stall before their request headers are complete (slowloris).

uvicorn times out idle keep-alive connections, but not a client that opens a connection and
then sends its headers a byte a minute: each such connection holds a socket and a parser
forever. :func:`stall_guarded_protocol` gives ``gradplay serve`` an HTTP protocol class whose
every request must have its headers complete within ``timeout`` seconds of the connection
opening (or of the request's first byte, for later requests on a keep-alive connection);
otherwise the connection is closed. Stalled bodies are answered 408 by
:class:`app.security.BodySizeLimitMiddleware`.
"""

from __future__ import annotations

import asyncio
from typing import Any


def stall_guarded_protocol(timeout: float) -> type[Any] | None:
    """uvicorn's httptools protocol with a header deadline; None without httptools (uvicorn
    then uses its h11 protocol, unguarded)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency of uvicorn[standard]
        return None

    class StallGuardedProtocol(HttpToolsProtocol):  # type: ignore[misc]
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(timeout, self._stalled)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _stalled(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # idle keep-alive: uvicorn's own timeout_keep_alive applies

    return StallGuardedProtocol
