"""Shared model bases."""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator


def _integral_field(annotation: Any) -> str | None:
    """``"int"`` for ``int`` / ``int | None`` fields, ``"list"`` for ``list[int]`` (also
    optional), else None."""
    args = [a for a in get_args(annotation) if a is not type(None)] \
        if get_origin(annotation) in (Union, UnionType) else [annotation]
    if len(args) != 1:
        return None
    (arg,) = args
    if arg is int:
        return "int"
    if get_origin(arg) is list and get_args(arg) == (int,):
        return "list"
    return None


def _as_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class StrictModel(BaseModel):
    """Base for request bodies: unknown fields, type coercion and NaN/±inf are rejected.

    Strict mode still accepts a JSON integer for a float field (``"lr": 1`` is 1.0). And, as
    in JSON Schema (where ``569.0`` is an ``integer``), an integral number for an integer field
    (``"steps": 569.0`` is 569); ``569.5`` and ``"569"`` are refused.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _integral_floats(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        changed = False
        for name, info in cls.model_fields.items():
            kind = _integral_field(info.annotation) if name in data else None
            value = data.get(name)
            if kind == "int" and isinstance(value, float) and value.is_integer():
                out[name], changed = int(value), True
            elif kind == "list" and isinstance(value, list) and any(
                isinstance(v, float) for v in value
            ):
                out[name], changed = [_as_int(v) for v in value], True
        return out if changed else data


class ErrorItem(BaseModel):
    """One validation problem, in FastAPI's format."""

    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, Any] | None = Field(
        default=None,
        description="Budget refusals (issue 16): the numbers, e.g. estimate_mb and limit_mb, or "
        "estimate_seconds, limit_seconds and max_steps.",
    )


class ValidationErrorBody(BaseModel):
    """422 body: the same shape for pydantic errors and engine ``ConfigError``."""

    detail: list[ErrorItem]


class MessageError(BaseModel):
    """4xx/5xx body with a plain message."""

    detail: str
