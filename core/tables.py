"""User tables ("bring your own data"): the arrays behind the ``custom`` dataset.

A :class:`Table` is a validated, immutable numeric table: feature columns ``x (n, d)`` float64,
a target column ``y (n,)`` float64 (the values as given), the column names and the task
(``"classification"`` or ``"regression"``). :func:`make_table` builds one from arrays that the
caller parsed (the server parses CSV with the standard library's ``csv`` module and JSON rows;
``core`` reads no files) and checks it, raising :class:`TableError` that names the 0-based row
and column of the first bad cell.

Task: inferred from the target when not given: every value an integer and at most
``MAX_CLASSES`` distinct values -> classification, else regression. Classification of a
non-integer target, or with one class only, or with more than ``MAX_CLASSES`` classes is an
error. The engine maps the sorted distinct labels to class ids ``0..K-1`` (:meth:`Table.raw`):
two classes are a binary task (one logit, ``y (n, 1)`` 0/1), more are multiclass (``y (n,)``
int64); ``Table.classes`` keeps the original labels.

Identity: :func:`table_id` is content-addressed, the first ``ID_HEX`` hex digits of SHA-256 over
a canonical encoding (a JSON header with columns, target and task, then ``x`` and ``y`` as
little-endian float64 bytes). The same table parsed anywhere (from an upload or from the data
embedded in an export) gets the same id, so an import on another server names the same dataset.

How runs reach a table: a run config says ``dataset: {name: "custom", params: {id}}``; the
engine asks the *table source* it was given (``Limits.tables``, any callable
``source(id) -> Table | None``; the server passes its dataset store) and
:func:`core.datasets.make_dataset` takes the table through ``table=``. No source, or an id the
source does not know, is a ConfigError on ``dataset.params.id``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from core.errors import ConfigError

__all__ = [
    "ID_HEX",
    "MAX_CLASSES",
    "MAX_FEATURE_COLUMNS",
    "TASKS",
    "Table",
    "TableError",
    "TableSource",
    "make_table",
    "table_from_dict",
    "table_id",
]

MAX_FEATURE_COLUMNS = 100
MAX_CLASSES = 50
"""Most classes a classification table may have (an integer target with more distinct values
is inferred as regression)."""
MAX_NAME_LEN = 64
ID_HEX = 20
TASKS: tuple[str, ...] = ("classification", "regression")
TableTask = Literal["classification", "regression"]


class TableError(ConfigError):
    """A bad table: ``row``/``column`` are 0-based indices of the first bad cell (``row`` over
    the data rows, ``column`` over all columns as given, target included), either may be None
    when the problem is not one cell (e.g. too many columns: ``row`` None)."""

    def __init__(self, message: str, row: int | None = None, column: int | None = None):
        super().__init__("table", message)
        self.row = row
        self.column = column


@dataclass(frozen=True, eq=False)
class Table:
    """A validated table. ``x (n, d)`` float64 features, ``y (n,)`` float64 target values.

    ``columns`` names the ``d`` feature columns in order; ``target`` the target column.
    ``classes``: the sorted distinct target values (classification; empty for regression).
    """

    id: str
    columns: tuple[str, ...]
    target: str
    task: TableTask
    x: np.ndarray
    y: np.ndarray
    classes: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        return int(self.x.shape[1])

    def engine_task(self) -> str:
        """The engine's task name: ``binary`` (2 classes), ``multiclass`` or ``regression``."""
        if self.task == "regression":
            return "regression"
        return "binary" if len(self.classes) == 2 else "multiclass"

    def raw_targets(self) -> tuple[np.ndarray, str, int]:
        """``(y, task, n_classes)`` in the engine's conventions (see the module docstring)."""
        if self.task == "regression":
            return self.y[:, None].copy(), "regression", 0
        ids = np.searchsorted(np.asarray(self.classes), self.y)
        if len(self.classes) == 2:
            return ids.astype(np.float64)[:, None], "binary", 1
        return ids.astype(np.int64), "multiclass", len(self.classes)

    def summary(self) -> dict[str, Any]:
        """Per-column statistics (features then target): name, min, max, mean, std; plus the
        class labels and counts for classification."""
        cols = [*self.columns, self.target]
        data = np.column_stack([self.x, self.y])
        out: dict[str, Any] = {
            "columns": [
                {"name": name, "min": float(lo), "max": float(hi), "mean": float(mu),
                 "std": float(sd)}
                for name, lo, hi, mu, sd in zip(
                    cols, data.min(axis=0), data.max(axis=0), data.mean(axis=0),
                    data.std(axis=0), strict=True)
            ],
        }
        if self.task == "classification":
            counts = [int(np.count_nonzero(self.y == c)) for c in self.classes]
            out["classes"] = [_label(c) for c in self.classes]
            out["class_counts"] = counts
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, exact (floats round-trip): what stores and exports carry."""
        return {"id": self.id, "columns": list(self.columns), "target": self.target,
                "task": self.task, "x": self.x.tolist(), "y": self.y.tolist()}


TableSource = Callable[[str], "Table | None"]


def _label(v: float) -> int | float:
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def table_id(columns: Sequence[str], target: str, task: str, x: np.ndarray,
             y: np.ndarray) -> str:
    """Content address of a table (see the module docstring)."""
    header = json.dumps({"columns": list(columns), "target": target, "task": task,
                         "shape": [int(x.shape[0]), int(x.shape[1])]},
                        separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    h = hashlib.sha256(header.encode("utf-8"))
    h.update(b"\0")
    h.update(np.ascontiguousarray(x, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(y, dtype="<f8").tobytes())
    return h.hexdigest()[:ID_HEX]


def _check_names(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for j, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise TableError("column names must be non-empty text", None, j)
        if len(name) > MAX_NAME_LEN:
            raise TableError(f"column name longer than {MAX_NAME_LEN} characters", None, j)
        if name in seen:
            raise TableError(f"duplicate column name {name!r}", None, j)
        seen.add(name)


def make_table(
    data: np.ndarray,
    names: Sequence[str],
    target: str | None = None,
    task: str | None = None,
    max_rows: int = 20000,
) -> Table:
    """Validate ``data (n, c)`` float64 (all columns as given, target included) with column
    ``names (c,)`` and build a :class:`Table`.

    ``target``: the target column's name (default: the last column). ``task``: ``None``
    (infer), ``"classification"`` or ``"regression"``. Raises :class:`TableError` naming the
    first bad cell: no rows, more than ``max_rows`` rows, fewer than 2 or more than
    ``MAX_FEATURE_COLUMNS + 1`` columns, non-finite values, a non-integer target for
    classification, one class only, too many classes.
    """
    names = list(names)
    _check_names(names)
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(names):
        raise TableError(f"every row needs {len(names)} values, one per column")
    n, c = data.shape
    if c < 2:
        raise TableError("needs at least 2 columns: one or more features and a target", None,
                         c - 1 if c else None)
    if c > MAX_FEATURE_COLUMNS + 1:
        raise TableError(f"too many columns: at most {MAX_FEATURE_COLUMNS} feature columns "
                         f"plus the target, got {c}", None, MAX_FEATURE_COLUMNS + 1)
    if n == 0:
        raise TableError("no data rows after the header", 0, None)
    if n > max_rows:
        raise TableError(f"too many rows: at most {max_rows}, got {n}", max_rows, None)
    bad = ~np.isfinite(data)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])  # row-major: the first bad cell
        raise TableError(f"{float(data[i, j])!r} is not a finite number (NaN and ±inf are not "
                         "allowed)", i, j)
    if target is None:
        t = c - 1
    elif target not in names:
        raise TableError(f"target column {target!r} is not one of the columns "
                         f"{', '.join(repr(s) for s in names)}")
    else:
        t = names.index(target)
    if task is not None and task not in TASKS:
        raise TableError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    y = np.ascontiguousarray(data[:, t])
    x = np.ascontiguousarray(np.delete(data, t, axis=1))
    y = y + 0.0  # -0.0 and 0.0 are one label (and one hash)
    integral = np.floor(y) == y
    classes = np.unique(y)
    if task is None:
        task = ("classification" if integral.all() and 2 <= len(classes) <= MAX_CLASSES
                else "regression")
    if task == "classification":
        if not integral.all():
            i = int(np.argmin(integral))
            raise TableError(f"{float(y[i])!r} is not an integer class label (task classification "
                             "needs integer labels; use task regression)", i, t)
        if len(classes) < 2:
            raise TableError(f"only one class ({_label(float(classes[0]))}): classification "
                             "needs at least 2", 0, t)
        if len(classes) > MAX_CLASSES:
            raise TableError(f"{len(classes)} classes: at most {MAX_CLASSES}", None, t)
    cols = tuple(names[:t] + names[t + 1:])
    kind: TableTask = "classification" if task == "classification" else "regression"
    return Table(
        id=table_id(cols, names[t], kind, x, y), columns=cols, target=names[t], task=kind,
        x=x, y=y,
        classes=tuple(float(v) for v in classes) if kind == "classification" else (),
    )


def table_from_dict(value: Any, max_rows: int = 20000) -> Table:
    """Inverse of :meth:`Table.to_dict` (validated like an upload; ``id``, when present, must
    match the content). Raises TableError."""
    if not isinstance(value, dict):
        raise TableError("must be an object {columns, target, task, x, y}")
    try:
        columns = list(value["columns"])
        target = value["target"]
        x = np.asarray(value["x"], dtype=np.float64)
        y = np.asarray(value["y"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise TableError("must be an object {columns, target, task, x (rows of numbers), "
                         "y (numbers)}") from None
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or x.shape[1] != len(columns):
        raise TableError("x must be n rows of len(columns) numbers and y n numbers")
    if not isinstance(target, str):
        raise TableError("target must be a column name")
    table = make_table(np.column_stack([x, y]) if len(x) else np.empty((0, len(columns) + 1)),
                       [*columns, target], target, value.get("task"), max_rows)
    if value.get("id") not in (None, table.id):
        raise TableError(f"id {value['id']!r} does not match the data (its content gives "
                         f"{table.id!r})")
    return table

