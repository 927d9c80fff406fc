"""Optimizers on flat parameter vectors, with ``torch.optim`` semantics.

Every optimizer updates a 1-D float64 vector ``params (P,)`` in place from ``grads (P,)`` and
follows the single-tensor (``foreach=False``) code path of torch 2.x step by step: same
hyperparameter names, defaults, state initialisation (e.g. SGD's momentum buffer starts as a copy
of the first gradient, Adam's step counter drives the bias correction) and order of operations.

Speed matters (the engine makes >10,000 steps/s on nets with P ~ 250), so each optimizer keeps
preallocated scratch buffers and runs a handful of in-place ufuncs per step; weight-decay work is
skipped when the decay is 0. ``grads`` is never written to.

The learning rate passed to :meth:`Optimizer.step` is the scheduled rate for that update and
overrides ``hp["lr"]`` (the base rate the schedule starts from).

Deliberate differences from torch, both only where torch would produce NaN: ``eps`` must be > 0
(torch allows 0, giving 0/0 for a zero gradient), and centered RMSprop clamps ``v − ḡ²`` at 0
before the square root (rounding can make it slightly negative for a constant gradient).
State that torch creates only at the first step with an option on (e.g. RMSprop's momentum
buffer, Adam's ``max_exp_avg_sq``) is created as zeros when the option is switched on mid-run,
where torch would raise a KeyError.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.registry import Component, Param, Registry

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "Optimizer",
    "RMSprop",
    "make_optimizer",
    "switch_optimizer",
]

OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")

# Positional ``out`` and 0-d array operands make each ufunc call about twice as cheap as
# ``out=`` keywords with Python floats, which matters at ~1 µs per call on P ~ 250.
_add, _sub, _mul, _div = np.add, np.subtract, np.multiply, np.divide
_sqrt, _maximum = np.sqrt, np.maximum


def _scalar(value: float) -> np.ndarray:
    """A 0-d float64 array: the cheapest scalar operand for a ufunc."""
    return np.array(float(value))


_ZERO = _scalar(0.0)


class Optimizer:
    """Base class: hyperparameters, lazily allocated state buffers, state (de)serialisation.

    Subclasses set ``_buffer_names`` (state arrays shaped like ``params``) and implement
    ``_step``. ``hp`` is the resolved hyperparameter dict; change it only through
    :meth:`update_hyperparameters` (which re-validates and keeps all state).
    """

    name: str = ""
    _buffer_names: tuple[str, ...] = ()

    def __init__(self, hp: dict[str, Any], prefix: str = "optimizer") -> None:
        self.prefix = prefix
        self.hp: dict[str, Any] = dict(hp)
        self.n_steps = 0  # torch's state["step"]: number of updates made so far
        self._size: int | None = None
        # Scratch vectors (not state): the effective gradient and a temporary.
        self._g: np.ndarray = np.empty(0)
        self._tmp: np.ndarray = np.empty(0)
        self._s = _scalar(0.0)  # per-step scalar (e.g. the rate), reused to avoid allocations
        self._buffers: dict[str, np.ndarray | None] = {k: None for k in self._buffer_names}
        self._cache_hp()

    # -- hyperparameters ---------------------------------------------------------------------
    @property
    def component(self) -> Component[Optimizer]:
        return OPTIMIZERS.get(self.name)

    def _cache_hp(self) -> None:
        """Copy hyperparameters into attributes (attribute access is cheaper in ``step``)."""

    def update_hyperparameters(self, values: dict[str, Any]) -> None:
        """Change some hyperparameters between steps; all state (buffers, step count) is kept.

        ``values`` may be partial; it is merged into the current ``hp`` and re-validated.
        """
        merged = {**self.hp, **values}
        self.hp = self.component.resolve(merged, self.prefix)
        self._cache_hp()

    # -- state -------------------------------------------------------------------------------
    def _allocate(self, size: int) -> None:
        self._size = size
        self._g = np.empty(size)
        self._tmp = np.empty(size)

    def _buffer(self, key: str, fill: float = 0.0) -> np.ndarray:
        """The state buffer ``key``, created (filled with ``fill``) on first use."""
        buf = self._buffers[key]
        if buf is None:
            buf = np.full(self._size or 0, fill)
            self._buffers[key] = buf
        return buf

    def reset_state(self) -> None:
        """Forget all state (buffers and step count); hyperparameters are kept."""
        self.n_steps = 0
        self._buffers = {k: None for k in self._buffer_names}

    def state_dict(self) -> dict[str, Any]:
        """``{"name", "step", "buffers": {key: ndarray copy or None}}``."""
        return {
            "name": self.name,
            "step": self.n_steps,
            "buffers": {k: None if v is None else v.copy() for k, v in self._buffers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore state saved by :meth:`state_dict` of the same optimizer kind (arrays copied)."""
        if state.get("name", self.name) != self.name:
            raise ValueError(f"state of optimizer {state.get('name')!r} given to {self.name!r}")
        buffers = state.get("buffers", {})
        unknown = set(buffers) - set(self._buffer_names)
        if unknown:
            raise ValueError(f"unknown state buffers for {self.name}: {sorted(unknown)}")
        self.n_steps = int(state.get("step", 0))
        self._buffers = {k: None for k in self._buffer_names}
        size = None
        for k, v in buffers.items():
            if v is not None:
                arr = np.array(v, dtype=np.float64, copy=True).reshape(-1)
                size = arr.size
                self._buffers[k] = arr
        if size is not None and size != self._size:
            self._allocate(size)

    # -- update ------------------------------------------------------------------------------
    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        """One update of ``params (P,)`` in place from ``grads (P,)`` with learning rate ``lr``."""
        if self._size != params.shape[0]:
            if self._size is not None and any(b is not None for b in self._buffers.values()):
                raise ValueError(
                    f"optimizer state is for {self._size} parameters, got {params.shape[0]}"
                )
            self._allocate(params.shape[0])
        self.n_steps += 1
        self._step(params, grads, float(lr))

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def _set_wd(self, weight_decay: float) -> None:
        self._wd = weight_decay
        self._wd_arr = _scalar(weight_decay)

    def _decayed_grad(self, params: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """``grads + λ·params`` in a scratch buffer, or ``grads`` itself when ``λ == 0``."""
        if self._wd == 0.0:
            return grads
        g = self._g
        _mul(params, self._wd_arr, g)
        _add(grads, g, g)
        return g

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.hp})"


# ---------------------------------------------------------------------------------------------
# SGD


class SGD(Optimizer):
    name = "sgd"
    _buffer_names = ("momentum_buffer",)

    def _cache_hp(self) -> None:
        hp = self.hp
        self._momentum = hp["momentum"]
        self._mu = _scalar(hp["momentum"])
        self._dampening = hp["dampening"]
        self._one_minus_damp = _scalar(1.0 - hp["dampening"])
        self._nesterov = hp["nesterov"]
        self._set_wd(hp["weight_decay"])

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._decayed_grad(params, grads)
        tmp = self._tmp
        if self._momentum != 0.0:
            buf = self._buffers["momentum_buffer"]
            if buf is None:  # torch: the buffer starts as a copy of the first gradient
                buf = g.copy()
                self._buffers["momentum_buffer"] = buf
            else:
                _mul(buf, self._mu, buf)
                if self._dampening == 0.0:
                    _add(buf, g, buf)
                else:
                    _mul(g, self._one_minus_damp, tmp)
                    _add(buf, tmp, buf)
            if self._nesterov:
                _mul(buf, self._mu, tmp)
                _add(g, tmp, tmp)
                g = tmp
            else:
                g = buf
        s = self._s
        s[()] = lr
        _mul(g, s, tmp)
        _sub(params, tmp, params)


def _check_sgd(hp: dict[str, Any]) -> None:
    if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
        raise ConfigError(
            "nesterov", "Nesterov momentum requires momentum > 0 and dampening == 0"
        )


_LR_HELP = "base learning rate (a schedule starts from it)"
_WD_HELP = "L2 penalty added to the gradient: g ← g + λθ (applies to every parameter, as in torch)"


def _lr(default: float) -> Param:
    return Param("lr", "float", default, min=0.0, max=10.0, help=_LR_HELP)


def _wd(default: float = 0.0, help: str = _WD_HELP) -> Param:
    return Param("weight_decay", "float", default, min=0.0, max=1.0, help=help)


def _eps(default: float) -> Param:
    return Param(
        "eps", "float", default, min=0.0, max=1.0, exclusive_min=True,
        help="term added to the denominator for numerical stability",
    )


OPTIMIZERS.register(
    "sgd",
    label="SGD (momentum, Nesterov)",
    formula=(
        "g ← ∇f(θ) + λθ\n"
        "if μ ≠ 0:  b ← g (first step),  else b ← μ·b + (1 − τ)·g\n"
        "           g ← g + μ·b (nesterov)  or  g ← b\n"
        "θ ← θ − γ·g"
    ),
    params=[
        _lr(0.001),
        Param("momentum", "float", 0.0, min=0.0, max=1.0, exclusive_max=True,
              help="momentum factor μ"),
        Param("dampening", "float", 0.0, min=0.0, max=1.0, help="dampening τ for momentum"),
        Param("nesterov", "bool", False, help="Nesterov momentum (needs μ > 0 and τ = 0)"),
        _wd(),
    ],
    description="Stochastic gradient descent with optional (Nesterov) momentum.",
    check=_check_sgd,
    torch="torch.optim.SGD",
)(lambda **hp: SGD(hp))


# ---------------------------------------------------------------------------------------------
# Adagrad


class Adagrad(Optimizer):
    name = "adagrad"
    _buffer_names = ("sum",)

    def _cache_hp(self) -> None:
        hp = self.hp
        self._lr_decay = hp["lr_decay"]
        self._eps = _scalar(hp["eps"])
        self._set_wd(hp["weight_decay"])

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._decayed_grad(params, grads)
        s = self._s
        s[()] = lr / (1.0 + (self.n_steps - 1) * self._lr_decay)
        acc = self._buffer("sum", self.hp["initial_accumulator_value"])
        tmp = self._tmp
        _mul(g, g, tmp)
        _add(acc, tmp, acc)
        _sqrt(acc, tmp)
        _add(tmp, self._eps, tmp)
        _div(g, tmp, tmp)
        _mul(tmp, s, tmp)
        _sub(params, tmp, params)


OPTIMIZERS.register(
    "adagrad",
    label="Adagrad",
    formula=(
        "g ← ∇f(θ) + λθ\n"
        "γ̃ ← γ / (1 + (t − 1)·η)\n"
        "s ← s + g²   (s₀ = initial_accumulator_value)\n"
        "θ ← θ − γ̃·g / (√s + ε)"
    ),
    params=[
        _lr(0.01),
        Param("lr_decay", "float", 0.0, min=0.0, max=1.0, help="learning-rate decay η"),
        _wd(),
        Param("initial_accumulator_value", "float", 0.0, min=0.0, max=10.0,
              help="starting value of the squared-gradient sum s"),
        _eps(1e-10),
    ],
    description="Per-parameter rates scaled by the root of the summed squared gradients.",
    torch="torch.optim.Adagrad",
)(lambda **hp: Adagrad(hp))


# ---------------------------------------------------------------------------------------------
# RMSprop


class RMSprop(Optimizer):
    name = "rmsprop"
    _buffer_names = ("square_avg", "momentum_buffer", "grad_avg")

    def _cache_hp(self) -> None:
        hp = self.hp
        self._alpha = _scalar(hp["alpha"])
        self._one_minus_alpha = _scalar(1.0 - hp["alpha"])
        self._eps = _scalar(hp["eps"])
        self._momentum = hp["momentum"]
        self._mu = _scalar(hp["momentum"])
        self._centered = hp["centered"]
        self._set_wd(hp["weight_decay"])

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._decayed_grad(params, grads)
        tmp = self._tmp
        sq = self._buffer("square_avg")
        _mul(sq, self._alpha, sq)
        _mul(g, g, tmp)
        _mul(tmp, self._one_minus_alpha, tmp)
        _add(sq, tmp, sq)
        if self._centered:
            ga = self._buffer("grad_avg")
            # torch: grad_avg.lerp_(g, 1 − α);  avg = sqrt(v − ḡ²)
            _sub(g, ga, tmp)
            _mul(tmp, self._one_minus_alpha, tmp)
            _add(ga, tmp, ga)
            _mul(ga, ga, tmp)
            _sub(sq, tmp, tmp)
            # v − ḡ² >= 0 mathematically; rounding can make it −1e-20 when the gradient is
            # constant (torch then yields NaN). Clamp at 0.
            _maximum(tmp, _ZERO, out=tmp)
            _sqrt(tmp, tmp)
        else:
            _sqrt(sq, tmp)
        _add(tmp, self._eps, tmp)
        _div(g, tmp, tmp)  # g / (√v + ε)
        s = self._s
        s[()] = lr
        if self._momentum > 0.0:
            buf = self._buffer("momentum_buffer")
            _mul(buf, self._mu, buf)
            _add(buf, tmp, buf)
            _mul(buf, s, tmp)
        else:
            _mul(tmp, s, tmp)
        _sub(params, tmp, params)


OPTIMIZERS.register(
    "rmsprop",
    label="RMSprop",
    formula=(
        "g ← ∇f(θ) + λθ\n"
        "v ← α·v + (1 − α)·g²\n"
        "ṽ ← v − ḡ²  with ḡ ← α·ḡ + (1 − α)·g   (centered),  else ṽ ← v\n"
        "if μ > 0:  b ← μ·b + g / (√ṽ + ε);  θ ← θ − γ·b\n"
        "else:      θ ← θ − γ·g / (√ṽ + ε)"
    ),
    params=[
        _lr(0.01),
        Param("alpha", "float", 0.99, min=0.0, max=1.0, help="smoothing constant α"),
        _eps(1e-8),
        _wd(),
        Param("momentum", "float", 0.0, min=0.0, max=1.0, exclusive_max=True,
              help="momentum factor μ"),
        Param("centered", "bool", False,
              help="normalise by the estimated gradient variance instead of the raw 2nd moment"),
    ],
    description="Divides the gradient by a running root-mean-square of recent gradients.",
    torch="torch.optim.RMSprop",
)(lambda **hp: RMSprop(hp))


# ---------------------------------------------------------------------------------------------
# Adam / AdamW


class Adam(Optimizer):
    """Adam; ``decoupled=True`` gives AdamW (θ ← θ·(1 − γλ) instead of g ← g + λθ)."""

    name = "adam"
    _buffer_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled = False

    def _cache_hp(self) -> None:
        hp = self.hp
        self._beta1, self._beta2 = hp["betas"]
        self._one_minus_b1 = _scalar(1.0 - self._beta1)
        self._b2 = _scalar(self._beta2)
        self._one_minus_b2 = _scalar(1.0 - self._beta2)
        self._eps = _scalar(hp["eps"])
        self._amsgrad = hp["amsgrad"]
        self._set_wd(hp["weight_decay"])
        self._bc2 = _scalar(1.0)

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        if self.decoupled:
            g = grads
            if self._wd != 0.0:
                s = self._s
                s[()] = 1.0 - lr * self._wd
                _mul(params, s, params)
        else:
            g = self._decayed_grad(params, grads)
        tmp = self._tmp
        m = self._buffer("exp_avg")
        v = self._buffer("exp_avg_sq")
        # m.lerp_(g, 1 − β1) as in torch
        _sub(g, m, tmp)
        _mul(tmp, self._one_minus_b1, tmp)
        _add(m, tmp, m)
        _mul(v, self._b2, v)
        _mul(g, g, tmp)
        _mul(tmp, self._one_minus_b2, tmp)
        _add(v, tmp, v)
        if self._amsgrad:
            vmax = self._buffer("max_exp_avg_sq")
            _maximum(vmax, v, out=vmax)
            v = vmax
        t = self.n_steps
        s, bc2 = self._s, self._bc2
        s[()] = lr / (1.0 - self._beta1**t)
        bc2[()] = math.sqrt(1.0 - self._beta2**t)
        # torch: denom = √v / √(1 − β2ᵗ) + ε;  θ ← θ − step_size · m / denom
        _sqrt(v, tmp)
        _div(tmp, bc2, tmp)
        _add(tmp, self._eps, tmp)
        _div(m, tmp, tmp)
        _mul(tmp, s, tmp)
        _sub(params, tmp, params)


class AdamW(Adam):
    name = "adamw"
    decoupled = True


def _check_betas(hp: dict[str, Any]) -> None:
    betas = hp["betas"]
    if len(betas) != 2:
        raise ConfigError("betas", f"must be a list of 2 numbers [β1, β2], got {len(betas)}")


def _adam_params(wd_default: float, wd_help: str) -> list[Param]:
    return [
        _lr(0.001),
        Param("betas", "float_list", [0.9, 0.999], min=0.0, max=1.0, exclusive_max=True,
              max_len=2, help="[β1, β2]: decay rates of the 1st and 2nd moment estimates"),
        _eps(1e-8),
        _wd(wd_default, wd_help),
        Param("amsgrad", "bool", False, help="use the running maximum of v (AMSGrad)"),
    ]


_ADAM_CORE = (
    "m ← β1·m + (1 − β1)·g\n"
    "v ← β2·v + (1 − β2)·g²\n"
    "v̂max ← max(v̂max, v) (amsgrad)\n"
    "θ ← θ − γ/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)"
)

OPTIMIZERS.register(
    "adam",
    label="Adam",
    formula="g ← ∇f(θ) + λθ\n" + _ADAM_CORE,
    params=_adam_params(0.0, _WD_HELP),
    description="Adaptive moment estimation with bias correction.",
    check=_check_betas,
    torch="torch.optim.Adam",
)(lambda **hp: Adam(hp))

OPTIMIZERS.register(
    "adamw",
    label="AdamW (decoupled weight decay)",
    formula="g ← ∇f(θ)\nθ ← θ·(1 − γλ)\n" + _ADAM_CORE,
    params=_adam_params(
        0.01, "decoupled weight decay: θ ← θ·(1 − γλ) before the Adam update"
    ),
    description="Adam with weight decay applied directly to the parameters.",
    check=_check_betas,
    torch="torch.optim.AdamW",
)(lambda **hp: AdamW(hp))


# ---------------------------------------------------------------------------------------------


def make_optimizer(
    name: str, values: dict[str, Any] | None = None, prefix: str = "optimizer"
) -> Optimizer:
    """Validate ``values`` for optimizer ``name`` and build it (errors name ``prefix.field``)."""
    comp = OPTIMIZERS.get(name, f"{prefix}.name" if prefix else "name")
    opt = comp.factory(**comp.resolve(values, prefix))
    opt.prefix = prefix
    return opt


def switch_optimizer(
    current: Optimizer, name: str, values: dict[str, Any] | None = None
) -> Optimizer:
    """Same name: update hyperparameters in place (state kept) and return ``current``.

    Another name: a new optimizer with fresh state (its ``values`` are validated from defaults).
    """
    if name == current.name:
        current.update_hyperparameters(dict(values or {}))
        return current
    return make_optimizer(name, values, current.prefix)
