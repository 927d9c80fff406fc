"""Models of the meta endpoints (health, catalog)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str = Field(examples=["0.1.0"])


class Catalog(BaseModel):
    """Every named component with its parameter schema and formula, plus the server limits.

    Each list entry is ``{name, label, formula, description, params: [{name, type, default,
    min?, max?, choices?, ...}], ...extra facts such as "torch"}``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "activations": [
                        {
                            "name": "relu",
                            "label": "ReLU",
                            "formula": "max(0, z)",
                            "description": "",
                            "params": [],
                        }
                    ],
                    "initializers": [],
                    "losses": [],
                    "optimizers": [],
                    "schedules": [],
                    "datasets": [],
                    "features": [],
                    "regularization": [],
                    "grad_clip": [],
                    "test_functions": [],
                    "limits": {"max_units": 512},
                }
            ]
        }
    )

    activations: list[dict[str, Any]]
    initializers: list[dict[str, Any]]
    losses: list[dict[str, Any]]
    optimizers: list[dict[str, Any]]
    schedules: list[dict[str, Any]]
    datasets: list[dict[str, Any]]
    features: list[dict[str, Any]] = Field(
        description="Input features of the 2-D datasets (`dataset.features`): x1, x2 and the "
        "feature crosses x1_sq, x2_sq, x1_x2, sin_x1, sin_x2."
    )
    regularization: list[dict[str, Any]]
    grad_clip: list[dict[str, Any]]
    test_functions: list[dict[str, Any]] = Field(
        description="2-D surfaces of POST /api/optimizers/trajectory; besides the common "
        "fields: view {x: [lo, hi], y: [lo, hi]}, start [x, y], minima [[x, y], ...] (lowest "
        "f first, for the default parameters) and saddles [[x, y], ...]."
    )
    limits: dict[str, int]
