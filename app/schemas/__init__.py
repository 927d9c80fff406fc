"""Pydantic models of the HTTP API (request models are strict and reject unknown fields)."""

from app.schemas.common import StrictModel

__all__ = ["StrictModel"]
