"""ASGI application factory: ``app.main:app`` is ``create_app()`` with settings from the env.

Middleware, outermost first::

    SecurityHeaders -> TrustedHost -> RequestGuard -> BodySizeLimit -> GzipRequest -> GZip
    -> CatchAll(500) -> FastAPI routing

so every response (400, 403, 413, 415, 500 and static files included) carries the security
headers; a ``Host`` outside ``GRADPLAY_ALLOWED_HOSTS`` (Starlette's ``TrustedHostMiddleware``,
400), a cross-site ``Origin`` (403) and a non-JSON body (415) are refused first
(:class:`app.security.RequestGuardMiddleware`), and oversized bodies before any parsing.
GzipRequest inflates gzip import bodies (up to ``max_import_bytes``); imports and uploads
have body limits of their own (``max_import_bytes``, ``max_upload_bytes``). GZip compresses for
remote clients only (see :mod:`app.compression`). The plotly.js bundle is pre-compressed and
marked ``Content-Encoding: gzip``, which GZipMiddleware leaves alone.

``/docs`` (Swagger UI) and ``/redoc`` serve their JS/CSS from the installed ``fastapi-offline``
package (:mod:`app.api_docs`): they work offline, under the same CSP as every page.
"""

from __future__ import annotations

# first: importing core limits BLAS to one thread, which only works before NumPy loads
import core  # isort: skip  # noqa: F401

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app.api_docs import install_api_docs
from app.api_reference import inline_markdown
from app.compression import GZIP_LEVEL, RemoteGZipMiddleware
from app.errors import CatchAllMiddleware, install_error_handlers
from app.jsonsafe import SafeJSONResponse
from app.owners import TokenSigner, signing_key
from app.routers import datasets, labs, meta, pages, questions, runs, searches, stream
from app.run_store import RunStore
from app.search.manager import SearchManager
from app.security import (
    BodySizeLimitMiddleware,
    GzipRequestMiddleware,
    RequestGuardMiddleware,
    SecurityHeadersMiddleware,
)
from app.sessions import RunManager
from app.settings import Settings
from app.static_files import install_static

UPLOAD_PATH = "/api/datasets"
"""The one path that takes multipart forms (CSV uploads) and ``max_upload_bytes`` bodies."""
IMPORT_PATH = "/api/runs/import"
"""The one path that takes gzip bodies and ``max_import_bytes`` bodies (an export embeds the
whole table of a custom-data run)."""
IMPORT_LIMIT_NOTE = "GRADPLAY_MAX_IMPORT_BYTES; an export with ?history=false is smaller"

DESCRIPTION = """
GradPlay: a visual playground for how neural networks train.

* **meta**: health check and the catalog of every named component (activations, initializers,
  losses, optimizers, schedules, datasets, regularization, gradient clipping) with parameter
  schemas, formulas and the server limits.
* **labs**: stateless calculators (schedule previews, activation curves, conv output sizes).
* **runs**: training runs (create, step, live changes, history, snapshots, weights,
  export/import, Plotly figures) and the WebSocket stream `/api/runs/{id}/stream`.

Runs belong to their client: `POST /api/runs` answers an `owner_token` (also set as an
HttpOnly cookie for browsers; scripts send `Authorization: Bearer <owner_token>`), needed to
list, change, step, delete and control-stream the client's runs, and a read-only `watch_token`
per run (`?watch=<watch_token>`: read and stream, no control). A run the caller has no token
for answers 404; a watch token on a change answers 403. POST, PUT and PATCH bodies must be
`Content-Type: application/json` (else 415); requests from another web site (`Origin`) are
refused with 403 and a `Host` outside `GRADPLAY_ALLOWED_HOSTS` with 400.

Runs survive a restart of the server: each is kept in the data directory as its config, event
log and step, listed at once after a restart and replayed to its step (bit for bit) when first
opened; ids, owner tokens and watch tokens stay valid.

Errors use FastAPI's `{"detail": ...}` shape; every invalid field is reported as
`{"loc": ["body", ...path], "msg": ..., "type": ...}` with status 422. JSON never contains
NaN or Infinity (non-finite numbers are `null`).
"""

OPENAPI_TAGS = [
    {"name": "meta", "description": "Health and the component catalog."},
    {"name": "labs", "description": "Stateless calculators behind the lab pages."},
    {"name": "runs", "description": "Training runs: create, step, change live, stream, export."},
    {"name": "datasets", "description": "Bring your own data: upload a CSV (or JSON rows) and "
     "train runs on it as dataset `custom`."},
    {"name": "searches", "description": "Hyperparameter searches (grid, random, TPE on Optuna) "
     "whose trials run in worker processes."},
    {"name": "questions", "description": "The interview-question bank behind /questions."},
]

EXPIRY_INTERVAL_SECONDS = 60.0


SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_shutdown_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` as soon as SIGTERM/SIGINT arrives, before the server's own handler
    (uvicorn's: it then waits up to ``timeout_graceful_shutdown`` for open requests before
    the lifespan ends). Returns the undo. Only in the main thread, and only on top of a
    Python handler (a server that handles the signals itself); otherwise a no-op."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    installed: dict[int, Any] = {}
    for sig in SHUTDOWN_SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous) or previous is signal.default_int_handler:
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            callback()
            previous(signum, frame)

        signal.signal(sig, handler)
        installed[sig] = (handler, previous)

    def undo() -> None:
        for sig, (handler, previous) in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return undo


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """List the runs kept in the data directory; expire idle runs and save playing runs'
    steps periodically; resume unfinished searches' workers. On SIGTERM/SIGINT, training
    stops at once (so open requests end within a second); at shutdown every run is saved and
    every play loop and search worker stops."""
    runs_manager: RunManager = app.state.runs
    searches_manager: SearchManager = app.state.searches
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, runs_manager.open_store)
    resume = loop.run_in_executor(None, searches_manager.resume)
    undo_signal_hook = on_shutdown_signal(runs_manager.begin_shutdown)

    async def expire_forever() -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL_SECONDS)
            await runs_manager.expire()
            await runs_manager.flush()

    task = asyncio.create_task(expire_forever())
    try:
        yield
    finally:
        undo_signal_hook()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await runs_manager.close_all()
        with contextlib.suppress(Exception):  # a storage that failed to open has no workers
            await resume
        await searches_manager.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` defaults to :meth:`Settings.from_env` (fails on bad env)."""
    settings = settings or Settings.from_env()
    assert settings.templates_dir is not None and settings.static_dir is not None

    app = FastAPI(
        title="GradPlay",
        summary="Visual playground for how neural networks train.",
        description=DESCRIPTION,
        version=meta.app_version(),
        openapi_tags=OPENAPI_TAGS,
        default_response_class=SafeJSONResponse,
        license_info={"name": "MIT"},
        docs_url=None,  # offline Swagger UI and ReDoc instead: install_api_docs below
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    assert settings.data_dir is not None
    app.state.runs = RunManager(settings, RunStore.in_dir(settings.data_dir))
    app.state.datasets = app.state.runs.datasets
    app.state.searches = SearchManager(settings)
    data_dir = settings.data_dir
    app.state.tokens = TokenSigner(lambda: signing_key(settings.secret_key, data_dir))

    install_error_handlers(app)
    app.include_router(meta.router)
    app.include_router(labs.router)
    app.include_router(runs.router)
    app.include_router(datasets.router)
    app.include_router(stream.router)
    app.include_router(searches.router)
    app.include_router(questions.router)
    app.include_router(pages.router)

    install_api_docs(app)  # before the /static mount: its asset routes must win
    asset = install_static(app, settings.static_dir)
    templates = Jinja2Templates(directory=settings.templates_dir)
    version = meta.app_version()
    templates.env.globals.update(
        plotly_js_url=asset.url,
        app_version=version,
        nav=pages.NAV,
        # cache-busting query so browsers refetch app assets after an upgrade
        static_url=lambda path: f"/static/{path.lstrip('/')}?v={version}",
    )
    templates.env.filters["inline_md"] = inline_markdown
    app.state.templates = templates
    app.state.plotly_js_url = asset.url

    # add_middleware wraps the current stack: the last one added is the outermost
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(RemoteGZipMiddleware, minimum_size=1024, compresslevel=GZIP_LEVEL)
    app.add_middleware(GzipRequestMiddleware, max_bytes=settings.max_import_bytes,
                       paths=frozenset({IMPORT_PATH}), setting=IMPORT_LIMIT_NOTE)
    # uploads and imports carry whole tables: they have larger limits of their own (an
    # upload is refused when its run export would not fit max_import_bytes: app.datasets)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       timeout=settings.request_timeout_seconds,
                       setting="GRADPLAY_MAX_BODY_BYTES",
                       path_limits={
                           UPLOAD_PATH: (settings.max_upload_bytes, "GRADPLAY_MAX_UPLOAD_BYTES"),
                           IMPORT_PATH: (settings.max_import_bytes, IMPORT_LIMIT_NOTE)})
    app.add_middleware(RequestGuardMiddleware, form_paths=frozenset({UPLOAD_PATH}))
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts),
                       www_redirect=False)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


app = create_app()
