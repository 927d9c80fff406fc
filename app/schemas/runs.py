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
    name: str = Field("circle", description="A dataset from the catalog; `custom` is an "
                      "uploaded table (POST /api/datasets) named by `params.id`.")
    n: int = Field(200, ge=1, description="Number of samples (<= the server's max_samples). "
                   "Custom data: ignored, the table's row count is used.")
    noise: float = Field(0.1, ge=0.0, le=1.0)
    val_fraction: float = Field(0.2, ge=0.0, le=0.9)
    test_fraction: float = Field(
        0.0, ge=0.0, le=0.5,
        description="Fraction held out as a test set (0..0.5, and val_fraction + test_fraction "
        "<= 0.9): never trained on, never used for early stopping; measured by GET "
        "/api/runs/{id}/evaluate. The shuffled rows are cut as [val | test | train], so "
        "(val_fraction v, test_fraction t) trains on exactly the rows of (v + t, 0).",
    )
    normalize: Literal["none", "minmax", "zscore"] = "none"
    params: Params = Field(default_factory=dict, description="Dataset-specific parameters "
                           "(catalog: `datasets[].params`). Classification sets (circle, xor, "
                           "gauss, spiral, moons): `label_noise` (0 <= x < 1, default 0), the "
                           "fraction of *training* labels replaced by a different class chosen "
                           "uniformly from the run's seed (validation and test labels stay "
                           "clean); regression sets and custom data have none (a 422 on "
                           "dataset.params.label_noise). "
                           "Custom data: `{\"id\": <id from POST /api/datasets>}` (an id this "
                           "server does not hold is a 422 on dataset.params.id).",
                           examples=[{}, {"label_noise": 0.25}, {"id": "3f2a9c0d1e4b5a6c7d8e"}])
    features: list[str] = Field(
        default_factory=lambda: ["x1", "x2"],
        description="Input features of the model for the 2-D datasets (feature crosses, as in "
        "TensorFlow Playground): a non-empty list of distinct names from x1, x2, x1_sq, x2_sq, "
        "x1_x2, sin_x1, sin_x2 (catalog: `features`). Computed from the raw coordinates, then "
        "normalised. Other datasets, and custom data (which trains on its own columns), accept "
        "only the default. The decision surface is still drawn over (x1, x2).",
        examples=[["x1", "x2"], ["x1_sq", "x2_sq"]],
    )


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
    batch_norm_momentum: float = Field(
        0.1, ge=0.0, le=1.0,
        description="Batch norm's running-statistics momentum (torch's `momentum`): running = "
        "(1 - momentum) * running + momentum * batch statistic. Live-changeable.",
    )


class OptimizerConfig(ComponentModel):
    name: str = Field(
        "sgd",
        description="a catalog optimizer: sgd | adagrad | rmsprop | adam | adamw | nadam | radam"
        " | adamax | adadelta | rprop",
    )
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


class EarlyStoppingConfig(StrictModel):
    """Keras ``EarlyStopping`` on the validation metrics measured every ``eval_every`` steps
    (one validation = one Keras epoch)."""

    monitor: Literal["val_loss", "val_accuracy"] = Field(
        "val_loss", description="Metric to watch: val_loss (lower is better) or val_accuracy "
        "(higher is better; classification only).")
    patience: int = Field(0, ge=0, le=1_000_000, description="Validations without improvement "
                          "after which the run stops (0..1,000,000).")
    min_delta: float = Field(0.0, ge=0.0, le=1e6, description="An improvement must beat the "
                             "best value by more than this (0..1e6).")
    restore_best_weights: bool = Field(False, description="On stopping, put back the weights "
                                       "(and batch-norm statistics) of the best validation.")


class AugmentConfig(StrictModel):
    """Random changes to each training batch of a 2-D dataset (never validation or test),
    drawn from the run's own seeded stream, in the raw (x1, x2) plane."""

    jitter_std: float = Field(0.0, ge=0.0, le=10.0, description="Std of Gaussian noise added "
                              "to each coordinate (0..10, data units).")
    rotate_deg: float = Field(0.0, ge=0.0, le=180.0, description="Rotate each point about the "
                              "origin by a uniform angle in [-rotate_deg, rotate_deg] (0..180).")
    flip_x: bool = Field(False, description="Negate x1 with probability 1/2.")
    flip_y: bool = Field(False, description="Negate x2 with probability 1/2.")


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
    early_stopping: EarlyStoppingConfig | None = Field(
        None, description="null = off. Stops the run (status \"stopped\") per Keras "
        "EarlyStopping; needs a validation split. Live-changeable.")
    augment: AugmentConfig = Field(default_factory=AugmentConfig,
                                   description="Data augmentation (2-D datasets). Live-changeable.")

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


class EarlyStoppingPatch(StrictModel):
    monitor: Literal["val_loss", "val_accuracy"] | None = Field(
        None, description="val_loss | val_accuracy; a new monitor restarts the counting.")
    patience: int | None = Field(None, ge=0, le=1_000_000, description="0..1,000,000.")
    min_delta: float | None = Field(None, ge=0.0, le=1e6, description="0..1e6.")
    restore_best_weights: bool | None = Field(None, description="See the run config.")


class AugmentPatch(StrictModel):
    jitter_std: float | None = Field(None, ge=0.0, le=10.0, description="0..10.")
    rotate_deg: float | None = Field(None, ge=0.0, le=180.0, description="0..180.")
    flip_x: bool | None = Field(None, description="Negate x1 with probability 1/2.")
    flip_y: bool | None = Field(None, description="Negate x2 with probability 1/2.")


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
    batch_norm_momentum: float | None = Field(
        None, ge=0.0, le=1.0, description="Batch norm's momentum (model.batch_norm_momentum)."
    )
    early_stopping: EarlyStoppingPatch | None = Field(
        None, description="Merged into the current early stopping (or Keras's defaults); "
        "null switches it off.")
    augment: AugmentPatch | None = Field(None, description="Merged into the current augment.")
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
    status: Literal["ready", "running", "paused", "diverged", "stopped"]
    step: int
    epoch: int
    created: float


WATCH_TOKEN_HELP = (
    "The run's read-only token: `?watch=<watch_token>` reads and streams the run without "
    "control; the playground's watch link is `/?run=<id>&watch=<watch_token>`."
)


class RunCreated(BaseModel):
    id: str
    status: Literal["ready", "running", "paused", "diverged", "stopped"]
    step: int
    config: dict[str, Any]
    verified: bool | None = Field(None, description="Imports: whether the replay was checked "
                                  "against the export's history or history_sha256.")
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
    early_stopping: dict[str, Any] | None = Field(
        None, description="With early stopping on: {stopped_at (the step whose validation "
        "made it fire; null while running), best_step, best_value (the monitored metric on the "
        "weights of best_step's validation, the ones restore_best_weights puts back)}.")
    layers: list[str]
    task: str
    speed: float | None
    event_count: int = Field(description="Events in the run's log (live changes and weights "
                             "edits since the last reset); the log is at GET .../events.")
    event_bytes: int = Field(description="Size of the log as compact JSON (bounded by the "
                             "server's max_event_bytes).")
    watch_token: str = Field(description=WATCH_TOKEN_HELP)


class EventLog(BaseModel):
    """A run's event log: ``{step, patch}`` and ``{step, weights}`` entries in step order."""

    events: list[dict[str, Any]]
    count: int
    bytes: int
    max_events: int = Field(description="The server's bound on the count (GRADPLAY_MAX_EVENTS).")
    max_event_bytes: int = Field(description="The server's bound on the bytes "
                                 "(GRADPLAY_MAX_EVENT_BYTES).")


class StepResponse(BaseModel):
    step: int
    status: Literal["ready", "running", "paused", "diverged", "stopped"]
    records: list[dict[str, Any]]
    divergence: dict[str, Any] | None = None
    early_stopping: dict[str, Any] | None = Field(None, description="As in GET /api/runs/{id}.")


class SplitMetrics(BaseModel):
    loss: float | None = Field(description="Data loss (no regularisation penalty).")
    accuracy: float | None = Field(description="Null for regression.")


class Evaluation(BaseModel):
    step: int = Field(description="Updates done: the weights measured.")
    train: SplitMetrics
    val: SplitMetrics = Field(description="Nulls without a validation split.")
    test: SplitMetrics | None = Field(None, description="Absent when test_fraction is 0.")


class GradientNoiseEntry(BaseModel):
    batch_size: int = Field(description="b: training rows per sampled minibatch.", examples=[8])
    variance: float | None = Field(
        description="E‖g_B − g‖² estimated without bias: the mean of ‖g_Bk − g‖² over the "
        "sampled batches (trace of the minibatch gradient's covariance; with batch norm the "
        "mean squared distance to the full-batch gradient, bias included).",
        examples=[0.012])
    std_error: float | None = Field(
        description="Standard error of `variance`: std(ddof=1) / √samples.", examples=[0.0004])
    exact: float | None = Field(
        description="(N − b) / (b (N − 1)) · σ² from the N per-example gradients (sampling "
        "without replacement); null with batch norm, where it does not apply.",
        examples=[0.0119])
    noise_to_signal: float | None = Field(
        description="variance / ‖g‖² (null when the full-batch gradient is 0).", examples=[0.8])


class GradientNoise(BaseModel):
    """Minibatch gradient noise at the run's current weights (``core/labs/gradient_noise.py``)."""

    step: int = Field(description="Updates done: the weights measured.", examples=[200])
    n_train: int = Field(description="N: training rows (the full batch).", examples=[160])
    n_params: int = Field(description="P: parameters (length of a gradient).", examples=[51])
    samples: int = Field(description="K: minibatches sampled per batch size.", examples=[200])
    full_grad_sq_norm: float | None = Field(
        description="‖g‖²: the full-batch gradient's squared norm.", examples=[0.015])
    per_example_variance: float | None = Field(
        description="σ² = (1/N) Σ‖g_i − g‖² (null with batch norm).", examples=[0.09])
    batch_sizes: list[GradientNoiseEntry]


class WeightsBody(StrictModel):
    """``layers[k]`` = ``{W (in, out), b, [gamma, beta, running_mean, running_var]}``."""

    layers: list[dict[str, Any]]


class ImportBody(StrictModel):
    """An export: ``config`` + ``events`` + ``step``; ``history`` and ``history_sha256``
    (both optional) are verified against the replay."""

    format: Literal["gradplay-run"] = "gradplay-run"
    version: Literal[1] = 1
    config: dict[str, Any]
    events: list[dict[str, Any]] = Field(default_factory=list)
    step: int = Field(0, ge=0, le=1_000_000)
    history: dict[str, Any] | None = Field(
        None, description="The exported history: compared with the replay value for value.")
    table: dict[str, Any] | None = Field(
        None,
        description="The embedded data of a custom-data run ({id, columns, target, task, x, y}; "
        "exports carry it): validated like an upload, stored on this server under the same "
        "content-addressed id (which must equal config.dataset.params.id), then replayed.",
    )
    history_sha256: str | None = Field(
        None,
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 of the exported history (see core.history.history_digest): "
        "the replay must reproduce it, so a long run is verified without its history "
        "(export with ?history=false).",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
