"""Request and response models of the runs API.

Fixed-shape parts of a run config are strict pydantic models (unknown fields, wrong types and
NaN/inf are rejected here). Component objects (``optimizer``, ``schedule``, ``*_params``) carry
parameters that depend on the chosen component's name; the engine registry validates them and
answers unknown names or out-of-range values with a 422 naming the field and the allowed range
(see ``GET /api/catalog`` for every component's parameter schema). Ranges that depend on server
settings (layers, units, samples) are checked by the engine too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import StrictModel

Params = dict[str, Any]


class ComponentModel(BaseModel):
    """``{name, ...parameters}``: the parameters are validated by the engine's registry."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class DatasetConfig(StrictModel):
    name: str = Field("circle", description="A dataset from the catalog.")
    n: int = Field(200, ge=1, description="Number of samples (<= the server's max_samples).")
    noise: float = Field(0.1, ge=0.0, le=1.0)
    val_fraction: float = Field(0.2, ge=0.0, le=0.9)
    normalize: Literal["none", "minmax", "zscore"] = "none"
    params: Params = Field(default_factory=dict, description="Dataset-specific parameters.")


class ModelConfig(StrictModel):
    hidden: list[int] = Field(
        default_factory=lambda: [8, 8],
        description="Hidden layer widths, input to output; [] gives a linear/logistic model.",
    )
    activation: str = "tanh"
    activation_params: Params = Field(default_factory=dict)
    init: str = "xavier_uniform"
    init_params: Params = Field(default_factory=dict)
    bias_init: str = "zeros"
    bias_init_params: Params = Field(default_factory=dict)
    batch_norm: bool = False
    layer_norm: bool = False
    dropout: float = Field(0.0, ge=0.0, le=0.95)
    residual: bool = False


class OptimizerConfig(ComponentModel):
    name: str = Field("sgd", description="sgd | adagrad | rmsprop | adam | adamw")
    lr: float = Field(0.03, ge=0.0, le=10.0, description="Base learning rate (torch semantics).")


class ScheduleConfig(ComponentModel):
    name: str = Field("constant", description="A schedule from the catalog.")
    warmup_steps: int = Field(0, ge=0, le=100_000)


class RegularizationConfig(StrictModel):
    l1: float = Field(0.0, ge=0.0, le=10.0)
    l2: float = Field(0.0, ge=0.0, le=10.0)
    l1_method: Literal["proximal", "subgradient"] = "proximal"


class GradClipConfig(StrictModel):
    mode: Literal["none", "norm", "value"] = "none"
    max_norm: float = Field(1.0, gt=0.0)
    norm_type: float | Literal["inf"] = 2.0
    clip_value: float = Field(1.0, gt=0.0)


class RunConfig(StrictModel):
    """A run's configuration; every field has a default, so ``{}`` is a valid body."""

    seed: int = Field(0, ge=0, le=2**63 - 1)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: str | None = Field(None, description="null = the task's default loss.")
    loss_params: Params = Field(default_factory=dict)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    batch_size: int = Field(10, ge=1)
    grad_clip: GradClipConfig = Field(default_factory=GradClipConfig)
    eval_every: int = Field(1, ge=1, le=1_000_000, description="Validate every k steps.")

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "seed": 1,
                    "dataset": {"name": "spiral", "n": 400, "noise": 0.1},
                    "model": {"hidden": [16, 16], "activation": "relu", "init": "kaiming_uniform"},
                    "optimizer": {"name": "adam", "lr": 0.01},
                    "schedule": {"name": "cosine_annealing", "T_max": 1000},
                    "batch_size": 32,
                }
            ]
        },
    )


class OptimizerPatch(ComponentModel):
    name: str | None = None


class SchedulePatch(ComponentModel):
    name: str | None = None


class RegularizationPatch(StrictModel):
    l1: float | None = Field(None, ge=0.0, le=10.0)
    l2: float | None = Field(None, ge=0.0, le=10.0)
    l1_method: Literal["proximal", "subgradient"] | None = None


class GradClipPatch(StrictModel):
    mode: Literal["none", "norm", "value"] | None = None
    max_norm: float | None = Field(None, gt=0.0)
    norm_type: float | Literal["inf"] | None = None
    clip_value: float | None = Field(None, gt=0.0)


class RunPatch(StrictModel):
    """Live changes, applied from the next step and recorded in the event log.

    ``seed``, ``dataset``, ``model`` and ``loss`` are accepted only to answer 409 (they need a
    reset or a new run).
    """

    optimizer: OptimizerPatch | None = None
    schedule: SchedulePatch | None = None
    regularization: RegularizationPatch | None = None
    batch_size: int | None = Field(None, ge=1)
    dropout: float | None = Field(None, ge=0.0, le=0.95)
    grad_clip: GradClipPatch | None = None
    eval_every: int | None = Field(None, ge=1, le=1_000_000)
    seed: Any = Field(None, description="Not live-changeable: 409.")
    dataset: Any = Field(None, description="Not live-changeable: 409.")
    model: Any = Field(None, description="Not live-changeable: 409.")
    loss: Any = Field(None, description="Not live-changeable: 409.")

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [{"optimizer": {"lr": 0.01}}, {"regularization": {"l1": 1e-3}}]
        },
    )

    def as_patch(self) -> dict[str, Any]:
        """Only the fields the client sent (``exclude_unset``), without null placeholders."""
        return self.model_dump(exclude_unset=True)


class StepRequest(StrictModel):
    steps: int = Field(1, ge=1, le=10_000, description="Number of updates (1..10,000).")


class ResetRequest(StrictModel):
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="A new seed (optional).")


class RunSummary(BaseModel):
    id: str
    status: Literal["ready", "running", "paused", "diverged"]
    step: int
    epoch: int
    created: float


WATCH_TOKEN_HELP = (
    "The run's read-only token: `?watch=<watch_token>` reads and streams the run without "
    "control; the playground's watch link is `/?run=<id>&watch=<watch_token>`."
)


class RunCreated(BaseModel):
    id: str
    status: Literal["ready", "running", "paused", "diverged"]
    step: int
    config: dict[str, Any]
    owner_token: str = Field(
        description="The client's owner token (also set as the HttpOnly cookie "
        "`gradplay_owner`): send `Authorization: Bearer <owner_token>` to list, change, step, "
        "delete and control-stream this and the client's other runs. A client that sent a "
        "valid token gets the same one back."
    )
    watch_token: str = Field(description=WATCH_TOKEN_HELP)


class RunDetail(RunSummary):
    config: dict[str, Any]
    metrics: dict[str, Any] | None
    divergence: dict[str, Any] | None
    layers: list[str]
    task: str
    speed: float | None
    events: list[dict[str, Any]]
    watch_token: str = Field(description=WATCH_TOKEN_HELP)


class StepResponse(BaseModel):
    step: int
    status: Literal["ready", "running", "paused", "diverged"]
    records: list[dict[str, Any]]
    divergence: dict[str, Any] | None = None


class WeightsBody(StrictModel):
    """``layers[k]`` = ``{W (in, out), b, [gamma, beta, running_mean, running_var]}``."""

    layers: list[dict[str, Any]]


class ImportBody(StrictModel):
    """An export: ``config`` + ``events`` + ``step``; ``history`` (optional) is verified."""

    format: Literal["gradplay-run"] = "gradplay-run"
    version: Literal[1] = 1
    config: dict[str, Any]
    events: list[dict[str, Any]] = Field(default_factory=list)
    step: int = Field(0, ge=0, le=1_000_000)
    history: dict[str, Any] | None = None
