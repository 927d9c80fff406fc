"""Uploaded tables ("bring your own data"): parsing and the on-disk store.

Parsing: a CSV upload is decoded as UTF-8 (a BOM is allowed) and split by the standard
library's ``csv`` module (commas, ``"`` quoting); the cells become float64 through NumPy
(``astype``), and only when that fails are the cells walked once with ``float`` to name the
first bad one. JSON rows (``{"columns": [...], "rows": [[...], ...]}``) need numbers in every
cell. Everything else (finite values, task, classes, limits) is checked by
:func:`core.tables.make_table`.

Errors: :class:`UploadError` carries the location below ``body``: ``["file", "row 7",
"column x2"]`` for a CSV cell (rows counted as the file's lines, the header is row 1) and
``["rows", 5, 1]`` for JSON rows (0-based indices into ``rows``); its message names the row and
column as well (``row 7, column "x2": 'abc' is not a number``).

Room in an import: a run export embeds its table (``Table.to_dict``, the stored file's bytes),
and ``POST /api/runs/import`` takes bodies of at most ``max_import_bytes``. An upload whose
table, plus a full event log (``max_event_bytes``) and :data:`IMPORT_RESERVE_BYTES` for the
rest, would not fit is refused (:func:`check_import_room`): no table can be uploaded whose
runs cannot be exported and imported. With the defaults (128 MiB) it never fires: the largest
table (20,000 rows of 101 numbers of at most 24 characters) is about 51 MB.

Store: one JSON file per table, ``<data_dir>/datasets/<id>.json`` (``Table.to_dict``), written
to a temporary file in the same folder and renamed into place (atomic on POSIX), so a failed
or interrupted upload leaves nothing behind. Ids are content addresses (see
:mod:`core.tables`): storing the same table twice is a no-op. A store is the engine's table
source (``Limits.tables``): ``store(id) -> Table | None``; loaded tables are kept in a small
LRU cache. Anyone who knows an id can use or read its table (ids are 80-bit content hashes, not
secrets and not guessable without the data).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from core.tables import (
    ID_HEX,
    MAX_FEATURE_COLUMNS,
    Table,
    TableError,
    make_table,
    table_from_dict,
)

ID_PATTERN = re.compile(rf"^[0-9a-f]{{{ID_HEX}}}$")
PREVIEW_ROWS = 10
CACHE_TABLES = 16
IMPORT_RESERVE_BYTES = 1 << 20
"""Bytes an import body keeps beside the table and a full event log: config, step, digest and
a short history."""


class UploadError(ValueError):
    """A bad upload: ``loc`` (below ``body``) and a message naming row and column."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = list(loc)
        self.message = message


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _shown(cell: Any) -> str:
    text = repr(cell)
    return text if len(text) <= 40 else text[:37] + "..."


def _csv_loc(line: int | None, name: str | None) -> list[str | int]:
    loc: list[str | int] = ["file"]
    if line is not None:
        loc.append(f"row {line}")
    if name is not None:
        loc.append(f"column {name}")
    return loc


def _csv_where(line: int | None, name: str | None) -> str:
    parts = ([f"row {line}"] if line is not None else []) + (
        [f'column "{name}"'] if name is not None else [])
    return ", ".join(parts)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_csv(data: bytes, max_rows: int) -> tuple[list[str], np.ndarray, list[int]]:
    """CSV bytes -> (header names, cells ``(n, c)`` float64, file line number of each row).

    Raises UploadError naming the row (file line) and column of the first problem: empty
    file, no header, ragged rows, non-numeric cells, too many rows or columns."""
    if not data.strip():
        raise UploadError(["file"], "the file is empty: it needs a header row naming the "
                                    "columns and at least one data row")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(["file"], f"the file is not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header: list[str] | None = None
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue  # blank lines (e.g. a trailing newline) are not rows
            if header is None:
                header = [c.strip() for c in row]
                head_line = reader.line_num
                if len(header) > MAX_FEATURE_COLUMNS + 1:
                    name = header[MAX_FEATURE_COLUMNS + 1] or str(MAX_FEATURE_COLUMNS + 2)
                    raise UploadError(
                        _csv_loc(head_line, name),
                        f"{_csv_where(head_line, name)}: too many columns: at most "
                        f"{MAX_FEATURE_COLUMNS} feature columns plus the target, got "
                        f"{len(header)}")
                if all(_is_number(c) for c in header):
                    raise UploadError(
                        _csv_loc(head_line, None),
                        f"row {head_line}: no header row: the first row holds numbers; it "
                        "must name the columns (e.g. x1,x2,label)")
                for j, name in enumerate(header):
                    if not name:
                        raise UploadError(_csv_loc(head_line, str(j + 1)),
                                          f"{_csv_where(head_line, str(j + 1))}: empty "
                                          "column name in the header")
                    if name in header[:j]:
                        raise UploadError(_csv_loc(head_line, name),
                                          f"{_csv_where(head_line, name)}: duplicate column "
                                          "name")
                continue
            line = reader.line_num
            if len(row) != len(header):
                j = min(len(row), len(header))
                name = header[j] if j < len(header) else str(j + 1)
                raise UploadError(
                    _csv_loc(line, name),
                    f"{_csv_where(line, name)}: this row has {len(row)} values but the header "
                    f"names {len(header)} columns")
            if len(rows) == max_rows:
                raise UploadError(_csv_loc(line, None),
                                  f"row {line}: too many rows: at most {max_rows} data rows")
            rows.append(row)
            lines.append(line)
    except csv.Error as exc:
        raise UploadError(_csv_loc(reader.line_num, None),
                          f"row {reader.line_num}: not valid CSV ({exc})") from None
    if header is None:
        raise UploadError(["file"], "the file is empty: it needs a header row naming the "
                                    "columns and at least one data row")
    if not rows:
        raise UploadError(_csv_loc(head_line + 1, None),
                          f"row {head_line + 1}: no data rows after the header")
    try:
        cells = np.array(rows, dtype=str).astype(np.float64)
    except ValueError:
        for row, line in zip(rows, lines, strict=True):
            for j, cell in enumerate(row):
                if not _is_number(cell):
                    what = "an empty cell" if not cell.strip() else _shown(cell)
                    raise UploadError(_csv_loc(line, header[j]),
                                      f"{_csv_where(line, header[j])}: {what} is not a "
                                      "number") from None
        raise UploadError(["file"], "some cells are not numbers") from None
    return header, cells, lines


def parse_rows(columns: Any, rows: Any, max_rows: int) -> np.ndarray:
    """JSON ``columns`` + ``rows`` -> cells ``(n, c)`` float64 (UploadError on a bad cell)."""
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise UploadError(["columns"], "must be a list of column names")
    if len(columns) > MAX_FEATURE_COLUMNS + 1:
        raise UploadError(["columns", MAX_FEATURE_COLUMNS + 1],
                          f"too many columns: at most {MAX_FEATURE_COLUMNS} feature columns "
                          f"plus the target, got {len(columns)}")
    if not isinstance(rows, list) or not rows:
        raise UploadError(["rows"], "must be a non-empty list of rows")
    if len(rows) > max_rows:
        raise UploadError(["rows", max_rows], f"rows[{max_rows}]: too many rows: at most "
                                              f"{max_rows}")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            n = len(row) if isinstance(row, list) else 0
            j = min(n, len(columns) - 1) if columns else 0
            name = columns[j] if columns else "?"
            raise UploadError(["rows", i, j],
                              f'rows[{i}], column "{name}": this row has {n} values but '
                              f"columns names {len(columns)}")
        for j, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, int | float):
                raise UploadError(["rows", i, j],
                                  f'rows[{i}], column "{columns[j]}": {_shown(cell)} is not a '
                                  "number")
            if isinstance(cell, int) and abs(cell) > 2**63 - 1:
                raise UploadError(["rows", i, j],
                                  f'rows[{i}], column "{columns[j]}": integer too large')
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))


def build_table(header: list[str], cells: np.ndarray, target: str | None, task: str | None,
                max_rows: int, where: str, lines: list[int] | None = None) -> Table:
    """:func:`core.tables.make_table`, its TableError turned into an UploadError located in
    ``where`` (``"file"``: rows as file lines from ``lines``; ``"rows"``: JSON indices)."""
    try:
        return make_table(cells, header, target, task, max_rows)
    except TableError as exc:
        name = header[exc.column] if exc.column is not None and exc.column < len(header) else None
        if where == "file":
            line = lines[exc.row] if lines is not None and exc.row is not None and \
                exc.row < len(lines) else None
            prefix = _csv_where(line, name)
            loc = _csv_loc(line, name)
        else:
            loc = ["rows"] + ([exc.row] if exc.row is not None else [])
            if exc.column is not None and exc.row is not None:
                loc.append(exc.column)
            prefix = ", ".join(([f"rows[{exc.row}]"] if exc.row is not None else [])
                               + ([f'column "{name}"'] if name is not None else []))
        if exc.row is None and exc.column is None and ("target" in exc.message
                                                        or "task" in exc.message):
            loc = ["target"] if exc.message.startswith("target") else ["task"]
        raise UploadError(loc, f"{prefix}: {exc.message}" if prefix else exc.message) from None


def table_json(table: Table) -> bytes:
    """The table as stored and as a run export embeds it (compact JSON of ``to_dict``)."""
    return orjson.dumps(table.to_dict())


def check_import_room(size: int, max_import_bytes: int, max_event_bytes: int,
                      where: str) -> None:
    """UploadError at ``where`` (``"file"`` or ``"rows"``) when a table of ``size`` bytes
    (:func:`table_json`) would not fit an import body with a full event log."""
    room = max_import_bytes - max_event_bytes - IMPORT_RESERVE_BYTES
    if size > room:
        raise UploadError([where], (
            f"this table takes {size} bytes in a run export, but an import "
            f"(GRADPLAY_MAX_IMPORT_BYTES = {max_import_bytes}) keeps only {max(room, 0)} bytes "
            f"for it beside a full event log (GRADPLAY_MAX_EVENT_BYTES = {max_event_bytes}) "
            f"and {IMPORT_RESERVE_BYTES} bytes for the rest: upload fewer rows or columns, or "
            "raise GRADPLAY_MAX_IMPORT_BYTES"))


def preview(table: Table, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The first ``rows`` rows, features then target (as stored)."""
    head = np.column_stack([table.x[:rows], table.y[:rows]])
    return {"columns": [*table.columns, table.target], "rows": head.tolist()}


def describe(table: Table, with_preview: bool = True) -> dict[str, Any]:
    """The API's view of a table: ``{id, task, n, columns, target, summary[, preview]}``."""
    out: dict[str, Any] = {
        "id": table.id, "task": table.task, "n": table.n, "columns": list(table.columns),
        "target": table.target,
        "summary": {**table.summary(), "engine_task": table.engine_task(),
                    "input_dim": table.d},
    }
    if with_preview:
        out["preview"] = preview(table)
    return out


# ---------------------------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------------------------


class DatasetStore:
    """Tables under ``directory`` (created when first written); the engine's table source."""

    def __init__(self, directory: Path, max_rows: int) -> None:
        self.directory = Path(directory)
        self.max_rows = max_rows
        self._cache: OrderedDict[str, Table] = OrderedDict()
        self._lock = threading.Lock()

    def path(self, table_id: str) -> Path:
        return self.directory / f"{table_id}.json"

    def __call__(self, table_id: str) -> Table | None:
        return self.get(table_id)

    def get(self, table_id: str) -> Table | None:
        """The table with this id, or None (unknown, malformed id, or a damaged file)."""
        if not isinstance(table_id, str) or not ID_PATTERN.match(table_id):
            return None
        with self._lock:
            table = self._cache.get(table_id)
            if table is not None:
                self._cache.move_to_end(table_id)
                return table
        try:
            raw = orjson.loads(self.path(table_id).read_bytes())
            table = table_from_dict(raw, max_rows=max(self.max_rows, len(raw.get("y", ()))))
        except (OSError, ValueError, TableError):
            return None
        if table.id != table_id:  # a file renamed by hand: not this content
            return None
        self._remember(table)
        return table

    def _remember(self, table: Table) -> None:
        with self._lock:
            self._cache[table.id] = table
            self._cache.move_to_end(table.id)
            while len(self._cache) > CACHE_TABLES:
                self._cache.popitem(last=False)

    def put(self, table: Table, blob: bytes | None = None) -> None:
        """Store ``table`` atomically (temporary file + rename); a no-op if already there.
        ``blob``: its :func:`table_json`, when the caller has it already."""
        target = self.path(table.id)
        if not target.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(table_json(table) if blob is None else blob)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        self._remember(table)

