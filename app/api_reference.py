"""An offline, server-rendered API reference built from the app's own OpenAPI document.

Besides ``/docs`` (Swagger UI) and ``/redoc`` (both offline too: :mod:`app.api_docs`),
``/api-reference`` renders the OpenAPI document as plain HTML in the app's own pages: every
operation with its parameters, body and responses, and every schema with its fields, types,
ranges and defaults. Nothing here is written by hand: it changes when the routes and models change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Field:
    """One parameter or schema property, summarised for a table row."""

    name: str
    type: str
    required: bool
    description: str = ""
    location: str = ""  # path / query for parameters


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    parameters: list[Field]
    body: str | None  # type summary of the JSON body (schema names link to the schema list)
    body_required: bool
    responses: list[tuple[str, str, str]]  # (status, description, type summary)
    security: list[str] = field(default_factory=list)  # scheme names; any one suffices


@dataclass(frozen=True)
class SecurityScheme:
    name: str
    kind: str  # e.g. "HTTP bearer", "API key (cookie gradplay_owner)"
    description: str


def security_schemes(openapi: dict[str, Any]) -> list[SecurityScheme]:
    """The document's security schemes (how a client proves it may use a run)."""
    out = []
    for name, scheme in openapi.get("components", {}).get("securitySchemes", {}).items():
        if scheme.get("type") == "http":
            kind = f"HTTP {scheme.get('scheme', '')}: Authorization header"
        elif scheme.get("type") == "apiKey":
            kind = f"API key in {scheme.get('in', '')} parameter {scheme.get('name', '')!r}"
        else:
            kind = str(scheme.get("type", ""))
        out.append(SecurityScheme(name, kind, scheme.get("description", "")))
    return out


@dataclass(frozen=True)
class Schema:
    name: str
    description: str
    fields: list[Field]
    extra_forbidden: bool


@dataclass
class Group:
    tag: str
    description: str
    operations: list[Operation] = field(default_factory=list)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _number(value: Any) -> str:
    """1.0 -> "1", 1e-08 -> "1e-08" (ranges read better without trailing .0). The int64 limit
    2**63 - 1, which JSON Schema carries as the float 2.0**63, reads "2^63 − 1"."""
    if isinstance(value, float) and value == 2.0**63:
        return "2^63 − 1"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _range(schema: dict[str, Any]) -> str:
    lower = [(k, schema[k]) for k in ("minimum", "exclusiveMinimum") if k in schema]
    upper = [(k, schema[k]) for k in ("maximum", "exclusiveMaximum") if k in schema]
    parts = []
    if lower:
        key, value = lower[0]
        parts.append(f"{_number(value)} {'<' if key == 'exclusiveMinimum' else '≤'} x")
    if upper:
        key, value = upper[0]
        bound = f"{'<' if key == 'exclusiveMaximum' else '≤'} {_number(value)}"
        parts = [f"{parts[0]} {bound}"] if parts else [f"x {bound}"]
    for key, label in (("minLength", "length ≥"), ("maxLength", "length ≤"),
                       ("minItems", "items ≥"), ("maxItems", "items ≤")):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    return ", ".join(parts)


def type_summary(schema: dict[str, Any] | None) -> str:
    """A short human-readable type: ``integer (1 ≤ x ≤ 10000)``, ``array of number``,
    ``RunConfig``, ``string: one of "a", "b"``, ``StepRequest | null``."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(type_summary(s) for s in schema[key]))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_summary(schema["allOf"][0])
    if "const" in schema:
        return repr(schema["const"]).replace("'", '"')
    if "enum" in schema:
        return f"{schema.get('type', 'value')}: one of " + ", ".join(
            repr(v).replace("'", '"') for v in schema["enum"]
        )
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        items = schema.get("items")
        text = f"array of {type_summary(items)}" if items else "array"
        if "prefixItems" in schema:
            text = "[" + ", ".join(type_summary(s) for s in schema["prefixItems"]) + "]"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = f"object of {type_summary(schema['additionalProperties'])}"
    else:
        text = str(kind)
    limits = _range(schema)
    return f"{text} ({limits})" if limits else text


def _description(schema: dict[str, Any], fallback: str = "") -> str:
    text = schema.get("description") or fallback
    if "default" in schema:
        default = repr(schema["default"]).replace("'", '"').replace("None", "null")
        default = default.replace("True", "true").replace("False", "false")
        text = f"{text} Default: {default}.".strip()
    return text


def _body(operation: dict[str, Any]) -> tuple[str | None, bool]:
    body = operation.get("requestBody")
    if not body:
        return None, False
    content = body.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), {})
    return type_summary(media.get("schema")), bool(body.get("required"))


def _responses(operation: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for status, response in sorted(operation.get("responses", {}).items()):
        content = response.get("content", {})
        media = content.get("application/json")
        kind = type_summary(media.get("schema")) if media else ", ".join(content) or "—"
        out.append((status, response.get("description", ""), kind))
    return out


def operations_by_tag(openapi: dict[str, Any]) -> list[Group]:
    """Every operation, grouped by its first tag, in the document's tag order."""
    groups = {t["name"]: Group(t["name"], t.get("description", "")) for t in
              openapi.get("tags", [])}
    for path, item in openapi.get("paths", {}).items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["other"])[0]
            group = groups.setdefault(tag, Group(tag, ""))
            body, body_required = _body(op)
            params = [
                Field(p["name"], type_summary(p.get("schema")), bool(p.get("required")),
                      _description(p.get("schema", {}), p.get("description", "")), p["in"])
                for p in op.get("parameters", [])
            ]
            group.operations.append(Operation(
                method=method.upper(), path=path, summary=op.get("summary", ""),
                description=op.get("description", ""),
                anchor=op.get("operationId", f"{method}-{path}"),
                parameters=params, body=body, body_required=body_required,
                responses=_responses(op),
                security=[name for requirement in op.get("security", [])
                          for name in requirement],
            ))
    return [g for g in groups.values() if g.operations]


def schemas(openapi: dict[str, Any]) -> list[Schema]:
    """Every component schema with its fields, sorted by name."""
    out = []
    for name, schema in sorted(openapi.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        fields = [
            Field(prop, type_summary(sub), prop in required, _description(sub))
            for prop, sub in schema.get("properties", {}).items()
        ]
        out.append(Schema(name, schema.get("description", ""), fields,
                          schema.get("additionalProperties") is False))
    return out


_INLINE_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


_BULLET = re.compile(r"^\s*[*-]\s+(.*)$")


def _inline(text: str) -> str:
    out = str(escape(text))
    out = _INLINE_CODE.sub(lambda m: f"<code>{m.group(1) or m.group(2)}</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


def inline_markdown(text: str) -> Markup:
    """Docstring text as safe HTML: ``code`` / `code`, **bold** and bullet lists (lines starting
    with ``* `` or ``- ``; indented lines continue the item); everything else escaped (line
    breaks are kept by the page's CSS)."""
    parts: list[str] = []
    para: list[str] = []
    items: list[str] | None = None

    def flush_list() -> None:
        nonlocal items
        if items is not None:
            lis = "".join(f"<li>{_inline(item)}</li>" for item in items)
            parts.append(f'<ul class="md-list">{lis}</ul>')
            items = None

    for line in text.split("\n"):
        bullet = _BULLET.match(line)
        if bullet and not line.lstrip().startswith("**"):
            if para:
                parts.append(_inline("\n".join(para).strip("\n")))
                para = []
            if items is None:
                items = []
            items.append(bullet.group(1))
        elif items is not None and line[:1] in (" ", "\t") and line.strip():
            items[-1] += " " + line.strip()
        else:
            flush_list()
            para.append(line)
    flush_list()
    if para:
        parts.append(_inline("\n".join(para).strip("\n") if len(parts) else "\n".join(para)))
    return Markup("".join(parts))


def linked_type(summary: str, schema_names: frozenset[str] | set[str]) -> Markup:
    """A type summary as safe HTML whose schema names link to their entries on the page."""
    out = str(escape(summary))
    return Markup(re.sub(
        r"\b[A-Za-z_][A-Za-z0-9_]*\b",
        lambda m: f'<a href="#schema-{m.group(0)}">{m.group(0)}</a>'
        if m.group(0) in schema_names else m.group(0),
        out,
    ))
