"""Cost-based budgets (issue 16): refuse work by its estimated memory and time before doing it.

Estimates come from :mod:`core.cost` (a run's bytes and a step's seconds from its config).

* **One run** over ``GRADPLAY_MAX_RUN_MB`` (lifetime estimate: the history at its capacity) is
  refused with a 422 on ``POST /api/runs`` (``loc: ["body"]``), ``PATCH`` (the changed field)
  and import (``["body", "config"]``).
* **All runs** together stay within ``GRADPLAY_MAX_MEMORY_MB``: a new run first evicts idle
  runs (not playing, not watched) of the same client, least recently used first; if it still
  does not fit, 503 with ``Retry-After`` (:class:`MemoryFullError`).
* **One request's training** (``POST .../step``, an import's replay, the depth lab) is refused
  with a 422 at ``steps`` (or the lab's size field) when its estimated seconds exceed
  ``GRADPLAY_MAX_REQUEST_SECONDS``, naming the estimate, the limit and the largest allowed
  ``steps``.

Each refusal is a :class:`BudgetError`: a ``ConfigError`` whose 422 item carries ``ctx`` with
the numbers (``estimate_mb``/``limit_mb``, or ``estimate_seconds``/``limit_seconds``/
``max_steps``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import cost
from core.errors import ConfigError

MB = 2**20


class BudgetError(ConfigError):
    """Work refused by its estimated cost; ``ctx`` holds the numbers for the 422 item."""

    def __init__(self, field: str, message: str, ctx: Mapping[str, Any]) -> None:
        super().__init__(field, message)
        self.ctx = dict(ctx)


class MemoryFullError(Exception):
    """A new run does not fit in ``GRADPLAY_MAX_MEMORY_MB`` even after evicting the client's
    idle runs (503 + ``Retry-After``)."""

    def __init__(self, need: int, used: int, limit_mb: int, retry_after: int) -> None:
        super().__init__(
            f"the server's memory budget is full: this run needs an estimated "
            f"{need / MB:,.0f} MB, runs in memory hold {used / MB:,.0f} MB of "
            f"{limit_mb:,} MB (GRADPLAY_MAX_MEMORY_MB); retry in about {retry_after} s, when "
            "idle runs expire, or delete some of your runs"
        )
        self.retry_after = retry_after
        self.need, self.used, self.limit_mb = need, used, limit_mb


def run_bytes(config: Mapping[str, Any], event_bytes: int = 0, tables: Any = None) -> int:
    """Lifetime estimate of a resolved run config's memory (bytes; :func:`core.cost.run_memory`).
    ``tables``: the uploaded tables' source (custom data: the table's widths count)."""
    return cost.run_memory(cost.shape_of(config, event_bytes=event_bytes, tables=tables))["total"]


def check_run_size(
    config: Mapping[str, Any], max_run_mb: int, field: str = "", event_bytes: int = 0,
    tables: Any = None,
) -> int:
    """The estimated bytes of ``config``; :class:`BudgetError` at ``field`` when over
    ``max_run_mb``."""
    parts = cost.run_memory(cost.shape_of(config, event_bytes=event_bytes, tables=tables))
    need = parts["total"]
    if need > max_run_mb * MB:
        largest = max((k for k in parts if k != "total"), key=lambda k: parts[k])
        raise BudgetError(
            field,
            f"this run would need an estimated {need / MB:,.0f} MB of memory (most of it "
            f"{largest}: {parts[largest] / MB:,.0f} MB); the limit is {max_run_mb:,} MB per run "
            "(GRADPLAY_MAX_RUN_MB): use fewer or narrower layers, fewer samples or a smaller "
            "batch",
            {
                "estimate_mb": round(need / MB, 1),
                "limit_mb": max_run_mb,
                "parts_mb": {k: round(v / MB, 1) for k, v in parts.items() if k != "total"},
            },
        )
    return need


def check_request_seconds(
    per_step: float,
    steps: int,
    max_seconds: int,
    field: str = "steps",
    what: str = "training",
    unit: str = "steps",
) -> None:
    """:class:`BudgetError` at ``field`` when ``steps`` units of ``per_step`` estimated
    seconds exceed ``max_seconds``; ``ctx["max_" + field]`` is the largest allowed count."""
    estimate = per_step * steps
    if estimate > max_seconds:
        allowed = cost.max_steps(per_step, max_seconds)
        raise BudgetError(
            field,
            f"{what} {steps:,} {unit} of this network would take about {estimate:,.1f} s "
            f"(estimated {per_step:.3g} s per {unit.rstrip('s')}); the limit is "
            f"{max_seconds:,} s per request (GRADPLAY_MAX_REQUEST_SECONDS): at most "
            f"{allowed:,} {unit}",
            {
                "estimate_seconds": round(estimate, 3),
                "limit_seconds": max_seconds,
                f"seconds_per_{unit.rstrip('s')}": per_step,
                f"max_{field}": allowed,
            },
        )
