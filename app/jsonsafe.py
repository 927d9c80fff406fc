"""JSON responses that never contain NaN or Infinity (orjson; the encoding lives in
:mod:`app.jsonenc`)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from app.jsonenc import dumps, sanitize

__all__ = ["SafeJSONResponse", "dumps", "sanitize"]


class SafeJSONResponse(JSONResponse):
    """The app's default response class (FastAPI's ``default_response_class``): like
    JSONResponse, but written by orjson (NumPy arrays and scalars included) and NaN/±inf
    become ``null``. FastAPI's own ``ORJSONResponse`` is deprecated (it points to Pydantic
    response models, which know no NumPy) and would not cover the cases :func:`dumps` does."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
