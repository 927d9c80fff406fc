"""Models of the stateless lab endpoints."""

from __future__ import annotations

from typing import Any, Literal

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


class OutputRange(BaseModel):
    min: float | None = Field(description="Lower limit of f (null: unbounded).")
    max: float | None = Field(description="Upper limit of f (null: unbounded).")
    min_closed: bool = Field(description="Whether the lower limit is attained.")
    max_closed: bool = Field(description="Whether the upper limit is attained.")


class ActivationCurve(BaseModel):
    x: list[float] = Field(examples=[[-1.0, 0.0, 1.0]])
    y: list[float | None] = Field(description="Activation a(x).", examples=[[0.0, 0.0, 1.0]])
    dy: list[float | None] = Field(description="Derivative da/dx.", examples=[[0.0, 0.0, 1.0]])
    saturated: list[list[float]] = Field(
        default_factory=list,
        description="Saturated intervals [x_start, x_end] of the grid: f'(x) below "
        "saturation_fraction (5 %) of its peak, the engine's definition (sigmoid, tanh only).",
        examples=[[[-6.0, -4.4], [4.4, 6.0]]],
    )
    saturation_fraction: float = Field(0.05, description="The 5 % of the definition.")
    saturating: bool = Field(False, description="Whether the activation saturates at all.")
    output_range: OutputRange | None = Field(None, description="Range of f over all real z.")
    zero_centred: bool | None = Field(
        None, description="f is odd (f(−z) = −f(z)): outputs centred on 0 (identity, tanh)."
    )
    negative_outputs: bool | None = Field(None, description="f takes negative values.")


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
    kind: Literal["conv", "pool"] = Field(
        default="conv",
        description="`conv` (torch.nn.Conv2d) or `pool` (torch.nn.MaxPool2d: padding at most "
        "half the kernel size, P <= F // 2).",
    )
    ceil_mode: bool = Field(
        default=False,
        description="Pooling only (MaxPool2d's ceil_mode): round up, but drop a last window "
        "that would start inside the right padding.",
    )


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
    windows: list[int] | None = Field(
        default=None,
        description="Start of every window in padded-input coordinates (i·S), when the output "
        "has at most 256 positions.",
        examples=[[0, 2]],
    )
    span: int = Field(default=0, description="Dilated kernel span D·(F−1) + 1.", examples=[3])


# --- analysis endpoints (core.labs) -----------------------------------------------------------


class DepthRequest(StrictModel):
    """A fresh deep MLP ``width -> width × depth -> 1`` measured at initialisation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "depth": 10,
                    "width": 64,
                    "activation": "sigmoid",
                    "init": "normal",
                    "init_params": {"std": 1.0},
                    "batch_norm": False,
                    "residual": False,
                    "n": 256,
                    "seed": 0,
                }
            ]
        }
    )

    depth: int = Field(ge=1, le=50, description="Hidden layers.", examples=[10])
    width: int = Field(
        ge=1, description="Units per hidden layer (at most the server's max_units).", examples=[64]
    )
    activation: str = Field(default="tanh", description="Activation name from the catalog.")
    activation_params: dict[str, Any] | None = Field(
        default=None, description="Activation parameters (see the catalog)."
    )
    init: str = Field(default="xavier_uniform", description="Initializer name from the catalog.")
    init_params: dict[str, Any] | None = Field(
        default=None, description="Initializer parameters (see the catalog)."
    )
    batch_norm: bool = Field(default=False, description="Batch norm after every hidden dense.")
    layer_norm: bool = Field(
        default=False,
        description="Layer norm (torch.nn.LayerNorm over the features) after every hidden "
        "dense; not together with batch_norm.",
    )
    residual: bool = Field(default=False, description="Identity skip around every hidden layer.")
    n: int = Field(default=256, ge=1, le=4096, description="Samples in the batch.")
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    bins: int = Field(default=30, ge=1, le=200, description="Histogram bins.")


class Histogram(BaseModel):
    counts: list[int]
    edges: list[float | None]
    nonfinite: int = Field(description="Entries left out because they are NaN or ±inf.")


class DepthLayer(BaseModel):
    index: int
    name: str = Field(examples=["hidden 1"])
    width: int
    grad_norm: float | None = Field(description="‖∂L/∂W‖_F of the layer's weights.")
    bias_grad_norm: float | None = Field(
        description="‖∂L/∂b‖ of the layer's biases (with zero init the output layer's bias "
        "gradient is not 0 although every weight gradient may be)."
    )
    weight_norm: float | None
    act_mean: float | None
    act_std: float | None
    saturation: float | None = Field(
        description="Share of saturated units (sigmoid/tanh hidden layers), else null."
    )
    dead_fraction: float | None = Field(
        description="Share of dead units (ReLU hidden layers), else null."
    )
    act_hist: Histogram
    grad_hist: Histogram


class DepthResponse(BaseModel):
    layers: list[DepthLayer] = Field(description="Input to output: hidden layers, then output.")
    loss: float | None
    finite: bool


class OptimizerSpec(BaseModel):
    """An optimizer: ``name`` plus its hyperparameters as further keys (see the catalog)."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"name": "adam", "lr": 0.05, "beta1": 0.9}]},
    )

    name: str = Field(default="sgd", description="Optimizer name from the catalog.")
    lr: float | None = Field(default=None, gt=0, description="Learning rate.")

    def values(self) -> dict[str, Any]:
        out = dict(self.model_extra or {})
        if self.lr is not None:
            out["lr"] = self.lr
        return out


class TrajectoryRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "function": "rosenbrock",
                    "start": [-1.5, 2.0],
                    "optimizer": {"name": "adam", "lr": 0.05},
                    "schedule": {"name": "cosine_annealing", "T_max": 500},
                    "steps": 500,
                }
            ]
        }
    )

    function: str = Field(
        description="2-D test function: quadratic (params a, b: curvatures along the axes, "
        "condition number b/a; rotation: degrees), rosenbrock, beale, himmelblau, saddle, "
        "plateau (param width: a flat region, then a drop) or wells (several local minima).",
        examples=["rosenbrock"],
    )
    params: dict[str, Any] | None = Field(
        default=None,
        description="Function parameters, e.g. {\"a\": 1, \"b\": 50, \"rotation\": 30} for "
        "quadratic; errors name params.<name> and its range.",
    )
    start: list[float] | None = Field(
        default=None, description="[x, y] start point (default: the function's own)."
    )
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec | None = Field(default=None, description="Default: constant rate.")
    steps: int = Field(default=100, ge=1, le=10_000, description="Updates to run.")
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    state: bool = Field(
        default=False,
        description="Also return the optimizer's state after every update (`state`) and the "
        "per-coordinate step size (`effective_lr`).",
    )


class TrajectoryResponse(BaseModel):
    path: list[list[float]] = Field(description="path[0] is the start; one point per update.")
    value: list[float] = Field(description="f at every point of the path.")
    lr: list[float] = Field(description="Learning rate used for update t.")
    steps_done: int
    diverged: bool
    diverged_at: int | None = Field(description="Index the first non-finite iterate would have.")
    minima: list[list[float]] = Field(
        description="The surface's minima [x, y], lowest f first (every local minimum of "
        "surfaces with several; empty for the saddle, which is unbounded below)."
    )
    distance: list[float] | None = Field(
        default=None,
        description="distance[t]: Euclidean distance from path[t] to the nearest minimum "
        "(null when the surface has none).",
    )
    state: dict[str, list[list[float | None]]] | None = Field(
        default=None,
        description="Only with \"state\": true. The optimizer's state after update t, by "
        "torch's optimizer.state keys: momentum_buffer (SGD, RMSprop), sum (Adagrad), "
        "square_avg and grad_avg (RMSprop, Adadelta), exp_avg and exp_avg_sq (Adam, AdamW, "
        "NAdam, RAdam, Adamax), max_exp_avg_sq (amsgrad), exp_inf (Adamax), acc_delta "
        "(Adadelta), prev and step_size (Rprop), mu_product (NAdam; a scalar, repeated in both "
        "columns). Each is a list of [x, y] rows aligned with lr (null before a buffer exists).",
        examples=[{"exp_avg": [[-21.56, -8.8]], "exp_avg_sq": [[46.48, 7.744]]}],
    )
    effective_lr: list[list[float]] | None = Field(
        default=None,
        description="Only with \"state\": true. Per-coordinate step size of update t, [x, y]: "
        "sgd lr (times the momentum buffer); adagrad lr/(1 + (t−1)·lr_decay)/(√sum + eps); "
        "rmsprop lr/(√square_avg + eps) (centered: square_avg − grad_avg²); adam, adamw, nadam "
        "lr/(√v̂ + eps) with v̂ = exp_avg_sq/(1 − β2ᵗ) (adam: times m̂ = exp_avg/(1 − β1ᵗ)); "
        "radam lr·rₜ·√(1 − β2ᵗ)/(√exp_avg_sq + eps) once ρₜ > 5, else lr; adamax lr/exp_inf; "
        "adadelta lr·√(acc_delta + eps)/√(square_avg + eps) (acc_delta before the update); "
        "rprop step_size.",
    )


class RegularizationPathRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"method": "l1", "n": 200, "n_features": 20, "n_informative": 3}]
        }
    )

    method: Literal["l1", "l2", "elastic_net"]
    lambdas: list[float] | None = Field(
        default=None,
        max_length=200,
        description="λ grid, each 0 < λ <= 1000 (default: 30 values log-spaced 1e-3 … 10).",
    )
    n: int = Field(default=200, description="Samples (2 … 5000).")
    n_features: int = Field(default=20, description="Features p (2 … 200).")
    n_informative: int = Field(default=3, description="Non-zero true coefficients (1 … p).")
    noise: float = Field(default=0.1, description="Noise standard deviation (0 … 1).")
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    l1_ratio: float = Field(default=0.5, description="elastic_net: share of λ on the L1 term.")
    val_fraction: float = Field(
        default=0.2,
        description="Validation share held out (0 … 0.9): the path is fitted on the training "
        "split of a run with the same dataset settings and seed.",
    )


class RegularizationPathResponse(BaseModel):
    lambdas: list[float]
    coefs: list[list[float]] = Field(description="coefs[i] is the fit at lambdas[i] (p,).")
    intercepts: list[float]
    zeros: list[int] = Field(description="Exactly-zero coefficients per λ.")
    kkt: list[float] = Field(description="Largest optimality-condition violation per λ.")
    lambda_max: float | None = Field(description="Smallest λ with all zeros (null for l2).")
    true_coef: list[float]
    informative: list[int]


class PenaltyGeometryRequest(StrictModel):
    """A 2-D penalised quadratic: loss ``½(w − w*)ᵀH(w − w*)`` plus the penalty of ``method``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"method": "l1", "lam": 0.5, "w_star": [1.5, 0.5], "resolution": 60}]
        }
    )

    method: Literal["l1", "l2", "elastic_net"]
    lam: float = Field(default=1.0, description="Penalty strength λ (0 … 100).")
    w_star: list[float] | None = Field(
        default=None, description="Unpenalised optimum [w1, w2], each in [-10, 10] "
        "(default [1.5, 0.5])."
    )
    curvature: list[float] | None = Field(
        default=None, description="Eigenvalues of H, each in (0, 100] (default [1, 3])."
    )
    rotation: float = Field(default=0.5, description="Rotation of H's axes in radians (-10 … 10).")
    resolution: int = Field(default=80, description="Grid points per axis (2 … 400).")
    l1_ratio: float = Field(default=0.5, description="elastic_net: share of λ on the L1 term.")


class GeometryPath(BaseModel):
    lambdas: list[float]
    solutions: list[list[float]] = Field(description="The optimum at each λ (K, 2).")


class PenaltyGeometryResponse(BaseModel):
    x: list[float]
    y: list[float]
    loss: list[list[float]] = Field(description="loss[i][j] is the loss at (x[j], y[i]).")
    solution: list[float] = Field(description="Exact penalised optimum [w1, w2].")
    solution_loss: float = Field(description="Loss level whose contour touches the constraint.")
    constraint: list[list[float]] = Field(
        description="Closed boundary {w : P(w) = P(solution)} (L1 diamond, L2 circle, ...)."
    )
    path: GeometryPath
    w_star: list[float]
    H: list[list[float]]


class BackpropLayer(StrictModel):
    W: list[list[float]] = Field(description="Weights (in, out): z = a_prev @ W + b.")
    b: list[float]


class BackpropRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "x": [1.0, 2.0],
                    "y": [0.5],
                    "layers": [
                        {"W": [[0.5, 0.6], [0.7, 0.8]], "b": [0.1, 0.2]},
                        {"W": [[0.9], [0.1]], "b": [0.3]},
                    ],
                    "activation": "sigmoid",
                    "loss": "half_mse",
                    "lr": 0.1,
                }
            ]
        }
    )

    x: list[float] = Field(description="One input example (each number -1000 … 1000).")
    y: list[float] = Field(
        description="Its target (each -1000 … 1000; cross_entropy: [class id], 0 <= id < K)."
    )
    layers: list[BackpropLayer] = Field(
        description="Dense layers, input to output (1 … 8 layers, 1 … 64 units each; every "
        "weight and bias -1000 … 1000)."
    )
    activation: str = Field(default="sigmoid", description="Applied to every layer.")
    activation_params: dict[str, Any] | None = None
    output_activation: str | None = Field(
        default=None, description="Overrides the output layer's activation (e.g. identity)."
    )
    loss: str = Field(default="half_mse", description="Loss name from the catalog.")
    lr: float = Field(default=0.1, description="SGD step size (0 … 10).")
    walk: bool = Field(
        default=False,
        description="Also return `steps`: every quantity of the training step, one at a time, "
        "as its formula with the numbers substituted, and a finite-difference check beside "
        "every gradient (networks with at most 200 parameters).",
    )
    train_steps: int = Field(
        default=0,
        description="Also return `training`: the same network trained for this many SGD "
        "updates on the one example (0 … 1000; 0: no training; networks with at most 200 "
        "parameters).",
    )


class ForwardStep(BaseModel):
    z: list[float | None]
    a: list[float | None]


class BackwardStep(BaseModel):
    delta: list[float | None] = Field(description="∂L/∂z of the layer.")
    dW: list[list[float | None]]
    db: list[float | None]


class UpdatedLayer(BaseModel):
    W: list[list[float | None]]
    b: list[float | None]


class WalkOperand(BaseModel):
    symbol: str
    value: float | None
    text: str = Field(description="The value as printed in `substituted`.")


class WalkHighlight(BaseModel):
    nodes: list[list[int]] = Field(
        description="[layer, unit] of the graph (layer 0: inputs, L + 1: the loss)."
    )
    edges: list[list[int]] = Field(
        description="[layer, in unit, out unit]: the weight W_layer[in, out]."
    )


class FiniteDifference(BaseModel):
    analytic: float | None = Field(description="The backward pass's gradient.")
    numeric: float | None = Field(description="(L(θ + h) − L(θ − h)) / 2h.")
    rel_error: float | None = Field(
        description="|analytic − numeric| / max(|analytic|, |numeric|) (0 when both are 0)."
    )
    h: float
    numeric_text: str
    rel_error_text: str


class WalkStep(BaseModel):
    phase: str = Field(description="forward, loss, backward or update.")
    kind: str = Field(description="z, a, p (softmax), loss, delta, dW, db, W or b.")
    symbol: str = Field(examples=["δ₂"])
    relation: str = Field(description="'=' or '←' (an update).")
    formula: str = Field(description="Symbolic right-hand side.", examples=["(ŷ − y)·σ′(z₂)"])
    substituted: str = Field(
        description="The formula with this example's numbers.",
        examples=["(0.76574 − 0.5)·0.17938"],
    )
    value: float | None
    value_text: str = Field(examples=["0.04767"])
    operands: list[WalkOperand]
    detail: list[str] = Field(description="Derivation lines, e.g. σ′(z₂) = ŷ·(1 − ŷ) = …")
    highlight: WalkHighlight
    check: FiniteDifference | None = Field(description="Gradient steps (dW, db) only.")


class TrainedParam(BaseModel):
    name: str = Field(examples=["layers[0].W[1][0]"])
    symbol: str = Field(examples=["W₁[2,1]"])
    values: list[float | None] = Field(description="Before each update and after the last.")


class BackpropTraining(BaseModel):
    loss: list[float | None] = Field(description="Loss before each update and after the last.")
    params: list[TrainedParam]
    diverged: int | None = Field(description="First step whose loss is not finite, or null.")


class BackpropResponse(BaseModel):
    input: list[float]
    forward: list[ForwardStep]
    output: list[float | None]
    loss: float | None
    dL_da: list[float | None]
    backward: list[BackwardStep]
    updated: list[UpdatedLayer]
    steps: list[WalkStep] | None = Field(default=None, description="With `walk: true`.")
    training: BackpropTraining | None = Field(default=None, description="With `train_steps`.")


class NotesEntry(BaseModel):
    index: list[int]
    printed: str = Field(description="As printed in the notes.")
    decimals: int
    exact: float
    exact_rounded: str = Field(description="The exact value rounded to the printed decimals.")
    exact_text: str = Field(description="The exact value as the walk prints numbers.")
    agrees: bool = Field(description="|exact − printed| <= ½·10^−decimals.")
    slip: str | None = Field(description="Key of `slips` naming the notes' slip, or null.")


class NotesRow(BaseModel):
    id: str
    quantity: str
    line: int = Field(description="Line of the notes' file.")
    entries: list[NotesEntry]


class BackpropNotesResponse(BaseModel):
    source: str
    example: dict[str, Any]
    slips: dict[str, str]
    rows: list[NotesRow]


class EwaRequest(StrictModel):
    """An exponentially weighted average of a series (given, or a seeded noisy sine)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"beta": 0.9, "n": 100, "noise": 2.0, "seed": 0},
                                        {"values": [1.0, 2.0, 3.0], "beta": 0.5}]}
    )

    values: list[float] | None = Field(
        default=None,
        description="The series Y_1 … Y_n (1 … 10,000 numbers, each -1e12 … 1e12). Default: "
        "10 + 5·sin(2πt/n) plus Gaussian noise from `n`, `noise` and `seed`.",
    )
    beta: float = Field(default=0.9, description="Decay β, 0 <= β < 1.", examples=[0.9])
    n: int = Field(default=100, description="Length of the generated series (1 … 10,000).")
    noise: float = Field(default=2.0, description="Noise std of the generated series (0 … 100).")
    seed: int = Field(default=0, description="Seed of the generated series' noise (>= 0).")


class EwaResponse(BaseModel):
    t: list[int] = Field(description="1 … n.")
    values: list[float] = Field(description="The series Y_t.")
    signal: list[float] | None = Field(
        description="The noise-free signal of a generated series (null for given values)."
    )
    zero_start: list[float] = Field(description="s_t = β·s_{t−1} + (1 − β)·Y_t with s_0 = 0.")
    bias_corrected: list[float] = Field(description="s_t / (1 − βᵗ), as Adam corrects m and v.")
    first_value_start: list[float] = Field(
        description="The notes' variant: s_1 = Y_1, then the same recursion (torch's SGD "
        "momentum buffer with dampening = β)."
    )
    bias: list[float] = Field(description="1 − βᵗ: the total weight of the zero-start average.")
    weights: list[float] = Field(
        description="Weight (1 − β)·β^(n−i) of Y_i in the last zero-start average."
    )
    window: float = Field(description="1/(1 − β): about how many recent values it averages.")
    beta: float


class ContourRequest(StrictModel):
    """The surface of a 2-D test function on a grid (the optimizers lab's background)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"function": "rosenbrock", "resolution": 80}]}
    )

    function: str = Field(description="2-D test function name (see the catalog's test_functions).")
    params: dict[str, Any] | None = Field(
        default=None, description="Function parameters; errors name params.<name> and its range."
    )
    x_range: list[float] | None = Field(
        default=None, description="[lo, hi] (default: the function's view window)."
    )
    y_range: list[float] | None = Field(
        default=None, description="[lo, hi] (default: the function's view window)."
    )
    resolution: int = Field(default=80, description="Grid points per axis (2 … 400).")


class ContourResponse(BaseModel):
    x: list[float] = Field(description="Grid x values (R,).")
    y: list[float] = Field(description="Grid y values (R,).")
    z: list[list[float | None]] = Field(
        description="z[i][j] = f(x[j], y[i]) (rows follow y; null where not finite)."
    )


class InputScalingRequest(StrictModel):
    """Loss surface and gradient-descent path of a linear model on the unscaled data, once per
    input normalisation (none, min-max, z-score)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"steps": 50, "lr_fraction": 0.9}]})

    n: int = Field(default=200, description="Samples of the `unscaled` data (10 … 2,000).")
    noise: float = Field(default=0.1, description="Std of the target noise (0 … 1).")
    steps: int = Field(default=50, description="Full-batch gradient-descent steps (1 … 1,000).")
    lr_fraction: float = Field(
        default=0.9,
        description="The learning rate as a fraction of 2/λmax, the stability limit of that "
        "normalisation's surface (0.01 … 0.99).",
    )
    grid: int = Field(default=61, description="Contour grid points per axis (11 … 201).")
    seed: int = Field(default=0, description="Seed of the data (>= 0).")


class InputScalingGrid(BaseModel):
    w1: list[float]
    w2: list[float]
    loss: list[list[float]] = Field(description="loss[j][i] = L(w1[i], w2[j]).")


class InputScalingMethod(BaseModel):
    normalize: Literal["none", "minmax", "zscore"]
    w_star: list[float] = Field(description="Least-squares weights (w1, w2).")
    b_star: float = Field(description="Least-squares bias, held fixed along the path.")
    hessian_eigenvalues: list[float] = Field(description="Of H = 2XᵀX/n, ascending.")
    condition_number: float = Field(description="λmax / λmin of H.")
    lr: float = Field(description="lr_fraction · 2 / λmax.")
    path: list[list[float]] = Field(description="w_0 = 0 … w_steps, each [w1, w2].")
    loss: list[float] = Field(description="MSE at each point of the path.")
    final_distance: float = Field(description="|w_steps − w*|.")
    grid: InputScalingGrid


class InputScalingResponse(BaseModel):
    methods: list[InputScalingMethod]
    steps: int
    lr_fraction: float
# --- the building blocks lab (core.labs.blocks) --------------------------------------------------


class SoftmaxRequest(StrictModel):
    """One row of logits for softmax with temperature, naive vs max-subtracted."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"logits": [2.0, 1.0, 0.1], "temperature": 1.0,
                                         "target": 0},
                                        {"logits": [1000.0, 999.0, 998.0]}]}
    )

    logits: list[float] = Field(description="2 … 16 logits, each -1e4 … 1e4.")
    temperature: float = Field(default=1.0, description="T, 0.01 … 100: softmax(logits / T).")
    target: int = Field(default=0, description="True class y for cross-entropy (0 … K−1).")


class SoftmaxResponse(BaseModel):
    z: list[float] = Field(description="logits / T.")
    naive_exp: list[float | None] = Field(
        description="exp(z) without the shift; null where it overflows (see naive_overflow)."
    )
    naive_sum: float | None = Field(description="Σ exp(z) without the shift (null: overflow).")
    naive_overflow: list[bool] = Field(description="exp(z_i) overflowed to inf (z_i > 709.78).")
    naive_probabilities: list[float | None] = Field(
        description="exp(z)/Σexp(z) without the shift; null where inf/inf is NaN."
    )
    naive_ok: bool = Field(description="Whether the naive probabilities are all finite.")
    max: float = Field(description="max(z), subtracted before exp.")
    shifted: list[float] = Field(description="z − max(z) (all <= 0).")
    exp_shifted: list[float] = Field(description="exp(z − max(z)), each in (0, 1].")
    sum_shifted: float = Field(description="Σ exp(z − max(z)), in [1, K].")
    probabilities: list[float] = Field(description="softmax(z) (torch.softmax(logits / T)).")
    log_sum_exp: float = Field(description="ln Σ exp(z) = max + ln Σ exp(z − max).")
    cross_entropy: float = Field(description="−ln p_y = log_sum_exp − z_y (CrossEntropyLoss).")
    gradient: list[float] = Field(description="∂CE/∂z = p − onehot(y).")
    gradient_logits: list[float] = Field(description="∂CE/∂logits = (p − onehot(y)) / T.")
    target: int
    temperature: float


class LossCurveRequest(StrictModel):
    """One loss element and its derivative on a grid (torch's reduction='none')."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "huber", "params": {"delta": 1.0}},
                                        {"name": "bce", "target": 1.0}]}
    )

    name: Literal["mse", "mae", "smooth_l1", "huber", "bce", "cross_entropy"] = Field(
        description="Regression losses vs the residual ŷ − y; `bce` and `cross_entropy` vs the "
        "predicted probability."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Loss parameters, torch-named: smooth_l1 `beta` (>= 0), huber `delta` (> 0).",
    )
    x_min: float | None = Field(
        default=None,
        description="Grid start: residual -1000 … 1000 (default -3), or probability in (0, 1) "
        "(default 0.01).",
    )
    x_max: float | None = Field(default=None, description="Grid end (default 3, or 0.99).")
    n: int = Field(default=201, description="Grid points, 2 … 10,001.")
    target: float = Field(default=1.0, description="bce only: the target y, 0 … 1.")


class LossCurveResponse(BaseModel):
    name: str
    params: dict[str, Any] = Field(description="The resolved parameters.")
    axis: Literal["residual", "probability"]
    x: list[float]
    value: list[float | None] = Field(description="The loss element l(x).")
    derivative: list[float | None] = Field(
        description="dl/dŷ (residual axis) or dl/dp (probability axis)."
    )
    derivative_logit: list[float] | None = Field(None, description="bce: dl/dz = p − y.")
    target: float | None = None
    formula: str
    torch: str = Field(description="The torch module computing the same elementwise loss.")


class ConvLayerSpec(StrictModel):
    out_channels: int = Field(description="Output channels, 1 … 4096.")
    kernel_size: int = Field(description="Square kernel F, 1 … 64.")
    stride: int = Field(default=1, description="Stride, 1 … 64.")
    padding: int = Field(default=0, description="Zero padding, 0 … 64.")


class ParamCountRequest(StrictModel):
    """An MLP (``kind = "mlp"``, ``sizes``) or a conv stack + linear head (``kind = "conv"``)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"kind": "mlp", "sizes": [784, 128, 10]},
            {"kind": "conv", "input_size": 28, "in_channels": 1, "classes": 10,
             "layers": [{"out_channels": 8, "kernel_size": 3, "padding": 1}]},
        ]}
    )

    kind: Literal["mlp", "conv"]
    bias: bool = Field(default=True, description="Layers have a bias (torch's default).")
    sizes: list[int] | None = Field(
        default=None, description="mlp: [inputs, hidden…, outputs], 2 … 17 integers 1 … 100,000."
    )
    input_size: int = Field(default=28, description="conv: input height = width, 1 … 4096.")
    in_channels: int = Field(default=1, description="conv: input channels, 1 … 4096.")
    layers: list[ConvLayerSpec] | None = Field(default=None, description="conv: 1 … 16 layers.")
    classes: int = Field(default=10, description="conv: outputs of the linear head.")


class ParamCountResponse(BaseModel):
    layers: list[dict[str, Any]] = Field(
        description="Per layer: weight, bias, total, formula (conv: shapes in and out)."
    )
    total: int = Field(description="= sum(p.numel() for p in model.parameters()) in torch.")


class IterationsRequest(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"n": 50000, "batch_size": 256}]})

    n: int = Field(description="Training samples N, 1 … 1e9.")
    batch_size: int = Field(description="Batch size B, 1 … 1e9.")


class IterationsResponse(BaseModel):
    n: int
    batch_size: int
    iterations: int = Field(description="len(DataLoader) with drop_last=False: ceil(N/B).")
    iterations_drop_last: int = Field(description="With drop_last=True: floor(N/B).")
    last_batch: int = Field(description="Size of the last batch without drop_last.")
    dropped: int = Field(description="Samples skipped per epoch with drop_last (N mod B).")
    formula: str
