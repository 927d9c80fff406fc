"""Stateless lab computations: depth profile, optimizer trajectories, regularization paths,
penalty geometry and a backprop worked example.

Every function validates its input (``ConfigError(field, message)`` naming the allowed range),
works in float64, draws randomness only from ``np.random.default_rng`` streams derived from an
explicit ``seed``, and returns plain dicts of NumPy arrays / floats / lists (JSON-able once the
web layer converts NumPy values; non-finite floats become ``null`` there).

Conventions shared with the rest of the engine (docs/engine.md): dense weights ``W (in, out)``,
``z = x @ W + b``; penalties ``l1·Σ|w| + (l2/2)·Σw²``; optimizers and schedules are the training
code itself (``core.optimizers.make_optimizer``, ``core.schedules.make_schedule``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.activations import ACTIVATIONS
from core.datasets import make_dataset
from core.errors import ConfigError
from core.histogram import histogram
from core.initializers import INITIALIZERS
from core.losses import LOSSES
from core.model import MLP, ModelSpec
from core.optimizers import make_optimizer
from core.registry import Param, Registry
from core.schedules import make_schedule
from core.trainer import as_mapping, run_seed_streams

__all__ = [
    "DEPTH_MAX",
    "REG_METHODS",
    "TEST_FUNCTIONS",
    "Surface",
    "backprop_example",
    "contour",
    "default_lambdas",
    "depth_profile",
    "depth_setup",
    "penalty_geometry",
    "regularization_data",
    "regularization_path",
    "solve_penalized_2d",
    "trajectory",
]

FloatArray = NDArray[np.float64]

DEPTH_MAX = 50
WIDTH_MAX = 512
N_MAX = 4096
BINS_MAX = 200
STEPS_MAX = 10_000
RESOLUTION_MAX = 400
COORD_MAX = 1e6
REG_METHODS: tuple[str, ...] = ("l1", "l2", "elastic_net")


# ---------------------------------------------------------------------------------------------
# validation helpers (messages come from registry.Param, so they read like every other field)


def _check(param: Param, value: Any, field_name: str | None = None) -> Any:
    return param.validate(value, field_name or param.name)


def _seed(value: Any) -> int:
    return _check(Param("seed", "int", 0, min=0, max=2**63 - 1), value)


def _float_pair(value: Any, field_name: str, lo: float, hi: float,
                exclusive_lo: bool = False) -> FloatArray:
    """Two finite numbers in [lo, hi] (or (lo, hi]) -> array (2,)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    kind = f"{lo} {'<' if exclusive_lo else '<='} x <= {hi}"
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(field_name, f"must be a list of 2 numbers, each x with {kind}")
    p = Param(field_name, "float", 0.0, min=lo, max=hi, exclusive_min=exclusive_lo)
    return np.array([p.validate(v, f"{field_name}[{i}]") for i, v in enumerate(value)])


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


# ---------------------------------------------------------------------------------------------
# 1. Depth profile: gradient and activation statistics of a fresh deep MLP


def depth_setup(
    depth: int,
    width: int,
    activation: str = "tanh",
    init: str = "xavier_uniform",
    batch_norm: bool = False,
    residual: bool = False,
    n: int = 256,
    seed: int = 0,
    activation_params: Mapping[str, Any] | None = None,
    init_params: Mapping[str, Any] | None = None,
) -> tuple[MLP, FloatArray, FloatArray]:
    """Validate and build what :func:`depth_profile` measures: ``(model, x (n, width), y (n, 1))``.

    The model is a fresh ``MLP`` with ``depth`` hidden layers of ``width`` units, input width
    ``width`` and one linear output; ``x ~ N(0, 1)`` and ``y ~ N(0, 1)``. Two independent RNG
    streams are spawned from ``seed`` (initialisation, data), so the data does not change when only
    the initialiser or the activation changes.
    """
    depth = _check(Param("depth", "int", 10, min=1, max=DEPTH_MAX), depth)
    width = _check(Param("width", "int", 32, min=1, max=WIDTH_MAX), width)
    n = _check(Param("n", "int", 256, min=1, max=N_MAX), n)
    seed = _seed(seed)
    batch_norm = _check(Param("batch_norm", "bool", False), batch_norm)
    residual = _check(Param("residual", "bool", False), residual)
    if batch_norm and n < 2:
        raise ConfigError("n", "must be an integer with 2 <= x <= 4096 when batch_norm is on")
    act = ACTIVATIONS.get(activation, "activation")
    act_params = act.resolve(
        as_mapping(activation_params, "activation_params"), "activation_params"
    )
    ini = INITIALIZERS.get(init, "init")
    ini_params = ini.resolve(as_mapping(init_params, "init_params"), "init_params")
    spec = ModelSpec(
        input_dim=width,
        output_dim=1,
        hidden=(width,) * depth,
        activation=activation,
        activation_params=act_params,
        init=init,
        init_params=ini_params,
        batch_norm=batch_norm,
        residual=residual,
    )
    init_ss, data_ss = np.random.SeedSequence(seed).spawn(2)
    model = MLP(spec, np.random.default_rng(init_ss))
    data_rng = np.random.default_rng(data_ss)
    x = data_rng.standard_normal((n, width))
    y = data_rng.standard_normal((n, 1))
    return model, x, y


DEPTH_WORK_LIMIT = 4 * 10**9
"""Bound on ``depth × width² × n`` multiply-adds per pass, so one request stays ~1-2 s."""


def depth_profile(
    depth: int,
    width: int,
    activation: str = "tanh",
    init: str = "xavier_uniform",
    batch_norm: bool = False,
    residual: bool = False,
    n: int = 256,
    seed: int = 0,
    activation_params: Mapping[str, Any] | None = None,
    init_params: Mapping[str, Any] | None = None,
    bins: int = 30,
) -> dict[str, Any]:
    """Per-layer gradient and activation statistics of ONE forward/backward pass at init.

    Setup (:func:`depth_setup`): a fresh MLP ``width -> width ×depth -> 1`` on ``x ~ N(0, 1)``
    ``(n, width)`` with regression targets ``y ~ N(0, 1)`` ``(n, 1)`` and the ``mse`` loss (torch
    ``MSELoss``); one training-mode forward (batch norm uses batch statistics) and one backward.
    Random targets make the output-layer error ``2(ŷ − y)/n`` of order 1, so what happens to the
    gradient on its way back to the input is the network's doing, not the data's.

    Returns ``{"loss": float, "finite": bool, "layers": [...]}`` with one entry per layer, input
    to output (``depth`` hidden layers, then the output layer)::

        index, name, width,
        grad_norm    ‖∂L/∂W‖_F of the layer's dense weights
        bias_grad_norm  ‖∂L/∂b‖ of its biases (with all-zero weights every hidden gradient is
                     0, but the output bias still gets δ_out summed over the batch)
        weight_norm  ‖W‖_F
        act_mean, act_std   of the layer's activation output (logits for the output layer)
        saturation   share of saturated units (sigmoid/tanh hidden layers), else None
        dead_fraction share of dead ReLU units (relu hidden layers), else None
        act_hist  {counts (bins,), edges (bins+1,), nonfinite}: activation values
        grad_hist {counts, edges, nonfinite}: entries of ∂L/∂W

    Never raises on overflow: non-finite values are reported (``finite`` false).
    """
    bins = _check(Param("bins", "int", 30, min=1, max=BINS_MAX), bins)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (depth, width, n)):
        work = depth * width * width * n
        if work > DEPTH_WORK_LIMIT:
            max_n = max(1, DEPTH_WORK_LIMIT // (depth * width * width))
            raise ConfigError(
                "n", f"depth × width² × n must be <= {DEPTH_WORK_LIMIT:.0e} (about 2 s of "
                f"work); with depth {depth} and width {width}, use n <= {max_n}"
            )
    model, x, y = depth_setup(
        depth, width, activation, init, batch_norm, residual, n, seed,
        activation_params, init_params,
    )
    loss_fn = LOSSES.create("mse")
    with np.errstate(all="ignore"):
        out = model.forward_train(x, np.random.default_rng(0))  # no dropout: rng unused
        loss, g = loss_fn.value_and_grad(out, y)
        model.backward(g)
        act_mean, act_std, saturation, dead = model.activation_stats()
        grad_norms = np.sqrt(model.squared_norms(model.grad))
        weight_norms = np.sqrt(model.squared_norms(model.theta))
    acts = [block.act for block in model.blocks] + [out]
    layers: list[dict[str, Any]] = []
    for k, (name, dense) in enumerate(zip(model.layer_names(), model.dense_layers, strict=True)):
        layers.append(
            {
                "index": k,
                "name": name,
                "width": int(model.widths[k]),
                "grad_norm": float(grad_norms[k]),
                "bias_grad_norm": float(np.sqrt(np.dot(dense.db, dense.db))),
                "weight_norm": float(weight_norms[k]),
                "act_mean": float(act_mean[k]),
                "act_std": float(act_std[k]),
                "saturation": None if saturation is None else _none_if_nan(saturation[k]),
                "dead_fraction": None if dead is None else _none_if_nan(dead[k]),
                "act_hist": histogram(acts[k], bins),
                "grad_hist": histogram(dense.dW, bins),
            }
        )
    finite = bool(np.isfinite(loss) and np.all(np.isfinite(model.grad)))
    return {"loss": float(loss), "finite": finite, "layers": layers}


# ---------------------------------------------------------------------------------------------
# 2. Optimizer trajectories on 2-D test functions


Fn2 = Callable[..., FloatArray]
Grad2 = Callable[..., tuple[FloatArray, FloatArray]]


@dataclass(frozen=True)
class Surface:
    """A 2-D test function with bound parameters. ``value``/``gradient`` broadcast over arrays."""

    name: str
    params: Mapping[str, float]
    _value: Fn2
    _gradient: Grad2
    _minima: Callable[..., list[list[float]]]

    def value(self, x: Any, y: Any) -> FloatArray:
        """f(x, y), broadcasting like NumPy."""
        return self._value(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                           **self.params)

    def gradient(self, x: Any, y: Any) -> tuple[FloatArray, FloatArray]:
        """(∂f/∂x, ∂f/∂y), broadcasting like NumPy."""
        return self._gradient(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                              **self.params)

    def minima(self) -> list[list[float]]:
        """Global minima ``[[x, y], …]`` for these parameters (empty if unbounded below)."""
        return self._minima(**self.params)


TEST_FUNCTIONS: Registry[Surface] = Registry("test function")


def _register_surface(
    name: str,
    *,
    label: str,
    formula: str,
    value: Fn2,
    gradient: Grad2,
    minima: Callable[..., list[list[float]]],
    view: tuple[tuple[float, float], tuple[float, float]],
    start: tuple[float, float],
    params: Sequence[Param] = (),
    saddles: Sequence[Sequence[float]] = (),
    description: str = "",
) -> None:
    defaults = {p.name: p.default for p in params}

    def factory(**hp: float) -> Surface:
        return Surface(name, dict(hp), value, gradient, minima)

    TEST_FUNCTIONS.register(
        name,
        label=label,
        formula=formula,
        params=params,
        description=description,
        view={"x": list(view[0]), "y": list(view[1])},
        start=list(start),
        minima=minima(**defaults),
        saddles=[list(s) for s in saddles],
    )(factory)


def _quad_value(x: FloatArray, y: FloatArray, a: float, b: float) -> FloatArray:
    return 0.5 * (a * x * x + b * y * y)


def _quad_grad(x: FloatArray, y: FloatArray, a: float, b: float) -> tuple[FloatArray, FloatArray]:
    return a * x, b * y


_register_surface(
    "quadratic",
    label="Quadratic bowl",
    formula="f(x, y) = ½(a·x² + b·y²);  curvatures a and b, condition number b/a",
    value=_quad_value,
    gradient=_quad_grad,
    minima=lambda a, b: [[0.0, 0.0]],
    view=((-3.0, 3.0), (-3.0, 3.0)),
    start=(-2.5, 1.5),
    params=[
        Param("a", "float", 1.0, min=0.0, exclusive_min=True, max=100.0, help="curvature in x"),
        Param("b", "float", 10.0, min=0.0, exclusive_min=True, max=100.0, help="curvature in y"),
    ],
    description="Gradient descent converges iff lr < 2/max(a, b); with b ≫ a it zig-zags in y.",
)


def _rosen_value(x: FloatArray, y: FloatArray, a: float, b: float) -> FloatArray:
    return (a - x) ** 2 + b * (y - x * x) ** 2


def _rosen_grad(
    x: FloatArray, y: FloatArray, a: float, b: float
) -> tuple[FloatArray, FloatArray]:
    r = y - x * x
    return -2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r


_register_surface(
    "rosenbrock",
    label="Rosenbrock banana",
    formula="f(x, y) = (a − x)² + b·(y − x²)²;  minimum f = 0 at (a, a²)",
    value=_rosen_value,
    gradient=_rosen_grad,
    minima=lambda a, b: [[float(a), float(a) ** 2]],
    view=((-2.0, 2.0), (-1.0, 3.0)),
    start=(-1.2, 1.0),
    params=[
        Param("a", "float", 1.0, min=-5.0, max=5.0, help="position of the minimum (a, a²)"),
        Param("b", "float", 100.0, min=0.0, exclusive_min=True, max=1000.0,
              help="steepness of the valley walls"),
    ],
    description="A curved, flat-bottomed valley: easy to reach, slow to follow.",
)


def _beale_terms(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3


def _beale_value(x: FloatArray, y: FloatArray) -> FloatArray:
    t1, t2, t3 = _beale_terms(x, y)
    return t1 * t1 + t2 * t2 + t3 * t3


def _beale_grad(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    t1, t2, t3 = _beale_terms(x, y)
    gx = 2.0 * (t1 * (y - 1.0) + t2 * (y * y - 1.0) + t3 * (y**3 - 1.0))
    gy = 2.0 * x * (t1 + 2.0 * t2 * y + 3.0 * t3 * y * y)
    return gx, gy


_register_surface(
    "beale",
    label="Beale",
    formula=(
        "f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²;  "
        "minimum f = 0 at (3, 0.5)"
    ),
    value=_beale_value,
    gradient=_beale_grad,
    minima=lambda: [[3.0, 0.5]],
    view=((-4.5, 4.5), (-4.5, 4.5)),
    start=(1.0, 1.5),
    description="Flat plateaus and sharp ridges: step sizes matter a lot.",
)

# Himmelblau's minima, found by Newton's method to machine precision (f = 0 at each).
_HIMMELBLAU_MINIMA = [
    [3.0, 2.0],
    [-2.805118086952745, 3.131312518250573],
    [-3.779310253377747, -3.283185991286170],
    [3.584428340330492, -1.848126526964404],
]


def _himmel_value(x: FloatArray, y: FloatArray) -> FloatArray:
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def _himmel_grad(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    u = x * x + y - 11.0
    v = x + y * y - 7.0
    return 4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v


_register_surface(
    "himmelblau",
    label="Himmelblau",
    formula="f(x, y) = (x² + y − 11)² + (x + y² − 7)²;  four minima with f = 0",
    value=_himmel_value,
    gradient=_himmel_grad,
    minima=lambda: [list(m) for m in _HIMMELBLAU_MINIMA],
    view=((-5.0, 5.0), (-5.0, 5.0)),
    start=(0.0, 0.0),
    description="Four equally good minima: which one you reach depends on start and optimizer.",
)


def _saddle_value(x: FloatArray, y: FloatArray) -> FloatArray:
    return x * x - y * y


def _saddle_grad(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    return 2.0 * x, -2.0 * y


_register_surface(
    "saddle",
    label="Saddle",
    formula="f(x, y) = x² − y²;  saddle point at (0, 0), unbounded below (no minimum)",
    value=_saddle_value,
    gradient=_saddle_grad,
    minima=lambda: [],
    view=((-2.5, 2.5), (-2.5, 2.5)),
    start=(-2.0, 0.01),
    saddles=[(0.0, 0.0)],
    description="Plain gradient descent crawls past the saddle: the y-gradient starts tiny.",
)


def _surface(function: Any, params: Any) -> Surface:
    return TEST_FUNCTIONS.create(function, as_mapping(params, "params"), "params")


def trajectory(
    function: str,
    start: Sequence[float] | None = None,
    optimizer: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
    steps: int = 100,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run a training optimizer on a 2-D test function from ``start``.

    ``optimizer`` is ``{"name": "sgd", "lr": 0.01, …}`` (missing name: sgd; hyperparameters as in
    ``core.optimizers``), ``schedule`` is ``{"name": …, "warmup_steps": …, …}`` (None: constant)
    built from the optimizer's ``lr`` with ``seed``. Update ``t`` uses ``lr[t]``; a stateful
    ``reduce_on_plateau`` observes f after every update. ``start`` None: the function's default.

    Returns ``{"path": (k+1, 2), "value": (k+1,), "lr": (k,), "steps_done": k, "diverged",
    "diverged_at", "minima"}`` with ``path[0] == start``. If an iterate or its value becomes
    non-finite, the run stops: ``diverged`` is true, ``diverged_at`` is the index the first
    non-finite iterate would have had (== k + 1), and only the finite prefix is returned.
    """
    surface = _surface(function, params)
    if start is None:
        start = TEST_FUNCTIONS.get(function).meta["start"]
    w = _float_pair(start, "start", -COORD_MAX, COORD_MAX)
    steps = _check(Param("steps", "int", 100, min=1, max=STEPS_MAX), steps)
    seed = _seed(seed)
    opt_cfg = as_mapping(optimizer, "optimizer")
    opt_name = opt_cfg.pop("name", "sgd")
    opt = make_optimizer(opt_name, opt_cfg, "optimizer")
    sched_cfg = as_mapping(schedule, "schedule")
    sched_name = sched_cfg.pop("name", "constant")
    warmup = sched_cfg.pop("warmup_steps", 0)
    sched = make_schedule(sched_name, sched_cfg, opt.hp["lr"], seed=seed, warmup_steps=warmup)

    path = np.empty((steps + 1, 2))
    values = np.empty(steps + 1)
    rates = np.empty(steps)
    grad = np.empty(2)
    path[0] = w
    diverged_at: int | None = None
    with np.errstate(all="ignore"):
        values[0] = float(surface.value(w[0], w[1]))
        k = 0
        if not math.isfinite(values[0]):
            diverged_at = 0
        else:
            for t in range(steps):
                lr = sched.lr_at(t)
                gx, gy = surface.gradient(w[0], w[1])
                grad[0], grad[1] = gx, gy
                opt.step(w, grad, lr)
                f = float(surface.value(w[0], w[1]))
                if not (math.isfinite(f) and math.isfinite(w[0]) and math.isfinite(w[1])):
                    diverged_at = t + 1
                    break
                rates[t] = lr
                path[t + 1] = w
                values[t + 1] = f
                k = t + 1
                if sched.stateful:
                    sched.observe(f)  # type: ignore[attr-defined]
    return {
        "path": path[: k + 1].copy() if diverged_at != 0 else path[:0].copy(),
        "value": values[: k + 1].copy() if diverged_at != 0 else values[:0].copy(),
        "lr": rates[:k].copy(),
        "steps_done": k,
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "minima": surface.minima(),
    }


def contour(
    function: str,
    params: Mapping[str, Any] | None = None,
    x_range: Sequence[float] | None = None,
    y_range: Sequence[float] | None = None,
    resolution: int = 80,
) -> dict[str, Any]:
    """Background grid ``{"x": (R,), "y": (R,), "z": (R, R)}`` with ``z[i, j] = f(x[j], y[i])``
    (rows follow y, as ``np.meshgrid(x, y)``). Ranges default to the function's view window."""
    surface = _surface(function, params)
    view = TEST_FUNCTIONS.get(function).meta["view"]
    xr = _range(view["x"] if x_range is None else x_range, "x_range")
    yr = _range(view["y"] if y_range is None else y_range, "y_range")
    resolution = _check(Param("resolution", "int", 80, min=2, max=RESOLUTION_MAX), resolution)
    x = np.linspace(xr[0], xr[1], resolution)
    y = np.linspace(yr[0], yr[1], resolution)
    with np.errstate(all="ignore"):
        z = surface.value(x[None, :], y[:, None])
    return {"x": x, "y": y, "z": z}


def _range(value: Any, field_name: str) -> FloatArray:
    r = _float_pair(value, field_name, -COORD_MAX, COORD_MAX)
    if not r[0] < r[1]:
        raise ConfigError(field_name, f"must be [lo, hi] with lo < hi, got {r.tolist()}")
    return r


# ---------------------------------------------------------------------------------------------
# 3. Regularization path (exact lasso / ridge / elastic net) and penalty geometry


def default_lambdas() -> FloatArray:
    """The default λ grid: 30 values log-spaced from 1e-3 to 10, ascending."""
    return np.logspace(-3.0, 1.0, 30)


def _split_penalty(method: str, lam: float, l1_ratio: float) -> tuple[float, float]:
    """(l1, l2) of the project's penalty l1·Σ|w| + (l2/2)·Σw² for ``method`` at ``lam``."""
    if method == "l1":
        return lam, 0.0
    if method == "l2":
        return 0.0, lam
    return lam * l1_ratio, lam * (1.0 - l1_ratio)


def regularization_data(
    n: int = 200,
    n_features: int = 20,
    n_informative: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    val_fraction: float = 0.2,
) -> tuple[FloatArray, FloatArray, dict[str, Any]]:
    """The data :func:`regularization_path` fits: ``(x (n_train, p), y (n_train,), truth)``.

    Exactly the training split a run with the same ``seed`` and dataset settings trains on
    (``sparse_linear``, no normalisation, the run's data stream — see
    ``core.trainer.run_seed_streams``), so the path and the sparsity lab's runs agree. x ~ N(0, I)
    already has unit scale, so the coefficients compare directly with ``truth["coef"]``.
    Requires ``p <= n_train − 1`` so the fit is unique.
    """
    n = _check(Param("n", "int", 200, min=2, max=5000), n)
    n_features = _check(Param("n_features", "int", 20, min=2, max=200), n_features)
    n_informative = _check(
        Param("n_informative", "int", 3, min=1, max=n_features), n_informative
    )
    noise = _check(Param("noise", "float", 0.1, min=0.0, max=1.0), noise)
    val_fraction = _check(Param("val_fraction", "float", 0.2, min=0.0, max=0.9), val_fraction)
    seed = _seed(seed)
    ds = make_dataset(
        "sparse_linear", n=n, noise=noise, val_fraction=val_fraction, normalize="none",
        params={"n_features": n_features, "n_informative": n_informative},
        rng=np.random.default_rng(run_seed_streams(seed)[0]),
    )
    if n_features > ds.n_train - 1:
        raise ConfigError(
            "n_features",
            f"must be an integer with 2 <= x <= n_train - 1 (= {ds.n_train - 1}) so the fit "
            f"is unique, got {n_features}",
        )
    assert ds.truth is not None
    return ds.x_train, ds.y_train[:, 0].copy(), ds.truth


def _cd_sweep(w: FloatArray, q: FloatArray, G: FloatArray, diag: FloatArray,
              l1: float, l2: float, coords: Sequence[int]) -> float:
    """One coordinate-descent pass over ``coords``; keeps ``q = c − G w`` current.

    Returns the largest change ``|Δw_j|·√G_jj`` (the change in the fitted values' RMS scale).
    """
    biggest = 0.0
    for j in coords:
        gjj = diag[j]
        if gjj <= 0.0:  # constant feature: it cannot help, its coefficient stays 0
            continue
        old = w[j]
        rho = q[j] + gjj * old
        mag = abs(rho) - l1
        new = math.copysign(mag / (gjj + l2), rho) if mag > 0.0 else 0.0
        if new != old:
            d = new - old
            w[j] = new
            q -= d * G[:, j]
            biggest = max(biggest, abs(d) * math.sqrt(gjj))
    return biggest


def _kkt_violation(w: FloatArray, G: FloatArray, c: FloatArray, l1: float, l2: float) -> float:
    """Largest violation of the optimality conditions of ½wᵀGw − cᵀw + l1|w|₁ + (l2/2)|w|².

    With q = c − G w − l2 w: |q_j| <= l1 where w_j = 0, q_j = l1·sign(w_j) elsewhere.
    """
    q = c - G @ w - l2 * w
    zero = w == 0.0
    v_zero = np.maximum(np.abs(q[zero]) - l1, 0.0)
    v_nz = np.abs(q[~zero] - l1 * np.sign(w[~zero]))
    return float(max(v_zero.max(initial=0.0), v_nz.max(initial=0.0)))


def _polish(w: FloatArray, G: FloatArray, c: FloatArray, l1: float, l2: float
            ) -> FloatArray | None:
    """Solve the KKT system exactly on the support and signs of ``w``; None if inconsistent.

    Given the support A and signs s, the optimum satisfies (G_AA + l2·I) w_A = c_A − l1·s_A. If
    that solution keeps the signs it is returned (the caller checks the zero coordinates).
    """
    active = np.flatnonzero(w)
    if active.size == 0:
        return np.zeros_like(w)
    s = np.sign(w[active])
    A = G[np.ix_(active, active)] + l2 * np.eye(active.size)
    try:
        wa = np.linalg.solve(A, c[active] - l1 * s)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.sign(wa) == s):
        return None
    cand = np.zeros_like(w)
    cand[active] = wa
    return cand


def _objective(w: FloatArray, A: FloatArray, c: FloatArray, l1: float) -> float:
    return float(0.5 * w @ A @ w - c @ w + l1 * np.abs(w).sum())


def _feature_sign(A: FloatArray, c: FloatArray, l1: float, w0: FloatArray,
                  kkt_tol: float) -> FloatArray | None:
    """Exact argmin ½wᵀAw − cᵀw + l1|w|₁ (A positive semi-definite) by feature-sign search
    (Lee, Battle, Raina & Ng 2007): an active-set method that solves a linear system on the
    current support and signs, line-searches to the best zero crossing when signs flip, and adds
    the zero coordinate violating |∂_j| <= l1 most. Finite; None if it has not finished in its
    iteration budget (the caller then falls back to coordinate descent).
    """
    p = c.size
    w = w0.copy()
    theta = np.sign(w)
    for _ in range(20 * p + 100):
        grad = A @ w - c
        zero = theta == 0.0
        viol = np.where(zero, np.abs(grad) - l1, -np.inf)
        j = int(np.argmax(viol))
        nz = ~zero
        nz_viol = np.abs(grad[nz] + l1 * theta[nz]).max(initial=0.0)
        if viol[j] <= kkt_tol and nz_viol <= kkt_tol:
            return w
        if viol[j] > kkt_tol:
            theta[j] = -np.sign(grad[j])
        # feature-sign step: solve on the support with signs theta, keep the best point
        act = np.flatnonzero(theta)
        try:
            new_a = np.linalg.solve(A[np.ix_(act, act)], c[act] - l1 * theta[act])
        except np.linalg.LinAlgError:
            return None
        old_a = w[act]
        if np.all(np.sign(new_a) == theta[act]):
            w[act] = new_a
        else:
            d = new_a - old_a
            with np.errstate(divide="ignore", invalid="ignore"):
                t_cross = -old_a / d
            ts = np.unique(np.append(t_cross[(t_cross > 0.0) & (t_cross < 1.0)], 1.0))
            best_t, best_f = 1.0, math.inf
            trial = w.copy()
            for t in ts:
                trial[act] = old_a + t * d
                crossing = np.isclose(t, t_cross, rtol=0.0, atol=1e-15)
                trial[act[crossing]] = 0.0
                f = _objective(trial, A, c, l1)
                if f < best_f:
                    best_t, best_f = t, f
            w[act] = old_a + best_t * d
            w[act[np.isclose(best_t, t_cross, rtol=0.0, atol=1e-15)]] = 0.0
        theta = np.sign(w)
    return None


def _enet_solve(G: FloatArray, c: FloatArray, l1: float, l2: float, w0: FloatArray,
                tol: float = 1e-10, max_sweeps: int = 5_000) -> FloatArray:
    """argmin ½wᵀGw − cᵀw + l1|w|₁ + (l2/2)|w|² (G = XcᵀXc/n, c = Xcᵀyc/n), warm-started.

    l1 == 0: ridge in closed form. Otherwise cyclic coordinate descent with soft-thresholding
    (full sweeps alternating with sweeps over the active set) until no coordinate moves by more
    than ``tol`` (in units of √G_jj). Every 25 active-set sweeps, and at the end, the active set
    and signs are solved exactly (:func:`_polish`); that solution is returned as soon as it meets
    the optimality conditions to rounding (KKT violation <= 1e-12·(1 + max|c|)), which makes
    the fits exact and fast even when CD alone converges slowly (p close to or above n).
    """
    p = c.size
    if l1 == 0.0:
        return np.linalg.solve(G + l2 * np.eye(p), c)
    kkt_tol = 1e-12 * (1.0 + float(np.max(np.abs(c))))

    def exact(w: FloatArray) -> FloatArray | None:
        cand = _polish(w, G, c, l1, l2)
        if cand is not None and _kkt_violation(cand, G, c, l1, l2) <= kkt_tol:
            return cand
        return None

    fs = _feature_sign(G + l2 * np.eye(p), c, l1, w0, kkt_tol)
    if fs is not None:
        fs_exact = exact(fs)  # one more solve on the final support: rounding-level KKT
        return fs if fs_exact is None else fs_exact
    w = w0.copy()
    q = c - G @ w
    diag = np.diag(G).copy()
    everything = range(p)
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        if _cd_sweep(w, q, G, diag, l1, l2, everything) < tol:
            break
        active = np.flatnonzero(w).tolist()
        inner = 0
        while sweeps < max_sweeps:
            sweeps += 1
            inner += 1
            if _cd_sweep(w, q, G, diag, l1, l2, active) < tol:
                break
            if inner % 25 == 0:
                cand = exact(w)
                if cand is not None:
                    return cand
    cand = exact(w)
    if cand is not None:
        return cand
    return w


def regularization_path(
    method: str,
    lambdas: Sequence[float] | None = None,
    n: int = 200,
    n_features: int = 20,
    n_informative: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    l1_ratio: float = 0.5,
    val_fraction: float = 0.2,
) -> dict[str, Any]:
    """Exact penalised least-squares fits along a λ grid on ``sparse_linear`` data (the
    training split of a run with the same settings; see :func:`regularization_data`).

    Minimises ``(1/(2n))‖y − Xw − b‖² + l1·Σ|w| + (l2/2)·Σw²`` (intercept b unpenalised) with
    l1 = λ (``"l1"``), l2 = λ (``"l2"``), or l1 = λ·l1_ratio, l2 = λ·(1 − l1_ratio)
    (``"elastic_net"``). Data: :func:`regularization_data` (no normalisation). The intercept is
    removed by centring X and y; b = ȳ − x̄ᵀw. Ridge is solved in closed form; L1 / elastic net
    by coordinate descent (tolerance 1e-10, warm starts from the largest λ down) plus an exact
    active-set polish, so unneeded coefficients are exactly 0.

    Returns ``{"lambdas": (L,) as given (default: :func:`default_lambdas`), "coefs": (L, p),
    "intercepts": (L,), "zeros": [exact zeros per λ], "kkt": (L,) largest optimality-condition
    violation, "lambda_max": smallest λ giving all zeros (None for l2), "true_coef": (p,),
    "informative": [indices]}``.
    """
    if method not in REG_METHODS:
        raise ConfigError("method", f"must be one of {', '.join(map(repr, REG_METHODS))}, "
                                    f"got {method!r}")
    lam_param = Param("lambdas", "float_list", None, min=0.0, exclusive_min=True, max=1000.0,
                      max_len=200)
    lams = default_lambdas() if lambdas is None else np.array(lam_param.validate(
        list(lambdas) if isinstance(lambdas, np.ndarray) else lambdas, "lambdas"))
    if lams.size == 0:
        raise ConfigError(
            "lambdas", "must be a list of 1 to 200 numbers, each x with 0 < x <= 1000"
        )
    l1_ratio = _check(Param("l1_ratio", "float", 0.5, min=0.0, max=1.0), l1_ratio)
    x, y, truth = regularization_data(n, n_features, n_informative, noise, seed, val_fraction)
    n_rows, p = x.shape
    xm, ym = x.mean(axis=0), y.mean()
    xc, yc = x - xm, y - ym
    G = xc.T @ xc / n_rows
    c = xc.T @ yc / n_rows
    coefs = np.zeros((lams.size, p))
    kkt = np.zeros(lams.size)
    w = np.zeros(p)
    for i in np.argsort(-lams, kind="stable"):  # largest λ first: warm starts
        l1, l2 = _split_penalty(method, float(lams[i]), l1_ratio)
        w = _enet_solve(G, c, l1, l2, w)
        coefs[i] = w
        kkt[i] = _kkt_violation(w, G, c, l1, l2)
    share = {"l1": 1.0, "l2": 0.0, "elastic_net": l1_ratio}[method]
    lam_max = float(np.max(np.abs(c)) / share) if share > 0.0 else None
    return {
        "lambdas": lams,
        "coefs": coefs,
        "intercepts": ym - coefs @ xm,
        "zeros": [int(k) for k in np.count_nonzero(coefs == 0.0, axis=1)],
        "kkt": kkt,
        "lambda_max": lam_max,
        "true_coef": np.asarray(truth["coef"], dtype=np.float64),
        "informative": list(truth["informative"]),
    }


def solve_penalized_2d(H: FloatArray, w_star: FloatArray, l1: float, l2: float) -> FloatArray:
    """Exact argmin of ½(w − w*)ᵀH(w − w*) + l1|w|₁ + (l2/2)|w|² in 2-D (H positive definite).

    Expands to ½wᵀAw − qᵀw + l1|w|₁ with A = H + l2·I, q = H w*, and checks every support and
    sign pattern: the candidate that satisfies the KKT conditions (A_SS w_S = q_S − l1·s_S with
    matching signs, |q_j − A_jS w_S| <= l1 off the support) is the unique optimum. Among
    candidates passing within rounding, the one with the lowest objective wins.
    """
    A = H + l2 * np.eye(2)
    q = H @ w_star
    best: FloatArray | None = None
    best_obj = math.inf
    scale = 1e-12 * (1.0 + float(np.max(np.abs(q))) + l1)
    for support in ((), (0,), (1,), (0, 1)):
        idx = list(support)
        for sign_tuple in itertools.product((-1.0, 1.0), repeat=len(idx)):
            signs = np.array(sign_tuple)
            w = np.zeros(2)
            if idx:
                w[idx] = np.linalg.solve(A[np.ix_(idx, idx)], q[idx] - l1 * signs)
                if np.any(w[idx] * signs <= 0.0):
                    continue
            off = [j for j in (0, 1) if j not in idx]
            g = q - A @ w
            if any(abs(g[j]) > l1 + scale for j in off):
                continue
            obj = 0.5 * w @ A @ w - q @ w + l1 * np.abs(w).sum()
            if obj < best_obj:
                best, best_obj = w, obj
    assert best is not None  # strictly convex: exactly one KKT point exists
    return best


def _rotation(theta: float) -> FloatArray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def penalty_geometry(
    method: str,
    lam: float,
    w_star: Sequence[float] = (1.5, 0.5),
    curvature: Sequence[float] = (1.0, 3.0),
    rotation: float = 0.5,
    resolution: int = 80,
    l1_ratio: float = 0.5,
    path_lambdas: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Why L1 gives exact zeros: the 2-D picture of a penalised quadratic.

    Loss ``½(w − w*)ᵀH(w − w*)`` with ``H = R diag(curvature) Rᵀ`` (R: rotation by ``rotation``
    radians); penalty ``l1|w|₁ + (l2/2)|w|²`` split from ``lam`` as in
    :func:`regularization_path`. Returns::

        x (R,), y (R,), loss (R, R)   loss[i, j] = loss at (x[j], y[i]); a square window
                                      around the origin containing w*
        solution [w1, w2]             the exact penalised optimum (solve_penalized_2d)
        solution_loss                 the loss level whose contour touches the constraint
        constraint (M, 2)             closed boundary {w : P(w) = P(solution)} of the equivalent
                                      constrained problem (L1 diamond, L2 circle, elastic net in
                                      between); corners of the diamond are included
        path {"lambdas": (K,), "solutions": (K, 2)}   the optimum as λ moves (K = 41 by default,
                                      from 0 to where L1 reaches the origin, at least 2·lam)
        w_star, H
    """
    if method not in REG_METHODS:
        raise ConfigError("method", f"must be one of {', '.join(map(repr, REG_METHODS))}, "
                                    f"got {method!r}")
    lam = _check(Param("lam", "float", 1.0, min=0.0, max=100.0), lam)
    ws = _float_pair(w_star, "w_star", -10.0, 10.0)
    curv = _float_pair(curvature, "curvature", 0.0, 100.0, exclusive_lo=True)
    rotation = _check(Param("rotation", "float", 0.5, min=-10.0, max=10.0), rotation)
    resolution = _check(Param("resolution", "int", 80, min=2, max=RESOLUTION_MAX), resolution)
    l1_ratio = _check(Param("l1_ratio", "float", 0.5, min=0.0, max=1.0), l1_ratio)
    R = _rotation(rotation)
    H = R @ np.diag(curv) @ R.T
    H = 0.5 * (H + H.T)

    def solve(lam_: float) -> FloatArray:
        l1, l2 = _split_penalty(method, lam_, l1_ratio)
        return solve_penalized_2d(H, ws, l1, l2)

    sol = solve(lam)
    # penalty shape (per unit λ): a·|w|₁ + (b/2)·|w|²
    a_, b_ = _split_penalty(method, 1.0, l1_ratio)
    level = a_ * np.abs(sol).sum() + 0.5 * b_ * float(sol @ sol)
    angles = np.linspace(0.0, 2.0 * np.pi, 4 * resolution + 1)
    u = np.column_stack([np.cos(angles), np.sin(angles)])
    a_dir = a_ * np.abs(u).sum(axis=1)
    if b_ == 0.0:
        radius = level / a_dir
    else:  # a·r + (b/2)·r² = level  ->  r = (−a + √(a² + 2b·level)) / b
        radius = (np.sqrt(a_dir * a_dir + 2.0 * b_ * level) - a_dir) / b_
    constraint = u * radius[:, None]
    constraint[-1] = constraint[0]  # closed exactly

    if path_lambdas is None:
        share = a_ if a_ > 0.0 else 1.0
        lam_hi = max(2.0 * lam, 1.25 * float(np.max(np.abs(H @ ws))) / share, 1e-3)
        path_l = np.linspace(0.0, lam_hi, 41)
    else:
        path_l = np.array(Param("path_lambdas", "float_list", None, min=0.0, max=1000.0,
                                max_len=400).validate(list(path_lambdas), "path_lambdas"))
    path = np.array([solve(float(v)) for v in path_l]).reshape(-1, 2)

    m = 1.5 * max(float(np.max(np.abs(ws))), 0.5)
    grid = np.linspace(-m, m, resolution)
    gx, gy = np.meshgrid(grid, grid)
    dx, dy = gx - ws[0], gy - ws[1]
    loss = 0.5 * (H[0, 0] * dx * dx + 2.0 * H[0, 1] * dx * dy + H[1, 1] * dy * dy)
    d = sol - ws
    return {
        "x": grid,
        "y": grid.copy(),
        "loss": loss,
        "solution": sol,
        "solution_loss": float(0.5 * d @ H @ d),
        "constraint": constraint,
        "path": {"lambdas": path_l, "solutions": path},
        "w_star": ws,
        "H": H,
    }


# ---------------------------------------------------------------------------------------------
# 4. Backprop worked example


BACKPROP_MAX_LAYERS = 8
BACKPROP_MAX_WIDTH = 64


def _vector(value: Any, field_name: str, size: int | None = None) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(field_name, "must be a list of numbers") from None
    if arr.ndim != 1 or not 1 <= arr.size <= BACKPROP_MAX_WIDTH:
        raise ConfigError(field_name,
                          f"must be a list of 1 to {BACKPROP_MAX_WIDTH} numbers, "
                          f"got shape {list(arr.shape)}")
    if size is not None and arr.size != size:
        raise ConfigError(field_name, f"must have {size} entries, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(field_name, "must be finite numbers")
    return arr


def backprop_example(
    x: Sequence[float],
    y: Sequence[float],
    layers: Sequence[Mapping[str, Any]],
    activation: str = "sigmoid",
    loss: str = "half_mse",
    lr: float = 0.1,
    output_activation: str | None = None,
    activation_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Forward pass, backward pass and one SGD update for a single example, every number shown.

    Layer l: ``z_l = a_{l−1} @ W_l + b_l`` (``W_l (in, out)``, the notes' convention; a_0 = x),
    ``a_l = f_l(z_l)``. ``activation`` applies to every layer INCLUDING the output, as in the
    notes' 2-2-1 example (sigmoid output, L = ½(ŷ − y)²); ``output_activation`` overrides the
    output layer's (e.g. ``"identity"``). The loss is ``core.losses`` on ``a_L`` of shape (1, k)
    (its mean over the k outputs; cross_entropy takes ``y = [class id]``).

    Backward: ``delta_l = ∂L/∂z_l``: ``delta_L = ∂L/∂a_L ⊙ f_L'(z_L)``,
    ``delta_l = (delta_{l+1} @ W_{l+1}ᵀ) ⊙ f_l'(z_l)``; ``dW_l = outer(a_{l−1}, delta_l)``
    (in, out), ``db_l = delta_l``. Update: ``W ← W − lr·dW``, ``b ← b − lr·db``.

    Returns ``{"forward": [{"z", "a"}], "output", "loss", "dL_da": ∂L/∂a_L,
    "backward": [{"delta", "dW", "db"}], "updated": [{"W", "b"}]}``, lists ordered input to
    output. Shapes are validated: errors name e.g. ``layers[1].W``.
    """
    act_comp = ACTIVATIONS.get(activation, "activation")
    act_params = act_comp.resolve(as_mapping(activation_params, "activation_params"),
                                  "activation_params")
    hidden_act = act_comp.factory(**act_params)
    out_act = (
        hidden_act if output_activation is None
        else ACTIVATIONS.create(output_activation, {}, "output_activation")
    )
    loss_fn = LOSSES.create(loss, {}, "loss")
    lr = _check(Param("lr", "float", 0.1, min=0.0, max=10.0), lr)
    x_arr = _vector(x, "x")
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence) or not (
        1 <= len(layers) <= BACKPROP_MAX_LAYERS
    ):
        raise ConfigError("layers", f"must be a list of 1 to {BACKPROP_MAX_LAYERS} layers")
    Ws: list[FloatArray] = []
    bs: list[FloatArray] = []
    fan_in = x_arr.size
    for k, layer in enumerate(layers):
        field = f"layers[{k}]"
        if not isinstance(layer, Mapping) or set(layer) != {"W", "b"}:
            raise ConfigError(field, "must be an object with exactly the keys 'W' and 'b'")
        try:
            W = np.asarray(layer["W"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{field}.W", "must be a nested list of numbers (in, out)") from None
        if W.ndim != 2 or W.shape[0] != fan_in or not 1 <= W.shape[1] <= BACKPROP_MAX_WIDTH:
            raise ConfigError(
                f"{field}.W",
                f"must have shape ({fan_in}, out) with 1 <= out <= {BACKPROP_MAX_WIDTH} "
                f"(rows = {'len(x)' if k == 0 else f'outputs of layers[{k - 1}]'}), "
                f"got {list(W.shape)}",
            )
        if not np.all(np.isfinite(W)):
            raise ConfigError(f"{field}.W", "must be finite numbers")
        b = _vector(layer["b"], f"{field}.b", W.shape[1])
        Ws.append(W)
        bs.append(b)
        fan_in = W.shape[1]
    k_out = fan_in
    if loss_fn.name == "cross_entropy":
        y_val = _vector(y, "y", 1)
        if y_val[0] != int(y_val[0]) or not 0 <= y_val[0] < k_out:
            raise ConfigError("y", f"must be [class id] with an integer 0 <= id < {k_out}")
        target: NDArray[Any] = y_val.astype(np.int64)
    else:
        target = _vector(y, "y", k_out)[None, :]

    n_layers = len(Ws)
    acts = [hidden_act] * (n_layers - 1) + [out_act]
    forward: list[dict[str, FloatArray]] = []
    a = x_arr
    with np.errstate(all="ignore"):
        for W, b, f in zip(Ws, bs, acts, strict=True):
            z = a @ W + b
            a = f.forward(z)
            forward.append({"z": z, "a": a})
        value, dL_da = loss_fn.value_and_grad(a[None, :], target)
        dL_da = dL_da[0]
        backward: list[dict[str, FloatArray]] = [{}] * n_layers
        g = dL_da
        for k in range(n_layers - 1, -1, -1):
            z, a_k = forward[k]["z"], forward[k]["a"]
            delta = g * acts[k].derivative(z, a_k)
            a_prev = x_arr if k == 0 else forward[k - 1]["a"]
            backward[k] = {"delta": delta, "dW": np.outer(a_prev, delta), "db": delta.copy()}
            g = Ws[k] @ delta
        updated = [
            {"W": W - lr * bk["dW"], "b": b - lr * bk["db"]}
            for W, b, bk in zip(Ws, bs, backward, strict=True)
        ]
    return {
        "input": x_arr,
        "forward": forward,
        "output": forward[-1]["a"],
        "loss": float(value),
        "dL_da": dL_da,
        "backward": backward,
        "updated": updated,
    }
