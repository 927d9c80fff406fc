"""Hostile input (issue 16): huge integers, negative zero, strict weights, parse errors.

Every case here answered a 500 (or a misleading message) before: each must be a 4xx naming
the field and the allowed range.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

BIG = int("1" + "0" * 400)  # 401 digits: float(BIG) overflows
SMALL_RUN = {"dataset": {"n": 20}, "model": {"hidden": [3]}}


def _loc_and_msg(response: Any) -> tuple[list[Any], str]:
    item = response.json()["detail"][0]
    return item["loc"], item["msg"]


def _run(client: TestClient, config: dict[str, Any] | None = None) -> str:
    r = client.post("/api/runs", json=config if config is not None else SMALL_RUN)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# ------------------------------------------------------------------ defect 1: huge integers
@pytest.mark.parametrize(("method", "path", "body", "loc"), [
    ("post", "/api/runs", {"optimizer": {"name": "adam", "eps": BIG}},
     ["body", "optimizer", "eps"]),
    ("post", "/api/runs", {"model": {"init": "normal", "init_params": {"std": BIG}}},
     ["body", "model", "init_params", "std"]),
    ("post", "/api/runs", {"schedule": {"name": "step", "step_size": BIG}},
     ["body", "schedule", "step_size"]),
    ("post", "/api/runs/import", {"config": {"optimizer": {"name": "adam", "eps": BIG}}},
     ["body", "config", "optimizer", "eps"]),
    ("post", "/api/labs/depth",
     {"depth": 2, "width": 4, "init": "normal", "init_params": {"std": BIG}},
     ["body", "init_params", "std"]),
    ("post", "/api/schedules/preview",
     {"lr": 0.1, "steps": 10, "schedule": {"name": "exponential", "gamma": BIG}},
     ["body", "schedule", "gamma"]),
    ("post", "/api/optimizers/trajectory",
     {"function": "quadratic", "steps": 3, "optimizer": {"name": "adam", "eps": BIG}},
     ["body", "optimizer", "eps"]),
])
def test_huge_integer_parameters_are_422_naming_field_and_range(
    client: TestClient, method: str, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    r = getattr(client, method)(path, json=body)
    assert r.status_code == 422, r.text
    got_loc, msg = _loc_and_msg(r)
    assert got_loc[-len(loc) + 1:] == loc[1:]
    assert "must be" in msg and "digits" in msg  # the range, and the size of what was sent
    assert len(r.content) < 2000  # the 401 digits are not echoed


def test_huge_integer_in_patch_and_activation_curve(client: TestClient) -> None:
    run_id = _run(client, {**SMALL_RUN, "optimizer": {"name": "adam"}})
    r = client.patch(f"/api/runs/{run_id}", json={"optimizer": {"eps": BIG}})
    assert r.status_code == 422
    assert _loc_and_msg(r)[0] == ["body", "optimizer", "eps"]
    r = client.get("/api/activations/leaky_relu/curve",
                   params={"params": json.dumps({"negative_slope": BIG})})
    assert r.status_code == 422
    loc, msg = _loc_and_msg(r)
    assert loc == ["query", "params", "negative_slope"] and "0.0 <= x <= 1.0" in msg


# ------------------------------------------------------------------ defect 2: -0.0
@pytest.mark.parametrize("model", [
    {"init": "normal", "init_params": {"std": -0.0}},
    {"bias_init": "normal", "bias_init_params": {"std": -0.0}},
])
def test_negative_zero_std_is_zero(client: TestClient, model: dict[str, Any]) -> None:
    r = client.post("/api/runs", json={**SMALL_RUN, "model": {**SMALL_RUN["model"], **model}})
    assert r.status_code == 201, r.text
    params = r.json()["config"]["model"]
    key = "init_params" if "init_params" in model else "bias_init_params"
    assert params[key]["std"] == 0.0
    assert json.dumps(params[key]["std"]) == "0.0"  # +0.0, as for every float parameter


def test_negative_zero_std_in_depth_lab(client: TestClient) -> None:
    r = client.post("/api/labs/depth", json={"depth": 2, "width": 4, "init": "normal",
                                             "init_params": {"std": -0.0}})
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ defect 10: weights
@pytest.mark.parametrize("bad", ["1.5", True, None, pytest.param(BIG, id="401-digits"), {"x": 1}])
def test_put_weights_takes_only_numbers(client: TestClient, bad: Any) -> None:
    run_id = _run(client)
    layers = client.get(f"/api/runs/{run_id}/weights").json()["layers"]
    before = json.loads(json.dumps(layers))
    layers[1]["W"][0][0] = bad
    r = client.put(f"/api/runs/{run_id}/weights", json={"layers": layers})
    assert r.status_code == 422, r.text
    loc, msg = _loc_and_msg(r)
    assert loc == ["body", "layers", 1, "W"] and "number" in msg
    assert client.get(f"/api/runs/{run_id}/weights").json()["layers"] == before  # unchanged


# ------------------------------------------------------------------ defect 10: the rest
@pytest.mark.parametrize(("body", "words"), [
    ("[" * 1000 + "]" * 1000, "nested too deeply"),
    ('{"seed": ' + "1" * 4301 + "}", "more than 4300 digits"),
    (b'{"seed": "\xff"}', "UTF-8"),
])
def test_unparseable_bodies_name_the_true_reason(
    client: TestClient, body: str | bytes, words: str
) -> None:
    r = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    loc, msg = _loc_and_msg(r)
    assert loc == ["body"] and words in msg


def test_allow_on_import_lists_only_post(client: TestClient) -> None:
    r = client.put("/api/runs/import", json={})
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"


def test_openapi_documents_csv_export(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    content = doc["paths"]["/api/runs/{run_id}/export"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(content)


@pytest.mark.parametrize(("patch", "loc", "status"), [
    ({"model": {"hidden": [3]}}, ["body", "events", 1, "patch", "model"], 422),
    ({"optimizer": {"lr": -1}}, ["body", "events", 1, "patch", "optimizer", "lr"], 422),
])
def test_import_errors_name_the_event(
    client: TestClient, patch: dict[str, Any], loc: list[Any], status: int
) -> None:
    events = [{"step": 0, "patch": {"batch_size": 5}}, {"step": 1, "patch": patch}]
    r = client.post("/api/runs/import", json={"config": SMALL_RUN, "events": events, "step": 2})
    assert r.status_code == status, r.text
    assert _loc_and_msg(r)[0] == loc


def test_import_config_errors_name_the_config(client: TestClient) -> None:
    r = client.post("/api/runs/import", json={"config": {"optimizer": {"lr": -1}}})
    assert r.status_code == 422
    assert _loc_and_msg(r)[0] == ["body", "config", "optimizer", "lr"]


# ------------------------------------------------------------------ defect 6: the event log
def test_get_and_patch_never_carry_the_event_log(client: TestClient) -> None:
    run_id = _run(client, {"dataset": {"n": 20}, "model": {"hidden": [32, 32]}})
    layers = client.get(f"/api/runs/{run_id}/weights").json()
    for _ in range(5):
        assert client.put(f"/api/runs/{run_id}/weights", json=layers).status_code == 200
    size = len(json.dumps(layers["layers"]))
    got = client.get(f"/api/runs/{run_id}")
    patched = client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.1}})
    for r in (got, patched):
        assert r.status_code == 200
        assert "weights" not in r.text and "events" not in r.json()
        assert len(r.content) < size  # one weights edit is larger than the whole answer
    assert patched.json()["event_count"] == 6
    log = client.get(f"/api/runs/{run_id}/events").json()
    assert log["count"] == 6 and [sorted(e) for e in log["events"]][-1] == ["patch", "step"]
    assert log["bytes"] == sum(len(json.dumps(e, separators=(",", ":"))) for e in log["events"])


def test_event_log_is_bounded_by_bytes(make_client: Any) -> None:
    client = make_client(max_event_bytes=3000)
    run_id = _run(client)
    layers = client.get(f"/api/runs/{run_id}/weights").json()
    edits = 0
    while True:
        r = client.put(f"/api/runs/{run_id}/weights", json=layers)
        if r.status_code != 200:
            break
        edits += 1
        assert edits < 100
    assert r.status_code == 409 and "event log full" in r.json()["detail"]
    assert "3000 bytes" in r.json()["detail"]
    log = client.get(f"/api/runs/{run_id}/events").json()
    assert log["count"] == edits >= 1 and log["bytes"] <= 3000
    # nothing changed by the refused edit; a patch that fits still does
    layers["layers"][0]["b"][0] = 0.25
    assert client.put(f"/api/runs/{run_id}/weights", json=layers).status_code == 409
    assert client.get(f"/api/runs/{run_id}/weights").json()["layers"][0]["b"][0] != 0.25
    # reset clears the log
    assert client.post(f"/api/runs/{run_id}/reset").status_code == 200
    assert client.get(f"/api/runs/{run_id}").json()["event_count"] == 0


def test_event_log_is_bounded_by_count_and_export_replays_exactly(make_client: Any) -> None:
    client = make_client(max_events=3)
    run_id = _run(client)
    for k in range(3):
        client.post(f"/api/runs/{run_id}/step", json={"steps": 2})
        r = client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.01 * (k + 1)}})
        assert r.status_code == 200
    r = client.patch(f"/api/runs/{run_id}", json={"batch_size": 4})
    assert r.status_code == 409 and "3 events" in r.json()["detail"]
    assert client.get(f"/api/runs/{run_id}").json()["config"]["batch_size"] == 10
    client.post(f"/api/runs/{run_id}/step", json={"steps": 3})
    exported = client.get(f"/api/runs/{run_id}/export").json()
    r = client.post("/api/runs/import", json=exported)
    assert r.status_code == 201 and r.json()["verified"] is True
    # an export with more events than the server holds is refused, naming the bound
    exported["events"].append({"step": 9, "patch": {"batch_size": 4}})
    r = client.post("/api/runs/import", json=exported)
    assert r.status_code == 422
    assert _loc_and_msg(r)[0] == ["body", "events"] and "at most 3" in _loc_and_msg(r)[1]


# ------------------------------------------------------------------ defect 9: long exports
def _long_run(client: TestClient, steps: int) -> str:
    run_id = _run(client)
    client.post(f"/api/runs/{run_id}/step", json={"steps": steps // 2})
    client.patch(f"/api/runs/{run_id}", json={"optimizer": {"lr": 0.1}})
    client.post(f"/api/runs/{run_id}/step", json={"steps": steps - steps // 2})
    return run_id


def test_export_over_the_body_limit_imports_by_digest(make_client: Any) -> None:
    client = make_client(max_import_bytes=20_000)  # imports have their own body limit
    run_id = _long_run(client, 400)
    full = client.get(f"/api/runs/{run_id}/export")
    assert len(full.content) > 20_000  # the whole export cannot be imported any more
    r = client.post("/api/runs/import", content=full.content,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "GRADPLAY_MAX_IMPORT_BYTES" in r.json()["detail"]
    small = client.get(f"/api/runs/{run_id}/export", params={"history": "false"})
    assert len(small.content) < 20_000 and "history" not in small.json()
    assert small.json()["history_sha256"] == full.json()["history_sha256"]
    r = client.post("/api/runs/import", json=small.json())
    assert r.status_code == 201 and r.json()["verified"] is True and r.json()["step"] == 400
    # a replay that differs anywhere (here: the seed) fails the digest, naming it
    changed = {**small.json(), "config": {**small.json()["config"], "seed": 1}}
    r = client.post("/api/runs/import", json=changed)
    assert r.status_code == 422 and _loc_and_msg(r)[0] == ["body", "history_sha256"]


def test_history_digest_is_the_digest_of_the_exported_history(client: TestClient) -> None:
    from core.history import history_digest

    run_id = _long_run(client, 30)
    exported = client.get(f"/api/runs/{run_id}/export").json()
    cols = {k: [[float("nan") if v is None else v for v in row] if isinstance(row, list)
                else (float("nan") if row is None else row) for row in values]
            for k, values in exported["history"].items()}
    assert history_digest(cols) == exported["history_sha256"]


def test_gzip_import_bodies(make_client: Any) -> None:
    import gzip

    client = make_client(max_body_bytes=20_000, max_import_bytes=200_000)
    run_id = _long_run(client, 100)
    full = client.get(f"/api/runs/{run_id}/export").content
    assert 20_000 < len(full) < 200_000
    packed = gzip.compress(full)
    assert len(packed) < 20_000
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    r = client.post("/api/runs/import", content=packed, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is True and r.json()["step"] == 100
    # a zip bomb stops at max_import_bytes
    bomb = gzip.compress(b" " * 5_000_000)
    assert len(bomb) < 20_000
    r = client.post("/api/runs/import", content=bomb, headers=headers)
    assert r.status_code == 413 and "200000 bytes" in r.json()["detail"]
    # broken gzip, and gzip where it is not accepted
    r = client.post("/api/runs/import", content=packed[:-10], headers=headers)
    assert r.status_code == 422 and "gzip" in _loc_and_msg(r)[1]
    r = client.post("/api/runs", content=gzip.compress(b"{}"), headers=headers)
    assert r.status_code == 415


# ------------------------------------------------------------------ defect 10: schema vs engine
def test_integral_numbers_are_integers_as_in_json_schema(client: TestClient) -> None:
    """The OpenAPI document says ``type: integer``, which JSON Schema meets with 569.0: the
    server agrees with its schema (schemathesis found 569.0 refused)."""
    r = client.post("/api/runs", json={"seed": 3.0, "batch_size": 5.0, "dataset": {"n": 40.0},
                                       "model": {"hidden": [4.0, 3]}})
    assert r.status_code == 201, r.text
    config = r.json()["config"]
    assert (config["seed"], config["batch_size"], config["dataset"]["n"]) == (3, 5, 40)
    assert json.dumps(config["model"]["hidden"]) == "[4, 3]"
    run_id = r.json()["id"]
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 569.0})
    assert r.status_code == 200 and r.json()["step"] == 569
    for bad in (5.5, "5", True):
        r = client.post(f"/api/runs/{run_id}/step", json={"steps": bad})
        assert r.status_code == 422 and _loc_and_msg(r)[0] == ["body", "steps"]


@pytest.mark.parametrize(("params", "words"), [
    ("[" * 1200 + "]" * 1200, "nested too deeply"),
    ('{"negative_slope": ' + "1" * 4400 + "}", "more than 4300 digits"),
    ('{"negative_slope": NaN}', "NaN is not allowed"),
])
def test_activation_curve_params_parse_errors_are_422(
    client: TestClient, params: str, words: str
) -> None:
    r = client.get("/api/activations/leaky_relu/curve", params={"params": params})
    assert r.status_code == 422
    loc, msg = _loc_and_msg(r)
    assert loc == ["query", "params"] and words in msg
