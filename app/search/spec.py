"""A search request, checked against the engine before anything is stored.

A search trains ``trials`` normal GradPlay runs of ``steps`` updates each. Every run is the
``base`` RunConfig with the ``space`` dimensions set to the values a sampler picks. A dimension's
``path`` names a RunConfig field the way the engine's errors name them: dots between objects,
``[k]`` for a list item, and ``model.hidden[*]`` for every hidden layer's width at once.

Validation goes through the engine itself: each dimension's bounds (or every choice) are put
into the base config and resolved with :func:`core.trainer.resolve_config`, so a range the
engine would refuse ("optimizer.lr must be <= 10") is a 422 at ``space[i].high`` before the search
starts, not a failed trial later. Pure Python (no Optuna): the worker and the API share it.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from core.errors import ConfigError
from core.trainer import Limits, resolve_config

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "successive_halving", "hyperband")
METRICS = {"val_loss": "minimize", "val_accuracy": "maximize"}
MAX_TRIALS = 500
MAX_STEPS = 20_000
MAX_DIMENSIONS = 8
MAX_GRID_POINTS = 50
DEFAULT_GRID_POINTS = 5

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\[(?:\d+|\*)\])*"
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME})*")
_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+|\*)\]")


def parse_path(path: str, where: str) -> list[str | int]:
    """``"model.hidden[0]"`` -> ``["model", "hidden", 0]``; ``[*]`` stays ``"*"``."""
    if not _PATH.fullmatch(path):
        raise ConfigError(where, f"{path!r} is not a field path (e.g. 'optimizer.lr', "
                          "'model.hidden[*]')")
    parts: list[str | int] = [name if name else ("*" if index == "*" else int(index))
                              for name, index in _SEGMENT.findall(path)]
    if "*" in parts[:-1]:
        raise ConfigError(where, f"{path!r}: [*] may only end a path (e.g. 'model.hidden[*]')")
    return parts


def set_path(config: dict[str, Any], parts: list[str | int], value: Any,
             resolved: Mapping[str, Any]) -> None:
    """Set ``value`` at ``parts`` in a raw (user) config; objects and lists missing on the way
    are copied from the ``resolved`` config (so ``model.hidden[*]`` keeps the depth)."""
    node: Any = config
    default: Any = resolved
    for key in parts[:-1]:
        default = default[key]
        if isinstance(key, str) and not isinstance(node.get(key), dict | list):
            node[key] = copy.deepcopy(default) if isinstance(default, list) else {}
        node = node[key]
    last = parts[-1]
    if last == "*":
        for k in range(len(node)):
            node[k] = value
    else:
        node[last] = value


def _lookup(resolved: Mapping[str, Any], parts: list[str | int], where: str, path: str) -> None:
    """The path must exist in the resolved base config (so typos are caught)."""
    node: Any = resolved
    for k, key in enumerate(parts):
        prefix = _format(parts[:k]) or "the config"
        if isinstance(key, str) and key != "*":
            if not isinstance(node, Mapping) or key not in node:
                fields = ", ".join(sorted(node)) if isinstance(node, Mapping) else "none"
                raise ConfigError(where, f"unknown field {path!r}; fields of {prefix}: {fields}")
            node = node[key]
        else:
            if not isinstance(node, list) or not node:
                raise ConfigError(where, f"{prefix} of {path!r} is not a non-empty list")
            if key != "*" and not 0 <= int(key) < len(node):
                raise ConfigError(where, f"{path!r}: index must be < {len(node)}")
            node = node[0 if key == "*" else int(key)]
    if isinstance(node, Mapping | list):
        raise ConfigError(where, f"{path!r} is an object or list; name one of its numbers")


def _format(parts: list[str | int]) -> str:
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) or p == "*" else (f".{p}" if text else p)
    return text


def apply_params(spec: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The raw run config of a trial: the request's raw base config with each dimension's
    value set; the engine fills in the defaults."""
    config = copy.deepcopy(dict(spec["base_raw"]))
    for dim in spec["space"]:
        set_path(config, parse_path(dim["path"], "space"), params[dim["path"]], spec["base"])
    return config


def grid_values(dim: Mapping[str, Any], points: int) -> list[Any]:
    """The grid of one dimension: ``points`` values (log-spaced where ``log``), every choice of
    a categorical one; integer grids are rounded to the step and deduplicated."""
    if dim["type"] == "categorical":
        return list(dim["choices"])
    low, high = float(dim["low"]), float(dim["high"])
    if dim.get("log"):
        values = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * k / (points - 1))
                  for k in range(points)]
    else:
        values = [low + (high - low) * k / (points - 1) for k in range(points)]
    if dim["type"] == "float":
        values[0], values[-1] = low, high  # exact bounds despite rounding
        return values
    step = int(dim.get("step", 1))
    lo = int(dim["low"])
    ints = sorted({min(int(high), lo + step * round((v - lo) / step)) for v in values})
    return ints


def grid_size(dims: list[dict[str, Any]], points: int) -> int:
    return math.prod(len(grid_values(d, points)) for d in dims)


def check_search(spec: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """Validate a search request (plain dicts, already type-checked by pydantic) and fill in
    defaults. Returns the stored form: ``base`` fully resolved (for display), ``base_raw`` as
    sent (trials are built from it), ``trials`` capped at the grid size for grid search.
    Raises ConfigError naming the field (``space[1].high``, ...)."""
    spec = copy.deepcopy(spec)
    raw_base = spec.get("base") or {}
    try:
        base = resolve_config(raw_base, limits)
    except ConfigError as exc:
        raise ConfigError(f"base.{exc.field}", exc.message) from None
    if not base["dataset"]["val_fraction"] > 0:
        raise ConfigError("base.dataset.val_fraction",
                          "must be > 0: a search scores trials on the validation split")
    dims = spec["space"]
    if not 1 <= len(dims) <= MAX_DIMENSIONS:
        raise ConfigError("space", f"must have 1 to {MAX_DIMENSIONS} dimensions")
    seen: set[str] = set()
    for i, dim in enumerate(dims):
        where = f"space[{i}]"
        parts = parse_path(dim["path"], f"{where}.path")
        if dim["path"] in seen:
            raise ConfigError(f"{where}.path", f"{dim['path']!r} appears twice")
        seen.add(dim["path"])
        _lookup(base, parts, f"{where}.path", dim["path"])
        _check_range(dim, where)
        probes = (("choices", c) for c in dim["choices"]) if dim["type"] == "categorical" \
            else (("low", dim["low"]), ("high", dim["high"]))
        for field_name, value in probes:
            trial = copy.deepcopy(raw_base)  # raw: a categorical optimizer.name must not
            set_path(trial, parts, value, base)  # inherit another optimizer's resolved params
            try:
                resolve_config(trial, limits)
            except ConfigError as exc:
                raise ConfigError(f"{where}.{field_name}",
                                  f"{dim['path']} = {value!r}: {exc.message}") from None
    sampler = spec["sampler"]
    if sampler["name"] == "grid":
        points = sampler.setdefault("points", DEFAULT_GRID_POINTS)
        size = grid_size(dims, points)
        spec["trials"] = min(spec["trials"], size)
        spec["grid_size"] = size
    elif "points" in sampler and sampler["points"] is not None:
        raise ConfigError("sampler.points", "applies to the grid sampler only")
    objective = spec["objective"]
    objective.setdefault("direction", METRICS[objective["metric"]])
    if objective["direction"] is None:
        objective["direction"] = METRICS[objective["metric"]]
    if objective["metric"] == "val_accuracy" and base["loss"] is None and \
            base["dataset"]["name"] in _regression_datasets():
        raise ConfigError("objective.metric", "val_accuracy needs a classification dataset")
    steps = spec["steps"]
    if spec.get("report_every") is None:
        spec["report_every"] = max(1, steps // 10)
    spec["report_every"] = min(spec["report_every"], steps)
    spec["base"] = base
    spec["base_raw"] = raw_base
    return spec


def _check_range(dim: Mapping[str, Any], where: str) -> None:
    if dim["type"] == "categorical":
        if not dim["choices"]:
            raise ConfigError(f"{where}.choices", "must list at least one value")
        return
    low, high = dim["low"], dim["high"]
    if not low < high:
        raise ConfigError(f"{where}.high", f"must be > low ({low!r}): the range is empty")
    if dim.get("log") and low <= 0:
        raise ConfigError(f"{where}.low", "must be > 0 with log: true")
    if dim["type"] == "int":
        step = dim.get("step", 1)
        if dim.get("log") and step != 1:
            raise ConfigError(f"{where}.step", "must be 1 with log: true (Optuna's rule)")
        if (high - low) % step:
            raise ConfigError(f"{where}.high", f"high - low must be a multiple of step ({step})")


def _regression_datasets() -> set[str]:
    from core.datasets import DATASETS

    return {c.name for c in DATASETS if c.meta.get("task") == "regression"}
