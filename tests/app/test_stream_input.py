"""WebSocket input goes through the same validation as HTTP (issue 16, defects 3 and 8): bad
frames get ``{"type": "error"}`` and the connection stays usable."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from app.main import create_app
from app.settings import Settings
from tests.app.test_stream import FAST, Stream, create, tc_stream
from tests.conftest import run_live_server

BIG = int("1" + "0" * 400)


def _hello(s: Stream) -> None:
    assert s.recv()["type"] == "state"
    s.until_type("snapshot", timeout=5)


def _still_works(s: Stream) -> None:
    s.send({"type": "step", "steps": 2})
    assert s.until_type("ack", of="step")["step"] >= 2


@pytest.mark.parametrize(("frame", "words"), [
    (b'{"type": "play"}', "text frames"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"type": "step", "steps": ' + "9" * 5000 + "}", "digits"),
])
def test_unparseable_frames_get_an_error_and_the_connection_stays(
    client: TestClient, frame: str | bytes, words: str
) -> None:
    run_id = create(client, FAST)
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        s = tc_stream(ws)
        _hello(s)
        if isinstance(frame, bytes):
            ws.send_bytes(frame)
        else:
            ws.send_text(frame)
        error = s.until_type("error", of="parse")
        assert words in error["detail"]
        _still_works(s)


def test_huge_integer_in_set_patch_is_an_error_naming_the_field(client: TestClient) -> None:
    run_id = create(client, {**FAST, "optimizer": {"name": "adam"}})
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        s = tc_stream(ws)
        _hello(s)
        s.send({"type": "set", "patch": {"optimizer": {"eps": BIG}}})
        error = s.until_type("error", of="set")
        assert error["detail"][0]["loc"] == ["patch", "optimizer", "eps"]
        assert "digits" in error["detail"][0]["msg"]
        _still_works(s)


def test_frames_over_the_body_limit_are_refused_in_the_handler(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_body_bytes=2000)
    run_id = create(client, FAST)
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        s = tc_stream(ws)
        _hello(s)
        s.send({"type": "set", "patch": {"optimizer": {"lr": 0.01}}, "pad": "x" * 2000})
        error = s.until_type("error", of="parse")
        assert "2000 bytes" in error["detail"]
        _still_works(s)


def test_uvicorn_refuses_frames_over_the_body_limit() -> None:
    """``gradplay serve``'s uvicorn options cap WebSocket messages at the body limit: the
    server closes with 1009 (message too big) before buffering more."""
    app = create_app(dataclasses.replace(Settings(), max_body_bytes=4096))
    with run_live_server(app) as url:
        import httpx

        run_id = create(httpx.Client(base_url=url), FAST)
        with ws_connect(url.replace("http", "ws") + f"/api/runs/{run_id}/stream",
                        max_size=None) as conn:
            json.loads(conn.recv(timeout=5))
            conn.send(json.dumps({"type": "pause", "pad": "x" * 10_000}))
            with pytest.raises(ConnectionClosed) as info:
                for _ in range(10):
                    conn.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
