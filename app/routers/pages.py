"""HTML pages (Jinja2). Pages carry no inline scripts: each loads ES modules from /static/js and
receives data through ``data-*`` attributes, as the CSP requires.

Visible text is rendered in English from ``static/i18n/en.json`` (``t(key)`` in templates) and
marked ``data-i18n="key"`` so ``static/js/i18n.js`` can switch it to another language.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app import search_figures
from app.owners import ensure_owner_cookie

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class NavItem:
    """One page in the navigation. ``group`` "main" is a top-level link; the default "labs"
    puts the page in the Labs menu (so a new lab is one line here). Labels are the i18n
    messages "nav.<key>"."""

    key: str
    label: str
    path: str
    group: str = "labs"


NAV_GROUPS = ("main", "labs")

NAV: tuple[NavItem, ...] = (
    NavItem("playground", "Playground", "/", group="main"),
    NavItem("questions", "Interview questions", "/questions", group="main"),
    NavItem("gradients", "Gradients lab", "/labs/gradients"),
    NavItem("schedules", "Schedules lab", "/labs/schedules"),
    NavItem("sparsity", "Sparsity lab", "/labs/sparsity"),
    NavItem("search", "Search lab", "/labs/search"),
    NavItem("normalization", "Normalization lab", "/labs/normalization"),
    NavItem("optimizers", "Optimizers lab", "/labs/optimizers"),
    NavItem("blocks", "Building blocks lab", "/labs/blocks"),
    NavItem("backprop", "Backprop lab", "/labs/backprop"),
    NavItem("generalization", "Generalization lab", "/labs/generalization"),
    NavItem("batch_size", "Batch-size lab", "/labs/batch-size"),
)

# Gradients-lab presets: the classic pairs, column A vs column B. Names refer to the catalog
# (checked by tests/app/test_labs_analysis.py); the one-line hints are the i18n messages
# "grad.preset.<id>.title" / "grad.preset.<id>.hint".
_NET = {"depth": 10, "width": 64, "batch_norm": False, "residual": False}
GRADIENT_PRESETS: tuple[dict[str, Any], ...] = (
    {
        "id": "sigmoid_init",
        "a": {**_NET, "activation": "sigmoid", "init": "normal", "init_params": {"std": 1.0}},
        "b": {**_NET, "activation": "sigmoid", "init": "xavier_uniform"},
    },
    {
        "id": "tanh_xavier",
        "a": {**_NET, "depth": 20, "activation": "tanh", "init": "xavier_uniform"},
        "b": {**_NET, "depth": 20, "activation": "sigmoid", "init": "xavier_uniform"},
    },
    {
        "id": "relu_init",
        "a": {**_NET, "depth": 20, "activation": "relu", "init": "kaiming_normal"},
        "b": {**_NET, "depth": 20, "activation": "relu", "init": "normal",
              "init_params": {"std": 1.0}},
    },
    {
        "id": "zeros",
        "a": {**_NET, "activation": "tanh", "init": "zeros"},
        "b": {**_NET, "activation": "tanh", "init": "xavier_uniform"},
    },
    {
        "id": "batch_norm",
        "a": {**_NET, "depth": 20, "activation": "tanh", "init": "normal",
              "init_params": {"std": 1.0}},
        "b": {**_NET, "depth": 20, "activation": "tanh", "init": "normal",
              "init_params": {"std": 1.0}, "batch_norm": True},
    },
    {
        "id": "residual",
        "a": {**_NET, "depth": 20, "activation": "sigmoid", "init": "xavier_uniform"},
        "b": {**_NET, "depth": 20, "activation": "sigmoid", "init": "xavier_uniform",
              "residual": True},
    },
)


def _templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


@cache
def _messages(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _translator(request: Request) -> Callable[[str], str]:
    """``t(key)``: the English message (server-side fallback text before i18n.js runs)."""
    messages = _messages(Path(request.app.state.settings.static_dir) / "i18n" / "en.json")

    def t(key: str) -> str:
        return messages.get(key, key)

    return t


def render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    response = _templates(request).TemplateResponse(
        request, name, {"t": _translator(request), **context}
    )
    ensure_owner_cookie(response, request)  # before the page's scripts create runs
    return response


_NAV_LABELS = {item.key: item.label for item in NAV}


def render_lab(request: Request, key: str, **context: Any) -> HTMLResponse:
    """The lab page of nav entry ``key``: ``templates/labs/<key>.html`` with that entry
    active and its nav label as the title, plus ``context``."""
    return render(
        request, f"labs/{key}.html", {"active": key, "title": _NAV_LABELS[key], **context}
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return render(request, "index.html", {"active": "playground"})


@router.get("/questions", response_class=HTMLResponse)
def questions_page(request: Request) -> HTMLResponse:
    """The interview questions; the module fetches the bank from GET /api/questions."""
    return render(
        request,
        "questions.html",
        {"active": "questions", "title": "Interview questions", "bank_url": "/api/questions"},
    )


# schedules selected when /labs/schedules is opened without a query string
DEFAULT_SCHEDULES = ("step", "cosine_annealing")


@cache
def stateful_schedules() -> tuple[str, ...]:
    """Schedules whose rate depends on a metric (reduce_on_plateau): no preview possible."""
    from core.schedules import SCHEDULES, make_schedule

    return tuple(c.name for c in SCHEDULES if make_schedule(c.name, {}, 0.1).stateful)


@router.get("/labs/schedules", response_class=HTMLResponse)
def lab_schedules(request: Request) -> HTMLResponse:
    return render_lab(
        request,
        "schedules",
        default_schedules=",".join(DEFAULT_SCHEDULES),
        no_preview=",".join(stateful_schedules()),
    )


@router.get("/labs/gradients", response_class=HTMLResponse)
def lab_gradients(request: Request) -> HTMLResponse:
    return render_lab(
        request,
        "gradients",
        presets=GRADIENT_PRESETS,
        presets_json=json.dumps(GRADIENT_PRESETS),
    )


# the three runs of /labs/sparsity, left to right: (key, which penalties it uses)
SPARSITY_RUNS: tuple[dict[str, Any], ...] = (
    {"key": "l1", "l1": True, "l2": False},
    {"key": "l2", "l1": False, "l2": True},
    {"key": "enet", "l1": True, "l2": True},
)


@router.get("/labs/sparsity", response_class=HTMLResponse)
def lab_sparsity(request: Request) -> HTMLResponse:
    return render_lab(request, "sparsity", runs=SPARSITY_RUNS)


# Hyperparameters the search lab offers (a `space` entry of POST /api/searches each). SGD
# without momentum ignores dampening entirely: the "unimportant" axis of the Bergstra-Bengio
# preset.
SEARCH_DIMENSIONS: dict[str, dict[str, Any]] = {
    "lr": {"path": "optimizer.lr", "type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "l2": {"path": "regularization.l2", "type": "float", "low": 1e-6, "high": 0.1, "log": True},
    "batch_size": {"path": "batch_size", "type": "int", "low": 4, "high": 128, "log": True},
    "width": {"path": "model.hidden[*]", "type": "int", "low": 2, "high": 64, "log": True},
    "dropout": {"path": "model.dropout", "type": "float", "low": 0.0, "high": 0.5,
                "log": False},
    "momentum": {"path": "optimizer.momentum", "type": "float", "low": 0.0, "high": 0.99,
                 "log": False},
    "dampening": {"path": "optimizer.dampening", "type": "float", "low": 0.0, "high": 0.9,
                  "log": False},
}
SEARCH_PRESETS: dict[str, dict[str, Any]] = {
    "default": {"x": "lr", "y": "l2", "trials": 16, "steps": 200, "dataset": "spiral",
                "hidden": "16,16"},
    # one hyperparameter that matters and one that cannot: grid tries 3 values of lr, random 9
    "bergstra": {"x": "lr", "y": "dampening", "trials": 9, "steps": 150, "dataset": "circle",
                 "hidden": "8", "points": 3},
    "batch": {"x": "lr", "y": "batch_size", "trials": 16, "steps": 200, "dataset": "spiral",
              "hidden": "16,16"},
}


@router.get("/labs/search", response_class=HTMLResponse)
def lab_search(request: Request) -> HTMLResponse:
    return render_lab(
        request,
        "search",
        dimensions=SEARCH_DIMENSIONS,
        dimensions_json=json.dumps(SEARCH_DIMENSIONS),
        presets_json=json.dumps(SEARCH_PRESETS),
        # what each Optuna figure needs (app.search_figures.FIGURES): the page asks for a
        # figure only once the search has it, so it never fetches a 409
        figure_needs={name: (need[1], need[2]) for name, need in search_figures.FIGURES.items()},
    )


# Presets of /labs/normalization (URL ?preset=...; the values live in
# static/js/labs/normalization.js, the labels are the i18n messages "nl.preset.<id>").
NORMALIZATION_PRESETS: tuple[str, ...] = (
    "default",
    "slow_momentum",
    "fast_momentum",
    "heavy_dropout",
)


@router.get("/labs/normalization", response_class=HTMLResponse)
def lab_normalization(request: Request) -> HTMLResponse:
    return render_lab(request, "normalization", presets=NORMALIZATION_PRESETS)


@router.get("/api-reference", response_class=HTMLResponse)
def api_reference(request: Request) -> HTMLResponse:
    """Every endpoint and schema from the OpenAPI document, rendered here in the app's own
    pages (Swagger UI at /docs and ReDoc at /redoc show the same document)."""
    from app.api_reference import linked_type, operations_by_tag, schemas, security_schemes
    from app.routers import stream

    openapi = request.app.openapi()
    names = frozenset(openapi.get("components", {}).get("schemas", {}))
    return render(
        request,
        "api_reference.html",
        {
            "active": "api",
            "title": "API reference",
            "info": openapi.get("info", {}),
            "groups": operations_by_tag(openapi),
            "schemas": schemas(openapi),
            "security_schemes": security_schemes(openapi),
            "websocket_protocol": (stream.__doc__ or "").strip(),
            "type_html": lambda summary: linked_type(summary, names),
        },
    )


@router.get("/labs/optimizers", response_class=HTMLResponse)
def lab_optimizers(request: Request) -> HTMLResponse:
    return render_lab(request, "optimizers")


@router.get("/labs/blocks", response_class=HTMLResponse)
def lab_blocks(request: Request) -> HTMLResponse:
    return render_lab(request, "blocks")


@router.get("/labs/backprop", response_class=HTMLResponse)
def lab_backprop(request: Request) -> HTMLResponse:
    from core.labs import backprop as bp

    # The presets and the input limits are the engine's (the page validates with them).
    limits = {
        "value_abs": bp.BACKPROP_MAX_ABS,
        "lr": [0.0, bp.BACKPROP_MAX_LR],
        "train_steps": [0, bp.BACKPROP_MAX_TRAIN_STEPS],
    }
    return render_lab(
        request,
        "backprop",
        presets_json=json.dumps(bp.BACKPROP_PRESETS),
        limits_json=json.dumps(limits),
    )


# Presets of /labs/generalization (URL ?preset=...; the configs live in
# static/js/labs/generalization.js, the labels are the i18n messages "gen.preset.<id>") and the
# hidden widths of its capacity sweep (hidden [w, w], one run each, trained in parallel).
GENERALIZATION_PRESETS: tuple[str, ...] = ("few_samples", "wide_deep", "noisy")
CAPACITY_WIDTHS: tuple[int, ...] = (1, 2, 4, 8, 32, 256)


@router.get("/labs/generalization", response_class=HTMLResponse)
def lab_generalization(request: Request) -> HTMLResponse:
    return render_lab(
        request, "generalization", presets=GENERALIZATION_PRESETS, widths=list(CAPACITY_WIDTHS)
    )


# Presets of /labs/batch-size (URL ?preset=...): the same learning rate for every batch size, or
# the linear scaling rule lr ∝ batch (values in static/js/labs/batch_size.js), and the batch sizes
# it compares ("full": the whole training split, batch_size = dataset.n).
BATCH_SIZE_PRESETS: tuple[str, ...] = ("same_lr", "linear_scaling")
BATCH_SIZES: tuple[str, ...] = ("1", "8", "32", "128", "full")


@router.get("/labs/batch-size", response_class=HTMLResponse)
def lab_batch_size(request: Request) -> HTMLResponse:
    return render_lab(request, "batch_size", presets=BATCH_SIZE_PRESETS, batches=list(BATCH_SIZES))
