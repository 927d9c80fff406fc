"""Property-based API conformance: schemathesis against the app's own ``/openapi.json``.

Every operation gets a bounded, derandomized set of generated requests (``MAX_EXAMPLES`` each).
Each response must not be a 5xx and must conform to the schema (documented status code,
content type, headers and body schema). ``{run_id}`` is replaced by a real run's id (a small,
fast config) except for DELETE, so the handlers behind the 404 are exercised too; requests
carry that run's owner token.
The app runs with small step/import limits so generated step counts stay fast.
"""

from __future__ import annotations

import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import app_settings

MAX_EXAMPLES = 20
SMALL_RUN = {"dataset": {"n": 20}, "model": {"hidden": [2]}}

APP = create_app(app_settings(max_steps_per_request=200, max_import_steps=200, max_runs=64,
                              max_runs_per_client=64))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def owned_run() -> tuple[str, str]:
    """(id, owner token) of a run the generated requests act on."""
    # no ``with``: entering/leaving the lifespan would delete every run at shutdown
    r = TestClient(APP).post("/api/runs", json=SMALL_RUN)
    assert r.status_code == 201
    return str(r.json()["id"]), str(r.json()["owner_token"])


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, owned_run: tuple[str, str]) -> None:
    run_id, token = owned_run
    if "run_id" in (case.path_parameters or {}) and case.method.upper() != "DELETE":
        case.path_parameters["run_id"] = run_id
    # Excluded check, for a stated reason:
    # * positive_data_acceptance: many ranges are not in the schema because they depend on
    #   server settings or on the chosen component (hidden widths <= max_units, dataset.n <=
    #   max_samples, steps <= max_steps_per_request, component parameters); the app answers
    #   those schema-valid requests with a documented 422.
    # As the run's owner (a generated bearer token is not one the server issued).
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


@pytest.fixture
def client() -> TestClient:
    return TestClient(APP)


@pytest.mark.parametrize(("path", "methods"), [
    ("/api/runs", {"GET", "POST"}),
    ("/api/runs/x", {"GET", "PATCH", "DELETE"}),
    ("/api/runs/x/weights", {"GET", "PUT"}),
    ("/api/runs/import", {"POST"}),
])
def test_405_allow_header_lists_every_method(
    client: TestClient, path: str, methods: set[str]
) -> None:
    r = client.options(path)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == methods


def test_undecodable_body_status_is_documented(client: TestClient) -> None:
    r = client.post("/api/runs", content=b"\x80", headers={"content-type":
                                                               "application/json"})
    documented = client.get("/openapi.json").json()["paths"]["/api/runs"]["post"]["responses"]
    assert str(r.status_code) in documented
