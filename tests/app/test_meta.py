"""Health, catalog, OpenAPI, pages and the CLI."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.cli import build_parser, main
from app.routers.meta import CATALOG_SOURCES
from app.settings import Settings

CATALOG_KEYS = {
    "activations",
    "initializers",
    "losses",
    "optimizers",
    "features",
    "schedules",
    "datasets",
    "regularization",
    "grad_clip",
    "test_functions",
}


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", body["version"])


def test_catalog_lists_every_registry(client: TestClient) -> None:
    r = client.get("/api/catalog")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == CATALOG_KEYS | {"limits"}
    assert set(CATALOG_SOURCES) == CATALOG_KEYS
    for key in CATALOG_KEYS:
        entries = body[key]
        assert entries, f"{key} is empty"
        names = [e["name"] for e in entries]
        assert len(names) == len(set(names))
        for entry in entries:
            assert {"name", "label", "formula", "params"} <= set(entry)
            for param in entry["params"]:
                assert {"name", "type", "default"} <= set(param)
    assert "relu" in [e["name"] for e in body["activations"]]
    assert "cosine_annealing" in [e["name"] for e in body["schedules"]]
    assert {"rprop", "nadam", "radam", "adamax", "adadelta"} <= {
        e["name"] for e in body["optimizers"]
    }
    surfaces = {e["name"]: e for e in body["test_functions"]}
    assert {"quadratic", "plateau", "wells", "saddle"} <= set(surfaces)
    assert len(surfaces["wells"]["minima"]) == 3 and surfaces["saddle"]["minima"] == []
    assert "rotation" in [p["name"] for p in surfaces["quadratic"]["params"]]


def test_catalog_limits_come_from_settings(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_units=99, max_preview_steps=1234)
    limits = client.get("/api/catalog").json()["limits"]
    assert limits["max_units"] == 99
    assert limits["max_preview_steps"] == 1234
    assert limits["max_body_bytes"] == 1048576
    assert set(limits) == set(Settings().limits())
    assert "templates_dir" not in limits


def test_openapi_documents_endpoints(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["info"]["title"] == "GradPlay"
    paths = spec["paths"]
    for path in (
        "/healthz",
        "/api/catalog",
        "/api/schedules/preview",
        "/api/activations/{name}/curve",
        "/api/labs/conv-shape",
    ):
        assert path in paths, path
    assert "/" not in paths  # HTML pages stay out of the API schema
    preview = paths["/api/schedules/preview"]["post"]
    assert preview["summary"]
    assert "422" in preview["responses"]
    schemas = spec["components"]["schemas"]
    assert schemas["SchedulePreviewRequest"]["examples"][0]["steps"] == 200
    assert schemas["ConvShapeRequest"]["additionalProperties"] is False
    assert schemas["ConvShapeRequest"]["examples"][0]["input_size"] == 5


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_served(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert "/openapi.json" in r.text
    assert "cdn." not in r.text  # assets are the app's own (app/api_docs.py)


def test_index_page(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    for testid in ("nav", "nav-playground", "nav-gradients", "nav-schedules", "nav-sparsity",
                   "play", "pause", "step", "reset", "status", "step-counter", "chart-loss",
                   "chart-lr", "chart-grad-norm", "chart-grad-heatmap", "chart-weights-hist",
                   "chart-boundary"):
        assert f'data-testid="{testid}"' in html
    for label in ("Playground", "Gradients lab", "Schedules lab", "Sparsity lab"):
        assert label in html
    # plotly URL comes from the Jinja global, scripts are external modules (CSP: no inline JS)
    assert f'src="{client.app.state.plotly_js_url}"' in html  # type: ignore[attr-defined]
    assert re.search(r'<script type="module" src="/static/js/playground/main\.js\?v=[^"]+">', html)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/labs/gradients", "Vanishing and exploding gradients"),
        ("/labs/schedules", "Learning-rate schedules"),
        ("/labs/sparsity", "Sparsity: L1 vs L2"),
    ],
)
def test_lab_placeholder_pages(client: TestClient, path: str, title: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert re.search(rf"<h1[^>]*>{title}</h1>", r.text)
    assert re.search(rf'href="{path}"[^>]*aria-current="page"', r.text)


def test_static_css_served(client: TestClient) -> None:
    r = client.get("/static/css/app.css")
    assert r.status_code == 200
    assert "text/css" in r.headers["content-type"]
    assert client.get("/static/nope.css").status_code == 404


def test_cli_defaults_to_loopback() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9001"])
    assert (args.host, args.port) == ("0.0.0.0", 9001)


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_cli_rejects_bad_port(port: str) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["serve", "--port", port])
    assert info.value.code == 2


def test_cli_reports_invalid_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRADPLAY_MAX_UNITS", "lots")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "GRADPLAY_MAX_UNITS" in err and "'lots'" in err


def test_cli_passes_uvicorn_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))  # not this test process
    assert main(["serve", "--port", "9002"]) == 0
    assert main(["serve", "--ws-compression"]) == 0
    first, second = calls
    assert first["port"] == 9002 and first["host"] == "127.0.0.1"
    assert first["ws"] == "websockets-sansio" and first["ws_per_message_deflate"] is False
    assert second["ws_per_message_deflate"] is True
    assert frozen == [True, True]  # startup objects kept out of full GC passes
