"""Errors raised by the engine. They carry the offending field so callers can report it."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is invalid.

    ``field`` is a dotted path such as ``"optimizer.lr"`` or ``"schedule.milestones"``; the
    message names the allowed range or choices. The web layer turns this into a 422.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RunStateError(RuntimeError):
    """An operation is not allowed in the run's current state (e.g. stepping a diverged run)."""


class EventLogFullError(RunStateError):
    """A live change or weights edit would take the run's event log past its bounds (count or
    bytes, :class:`core.trainer.Limits`); nothing was changed. The web layer answers 409."""


class RebuildRequiredError(ConfigError):
    """A live change touches something only a reset or a new run can change (dataset, model,
    seed, loss). The web layer turns this into a 409."""
