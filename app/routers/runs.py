"""``/api/runs``: create, inspect, train, change live, export/import and delete runs.

Who may do what (see :mod:`app.owners`): creating and importing are open and answer the
``owner_token`` (also set as a cookie); listing needs the owner token and shows only the
caller's runs; reads (the run, history, snapshot, data, weights, export, figures) need the
owner token or the run's ``watch_token`` (``?watch=``); changes (PATCH, step, reset, PUT
weights, DELETE) need the owner token. A run the caller has no token for answers 404 like a
missing one; a watch token on a change answers 403.
"""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response

from app import figures
from app.budgets import MemoryFullError, check_request_seconds
from app.compression import GZIP_LEVEL, wants_gzip
from app.errors import config_error_as_validation
from app.jsonsafe import SafeJSONResponse
from app.owners import (
    Caller,
    listing_needs_token,
    optional_caller,
    owner_caller,
    read_only_error,
    reader_caller,
    set_owner_cookie,
    signer,
)
from app.run_store import StoredRun
from app.schemas.common import MessageError, ValidationErrorBody
from app.schemas.runs import (
    Evaluation,
    EventLog,
    GradientNoise,
    ImportBody,
    ResetRequest,
    RunConfig,
    RunCreated,
    RunDetail,
    RunPatch,
    RunSummary,
    StepRequest,
    StepResponse,
    WeightsBody,
)
from app.sessions import STEP_SLICE, RunManager, RunSession, ServerFullError
from core.cost import shape_of, shape_step_seconds
from core.datasets import CUSTOM
from core.errors import ConfigError
from core.export_pytorch import pytorch_script
from core.history import ALL_FIELDS, LAYER_FIELDS, SCALAR_FIELDS, history_digest
from core.registry import join_field
from core.tables import TableError, table_from_dict
from core.trainer import Run, resolve_config

router = APIRouter(prefix="/api/runs", tags=["runs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": MessageError,
          "description": "No run with this id that the caller holds a token for."},
    422: {"model": ValidationErrorBody, "description": "Invalid input (field and range named)."},
}
OWNER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": MessageError, "description": "A watch token cannot change the run."},
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    422: {"model": ValidationErrorBody, "description": "Invalid input (field and range named), "
          "or a run whose estimated memory exceeds GRADPLAY_MAX_RUN_MB (`ctx`: estimate_mb, "
          "limit_mb)."},
    503: {"model": MessageError, "description": "The server is full (GRADPLAY_MAX_RUNS) or its "
          "memory budget (GRADPLAY_MAX_MEMORY_MB) is, and the client owns no idle run to give "
          "up; see the Retry-After header."},
}


def manager(request: Request) -> RunManager:
    return request.app.state.runs  # type: ignore[no-any-return]


def _not_found(run_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no run with id {run_id!r}")


def _authorized(request: Request, run_id: str, caller: Caller, owner_only: bool
                ) -> RunSession | StoredRun:
    """The run (live, or stored and not replayed yet) if the caller holds a token for it:
    404 for others, 403 for a watch token where ``owner_only``."""
    run = manager(request).find(run_id)
    role = None if run is None else caller.role_of(run.owner, run.owner_sha256, run.watch_token)
    if role is None:
        raise _not_found(run_id)
    if owner_only and role != "owner":
        raise read_only_error()
    return run


async def _session(request: Request, run_id: str, caller: Caller, owner_only: bool
                   ) -> RunSession:
    """:func:`_authorized`, as a live session: a stored run is replayed to its step first
    (:meth:`RunManager.restore`)."""
    _authorized(request, run_id, caller, owner_only)
    session = await manager(request).restore(run_id)
    if session is None:  # deleted meanwhile, or its stored copy could not be replayed
        raise _not_found(run_id)
    session.touch()
    return session


async def readable_session(
    run_id: str, request: Request, caller: Annotated[Caller, Depends(reader_caller)]
) -> RunSession:
    """The run, for its owner or a holder of its watch token; else 404."""
    return await _session(request, run_id, caller, owner_only=False)


async def owned_session(
    run_id: str, request: Request, caller: Annotated[Caller, Depends(owner_caller)]
) -> RunSession:
    """The run, for its owner only: 403 for its watch token (``?watch=``), else 404."""
    return await _session(request, run_id, caller, owner_only=True)


def owned_run(
    run_id: str, request: Request, caller: Annotated[Caller, Depends(owner_caller)]
) -> RunSession | StoredRun:
    """As :func:`owned_session`, without replaying a stored run (to delete it)."""
    return _authorized(request, run_id, caller, owner_only=True)


Session = Annotated[RunSession, Depends(readable_session)]
OwnedSession = Annotated[RunSession, Depends(owned_session)]


def _owner_token(request: Request, caller: Caller) -> str:
    return caller.token or signer(request).issue()


def _created(request: Request, session: RunSession, body: dict[str, Any]) -> SafeJSONResponse:
    """201 with the owner and watch tokens; the owner token also as the browser's cookie."""
    response = SafeJSONResponse(
        {**body, "owner_token": session.owner, "watch_token": session.watch_token},
        status_code=201,
    )
    set_owner_cookie(response, request, session.owner)
    return response


def _server_full(exc: ServerFullError | MemoryFullError) -> HTTPException:
    return HTTPException(status_code=503, detail=str(exc),
                         headers={"Retry-After": str(exc.retry_after)})


@router.post("", status_code=201, response_model=RunCreated, responses=CREATE_ERRORS)
async def create_run(
    request: Request,
    caller: Annotated[Caller, Depends(optional_caller)],
    config: Annotated[RunConfig | None, Body()] = None,
) -> Any:
    """Create a run from a RunConfig (``{}`` gives the defaults). Returns the resolved config,
    the ``owner_token`` (also set as the HttpOnly cookie ``gradplay_owner``) and the run's
    read-only ``watch_token``.

    A client that sends its owner token (``Authorization: Bearer``, or the cookie) keeps it:
    the new run is one more of its runs. Beyond ``max_runs_per_client`` runs, the client's own
    longest-idle run is evicted; when the server is full (``max_runs``) and the client has no
    run to give up, 503 with ``Retry-After``.

    Budgets (``app.budgets``): a run whose estimated memory exceeds ``max_run_mb`` answers 422
    at ``["body"]`` (``ctx``: ``estimate_mb``, ``limit_mb``, ``parts_mb``); a run that would
    take the server's runs over ``max_memory_mb`` first evicts the client's idle runs (least
    recently used), else 503 with ``Retry-After``."""
    raw = config.model_dump(exclude_unset=True) if config is not None else {}
    try:
        session = await manager(request).create(raw, _owner_token(request, caller))
    except (ServerFullError, MemoryFullError) as exc:
        raise _server_full(exc) from None
    return _created(request, session, {"id": session.id, "status": session.status, "step": 0,
                                       "config": session.run.config})


@router.get("", response_model=list[RunSummary], responses={
    401: {"model": MessageError, "description": "No owner token was sent."}})
async def list_runs(request: Request, caller: Annotated[Caller, Depends(owner_caller)]) -> Any:
    """The caller's runs (those of its owner token), including runs kept over a restart
    and not opened since; other clients' runs are not listed."""
    if caller.token is None:
        raise listing_needs_token()
    return [r.summary() for r in manager(request).runs()
            if caller.role_of(r.owner, r.owner_sha256, "") == "owner"]


IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    **CREATE_ERRORS,
    413: {"model": MessageError, "description": "The body (as sent, or decompressed when gzip) "
          "is over GRADPLAY_MAX_IMPORT_BYTES (128 MiB by default); the message names the limit. "
          "An export with ?history=false is smaller."},
}


@router.post("/import", status_code=201, response_model=RunCreated, responses=IMPORT_ERRORS)
async def import_run(
    request: Request, body: ImportBody, caller: Annotated[Caller, Depends(optional_caller)]
) -> Any:
    """Replay an export (config + event log up to ``step``); bit-for-bit reproducible.

    An import whose replay is estimated (``core.cost``) to take longer than
    ``max_request_seconds`` is refused with a 422 at ``step`` naming the estimate; a config
    over ``max_run_mb`` with a 422 at ``config`` (``ctx`` as for ``POST /api/runs``).
    If the export carries its ``history``, the replay is compared with it value for value;
    if it carries ``history_sha256``, the replay's history must have that digest. A mismatch
    is a 422 naming the field. The body may be gzip-compressed (``Content-Encoding: gzip``).
    Its own body limit, ``max_import_bytes`` (128 MiB; 413 naming it beyond), applies to the
    body as sent and decompressed: it holds the embedded table of a custom-data run (at most
    ~51 MB for 20,000 rows of 101 numbers), a full event log and the config, and uploads
    are refused whose table would not leave that room, so every uploaded table's run
    exports and imports (a long history may not fit: export with ``?history=false``).
    Owner and watch tokens, the quota and 503 as for ``POST /api/runs``.
    """
    mgr = manager(request)
    if body.step > request.app.state.settings.max_import_steps:
        raise ConfigError("step", f"must be <= {request.app.state.settings.max_import_steps}")
    if body.table is not None:
        await asyncio.get_running_loop().run_in_executor(
            mgr.executor, _store_embedded_table, mgr, body.table, body.config)
    owner = _owner_token(request, caller)
    try:
        resolved = resolve_config(body.config, mgr.limits)
    except ConfigError as exc:
        raise ConfigError(join_field("config", exc.field), exc.message) from None
    need = mgr.check_size(resolved, "config")
    check_request_seconds(shape_step_seconds(shape_of(resolved, tables=mgr.limits.tables)),
                          body.step,
                          request.app.state.settings.max_request_seconds, "step",
                          what="replaying")
    try:
        await mgr.check_room(owner, need)
    except (ServerFullError, MemoryFullError) as exc:
        raise _server_full(exc) from None

    def replay() -> Run:
        return Run.replay(body.config, body.events, body.step, mgr.limits,
                          max_seconds=request.app.state.settings.max_request_seconds,
                          config_check=lambda cfg: mgr.check_size(cfg, "config"))

    run = await asyncio.get_running_loop().run_in_executor(mgr.executor, replay)
    if body.history is not None:
        _verify_history(run, body.history)
    if body.history_sha256 is not None and (
        history_digest(run.history.columns()) != body.history_sha256
    ):
        raise ConfigError("history_sha256", "does not match the replay of config and events")
    try:
        session = await mgr.add(run, owner)
    except (ServerFullError, MemoryFullError) as exc:
        raise _server_full(exc) from None
    verified = body.history is not None or body.history_sha256 is not None
    return _created(request, session, {
        "id": session.id, "status": session.status, "step": run.step_count,
        "config": run.config, "verified": verified})


def _store_embedded_table(mgr: RunManager, raw: dict[str, Any], config: dict[str, Any]) -> None:
    """An export's embedded table (custom data): validate it, check that it is the table the
    config names, and store it (content-addressed, so the config's id finds it)."""
    try:
        table = table_from_dict(raw, max_rows=mgr.limits.max_samples)
    except TableError as exc:
        where = "".join(f"[{i}]" for i in (exc.row, exc.column) if i is not None)
        raise ConfigError("table" + (".x" + where if where else ""), exc.message) from None
    dataset = config.get("dataset") if isinstance(config, dict) else None
    named = dataset.get("params", {}).get("id") if isinstance(dataset, dict) and isinstance(
        dataset.get("params"), dict) and dataset.get("name") == CUSTOM else None
    if named != table.id:
        raise ConfigError("table", f"the embedded table has id {table.id!r} but "
                          f"config.dataset names {named!r} (dataset custom, params.id)")
    mgr.datasets.put(table)


def _verify_history(run: Run, history: dict[str, Any]) -> None:
    mine = run.history.columns()
    for name, values in history.items():
        if name not in mine:
            raise ConfigError(f"history.{name}", "unknown history field")
        got = np.asarray(mine[name], dtype=np.float64)
        got = np.where(np.isfinite(got), got, np.nan)  # exports write inf/NaN as null
        try:
            want = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64) \
                if name in SCALAR_FIELDS else np.asarray(
                    [[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"history.{name}", "must be numbers or null") from None
        if len(values) == 0 and got.ndim == 2:  # no rows (step 0): `[]` has no layer axis
            want = want.reshape(0, got.shape[1])
        if got.shape != want.shape or not np.array_equal(got, want, equal_nan=True):
            raise ConfigError(
                f"history.{name}", "does not match the replay of config and events"
            )


@router.get("/{run_id}", response_model=RunDetail, responses=ERRORS)
async def get_run(session: Session) -> Any:
    """Status, step, epoch, config (with live changes applied) and the latest record."""
    return SafeJSONResponse(await session.locked(session.describe))


@router.patch("/{run_id}", response_model=RunDetail, responses={
    **OWNER_ERRORS,
    409: {"model": ValidationErrorBody, "description": "Needs a reset or a new run."}})
async def patch_run(session: OwnedSession, patch: RunPatch) -> Any:
    """Live change of optimizer (incl. name), schedule, regularization, batch_size, dropout,
    grad_clip or eval_every, effective from the next step and recorded in the event log.
    Changing dataset, model, seed or loss answers 409: reset or create a new run; so does a
    change when the event log is full (``max_events``, ``max_event_bytes``)."""
    await session.apply_patch(patch.as_patch())
    return SafeJSONResponse(await session.locked(session.describe))


@router.post("/{run_id}/step", response_model=StepResponse, responses={
    **OWNER_ERRORS, 409: {"model": MessageError,
                          "description": "The run diverged or early stopping stopped it; reset "
                          "it."}})
async def step_run(
    request: Request, session: OwnedSession, body: Annotated[StepRequest | None, Body()] = None
) -> Any:
    """Train synchronously for ``steps`` updates and return their records (the steps are
    contiguous even while the run plays; training stops early at divergence, and when the
    client disconnects or the run is deleted: within a second, or one step if a step takes
    longer).

    Long requests are encoded straight from the run's history rows, so the response costs
    little more than the training itself.

    Steps whose estimated time (``core.cost``) exceeds ``max_request_seconds`` answer 422 at
    ``steps`` naming the estimate, the limit and the largest allowed ``steps`` (``ctx``:
    ``estimate_seconds``, ``limit_seconds``, ``max_steps``)."""
    steps = body.steps if body is not None else 1
    settings = request.app.state.settings
    limit = settings.max_steps_per_request
    if steps > limit:
        raise ConfigError("steps", f"must be an integer with 1 <= x <= {limit}")
    check_request_seconds(session.run.estimated_step_seconds(), steps,
                          settings.max_request_seconds)
    cancel = threading.Event()  # set when the client goes away: training stops
    watch = asyncio.create_task(_cancel_on_disconnect(request, cancel))
    try:
        if steps <= STEP_SLICE:
            records = await session.step(steps, cancel)
            return SafeJSONResponse({"records": records, "step": session.run.step_count,
                                     "status": session.status,
                                     "divergence": session.run.divergence,
                                     "early_stopping": session.run.early_stopping_info})
        gzip = wants_gzip(request.scope, request.headers.get("accept-encoding", ""))
        content = await session.step_body(steps, GZIP_LEVEL if gzip else None, cancel)
    finally:
        # also when this request is cancelled (e.g. uvicorn's graceful-shutdown timeout): the
        # training thread must not go on alone
        cancel.set()
        watch.cancel()
    # Compressed here (off the event loop): the GZip middleware passes responses with a
    # Content-Encoding through. Otherwise it may compress the body itself (and adds the Vary
    # header then).
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzip else {}
    return Response(content, media_type="application/json", headers=headers)


async def _cancel_on_disconnect(request: Request, cancel: threading.Event) -> None:
    """Set ``cancel`` once the client has disconnected (training checks the flag between
    slices of about ``CANCEL_SECONDS``).

    Waits for the server's ``http.disconnect`` message (the body has been read, so the next
    message is that one, sent when the connection closes) instead of polling
    ``is_disconnected``: no event-loop wake-ups, each of which takes the GIL from the training
    thread, while the steps run."""
    while (await request.receive())["type"] != "http.disconnect":
        pass  # a body message FastAPI did not read: the disconnect comes after it
    cancel.set()


@router.get("/{run_id}/evaluate", response_model=Evaluation, responses=ERRORS)
async def evaluate_run(session: Session) -> Any:
    """Loss and accuracy on the training, validation and test splits at the current weights,
    in eval mode (running batch-norm statistics, no dropout, no augmentation): ``{step, train:
    {loss, accuracy}, val: {...}, test: {...}}``. The loss is the data loss without the
    regularisation penalty; accuracy is null for regression; ``test`` is absent when
    ``dataset.test_fraction`` is 0."""
    return SafeJSONResponse(await session.locked(session.run.evaluate))


@router.get("/{run_id}/gradient-noise", response_model=GradientNoise, responses=ERRORS)
async def gradient_noise(
    session: Session,
    batch_sizes: Annotated[str, Query(
        description="Comma-separated batch sizes, 1 to 8 of them, each 1 <= b <= N (the "
        "training rows; >= 2 with batch norm) or `full` (= N).",
        examples=["1,8,32,128,full"])],
    samples: Annotated[int, Query(
        description="K: minibatches sampled per batch size, 2 <= K <= 2000. Requests "
        "estimated above 5 s of work are refused with a 422 naming the largest K allowed.",
        examples=[100])] = 100,
) -> Any:
    """The variance of the minibatch gradient around the full-batch gradient at the current
    weights, per batch size: ``E‖g_B − g‖²`` estimated over K minibatches drawn uniformly
    without replacement (the trainer's sampling), plus the sampling-theory value
    ``(N − b)/(b (N − 1))·σ²`` where it applies (no batch norm). Computed on a copy of the model
    in training mode without dropout or augmentation, with batches from a stream of its own
    (seed, step): never changes the run, and the same step gives the same numbers."""
    from core.labs.gradient_noise import check_samples, parse_batch_sizes
    from core.labs.gradient_noise import gradient_noise as noise

    def compute() -> dict[str, Any]:
        run = session.run
        check_samples(samples)
        sizes = parse_batch_sizes(batch_sizes, len(run.dataset.x_train),
                                  run.model.spec.batch_norm)
        return noise(run, sizes, samples)

    try:
        result = await session.locked(compute)
    except ConfigError as exc:
        raise config_error_as_validation(exc, ("query",)) from None
    return SafeJSONResponse(result)


@router.post("/{run_id}/reset", response_model=RunDetail, responses=OWNER_ERRORS)
async def reset_run(
    session: OwnedSession, body: Annotated[ResetRequest | None, Body()] = None
) -> Any:
    """Back to step 0 with the current config (and optionally a new seed)."""
    session.pause()
    await session.reset(body.seed if body is not None else None)
    return SafeJSONResponse(await session.locked(session.describe))


@router.get("/{run_id}/history", responses=ERRORS)
async def run_history(
    request: Request,
    session: Session,
    fields: Annotated[str | None, Query(description="Comma-separated field names.")] = None,
    every: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    since: Annotated[int | None, Query(ge=0, description="Only steps >= since.")] = None,
) -> Any:
    """Columnar history ``{field: [values]}`` (per-layer fields: one list per step).

    At most ``history_max_points`` (default 5,000) rows are returned: longer histories are
    decimated evenly (``every`` grows) and the last row is always included. Very long runs are
    also thinned in storage (every other step once a run's buffer is full); the ``step`` column
    always holds the true step numbers.
    """
    names = _parse_fields(fields)
    cap = request.app.state.settings.history_max_points

    def columns() -> dict[str, Any]:
        cols = session.run.history.columns(
            ["step", *[f for f in names if f != "step"]], every=every, max_points=cap,
            since_step=since,
        )
        return cols

    cols = await session.locked(columns)
    return SafeJSONResponse({"layers": session.run.model.layer_names(), **cols})


def _parse_fields(fields: str | None) -> list[str]:
    if not fields:
        return list(ALL_FIELDS)
    names = [f.strip() for f in fields.split(",") if f.strip()]
    for name in names:
        if name not in ALL_FIELDS:
            raise config_error_as_validation(
                ConfigError("fields", f"unknown field {name!r}; choices: {', '.join(ALL_FIELDS)}"),
                ("query",),
            )
    return names


@router.get("/{run_id}/snapshot", responses=ERRORS)
async def run_snapshot(
    session: Session,
    bins: Annotated[int, Query(ge=2, le=200)] = 30,
    grid: Annotated[int, Query(ge=2, le=200)] = 50,
    mode: Annotated[Literal["train", "eval"] | None, Query(description=(
        "Adds `modes`: outputs and hidden activations on the same validation batch in train "
        "and in eval mode (batch norm: batch vs running statistics; dropout on vs off) and "
        "their differences; activation histograms are then in this mode. Without it: eval "
        "mode and no `modes`. Never changes the run."))] = None,
) -> Any:
    """Per-layer histograms (weights, biases, gradients, activations) and the decision surface
    (2-D data), fitted curve (1-D regression) or learned vs true coefficients (linear model).
    Small nets: every weight, plus batch-norm statistics (batch vs running, folded inference
    affine), layer-norm parameters and the last step's dropout masks (``network``); with
    dropout, the last step's ``E[x'] = x`` check (``dropout``). Small nets on 2-D data:
    ``neuron_maps`` (``x``, ``y``: a 24 x 24 grid over the decision surface's window;
    ``layers[k]`` (units, 24, 24): every hidden unit's eval-mode activation, rows by y, float32).
    Fields: ``Run.snapshot`` and
    ``core/normalization.py``."""
    snap = await session.locked(session.run.snapshot, bins, grid, 2000, mode)
    return SafeJSONResponse(snap)


@router.get("/{run_id}/data", responses=ERRORS)
async def run_data(
    session: Session,
    points: Annotated[bool, Query(description=(
        "false: leave out the points (`train`, `val`): the rest and the counts `n_train`, "
        "`n_val` only. The largest uploaded table's points are ~79 MB of JSON; a page that "
        "draws none (more than 2 feature columns) asks for them without."))] = True,
) -> Any:
    """Training and validation points after normalisation. ``x`` are the points in the data's
    own coordinates (for 2-D data the (x1, x2) plane of the decision surface); with feature
    crosses (``dataset.features``) the model's inputs are ``inputs`` (n, len(features)),
    normalised by ``normalizer``; otherwise ``inputs`` equals ``x``. ``n_train``, ``n_val``:
    the split sizes (also with ``?points=false``, which leaves ``train`` and ``val`` out).
    Custom data adds ``table``: its id, feature ``columns``, ``target``, ``task`` and
    (classification) the original ``classes`` (class id k is ``classes[k]``). With label noise
    (``dataset.params.label_noise`` > 0) ``train.y`` holds the noisy labels the model trains on
    and ``train.flipped`` the positions (into ``train``) of the replaced ones; ``val.y`` is
    always clean."""

    def data() -> dict[str, Any]:
        ds = session.run.dataset
        extra = {} if ds.table is None else {"table": ds.table}
        if points:
            flipped = {} if ds.flipped is None else {"flipped": ds.flipped}
            train = {"x": ds.points_train, "y": ds.y_train, "inputs": ds.x_train}
            extra["train"] = {**train, **flipped}
            extra["val"] = {"x": ds.points_val, "y": ds.y_val, "inputs": ds.x_val}
        return {
            **extra,
            "task": ds.task,
            "n_classes": ds.n_classes,
            "input_dim": ds.input_dim,
            "features": list(ds.features),
            "n_train": ds.n_train,
            "n_val": ds.n_val,
            "truth": ds.truth,
            "normalizer": ds.normalizer.to_dict(),
        }

    return SafeJSONResponse(await session.locked(data))


@router.get("/{run_id}/events", response_model=EventLog, responses=ERRORS)
async def run_events(request: Request, session: Session) -> Any:
    """The run's event log (as in the export): live changes and weights edits since the last
    reset. Bounded by ``max_events`` and ``max_event_bytes``; a change beyond either is a 409
    and changes nothing. ``GET``/``PATCH`` of the run carry only its size."""
    settings = request.app.state.settings

    def log() -> dict[str, Any]:
        run = session.run
        return {"events": list(run.events), "count": len(run.events), "bytes": run.event_bytes,
                "max_events": settings.max_events, "max_event_bytes": settings.max_event_bytes}

    return SafeJSONResponse(await session.locked(log))


@router.get("/{run_id}/weights", responses=ERRORS)
async def get_weights(session: Session) -> Any:
    """``{layers: [{W (in, out), b, [gamma, beta, running_mean, running_var]}, ...]}``."""
    layers = await session.locked(session.run.model.get_layers)
    return SafeJSONResponse({"layers": layers})


@router.put("/{run_id}/weights", responses={
    **OWNER_ERRORS, 409: {"model": MessageError, "description": "The event log is full."}})
async def put_weights(session: OwnedSession, body: WeightsBody) -> Any:
    """Replace every parameter (exact float64); shape mismatches and anything but numbers are
    422. Recorded in the event log so replays stay exact; a full log (``max_events``,
    ``max_event_bytes``) is a 409 and changes nothing."""
    await session.locked(session.save_after, session.run.set_weights, body.layers)
    layers = await session.locked(session.run.model.get_layers)
    return SafeJSONResponse({"layers": layers})


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {
        "description": "The export (JSON), with ``format=csv`` the history as CSV, with "
                       "``format=pytorch`` a standalone torch + numpy script (text).",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            "text/x-python": {"schema": {"type": "string"}},
        },
    },
}


@router.get("/{run_id}/export", responses=EXPORT_RESPONSES)
async def export_run(
    session: Session,
    format: Annotated[str, Query(pattern="^(json|csv|pytorch)$", description=(
        "json: the export; csv: the history; pytorch: a standalone torch + numpy script that "
        "retrains the run and prints `step <t> loss <value>` per step."))] = "json",
    history: Annotated[bool, Query(description="JSON: include the history (false: only its "
                                   "digest, a small export for long runs).")] = True,
) -> Any:
    """JSON: resolved config, event log, step, history and ``history_sha256``, the digest of
    the history (``POST /api/runs/import`` replays it and checks both). ``?history=false``
    leaves the history out: the export stays small however long the run, and the digest still
    verifies the replay. ``?format=csv``: the history as CSV, per-layer fields as ``name[k]``
    columns. ``?format=pytorch``: a standalone Python script (``torch`` and ``numpy`` only,
    :mod:`core.export_pytorch`) embedding the training data, the initial weights, the per-step
    learning rates and the event log; it retrains the run with ``torch.optim`` and prints
    ``step <t> loss <value>`` per step, matching the history's ``loss`` (float64; runs with
    dropout match in distribution only, torch draws the masks). A diverged run or a decimated
    history (``step`` beyond the history's capacity) answers 422 naming the field."""
    if format == "pytorch":
        script = await session.locked(pytorch_script, session.run)
        return Response(script, media_type="text/x-python", headers={
            "Content-Disposition": f'attachment; filename="run-{session.id[:8]}.py"'})

    def build() -> dict[str, Any]:
        cols = session.run.history.columns()
        out = {**session.run.export(), "history_sha256": history_digest(cols)}
        if history or format == "csv":
            out["history"] = cols
        return out

    exported = await session.locked(build)
    if format == "json":
        return SafeJSONResponse(exported)
    filename = f"run-{session.id[:8]}.csv"
    return Response(_history_csv(exported["history"], session.run.model.n_layers),
                    media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _history_csv(cols: dict[str, Any], n_layers: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = list(SCALAR_FIELDS) + [f"{f}[{k}]" for f in LAYER_FIELDS for k in range(n_layers)]
    writer.writerow(header)
    scalars = np.column_stack([cols[f] for f in SCALAR_FIELDS])
    layers = np.concatenate([cols[f] for f in LAYER_FIELDS], axis=1) if n_layers else None
    table = scalars if layers is None else np.concatenate([scalars, layers], axis=1)
    for row in table.tolist():
        writer.writerow(["" if v != v else repr(v) for v in row])  # NaN -> empty cell
    return out.getvalue()


@router.delete("/{run_id}", status_code=204, responses=OWNER_ERRORS)
async def delete_run(
    run: Annotated[RunSession | StoredRun, Depends(owned_run)], request: Request
) -> Response:
    """Stop and forget a run (also its copy in the data directory)."""
    if not await manager(request).delete(run.id):
        raise _not_found(run.id)
    return Response(status_code=204)


@router.get("/{run_id}/figures/{name}", responses=ERRORS)
async def run_figure(session: Session, name: str) -> Any:
    """A Plotly figure (JSON) built with the plotly Python package: ``loss``, ``lr``,
    ``grad_norm``, ``grad_heatmap``, ``weights_hist``, ``boundary``. Load it in a notebook with
    ``plotly.io.from_json(text)``."""
    if name not in figures.FIGURES:
        raise HTTPException(
            status_code=404,
            detail=f"unknown figure {name!r}; choices: {', '.join(figures.FIGURES)}",
        )
    text = await session.locked(figures.build, name, session.run)
    return Response(text, media_type="application/json")
