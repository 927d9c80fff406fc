"""Stateless lab endpoints: schedule previews, activation curves, conv output sizes, and the
core.labs analyses (depth profile, optimizer trajectories, regularization paths, a
backprop worked example).

Engine modules are imported inside the handlers: they are plain NumPy and cheap to import, and
this keeps the app importable while an engine module is being developed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from app.budgets import check_request_seconds
from app.errors import config_error_as_validation, parse_error_text
from app.jsonsafe import SafeJSONResponse
from app.schemas.common import MessageError, ValidationErrorBody
from app.schemas.labs import (
    ActivationCurve,
    BackpropNotesResponse,
    BackpropRequest,
    BackpropResponse,
    ContourRequest,
    ContourResponse,
    ConvShapeRequest,
    ConvShapeResponse,
    DepthRequest,
    DepthResponse,
    EwaRequest,
    EwaResponse,
    InputScalingRequest,
    InputScalingResponse,
    IterationsRequest,
    IterationsResponse,
    LossCurveRequest,
    LossCurveResponse,
    ParamCountRequest,
    ParamCountResponse,
    PenaltyGeometryRequest,
    PenaltyGeometryResponse,
    RegularizationPathRequest,
    RegularizationPathResponse,
    SchedulePreviewRequest,
    SchedulePreviewResponse,
    SoftmaxRequest,
    SoftmaxResponse,
    TrajectoryRequest,
    TrajectoryResponse,
)
from app.settings import Settings
from core.convshape import conv_shape, pool_shape, window_starts
from core.errors import ConfigError

router = APIRouter(tags=["labs"])

_422 = {422: {"model": ValidationErrorBody, "description": "Invalid input (field + reason)."}}
_404 = {404: {"model": MessageError, "description": "Unknown activation name."}}


def _post(path: str, response_model: type, summary: str) -> Callable[[Any], Any]:
    """``@router.post`` of a lab endpoint: its summary, its response model and the 422 of
    invalid input in the OpenAPI document."""
    return router.post(path, summary=summary, response_model=response_model, responses=_422)


MAX_CURVE_POINTS = 10001
MAX_WINDOWS = 256  # conv-shape: window starts are listed up to this many


@_post("/api/schedules/preview", SchedulePreviewResponse, "Preview a learning-rate schedule")
def schedule_preview(body: SchedulePreviewRequest, request: Request) -> Response:
    """The learning rate of every update ``t = 0 … steps-1`` for a schedule from the catalog
    (after optional linear warmup). ``reduce_on_plateau`` has no metric here, so it stays
    flat. Schedule parameters go next to ``name`` in ``schedule``; unknown ones are rejected."""
    from core.schedules import make_schedule

    settings: Settings = request.app.state.settings
    if body.steps > settings.max_preview_steps:
        raise ConfigError(
            "steps", f"must be an integer with 1 <= x <= {settings.max_preview_steps}"
        )
    schedule = make_schedule(
        body.schedule.name,
        body.schedule.params(),
        body.lr,
        seed=body.seed,
        warmup_steps=body.schedule.warmup_steps,
        prefix="schedule",
    )
    series = np.asarray(schedule.series(body.steps), dtype=np.float64)
    # returned directly: SafeJSONResponse encodes the array in one go (nulls for non-finite)
    return SafeJSONResponse({"lr": series})


def _parse_params(raw: str | None) -> dict[str, Any]:
    if raw is None or raw.strip() == "":
        return {}

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not allowed")

    try:
        params = json.loads(raw, parse_constant=reject_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, json.JSONDecodeError) or "is not allowed" in str(
            exc) else parse_error_text(exc)  # too deep, too many digits: as for bodies
        raise RequestValidationError(
            [{"loc": ["query", "params"], "msg": f"invalid JSON: {reason}", "type": "value_error"}]
        ) from None
    if not isinstance(params, dict):
        raise RequestValidationError(
            [{"loc": ["query", "params"], "msg": "must be a JSON object", "type": "value_error"}]
        )
    return params


@router.get(
    "/api/activations/{name}/curve",
    summary="Activation function and derivative on a grid",
    response_model=ActivationCurve,
    responses={**_404, **_422},
)
def activation_curve(
    name: Annotated[
        str, Path(description="Activation name from the catalog.", examples=["relu"])
    ],
    x_min: Annotated[float, Query(ge=-1000, le=1000, allow_inf_nan=False)] = -6.0,
    x_max: Annotated[float, Query(ge=-1000, le=1000, allow_inf_nan=False)] = 6.0,
    n: Annotated[int, Query(ge=2, le=MAX_CURVE_POINTS, description="Grid points.")] = 241,
    params: Annotated[
        str | None,
        Query(
            description='Activation parameters as a JSON object, e.g. {"negative_slope": 0.1} '
            "(URL-encoded). Names and ranges are in the catalog.",
            examples=['{"negative_slope": 0.1}'],
        ),
    ] = None,
) -> Response:
    """``y = a(x)`` and ``dy = a'(x)`` on ``n`` evenly spaced points from ``x_min`` to
    ``x_max`` (inclusive), the saturated intervals (``a'`` below 5 % of its peak, the engine's
    definition), the output range and whether ``a`` is zero-centred (``core.labs.blocks``).
    Unknown names give 404 listing the available activations."""
    from core.activations import ACTIVATIONS
    from core.labs.blocks import activation_profile

    if name not in ACTIVATIONS:
        raise HTTPException(
            404, f"unknown activation {name!r}; choices: {', '.join(ACTIVATIONS.names())}"
        )
    if not x_min < x_max:
        raise RequestValidationError(
            [
                {
                    "loc": ["query", "x_max"],
                    "msg": f"must be greater than x_min ({x_min})",
                    "type": "value_error",
                }
            ]
        )
    values = _parse_params(params)
    try:
        result = activation_profile(name, values, x_min, x_max, n, prefix="")
    except ConfigError as exc:
        raise config_error_as_validation(exc, ("query", "params")) from None
    return SafeJSONResponse(result)


@router.post(
    "/api/labs/conv-shape",
    summary="Convolution output size",
    responses=_422,
)
def conv_output(body: ConvShapeRequest) -> ConvShapeResponse:
    """``W2 = floor((W1 + 2P - D*(F-1) - 1)/S) + 1`` (with ``D = 1``:
    ``floor((W1 - F + 2P)/S) + 1``, as ``torch.nn.Conv2d``). ``valid`` tells whether the
    windows tile the padded input exactly. A kernel wider than the padded input is a 422.
    ``kind = "pool"`` follows ``torch.nn.MaxPool2d`` (padding at most half the kernel size;
    ``ceil_mode`` rounds up but drops a window starting in the right padding).
    ``windows``: the start of each window in padded coordinates."""
    if body.kind == "pool":
        result = pool_shape(body.input_size, body.kernel_size, body.padding, body.stride,
                            body.dilation, ceil_mode=body.ceil_mode)
    else:
        if body.ceil_mode:
            raise ConfigError("ceil_mode", "must be false for kind 'conv' (Conv2d has no "
                              "ceil_mode; it is a pooling option)")
        result = conv_shape(
            body.input_size, body.kernel_size, body.padding, body.stride, body.dilation
        )
    windows = (window_starts(result.output_size, body.stride)
               if result.output_size <= MAX_WINDOWS else None)
    return ConvShapeResponse(
        output_size=result.output_size,
        formula=result.formula,
        valid=result.valid,
        remainder=result.remainder,
        windows=windows,
        span=body.dilation * (body.kernel_size - 1) + 1,
    )



@_post(
    "/api/labs/depth",
    DepthResponse,
    "Gradient and activation statistics of a deep network at initialisation",
)
def depth(body: DepthRequest, request: Request) -> Response:
    """One forward/backward pass of a fresh MLP ``width -> width × depth -> 1`` on ``n`` random
    samples (mse loss against random targets). Per layer, input to output (hidden layers, then
    the output layer): the gradient norm ``‖∂L/∂W‖``, activation mean/std, the share of
    saturated (sigmoid/tanh) or dead (ReLU) units, and histograms of the activations and of
    ``∂L/∂W``. Shows vanishing/exploding gradients, and what initialisation, batch norm, layer
    norm and residual connections do about them.

    Work whose estimated time (``core.cost.depth_lab_seconds``) exceeds
    ``max_request_seconds`` answers 422 at ``n`` naming the estimate, the limit and the largest
    allowed ``n`` (``ctx``: ``estimate_seconds``, ``limit_seconds``, ``max_n``)."""
    from core.cost import depth_lab_seconds
    from core.labs.depth import depth_profile

    settings: Settings = request.app.state.settings
    if body.width > settings.max_units:
        raise ConfigError("width", f"must be an integer with 1 <= x <= {settings.max_units}")
    per_row = depth_lab_seconds(body.depth, body.width, body.n) / body.n
    check_request_seconds(per_row, body.n, settings.max_request_seconds, "n",
                          what="one pass over", unit="rows")
    result = depth_profile(
        depth=body.depth,
        width=body.width,
        activation=body.activation,
        init=body.init,
        batch_norm=body.batch_norm,
        residual=body.residual,
        n=body.n,
        seed=body.seed,
        activation_params=body.activation_params,
        init_params=body.init_params,
        bins=body.bins,
        layer_norm=body.layer_norm,
    )
    return SafeJSONResponse(result)


@_post("/api/optimizers/trajectory", TrajectoryResponse, "Optimizer path on a 2-D test function")
def optimizer_trajectory(body: TrajectoryRequest) -> Response:
    """Runs a training optimizer (the same code as training; hyperparameters next to ``name``)
    on a 2-D test function from ``start``, optionally under a learning-rate schedule.
    ``path[0]`` is the start and ``path[t + 1]`` the point after update ``t``; ``distance``
    is the distance of each point to the nearest minimum. With ``"state": true`` the response
    adds the optimizer's state after every update, by torch's ``optimizer.state`` keys, and the
    per-coordinate effective step size. A run whose iterate becomes non-finite stops there:
    ``diverged`` is true and only the finite prefix is returned."""
    from core.labs.trajectories import TEST_FUNCTIONS, trajectory

    TEST_FUNCTIONS.get(body.function, "function")  # unknown names: 422 at body.function
    schedule = None
    if body.schedule is not None:
        schedule = {
            "name": body.schedule.name,
            "warmup_steps": body.schedule.warmup_steps,
            **body.schedule.params(),
        }
    result = trajectory(
        body.function,
        start=body.start,
        optimizer={"name": body.optimizer.name, **body.optimizer.values()},
        schedule=schedule,
        steps=body.steps,
        params=body.params,
        seed=body.seed,
        state=body.state,
    )
    return SafeJSONResponse(result)


@_post(
    "/api/labs/regularization-path",
    RegularizationPathResponse,
    "Lasso / ridge / elastic-net coefficient paths",
)
def regularization_path(body: RegularizationPathRequest) -> Response:
    """Exact penalised least-squares fits on ``sparse_linear`` data along a λ grid:
    ``(1/(2n))‖y − Xw − b‖² + l1·Σ|w| + (l2/2)·Σw²`` with l1 = λ (``l1``), l2 = λ (``l2``) or
    l1 = λ·l1_ratio, l2 = λ·(1 − l1_ratio) (``elastic_net``). L1 sets coefficients exactly to 0
    (``zeros`` counts them); L2 only shrinks them."""
    from core.labs.sparsity import regularization_path as reg_path

    result = reg_path(
        body.method,
        lambdas=body.lambdas,
        n=body.n,
        n_features=body.n_features,
        n_informative=body.n_informative,
        noise=body.noise,
        seed=body.seed,
        l1_ratio=body.l1_ratio,
        val_fraction=body.val_fraction,
    )
    return SafeJSONResponse(result)


@_post(
    "/api/labs/penalty-geometry",
    PenaltyGeometryResponse,
    "Why L1 gives exact zeros: a 2-D penalised quadratic",
)
def penalty_geometry(body: PenaltyGeometryRequest) -> Response:
    """Loss contours of ``½(w − w*)ᵀH(w − w*)`` (``H = R diag(curvature) Rᵀ``), the exact
    optimum of loss + ``l1|w|₁ + (l2/2)|w|²`` (λ split as in the regularization path), the
    constraint boundary through it (L1 diamond, L2 circle, elastic net in between) and the path
    of the optimum as λ grows from 0 (41 values). On the diamond the optimum lands on a corner,
    i.e. a coordinate exactly 0; on the circle it does not."""
    from core.labs.sparsity import penalty_geometry as geometry

    kwargs: dict[str, Any] = {}
    if body.w_star is not None:
        kwargs["w_star"] = body.w_star
    if body.curvature is not None:
        kwargs["curvature"] = body.curvature
    result = geometry(
        body.method,
        body.lam,
        rotation=body.rotation,
        resolution=body.resolution,
        l1_ratio=body.l1_ratio,
        **kwargs,
    )
    return SafeJSONResponse(result)


@_post(
    "/api/labs/backprop",
    BackpropResponse,
    "Backpropagation worked example (one sample, every number)",
)
def backprop(body: BackpropRequest) -> Response:
    """Forward pass ``z_l = a_{l−1} @ W_l + b_l``, ``a_l = f(z_l)`` (``W (in, out)``), the loss,
    the backward pass ``delta_l = ∂L/∂z_l``, ``dW_l = outer(a_{l−1}, delta_l)``,
    ``db_l = delta_l``, and the weights after one SGD step ``W − lr·dW``. ``activation``
    applies to the output layer too unless ``output_activation`` is given. ``walk: true`` adds
    ``steps`` (the same step one quantity at a time, formulas with numbers, finite-difference
    checks); ``train_steps: N`` adds ``training`` (N updates: loss and every parameter)."""
    from core.activations import ACTIVATIONS
    from core.labs.backprop import backprop_example, backprop_train, backprop_walk
    from core.losses import LOSSES

    # unknown names: 422 at body.loss / body.output_activation (not ".name")
    LOSSES.get(body.loss, "loss")
    if body.output_activation is not None:
        ACTIVATIONS.get(body.output_activation, "output_activation")
    kwargs: dict[str, Any] = {
        "activation": body.activation,
        "loss": body.loss,
        "lr": body.lr,
        "output_activation": body.output_activation,
        "activation_params": body.activation_params,
    }
    layers = [{"W": layer.W, "b": layer.b} for layer in body.layers]
    if body.walk:
        result = backprop_walk(body.x, body.y, layers, **kwargs)
    else:
        result = backprop_example(body.x, body.y, layers, **kwargs)
    if body.train_steps != 0:  # out of range raises at body.train_steps
        result["training"] = backprop_train(body.x, body.y, layers, body.train_steps, **kwargs)
    return SafeJSONResponse(result)


@router.get(
    "/api/labs/backprop/notes",
    summary="The notes' 2-2-1 backprop example as printed vs the exact values",
    response_model=BackpropNotesResponse,
)
def backprop_notes() -> Response:
    """Every number the notes print for their 2-2-1 worked example (source file and line), the
    engine's exact value, whether the printed one is the exact one rounded to its decimals, and
    the notes' slip where it is not (σ(2.4) written 0.9084 and what it carries into; the W₁
    update using δ₁ᵀX (out, in) on a W₁ stored (in, out); …)."""
    from core.labs.backprop_notes import notes_comparison

    return SafeJSONResponse(notes_comparison())


@_post(
    "/api/labs/ewa",
    EwaResponse,
    "Exponentially weighted average, with and without bias correction",
)
def exponentially_weighted_average(body: EwaRequest) -> Response:
    """``s_t = β·s_{t−1} + (1 − β)·Y_t`` of a series: from ``s_0 = 0`` (and bias-corrected,
    ``s_t/(1 − βᵗ)``, as Adam does) and from ``s_1 = Y_1`` (the notes' formula; torch's SGD
    momentum buffer with ``dampening = β``), the weights of the last average and its
    ``1/(1 − β)`` window. Without ``values``, a seeded noisy sine of length ``n``."""
    from core.labs.ewa import ewa

    result = ewa(body.values, beta=body.beta, n=body.n, noise=body.noise, seed=body.seed)
    return SafeJSONResponse(result)


@_post("/api/optimizers/contour", ContourResponse, "A 2-D test function sampled on a grid")
def optimizer_contour(body: ContourRequest) -> Response:
    """``z[i][j] = f(x[j], y[i])`` on a ``resolution × resolution`` grid over the function's
    view window (or ``x_range``/``y_range``): the background of the optimizers lab."""
    from core.labs.trajectories import TEST_FUNCTIONS, contour

    TEST_FUNCTIONS.get(body.function, "function")  # unknown names: 422 at body.function
    result = contour(
        body.function,
        params=body.params,
        x_range=body.x_range,
        y_range=body.y_range,
        resolution=body.resolution,
    )
    return SafeJSONResponse(result)


@_post(
    "/api/labs/input-scaling",
    InputScalingResponse,
    "Why normalise inputs: a linear model's loss surface and gradient-descent path",
)
def input_scaling_lab(body: InputScalingRequest) -> Response:
    """For the `unscaled` regression data (x2 is 1000× larger than x1) normalised with `none`,
    `minmax` and `zscore`: the MSE surface of ``ŷ = x @ w + b*`` over ``(w1, w2)`` (the bias
    held at its least-squares value, so the surface is exactly 2-D), its Hessian's condition
    number, and full-batch gradient descent from ``w = 0`` with ``lr = lr_fraction · 2/λmax``
    (see ``core/labs/input_scaling.py``)."""
    from core.labs.input_scaling import input_scaling

    result = input_scaling(n=body.n, noise=body.noise, steps=body.steps,
                           lr_fraction=body.lr_fraction, grid=body.grid, seed=body.seed)
    return SafeJSONResponse(result)
# --- the building blocks lab -------------------------------------------------------------------


@_post(
    "/api/labs/softmax",
    SoftmaxResponse,
    "Softmax with temperature, naive vs max-subtracted, and cross-entropy",
)
def softmax(body: SoftmaxRequest) -> Response:
    """``p = softmax(logits / T)`` computed twice: naively (``exp`` overflows to inf past
    z ≈ 709.78; those entries come back as null with ``naive_overflow`` true, and the
    probabilities as null) and with ``max(z)`` subtracted first (always finite). Plus
    cross-entropy ``−ln p_y`` and its gradient ``p − onehot(y)`` (torch's CrossEntropyLoss)."""
    from core.labs.blocks import softmax_demo

    return SafeJSONResponse(softmax_demo(body.logits, body.temperature, body.target))


@_post("/api/labs/loss-curve", LossCurveResponse, "A loss element and its derivative on a grid")
def loss_curve(body: LossCurveRequest) -> Response:
    """MSE, MAE, smooth L1 (``beta``) and Huber (``delta``) vs the residual ``ŷ − y``; BCE and
    cross-entropy vs the predicted probability. Values and derivatives come from the training
    losses (``core.losses``) called on one element at a time, i.e. torch's
    ``reduction="none"``."""
    from core.labs.blocks import loss_curve as curve

    return SafeJSONResponse(
        curve(body.name, body.params, body.x_min, body.x_max, body.n, body.target)
    )


@_post(
    "/api/labs/param-count",
    ParamCountResponse,
    "Parameter count of an MLP or a small conv stack",
)
def param_count(body: ParamCountRequest) -> Response:
    """``kind = "mlp"``: ``nn.Linear`` layers between consecutive ``sizes``. ``kind = "conv"``:
    ``nn.Conv2d`` layers (square kernels, each output size by the conv formula), then
    ``Flatten`` and ``nn.Linear(C·H·W, classes)``. ``total`` equals torch's
    ``sum(p.numel() for p in model.parameters())``."""
    from core.labs.blocks import conv_param_count, mlp_param_count

    if body.kind == "mlp":
        if body.sizes is None:
            raise ConfigError("sizes", "is required for kind 'mlp': a list of 2 to 17 integers")
        return SafeJSONResponse(mlp_param_count(body.sizes, body.bias))
    if body.layers is None:
        raise ConfigError("layers", "is required for kind 'conv': a list of 1 to 16 conv layers")
    return SafeJSONResponse(conv_param_count(
        body.input_size, body.in_channels, [layer.model_dump() for layer in body.layers],
        body.classes, body.bias,
    ))


@_post(
    "/api/labs/iterations",
    IterationsResponse,
    "Iterations per epoch, with and without drop_last",
)
def iterations(body: IterationsRequest) -> Response:
    """``len(DataLoader)``: ``ceil(N/B)`` updates per epoch, or ``floor(N/B)`` with
    ``drop_last=True`` (50000 samples, batch 256: 196 or 195)."""
    from core.labs.blocks import iterations_per_epoch

    return SafeJSONResponse(iterations_per_epoch(body.n, body.batch_size))
