"""Security headers, CSP, body size limit, plotly asset delivery and gzip."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import WebSocket
from fastapi.testclient import TestClient

from app.api_docs import ASSET_URL, REDOC_LOGO
from app.main import create_app
from app.security import CSP
from app.static_files import _accepts_gzip, plotly_asset, plotly_js_version
from tests.conftest import app_settings

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' ws: wss:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def assert_security_headers(response: httpx.Response, csp: str = EXPECTED_CSP) -> None:
    assert response.headers["content-security-policy"] == csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def test_csp_constant() -> None:
    assert CSP == EXPECTED_CSP
    assert "unsafe-eval" not in CSP


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/", 200),
        ("GET", "/labs/gradients", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/static/css/app.css", 200),
        ("GET", "/no/such/page", 404),
        ("GET", "/api/activations/nope/curve", 404),
        ("POST", "/api/labs/conv-shape", 422),
        ("DELETE", "/healthz", 405),
    ],
)
def test_headers_on_every_response(client: TestClient, method: str, path: str,
                                   status: int) -> None:
    r = client.request(method, path, json={} if method == "POST" else None)
    assert r.status_code == status
    assert_security_headers(r)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_get_the_same_csp_and_no_cdn(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert_security_headers(r)
    assert "https://" not in r.text and "<script>" not in r.text  # no CDN, no inline script
    assert f'{ASSET_URL}/' in r.text and '"/openapi.json"' in r.text


@pytest.mark.parametrize(("name", "media_type", "marker"), [
    ("swagger-ui-bundle.js", "text/javascript", b"SwaggerUIBundle"),
    ("swagger-ui.css", "text/css", b".swagger-ui"),
    ("redoc.standalone.js", "text/javascript", b"Redoc"),
])
def test_docs_assets_from_the_installed_package(client: TestClient, name: str,
                                                media_type: str, marker: bytes) -> None:
    url = f"{ASSET_URL}/{name}"
    plain = client.get(url, headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith(media_type)
    assert marker in plain.content and len(plain.content) > 100_000
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert_security_headers(plain)
    zipped = client.get(url, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content
    again = client.get(url, headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304
    assert client.head(url).status_code == 200
    if name == "redoc.standalone.js":  # its one remote URL (a logo) is gone
        assert REDOC_LOGO not in plain.content and b"cdn.redoc.ly" not in plain.content


def test_no_cors_by_default(client: TestClient) -> None:
    r = client.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/api/labs/conv-shape",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


# --- body size limit ----------------------------------------------------------------------


def test_oversized_body_rejected_by_content_length(client: TestClient) -> None:
    r = client.post(
        "/api/labs/conv-shape",
        content=b"{" + b" " * 1048576 + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json() == {"detail": "request body too large: the limit is 1048576 bytes "
                                 "(GRADPLAY_MAX_BODY_BYTES)"}
    assert_security_headers(r)


def test_body_at_limit_accepted(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=200)
    body = b'{"input_size": 5, "kernel_size": 3, "padding": 0, "stride": 2}'
    body = body[:-1] + b" " * (200 - len(body)) + b"}"
    assert len(body) == 200
    r = client.post("/api/labs/conv-shape", content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    r = client.post("/api/labs/conv-shape", content=body + b" ",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413


def _chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_oversized_chunked_body_rejected(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=5000)
    # a generator body is sent chunked, without Content-Length
    r = client.post("/api/labs/conv-shape", content=_chunks(6000),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "5000" in r.json()["detail"]


def test_small_chunked_body_accepted(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=5000)
    parts = [b'{"input_size": 5, ', b'"kernel_size": 3, "padding": 0, ', b'"stride": 2}']
    r = client.post("/api/labs/conv-shape", content=iter(parts),
                    headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["output_size"] == 2


def test_live_server_rejects_chunked_oversized_body(live_server: str) -> None:
    # through real uvicorn: a chunked upload over 1 MiB
    r = httpx.post(f"{live_server}/api/labs/conv-shape", content=_chunks(1_200_000, 65536),
                   headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 413
    assert_security_headers(r)


def test_websocket_passes_through_middleware() -> None:
    app = create_app(app_settings(max_body_bytes=10))

    @app.websocket("/ws-echo")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text((await ws.receive_text()) * 2)
        await ws.close()

    with TestClient(app) as client, client.websocket_connect("/ws-echo") as ws:
        ws.send_text("x" * 50)  # larger than max_body_bytes: WS frames are not limited here
        assert ws.receive_text() == "x" * 100


# --- plotly.js and gzip -------------------------------------------------------------------


def test_plotly_url_is_versioned(client: TestClient) -> None:
    url = client.app.state.plotly_js_url  # type: ignore[attr-defined]
    assert url == f"/static/vendor/plotly-{plotly_js_version()}.min.js"
    assert plotly_js_version().count(".") == 2


def test_plotly_gzip(client: TestClient) -> None:
    asset = plotly_asset()
    r = client.get(asset.url, headers={"accept-encoding": "gzip, deflate"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["etag"] == asset.etag
    assert r.headers["content-type"].startswith("text/javascript")
    assert "accept-encoding" in r.headers["vary"].lower()
    assert int(r.headers["content-length"]) == len(asset.gzipped) < len(asset.plain) // 2
    # httpx decoded it once: compressed exactly once (no double gzip from GZipMiddleware)
    assert r.content == asset.plain
    assert r.content.startswith(b"/**\n* plotly.js v" + plotly_js_version().encode())
    assert_security_headers(r)


def test_plotly_plain_without_gzip(client: TestClient) -> None:
    asset = plotly_asset()
    r = client.get(asset.url, headers={"accept-encoding": "identity"})
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert int(r.headers["content-length"]) == len(asset.plain)
    assert r.content == asset.plain


def test_plotly_raw_bytes_are_single_gzip(live_server: str) -> None:
    asset = plotly_asset()
    with httpx.stream("GET", live_server + asset.url,
                      headers={"accept-encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == asset.plain


@pytest.mark.parametrize("tag", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_plotly_304(client: TestClient, tag: str) -> None:
    asset = plotly_asset()
    r = client.get(asset.url, headers={"if-none-match": tag.format(etag=asset.etag)})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == asset.etag
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_plotly_etag_mismatch_gives_200(client: TestClient) -> None:
    r = client.get(plotly_asset().url, headers={"if-none-match": '"stale"'})
    assert r.status_code == 200


def test_plotly_head(client: TestClient) -> None:
    asset = plotly_asset()
    r = client.head(asset.url, headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) == len(asset.gzipped)


def test_other_versions_not_found(client: TestClient) -> None:
    assert client.get("/static/vendor/plotly-0.0.1.min.js").status_code == 404


def test_large_json_gzipped_by_middleware(client: TestClient) -> None:
    body = {"lr": 0.1, "schedule": {"name": "cosine_annealing"}, "steps": 5000}
    r = client.post("/api/schedules/preview", json=body, headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.json()["lr"]) == 5000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("br, gzip;q=0.5", True),
        ("GZIP", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
        ("deflate, br", False),
    ],
)
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert _accepts_gzip(header) is expected
