"""Static assets: the vendored plotly.js bundle and the project's ``static/`` folder.

(Swagger UI and ReDoc for ``/docs`` and ``/redoc`` are served the same way: :mod:`app.api_docs`.)

plotly.js (~4.8 MB) comes from the installed ``plotly`` Python package, so the app works offline
and needs no CDN. It is served at a versioned URL (``/static/vendor/plotly-<version>.min.js``)
that never changes content, hence the one-year ``immutable`` caching; the gzip body (~1.4 MB) is
computed once at startup. Templates get the URL from the Jinja global ``plotly_js_url``.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import plotly
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"


def _accepts_gzip(accept_encoding: str) -> bool:
    """True if ``Accept-Encoding`` lists gzip (or ``*``) with a non-zero quality."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    tags = (t.strip().removeprefix("W/") for t in if_none_match.split(","))
    return etag in tags


@dataclass(frozen=True)
class VendorAsset:
    """An immutable JavaScript (or CSS) file held in memory, plain and gzip-compressed."""

    url: str
    plain: bytes
    gzipped: bytes
    etag: str
    media_type: str = "text/javascript; charset=utf-8"

    @classmethod
    def from_file(cls, path: Path, url: str,
                  media_type: str = "text/javascript; charset=utf-8") -> VendorAsset:
        return cls.from_bytes(path.read_bytes(), url, media_type)

    @classmethod
    def from_bytes(cls, plain: bytes, url: str,
                   media_type: str = "text/javascript; charset=utf-8") -> VendorAsset:
        # mtime=0 makes the gzip bytes reproducible across restarts
        gzipped = gzip.compress(plain, compresslevel=9, mtime=0)
        etag = '"' + hashlib.sha256(plain).hexdigest()[:32] + '"'
        return cls(url=url, plain=plain, gzipped=gzipped, etag=etag, media_type=media_type)

    def response(self, request: Request) -> Response:
        headers = {"cache-control": IMMUTABLE, "etag": self.etag, "vary": "Accept-Encoding"}
        if _etag_matches(request.headers.get("if-none-match", ""), self.etag):
            return Response(status_code=304, headers=headers)
        if _accepts_gzip(request.headers.get("accept-encoding", "")):
            # Content-Encoding already set, so Starlette's GZipMiddleware leaves this alone
            headers["content-encoding"] = "gzip"
            body = self.gzipped
        else:
            body = self.plain
        if request.method == "HEAD":
            headers["content-length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type=self.media_type)
        return Response(body, headers=headers, media_type=self.media_type)


def plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


@cache
def plotly_asset() -> VendorAsset:
    """The bundled plotly.min.js, loaded and compressed once per process."""
    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    return VendorAsset.from_file(path, f"/static/vendor/plotly-{plotly_js_version()}.min.js")


def install_static(app: FastAPI, static_dir: Path) -> VendorAsset:
    """Route the plotly bundle and mount ``static_dir`` at ``/static``; returns the asset."""
    asset = plotly_asset()

    async def plotly_js(request: Request) -> Response:
        return asset.response(request)

    # registered before the /static mount so this exact path wins
    app.add_api_route(
        asset.url,
        plotly_js,
        methods=["GET", "HEAD"],
        include_in_schema=False,
        name="plotly_js",
    )
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    return asset
