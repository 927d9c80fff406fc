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
where torch would raise a KeyError. NAdam's scalar ``mu_product`` is a float64 number; torch
keeps it as a 0-d tensor of the default dtype (float32 unless
``torch.set_default_dtype(torch.float64)``, which the golden generator sets).

Optimizers: SGD, Adagrad, RMSprop, Adam, AdamW, NAdam, RAdam, Adamax, Adadelta, Rprop. torch
flags that choose a code path or do not apply are left out: ``foreach``, ``fused``,
``capturable``, ``differentiable`` (the single-tensor path is the reference) and ``maximize``
(the engine always minimises). As in torch, Rprop uses ``lr`` only for its initial step sizes.

State: :meth:`Optimizer.torch_state` returns the buffers by torch's ``optimizer.state`` keys
(``momentum_buffer``, ``sum``, ``square_avg``, ``grad_avg``, ``exp_avg``, ``exp_avg_sq``,
``max_exp_avg_sq``, ``exp_inf``, ``acc_delta``, ``prev``, ``step_size``, ``mu_product``), and
:meth:`Optimizer.effective_lr` the per-coordinate step size of the last update (documented per
class; e.g. Adam ``lr / (√v̂ + ε)``, which multiplies ``m̂``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from core.errors import ConfigError
from core.registry import Component, Param, Registry

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
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
    # Scalar state torch keeps as a 0-d tensor (e.g. NAdam's mu_product): name -> initial value.
    _scalar_init: ClassVar[dict[str, float]] = {}

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
        self._scalars: dict[str, float] = dict(self._scalar_init)
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
        self._scalars = dict(self._scalar_init)

    def state_dict(self) -> dict[str, Any]:
        """``{"name", "step", "buffers": {key: ndarray copy or None}, "scalars": {key: float}}``."""
        return {
            "name": self.name,
            "step": self.n_steps,
            "buffers": {k: None if v is None else v.copy() for k, v in self._buffers.items()},
            "scalars": dict(self._scalars),
        }

    def torch_state(self) -> dict[str, np.ndarray | float]:
        """The state torch's ``optimizer.state[p]`` holds now, by torch's keys (without
        ``"step"``, which is :attr:`n_steps`): every buffer created so far as a copy ``(P,)``,
        and scalar state (NAdam's ``mu_product``) as a float."""
        out: dict[str, np.ndarray | float] = {
            k: v.copy() for k, v in self._buffers.items() if v is not None
        }
        if self.n_steps > 0:
            out.update(self._scalars)
        return out

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        """Per-coordinate step size ``(P,)`` of the update just made with rate ``lr``.

        ``before`` is :meth:`torch_state` from before that update. The factor that multiplies
        each optimizer's update direction; see each class's docstring (plain SGD: ``lr``)."""
        return np.full(self._size or 0, float(lr))

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
        self._scalars = {**self._scalar_init, **state.get("scalars", {})}
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
    """SGD; effective step size ``lr`` (it multiplies the momentum buffer, or the gradient)."""

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
    """Adagrad; effective step size ``γ̃ / (√sum + ε)`` with ``γ̃ = lr / (1 + (t − 1)·lr_decay)``
    (it multiplies the gradient)."""

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

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        clr = lr / (1.0 + (self.n_steps - 1) * self._lr_decay)
        return clr / (np.sqrt(self._buffer("sum")) + self.hp["eps"])


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
    """RMSprop; effective step size ``lr / (√ṽ + ε)`` (ṽ = square_avg, minus grad_avg² when
    centered); it multiplies the gradient, or feeds the momentum buffer when momentum > 0."""

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

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        v = self._buffer("square_avg")
        if self._centered:
            v = np.maximum(v - self._buffer("grad_avg") ** 2, 0.0)
        return lr / (np.sqrt(v) + self.hp["eps"])


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
# The Adam family's shared pieces


class _AdamFamily(Optimizer):
    """What Adam/AdamW, NAdam, RAdam and Adamax share, in torch's order of operations: β1, β2
    and ε as 0-d operands, weight decay coupled (``g ← g + λθ``) or decoupled
    (``θ ← θ·(1 − γλ)``), and the moment updates ``m ← m + (1 − β1)·(g − m)`` (torch's
    ``m.lerp_(g, 1 − β1)``) and ``v ← β2·v + (1 − β2)·g²``."""

    def _cache_betas(self) -> None:
        hp = self.hp
        self._beta1, self._beta2 = hp["betas"]
        self._one_minus_b1 = _scalar(1.0 - self._beta1)
        self._b2 = _scalar(self._beta2)
        self._one_minus_b2 = _scalar(1.0 - self._beta2)
        self._eps = _scalar(hp["eps"])
        self._set_wd(hp["weight_decay"])

    def _weight_decay(
        self, params: np.ndarray, grads: np.ndarray, lr: float, decoupled: bool
    ) -> np.ndarray:
        """The gradient the moments see: ``grads`` after ``θ ← θ·(1 − γλ)`` in place when
        ``decoupled``, else ``grads + λθ`` (``grads`` itself when ``λ == 0``)."""
        if not decoupled:
            return self._decayed_grad(params, grads)
        if self._wd != 0.0:
            s = self._s
            s[()] = 1.0 - lr * self._wd
            _mul(params, s, params)
        return grads

    def _first_moment(self, g: np.ndarray) -> np.ndarray:
        """``exp_avg`` updated in place from ``g`` (``m.lerp_(g, 1 − β1)``); uses ``_tmp``."""
        tmp = self._tmp
        m = self._buffer("exp_avg")
        _sub(g, m, tmp)
        _mul(tmp, self._one_minus_b1, tmp)
        _add(m, tmp, m)
        return m

    def _moments(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``exp_avg`` and ``exp_avg_sq`` updated in place from ``g``; uses ``_tmp``."""
        m = self._first_moment(g)
        tmp = self._tmp
        v = self._buffer("exp_avg_sq")
        _mul(v, self._b2, v)
        _mul(g, g, tmp)
        _mul(tmp, self._one_minus_b2, tmp)
        _add(v, tmp, v)
        return m, v


# ---------------------------------------------------------------------------------------------
# Adam / AdamW


class Adam(_AdamFamily):
    """Adam; ``decoupled=True`` gives AdamW (θ ← θ·(1 − γλ) instead of g ← g + λθ).

    Effective step size ``lr / (√v̂ + ε)`` with ``v̂ = v / (1 − β2ᵗ)`` (v = max_exp_avg_sq with
    amsgrad): it multiplies ``m̂ = m / (1 − β1ᵗ)``; equal to torch's
    ``lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε)``.
    """

    name = "adam"
    _buffer_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled = False

    def _cache_hp(self) -> None:
        self._cache_betas()
        self._amsgrad = self.hp["amsgrad"]
        self._bc2 = _scalar(1.0)

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._weight_decay(params, grads, lr, self.decoupled)
        tmp = self._tmp
        m, v = self._moments(g)
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

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        v = self._buffer("max_exp_avg_sq" if self._amsgrad else "exp_avg_sq")
        bc2 = math.sqrt(1.0 - self._beta2**self.n_steps)
        return lr / (np.sqrt(v) / bc2 + self.hp["eps"])


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
# Adamax


class Adamax(_AdamFamily):
    """Adamax (Adam with the infinity norm).

    Effective step size ``lr / u`` (u = exp_inf, which already contains ε): it multiplies
    ``m̂ = m / (1 − β1ᵗ)``.
    """

    name = "adamax"
    _buffer_names = ("exp_avg", "exp_inf")

    def _cache_hp(self) -> None:
        self._cache_betas()

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._decayed_grad(params, grads)
        tmp = self._tmp
        m = self._first_moment(g)
        u = self._buffer("exp_inf")
        # torch: u ← max(β2·u, |g| + ε)
        _mul(u, self._b2, u)
        np.abs(g, tmp)
        _add(tmp, self._eps, tmp)
        _maximum(u, tmp, out=u)
        s = self._s
        s[()] = lr / (1.0 - self._beta1**self.n_steps)
        _div(m, u, tmp)
        _mul(tmp, s, tmp)
        _sub(params, tmp, params)

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        return lr / self._buffer("exp_inf")


OPTIMIZERS.register(
    "adamax",
    label="Adamax",
    formula=(
        "g ← ∇f(θ) + λθ\n"
        "m ← β1·m + (1 − β1)·g\n"
        "u ← max(β2·u, |g| + ε)\n"
        "θ ← θ − γ/(1 − β1ᵗ) · m / u"
    ),
    params=[
        _lr(0.002),
        Param("betas", "float_list", [0.9, 0.999], min=0.0, max=1.0, exclusive_max=True,
              max_len=2, help="[β1, β2]: decay rates of the 1st moment and the infinity norm"),
        _eps(1e-8),
        _wd(),
    ],
    description="A variant of Adam scaled by an exponentially weighted infinity norm.",
    check=_check_betas,
    torch="torch.optim.Adamax",
)(lambda **hp: Adamax(hp))


# ---------------------------------------------------------------------------------------------
# NAdam


class NAdam(_AdamFamily):
    """NAdam (Adam with Nesterov momentum and a momentum schedule μₜ).

    ``mu_product`` (Π μᵢ) is a Python float in float64; torch keeps it as a 0-d tensor of the
    default dtype (float32 unless ``torch.set_default_dtype(torch.float64)``). The golden values
    are generated with float64 as torch's default dtype.

    Effective step size ``lr / (√v̂ + ε)`` with ``v̂ = v / (1 − β2ᵗ)``: it multiplies the
    Nesterov direction ``(1 − μₜ)/(1 − Πμ)·g + μₜ₊₁/(1 − Πμ·μₜ₊₁)·m``.
    """

    name = "nadam"
    _buffer_names = ("exp_avg", "exp_avg_sq")
    _scalar_init: ClassVar[dict[str, float]] = {"mu_product": 1.0}

    def _cache_hp(self) -> None:
        self._cache_betas()
        self._psi = self.hp["momentum_decay"]
        self._decoupled = self.hp["decoupled_weight_decay"]
        self._bc2 = _scalar(1.0)

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._weight_decay(params, grads, lr, self._decoupled)
        t = self.n_steps
        b1 = self._beta1
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * self._psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self._psi))
        mu_product = self._scalars["mu_product"] * mu
        self._scalars["mu_product"] = mu_product
        tmp, denom = self._tmp, self._g if g is not self._g else np.empty_like(self._tmp)
        m, v = self._moments(g)
        # torch: denom = √(v / (1 − β2ᵗ)) + ε; two addcdiv_ in this order
        bc2 = self._bc2
        bc2[()] = 1.0 - self._beta2**t
        _div(v, bc2, tmp)
        _sqrt(tmp, tmp)
        _add(tmp, self._eps, tmp)
        s = self._s
        s[()] = lr * (1.0 - mu) / (1.0 - mu_product)
        _div(g, tmp, denom)
        _mul(denom, s, denom)
        _sub(params, denom, params)
        s[()] = lr * mu_next / (1.0 - mu_product * mu_next)
        _div(m, tmp, denom)
        _mul(denom, s, denom)
        _sub(params, denom, params)

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        bc2 = 1.0 - self._beta2**self.n_steps
        return lr / (np.sqrt(self._buffer("exp_avg_sq") / bc2) + self.hp["eps"])


def _decoupled_param(label: str) -> Param:
    return Param("decoupled_weight_decay", "bool", False,
                 help=f"decoupled weight decay θ ← θ·(1 − γλ) as in AdamW ({label})")


OPTIMIZERS.register(
    "nadam",
    label="NAdam (Nesterov Adam)",
    formula=(
        "g ← ∇f(θ) + λθ   (or θ ← θ·(1 − γλ) when decoupled)\n"
        "μₜ ← β1·(1 − ½·0.96^(t·ψ)),  Πμ ← Πμ·μₜ\n"
        "m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²\n"
        "θ ← θ − γ·[(1 − μₜ)/(1 − Πμ)·g + μₜ₊₁/(1 − Πμ·μₜ₊₁)·m] / (√(v/(1 − β2ᵗ)) + ε)"
    ),
    params=[
        _lr(0.002),
        Param("betas", "float_list", [0.9, 0.999], min=0.0, max=1.0, exclusive_max=True,
              max_len=2, help="[β1, β2]: decay rates of the 1st and 2nd moment estimates"),
        _eps(1e-8),
        _wd(),
        Param("momentum_decay", "float", 0.004, min=0.0, max=1.0,
              help="momentum decay ψ of the schedule μₜ"),
        _decoupled_param("NAdamW"),
    ],
    description="Adam with Nesterov momentum: looks one momentum step ahead.",
    check=_check_betas,
    torch="torch.optim.NAdam",
)(lambda **hp: NAdam(hp))


# ---------------------------------------------------------------------------------------------
# RAdam


class RAdam(_AdamFamily):
    """RAdam (rectified Adam): plain momentum SGD while the variance estimate is unreliable
    (ρₜ <= 5), then Adam scaled by the rectification term rₜ.

    Effective step size ``lr·rₜ·√(1 − β2ᵗ) / (√v + ε)`` when ρₜ > 5, else ``lr``: it multiplies
    ``m̂ = m / (1 − β1ᵗ)``.
    """

    name = "radam"
    _buffer_names = ("exp_avg", "exp_avg_sq")

    def _cache_hp(self) -> None:
        self._cache_betas()
        self._decoupled = self.hp["decoupled_weight_decay"]

    def _rect(self) -> float | None:
        """rₜ, or None while ρₜ <= 5 (no adaptive term)."""
        t, b2 = self.n_steps, self._beta2
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * (b2**t) / (1.0 - b2**t)
        if not rho_t > 5.0:
            return None
        return (
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        ) ** 0.5

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._weight_decay(params, grads, lr, self._decoupled)
        tmp = self._tmp
        m, v = self._moments(g)
        t = self.n_steps
        s = self._s
        rect = self._rect()
        # torch: m̂ = m / (1 − β1ᵗ);  θ ← θ − m̂·lr·(√(1 − β2ᵗ)/(√v + ε))·rₜ   (or − m̂·lr)
        s[()] = 1.0 - self._beta1**t
        out = self._g if g is not self._g else np.empty_like(tmp)
        _div(m, s, out)
        s[()] = lr
        _mul(out, s, out)
        if rect is not None:
            _sqrt(v, tmp)
            _add(tmp, self._eps, tmp)
            _div((1.0 - self._beta2**t) ** 0.5, tmp, tmp)  # torch: bias_correction2**0.5
            _mul(out, tmp, out)
            s[()] = rect
            _mul(out, s, out)
        _sub(params, out, params)

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        rect = self._rect()
        if rect is None:
            return np.full(self._size or 0, float(lr))
        bc2 = (1.0 - self._beta2**self.n_steps) ** 0.5
        return lr * (bc2 / (np.sqrt(self._buffer("exp_avg_sq")) + self.hp["eps"])) * rect


OPTIMIZERS.register(
    "radam",
    label="RAdam (rectified Adam)",
    formula=(
        "g ← ∇f(θ) + λθ   (or θ ← θ·(1 − γλ) when decoupled)\n"
        "m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,  m̂ ← m/(1 − β1ᵗ)\n"
        "ρ∞ ← 2/(1 − β2) − 1,  ρₜ ← ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)\n"
        "ρₜ > 5:  rₜ ← √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ));  "
        "θ ← θ − γ·m̂·rₜ·√(1 − β2ᵗ)/(√v + ε)\n"
        "else:    θ ← θ − γ·m̂"
    ),
    params=[
        _lr(0.001),
        Param("betas", "float_list", [0.9, 0.999], min=0.0, max=1.0, exclusive_max=True,
              max_len=2, help="[β1, β2]: decay rates of the 1st and 2nd moment estimates"),
        _eps(1e-8),
        _wd(),
        _decoupled_param("RAdamW"),
    ],
    description="Adam with a warm-up built in: no adaptive step until v is trustworthy.",
    check=_check_betas,
    torch="torch.optim.RAdam",
)(lambda **hp: RAdam(hp))


# ---------------------------------------------------------------------------------------------
# Adadelta


class Adadelta(Optimizer):
    """Adadelta; effective step size ``lr·√(Δ̄ + ε) / √(v + ε)`` (Δ̄ = acc_delta BEFORE the
    update, v = square_avg after it): it multiplies the gradient."""

    name = "adadelta"
    _buffer_names = ("square_avg", "acc_delta")

    def _cache_hp(self) -> None:
        hp = self.hp
        self._rho = _scalar(hp["rho"])
        self._one_minus_rho = _scalar(1.0 - hp["rho"])
        self._eps = _scalar(hp["eps"])
        self._set_wd(hp["weight_decay"])

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = self._decayed_grad(params, grads)
        tmp = self._tmp
        v = self._buffer("square_avg")
        acc = self._buffer("acc_delta")
        _mul(v, self._rho, v)
        _mul(g, g, tmp)
        _mul(tmp, self._one_minus_rho, tmp)
        _add(v, tmp, v)
        delta = np.add(acc, self._eps)  # √(Δ̄ + ε) / √(v + ε) · g
        _sqrt(delta, delta)
        _add(v, self._eps, tmp)
        _sqrt(tmp, tmp)
        _div(delta, tmp, delta)
        _mul(delta, g, delta)
        _mul(acc, self._rho, acc)
        _mul(delta, delta, tmp)
        _mul(tmp, self._one_minus_rho, tmp)
        _add(acc, tmp, acc)
        s = self._s
        s[()] = lr
        _mul(delta, s, delta)
        _sub(params, delta, params)

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        eps = self.hp["eps"]
        acc = before.get("acc_delta")
        acc = np.zeros(self._size or 0) if acc is None else np.asarray(acc)
        return lr * np.sqrt(acc + eps) / np.sqrt(self._buffer("square_avg") + eps)


OPTIMIZERS.register(
    "adadelta",
    label="Adadelta",
    formula=(
        "g ← ∇f(θ) + λθ\n"
        "v ← ρ·v + (1 − ρ)·g²\n"
        "Δ ← √(u + ε) / √(v + ε) · g\n"
        "u ← ρ·u + (1 − ρ)·Δ²\n"
        "θ ← θ − γ·Δ"
    ),
    params=[
        _lr(1.0),
        Param("rho", "float", 0.9, min=0.0, max=1.0,
              help="decay ρ of the running averages of g² and Δ²"),
        _eps(1e-6),
        _wd(),
    ],
    description="Rates from the ratio of recent update size to recent gradient size.",
    torch="torch.optim.Adadelta",
)(lambda **hp: Adadelta(hp))


# ---------------------------------------------------------------------------------------------
# Rprop


class Rprop(Optimizer):
    """Rprop (resilient backpropagation): only the sign of the gradient is used; each
    coordinate's step size grows by η+ while the sign holds and shrinks by η− when it flips
    (and that coordinate skips the step, its gradient memory set to 0).

    As in torch, ``lr`` only sets the initial step sizes (at the first step); later rates from a
    schedule or a live change are ignored. Effective step size: ``step_size`` (θ moves by
    ``step_size·sign(g)``, or not at all right after a sign flip).
    """

    name = "rprop"
    _buffer_names = ("prev", "step_size")

    def _cache_hp(self) -> None:
        hp = self.hp
        self._etaminus, self._etaplus = hp["etas"]
        self._smin, self._smax = hp["step_sizes"]
        self._smin_arr, self._smax_arr = _scalar(self._smin), _scalar(self._smax)

    def _allocate(self, size: int) -> None:
        super()._allocate(size)
        self._factor = np.empty(size)

    def _step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        prev = self._buffer("prev")
        step_size = self._buffer("step_size", lr)
        tmp, factor = self._tmp, self._factor
        _mul(grads, prev, tmp)
        kept, flipped = tmp > 0.0, tmp < 0.0
        factor.fill(1.0)
        np.copyto(factor, self._etaplus, where=kept)
        np.copyto(factor, self._etaminus, where=flipped)
        _mul(step_size, factor, step_size)
        _maximum(step_size, self._smin_arr, out=step_size)  # clamp(min, max), as torch
        np.minimum(step_size, self._smax_arr, out=step_size)
        # torch zeroes the gradient where the factor equals η−, i.e. where the sign flipped
        # (0 < η− < 1 < η+ is validated, so no other factor can equal η−)
        g = self._g
        np.copyto(g, grads)
        np.copyto(g, 0.0, where=flipped)
        np.sign(g, tmp)
        _mul(tmp, step_size, tmp)
        _sub(params, tmp, params)
        np.copyto(prev, g)

    def effective_lr(self, lr: float, before: dict[str, Any]) -> np.ndarray:
        return self._buffer("step_size").copy()


def _check_rprop(hp: dict[str, Any]) -> None:
    etas, sizes = hp["etas"], hp["step_sizes"]
    if len(etas) != 2 or not 0.0 < etas[0] < 1.0 < etas[1]:
        raise ConfigError("etas", f"must be [η−, η+] with 0 < η− < 1 < η+, got {etas}")
    if len(sizes) != 2 or not sizes[0] <= sizes[1]:
        raise ConfigError(
            "step_sizes", f"must be [min, max] with 0 <= min <= max <= 1000, got {sizes}"
        )


OPTIMIZERS.register(
    "rprop",
    label="Rprop",
    formula=(
        "s ← γ at the first step\n"
        "s ← clamp(s·η+ if g·g_prev > 0,  s·η− if g·g_prev < 0,  else s;  s_min, s_max)\n"
        "g ← 0 where the sign flipped\n"
        "θ ← θ − s·sign(g),  g_prev ← g"
    ),
    params=[
        Param("lr", "float", 0.01, min=0.0, max=10.0,
              help="initial step size of every parameter (later rates are ignored, as in torch)"),
        Param("etas", "float_list", [0.5, 1.2], min=0.0, max=10.0, max_len=2,
              help="[η−, η+]: step-size factors on a sign flip / a kept sign (0 < η− < 1 < η+)"),
        Param("step_sizes", "float_list", [1e-06, 50.0], min=0.0, max=1000.0, max_len=2,
              help="[min, max] allowed step sizes"),
    ],
    description="Resilient backprop: per-parameter step sizes driven by gradient signs only.",
    check=_check_rprop,
    torch="torch.optim.Rprop",
)(lambda **hp: Rprop(hp))


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
