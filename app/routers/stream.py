"""WebSocket ``/api/runs/{id}/stream``: watch and drive a run live.

Server -> client (JSON text messages, never NaN/Infinity):

* ``{"type": "state", ..., events}`` once on connect (as ``GET /api/runs/{id}``, plus the
  live changes of the event log, without weights edits), then a snapshot;
* ``{"type": "frame", step, status, records, divergence}``: every record since the previous
  frame, at most ~30 frames/s while playing (also after ``step``, and when the status changes);
* ``{"type": "snapshot", ...}``: as ``GET /api/runs/{id}/snapshot``, about every 0.5 s while
  playing and after a pause, step or reset;
* ``{"type": "config", config, step, event}`` after any live change (from any client):
  ``event`` is the change's entry in the event log, ``{step, patch}``;
* ``{"type": "reset", ...}`` after a reset; ``{"type": "deleted"}`` when the run is deleted;
* ``{"type": "ack", "of": <command>, ...}`` or ``{"type": "error", "of": <command>, "detail"}``.

Client -> server: ``{"type": "play"}``, ``{"type": "pause"}``, ``{"type": "step", "steps": n}``,
``{"type": "set", "patch": {...}}`` (same rules as ``PATCH /api/runs/{id}``), ``{"type":
"reset", "seed"?: n}``, ``{"type": "speed", "steps_per_second": x}`` (``x`` in (0, 1e6], or
``null``/``"unlimited"``) and ``{"type": "snapshot"}``.

Who may connect (see :mod:`app.owners`): the run's owner (the ``gradplay_owner`` cookie,
which browsers send with the handshake, or ``Authorization: Bearer <owner_token>``) may send
every command; a client with the run's watch token (``/api/runs/{id}/stream?watch=<token>``)
gets the same messages but only ``snapshot`` is allowed: every other command is answered
``{"type": "error", "of": <command>, "detail": "read-only: ..."}``. Anyone else gets an
``error`` (``of: "connect"``) and the close code 4404, as for a run that does not exist. A
handshake whose ``Origin`` is another site, or whose ``Host`` is not an allowed host, is
refused (HTTP 403 / 400) before it reaches this handler.

Several clients may watch one run. A disconnect never breaks the run; when the last client
leaves, a playing run pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError

from app.budgets import check_request_seconds
from app.errors import config_error_items, parse_error_text
from app.jsonsafe import dumps
from app.owners import caller_from
from app.schemas.runs import RunPatch
from app.sessions import MAX_SPEED, RunSession, Watcher
from core.errors import ConfigError, RebuildRequiredError, RunStateError

router = APIRouter(tags=["runs"])
logger = logging.getLogger("gradplay")

COMMANDS = ("play", "pause", "step", "set", "reset", "speed", "snapshot")
READ_COMMANDS = frozenset({"snapshot"})
"""Commands a watch-token connection may send; the others change or train the run."""
READ_ONLY = ("read-only: this connection uses the watch token; controlling the run needs the "
             "owner token")


async def _send(ws: WebSocket, message: dict[str, Any]) -> None:
    await ws.send_text(dumps(message).decode("utf-8"))


async def _writer(ws: WebSocket, session: RunSession, watcher: Watcher) -> None:
    """Drain the watcher: one frame per wake-up with all pending records, then messages."""
    last_status = session.status
    while True:
        await watcher.event.wait()
        chunks, messages = watcher.take()
        status = session.status
        if chunks or status != last_status:
            await ws.send_text(session.frame(chunks))
            last_status = status
        for message in messages:
            if message.get("type") == "ack" and "status" in message:
                # the status now, as the frame just sent has it: a play's ack computed before
                # the run diverged (in its first chunk) arrived after that frame and put the
                # page back to "running" for good
                message = {**message, "status": status}
            await _send(ws, message)


@router.websocket("/api/runs/{run_id}/stream")
async def stream(ws: WebSocket, run_id: str) -> None:
    mgr = ws.app.state.runs
    caller = caller_from(ws.app.state.tokens, ws.headers, ws.cookies, ws.query_params)
    run = mgr.find(run_id)
    role = None if run is None else caller.role_of(run.owner, run.owner_sha256, run.watch_token)
    session = None if role is None else await mgr.restore(run_id)  # replays a stored run
    await ws.accept()
    if session is None or role is None:
        await _send(ws, {"type": "error", "of": "connect", "detail": f"no run with id {run_id!r}"})
        await ws.close(code=4404)
        return
    session.touch()
    watcher = session.add_watcher()
    settings = ws.app.state.settings
    writer: asyncio.Task[None] | None = None
    try:
        # "state" goes out before the writer starts, so it is always the first message;
        # records produced meanwhile wait in the watcher.
        def state() -> dict[str, Any]:
            return {"type": "state", **session.describe(), "events": session.patch_events()}

        await _send(ws, await session.locked(state))
        writer = asyncio.create_task(_writer(ws, session, watcher))
        watcher.push_message({"type": "snapshot", **await session.snapshot()})
        while True:
            try:
                message = await ws.receive()
            except RuntimeError:
                # Starlette's "not connected" after the writer's send failed
                break
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:  # a binary frame
                reply: dict[str, Any] | None = _error(
                    "parse", "messages must be text frames holding a JSON object")
            elif len(text) > settings.max_body_bytes or (
                4 * len(text) > settings.max_body_bytes
                and len(text.encode("utf-8", "surrogatepass")) > settings.max_body_bytes
            ):
                # uvicorn (gradplay serve) closes on frames over the limit (ws_max_size);
                # this answers servers started otherwise, and keeps the connection
                reply = _error("parse", f"message too large: the limit is "
                                        f"{settings.max_body_bytes} bytes, as for request bodies")
            else:
                reply = await _handle(session, text, settings.max_steps_per_request,
                                      read_only=role != "owner",
                                      max_seconds=settings.max_request_seconds)
            if reply is not None:
                watcher.push_message(reply)
    except WebSocketDisconnect:
        pass
    finally:
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        session.remove_watcher(watcher)


def _error(command: str, detail: Any) -> dict[str, Any]:
    return {"type": "error", "of": command, "detail": detail}


async def _handle(
    session: RunSession, text: str, max_steps: int, read_only: bool = False,
    max_seconds: int | None = None,
) -> dict[str, Any] | None:
    """Run one client command; returns the ack or error for this client. ``read_only`` (a
    watch-token connection): only :data:`READ_COMMANDS`. A ``step`` whose estimated time
    exceeds ``max_seconds`` (``GRADPLAY_MAX_REQUEST_SECONDS``) is refused like HTTP's 422."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return _error("parse", "message must be a JSON object")
    except (ValueError, RecursionError) as exc:  # the same words as for HTTP bodies
        return _error("parse", f"message must be a JSON object: {parse_error_text(exc)}")
    if not isinstance(message, dict) or message.get("type") not in COMMANDS:
        return _error("parse", f"'type' must be one of {', '.join(COMMANDS)}")
    command = message["type"]
    if read_only and command not in READ_COMMANDS:
        return _error(command, READ_ONLY)
    try:
        if command == "play":
            session.play()
            return {"type": "ack", "of": command, "status": session.status}
        if command == "pause":
            session.pause()
            return {"type": "ack", "of": command, "status": session.status}
        if command == "step":
            steps = message.get("steps", 1)
            if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= max_steps:
                return _error(command, f"steps must be an integer with 1 <= x <= {max_steps}")
            if max_seconds is not None:
                check_request_seconds(session.run.estimated_step_seconds(), steps, max_seconds)
            await session.advance(steps)
            await session.send_snapshot()
            return {"type": "ack", "of": command, "step": session.run.step_count}
        if command == "set":
            patch = RunPatch.model_validate(message.get("patch", {}))
            config = await session.apply_patch(patch.as_patch())
            return {"type": "ack", "of": command, "step": session.run.step_count,
                    "config": config}
        if command == "reset":
            seed = message.get("seed")
            session.pause()
            await session.reset(seed)
            return {"type": "ack", "of": command, "step": 0}
        if command == "speed":
            return _set_speed(session, message.get("steps_per_second"))
        await session.send_snapshot()
        return None
    except ValidationError as exc:
        items = jsonable_encoder(exc.errors(include_url=False, include_input=False))
        for item in items:  # same location scheme as engine errors: ["patch", ...]
            item["loc"] = ["patch", *item.get("loc", [])]
        return _error(command, items)
    except RebuildRequiredError as exc:
        items = config_error_items(exc, ("patch",))
        items[0]["type"] = "rebuild_required"
        return _error(command, items)
    except ConfigError as exc:
        return _error(command, config_error_items(exc, ("patch",) if command == "set" else ()))
    except RunStateError as exc:
        return _error(command, str(exc))
    except Exception:  # a bug: answer it like HTTP's 500, and keep the connection
        logger.exception("unhandled error in WebSocket command %r", command)
        return _error(command, "internal error")


def _set_speed(session: RunSession, value: Any) -> dict[str, Any]:
    if value is None or value == "unlimited":
        session.set_speed(None)
    elif (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_SPEED
    ):
        return _error("speed", f"steps_per_second must be a number with 0 < x <= {MAX_SPEED:g}, "
                               "or null / \"unlimited\"")
    else:
        session.set_speed(float(value))
    return {"type": "ack", "of": "speed", "steps_per_second": session.speed}
