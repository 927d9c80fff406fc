"""Offline API docs: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, no CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN and start them with an inline script,
so they are blank offline and need a relaxed CSP. Here the assets come from the installed
``fastapi-offline`` package (Swagger UI 5 and ReDoc 2, the files FastAPI's pages would fetch;
its wheel is ~0.8 MB, 2.8 MB installed) and are served like plotly.js
(:mod:`app.static_files`): versioned URLs under ``/static/vendor/``, immutable caching, gzip
made once (on the first request, so startup stays fast). The pages start Swagger UI from a
static module (``static/js/api_docs/swagger.js``) and ReDoc from its ``<redoc>`` element, so
they run under the app's one CSP (``script-src 'self'``; ReDoc's search runs in a ``blob:``
worker, hence ``worker-src 'self' blob:`` there). ``/openapi.json`` is the document.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from app.static_files import VendorAsset

ASSET_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSET_URL = f"/static/vendor/fastapi-offline-{version('fastapi-offline')}"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}


REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one remote URL in ReDoc's bundle: the logo of its "API docs by Redocly" sidebar link
(no option turns it off). Replaced by an empty image, which ReDoc hides (its ``onError``)."""


@cache
def docs_asset(name: str) -> VendorAsset:
    """One of ``ASSETS``, loaded and compressed once per process."""
    plain = (ASSET_DIR / name).read_bytes()
    if name == "redoc.standalone.js":
        plain = plain.replace(REDOC_LOGO, b"data:,")
    return VendorAsset.from_bytes(plain, f"{ASSET_URL}/{name}", ASSETS[name])


def install_api_docs(app: FastAPI) -> None:
    """Route ``/docs``, ``/redoc`` and their assets (call before the ``/static`` mount, so
    the asset paths win). The app must be created with ``docs_url=None, redoc_url=None``."""
    for name in ASSETS:

        async def asset(request: Request, name: str = name) -> Response:
            return docs_asset(name).response(request)

        app.add_api_route(f"{ASSET_URL}/{name}", asset, methods=["GET", "HEAD"],
                          include_in_schema=False, name=f"docs_asset_{name}")

    def page(template: str, request: Request) -> HTMLResponse:
        return request.app.state.templates.TemplateResponse(request, template, {
            "title": request.app.title,
            "openapi_url": request.app.openapi_url,
            "asset_url": ASSET_URL,
        })

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def swagger_ui(request: Request) -> HTMLResponse:
        return page("api_docs/swagger.html", request)

    @app.get("/redoc", include_in_schema=False, response_class=HTMLResponse)
    def redoc(request: Request) -> HTMLResponse:
        return page("api_docs/redoc.html", request)
