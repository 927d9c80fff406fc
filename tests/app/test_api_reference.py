"""The offline API reference page: generated from the OpenAPI document, complete."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api_reference import operations_by_tag, schemas, type_summary


@pytest.mark.parametrize(
    ("schema", "text"),
    [
        ({"type": "integer", "minimum": 1.0, "maximum": 10000.0}, "integer (1 ≤ x ≤ 10000)"),
        ({"type": "number", "exclusiveMinimum": 0.0}, "number (0 < x)"),
        ({"type": "number", "maximum": 1}, "number (x ≤ 1)"),
        ({"type": "integer", "minimum": 0, "maximum": 2.0**63}, "integer (0 ≤ x ≤ 2^63 − 1)"),
        ({"anyOf": [{"$ref": "#/components/schemas/StepRequest"}, {"type": "null"}]},
         "StepRequest | null"),
        ({"type": "array", "items": {"type": "number"}, "maxItems": 64},
         "array of number (items ≤ 64)"),
        ({"type": "string", "enum": ["json", "csv"]}, 'string: one of "json", "csv"'),
        ({"type": "object", "additionalProperties": {"type": "number"}}, "object of number"),
        ({"const": "frame"}, '"frame"'),
        ({}, "any"),
        (None, "any"),
    ],
)
def test_type_summary(schema: dict[str, Any] | None, text: str) -> None:
    assert type_summary(schema) == text


def test_every_operation_and_schema_is_listed(client: TestClient) -> None:
    openapi = client.get("/openapi.json").json()
    groups = operations_by_tag(openapi)
    listed = {(op.method, op.path) for g in groups for op in g.operations}
    expected = {(m.upper(), path) for path, item in openapi["paths"].items() for m in item
                if m in ("get", "post", "put", "patch", "delete")}
    assert listed == expected and len(expected) > 20
    assert {s.name for s in schemas(openapi)} == set(openapi["components"]["schemas"])


def test_reference_page(client: TestClient) -> None:
    r = client.get("/api-reference")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    text = html.unescape(r.text)
    openapi = client.get("/openapi.json").json()
    for path in openapi["paths"]:
        assert path in text, path
    for name in openapi["components"]["schemas"]:
        assert f'id="schema-{name}"' in text, name
    # a few details a reader relies on
    assert "integer (1 ≤ x ≤ 10000)" in text  # StepRequest.steps
    assert "/api/runs/{run_id}/stream" in text and '{"type": "play"}' in text  # WS protocol
    assert "no extra fields" in text
    assert re.search(r'href="/api-reference"[^>]*data-testid="nav-docs"', r.text)
    assert "<script>" not in r.text  # CSP: no inline scripts


def test_reference_shows_the_credentials(client: TestClient) -> None:
    openapi = client.get("/openapi.json").json()
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["ownerToken"] == {"type": "http", "scheme": "bearer",
                                     "description": schemes["ownerToken"]["description"]}
    assert schemes["ownerCookie"]["in"] == "cookie"
    assert schemes["ownerCookie"]["name"] == "gradplay_owner"
    assert (schemes["watchToken"]["in"], schemes["watchToken"]["name"]) == ("query", "watch")
    paths = openapi["paths"]
    owner = [{"ownerToken": []}, {"ownerCookie": []}]
    assert paths["/api/runs/{run_id}"]["patch"]["security"] == owner
    assert paths["/api/runs/{run_id}/step"]["post"]["security"] == owner
    assert paths["/api/runs/{run_id}"]["get"]["security"] == [*owner, {"watchToken": []}]
    assert "security" not in paths["/api/runs"]["post"]  # creating is open
    text = html.unescape(client.get("/api-reference").text)
    assert 'data-testid="api-security"' in text
    assert "HTTP bearer: Authorization header" in text
    assert "API key in query parameter 'watch'" in text
    patch = text[text.index('id="patch_run'):]
    patch = patch[:patch.index("</article>")]
    assert "Credentials" in patch and "ownerToken" in patch and "watchToken" not in patch


def test_inline_markdown_escapes_and_formats() -> None:
    from app.api_reference import inline_markdown, linked_type

    assert str(inline_markdown("<b>x</b> ``a<b`` and `c` **d**")) == (
        "&lt;b&gt;x&lt;/b&gt; <code>a&lt;b</code> and <code>c</code> <strong>d</strong>")
    assert str(linked_type("RunConfig | null", {"RunConfig"})) == (
        '<a href="#schema-RunConfig">RunConfig</a> | null')
    assert str(linked_type("array of <x>", set())) == "array of &lt;x&gt;"
