"""Health check and the component catalog."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Request

from app.schemas.meta import Catalog, Health
from app.settings import Settings

router = APIRouter(tags=["meta"])

# catalog key -> (engine module, registry attribute)
CATALOG_SOURCES: dict[str, tuple[str, str]] = {
    "activations": ("core.activations", "ACTIVATIONS"),
    "initializers": ("core.initializers", "INITIALIZERS"),
    "losses": ("core.losses", "LOSSES"),
    "optimizers": ("core.optimizers", "OPTIMIZERS"),
    "schedules": ("core.schedules", "SCHEDULES"),
    "datasets": ("core.datasets", "DATASETS"),
    "features": ("core.datasets", "FEATURES"),
    "regularization": ("core.regularizers", "REGULARIZERS"),
    "grad_clip": ("core.regularizers", "GRAD_CLIPS"),
    "test_functions": ("core.labs.trajectories", "TEST_FUNCTIONS"),
}


@cache
def app_version() -> str:
    try:
        return version("gradplay")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


@cache
def registry_catalog() -> dict[str, list[dict[str, Any]]]:
    """Catalog of every registry (fixed after import, so computed once)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, (module_name, attr) in CATALOG_SOURCES.items():
        registry = getattr(importlib.import_module(module_name), attr)
        out[key] = registry.catalog()
    return out


@router.get("/healthz", summary="Liveness check")
def healthz() -> Health:
    """Returns ``{"status": "ok", "version": ...}`` while the server is up."""
    return Health(status="ok", version=app_version())


@router.get("/api/catalog", summary="Component catalog and server limits")
def catalog(request: Request) -> Catalog:
    """Every activation, initializer, loss, optimizer, schedule, dataset, input feature (feature
    crosses of the 2-D datasets, ``dataset.features``), regularizer, gradient-clipping method
    and 2-D test function (of ``POST /api/optimizers/trajectory``)
    with its parameter schema (type, default, range, choices) and formula, plus the server's
    ``limits``. The browser controls are generated from this."""
    settings: Settings = request.app.state.settings
    return Catalog(**registry_catalog(), limits=settings.limits())
