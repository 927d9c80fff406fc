"""Error mapping, NaN-safe JSON and settings validation."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.errors import field_loc
from app.jsonsafe import SafeJSONResponse, dumps, sanitize
from app.main import create_app
from app.settings import Settings, SettingsError
from core.errors import ConfigError, RebuildRequiredError, RunStateError
from tests.conftest import app_settings


def strict_loads(data: bytes | str) -> object:
    def reject(token: str) -> object:
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(data, parse_constant=reject)


@pytest.fixture
def raising_client() -> TestClient:
    """App with extra routes that raise each kind of error."""
    app = create_app(app_settings())

    @app.get("/raise/config")
    def raise_config() -> None:
        raise ConfigError("optimizer.betas[1]", "must be a finite number with 0 <= x < 1")

    @app.get("/raise/rebuild")
    def raise_rebuild() -> None:
        raise RebuildRequiredError("dataset.name", "changing the dataset needs a new run")

    @app.get("/raise/state")
    def raise_state() -> None:
        raise RunStateError("run diverged; reset it first")

    @app.get("/raise/bug")
    def raise_bug() -> None:
        raise KeyError("secret-internal-name")

    # NumPy payloads are returned as SafeJSONResponse directly (FastAPI's encoders reject them)
    @app.get("/nan")
    def nan_payload() -> SafeJSONResponse:
        return SafeJSONResponse(
            {"a": math.nan, "b": [1.0, math.inf], "c": np.array([1.0, -np.inf])}
        )

    # with a response model FastAPI serialises via pydantic, which also writes null
    @app.get("/nan-model")
    def nan_model() -> dict[str, list[float]]:
        return {"b": [1.0, math.inf, math.nan]}

    return TestClient(app)


def test_config_error_maps_to_422(raising_client: TestClient) -> None:
    r = raising_client.get("/raise/config")
    assert r.status_code == 422
    assert r.json() == {
        "detail": [
            {
                "loc": ["body", "optimizer", "betas", 1],
                "msg": "must be a finite number with 0 <= x < 1",
                "type": "value_error",
            }
        ]
    }


def test_rebuild_required_maps_to_409(raising_client: TestClient) -> None:
    r = raising_client.get("/raise/rebuild")
    assert r.status_code == 409
    assert r.json() == {
        "detail": [
            {
                "loc": ["body", "dataset", "name"],
                "msg": "changing the dataset needs a new run",
                "type": "rebuild_required",
            }
        ]
    }


def test_run_state_error_maps_to_409(raising_client: TestClient) -> None:
    r = raising_client.get("/raise/state")
    assert r.status_code == 409
    assert r.json() == {"detail": "run diverged; reset it first"}


def test_unhandled_error_is_500_without_leak(
    raising_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="gradplay"):
        r = raising_client.get("/raise/bug")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    assert "secret-internal-name" not in r.text and "Traceback" not in r.text
    assert r.headers["x-frame-options"] == "DENY"  # still inside the header middleware
    assert any("secret-internal-name" in rec.exc_text for rec in caplog.records if rec.exc_text)


def test_endpoint_nan_becomes_null(raising_client: TestClient) -> None:
    r = raising_client.get("/nan")
    assert r.status_code == 200
    assert strict_loads(r.content) == {"a": None, "b": [1.0, None], "c": [1.0, None]}
    r = raising_client.get("/nan-model")
    assert r.status_code == 200
    assert strict_loads(r.content) == {"b": [1.0, None, None]}


def test_unknown_route_404(client: TestClient) -> None:
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_malformed_json_422(client: TestClient) -> None:
    r = client.post("/api/labs/conv-shape", content=b'{"input_size": 5,',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_non_object_body_422(client: TestClient) -> None:
    r = client.post("/api/labs/conv-shape", json=[1, 2, 3])
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]


def test_wrong_method_405(client: TestClient) -> None:
    assert client.get("/api/labs/conv-shape").status_code == 405


@pytest.mark.parametrize(
    ("field", "loc"),
    [
        ("lr", ["lr"]),
        ("schedule.milestones[2]", ["schedule", "milestones", 2]),
        ("layers[0].units", ["layers", 0, "units"]),
        ("a.b.c", ["a", "b", "c"]),
    ],
)
def test_field_loc(field: str, loc: list[object]) -> None:
    assert field_loc(field) == loc


# --- jsonsafe -----------------------------------------------------------------------------


def test_dumps_replaces_non_finite() -> None:
    content = {
        "f": [1.5, math.nan, -math.inf, math.inf],
        "nested": {"x": (math.nan, 2)},
        "np_scalar": np.float64("nan"),
        "np_ok": np.float32(0.5),
        "np_int": np.int64(7),
        "np_bool": np.bool_(True),
        "arr": np.array([[1.0, np.nan], [np.inf, 2.0]]),
        "iarr": np.arange(3),
        "s": "NaN",
    }
    assert strict_loads(dumps(content)) == {
        "f": [1.5, None, None, None],
        "nested": {"x": [None, 2]},
        "np_scalar": None,
        "np_ok": 0.5,
        "np_int": 7,
        "np_bool": True,
        "arr": [[1.0, None], [None, 2.0]],
        "iarr": [0, 1, 2],
        "s": "NaN",
    }


def test_dumps_finite_array_round_trips_exactly() -> None:
    arr = np.random.default_rng(0).normal(size=1000)
    assert strict_loads(dumps({"v": arr})) == {"v": arr.tolist()}


def test_sanitize_leaves_input_untouched() -> None:
    data = {"a": [math.nan, 1.0]}
    assert sanitize(data) == {"a": [None, 1.0]}
    assert math.isnan(data["a"][0])


def test_safe_response_renders_bytes() -> None:
    response = SafeJSONResponse({"loss": math.nan, "unicode": "σ"})
    assert response.body == '{"loss":null,"unicode":"σ"}'.encode()
    assert response.media_type == "application/json"


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults() -> None:
    s = Settings.from_env({})
    assert s.max_hidden_layers == 64
    assert s.max_units == 512
    assert s.max_samples == 20000
    assert s.max_runs == 256
    assert s.run_ttl_seconds == 3600
    assert s.max_body_bytes == 1048576
    assert s.max_steps_per_request == 10000
    assert s.max_preview_steps == 100000
    assert s.history_max_points == 5000
    assert s.templates_dir is not None and (s.templates_dir / "base.html").is_file()
    assert s.static_dir is not None and (s.static_dir / "css" / "app.css").is_file()


def test_settings_from_env(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "GRADPLAY_MAX_UNITS": " 128 ",
            "GRADPLAY_MAX_BODY_BYTES": "2_000_000",
            "GRADPLAY_STATIC_DIR": str(tmp_path),
            "GRADPLAY_MAX_RUNS": "",  # empty means default
            "OTHER_MAX_UNITS": "1",
        }
    )
    assert s.max_units == 128
    assert s.max_body_bytes == 2_000_000
    assert s.static_dir == tmp_path
    assert s.max_runs == 256


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("GRADPLAY_MAX_UNITS", "abc"),
        ("GRADPLAY_MAX_UNITS", "0"),
        ("GRADPLAY_MAX_RUNS", "-5"),
        ("GRADPLAY_HISTORY_MAX_POINTS", "1.5"),
        ("GRADPLAY_TEMPLATES_DIR", "/definitely/not/here"),
        ("GRADPLAY_TRAINING_THREADS", "0"),
    ],
)
def test_settings_invalid_env(var: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({var: value})
    assert var in str(info.value)
    assert repr(value) in str(info.value)


def test_settings_invalid_direct_value() -> None:
    with pytest.raises(SettingsError, match="max_units must be a positive integer"):
        Settings(max_units=0)
    with pytest.raises(SettingsError, match="training_threads must be a positive integer"):
        Settings(training_threads=-1)


def test_create_app_fails_on_bad_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADPLAY_MAX_SAMPLES", "many")
    with pytest.raises(SettingsError, match="GRADPLAY_MAX_SAMPLES"):
        create_app()


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().max_units = 3  # type: ignore[misc]
