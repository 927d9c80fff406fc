"""GET /api/runs/{id}/gradient-noise: the engine's numbers over HTTP (equal to the same run
computed in-process and to the sampling-theory oracle), bad values are 422s naming the field and
range, the run is not changed, and JSON stays standard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.labs.gradient_noise import gradient_noise
from core.trainer import Run

CFG: dict[str, Any] = {
    "seed": 11,
    "dataset": {"name": "moons", "n": 50, "noise": 0.2},
    "model": {"hidden": [5], "activation": "tanh"},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "batch_size": 8,
}


def create(client: TestClient, cfg: dict[str, Any]) -> str:
    r = client.post("/api/runs", json=cfg)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def strict(text: str) -> Any:
    def reject(token: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def test_values_match_the_engine_and_the_oracle(client: TestClient) -> None:
    run_id = create(client, CFG)
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 25}).status_code == 200
    r = client.get(
        f"/api/runs/{run_id}/gradient-noise", params={"batch_sizes": "1,8,32,full", "samples": 400}
    )
    assert r.status_code == 200, r.text
    body = strict(r.text)
    local = Run(CFG)
    local.step(25)
    expected = gradient_noise(local, [1, 8, 32, 40], 400)
    assert body == json.loads(json.dumps(expected))  # bit-identical to the engine in-process
    n, sigma2 = body["n_train"], body["per_example_variance"]
    assert n == 40 and body["step"] == 25
    sizes = [e["batch_size"] for e in body["batch_sizes"]]
    assert sizes == [1, 8, 32, 40]
    for e in body["batch_sizes"]:
        b = e["batch_size"]
        theory = (n - b) / (b * (n - 1)) * sigma2
        assert e["exact"] == pytest.approx(theory, rel=1e-12)
        assert abs(e["variance"] - theory) <= 5 * e["std_error"] + 1e-18
    variances = [e["variance"] for e in body["batch_sizes"]]
    assert variances[0] > variances[1] > variances[2] > variances[3]
    # the run is unchanged: the next steps are those of a run never measured
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 5})
    local.step(5)
    assert r.json()["records"][-1]["loss"] == local.last_record["loss"]


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"batch_sizes": "0,8"}, "batch_sizes", "1 <= x <= 40"),
        ({"batch_sizes": "41"}, "batch_sizes", "1 <= x <= 40"),
        ({"batch_sizes": "8,x"}, "batch_sizes", "'x'"),
        ({"batch_sizes": "1,2,3,4,5,6,7,8,9"}, "batch_sizes", "1 to 8"),
        ({"batch_sizes": "8", "samples": 1}, "samples", "2 <= x <= 2000"),
        ({"batch_sizes": "8", "samples": 5000}, "samples", "2 <= x <= 2000"),
        ({"batch_sizes": "8", "samples": "many"}, "samples", "integer"),
        ({"samples": 10}, "batch_sizes", "required"),
    ],
)
def test_bad_values_are_422_naming_field_and_range(
    client: TestClient, params: dict[str, Any], field: str, text: str
) -> None:
    run_id = create(client, CFG)
    r = client.get(f"/api/runs/{run_id}/gradient-noise", params=params)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["query", field]
    assert text in detail["msg"]


def test_batch_norm_needs_two_rows_and_has_no_exact_value(client: TestClient) -> None:
    run_id = create(client, {**CFG, "model": {"hidden": [5], "batch_norm": True}})
    r = client.get(f"/api/runs/{run_id}/gradient-noise", params={"batch_sizes": "1"})
    assert r.status_code == 422 and "2 <= x <= 40" in r.json()["detail"][0]["msg"]
    r = client.get(
        f"/api/runs/{run_id}/gradient-noise", params={"batch_sizes": "2,full", "samples": 10}
    )
    body = strict(r.text)
    assert body["per_example_variance"] is None
    assert [e["exact"] for e in body["batch_sizes"]] == [None, None]


def test_too_costly_requests_are_refused(client: TestClient) -> None:
    run_id = create(
        client,
        {**CFG, "dataset": {"name": "circle", "n": 2000}, "model": {"hidden": [256, 256, 256]}},
    )
    r = client.get(
        f"/api/runs/{run_id}/gradient-noise", params={"batch_sizes": "full", "samples": 2000}
    )
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["query", "samples"] and "limit 5 s" in detail["msg"]


def test_unknown_run_is_404(client: TestClient) -> None:
    r = client.get("/api/runs/nope/gradient-noise", params={"batch_sizes": "1"})
    assert r.status_code == 404
