"""Pure ASGI middleware: security headers, a request body size limit, gzip request bodies,
and a guard against cross-site requests (``Origin`` and ``Content-Type`` checks).

All are plain ASGI (not ``BaseHTTPMiddleware``) so they never buffer responses; the headers
and size limit pass WebSocket connections through untouched, the guard checks their
``Origin``.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.jsonsafe import SafeJSONResponse

# plotly.js needs inline styles (it sets style attributes and injects <style> rules); it needs
# no eval, workers or blob scripts for the SVG traces GradPlay draws. The browser-side UI talks
# to the API via fetch and WebSockets on the same origin. /docs and /redoc (Swagger UI, ReDoc:
# app/api_docs.py) run under this policy too; ReDoc's search index runs in a worker made from a
# blob: URL by its (same-origin) script, hence worker-src blob:.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' ws: wss:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

_STATIC_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, no-referrer and frame-denial headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = ((b"content-security-policy", CSP.encode()), *_STATIC_HEADERS)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


class BodySizeLimitMiddleware:
    """Rejects HTTP request bodies larger than ``max_bytes`` with 413.

    A body that does not arrive within ``timeout`` seconds (a stalled client) is a 408.
    A declared ``Content-Length`` over the limit is refused before reading anything. Otherwise
    (including chunked bodies without a length) the body is read and counted up front; the app
    only runs once the whole body is known to fit, replaying the buffered messages. Bodies are
    small JSON documents, so buffering at most ``max_bytes`` costs nothing.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float | None = None,
                 path_limits: Mapping[str, tuple[int, str]] | None = None,
                 setting: str = "") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.setting = setting  # named in the 413, e.g. "GRADPLAY_MAX_BODY_BYTES"
        # e.g. uploads and imports: a larger limit of their own, (bytes, what the 413 names)
        self.path_limits = dict(path_limits or {})

    def _too_large(self, limit: int, setting: str) -> SafeJSONResponse:
        named = f" ({setting})" if setting else ""
        return SafeJSONResponse(
            {"detail": f"request body too large: the limit is {limit} bytes{named}"},
            status_code=413,
            headers={"connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.path_limits.get(scope.get("path", ""),
                                              (self.max_bytes, self.setting))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1  # malformed; the server rejects it, or we count below
                if declared > limit:
                    await self._too_large(limit, setting)(scope, receive, send)
                    return
                break

        buffered: list[Message] = []
        total = 0
        deadline = None if self.timeout is None else asyncio.get_running_loop().time() + (
            self.timeout)
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                response = SafeJSONResponse(
                    {"detail": f"request body not received within {self.timeout:g} s"},
                    status_code=408,
                    headers={"connection": "close"},
                )
                await response(scope, receive, send)
                return
            buffered.append(message)
            if message["type"] != "http.request":
                break  # e.g. http.disconnect: let the app see it
            total += len(message.get("body", b""))
            if total > limit:
                await self._too_large(limit, setting)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)


class GzipRequestMiddleware:
    """Accepts ``Content-Encoding: gzip`` request bodies on ``paths`` (``POST
    /api/runs/import``), decompressing at most ``max_bytes`` (a zip bomb stops there: 413).

    Sits inside :class:`BodySizeLimitMiddleware`, so the compressed body is bounded by the
    body limit of its path first (for imports ``max_import_bytes`` too). A gzip body
    elsewhere, or any other encoding, is a 415.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, paths: frozenset[str],
                 setting: str = "") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths
        self.setting = setting  # named in the 413

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = b""
        for name, value in scope.get("headers", []):
            if name == b"content-encoding":
                encoding = value.strip().lower()
        if encoding in (b"", b"identity"):
            await self.app(scope, receive, send)
            return
        if encoding != b"gzip" or scope.get("path") not in self.paths:
            allowed = ", ".join(sorted(self.paths))
            response = SafeJSONResponse(
                {"detail": f"Content-Encoding {encoding.decode('latin-1')!r} is not accepted "
                           f"here; only gzip, and only on POST {allowed}"},
                status_code=415,
            )
            await response(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
        try:
            body = inflater.decompress(b"".join(chunks), self.max_bytes + 1)
        except zlib.error:
            body, inflater = b"", None
        if len(body) > self.max_bytes:
            response = SafeJSONResponse(
                {"detail": f"decompressed body too large: the limit is {self.max_bytes} bytes"
                           + (f" ({self.setting})" if self.setting else "")},
                status_code=413,
            )
            await response(scope, receive, send)
            return
        if inflater is None or not inflater.eof or inflater.unused_data:
            item = {"loc": ["body"], "msg": "body must be one complete gzip stream",
                    "type": "value_error"}
            await SafeJSONResponse({"detail": [item]}, status_code=422)(scope, receive, send)
            return
        headers = [(n, v) for n, v in scope["headers"]
                   if n not in (b"content-encoding", b"content-length")]
        headers.append((b"content-length", str(len(body)).encode()))
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app({**scope, "headers": headers}, replay, send)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_MEDIA_TYPE = "application/json"


def _split_host(netloc: str, default_port: str | None) -> tuple[str, str | None] | None:
    """``"Example.org:443"`` -> ``("example.org", None)`` when 443 is the default port;
    ``None`` when unparseable."""
    try:
        parts = urlsplit("//" + netloc)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    text = None if port is None or str(port) == default_port else str(port)
    return parts.hostname.lower(), text


def origin_matches_host(origin: str, host: str) -> bool:
    """Whether ``Origin`` names the host the request was sent to (``Host``): same host name
    and port. The scheme is not compared: behind a TLS proxy the page is ``https`` while the
    request reaches the app over plain HTTP with the same ``Host``."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # includes "null" (sandboxed or privacy-stripped origins)
    default = "443" if parts.scheme == "https" else "80"
    return _split_host(parts.netloc, default) == _split_host(host, default) is not None


class RequestGuardMiddleware:
    """Refuses cross-site requests that browsers would send without asking (CSRF).

    * A WebSocket handshake, or an HTTP request that may change state (any method but GET,
      HEAD, OPTIONS), with an ``Origin`` header that does not name this server (the ``Host``
      it was sent to) is refused with 403. Browsers always send ``Origin`` on these; scripts
      (httpx, websockets, curl) send none and pass.
    * POST, PUT and PATCH must send their body as ``Content-Type: application/json``: a form
      (``application/x-www-form-urlencoded``, ``multipart/form-data``) or ``text/plain`` POST,
      which another web site could send without a CORS preflight, gets 415. A request without
      a body and without ``Content-Type`` (e.g. ``POST .../step`` with the default 1 step)
      passes. ``form_paths`` (the CSV upload, ``POST /api/datasets``) also take
      ``multipart/form-data``: the ``Origin`` check above still refuses other sites' forms.

    The ``Host`` itself is checked by Starlette's ``TrustedHostMiddleware`` (outside this one)
    against ``GRADPLAY_ALLOWED_HOSTS``, so a same-origin ``Origin`` is an allowed host too.
    """

    def __init__(self, app: ASGIApp, form_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.form_paths = form_paths

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> SafeJSONResponse | None:
        method = scope.get("method", "GET")
        origin = headers.get(b"origin")
        if origin is not None and (scope["type"] == "websocket" or method not in SAFE_METHODS):
            host = headers.get(b"host", b"").decode("latin-1")
            text = origin.decode("latin-1")
            if not origin_matches_host(text, host):
                return SafeJSONResponse(
                    {"detail": f"cross-origin request refused: Origin {text!r} is not this "
                               f"server ({host!r})"},
                    status_code=403,
                )
        if scope["type"] != "http" or method not in BODY_METHODS:
            return None
        content_type = headers.get(b"content-type")
        if content_type is None:
            length = headers.get(b"content-length", b"0").strip()
            if length in (b"", b"0") and b"transfer-encoding" not in headers:
                return None  # no body: nothing to misread
            got = "no Content-Type"
        else:
            media = content_type.decode("latin-1").split(";", 1)[0].strip().lower()
            if media == JSON_MEDIA_TYPE:
                return None
            if media == "multipart/form-data" and scope.get("path") in self.form_paths:
                return None
            got = f"Content-Type {media!r}"
        return SafeJSONResponse(
            {"detail": f"request body must be JSON: send Content-Type: {JSON_MEDIA_TYPE} "
                       f"(got {got})"},
            status_code=415,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {name.lower(): value for name, value in scope.get("headers", [])}
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                # for a WebSocket, Starlette sends it as a denial response (HTTP status)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
