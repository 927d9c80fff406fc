"""Named-component registries.

Every concept of the engine (activations, initializers, losses, optimizers, schedules, datasets,
regularization methods) keeps a :class:`Registry` that turns a name plus a parameter dict into an
object. Each :class:`Component` carries its parameter schema and formula text, which the API
catalog (``GET /api/catalog``) and the browser controls are generated from: nothing about a
component is written twice.

Validation happens here, once, so every entry point (Python, JSON API, WebSocket) reports bad
input the same way: a :class:`~core.errors.ConfigError` naming the dotted field and the allowed
range or choices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from core.errors import ConfigError

T = TypeVar("T")

ParamType = Literal["float", "int", "bool", "choice", "float_list", "int_list", "str"]


MAX_INT_MAGNITUDE = 2**63 - 1
"""Integers beyond int64 are refused by every number parameter (floats included)."""


def _shown(value: Any) -> str:
    """``repr`` of a rejected value, shortened: a 400-digit integer is named by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_MAGNITUDE:
        # str() of an integer over 4,300 digits raises; the bit length gives the size
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def join_field(prefix: str, name: str) -> str:
    """``join_field("optimizer", "lr") == "optimizer.lr"``; an empty prefix gives ``name``."""
    return f"{prefix}.{name}" if prefix else name


@dataclass(frozen=True)
class Param:
    """One parameter of a component: its type, default and allowed values.

    ``min``/``max`` bound numbers (and every element of a list); ``exclusive_min`` /
    ``exclusive_max`` make the bound strict. ``nullable`` allows ``None`` (meaning "derive it",
    e.g. a schedule length that defaults to the run length). ``max_len`` bounds list lengths.
    """

    name: str
    type: ParamType
    default: Any
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    exclusive_max: bool = False
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    max_len: int = 64
    help: str = ""

    def range_text(self) -> str:
        """Human text for the allowed values, used in error messages."""
        if self.type == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices or ())
        if self.type == "bool":
            return "true or false"
        if self.type == "str":
            return f"a non-empty string of at most {self.max_len} characters"
        lo = "" if self.min is None else f"{self.min} {'<' if self.exclusive_min else '<='} "
        hi = "" if self.max is None else f" {'<' if self.exclusive_max else '<='} {self.max}"
        kind = {"float": "a finite number", "int": "an integer"}.get(self.type)
        if kind is None:  # lists
            elem = "number" if self.type == "float_list" else "integer"
            core = f"a list of at most {self.max_len} {elem}s"
            bound = f"{lo}x{hi}" if (lo or hi) else ""
            return core + (f", each x with {bound}" if bound else "")
        if lo or hi:
            return f"{kind} with {lo}x{hi}"
        return kind

    def _check_number(self, value: Any, field_name: str, integer: bool) -> float | int:
        ok_types = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            raise ConfigError(field_name, f"must be {self.range_text()}, got {_shown(value)}")
        if isinstance(value, int) and abs(value) > MAX_INT_MAGNITUDE:
            # JSON integers have no size limit; a float parameter would overflow converting
            # (and an int one overflow NumPy's int64), so they end here, whatever the bounds.
            raise ConfigError(
                field_name,
                f"must be {self.range_text()} (|x| <= 2**63-1), got {_shown(value)}",
            )
        if not integer:
            # -0.0 compares equal to 0.0, so it passes a ``min=0`` check, but NumPy checks
            # signs (``rng.normal(scale=-0.0)`` raises): every float parameter is read as +0.0.
            value = float(value) + 0.0
            if not math.isfinite(value):
                raise ConfigError(field_name, f"must be {self.range_text()}, got {value!r}")
        if self.min is not None and (
            value < self.min or (self.exclusive_min and value == self.min)
        ):
            raise ConfigError(field_name, f"must be {self.range_text()}, got {value!r}")
        if self.max is not None and (
            value > self.max or (self.exclusive_max and value == self.max)
        ):
            raise ConfigError(field_name, f"must be {self.range_text()}, got {value!r}")
        return int(value) if integer else float(value)

    def validate(self, value: Any, field_name: str) -> Any:
        """Return the value coerced to its canonical Python type, or raise ConfigError."""
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(field_name, f"must be {self.range_text()}, got null")
        if self.type == "float":
            return self._check_number(value, field_name, integer=False)
        if self.type == "int":
            return self._check_number(value, field_name, integer=True)
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ConfigError(field_name, f"must be true or false, got {value!r}")
            return value
        if self.type == "choice":
            if not isinstance(value, str) or value not in (self.choices or ()):
                raise ConfigError(field_name, f"must be {self.range_text()}, got {value!r}")
            return value
        if self.type == "str":
            if not isinstance(value, str) or not value or len(value) > self.max_len:
                raise ConfigError(field_name, f"must be {self.range_text()}, got {_shown(value)}")
            return value
        # lists
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ConfigError(field_name, f"must be {self.range_text()}, got {value!r}")
        if len(value) > self.max_len:
            raise ConfigError(field_name, f"must be {self.range_text()}, got {len(value)} items")
        integer = self.type == "int_list"
        return [
            self._check_number(v, f"{field_name}[{i}]", integer=integer)
            for i, v in enumerate(value)
        ]

    def schema(self) -> dict[str, Any]:
        """JSON-able description for the catalog."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default}
        for key in ("min", "max", "choices", "help"):
            val = getattr(self, key)
            if val is not None and val != "":
                out[key] = list(val) if key == "choices" else val
        if self.exclusive_min:
            out["exclusive_min"] = True
        if self.exclusive_max:
            out["exclusive_max"] = True
        if self.nullable:
            out["nullable"] = True
        if self.type in ("float_list", "int_list", "str"):
            out["max_len"] = self.max_len
        return out


@dataclass(frozen=True)
class Component(Generic[T]):
    """A named, documented factory with a validated parameter schema.

    ``check`` performs cross-parameter validation on the resolved values and raises
    ``ConfigError(param_name, message)``; the registry prefixes the field path.
    ``meta`` holds extra catalog facts (e.g. ``{"torch": "torch.optim.SGD"}``).
    """

    kind: str
    name: str
    label: str
    formula: str
    params: tuple[Param, ...]
    factory: Callable[..., T]
    description: str = ""
    check: Callable[[dict[str, Any]], None] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def resolve(self, values: Mapping[str, Any] | None = None, prefix: str = "") -> dict[str, Any]:
        """Validate ``values`` against the schema and fill in defaults.

        Unknown keys are rejected (naming the allowed ones) so typos never pass silently.
        """
        values = dict(values or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise ConfigError(
                join_field(prefix, unknown[0]),
                f"unknown parameter for {self.kind} {self.name!r}; allowed: {allowed}",
            )
        resolved = {
            p.name: p.validate(values[p.name], join_field(prefix, p.name))
            if p.name in values
            else _copy_default(p.default)
            for p in self.params
        }
        if self.check is not None:
            try:
                self.check(resolved)
            except ConfigError as exc:
                raise ConfigError(join_field(prefix, exc.field), exc.message) from None
        return resolved

    def create(self, values: Mapping[str, Any] | None = None, prefix: str = "", **extra: Any) -> T:
        """Resolve ``values`` and call the factory with them plus ``extra`` (e.g. ``rng``)."""
        return self.factory(**self.resolve(values, prefix), **extra)

    def catalog_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "formula": self.formula,
            "description": self.description,
            "params": [p.schema() for p in self.params],
        }
        entry.update(self.meta)
        return entry


def _copy_default(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


class Registry(Generic[T]):
    """Names -> components of one kind, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Component[T]] = {}

    def register(
        self,
        name: str,
        *,
        label: str,
        formula: str,
        params: Sequence[Param] = (),
        description: str = "",
        check: Callable[[dict[str, Any]], None] | None = None,
        **meta: Any,
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name``."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(
                Component(
                    kind=self.kind,
                    name=name,
                    label=label,
                    formula=formula,
                    params=tuple(params),
                    factory=factory,
                    description=description,
                    check=check,
                    meta=meta,
                )
            )
            return factory

        return decorate

    def add(self, component: Component[T]) -> None:
        if component.name in self._items:
            raise ValueError(f"{self.kind} {component.name!r} registered twice")
        self._items[component.name] = component

    def get(self, name: Any, field_name: str = "name") -> Component[T]:
        """Look a component up; unknown names raise ConfigError listing the choices."""
        if not isinstance(name, str) or name not in self._items:
            raise ConfigError(
                field_name, f"unknown {self.kind} {name!r}; choices: {', '.join(self._items)}"
            )
        return self._items[name]

    def create(
        self, name: Any, values: Mapping[str, Any] | None = None, prefix: str = "", **extra: Any
    ) -> T:
        return self.get(name, join_field(prefix, "name")).create(values, prefix, **extra)

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Component[T]]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def catalog(self) -> list[dict[str, Any]]:
        return [c.catalog_entry() for c in self]
