"""``/api/datasets``: upload your own data (CSV or JSON rows) and read it back.

A table is stored under the server's data directory with a content-addressed id
(:mod:`app.datasets`); runs train on it with ``dataset: {name: "custom", params: {id}}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.datasets import (
    DatasetStore,
    UploadError,
    build_table,
    check_import_room,
    describe,
    parse_csv,
    parse_rows,
    table_json,
)
from app.jsonsafe import SafeJSONResponse
from app.schemas.common import MessageError, ValidationErrorBody
from app.schemas.datasets import TARGET_HELP, TASK_HELP, DatasetInfo, DatasetRows
from core.tables import TASKS, Table

router = APIRouter(prefix="/api/datasets", tags=["datasets"])

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": MessageError, "description": "The body is over GRADPLAY_MAX_UPLOAD_BYTES."},
    415: {"model": MessageError, "description": "Neither multipart/form-data nor JSON."},
    422: {"model": ValidationErrorBody, "description": (
        "A bad table, naming the first bad cell: `loc` is [\"body\", \"file\", \"row 7\", "
        "\"column x2\"] for a CSV (rows counted as file lines, the header is row 1) or "
        "[\"body\", \"rows\", 5, 1] for JSON rows; `msg` says e.g. `row 7, column \"x2\": 'abc' "
        "is not a number`. Empty file, no header, ragged rows, non-numeric cells, NaN/inf, one "
        "class only, too many rows (max_samples) or columns (100 features), a non-integer "
        "target for classification, an unknown target column; a table whose run export would "
        "not fit an import (GRADPLAY_MAX_IMPORT_BYTES minus a full event log, "
        "GRADPLAY_MAX_EVENT_BYTES, and 1 MiB: never with the defaults) at [\"body\", "
        "\"file\"] or [\"body\", \"rows\"].")},
}

UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": (
                        "A CSV file (UTF-8, comma-separated): a header row naming the columns, "
                        "then one row of numbers per example.")},
                    "target": {"type": "string", "description": TARGET_HELP},
                    "task": {"type": "string", "enum": list(TASKS), "description": TASK_HELP},
                },
            },
        },
        "application/json": {"schema": DatasetRows.model_json_schema()},
    },
}


def store(request: Request) -> DatasetStore:
    return request.app.state.datasets  # type: ignore[no-any-return]


def _invalid(loc: list[str | int], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ["body", *loc], "msg": message,
                                    "type": "value_error"}])


def _option(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid([name], "must be text")
    if name == "task" and value not in TASKS:
        raise _invalid([name], f"must be one of {', '.join(TASKS)}, got {value!r}")
    return value


@router.post("", status_code=201, response_model=DatasetInfo, responses=ERRORS,
             openapi_extra={"requestBody": UPLOAD_BODY})
async def upload_dataset(request: Request) -> Any:
    """Upload a table: a CSV file (``multipart/form-data``, field ``file``, options ``target``
    and ``task`` as form fields) or JSON rows (``application/json``: ``{columns, rows, target,
    task}``). The header names the columns; the last column is the target unless ``target``
    names another. The task is inferred (integer labels -> classification, else regression)
    unless ``task`` says. At most ``max_samples`` rows (20,000) and 100 feature columns; the
    body at most ``max_upload_bytes`` (413 beyond). Answers the id, task, row count, columns
    and per-column summary plus a preview of the first rows; train on it with ``dataset:
    {name: "custom", params: {id}}``. Uploading the same table again answers the same id.
    Nothing is stored unless the whole table is valid. A table whose run export would not fit
    ``POST /api/runs/import`` (``max_import_bytes`` with room for a full event log) is a 422
    naming the limits, so every accepted table exports and imports."""
    settings = request.app.state.settings
    max_rows = settings.max_samples
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    loop = asyncio.get_running_loop()
    if media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=8)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _invalid(["file"], "a CSV file is required (form field 'file')")
            target = _option(form.get("target"), "target")
            task = _option(form.get("task"), "task")
            data = await upload.read()
        finally:
            await form.close()

        def build_csv() -> Table:
            header, cells, lines = parse_csv(data, max_rows)
            return build_table(header, cells, target, task, max_rows, "file", lines)

        work = build_csv
        where = "file"
    elif media == "application/json":
        try:
            raw = json.loads(await request.body())
        except ValueError as exc:
            raise _invalid([], f"not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise _invalid([], "must be an object {columns, rows, target, task}")
        # the cells are checked below (naming row and column); the rest by the schema
        try:
            body = DatasetRows.model_validate({**raw, "rows": []})
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors(include_url=False)]
            ) from None

        def build_rows() -> Table:
            cells = parse_rows(body.columns, raw.get("rows"), max_rows)
            return build_table(body.columns, cells, body.target, body.task, max_rows, "rows")

        work = build_rows
        where = "rows"
    else:
        raise HTTPException(status_code=415, detail=(
            "send a CSV as multipart/form-data (field 'file') or JSON rows as application/json"))

    def build() -> tuple[Table, bytes]:
        table = work()
        blob = table_json(table)
        # a table whose run exports could not be imported is not accepted
        check_import_room(len(blob), settings.max_import_bytes, settings.max_event_bytes, where)
        return table, blob

    try:
        table, blob = await loop.run_in_executor(None, build)
    except UploadError as exc:
        raise _invalid(exc.loc, exc.message) from None
    await loop.run_in_executor(None, store(request).put, table, blob)
    return SafeJSONResponse(describe(table), status_code=201)


@router.get("/{dataset_id}", response_model=DatasetInfo, responses={
    404: {"model": MessageError, "description": "No dataset with this id on this server."}})
async def get_dataset(
    request: Request,
    dataset_id: Annotated[str, Path(description="The id POST /api/datasets answered.")],
) -> Any:
    """The table's metadata (task, rows, columns, summary) and a preview of its first rows."""
    table = await asyncio.get_running_loop().run_in_executor(None, store(request).get,
                                                             dataset_id)
    if table is None:
        raise HTTPException(status_code=404, detail=f"no dataset with id {dataset_id!r}")
    return SafeJSONResponse(describe(table))
