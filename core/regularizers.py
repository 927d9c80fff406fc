"""Weight penalties (L1 / L2 / elastic net) and gradient clipping.

Penalty convention (the same everywhere in GradPlay)::

    penalty(w) = l1 * Σ|w| + (l2 / 2) * Σ w²        # over the WEIGHTS only

so ``∂penalty/∂w = l1 * sign(w) + l2 * w``. With this scaling, ``l2`` acts exactly like the
``weight_decay`` argument of ``torch.optim.SGD`` (which adds ``weight_decay * w`` to the gradient).
The model passes the contiguous weight slice of its flat parameter vector (``theta[:n_weights]``,
see docs/engine.md): ``weights`` is a 1-D view ``(W,)`` and ``weight_grads`` the matching 1-D view
of the gradient vector. Biases and normalisation parameters are never penalised.

L1 can be applied two ways (``l1_method``):

- ``"proximal"`` (default): the optimizer steps on the smooth loss (+ L2), then the weights are
  soft-thresholded, ``w <- sign(w) * max(|w| - lr * l1, 0)`` (proximal gradient / ISTA). Weights
  land on exact zeros and can regrow when the data gradient pushes them out again.
- ``"subgradient"``: ``l1 * sign(w)`` is added to the gradient (``sign(0) = 0``, torch's
  convention). Weights near zero jump across it by ``lr * l1`` every step, so they oscillate
  around zero and almost never become exactly zero.

Gradient clipping follows ``torch.nn.utils.clip_grad_norm_`` (one total norm over the whole flat
gradient vector, ``clip_coef = max_norm / (total_norm + 1e-6)``, scale by ``min(clip_coef, 1)``)
and ``torch.nn.utils.clip_grad_value_`` (clamp every entry to ``[-clip_value, clip_value]``).

All functions here run on every training step, so they work in place with few NumPy calls and
return immediately when there is nothing to do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.registry import Component, Param, Registry, join_field

__all__ = [
    "GRAD_CLIPS",
    "L1_METHODS",
    "REGULARIZERS",
    "TORCH_CLIP_EPS",
    "GradClip",
    "Regularization",
    "add_penalty_gradient",
    "clip_gradients",
    "grad_norm",
    "make_grad_clip",
    "make_regularization",
    "penalty",
    "proximal_l1",
]

L1_METHODS: tuple[str, ...] = ("proximal", "subgradient")
CLIP_MODES: tuple[str, ...] = ("none", "norm", "value")
TORCH_CLIP_EPS = 1e-6  # the constant torch adds to total_norm in clip_grad_norm_

PENALTY_FORMULA = "penalty = l1·Σ|w| + (l2/2)·Σw²   (weights only; biases are not penalised)"


# ---------------------------------------------------------------------------------------------
# Weight penalties
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Regularization:
    """Validated weight-penalty settings (build it with :func:`make_regularization`).

    ``l1`` and ``l2`` are in [0, 10]; ``l1_method`` is ``"proximal"`` or ``"subgradient"``.
    """

    l1: float = 0.0
    l2: float = 0.0
    l1_method: str = "proximal"

    @property
    def active(self) -> bool:
        """True when any penalty is non-zero."""
        return self.l1 != 0.0 or self.l2 != 0.0

    @property
    def uses_proximal(self) -> bool:
        """True when :func:`proximal_l1` must run after each optimizer step."""
        return self.l1 != 0.0 and self.l1_method == "proximal"

    def to_dict(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2, "l1_method": self.l1_method}


_L1_HELP = "L1 strength: adds l1·Σ|w| to the loss (drives weights to exactly zero)."
_L2_HELP = (
    "L2 strength: adds (l2/2)·Σw² to the loss, i.e. l2·w to the gradient "
    "(same as torch SGD weight_decay)."
)
_METHOD_HELP = (
    "proximal: soft-threshold the weights after each step (exact zeros); "
    "subgradient: add l1·sign(w) to the gradient (weights oscillate around zero)."
)


def _l1_param(default: float) -> Param:
    return Param("l1", "float", default, min=0.0, max=10.0, help=_L1_HELP)


def _l2_param(default: float) -> Param:
    return Param("l2", "float", default, min=0.0, max=10.0, help=_L2_HELP)


_METHOD_PARAM = Param("l1_method", "choice", "proximal", choices=L1_METHODS, help=_METHOD_HELP)

# Schema of the flat ``{"l1", "l2", "l1_method"}`` dict the trainer config uses.
_REGULARIZATION_SCHEMA: Component[Regularization] = Component(
    kind="regularization",
    name="regularization",
    label="Weight penalty",
    formula=PENALTY_FORMULA,
    params=(_l1_param(0.0), _l2_param(0.0), _METHOD_PARAM),
    factory=Regularization,
)

REGULARIZERS: Registry[Regularization] = Registry("regularizer")

_PROX_VS_SUBGRADIENT = (
    " With l1_method='proximal' the optimizer steps on the data loss (+ L2) and then every weight "
    "is soft-thresholded, w ← sign(w)·max(|w| − lr·l1, 0): weights that the data does not need "
    "land on exactly 0, and regrow if the data gradient pushes them out again. With "
    "l1_method='subgradient' the term l1·sign(w) is added to the gradient instead; a small weight "
    "then jumps back and forth across zero by about lr·l1 each step and (almost) never becomes "
    "exactly 0, so the sparsity is only approximate."
)


@REGULARIZERS.register(
    "none",
    label="None",
    formula="penalty = 0",
    description="No weight penalty.",
)
def _make_none() -> Regularization:
    return Regularization()


@REGULARIZERS.register(
    "l1",
    label="L1 (lasso)",
    formula="penalty = l1·Σ|w|;   ∂/∂w = l1·sign(w)",
    params=(_l1_param(1e-3), _METHOD_PARAM),
    description="Penalises the absolute size of every weight, pushing many to exactly zero "
    "(sparse networks, feature selection)." + _PROX_VS_SUBGRADIENT,
)
def _make_l1(l1: float, l1_method: str) -> Regularization:
    return Regularization(l1=l1, l2=0.0, l1_method=l1_method)


@REGULARIZERS.register(
    "l2",
    label="L2 (ridge / weight decay)",
    formula="penalty = (l2/2)·Σw²;   ∂/∂w = l2·w",
    params=(_l2_param(1e-3),),
    description="Penalises squared weights: every step shrinks each weight by the factor "
    "(1 − lr·l2) before the data gradient acts, so weights become small but rarely exactly zero. "
    "Equivalent to torch.optim.SGD(weight_decay=l2) on the weights.",
    torch="torch.optim.SGD(weight_decay=l2)",
)
def _make_l2(l2: float) -> Regularization:
    return Regularization(l1=0.0, l2=l2)


@REGULARIZERS.register(
    "elastic_net",
    label="Elastic net (L1 + L2)",
    formula=PENALTY_FORMULA + ";   ∂/∂w = l1·sign(w) + l2·w",
    params=(_l1_param(1e-3), _l2_param(1e-3), _METHOD_PARAM),
    description="L1 and L2 together: sparsity from L1, stability among correlated weights from "
    "L2." + _PROX_VS_SUBGRADIENT,
)
def _make_elastic_net(l1: float, l2: float, l1_method: str) -> Regularization:
    return Regularization(l1=l1, l2=l2, l1_method=l1_method)


def make_regularization(
    values: Mapping[str, Any] | None = None, prefix: str = "regularization"
) -> Regularization:
    """Validate a config dict and return a :class:`Regularization`.

    Two forms are accepted:

    - flat: ``{"l1": 0.01, "l2": 0.0, "l1_method": "proximal"}`` (all keys optional);
    - catalog: ``{"name": "elastic_net", "l1": ..., ...}`` resolved through ``REGULARIZERS``
      (only the parameters of that component are allowed).

    Raises ConfigError naming e.g. ``"regularization.l1"`` and the allowed range [0, 10].
    """
    values = dict(values or {})
    if "name" in values:
        name = values.pop("name")
        return REGULARIZERS.create(name, values, prefix)
    return _REGULARIZATION_SCHEMA.create(values, prefix)


def penalty(weights: np.ndarray, reg: Regularization) -> float:
    """``l1·Σ|w| + (l2/2)·Σw²`` for the weight slice ``weights (W,)``."""
    total = 0.0
    if reg.l1 != 0.0:
        total += reg.l1 * float(np.abs(weights).sum())
    if reg.l2 != 0.0:
        flat = weights.reshape(-1)
        total += 0.5 * reg.l2 * float(np.dot(flat, flat))
    return total


def add_penalty_gradient(
    weight_grads: np.ndarray, weights: np.ndarray, reg: Regularization
) -> None:
    """Add the penalty's gradient to ``weight_grads (W,)`` in place.

    Adds ``l2·w`` and, only for ``l1_method="subgradient"``, ``l1·sign(w)`` (``sign(0) = 0``).
    With the proximal method the L1 part is applied later by :func:`proximal_l1`.
    """
    use_sub = reg.l1 != 0.0 and reg.l1_method == "subgradient"
    if reg.l2 == 0.0 and not use_sub:
        return
    if use_sub:
        term = np.sign(weights)
        term *= reg.l1
        if reg.l2 != 0.0:
            term += weights * reg.l2
        weight_grads += term
    else:
        weight_grads += weights * reg.l2


def proximal_l1(weights: np.ndarray, reg: Regularization, lr: float) -> None:
    """Soft-threshold ``weights (W,)`` in place: ``w ← sign(w)·max(|w| − lr·l1, 0)``.

    This is the proximal operator of ``lr·l1·|w|`` (argmin_u ½(u − w)² + lr·l1·|u|), applied after
    the optimizer step when ``l1_method == "proximal"``; it is a no-op otherwise or when
    ``l1 == 0`` or ``lr <= 0``. Weights with ``|w| <= lr·l1`` become exactly ``0.0``; no weight
    changes sign. With adaptive optimizers (Adam, RMSprop, …) the threshold still uses the
    scheduled ``lr`` rather than the per-parameter effective step: a common heuristic, exact
    only for plain SGD.
    """
    if reg.l1 == 0.0 or reg.l1_method != "proximal" or not lr > 0.0:
        return
    t = lr * reg.l1
    # w - clip(w, -t, t) == sign(w)·max(|w| - t, 0), and gives exact (+0.0) zeros for |w| <= t.
    weights -= np.clip(weights, -t, t)


# ---------------------------------------------------------------------------------------------
# Gradient clipping
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradClip:
    """Validated gradient-clipping settings (build it with :func:`make_grad_clip`).

    ``mode``: ``"none"``, ``"norm"`` (torch ``clip_grad_norm_(max_norm, norm_type)``) or
    ``"value"`` (torch ``clip_grad_value_(clip_value)``). ``norm_type`` may be ``math.inf``.
    """

    mode: str = "none"
    max_norm: float = 1.0
    norm_type: float = 2.0
    clip_value: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; an infinite ``norm_type`` is written as the string ``"inf"``."""
        nt: float | str = "inf" if math.isinf(self.norm_type) else self.norm_type
        return {
            "mode": self.mode,
            "max_norm": self.max_norm,
            "norm_type": nt,
            "clip_value": self.clip_value,
        }


@dataclass(frozen=True)
class _NormTypeParam(Param):
    """A float ``>= 1`` that may also be infinity (given as ``inf`` or the string ``"inf"``)."""

    def validate(self, value: Any, field_name: str) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
            return math.inf
        if isinstance(value, float) and value == math.inf:
            return math.inf
        return super().validate(value, field_name)

    def range_text(self) -> str:
        return super().range_text() + ", or 'inf'"

    def schema(self) -> dict[str, Any]:
        out = super().schema()
        out["allow_inf"] = True
        return out


_MAX_NORM = Param(
    "max_norm",
    "float",
    1.0,
    min=0.0,
    max=1e6,
    exclusive_min=True,
    help="Largest allowed total gradient norm (torch clip_grad_norm_ max_norm).",
)
_NORM_TYPE = _NormTypeParam(
    "norm_type",
    "float",
    2.0,
    min=1.0,
    help="p of the p-norm over all gradients: 2 (Euclidean), 1, any p >= 1, or 'inf' (max |g|).",
)
_CLIP_VALUE = Param(
    "clip_value",
    "float",
    1.0,
    min=0.0,
    max=1e6,
    exclusive_min=True,
    help="Every gradient entry is clamped to [-clip_value, clip_value].",
)
_MODE = Param("mode", "choice", "none", choices=CLIP_MODES, help="Which clipping to apply.")

_GRAD_CLIP_SCHEMA: Component[GradClip] = Component(
    kind="grad_clip",
    name="grad_clip",
    label="Gradient clipping",
    formula="norm: g ← g·min(1, max_norm/(‖g‖_p + 1e-6));   value: g ← clamp(g, −c, c)",
    params=(_MODE, _MAX_NORM, _NORM_TYPE, _CLIP_VALUE),
    factory=GradClip,
)

GRAD_CLIPS: Registry[GradClip] = Registry("grad_clip")


@GRAD_CLIPS.register(
    "none", label="No clipping", formula="g unchanged", description="Gradients are used as is."
)
def _make_clip_none() -> GradClip:
    return GradClip(mode="none")


@GRAD_CLIPS.register(
    "norm",
    label="Clip by global norm",
    formula="‖g‖_p = (Σ|g_i|^p)^(1/p) over all parameters;   g ← g·min(1, max_norm/(‖g‖_p + 1e-6))",
    params=(_MAX_NORM, _NORM_TYPE),
    description="Rescales the whole gradient vector when its total norm exceeds max_norm, "
    "keeping its direction (torch.nn.utils.clip_grad_norm_). Tames exploding gradients while "
    "leaving normal steps untouched.",
    torch="torch.nn.utils.clip_grad_norm_",
)
def _make_clip_norm(max_norm: float, norm_type: float) -> GradClip:
    return GradClip(mode="norm", max_norm=max_norm, norm_type=norm_type)


@GRAD_CLIPS.register(
    "value",
    label="Clip by value",
    formula="g_i ← clamp(g_i, −clip_value, clip_value)",
    params=(_CLIP_VALUE,),
    description="Clamps every gradient entry separately (torch.nn.utils.clip_grad_value_). "
    "Unlike norm clipping this can change the gradient's direction.",
    torch="torch.nn.utils.clip_grad_value_",
)
def _make_clip_value(clip_value: float) -> GradClip:
    return GradClip(mode="value", clip_value=clip_value)


def make_grad_clip(values: Mapping[str, Any] | None = None, prefix: str = "grad_clip") -> GradClip:
    """Validate ``{"mode", "max_norm", "norm_type", "clip_value"}`` (all optional) -> GradClip.

    ``{"name": "norm", ...}`` is also accepted and resolved through ``GRAD_CLIPS``. Bad values
    raise ConfigError naming e.g. ``"grad_clip.max_norm"`` and the allowed range.
    """
    values = dict(values or {})
    if "name" in values:
        if "mode" in values:
            raise ConfigError(join_field(prefix, "mode"), "give either 'name' or 'mode', not both")
        name = values.pop("name")
        return GRAD_CLIPS.create(name, values, prefix)
    return _GRAD_CLIP_SCHEMA.create(values, prefix)


def grad_norm(grads: np.ndarray, norm_type: float = 2.0) -> float:
    """Total p-norm of ``grads`` (any shape), as torch's ``_get_total_norm`` computes it.

    ``norm_type`` is ``inf`` (max |g|) or any p >= 1. Non-finite gradients give inf/nan, like
    torch with ``error_if_nonfinite=False``; like torch, no rescaling guards ``|g|^p`` against
    overflow (p = 2 entries above ~1e154 give inf).
    """
    flat = grads.reshape(-1)
    if flat.size == 0:
        return 0.0
    if norm_type == 2.0:
        return math.sqrt(float(np.dot(flat, flat)))
    if math.isinf(norm_type):
        # max(max, -min) avoids allocating |g|
        return float(max(flat.max(), -flat.min()))
    a = np.abs(flat)
    if norm_type == 1.0:
        return float(a.sum())
    # (Σ|g|^p)^(1/p) without rescaling, exactly as torch: huge entries overflow to inf (and
    # norm clipping then zeroes the gradient), tiny ones underflow to 0.
    with np.errstate(over="ignore", under="ignore"):
        np.power(a, norm_type, out=a)
        return float(a.sum()) ** (1.0 / norm_type)


def clip_gradients(grads: np.ndarray, clip: GradClip) -> float:
    """Clip the flat gradient vector ``grads (P,)`` in place; return the norm before clipping.

    - ``"norm"``: torch ``clip_grad_norm_``: ``total = ‖grads‖_p`` over all parameters,
      ``coef = max_norm / (total + 1e-6)``, ``grads *= min(coef, 1)``. Returns ``total``.
      Non-finite gradients propagate as in torch (inf total -> grads multiplied by 0 -> inf
      entries become nan).
    - ``"value"``: torch ``clip_grad_value_``: clamp to ``[-clip_value, clip_value]``; returns
      the Euclidean norm before clamping (torch returns nothing).
    - ``"none"``: does no work at all and returns ``nan`` (use :func:`grad_norm` for telemetry).
    """
    if clip.mode == "none":
        return math.nan
    if clip.mode == "norm":
        total = grad_norm(grads, clip.norm_type)
        coef = clip.max_norm / (total + TORCH_CLIP_EPS)
        if not coef >= 1.0:  # also true for nan, so nan propagates like in torch
            if math.isfinite(total):
                grads *= coef
            else:  # inf * 0 -> nan, as in torch; no RuntimeWarning
                with np.errstate(invalid="ignore"):
                    grads *= coef
        return total
    if clip.mode == "value":
        total = grad_norm(grads, 2.0)
        np.clip(grads, -clip.clip_value, clip.clip_value, out=grads)
        return total
    raise ConfigError("grad_clip.mode", f"must be {_MODE.range_text()}, got {clip.mode!r}")
