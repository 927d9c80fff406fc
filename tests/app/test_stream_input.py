"""WebSocket input goes through the same validation as HTTP (issue 16, defects 3 and 8): bad
frames get ``{"type": "error"}`` and the connection stays usable. And connections that stall
(defect 10) are cut, on a real uvicorn with ``gradplay serve``'s options."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from app.main import create_app
from tests.app.test_stream import FAST, Stream, create, tc_stream
from tests.conftest import app_settings, run_live_server

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
    app = create_app(dataclasses.replace(app_settings(), max_body_bytes=4096))
    with run_live_server(app) as url:
        import httpx

        api = httpx.Client(base_url=url)
        run_id = create(api, FAST)
        owner = {"Authorization": f"Bearer {api.cookies['gradplay_owner']}"}
        with ws_connect(url.replace("http", "ws") + f"/api/runs/{run_id}/stream",
                        max_size=None, additional_headers=owner) as conn:
            json.loads(conn.recv(timeout=5))
            conn.send(json.dumps({"type": "pause", "pad": "x" * 10_000}))
            with pytest.raises(ConnectionClosed) as info:
                for _ in range(10):
                    conn.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def _raw_exchange(url: str, payload: bytes) -> bytes:
    """Send ``payload`` on a raw socket, then stall; everything the server sends until it
    closes the connection (the socket timeout only guards the test itself)."""
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(payload)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_stalled_headers_and_bodies_are_cut() -> None:
    app = create_app(dataclasses.replace(app_settings(), request_timeout_seconds=1))
    with run_live_server(app) as url:
        # headers never completed: the connection is closed without an answer
        assert _raw_exchange(url, b"POST /api/runs HTTP/1.1\r\nHost: localhost\r\n") == b""
        # a body announced but never sent: 408 naming the limit
        answer = _raw_exchange(url, b"POST /api/runs HTTP/1.1\r\nHost: localhost\r\n"
                                    b"Content-Type: application/json\r\n"
                                    b"Content-Length: 100\r\n\r\n{")
        assert answer.startswith(b"HTTP/1.1 408") and b"within 1 s" in answer
