"""``/api/searches``: hyperparameter searches (grid, random, TPE on Optuna) over run configs.

Trials run in worker processes (the server's pool and any ``gradplay worker``), never on the
event loop; a search lives in the Optuna storage, so it survives its browser tab and a server
restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, WebSocket
from fastapi.websockets import WebSocketDisconnect

from app import search_figures
from app.jsonsafe import SafeJSONResponse, dumps
from app.owners import Caller, optional_caller
from app.routers.runs import _created, _owner_token, _server_full
from app.schemas.common import MessageError, ValidationErrorBody
from app.schemas.runs import RunCreated
from app.schemas.searches import SearchCreate, SearchOut
from app.search import store
from app.search.manager import SearchManager
from app.search.spec import check_search
from app.sessions import ServerFullError
from core.trainer import Run

router = APIRouter(prefix="/api/searches", tags=["searches"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": MessageError, "description": "No search (or trial) with this id."},
    422: {"model": ValidationErrorBody, "description": "Invalid input (field and range named)."},
}


def manager(request: Request) -> SearchManager:
    return request.app.state.searches  # type: ignore[no-any-return]


def _describe_or_404(mgr: SearchManager, search_id: str, trials: bool = True) -> dict[str, Any]:
    study = store.load(mgr.storage, search_id)
    if study is None or store.spec_of(study) is None:
        raise HTTPException(status_code=404, detail=f"no search with id {search_id!r}")
    return store.describe(study, trials=trials)


@router.post("", status_code=201, response_model=SearchOut, responses=ERRORS)
async def create_search(request: Request, body: SearchCreate) -> Any:
    """Start a search: ``trials`` runs of ``base`` with the ``space`` dimensions chosen by the
    sampler, each trained ``steps`` steps and scored on the validation split. Every dimension's
    bounds (or choices) are checked by the engine first: an out-of-range value is a 422 naming
    ``space[i].low``/``high``/``choices``."""
    mgr = manager(request)
    raw = body.model_dump(exclude_unset=True)
    raw["base"] = body.base.model_dump(exclude_unset=True)
    for key, value in body.model_dump().items():  # defaults of the nested request objects
        raw.setdefault(key, value)
    for key in ("sampler", "pruner", "objective"):
        raw[key] = {k: v for k, v in getattr(body, key).model_dump().items() if v is not None}
    raw["space"] = [d.model_dump() for d in body.space]
    spec = check_search(raw, request.app.state.runs.limits)

    def create() -> dict[str, Any]:
        search_id = store.create_search(mgr.storage, spec)
        return _describe_or_404(mgr, search_id)

    detail = await mgr.call(create)
    await mgr.call(mgr.pool.ensure_started)
    return SafeJSONResponse(detail, status_code=201)


@router.get("", response_model=list[SearchOut])
async def list_searches(request: Request) -> Any:
    """Every search in the storage (without their trials), oldest first."""
    mgr = manager(request)

    def listing() -> list[dict[str, Any]]:
        if not mgr._has_storage():
            return []
        out = []
        for search_id in store.search_ids(mgr.storage):
            study = store.load(mgr.storage, search_id)
            if study is not None:
                out.append(store.describe(study, trials=False))
        return out

    return SafeJSONResponse(await mgr.call(listing))


@router.get("/{search_id}", response_model=SearchOut, responses=ERRORS)
async def get_search(request: Request, search_id: str) -> Any:
    """State (queued, running, done, cancelled), counts, the best trial and every trial: number,
    params, state, value, intermediate values, run config, wall time and worker."""
    mgr = manager(request)
    return SafeJSONResponse(await mgr.call(_describe_or_404, mgr, search_id))


@router.post("/{search_id}/cancel", response_model=SearchOut, responses=ERRORS)
async def cancel_search(request: Request, search_id: str) -> Any:
    """No new trials start; waiting ones become FAIL ("cancelled"); a running trial stops at its
    next report. Finished trials and their results stay."""
    mgr = manager(request)

    def cancel() -> dict[str, Any]:
        _describe_or_404(mgr, search_id, trials=False)
        study = store.load(mgr.storage, search_id)
        assert study is not None
        store.cancel(mgr.storage, study)
        return _describe_or_404(mgr, search_id)

    return SafeJSONResponse(await mgr.call(cancel))


@router.delete("/{search_id}", status_code=204, responses=ERRORS)
async def delete_search(request: Request, search_id: str) -> Response:
    """Delete a search and its trials (a running trial's worker drops it at its next write)."""
    mgr = manager(request)

    def delete() -> None:
        _describe_or_404(mgr, search_id, trials=False)
        store.cancel(mgr.storage, store.load(mgr.storage, search_id))  # type: ignore[arg-type]
        mgr.storage.delete_study(mgr.storage.get_study_id_from_name(search_id))

    await mgr.call(delete)
    return Response(status_code=204)


CSV_COLUMNS = ("number", "state", "value", "steps", "wall_time", "worker", "fail_reason",
               "retry_of", "requeued")


@router.get(
    "/{search_id}/export",
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def export_search(
    request: Request,
    search_id: str,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json or csv")] = "json",
) -> Any:
    """The whole search (JSON) or one row per trial with a column per parameter (CSV)."""
    mgr = manager(request)
    detail = await mgr.call(_describe_or_404, mgr, search_id)
    if format == "json":
        return SafeJSONResponse(detail)
    params = [d["path"] for d in detail["spec"]["space"]]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *(f"params.{p}" for p in params)])
    for t in detail["trials"]:
        row = ["" if t[c] is None else t[c] for c in CSV_COLUMNS]
        writer.writerow([*row, *(json.dumps(t["params"].get(p)) if p in t["params"] else ""
                                 for p in params)])
    return Response(out.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="search-{search_id[:9]}.csv"'})


@router.post("/{search_id}/trials/{number}/run", status_code=201, response_model=RunCreated,
             responses={**ERRORS, 409: {"model": MessageError,
                                        "description": "The trial has not trained yet."}})
async def open_trial_as_run(
    request: Request, search_id: str, number: int,
    caller: Annotated[Caller, Depends(optional_caller)],
) -> Any:
    """Open a trial as a normal run (playground, export, stream): its run config trained for the
    steps the trial trained, bit-identical to what the trial's worker computed. The run belongs
    to the caller (owner and watch tokens as for ``POST /api/runs``)."""
    mgr = manager(request)
    detail = await mgr.call(_describe_or_404, mgr, search_id)
    trial = next((t for t in detail["trials"] if t["number"] == number), None)
    if trial is None:
        raise HTTPException(status_code=404, detail=f"search {search_id!r} has no trial {number}")
    if trial["run_config"] is None:
        raise HTTPException(status_code=409,
                            detail=f"trial {number} is {trial['state']} and has not trained yet")
    runs = request.app.state.runs

    def replay() -> Run:
        run = Run(trial["run_config"], runs.limits)
        if trial["steps"]:
            run.step(trial["steps"], collect=False)
        return run

    run = await asyncio.get_running_loop().run_in_executor(runs.executor, replay)
    try:
        session = await runs.add(run, _owner_token(request, caller))
    except ServerFullError as exc:
        raise _server_full(exc) from None
    return _created(request, session, {"id": session.id, "status": session.status,
                                       "step": run.step_count, "config": run.config})


@router.get("/{search_id}/figures/{name}", responses={
    **ERRORS, 409: {"model": MessageError, "description": "Not enough trials for the figure."}})
async def search_figure(request: Request, search_id: str, name: str) -> Any:
    """A Plotly figure (JSON, for ``plotly.io.from_json``) drawn by ``optuna.visualization``:
    ``history`` (objective and best so far vs trial), ``parallel_coordinate``, ``slice``,
    ``contour`` (two or more parameters), ``param_importances`` (fANOVA) and
    ``intermediate_values`` (the learning curves the pruner saw)."""
    if name not in search_figures.FIGURES:
        raise HTTPException(status_code=404, detail=f"unknown figure {name!r}; choices: "
                            + ", ".join(search_figures.FIGURES))
    mgr = manager(request)

    def build() -> str:
        _describe_or_404(mgr, search_id, trials=False)
        study = store.load(mgr.storage, search_id)
        assert study is not None
        return search_figures.build(name, study)

    try:
        text = await mgr.call(build)
    except search_figures.NotEnoughTrials as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return Response(text, media_type="application/json")


STREAM_POLL_SECONDS = 0.25


@router.websocket("/{search_id}/stream")
async def stream_search(ws: WebSocket, search_id: str) -> None:
    """Server -> client, JSON text: ``{"type": "search", ...}`` once (as ``GET``), then
    ``{"type": "trial", "trial": {...}}`` whenever a trial starts or finishes (any worker, any
    machine: the storage is polled every 0.25 s), ``{"type": "state", state, counts, best}``
    when those change, and finally ``{"type": "end", state}`` (done or cancelled) or
    ``{"type": "deleted"}``; then the server closes the socket. Client messages are ignored."""
    mgr: SearchManager = ws.app.state.searches
    await ws.accept()

    def describe() -> dict[str, Any] | None:
        study = store.load(mgr.storage, search_id)
        if study is None or store.spec_of(study) is None:
            return None
        return store.describe(study)

    async def send(message: dict[str, Any]) -> None:
        await ws.send_text(dumps(message).decode("utf-8"))

    async def drain() -> None:  # notices the client leaving
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    reader = asyncio.create_task(drain())
    try:
        detail = await mgr.call(describe)
        if detail is None:
            await send({"type": "error", "detail": f"no search with id {search_id!r}"})
            await ws.close(code=4404)
            return
        await send({"type": "search", **detail})
        seen = {t["number"]: t["state"] for t in detail["trials"]}
        summary = {k: detail[k] for k in ("state", "counts", "best")}
        while detail["state"] in ("queued", "running") and not reader.done():
            await asyncio.sleep(STREAM_POLL_SECONDS)
            fresh = await mgr.call(describe)
            if fresh is None:
                await send({"type": "deleted"})
                break
            detail = fresh
            for trial in detail["trials"]:
                if seen.get(trial["number"]) != trial["state"]:
                    seen[trial["number"]] = trial["state"]
                    await send({"type": "trial", "trial": trial})
            now = {k: detail[k] for k in ("state", "counts", "best")}
            if now != summary:
                summary = now
                await send({"type": "state", **now})
        else:
            if not reader.done():
                await send({"type": "end", "state": detail["state"]})
        if not reader.done():
            await ws.close()
    except WebSocketDisconnect:
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader
