"""POST /api/optimizers/contour: the optimizers lab's background grid, from the engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.labs.trajectories import TEST_FUNCTIONS


def test_contour_is_the_surface_on_the_view_grid(client: TestClient) -> None:
    response = client.post(
        "/api/optimizers/contour",
        json={
            "function": "quadratic",
            "params": {"a": 1, "b": 10, "rotation": 30},
            "resolution": 7,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    view = TEST_FUNCTIONS.get("quadratic").meta["view"]
    assert body["x"] == np.linspace(*view["x"], 7).tolist()
    assert body["y"] == np.linspace(*view["y"], 7).tolist()
    surface = TEST_FUNCTIONS.create("quadratic", {"a": 1, "b": 10, "rotation": 30})
    # rows follow y: z[i][j] = f(x[j], y[i])
    for i in (0, 3, 6):
        for j in (0, 2, 5):
            assert body["z"][i][j] == pytest.approx(
                float(surface.value(body["x"][j], body["y"][i])), rel=1e-12
            )


def test_contour_ranges(client: TestClient) -> None:
    body = client.post(
        "/api/optimizers/contour",
        json={"function": "saddle", "x_range": [0, 1], "y_range": [-1, 0], "resolution": 2},
    ).json()
    assert body == {"x": [0.0, 1.0], "y": [-1.0, 0.0], "z": [[-1.0, 0.0], [0.0, 1.0]]}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"function": "nope"}, ["body", "function"]),
        ({"function": "saddle", "resolution": 1000}, ["body", "resolution"]),
        ({"function": "saddle", "resolution": 1}, ["body", "resolution"]),
        ({"function": "quadratic", "params": {"a": -1}}, ["body", "params", "a"]),
        ({"function": "saddle", "x_range": [1, 0]}, ["body", "x_range"]),
    ],
)
def test_contour_rejects(client: TestClient, body: dict[str, Any], loc: list[Any]) -> None:
    response = client.post("/api/optimizers/contour", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(d["loc"] == loc for d in detail), detail
