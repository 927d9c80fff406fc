"""Every NumPy float kind reaches the client as standard JSON: non-finite values are ``null``.

The payloads go through the app's own default response class over HTTP (a route added to a
real app), so the test checks the public behaviour whatever encoder sits behind it: float16,
float32, float64 and longdouble, as scalars, 0-d arrays, 1-d/2-d arrays, non-contiguous views
and non-native byte order, alone and nested in lists, tuples and dicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.test_runs import strict_loads

KINDS = [np.float16, np.float32, np.float64, np.longdouble]
KIND_IDS = [np.dtype(k).name for k in KINDS]
NON_FINITE = [math.nan, math.inf, -math.inf]
PAYLOAD: dict[str, Any] = {}


def _response_class(app: FastAPI) -> Any:
    cls = app.router.default_response_class
    return getattr(cls, "value", cls)  # FastAPI wraps an unset default in a placeholder


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(Settings())
    respond = _response_class(app)

    def echo() -> Any:
        return respond(PAYLOAD["value"])

    app.add_api_route("/__test__/payload", echo, methods=["GET"])
    with TestClient(app) as c:
        yield c


def _round_trip(client: TestClient, value: Any) -> Any:
    PAYLOAD["value"] = value
    r = client.get("/__test__/payload")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    for token in (b"NaN", b"Infinity"):
        assert token not in r.content
    return strict_loads(r.content)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("bad", NON_FINITE, ids=["nan", "inf", "-inf"])
def test_non_finite_scalar_is_null(client: TestClient, kind: Any, bad: float) -> None:
    scalar = kind(bad)
    assert isinstance(scalar, np.floating) and not np.isfinite(scalar)
    assert _round_trip(client, {"v": scalar}) == {"v": None}
    assert _round_trip(client, [scalar, 1]) == [None, 1]
    assert _round_trip(client, {"t": (scalar, kind(0.5))}) == {"t": [None, 0.5]}
    # a 0-d array is a scalar too
    assert _round_trip(client, {"v": np.array(bad, dtype=kind)}) == {"v": None}


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_finite_scalars_keep_their_value(client: TestClient, kind: Any) -> None:
    top = min(float(np.finfo(kind).max), float(np.finfo(np.float64).max))
    values = [0.0, -0.0, 0.5, -2.25, 1e-3, 123.456, top, -top]
    got = _round_trip(client, {"v": [kind(v) for v in values]})["v"]
    rtol = float(np.finfo(kind).eps)
    for want, value in zip(values, got, strict=True):
        assert isinstance(value, int | float), (want, value)
        assert value == pytest.approx(float(kind(want)), rel=rtol, abs=0.0)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_arrays_with_non_finite_values(client: TestClient, kind: Any) -> None:
    one = np.array([1.5, math.nan, -math.inf, math.inf, -0.25], dtype=kind)
    two = np.array([[math.nan, 2.0, 3.0], [4.0, math.inf, -math.inf]], dtype=kind)
    got = _round_trip(client, {"one": one, "two": two, "list": [one, two]})
    assert got["one"] == [1.5, None, None, None, -0.25]
    assert got["two"] == [[None, 2.0, 3.0], [4.0, None, None]]
    assert got["list"] == [got["one"], got["two"]]
    # all non-finite, and empty
    assert _round_trip(client, np.full((2, 2), math.nan, dtype=kind)) == [[None, None]] * 2
    assert _round_trip(client, np.array([], dtype=kind)) == []


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_views_and_byte_orders(client: TestClient, kind: Any) -> None:
    base = np.arange(12, dtype=kind).reshape(3, 4)
    base[1, 2] = math.nan
    base[2, 0] = -math.inf
    want = [[None if not math.isfinite(v) else v for v in row] for row in base.tolist()]
    views = {
        "transposed": (base.T, [list(col) for col in zip(*want, strict=True)]),
        "strided": (base[:, ::2], [row[::2] for row in want]),
        "fortran": (np.asfortranarray(base), want),
        "swapped": (base.astype(base.dtype.newbyteorder()), want),
    }
    for name, (view, expected) in views.items():
        assert _round_trip(client, {name: view}) == {name: expected}, name


def test_mixed_kinds_nested(client: TestClient) -> None:
    payload = {
        "layers": [
            {"W": np.array([[math.nan, 1.0]], dtype=np.float32), "b": np.float16(math.inf)},
            {"W": np.array([[2.0, -math.inf]]), "b": np.longdouble(math.nan)},
        ],
        "loss": np.float64(math.nan),  # a float subclass: the encoder sees a Python float
        "py": [math.nan, math.inf, 3.0],
        "count": np.int64(3),
        "flag": np.bool_(False),
    }
    assert _round_trip(client, payload) == {
        "layers": [{"W": [[None, 1.0]], "b": None}, {"W": [[2.0, None]], "b": None}],
        "loss": None,
        "py": [None, None, 3.0],
        "count": 3,
        "flag": False,
    }
