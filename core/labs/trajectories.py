"""Trajectories lab: training optimizers on 2-D test functions.

:data:`TEST_FUNCTIONS` is a registry of surfaces ``f(x, y)`` (name, parameter schema, formula,
view window, default start, minima, saddles), each with an analytic gradient (checked against
finite differences in the tests) that broadcasts over arrays. :func:`trajectory` runs the
training optimizer and schedule code itself (``core.optimizers.make_optimizer``,
``core.schedules.make_schedule``) on a ``(2,)`` parameter vector; :func:`contour` samples the
surface on a grid for the background picture (``POST /api/optimizers/trajectory``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.labs._common import FloatArray, check, float_pair, seed_param
from core.optimizers import make_optimizer
from core.registry import Param, Registry
from core.schedules import make_schedule
from core.trainer import as_mapping

__all__ = ["TEST_FUNCTIONS", "Surface", "contour", "nearest_distance", "trajectory"]

STEPS_MAX = 10_000
RESOLUTION_MAX = 400
COORD_MAX = 1e6


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
        """Minima ``[[x, y], …]`` for these parameters, lowest f first (every local minimum
        of the surfaces with several; empty if unbounded below)."""
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


def _quad_uv(
    x: FloatArray, y: FloatArray, rotation: float
) -> tuple[FloatArray, FloatArray, float, float]:
    """Coordinates along the principal axes: ``[u, v] = Rᵀ[x, y]`` (R rotates by ``rotation``
    degrees), and R's cos/sin. ``rotation == 0`` returns x, y themselves (bit-identical)."""
    if rotation == 0.0:
        return x, y, 1.0, 0.0
    t = math.radians(rotation)
    c, s = math.cos(t), math.sin(t)
    return c * x + s * y, c * y - s * x, c, s


def _quad_value(
    x: FloatArray, y: FloatArray, a: float, b: float, rotation: float = 0.0
) -> FloatArray:
    u, v, _, _ = _quad_uv(x, y, rotation)
    return 0.5 * (a * u * u + b * v * v)


def _quad_grad(
    x: FloatArray, y: FloatArray, a: float, b: float, rotation: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    u, v, c, s = _quad_uv(x, y, rotation)
    if rotation == 0.0:
        return a * x, b * y
    # ∇f = R·diag(a, b)·Rᵀ·[x, y] = a·u·(c, s) + b·v·(−s, c)
    au, bv = a * u, b * v
    return c * au - s * bv, s * au + c * bv


_register_surface(
    "quadratic",
    label="Quadratic bowl",
    formula=(
        "f(x, y) = ½(a·u² + b·v²),  [u, v] = Rᵀ[x, y]  (R: rotation by φ degrees);  "
        "curvatures a and b along the axes, condition number κ = max(a, b)/min(a, b)"
    ),
    value=_quad_value,
    gradient=_quad_grad,
    minima=lambda a, b, rotation: [[0.0, 0.0]],
    view=((-3.0, 3.0), (-3.0, 3.0)),
    start=(-2.5, 1.5),
    params=[
        Param("a", "float", 1.0, min=0.0, exclusive_min=True, max=100.0,
              help="curvature along the first axis (x when rotation is 0)"),
        Param("b", "float", 10.0, min=0.0, exclusive_min=True, max=100.0,
              help="curvature along the second axis (y when rotation is 0); b/a is the "
                   "condition number when b >= a"),
        Param("rotation", "float", 0.0, min=-180.0, max=180.0,
              help="rotation φ of the principal axes, in degrees (0: axis-aligned)"),
    ],
    description=(
        "Gradient descent converges iff lr < 2/max(a, b); with b ≫ a it zig-zags across the "
        "valley. Rotating the bowl does not change plain gradient descent (it is rotation "
        "invariant) but does change per-coordinate methods such as Adam and RMSprop."
    ),
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


def _plateau_value(x: FloatArray, y: FloatArray, width: float) -> FloatArray:
    return 1.0 - np.exp(-(x * x + y * y) / (2.0 * width * width))


def _plateau_grad(x: FloatArray, y: FloatArray, width: float) -> tuple[FloatArray, FloatArray]:
    k = np.exp(-(x * x + y * y) / (2.0 * width * width)) / (width * width)
    return k * x, k * y


_register_surface(
    "plateau",
    label="Plateau",
    formula="f(x, y) = 1 − exp(−(x² + y²) / (2w²));  minimum f = 0 at (0, 0)",
    value=_plateau_value,
    gradient=_plateau_grad,
    minima=lambda width: [[0.0, 0.0]],
    view=((-5.0, 5.0), (-5.0, 5.0)),
    start=(-4.0, 3.0),
    params=[
        Param("width", "float", 1.0, min=0.1, max=5.0,
              help="width w of the well; beyond ~3w the surface is flat (gradient ≈ 0)"),
    ],
    description=(
        "A flat region, then a drop into a well: at the default start the gradient is below "
        "1e-4, so SGD crawls while Adam and Rprop (which normalise the step) cross the plateau "
        "at full speed."
    ),
)

# Gaussian wells on a gentle bowl: (centre x, centre y, depth h, width s).
_WELLS = ((2.0, 1.0, 1.5, 1.0), (-2.0, -1.5, 1.0, 0.8), (-1.5, 2.5, 0.8, 0.6))
_WELLS_BOWL = 0.03


def _wells_value(x: FloatArray, y: FloatArray) -> FloatArray:
    f = _WELLS_BOWL * (x * x + y * y)
    for cx, cy, h, s in _WELLS:
        dx, dy = x - cx, y - cy
        f = f - h * np.exp(-(dx * dx + dy * dy) / (2.0 * s * s))
    return f


def _wells_grad(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    gx, gy = 2.0 * _WELLS_BOWL * x, 2.0 * _WELLS_BOWL * y
    for cx, cy, h, s in _WELLS:
        dx, dy = x - cx, y - cy
        k = h * np.exp(-(dx * dx + dy * dy) / (2.0 * s * s)) / (s * s)
        gx = gx + k * dx
        gy = gy + k * dy
    return gx, gy


def _local_minima(
    value: Fn2,
    gradient: Grad2,
    view: tuple[tuple[float, float], tuple[float, float]],
    grid: int = 25,
) -> list[list[float]]:
    """Every local minimum in ``view``: Newton's method from a ``grid × grid`` set of starts, all
    at once (the gradient broadcasts; Hessian by central differences of the analytic gradient),
    then the points with |∇f| < 1e-12 and a positive definite Hessian, deduplicated (1e-6) and
    sorted by f, lowest first."""
    h = 1e-6

    def hessian(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        gxp, gyp = gradient(x + h, y)
        gxm, gym = gradient(x - h, y)
        hxx, hyx = (gxp - gxm) / (2 * h), (gyp - gym) / (2 * h)
        gxp, gyp = gradient(x, y + h)
        gxm, gym = gradient(x, y - h)
        hxy, hyy = (gxp - gxm) / (2 * h), (gyp - gym) / (2 * h)
        return hxx, 0.5 * (hxy + hyx), hyy

    gx0, gy0 = np.meshgrid(np.linspace(*view[0], grid), np.linspace(*view[1], grid))
    x, y = gx0.ravel(), gy0.ravel()
    with np.errstate(all="ignore"):
        for _ in range(60):
            gx, gy = gradient(x, y)
            a, b, c = hessian(x, y)
            det = a * c - b * b
            x, y = x - (c * gx - b * gy) / det, y - (a * gy - b * gx) / det
        gx, gy = gradient(x, y)
        a, b, c = hessian(x, y)
        ok = (
            np.isfinite(x) & np.isfinite(y) & (np.hypot(gx, gy) < 1e-12)
            & (a > 0) & (a * c - b * b > 0)
        )
    found: list[tuple[float, float]] = []
    for px, py in zip(x[ok], y[ok], strict=True):
        if all(math.hypot(px - qx, py - qy) > 1e-6 for qx, qy in found):
            found.append((float(px), float(py)))
    found.sort(key=lambda q: float(value(*q)))
    return [[qx, qy] for qx, qy in found]


_WELLS_VIEW = ((-5.0, 5.0), (-5.0, 5.0))
_WELLS_MINIMA = _local_minima(_wells_value, _wells_grad, _WELLS_VIEW)

_register_surface(
    "wells",
    label="Several minima",
    formula=(
        "f(x, y) = 0.03·(x² + y²) − Σᵢ hᵢ·exp(−|(x, y) − cᵢ|² / (2sᵢ²));  three Gaussian wells "
        "(c, h, s) = ((2, 1), 1.5, 1), ((−2, −1.5), 1, 0.8), ((−1.5, 2.5), 0.8, 0.6)"
    ),
    value=_wells_value,
    gradient=_wells_grad,
    minima=lambda: [list(m) for m in _WELLS_MINIMA],
    view=_WELLS_VIEW,
    start=(-3.5, -3.5),
    description=(
        "Three wells of different depth (the minima are listed lowest first): which one you "
        "end in depends on the start, the step size and momentum."
    ),
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
    state: bool = False,
) -> dict[str, Any]:
    """Run a training optimizer on a 2-D test function from ``start``.

    ``optimizer`` is ``{"name": "sgd", "lr": 0.01, …}`` (missing name: sgd; hyperparameters as in
    ``core.optimizers``), ``schedule`` is ``{"name": …, "warmup_steps": …, …}`` (None: constant)
    built from the optimizer's ``lr`` with ``seed``. Update ``t`` uses ``lr[t]``; a stateful
    ``reduce_on_plateau`` observes f after every update. ``start`` None: the function's default.

    Returns ``{"path": (k+1, 2), "value": (k+1,), "lr": (k,), "steps_done": k, "diverged",
    "diverged_at", "minima", "distance": (k+1,) or None}`` with ``path[0] == start``;
    ``distance[t]`` is the Euclidean distance from ``path[t]`` to the nearest of ``minima``
    (None when the surface has no minimum, e.g. the saddle). If an iterate or its value becomes
    non-finite, the run stops: ``diverged`` is true, ``diverged_at`` is the index the first
    non-finite iterate would have had (== k + 1), and only the finite prefix is returned.

    ``state=True`` adds what the optimizer keeps, after every update (rows align with ``lr``):
    ``state: {key: (k, 2)}`` with torch's ``optimizer.state`` keys (``momentum_buffer``,
    ``sum``, ``square_avg``, ``grad_avg``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``,
    ``exp_inf``, ``acc_delta``, ``prev``, ``step_size``; NAdam's scalar ``mu_product`` is
    repeated in both columns; a buffer created later than update 0 has NaN rows before) and
    ``effective_lr: (k, 2)``, the per-coordinate step size of each update
    (``Optimizer.effective_lr``: e.g. Adam ``lr / (√v̂ + ε)``, which multiplies m̂).
    """
    surface = _surface(function, params)
    if start is None:
        start = TEST_FUNCTIONS.get(function).meta["start"]
    w = float_pair(start, "start", -COORD_MAX, COORD_MAX)
    steps = check(Param("steps", "int", 100, min=1, max=STEPS_MAX), steps)
    seed = seed_param(seed)
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
    states: list[dict[str, Any]] = []
    eff = np.empty((steps, 2)) if state else np.empty((0, 2))
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
                before = opt.torch_state() if state else {}
                opt.step(w, grad, lr)
                f = float(surface.value(w[0], w[1]))
                if not (math.isfinite(f) and math.isfinite(w[0]) and math.isfinite(w[1])):
                    diverged_at = t + 1
                    break
                if state:
                    states.append(opt.torch_state())
                    eff[t] = opt.effective_lr(lr, before)
                rates[t] = lr
                path[t + 1] = w
                values[t + 1] = f
                k = t + 1
                if sched.stateful:
                    sched.observe(f)  # type: ignore[attr-defined]
    minima = surface.minima()
    out_path = path[: k + 1].copy() if diverged_at != 0 else path[:0].copy()
    out: dict[str, Any] = {
        "path": out_path,
        "value": values[: k + 1].copy() if diverged_at != 0 else values[:0].copy(),
        "lr": rates[:k].copy(),
        "steps_done": k,
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "minima": minima,
        "distance": nearest_distance(out_path, minima) if minima else None,
    }
    if state:
        out["state"] = _stack_states(states, k)
        out["effective_lr"] = eff[:k].copy()
    return out


def nearest_distance(points: FloatArray, minima: Sequence[Sequence[float]]) -> FloatArray:
    """Distance ``(n,)`` from each of ``points (n, 2)`` to the nearest of ``minima (m, 2)``."""
    m = np.asarray(minima, dtype=np.float64).reshape(-1, 2)
    d = points[:, None, :] - m[None, :, :]
    return np.sqrt(np.min(np.sum(d * d, axis=2), axis=1))


def _stack_states(states: list[dict[str, Any]], k: int) -> dict[str, FloatArray]:
    """Per-step ``torch_state()`` dicts -> ``{key: (k, 2)}``; scalars fill both columns and
    steps before a buffer existed are NaN."""
    keys: list[str] = []
    for st in states:
        keys.extend(key for key in st if key not in keys)
    out: dict[str, FloatArray] = {}
    for key in keys:
        arr = np.full((k, 2), np.nan)
        for t, st in enumerate(states):
            if key in st:
                arr[t] = st[key]
        out[key] = arr
    return out


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
    resolution = check(Param("resolution", "int", 80, min=2, max=RESOLUTION_MAX), resolution)
    x = np.linspace(xr[0], xr[1], resolution)
    y = np.linspace(yr[0], yr[1], resolution)
    with np.errstate(all="ignore"):
        z = surface.value(x[None, :], y[:, None])
    return {"x": x, "y": y, "z": z}


def _range(value: Any, field_name: str) -> FloatArray:
    r = float_pair(value, field_name, -COORD_MAX, COORD_MAX)
    if not r[0] < r[1]:
        raise ConfigError(field_name, f"must be [lo, hi] with lo < hi, got {r.tolist()}")
    return r
