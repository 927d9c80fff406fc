"""Shared model bases."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for request bodies: unknown fields, type coercion and NaN/±inf are rejected.

    Strict mode still accepts a JSON integer for a float field (``"lr": 1`` is 1.0).
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ErrorItem(BaseModel):
    """One validation problem, in FastAPI's format."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422 body: the same shape for pydantic errors and engine ``ConfigError``."""

    detail: list[ErrorItem]


class MessageError(BaseModel):
    """4xx/5xx body with a plain message."""

    detail: str
