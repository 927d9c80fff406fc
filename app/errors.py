"""Exception handlers: one error format for clients.

* ``core.errors.ConfigError`` -> 422 ``{"detail": [{"loc": ["body", ...], "msg", "type"}]}``,
  the same shape as FastAPI's request validation errors.
* ``RequestValidationError`` -> FastAPI's 422 body, serialised NaN-safe (echoed inputs).
* ``core.errors.RebuildRequiredError`` (a ConfigError) -> 409, same list shape,
  ``"type": "rebuild_required"``.
* ``core.errors.RunStateError`` -> 409 ``{"detail": message}``.
* Any other exception -> logged, 500 ``{"detail": "internal error"}`` (no traceback leaks).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.jsonsafe import SafeJSONResponse
from core.errors import ConfigError, RebuildRequiredError, RunStateError

logger = logging.getLogger("gradplay")

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_loc(field: str) -> list[str | int]:
    """``"schedule.milestones[2]"`` -> ``["schedule", "milestones", 2]``."""
    parts: list[str | int] = []
    for name, index in _PART.findall(field):
        parts.append(int(index) if index else name)
    return parts


def config_error_items(
    exc: ConfigError, location: Sequence[str | int] = ("body",)
) -> list[dict[str, Any]]:
    """The FastAPI-style error list for an engine ConfigError (with ``ctx``, e.g. the numbers
    of a budget refusal, when the error carries one: :class:`app.budgets.BudgetError`)."""
    item: dict[str, Any] = {"loc": [*location, *field_loc(exc.field)], "msg": exc.message,
                            "type": "value_error"}
    ctx = getattr(exc, "ctx", None)
    if ctx:
        item["ctx"] = ctx
    return [item]


def config_error_as_validation(
    exc: ConfigError, location: Sequence[str | int] = ("body",)
) -> RequestValidationError:
    """Wrap a ConfigError for re-raising with another location (e.g. ``("query", "params")``)."""
    return RequestValidationError(config_error_items(exc, location))


async def _config_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConfigError)
    return SafeJSONResponse({"detail": config_error_items(exc)}, status_code=422)


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    # FastAPI's own handler, but NaN/inf echoed back in "input" must not break the JSON
    assert isinstance(exc, RequestValidationError)
    return SafeJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


async def _rebuild_required(request: Request, exc: Exception) -> Response:
    # a valid value that cannot be applied to a live run: conflict, same list shape as 422
    assert isinstance(exc, ConfigError)
    items = config_error_items(exc)
    items[0]["type"] = "rebuild_required"
    return SafeJSONResponse({"detail": items}, status_code=409)


async def _run_state_error(request: Request, exc: Exception) -> Response:
    return SafeJSONResponse({"detail": str(exc)}, status_code=409)


async def _unhandled(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return SafeJSONResponse({"detail": "internal error"}, status_code=500)


class CatchAllMiddleware:
    """Innermost pure ASGI middleware turning an unhandled exception into a logged 500.

    A handler registered for ``Exception`` runs in Starlette's outermost ServerErrorMiddleware,
    outside every user middleware (so its response would miss the security headers). Catching
    here keeps the 500 inside the stack. If the response had already started, the connection is
    simply closed (re-raising would only produce a second traceback).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = SafeJSONResponse({"detail": "internal error"}, status_code=500)
                await response(scope, receive, send)


_BODY_PARSE_DETAIL = "There was an error parsing the body"


def parse_error_text(cause: BaseException | None) -> str:
    """Why a JSON text could not be parsed, for people: Python's parser refuses nesting
    deeper than its recursion limit (about 1,000 levels) and integers over 4,300 digits."""
    if isinstance(cause, RecursionError):
        return "JSON nested too deeply (the parser's limit is about 1,000 levels)"
    if isinstance(cause, UnicodeDecodeError):
        return "body must be UTF-8 encoded JSON"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return (f"a JSON integer has more than {sys.get_int_max_str_digits()} digits (the "
                "parser's limit)")
    return "body must be UTF-8 encoded JSON"


async def _http_exception(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer, except that an unparseable body (e.g. not UTF-8) becomes the same
    422 as invalid JSON, so every operation has one documented status for bad bodies."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return _method_not_allowed(request)
    if exc.status_code == 400 and exc.detail == _BODY_PARSE_DETAIL:
        item = {"loc": ["body"], "msg": parse_error_text(exc.__cause__), "type": "json_invalid"}
        return SafeJSONResponse({"detail": [item]}, status_code=422)
    return await http_exception_handler(request, exc)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _leaf_routes(routes: Sequence[Any]) -> Iterator[Any]:
    """The routes of included routers one by one (FastAPI keeps an included router as one
    route object that dispatches to its own; ``effective_candidates`` lists them)."""
    for route in routes:
        candidates = getattr(type(route), "effective_candidates", None)
        if callable(candidates):
            yield from _leaf_routes(candidates(route))
        else:
            yield route


def _method_not_allowed(request: Request) -> Response:
    """405 whose ``Allow`` lists the methods of EVERY route on this path (Starlette's router
    names only the first route that matched the path, e.g. POST but not GET on /api/runs).
    Each method is probed against the router, so nested/included routers are covered."""
    path = request.url.path

    def matches(route: Any, method: str) -> Match:
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        return route.matches(scope)[0]

    routes = [r for r in _leaf_routes(request.app.router.routes)
              if matches(r, request.method) != Match.NONE]
    # A literal path (/api/runs/import) is its own resource, even though it also fits a
    # pattern (/api/runs/{run_id}): list only the literal routes' methods then.
    literal = [r for r in routes if not getattr(r, "param_convertors", None)]
    routes = literal or routes
    allowed = [
        method for method in _METHODS if any(matches(r, method) == Match.FULL for r in routes)
    ]
    allow = ", ".join(allowed)
    return SafeJSONResponse(
        {"detail": f"method {request.method} not allowed; allowed: {allow}"},
        status_code=405,
        headers={"Allow": allow},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(RebuildRequiredError, _rebuild_required)  # subclass: 409, not 422
    app.add_exception_handler(RunStateError, _run_state_error)
    # last resort for errors raised by middleware itself; CatchAllMiddleware handles the rest
    app.add_exception_handler(Exception, _unhandled)
