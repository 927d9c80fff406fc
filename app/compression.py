"""Response compression for remote clients only.

gzip saves bandwidth that a loopback connection does not lack, and costs CPU on both ends: at
level 1, ~4 ms to compress and ~3 ms to decompress a 1,000-step response (0.7 MB) on the dev
machine, about 5 % of the training it reports. So clients connecting from a loopback address
(``make run`` and a browser or notebook on the same machine) get plain bodies, and everyone
else gets gzip when they accept it. A reverse proxy on the same host connects via loopback too:
let it compress (e.g. nginx ``gzip on``).
"""

from __future__ import annotations

import ipaddress
import zlib

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

GZIP_LEVEL = 1
"""A 1,000-step response compresses in ~4 ms instead of ~27 ms at the default 9, for ~12 % more
bytes. (plotly.js is served precompressed at level 9; see :mod:`app.static_files`.)"""


def is_loopback_client(scope: Scope) -> bool:
    """True if the request comes from a loopback address (127.0.0.0/8, ::1, or 127.x mapped
    into IPv6 as ::ffff:127.x)."""
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:  # not an IP address (e.g. Starlette's TestClient says "testclient")
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def wants_gzip(scope: Scope, accept_encoding: str) -> bool:
    """Whether a dynamic response to this request should be gzip-compressed."""
    return "gzip" in accept_encoding and not is_loopback_client(scope)


class RemoteGZipMiddleware(GZipMiddleware):
    """Starlette's GZipMiddleware, skipped for loopback clients."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_loopback_client(scope):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def gzip_bytes(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """``data`` as one gzip member (what ``Content-Encoding: gzip`` expects)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()
