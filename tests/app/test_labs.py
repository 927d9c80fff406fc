"""Stateless lab endpoints: schedule preview, activation curves, conv shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.activations import curve
from core.schedules import make_schedule

PREVIEW = "/api/schedules/preview"
CONV = "/api/labs/conv-shape"


def post_raw(client: TestClient, url: str, text: str) -> Any:
    return client.post(url, content=text.encode(), headers={"content-type": "application/json"})


def locs(response: Any) -> list[list[Any]]:
    return [item["loc"] for item in response.json()["detail"]]


# --- schedule preview ---------------------------------------------------------------------


def test_preview_matches_engine(client: TestClient) -> None:
    body = {
        "lr": 0.1,
        "schedule": {"name": "step", "step_size": 3, "gamma": 0.5, "warmup_steps": 2},
        "steps": 12,
        "seed": 3,
    }
    r = client.post(PREVIEW, json=body)
    assert r.status_code == 200, r.text
    lr = r.json()["lr"]
    expected = make_schedule(
        "step", {"step_size": 3, "gamma": 0.5}, 0.1, seed=3, warmup_steps=2
    ).series(12)
    assert len(lr) == 12
    np.testing.assert_allclose(lr, expected, rtol=1e-12)
    assert lr[0] < lr[1] <= 0.1  # linear warmup ramps up


def test_preview_step_schedule_values(client: TestClient) -> None:
    body = {"lr": 1, "schedule": {"name": "step", "step_size": 2, "gamma": 0.5}, "steps": 6}
    r = client.post(PREVIEW, json=body)  # JSON integer accepted for the float lr
    assert r.status_code == 200, r.text
    assert r.json()["lr"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_preview_large_series_is_plain_json(client: TestClient) -> None:
    body = {"lr": 0.1, "schedule": {"name": "cosine_annealing"}, "steps": 100000}
    r = client.post(PREVIEW, json=body)
    assert r.status_code == 200
    lr = json.loads(r.text)  # strict parser: would choke on NaN/Infinity
    assert len(lr["lr"]) == 100000
    assert all(isinstance(v, float) for v in lr["lr"][:10])


@pytest.mark.parametrize(
    ("body", "loc", "msg_part"),
    [
        ({"lr": 0, "schedule": {"name": "constant"}, "steps": 5}, ["body", "lr"], "greater than 0"),
        ({"lr": -1.0, "schedule": {"name": "constant"}, "steps": 5}, ["body", "lr"], "greater"),
        ({"lr": 0.1, "schedule": {"name": "constant"}, "steps": 0}, ["body", "steps"], "greater"),
        (
            {"lr": 0.1, "schedule": {"name": "constant"}, "steps": 100001},
            ["body", "steps"],
            "100000",
        ),
        ({"lr": "0.1", "schedule": {"name": "constant"}, "steps": 5}, ["body", "lr"], "number"),
        ({"lr": 0.1, "schedule": {"name": "constant"}, "steps": 5.5}, ["body", "steps"], "integer"),
        (
            {"lr": 0.1, "schedule": {"name": "constant"}, "steps": True},
            ["body", "steps"],
            "integer",
        ),
        ({"lr": 0.1, "schedule": {"name": "constant"}, "steps": 5, "x": 1}, ["body", "x"], "Extra"),
        ({"lr": 0.1, "steps": 5}, ["body", "schedule"], "required"),
        ({"lr": 0.1, "schedule": {"name": "nope"}, "steps": 5}, ["body", "schedule", "name"],
         "choices"),
        (
            {"lr": 0.1, "schedule": {"name": "step", "gama": 0.5}, "steps": 5},
            ["body", "schedule", "gama"],
            "allowed: gamma",
        ),
        (
            {"lr": 0.1, "schedule": {"name": "step", "gamma": 2.0}, "steps": 5},
            ["body", "schedule", "gamma"],
            "<= 1.0",
        ),
        (
            {"lr": 0.1, "schedule": {"name": "constant", "warmup_steps": -1}, "steps": 5},
            ["body", "schedule", "warmup_steps"],
            "greater than or equal",
        ),
        ({"lr": 0.1, "schedule": {"name": "constant"}, "steps": 5, "seed": -2},
         ["body", "seed"], "greater than or equal"),
    ],
)
def test_preview_rejects(client: TestClient, body: dict[str, Any], loc: list[Any],
                         msg_part: str) -> None:
    r = client.post(PREVIEW, json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert loc in locs(r)
    assert any(msg_part in d["msg"] for d in detail if d["loc"] == loc), detail


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_preview_rejects_non_finite_raw_json(client: TestClient, token: str) -> None:
    text = f'{{"lr": {token}, "schedule": {{"name": "constant"}}, "steps": 5}}'
    r = post_raw(client, PREVIEW, text)
    assert r.status_code == 422
    assert ["body", "lr"] in locs(r)
    assert "NaN" not in r.text and "Infinity" not in r.text  # echoed input became null
    json.loads(r.text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_preview_rejects_non_finite_schedule_param(client: TestClient) -> None:
    text = '{"lr": 0.1, "schedule": {"name": "step", "gamma": NaN}, "steps": 5}'
    r = post_raw(client, PREVIEW, text)
    assert r.status_code == 422
    assert locs(r) == [["body", "schedule", "gamma"]]


def test_preview_step_limit_follows_settings(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_preview_steps=50)
    ok = client.post(PREVIEW, json={"lr": 0.1, "schedule": {"name": "constant"}, "steps": 50})
    assert ok.status_code == 200
    r = client.post(PREVIEW, json={"lr": 0.1, "schedule": {"name": "constant"}, "steps": 51})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "steps"]
    assert "50" in r.json()["detail"][0]["msg"]


# --- activation curves --------------------------------------------------------------------


def test_relu_curve_values(client: TestClient) -> None:
    r = client.get("/api/activations/relu/curve", params={"x_min": -2, "x_max": 2, "n": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["x"] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert body["y"] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert body["dy"][0] == 0.0 and body["dy"][-1] == 1.0


def test_curve_defaults(client: TestClient) -> None:
    body = client.get("/api/activations/tanh/curve").json()
    assert len(body["x"]) == 241
    assert body["x"][0] == -6.0 and body["x"][-1] == 6.0
    np.testing.assert_allclose(body["y"], np.tanh(body["x"]), rtol=1e-12)
    np.testing.assert_allclose(body["dy"], 1 - np.tanh(body["x"]) ** 2, rtol=1e-9, atol=1e-15)


def test_curve_params_json(client: TestClient) -> None:
    r = client.get(
        "/api/activations/leaky_relu/curve",
        params={"x_min": -1, "x_max": 1, "n": 3, "params": '{"negative_slope": 0.2}'},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    y, dy = curve("leaky_relu", {"negative_slope": 0.2}, np.array([-1.0, 0.0, 1.0]))
    assert body["y"] == pytest.approx(list(y))
    assert body["y"][0] == pytest.approx(-0.2)
    assert body["dy"] == pytest.approx(list(dy))


def test_curve_unknown_activation_404(client: TestClient) -> None:
    r = client.get("/api/activations/swishy/curve")
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "swishy" in detail and "relu" in detail and "tanh" in detail


@pytest.mark.parametrize(
    ("params", "loc", "msg_part"),
    [
        ({"x_min": 1, "x_max": 1}, ["query", "x_max"], "greater than x_min"),
        ({"x_min": 2, "x_max": -2}, ["query", "x_max"], "greater than x_min"),
        ({"n": 1}, ["query", "n"], "greater than or equal to 2"),
        ({"n": 10002}, ["query", "n"], "less than or equal"),
        ({"x_min": "nan"}, ["query", "x_min"], "finite"),
        ({"x_max": "inf"}, ["query", "x_max"], "finite"),
        ({"x_min": -5000}, ["query", "x_min"], "greater than or equal"),
        ({"params": "{bad"}, ["query", "params"], "invalid JSON"),
        ({"params": "[1, 2]"}, ["query", "params"], "JSON object"),
        ({"params": '{"negative_slope": NaN}'}, ["query", "params"], "NaN"),
        ({"params": '{"negative_slope": 5}'}, ["query", "params", "negative_slope"], "<="),
        ({"params": '{"slope": 0.1}'}, ["query", "params", "slope"], "allowed: negative_slope"),
    ],
)
def test_curve_rejects(client: TestClient, params: dict[str, Any], loc: list[Any],
                       msg_part: str) -> None:
    r = client.get("/api/activations/leaky_relu/curve", params=params)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(d["loc"] == loc and msg_part in d["msg"] for d in detail), detail


# --- conv shape ---------------------------------------------------------------------------


def test_conv_shape_notes_example(client: TestClient) -> None:
    r = client.post(CONV, json={"input_size": 5, "kernel_size": 3, "padding": 0, "stride": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output_size"] == 2
    assert body["valid"] is True
    assert body["remainder"] == 0
    assert body["formula"].endswith("= 2")


def test_conv_shape_not_exact(client: TestClient) -> None:
    body = {"input_size": 7, "kernel_size": 3, "padding": 0, "stride": 3, "dilation": 1}
    r = client.post(CONV, json=body)
    assert r.json() == {
        "output_size": 2,
        "formula": "W2 = floor((W1 - F + 2P)/S) + 1 = floor((7 - 3 + 2*0)/3) + 1 = 2",
        "valid": False,
        "remainder": 1,
        "windows": [0, 3],  # window starts i·S (the blocks lab draws them)
        "span": 3,
    }


def test_conv_shape_dilation(client: TestClient) -> None:
    body = {"input_size": 10, "kernel_size": 3, "padding": 0, "stride": 1, "dilation": 2}
    assert client.post(CONV, json=body).json()["output_size"] == 6


def test_conv_kernel_too_large(client: TestClient) -> None:
    r = client.post(CONV, json={"input_size": 3, "kernel_size": 7, "padding": 1, "stride": 1})
    assert r.status_code == 422
    [item] = r.json()["detail"]
    assert item["loc"] == ["body", "kernel_size"]
    assert item["type"] == "value_error"
    assert "larger than the padded input" in item["msg"] and "5" in item["msg"]


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"input_size": 0}, ["body", "input_size"]),
        ({"padding": -1}, ["body", "padding"]),
        ({"stride": 0}, ["body", "stride"]),
        ({"stride": 1.5}, ["body", "stride"]),
        ({"stride": "2"}, ["body", "stride"]),
        ({"dilation": 0}, ["body", "dilation"]),
        ({"extra": 1}, ["body", "extra"]),
    ],
)
def test_conv_rejects(client: TestClient, patch: dict[str, Any], loc: list[Any]) -> None:
    body = {"input_size": 8, "kernel_size": 3, "padding": 0, "stride": 1, **patch}
    r = client.post(CONV, json=body)
    assert r.status_code == 422
    assert loc in locs(r)


def test_conv_missing_field(client: TestClient) -> None:
    r = client.post(CONV, json={"input_size": 8, "kernel_size": 3})
    assert r.status_code == 422
    assert {tuple(x) for x in locs(r)} == {("body", "padding"), ("body", "stride")}
