"""API tests of the backprop lab: POST /api/labs/backprop with "walk" and "train_steps", and
GET /api/labs/backprop/notes. Errors name the field and its allowed range."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.labs.backprop import BACKPROP_PRESETS, backprop_example, backprop_walk

URL = "/api/labs/backprop"


def body(name: str = "notes_221", **extra: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BACKPROP_PRESETS[name]), **extra}


def test_walk_steps_are_the_engines(client: TestClient) -> None:
    r = client.post(URL, json=body(walk=True))
    assert r.status_code == 200, r.text
    out = r.json()
    steps = out["steps"]
    expected = backprop_walk(**BACKPROP_PRESETS["notes_221"])["steps"]
    assert steps == json.loads(json.dumps(expected))
    delta2 = next(s for s in steps if s["symbol"] == "δ₂")
    assert (delta2["formula"], delta2["substituted"], delta2["value_text"]) == (
        "(ŷ − y)·σ′(z₂)",
        "(0.76574 − 0.5)·0.17938",
        "0.04767",
    )
    assert [(o["symbol"], o["text"]) for o in delta2["operands"]] == [
        ("∂L/∂ŷ", "0.26574"),
        ("σ′(z₂)", "0.17938"),
    ]
    grads = [s for s in steps if s["kind"] in ("dW", "db")]
    assert len(grads) == 9 and all(s["check"]["rel_error"] < 1e-6 for s in grads)
    assert "training" not in out


def test_without_walk_no_steps(client: TestClient) -> None:
    out = client.post(URL, json=body()).json()
    assert "steps" not in out and "training" not in out


def test_train_steps(client: TestClient) -> None:
    r = client.post(URL, json=body("softmax_233", train_steps=50))
    assert r.status_code == 200, r.text
    tr = r.json()["training"]
    assert len(tr["loss"]) == 51 and tr["loss"][-1] < tr["loss"][0] / 2
    assert len(tr["params"]) == 6 + 3 + 9 + 3 and tr["diverged"] is None
    first = backprop_example(**BACKPROP_PRESETS["softmax_233"])["updated"][0]["W"][0][0]
    assert tr["params"][0]["values"][1] == first


def test_diverging_training_is_json_without_nan(client: TestClient) -> None:
    b = body(activation="identity", lr=10.0, x=[1000.0, 1000.0], train_steps=40)
    r = client.post(URL, json=b)
    assert r.status_code == 200
    assert "NaN" not in r.text and "Infinity" not in r.text
    tr = r.json()["training"]
    assert tr["diverged"] is not None and tr["loss"][-1] is None


@pytest.mark.parametrize(
    ("patch", "loc", "text"),
    [
        ({"x": [1.0, 1e4]}, ["body", "x"], "-1000 <= x <= 1000"),
        ({"y": [2000.0]}, ["body", "y"], "-1000 <= x <= 1000"),
        (
            {
                "layers": [
                    {"W": [[0.5, 0.6], [0.7, 0.8]], "b": [0.1, 5000.0]},
                    {"W": [[0.9], [0.1]], "b": [0.3]},
                ]
            },
            ["body", "layers", 0, "b"],
            "-1000 <= x <= 1000",
        ),
        ({"lr": -1.0}, ["body", "lr"], "10"),
        ({"train_steps": 1001}, ["body", "train_steps"], "1000"),
        ({"train_steps": -1}, ["body", "train_steps"], "1000"),
        (
            {
                "walk": True,
                "x": [1.0, 2.0],
                "y": [0.0] * 5,
                "layers": [
                    {"W": [[0.0] * 30] * 2, "b": [0.0] * 30},
                    {"W": [[0.0] * 5] * 30, "b": [0.0] * 5},
                ],
            },
            ["body", "walk"],
            "200",
        ),
    ],
)
def test_errors_name_field_and_range(
    client: TestClient, patch: dict[str, Any], loc: list[Any], text: str
) -> None:
    r = client.post(URL, json=body(**patch))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [loc]
    assert text in detail[0]["msg"]


def test_cross_entropy_class_id_error(client: TestClient) -> None:
    r = client.post(URL, json=body("softmax_233", y=[3]))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "y"]
    assert "0 <= id < 3" in r.json()["detail"][0]["msg"]


def test_notes_endpoint(client: TestClient) -> None:
    r = client.get(URL + "/notes")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["source"].endswith("003_3268ba521db8fca8.txt:152-265")
    rows = {row["id"]: row for row in out["rows"]}
    a1 = rows["a1"]["entries"][1]
    assert (a1["printed"], round(a1["exact"], 4), a1["agrees"]) == ("0.9084", 0.9168, False)
    assert a1["slip"] in out["slips"]
    assert all(e["agrees"] == (e["slip"] is None) for row in out["rows"] for e in row["entries"])


def test_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths[URL + "/notes"]
    props = client.get("/openapi.json").json()["components"]["schemas"]["BackpropRequest"]
    assert {"walk", "train_steps"} <= set(props["properties"])
