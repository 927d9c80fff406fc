"""Learning-rate schedules: pure functions ``lr(t)`` of the 0-based global step ``t``.

``lr[t]`` is the rate used for update ``t``.

* PyTorch-equivalent schedules (``meta origin="torch"``) equal ``scheduler.get_last_lr()[0]``
  after ``t`` calls of ``scheduler.step()`` on an optimizer created with ``lr=base_lr``. Torch
  computes several of them recursively (chainable form); the closed forms here agree with the
  recursion to float rounding (checked against torch 2.13 in the tests), including
  ``CosineAnnealingLR`` past ``T_max``, where torch keeps following the cosine (the rate climbs
  back to ``base_lr`` at ``2·T_max``: a period of ``2·T_max``).
* TensorFlow-equivalent schedules (``origin="tensorflow"``) implement the formulas documented for
  ``tf.keras.optimizers.schedules`` / ``tf.compat.v1.train`` with ``step == t``, in float64.
* ``reduce_on_plateau`` is the only stateful schedule (torch ``ReduceLROnPlateau``).

Values are computed in aligned blocks of ``BLOCK`` steps: :meth:`Schedule.lr_at` reads a cached
block and :meth:`Schedule.series` concatenates the same blocks, so both agree bit for bit and
``lr_at`` is O(1) amortised inside the training loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.registry import Param, Registry, join_field

__all__ = [
    "BLOCK",
    "SCHEDULES",
    "ReduceLROnPlateau",
    "Schedule",
    "WarmupSchedule",
    "make_schedule",
    "with_warmup",
]

BLOCK = 1024  # steps per cached block
MAX_WARMUP = 100_000

SCHEDULES: Registry[Schedule] = Registry("schedule")


class Schedule:
    """A stateless schedule. Subclasses implement :meth:`_compute` on a block of steps."""

    stateful: bool = False

    def __init__(self, name: str, base_lr: float, hp: dict[str, Any]) -> None:
        self.name = name
        self.base_lr = float(base_lr)
        self.hp = dict(hp)
        self._block_index = -1
        self._block: list[float] = []

    def _compute(self, t: np.ndarray) -> np.ndarray:
        """Rates for the int64 steps ``t (BLOCK,)``, always ``arange(k·BLOCK, (k+1)·BLOCK)``."""
        raise NotImplementedError

    def _block_values(self, k: int) -> np.ndarray:
        t = np.arange(k * BLOCK, (k + 1) * BLOCK, dtype=np.int64)
        return np.asarray(self._compute(t), dtype=np.float64)

    def lr_at(self, t: int) -> float:
        """The learning rate for update ``t`` (``t >= 0``)."""
        if t < 0:
            raise ValueError(f"step must be >= 0, got {t}")
        k, i = divmod(int(t), BLOCK)
        if k != self._block_index:
            self._block = self._block_values(k).tolist()
            self._block_index = k
        return self._block[i]

    def series(self, n: int) -> np.ndarray:
        """``(n,)`` rates for steps ``0 … n-1``; equal to ``[lr_at(t) for t in range(n)]``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self.values_range(0, n)

    def values_range(self, start: int, stop: int) -> np.ndarray:
        """``(stop − start,)`` rates for steps ``start … stop-1`` (same values as ``lr_at``)."""
        if start < 0 or stop < start:
            raise ValueError(f"need 0 <= start <= stop, got {start}, {stop}")
        if stop == start:
            return np.zeros(0)
        k0, k1 = start // BLOCK, (stop - 1) // BLOCK
        blocks = [self._block_values(k) for k in range(k0, k1 + 1)]
        out = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return out[start - k0 * BLOCK : stop - k0 * BLOCK].copy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, base_lr={self.base_lr}, {self.hp})"


class _FormulaSchedule(Schedule):
    """A schedule given by a vectorised function ``fn(t: float64 array) -> rates``."""

    def __init__(
        self,
        name: str,
        base_lr: float,
        hp: dict[str, Any],
        fn: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        super().__init__(name, base_lr, hp)
        self._fn = fn

    def _compute(self, t: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._fn(t), t.shape)


class WarmupSchedule(Schedule):
    """Linear warm-up in front of another schedule.

    For ``t < W``: ``lr = inner.lr_at(0) · (t + 1) / W`` (reaches ``inner.lr_at(0)`` at
    ``t = W − 1``); for ``t >= W``: ``inner.lr_at(t − W)`` (the inner schedule starts after the
    warm-up). A stateful inner schedule (reduce_on_plateau) is forwarded ``observe`` calls.
    """

    def __init__(self, inner: Schedule, warmup_steps: int) -> None:
        super().__init__(inner.name, inner.base_lr, inner.hp)
        self.inner = inner
        self.warmup_steps = int(warmup_steps)
        self.stateful = inner.stateful

    def _compute(self, t: np.ndarray) -> np.ndarray:
        w = self.warmup_steps
        lr0 = self.inner.lr_at(0)
        shifted = t - w
        lo, hi = max(int(shifted[0]), 0), int(shifted[-1])
        inner = self.inner.values_range(lo, hi + 1) if hi >= 0 else np.zeros(1)
        out = inner[np.maximum(shifted - lo, 0)]
        ramp = lr0 * (t + 1).astype(np.float64) / w
        return np.where(t < w, ramp, out)

    def lr_at(self, t: int) -> float:
        if self.stateful:  # no caching: the inner rate changes with observe()
            if t < 0:
                raise ValueError(f"step must be >= 0, got {t}")
            w = self.warmup_steps
            return self.inner.lr_at(0) * float(t + 1) / w if t < w else self.inner.lr_at(t - w)
        return super().lr_at(t)

    def observe(self, metric: float) -> None:
        observe = getattr(self.inner, "observe", None)
        if observe is None:
            raise TypeError(f"schedule {self.name!r} does not observe metrics")
        observe(metric)

    def state_dict(self) -> dict[str, Any]:
        sd = getattr(self.inner, "state_dict", None)
        return sd() if sd is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load = getattr(self.inner, "load_state_dict", None)
        if load is not None:
            load(state)


def with_warmup(schedule: Schedule, warmup_steps: int) -> Schedule:
    """Prefix ``schedule`` with a linear warm-up of ``warmup_steps`` steps (0: unchanged)."""
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if warmup_steps == 0:
        return schedule
    return WarmupSchedule(schedule, warmup_steps)


# ---------------------------------------------------------------------------------------------
# helpers for registration


def _register(
    name: str,
    *,
    label: str,
    formula: str,
    params: list[Param],
    origin: str,
    description: str = "",
    check: Callable[[dict[str, Any]], None] | None = None,
    **meta: Any,
) -> Callable[[Callable[..., Callable[[np.ndarray], np.ndarray]]], Any]:
    """Register a formula schedule: the decorated ``rates(base_lr, **hp)`` returns ``fn(t)``."""

    def decorate(rates: Callable[..., Callable[[np.ndarray], np.ndarray]]) -> Any:
        def factory(base_lr: float, seed: int = 0, **hp: Any) -> Schedule:
            return _FormulaSchedule(name, base_lr, hp, rates(float(base_lr), **hp))

        SCHEDULES.register(
            name, label=label, formula=formula, params=params, description=description,
            check=check, origin=origin, **meta,
        )(factory)
        return rates

    return decorate


def _gamma(default: float, help: str = "multiplicative decay factor γ") -> Param:
    return Param("gamma", "float", default, min=0.0, max=1.0, exclusive_min=True, help=help)


def _steps(name: str, default: int, help: str, lo: int = 1) -> Param:
    return Param(name, "int", default, min=lo, max=10_000_000, help=help)


def _frac(name: str, default: float, help: str, lo: float = 0.0, hi: float = 1.0) -> Param:
    return Param(name, "float", default, min=lo, max=hi, help=help)


_ETA_MIN = Param("eta_min", "float", 0.0, min=0.0, max=10.0, help="minimum learning rate η_min")


# ---------------------------------------------------------------------------------------------
# PyTorch-equivalent schedules


@_register(
    "constant",
    label="Constant",
    formula="lr(t) = lr₀",
    params=[],
    origin="gradplay",
    description="No schedule: the base rate at every step.",
)
def _constant(base_lr: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.full(t.shape, base_lr)


@_register(
    "step",
    label="Step decay",
    formula="lr(t) = lr₀ · γ^⌊t / step_size⌋",
    params=[_steps("step_size", 30, "steps between decays"), _gamma(0.1)],
    origin="torch",
    description="Multiply the rate by γ every step_size steps.",
    torch="torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)",
)
def _step(base_lr: float, step_size: int, gamma: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: base_lr * gamma ** (t // step_size).astype(np.float64)


def _check_milestones(hp: dict[str, Any]) -> None:
    if not hp["milestones"]:
        raise ConfigError("milestones", "must list at least one step (positive integers)")


@_register(
    "multistep",
    label="Multi-step decay",
    formula=(
        "lr(t) = lr₀ · γ^(number of milestones ≤ t)\n"
        "(a milestone listed twice counts twice, as in torch)"
    ),
    params=[
        Param("milestones", "int_list", [30, 80], min=1, max=10_000_000, max_len=32,
              help="steps at which the rate is multiplied by γ (positive integers)"),
        _gamma(0.1),
    ],
    origin="torch",
    check=_check_milestones,
    description="Multiply the rate by γ at each milestone step.",
    torch="torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1)",
)
def _multistep(
    base_lr: float, milestones: list[int], gamma: float
) -> Callable[[np.ndarray], np.ndarray]:
    ms = np.sort(np.asarray(milestones, dtype=np.int64))
    return lambda t: base_lr * gamma ** np.searchsorted(ms, t, side="right").astype(np.float64)


@_register(
    "exponential",
    label="Exponential decay",
    formula="lr(t) = lr₀ · γᵗ",
    params=[_gamma(0.95)],
    origin="torch",
    description="Multiply the rate by γ every step.",
    torch="torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)",
)
def _exponential(base_lr: float, gamma: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: base_lr * gamma ** t.astype(np.float64)


@_register(
    "cosine_annealing",
    label="Cosine annealing",
    formula=(
        "lr(t) = η_min + ½(lr₀ − η_min)(1 + cos(π t / T_max))\n"
        "(past T_max the cosine continues, as torch's recursion does: period 2·T_max)"
    ),
    params=[_steps("T_max", 100, "half period: steps from lr₀ down to η_min"), _ETA_MIN],
    origin="torch",
    description="Cosine curve from the base rate down to η_min over T_max steps.",
    torch="torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100, eta_min=0)",
)
def _cosine_annealing(
    base_lr: float, T_max: int, eta_min: float
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        return eta_min + (base_lr - eta_min) * (1.0 + np.cos(np.pi * t / T_max)) / 2.0

    return fn


@_register(
    "cosine_annealing_warm_restarts",
    label="Cosine annealing with warm restarts (SGDR)",
    formula=(
        "lr(t) = η_min + ½(lr₀ − η_min)(1 + cos(π T_cur / T_i))\n"
        "T_cur: steps since the last restart; T_i = T_0 · T_multⁱ in cycle i"
    ),
    params=[
        _steps("T_0", 50, "length of the first cycle"),
        Param("T_mult", "int", 1, min=1, max=10, help="factor by which each cycle grows"),
        _ETA_MIN,
    ],
    origin="torch",
    description="Cosine annealing restarted at the base rate after each cycle.",
    torch=(
        "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts("
        "optimizer, T_0=50, T_mult=1, eta_min=0)"
    ),
)
def _cosine_warm_restarts(
    base_lr: float, T_0: int, T_mult: int, eta_min: float
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        if T_mult == 1:
            t_cur, t_i = t % T_0, np.full(t.shape, T_0, dtype=np.int64)
        else:
            # Exact integer cycle starts: T_0·(T_multⁱ − 1)/(T_mult − 1).
            hi = int(t[-1])
            starts, lengths = [0], [T_0]
            while starts[-1] + lengths[-1] <= hi:
                starts.append(starts[-1] + lengths[-1])
                lengths.append(lengths[-1] * T_mult)
            idx = np.searchsorted(np.asarray(starts), t, side="right") - 1
            t_cur = t - np.asarray(starts, dtype=np.int64)[idx]
            t_i = np.asarray(lengths, dtype=np.int64)[idx]
        return eta_min + (base_lr - eta_min) * (1.0 + np.cos(np.pi * t_cur / t_i)) / 2.0

    return fn


@_register(
    "polynomial",
    label="Polynomial decay",
    formula="lr(t) = lr₀ · (1 − min(t, total_iters) / total_iters)^power",
    params=[
        _steps("total_iters", 5, "steps until the rate reaches 0"),
        Param("power", "float", 1.0, min=0.0, max=10.0, exclusive_min=True,
              help="power of the polynomial"),
    ],
    origin="torch",
    description="Polynomial decay to 0 over total_iters steps.",
    torch="torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=5, power=1.0)",
)
def _polynomial(
    base_lr: float, total_iters: int, power: float
) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: base_lr * (1.0 - np.minimum(t, total_iters) / total_iters) ** power


@_register(
    "linear",
    label="Linear ramp",
    formula=(
        "lr(t) = lr₀ · (s + (e − s) · min(t, total_iters) / total_iters)\n"
        "s = start_factor, e = end_factor"
    ),
    params=[
        Param("start_factor", "float", 1.0 / 3.0, min=0.0, max=1.0, exclusive_min=True,
              help="multiplier of lr₀ at step 0"),
        _frac("end_factor", 1.0, "multiplier of lr₀ from step total_iters on"),
        _steps("total_iters", 5, "steps of the linear ramp"),
    ],
    origin="torch",
    description="Linear change of the multiplier from start_factor to end_factor.",
    torch=(
        "torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1/3, end_factor=1.0, "
        "total_iters=5)"
    ),
)
def _linear(
    base_lr: float, start_factor: float, end_factor: float, total_iters: int
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        frac = np.minimum(t, total_iters) / total_iters
        return base_lr * (start_factor + (end_factor - start_factor) * frac)

    return fn


def _one_cycle_phases(hp: dict[str, Any]) -> list[tuple[float, str, str]]:
    """torch's phases as (end_step, start_lr key, end_lr key)."""
    n, p = hp["total_steps"], hp["pct_start"]
    if hp["three_phase"]:
        return [
            (float(p * n) - 1, "initial", "max"),
            (float(2 * p * n) - 2, "max", "initial"),
            (n - 1, "initial", "min"),
        ]
    return [(float(p * n) - 1, "initial", "max"), (n - 1, "max", "min")]


def _check_one_cycle(hp: dict[str, Any]) -> None:
    ends = [e for e, _, _ in _one_cycle_phases(hp)]
    if not (ends[0] > 0 and all(a < b for a, b in pairwise(ends))):
        need = (
            "1 < pct_start·total_steps < (total_steps + 1)/2"
            if hp["three_phase"]
            else "1 < pct_start·total_steps < total_steps"
        )
        raise ConfigError("pct_start", f"every phase needs at least one step: need {need}")


@_register(
    "one_cycle",
    label="One-cycle",
    formula=(
        "lr rises from max_lr/div_factor to max_lr over pct_start·total_steps steps, then\n"
        "anneals (cos or linear) to max_lr/(div_factor·final_div_factor) at t = total_steps−1;\n"
        "three_phase: up, back down to the initial rate, then down to the minimum.\n"
        "cos: a + (b − a)·(1 − cos(π p))/2 between phase rates a → b, p ∈ [0, 1].\n"
        "Ignores the base rate (as torch). Holds the final rate for t ≥ total_steps (torch "
        "raises)."
    ),
    params=[
        Param("max_lr", "float", 0.1, min=0.0, max=10.0, exclusive_min=True,
              help="peak learning rate"),
        _steps("total_steps", 1000, "length of the cycle", lo=2),
        Param("pct_start", "float", 0.3, min=0.0, max=1.0, exclusive_min=True,
              exclusive_max=True, help="fraction of the cycle spent increasing the rate"),
        Param("anneal_strategy", "choice", "cos", choices=("cos", "linear"),
              help="annealing curve"),
        Param("div_factor", "float", 25.0, min=1.0, max=1e6,
              help="initial rate = max_lr / div_factor"),
        Param("final_div_factor", "float", 1e4, min=1.0, max=1e9,
              help="final rate = initial rate / final_div_factor"),
        Param("three_phase", "bool", False, help="use the 3-phase variant of the paper"),
    ],
    origin="torch",
    check=_check_one_cycle,
    description="Warm up to max_lr, then anneal far below the starting rate (1cycle policy).",
    torch=(
        "torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1000, "
        "pct_start=0.3, anneal_strategy='cos', div_factor=25.0, final_div_factor=1e4, "
        "three_phase=False)"
    ),
)
def _one_cycle(base_lr: float, **hp: Any) -> Callable[[np.ndarray], np.ndarray]:
    initial = hp["max_lr"] / hp["div_factor"]
    rates = {"initial": initial, "max": hp["max_lr"], "min": initial / hp["final_div_factor"]}
    phases = _one_cycle_phases(hp)
    last = hp["total_steps"] - 1
    cosine = hp["anneal_strategy"] == "cos"

    def fn(t: np.ndarray) -> np.ndarray:
        step = np.minimum(t, last).astype(np.float64)
        out = np.empty(t.shape)
        start = 0.0
        done = np.zeros(t.shape, dtype=bool)
        for i, (end, a_key, b_key) in enumerate(phases):
            sel = ~done if i == len(phases) - 1 else (~done & (step <= end))
            pct = (step[sel] - start) / (end - start)
            a, b = rates[a_key], rates[b_key]
            if cosine:  # torch: end + (start − end)/2 · (cos(π·pct) + 1)
                out[sel] = b + (a - b) / 2.0 * (np.cos(np.pi * pct) + 1)
            else:
                out[sel] = (b - a) * pct + a
            done |= sel
            start = end
        return out

    return fn


# ---------------------------------------------------------------------------------------------
# TensorFlow-equivalent schedules

_TF_KERAS = "tf.keras.optimizers.schedules"
_TF_V1 = "tf.compat.v1.train"


def _decay_steps(default: int, name: str = "decay_steps") -> Param:
    return _steps(name, default, "steps per decay period")


_STAIRCASE = Param("staircase", "bool", False, help="decay in discrete intervals: ⌊t/decay_steps⌋")


def _ratio(t: np.ndarray, decay_steps: int, staircase: bool) -> np.ndarray:
    p = t / decay_steps
    return np.floor(p) if staircase else p


@_register(
    "exponential_decay",
    label="Exponential decay (TF)",
    formula="lr(t) = lr₀ · decay_rate^(t / decay_steps)   (staircase: ⌊t / decay_steps⌋)",
    params=[
        _decay_steps(100),
        Param("decay_rate", "float", 0.96, min=0.0, max=1.0, exclusive_min=True,
              help="factor per decay_steps"),
        _STAIRCASE,
    ],
    origin="tensorflow",
    description="TensorFlow's ExponentialDecay.",
    tf=f"{_TF_KERAS}.ExponentialDecay(initial_learning_rate, decay_steps=100, "
    "decay_rate=0.96, staircase=False)",
)
def _tf_exponential(
    base_lr: float, decay_steps: int, decay_rate: float, staircase: bool
) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: base_lr * decay_rate ** _ratio(t, decay_steps, staircase)


@_register(
    "natural_exp_decay",
    label="Natural exponential decay (TF)",
    formula=(
        "lr(t) = lr₀ · exp(−decay_rate · t / decay_steps)   (staircase: ⌊t / decay_steps⌋)\n"
        "(TensorFlow's form; the notes' lr·e^(−rate/step) is written per decay_steps here)"
    ),
    params=[
        _decay_steps(100),
        Param("decay_rate", "float", 0.5, min=0.0, max=100.0, help="decay rate k"),
        _STAIRCASE,
    ],
    origin="tensorflow",
    description="TensorFlow's natural_exp_decay.",
    tf=f"{_TF_V1}.natural_exp_decay(learning_rate, global_step, decay_steps=100, "
    "decay_rate=0.5, staircase=False)",
)
def _tf_natural_exp(
    base_lr: float, decay_steps: int, decay_rate: float, staircase: bool
) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: base_lr * np.exp(-decay_rate * _ratio(t, decay_steps, staircase))


@_register(
    "inverse_time_decay",
    label="Inverse time decay (TF)",
    formula="lr(t) = lr₀ / (1 + decay_rate · t / decay_steps)   (staircase: ⌊t / decay_steps⌋)",
    params=[
        _decay_steps(100),
        Param("decay_rate", "float", 0.5, min=0.0, max=100.0, help="decay rate k"),
        _STAIRCASE,
    ],
    origin="tensorflow",
    description="TensorFlow's InverseTimeDecay.",
    tf=f"{_TF_KERAS}.InverseTimeDecay(initial_learning_rate, decay_steps=100, "
    "decay_rate=0.5, staircase=False)",
)
def _tf_inverse_time(
    base_lr: float, decay_steps: int, decay_rate: float, staircase: bool
) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: base_lr / (1.0 + decay_rate * _ratio(t, decay_steps, staircase))


@_register(
    "polynomial_decay",
    label="Polynomial decay (TF)",
    formula=(
        "D = decay_steps · max(1, ⌈t / decay_steps⌉) if cycle else D = decay_steps, "
        "s = min(t, D)\n"
        "lr(t) = (lr₀ − end_learning_rate) · (1 − s / D)^power + end_learning_rate"
    ),
    params=[
        _decay_steps(1000),
        Param("end_learning_rate", "float", 0.0001, min=0.0, max=10.0,
              help="rate reached after decay_steps"),
        Param("power", "float", 1.0, min=0.0, max=10.0, exclusive_min=True,
              help="power of the polynomial"),
        Param("cycle", "bool", False, help="restart the decay every decay_steps"),
    ],
    origin="tensorflow",
    description="TensorFlow's PolynomialDecay.",
    tf=f"{_TF_KERAS}.PolynomialDecay(initial_learning_rate, decay_steps=1000, "
    "end_learning_rate=0.0001, power=1.0, cycle=False)",
)
def _tf_polynomial(
    base_lr: float, decay_steps: int, end_learning_rate: float, power: float, cycle: bool
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        tf_ = t.astype(np.float64)
        if cycle:  # TF: multiplier 1 at step 0, else ⌈t / decay_steps⌉
            d = decay_steps * np.where(t == 0, 1.0, np.ceil(tf_ / decay_steps))
        else:
            d = np.full(t.shape, float(decay_steps))
            tf_ = np.minimum(tf_, d)
        return (base_lr - end_learning_rate) * (1.0 - tf_ / d) ** power + end_learning_rate

    return fn


_ALPHA = Param("alpha", "float", 0.0, min=0.0, max=1.0,
               help="minimum rate as a fraction of lr₀")


@_register(
    "cosine_decay",
    label="Cosine decay (TF)",
    formula=(
        "s = min(t, decay_steps)\n"
        "lr(t) = lr₀ · ((1 − α) · ½(1 + cos(π s / decay_steps)) + α)"
    ),
    params=[_decay_steps(1000), _ALPHA],
    origin="tensorflow",
    description="TensorFlow's CosineDecay (without its built-in warm-up).",
    tf=f"{_TF_KERAS}.CosineDecay(initial_learning_rate, decay_steps=1000, alpha=0.0)",
)
def _tf_cosine(
    base_lr: float, decay_steps: int, alpha: float
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        s = np.minimum(t, decay_steps)
        return base_lr * ((1.0 - alpha) * (0.5 * (1.0 + np.cos(np.pi * s / decay_steps))) + alpha)

    return fn


@_register(
    "cosine_decay_restarts",
    label="Cosine decay with restarts (TF)",
    formula=(
        "f = t / first_decay_steps; restart i and fraction r of period i (lengths "
        "first_decay_steps·t_mulⁱ):\n"
        "  t_mul = 1: i = ⌊f⌋, r = f − i;  else i = ⌊log(1 − f(1 − t_mul)) / log t_mul⌋,\n"
        "  r = (f − (1 − t_mulⁱ)/(1 − t_mul)) / t_mulⁱ\n"
        "lr(t) = lr₀ · ((1 − α) · ½ m_mulⁱ (1 + cos(π r)) + α)"
    ),
    params=[
        _decay_steps(200, "first_decay_steps"),
        Param("t_mul", "float", 2.0, min=1.0, max=10.0, help="growth factor of period length"),
        Param("m_mul", "float", 1.0, min=0.0, max=1.0,
              help="factor on the restart rate per period"),
        _ALPHA,
    ],
    origin="tensorflow",
    description="TensorFlow's CosineDecayRestarts (SGDR).",
    tf=f"{_TF_KERAS}.CosineDecayRestarts(initial_learning_rate, first_decay_steps=200, "
    "t_mul=2.0, m_mul=1.0, alpha=0.0)",
)
def _tf_cosine_restarts(
    base_lr: float, first_decay_steps: int, t_mul: float, m_mul: float, alpha: float
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        f = t / first_decay_steps
        if t_mul == 1.0:
            i = np.floor(f)
            r = f - i
        else:
            i = np.floor(np.log(1.0 - f * (1.0 - t_mul)) / np.log(t_mul))
            # The log ratio can land a hair off an integer right at a restart; use the period
            # whose start (1 − t_mulⁱ)/(1 − t_mul) is the last one <= f.
            i = np.where((1.0 - t_mul ** (i + 1)) / (1.0 - t_mul) <= f, i + 1, i)
            i = np.where((1.0 - t_mul**i) / (1.0 - t_mul) > f, i - 1, i)
            sum_r = (1.0 - t_mul**i) / (1.0 - t_mul)
            r = (f - sum_r) / t_mul**i
        cos_decayed = 0.5 * m_mul**i * (1.0 + np.cos(np.pi * r))
        return base_lr * ((1.0 - alpha) * cos_decayed + alpha)

    return fn


_NUM_PERIODS = Param("num_periods", "float", 0.5, min=0.0, max=100.0,
                     help="number of cosine periods over decay_steps")
_LC_ALPHA = Param("alpha", "float", 0.0, min=0.0, max=1.0, help="offset α of the linear part")
_BETA = Param("beta", "float", 0.001, min=0.0, max=1.0, help="floor β added to the multiplier")


def _linear_cosine_parts(
    t: np.ndarray, decay_steps: int, num_periods: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.minimum(t, decay_steps).astype(np.float64)
    linear = (decay_steps - s) / decay_steps
    cosine = 0.5 * (1.0 + np.cos(np.pi * 2.0 * num_periods * s / decay_steps))
    return s, linear, cosine


@_register(
    "linear_cosine_decay",
    label="Linear cosine decay (TF)",
    formula=(
        "s = min(t, decay_steps);  linear = (decay_steps − s) / decay_steps\n"
        "cosine = ½(1 + cos(2π · num_periods · s / decay_steps))\n"
        "lr(t) = lr₀ · ((α + linear) · cosine + β)"
    ),
    params=[_decay_steps(1000), _NUM_PERIODS, _LC_ALPHA, _BETA],
    origin="tensorflow",
    description="TensorFlow's linear_cosine_decay.",
    tf=f"{_TF_V1}.linear_cosine_decay(learning_rate, global_step, decay_steps=1000, "
    "num_periods=0.5, alpha=0.0, beta=0.001)",
)
def _tf_linear_cosine(
    base_lr: float, decay_steps: int, num_periods: float, alpha: float, beta: float
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        _, linear, cosine = _linear_cosine_parts(t, decay_steps, num_periods)
        return base_lr * ((alpha + linear) * cosine + beta)

    return fn


class _NoisyLinearCosine(Schedule):
    """Noise ε_t comes from a generator seeded by (seed, block of t): a pure function of t."""

    def __init__(self, base_lr: float, seed: int, hp: dict[str, Any]) -> None:
        super().__init__("noisy_linear_cosine_decay", base_lr, hp)
        self.seed = int(seed)

    def noise(self, k: int) -> np.ndarray:
        """Standard-normal draws for block ``k`` (steps k·BLOCK … (k+1)·BLOCK − 1)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, k, 0x6E6F6973]))
        return rng.standard_normal(BLOCK)

    def _compute(self, t: np.ndarray) -> np.ndarray:
        hp = self.hp
        s, linear, cosine = _linear_cosine_parts(t, hp["decay_steps"], hp["num_periods"])
        std = np.sqrt(hp["initial_variance"] / (1.0 + s) ** hp["variance_decay"])
        eps = std * self.noise(int(t[0]) // BLOCK)
        lr = self.base_lr * ((hp["alpha"] + linear + eps) * cosine + hp["beta"])
        return np.maximum(lr, 0.0)


def _noisy_factory(base_lr: float, seed: int = 0, **hp: Any) -> Schedule:
    return _NoisyLinearCosine(base_lr, seed, hp)


SCHEDULES.register(
    "noisy_linear_cosine_decay",
    label="Noisy linear cosine decay (TF)",
    formula=(
        "s = min(t, decay_steps);  linear = (decay_steps − s) / decay_steps\n"
        "cosine = ½(1 + cos(2π · num_periods · s / decay_steps))\n"
        "ε_t ~ N(0, initial_variance / (1 + s)^variance_decay), drawn from (seed, t)\n"
        "lr(t) = lr₀ · ((α + linear + ε_t) · cosine + β), clipped at 0 (TF does not clip)"
    ),
    params=[
        _decay_steps(1000),
        Param("initial_variance", "float", 1.0, min=0.0, max=100.0,
              help="initial variance of the noise"),
        Param("variance_decay", "float", 0.55, min=0.0, max=10.0,
              help="decay exponent of the noise variance"),
        _NUM_PERIODS,
        _LC_ALPHA,
        _BETA,
    ],
    description="TensorFlow's noisy_linear_cosine_decay; the noise is reproducible per seed.",
    origin="tensorflow",
    tf=f"{_TF_V1}.noisy_linear_cosine_decay(learning_rate, global_step, decay_steps=1000, "
    "initial_variance=1.0, variance_decay=0.55, num_periods=0.5, alpha=0.0, beta=0.001)",
)(_noisy_factory)


def _check_piecewise(hp: dict[str, Any]) -> None:
    b, v = hp["boundaries"], hp["values"]
    if any(x >= y for x, y in pairwise(b)):
        raise ConfigError("boundaries", f"must be strictly increasing, got {b}")
    if len(v) != len(b) + 1:
        raise ConfigError(
            "values", f"needs len(boundaries) + 1 = {len(b) + 1} rates, got {len(v)}"
        )


@_register(
    "piecewise_constant",
    label="Piecewise constant (TF)",
    formula=(
        "lr(t) = values[0] for t ≤ boundaries[0];  values[i] for boundaries[i−1] < t ≤ "
        "boundaries[i];\n"
        "values[−1] for t > boundaries[−1]   (absolute rates: the base rate is ignored)"
    ),
    params=[
        Param("boundaries", "int_list", [100, 200], min=0, max=10_000_000, max_len=32,
              help="strictly increasing steps"),
        Param("values", "float_list", [0.1, 0.01, 0.001], min=0.0, max=10.0, max_len=33,
              help="rates, one more than boundaries"),
    ],
    origin="tensorflow",
    check=_check_piecewise,
    description="TensorFlow's PiecewiseConstantDecay.",
    tf=f"{_TF_KERAS}.PiecewiseConstantDecay(boundaries=[100, 200], values=[0.1, 0.01, 0.001])",
)
def _tf_piecewise(
    base_lr: float, boundaries: list[int], values: list[float]
) -> Callable[[np.ndarray], np.ndarray]:
    b = np.asarray(boundaries, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    return lambda t: v[np.searchsorted(b, t, side="left")]


# ---------------------------------------------------------------------------------------------
# ReduceLROnPlateau


class ReduceLROnPlateau(Schedule):
    """torch ``ReduceLROnPlateau``: cut the rate by ``factor`` when a metric stops improving.

    Stateful: :meth:`observe` is one torch ``scheduler.step(metric)``; :meth:`lr_at` returns
    the current rate whatever ``t`` is, and :meth:`series` a constant series at the current
    rate (the future cannot be previewed).
    """

    stateful = True

    def __init__(self, base_lr: float, hp: dict[str, Any]) -> None:
        super().__init__("reduce_on_plateau", base_lr, hp)
        self.lr = self.base_lr
        self.best = math.inf if hp["mode"] == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _is_better(self, a: float, best: float) -> bool:
        hp = self.hp
        if hp["mode"] == "min":
            if hp["threshold_mode"] == "rel":
                return a < best * (1.0 - hp["threshold"])
            return a < best - hp["threshold"]
        if hp["threshold_mode"] == "rel":
            return a > best * (hp["threshold"] + 1.0)
        return a > best + hp["threshold"]

    def observe(self, metric: float) -> None:
        current = float(metric)
        hp = self.hp
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown are ignored
        if self.num_bad_epochs > hp["patience"]:
            new_lr = max(self.lr * hp["factor"], hp["min_lr"])
            if self.lr - new_lr > hp["eps"]:
                self.lr = new_lr
            self.cooldown_counter = hp["cooldown"]
            self.num_bad_epochs = 0

    def lr_at(self, t: int) -> float:
        return self.lr

    def series(self, n: int) -> np.ndarray:
        return np.full(n, self.lr)

    def values_range(self, start: int, stop: int) -> np.ndarray:
        return np.full(stop - start, self.lr)

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "best": self.best,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "last_epoch": self.last_epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr = float(state["lr"])
        self.best = float(state["best"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.last_epoch = int(state["last_epoch"])


def _plateau_factory(base_lr: float, seed: int = 0, **hp: Any) -> Schedule:
    return ReduceLROnPlateau(base_lr, hp)


SCHEDULES.register(
    "reduce_on_plateau",
    label="Reduce on plateau",
    formula=(
        "after more than `patience` observations without improvement (min, rel: "
        "m < best·(1 − threshold)):\n"
        "lr ← max(lr · factor, min_lr)   (skipped if the change ≤ eps), then `cooldown` "
        "observations ignored"
    ),
    params=[
        Param("mode", "choice", "min", choices=("min", "max"),
              help="min: the metric should fall (loss); max: rise (accuracy)"),
        Param("factor", "float", 0.1, min=0.0, max=1.0, exclusive_max=True,
              help="rate multiplier on a plateau"),
        Param("patience", "int", 10, min=0, max=100_000,
              help="observations without improvement tolerated"),
        Param("threshold", "float", 1e-4, min=0.0, max=1.0,
              help="minimum change that counts as an improvement"),
        Param("threshold_mode", "choice", "rel", choices=("rel", "abs"),
              help="rel: relative to best; abs: absolute"),
        Param("cooldown", "int", 0, min=0, max=100_000,
              help="observations to wait after a cut"),
        Param("min_lr", "float", 0.0, min=0.0, max=10.0, help="lower bound on the rate"),
        Param("eps", "float", 1e-8, min=0.0, max=1.0,
              help="cuts smaller than eps are skipped"),
    ],
    origin="torch",
    description="Stateful: reduces the rate when the observed metric plateaus.",
    torch=(
        "torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.1, "
        "patience=10, threshold=1e-4, threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8)"
    ),
)(_plateau_factory)


# ---------------------------------------------------------------------------------------------


def make_schedule(
    name: str,
    values: dict[str, Any] | None,
    base_lr: float,
    seed: int = 0,
    warmup_steps: int = 0,
    prefix: str = "schedule",
) -> Schedule:
    """Validate and build schedule ``name`` starting from ``base_lr``, with optional warm-up.

    Errors are ``ConfigError`` with fields like ``schedule.gamma``, ``schedule.name``,
    ``schedule.warmup_steps``.
    """
    if (
        isinstance(warmup_steps, bool)
        or not isinstance(warmup_steps, int)
        or not 0 <= warmup_steps <= MAX_WARMUP
    ):
        raise ConfigError(
            join_field(prefix, "warmup_steps"),
            f"must be an integer with 0 <= x <= {MAX_WARMUP}, got {warmup_steps!r}",
        )
    if isinstance(base_lr, bool) or not isinstance(base_lr, int | float) or not (
        math.isfinite(base_lr) and base_lr >= 0
    ):
        raise ConfigError(
            join_field(prefix, "base_lr"), f"must be a finite number >= 0, got {base_lr!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(join_field(prefix, "seed"), f"must be an integer >= 0, got {seed!r}")
    schedule = SCHEDULES.create(name, values, prefix, base_lr=float(base_lr), seed=seed)
    return with_warmup(schedule, warmup_steps)
