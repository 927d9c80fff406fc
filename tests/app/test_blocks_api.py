"""The building blocks lab's endpoints: softmax, loss curves, parameter counts, iterations,
conv/pool shapes (kind, ceil_mode, windows) and the activation curve's saturation fields.
Errors are 422s naming the field and the allowed range, never 500s."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def locs(r: Any) -> list[list[Any]]:
    return [d["loc"] for d in r.json()["detail"]]


def test_activation_curve_reports_saturation_and_range(client: TestClient) -> None:
    r = client.get("/api/activations/sigmoid/curve", params={"x_min": -10, "x_max": 10, "n": 201})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["saturated"]) == 2
    assert body["saturated"][0][0] == -10 and body["saturated"][1][1] == 10
    assert body["output_range"] == {
        "min": 0.0,
        "max": 1.0,
        "min_closed": False,
        "max_closed": False,
    }
    assert body["zero_centred"] is False
    tanh = client.get("/api/activations/tanh/curve").json()
    assert tanh["zero_centred"] is True and tanh["saturated"]
    relu = client.get("/api/activations/relu/curve").json()
    assert relu["saturated"] == [] and relu["output_range"]["min"] == 0.0


def test_softmax_overflow_is_a_state(client: TestClient) -> None:
    r = client.post("/api/labs/softmax", json={"logits": [1000.0, 999.0, 998.0]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["naive_exp"] == [None, None, None]
    assert body["naive_overflow"] == [True, True, True]
    assert body["naive_probabilities"] == [None, None, None]
    assert body["naive_ok"] is False
    assert body["probabilities"][0] == pytest.approx(0.66524096, abs=1e-8)
    assert "NaN" not in r.text and "Infinity" not in r.text


@pytest.mark.parametrize(
    "body,loc,part",
    [
        ({"logits": [1.0]}, ["body", "logits"], "2 to 16"),
        ({"logits": [1.0, 1e5]}, ["body", "logits", 1], "<= 10000"),
        ({"logits": [1.0, 2.0], "temperature": 0}, ["body", "temperature"], "0.01 <= x"),
        ({"logits": [1.0, 2.0], "target": 5}, ["body", "target"], "<= 1"),
    ],
)
def test_softmax_errors(
    client: TestClient, body: dict[str, Any], loc: list[Any], part: str
) -> None:
    r = client.post("/api/labs/softmax", json=body)
    assert r.status_code == 422, r.text
    assert any(d["loc"] == loc and part in d["msg"] for d in r.json()["detail"]), r.text


def test_loss_curve(client: TestClient) -> None:
    r = client.post(
        "/api/labs/loss-curve",
        json={"name": "huber", "params": {"delta": 1.0}, "x_min": -2, "x_max": 2, "n": 5},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["value"] == [1.5, 0.5, 0.0, 0.5, 1.5]
    assert body["derivative"] == [-1.0, -1.0, 0.0, 1.0, 1.0]
    bce = client.post("/api/labs/loss-curve", json={"name": "bce", "target": 1.0}).json()
    assert bce["axis"] == "probability" and bce["x"][0] == 0.01
    assert bce["derivative"][0] == pytest.approx(-100.0)


@pytest.mark.parametrize(
    "body,loc,part",
    [
        ({"name": "bce", "x_min": 0.0}, ["body", "x_min"], "0.0 < x < 1.0"),
        ({"name": "mse", "x_min": 2, "x_max": 1}, ["body", "x_max"], "greater than x_min"),
        ({"name": "huber", "params": {"delta": -1}}, ["body", "params", "delta"], "0.0 < x"),
        (
            {"name": "smooth_l1", "params": {"delta": 1}},
            ["body", "params", "delta"],
            "allowed: beta",
        ),
        ({"name": "mse", "n": 1}, ["body", "n"], "2 <= x <= 10001"),
        ({"name": "hinge"}, ["body", "name"], "mse"),
    ],
)
def test_loss_curve_errors(
    client: TestClient, body: dict[str, Any], loc: list[Any], part: str
) -> None:
    r = client.post("/api/labs/loss-curve", json=body)
    assert r.status_code == 422, r.text
    assert any(d["loc"] == loc and part in d["msg"] for d in r.json()["detail"]), r.text


def test_param_count_and_iterations(client: TestClient) -> None:
    r = client.post("/api/labs/param-count", json={"kind": "mlp", "sizes": [2, 8, 8, 1]})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 105
    r = client.post(
        "/api/labs/param-count",
        json={
            "kind": "conv",
            "input_size": 5,
            "in_channels": 1,
            "classes": 2,
            "bias": False,
            "layers": [{"out_channels": 1, "kernel_size": 3, "stride": 2}],
        },
    )
    assert r.json()["total"] == 9 + 1 * 2 * 2 * 2
    assert r.json()["layers"][0]["output_size"] == 2
    r = client.post("/api/labs/iterations", json={"n": 50000, "batch_size": 256})
    assert (r.json()["iterations"], r.json()["iterations_drop_last"]) == (196, 195)


@pytest.mark.parametrize(
    "url,body,loc",
    [
        ("/api/labs/param-count", {"kind": "mlp"}, ["body", "sizes"]),
        ("/api/labs/param-count", {"kind": "mlp", "sizes": [2, 0]}, ["body", "sizes", 1]),
        ("/api/labs/param-count", {"kind": "conv"}, ["body", "layers"]),
        (
            "/api/labs/param-count",
            {"kind": "conv", "input_size": 3, "layers": [{"out_channels": 2, "kernel_size": 5}]},
            ["body", "layers", 0, "kernel_size"],
        ),
        ("/api/labs/iterations", {"n": 0, "batch_size": 2}, ["body", "n"]),
        ("/api/labs/iterations", {"n": 10, "batch_size": 0}, ["body", "batch_size"]),
        (
            "/api/labs/conv-shape",
            {"input_size": 5, "kernel_size": 3, "padding": 2, "stride": 1, "kind": "pool"},
            ["body", "padding"],
        ),
        (
            "/api/labs/conv-shape",
            {"input_size": 5, "kernel_size": 3, "padding": 0, "stride": 1, "ceil_mode": True},
            ["body", "ceil_mode"],
        ),
    ],
)
def test_errors_name_the_field(
    client: TestClient, url: str, body: dict[str, Any], loc: list[Any]
) -> None:
    r = client.post(url, json=body)
    assert r.status_code == 422, r.text
    assert loc in locs(r), r.text


def test_pool_ceil_mode_and_windows(client: TestClient) -> None:
    body = {"input_size": 5, "kernel_size": 2, "padding": 0, "stride": 2, "kind": "pool"}
    floor = client.post("/api/labs/conv-shape", json=body).json()
    ceil = client.post("/api/labs/conv-shape", json={**body, "ceil_mode": True}).json()
    assert (floor["output_size"], ceil["output_size"]) == (2, 3)
    assert ceil["windows"] == [0, 2, 4]
    notes = client.post(
        "/api/labs/conv-shape", json={"input_size": 5, "kernel_size": 3, "padding": 0, "stride": 2}
    ).json()
    assert notes["output_size"] == 2 and notes["windows"] == [0, 2] and notes["span"] == 3


_any = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    url=st.sampled_from(
        [
            "/api/labs/softmax",
            "/api/labs/loss-curve",
            "/api/labs/param-count",
            "/api/labs/iterations",
            "/api/labs/conv-shape",
        ]
    ),
    body=st.dictionaries(
        st.sampled_from(
            [
                "logits",
                "temperature",
                "target",
                "name",
                "params",
                "x_min",
                "x_max",
                "n",
                "kind",
                "sizes",
                "layers",
                "batch_size",
                "input_size",
                "kernel_size",
                "padding",
                "stride",
                "dilation",
                "ceil_mode",
            ]
        ),
        st.one_of(
            _any,
            st.lists(_any, max_size=4),
            st.sampled_from(["mse", "bce", "huber", "mlp", "conv", "pool"]),
        ),
        max_size=6,
    ),
)
def test_any_body_is_200_or_422(client: TestClient, url: str, body: dict[str, Any]) -> None:
    r = client.post(url, json=body)
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert all(d["loc"] and d["msg"] for d in r.json()["detail"])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(logits=st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=8), t=st.floats(0.01, 100))
def test_softmax_always_finite_probabilities(
    client: TestClient, logits: list[float], t: float
) -> None:
    r = client.post("/api/labs/softmax", json={"logits": logits, "temperature": t})
    assert r.status_code == 200, r.text
    p = r.json()["probabilities"]
    assert all(v is not None and 0 <= v <= 1 for v in p)
    assert sum(p) == pytest.approx(1.0)
