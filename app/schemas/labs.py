"""Models of the stateless lab endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import StrictModel


class ScheduleSpec(BaseModel):
    """A learning-rate schedule: its registry ``name``, optional linear warmup, and its
    parameters as further keys (validated by the engine registry; see ``GET /api/catalog``)."""

    # extra keys are the schedule's own parameters; the registry rejects unknown ones by name
    model_config = ConfigDict(
        extra="allow",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"name": "step", "step_size": 30, "gamma": 0.1}]},
    )

    name: str = Field(description="Schedule name from the catalog.", examples=["cosine_annealing"])
    warmup_steps: int = Field(
        default=0, ge=0, description="Linear warmup updates before the schedule starts."
    )

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SchedulePreviewRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lr": 0.1,
                    "schedule": {"name": "cosine_annealing", "warmup_steps": 10},
                    "steps": 200,
                    "seed": 0,
                }
            ]
        }
    )

    lr: float = Field(gt=0, description="Base learning rate.", examples=[0.1])
    schedule: ScheduleSpec
    steps: int = Field(
        ge=1,
        description="Number of updates to preview (at most the server's max_preview_steps, "
        "100000 by default).",
        examples=[200],
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**63 - 1,
        description="Seed for randomised schedules (ignored by the others).",
    )


class SchedulePreviewResponse(BaseModel):
    lr: list[float | None] = Field(
        description="lr[t] is the learning rate used for update t (0-based).",
        examples=[[0.1, 0.0999, 0.0998]],
    )


class ActivationCurve(BaseModel):
    x: list[float] = Field(examples=[[-1.0, 0.0, 1.0]])
    y: list[float | None] = Field(description="Activation a(x).", examples=[[0.0, 0.0, 1.0]])
    dy: list[float | None] = Field(description="Derivative da/dx.", examples=[[0.0, 0.0, 1.0]])


class ConvShapeRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"input_size": 5, "kernel_size": 3, "padding": 0, "stride": 2}]
        }
    )

    input_size: int = Field(ge=1, le=1_000_000, description="Input width W1.")
    kernel_size: int = Field(ge=1, le=1_000_000, description="Kernel (receptive field) F.")
    padding: int = Field(ge=0, le=1_000_000, description="Zero padding P on each side.")
    stride: int = Field(ge=1, le=1_000_000, description="Stride S.")
    dilation: int = Field(default=1, ge=1, le=1_000_000, description="Dilation D.")


class ConvShapeResponse(BaseModel):
    output_size: int = Field(description="Output width W2.", examples=[2])
    formula: str = Field(
        examples=["W2 = floor((W1 - F + 2P)/S) + 1 = floor((5 - 3 + 2*0)/2) + 1 = 2"]
    )
    valid: bool = Field(
        description="True when the windows tile the padded input exactly (no remainder).",
        examples=[True],
    )
    remainder: int = Field(
        description="Padded input positions left uncovered after the last window.", examples=[0]
    )
