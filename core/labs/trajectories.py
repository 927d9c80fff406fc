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

__all__ = ["TEST_FUNCTIONS", "Surface", "contour", "trajectory"]

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
