"""JSON responses that never contain NaN or Infinity (the encoding lives in :mod:`app.jsonenc`)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from app.jsonenc import dumps, sanitize

__all__ = ["SafeJSONResponse", "dumps", "sanitize"]


class SafeJSONResponse(JSONResponse):
    """The app's default response class: like JSONResponse, but NaN/±inf become ``null``."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
