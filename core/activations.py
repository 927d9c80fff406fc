"""Activation functions f(z), their derivatives f'(z), and weight-init gains.

Every activation follows PyTorch 2.x semantics and parameter names (``torch.nn.<Name>``), including
the value of the derivative at kinks (what autograd returns): ReLU'(0) = 0, LeakyReLU'(0) =
negative_slope, ELU'(0) = alpha, Softplus is linear where ``beta*z > threshold``.

Conventions
-----------
* ``forward(z, out=None)`` and ``derivative(z, a, out=None)`` work elementwise on float64 arrays of
  any shape; ``a`` must be ``forward(z)`` (sigmoid and tanh compute f' from it cheaply). ``out``
  may be a preallocated float64 buffer of the same shape (it may not alias ``z``, nor ``a`` in
  ``derivative``) so the model avoids allocations in its hot loop.
* No overflow, division or invalid-value warnings for any finite input (z = ±1000 included).
  Results that are genuinely smaller than the smallest float64 underflow to 0.
* Saturation: a unit is *saturated* when f'(z) < 5 % of the peak of f' (``SATURATION_FRACTION``).
  Only sigmoid and tanh saturate (both ends flatten): sigmoid when a(1 − a) < 0.0125
  (|z| > 4.36), tanh when 1 − a² < 0.05 (|z| > 2.18). ``saturated(a)`` is all False for the others.
* Dead units are defined for ReLU only (``relu_like``): a == 0 on the whole batch.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from core.errors import ConfigError
from core.registry import Param, Registry

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

SATURATION_FRACTION = 0.05
"""A unit is saturated when f'(z) < SATURATION_FRACTION * max f'."""

ACTIVATIONS: Registry[Activation] = Registry("activation")

_SQRT2 = math.sqrt(2.0)
_EXP_MAX = 709.0  # exp(709) < float64 max (exp(709.78) overflows)


def _buf(z: FloatArray, out: FloatArray | None) -> FloatArray:
    return np.empty_like(z, dtype=np.float64) if out is None else out


def _sigmoid_into(z: FloatArray, out: FloatArray) -> FloatArray:
    """σ(z) = 1 / (1 + e^(−z)) written into ``out`` (torch's formula).

    e^(−z) is capped at e^709 so z < −709 gives ~1e-308 instead of an overflow warning; the true
    value is below 1e-308 there, so the absolute error is < 1e-308.
    """
    np.negative(z, out=out)
    np.minimum(out, _EXP_MAX, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.divide(1.0, out, out=out)
    return out


def sigmoid(z: FloatArray) -> FloatArray:
    """Numerically safe logistic function (any shape)."""
    z = np.asarray(z, dtype=np.float64)
    return _sigmoid_into(z, np.empty_like(z))


# --- vectorised normal CDF -------------------------------------------------------------------
# Rational approximations of erf / erfc from Cephes (S. L. Moshier, ``ndtr.c``; the ones SciPy
# uses). erf(t) = t·T(t²)/U(t²) for |t| < 1; erfc(t) = e^(−t²)·P(t)/Q(t)
# for 1 <= t < 8 and e^(−t²)·R(t)/S(t) for t >= 8. All coefficients are positive, so evaluating
# the polynomials as one Vandermonde matrix product (a single BLAS call for all six polynomials)
# adds no cancellation.
_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_U = (
    1.0,
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_Q = (
    1.0,
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_S = (
    1.0,
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)


def _coef_matrix() -> FloatArray:
    """Columns T, U (in t², i.e. even powers of t), P, Q, R, S as ascending powers t^0..t^10."""
    m = np.zeros((11, 6))
    columns = ((_T, 2), (_U, 2), (_P, 1), (_Q, 1), (_R, 1), (_S, 1))
    for col, (coefs, step) in enumerate(columns):
        for i, c in enumerate(reversed(coefs)):  # Cephes lists the highest power first
            m[i * step, col] = c
    return m


_ERF_COEF_T = np.ascontiguousarray(_coef_matrix().T)  # (6, 11)


def norm_cdf(x: FloatArray) -> FloatArray:
    """Φ(x) = ½·erfc(−x/√2), the standard normal CDF, elementwise (relative error < 1e-13).

    Accurate in both tails (uses erfc, never 1 − erf, for the small side). Shape preserved.
    """
    x = np.asarray(x, dtype=np.float64)
    t = (x * (1.0 / _SQRT2)).ravel()
    s = np.abs(t)
    # Past |t| = 38, e^(−t²) underflows to exactly 0; the cap keeps the powers (t^10) finite.
    np.minimum(s, 38.0, out=s)
    powers = np.empty((11, s.size))  # s^0 .. s^10, one row each (faster than np.vander)
    powers[0] = 1.0
    powers[1] = s
    for k in range(2, 11):
        np.multiply(powers[k - 1], s, out=powers[k])
    tt, uu, pp, qq, rr, ss = _ERF_COEF_T @ powers  # the six polynomials, each (n,)
    half_erfc = np.where(s < 8.0, pp / qq, rr / ss)
    half_erfc *= np.exp(-s * s)
    half_erfc *= 0.5  # ½·erfc(|t|)
    phi = np.where(t < 0.0, half_erfc, 1.0 - half_erfc)
    # |t| < 1: Φ = ½ + ½·erf(t), erf(t) = t·T(t²)/U(t²)
    tt *= t
    tt /= uu
    tt *= 0.5
    tt += 0.5
    np.copyto(phi, tt, where=s < 1.0)
    return phi.reshape(x.shape)


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# --- activation classes --------------------------------------------------------------------


class Activation:
    """Base class: elementwise f(z) and f'(z). Subclasses set ``name`` and override the maths."""

    name: ClassVar[str] = ""
    saturating: ClassVar[bool] = False
    relu_like: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        raise NotImplementedError

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        raise NotImplementedError

    def saturated(self, a: FloatArray) -> BoolArray:
        """Boolean mask of saturated units (see module docstring); all False unless saturating."""
        return np.zeros(np.shape(a), dtype=bool)


@ACTIVATIONS.register(
    "identity",
    label="Identity (linear)",
    formula="f(z) = z,  f'(z) = 1",
    description="No nonlinearity: a stack of identity layers is one linear map.",
    torch="torch.nn.Identity()",
)
class Identity(Activation):
    name = "identity"

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _buf(z, out)
        np.copyto(out, z)
        return out

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _buf(z, out)
        out.fill(1.0)
        return out


_SIG_THRESH = SATURATION_FRACTION * 0.25  # 0.0125
_TANH_THRESH = SATURATION_FRACTION * 1.0  # 0.05


@ACTIVATIONS.register(
    "sigmoid",
    label="Sigmoid (logistic)",
    formula="σ(z) = 1 / (1 + e^(−z)),  σ'(z) = σ(z)(1 − σ(z))  (peak 1/4 at z = 0)",
    description=(
        "Squashes to (0, 1). Saturates at both ends: a unit counts as saturated when "
        "σ'(z) = a(1 − a) < 0.0125, i.e. 5% of the peak 0.25 (|z| > 4.36)."
    ),
    torch="torch.nn.Sigmoid()",
)
class Sigmoid(Activation):
    name = "sigmoid"
    saturating = True

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        return _sigmoid_into(z, _buf(z, out))

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _buf(z, out)
        np.subtract(1.0, a, out=out)
        out *= a
        return out

    def saturated(self, a: FloatArray) -> BoolArray:
        return (a * (1.0 - a)) < _SIG_THRESH


@ACTIVATIONS.register(
    "tanh",
    label="Tanh",
    formula=(
        "tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z)),  tanh'(z) = 1 − tanh²(z)  (peak 1 at z = 0)"
    ),
    description=(
        "Squashes to (−1, 1), zero-centred. Saturates at both ends: a unit counts as saturated "
        "when 1 − a² < 0.05, i.e. 5% of the peak 1 (|z| > 2.18)."
    ),
    torch="torch.nn.Tanh()",
)
class Tanh(Activation):
    name = "tanh"
    saturating = True

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        return np.tanh(z, out=_buf(z, out))

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _buf(z, out)
        np.multiply(a, a, out=out)
        np.subtract(1.0, out, out=out)
        return out

    def saturated(self, a: FloatArray) -> BoolArray:
        return (1.0 - a * a) < _TANH_THRESH


@ACTIVATIONS.register(
    "relu",
    label="ReLU",
    formula="f(z) = max(0, z),  f'(z) = 1 if z > 0 else 0  (f'(0) = 0, as torch)",
    description="Does not saturate for z > 0. A unit is dead when it outputs 0 on the whole batch.",
    torch="torch.nn.ReLU()",
)
class ReLU(Activation):
    name = "relu"
    relu_like = True

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        return np.maximum(z, 0.0, out=_buf(z, out))

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        return np.greater(z, 0.0, out=_buf(z, out))


@ACTIVATIONS.register(
    "leaky_relu",
    label="Leaky ReLU",
    formula="f(z) = z if z > 0 else s·z,  f'(z) = 1 if z > 0 else s  (s = negative_slope)",
    params=[
        Param(
            "negative_slope",
            "float",
            0.01,
            min=0.0,
            max=1.0,
            help="slope s for z <= 0 (torch default 0.01)",
        )
    ],
    description="Like ReLU but keeps a small gradient s for z <= 0, so units cannot die.",
    torch="torch.nn.LeakyReLU(negative_slope=0.01)",
)
class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__(negative_slope=negative_slope)
        self.negative_slope = float(negative_slope)

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = np.multiply(z, self.negative_slope, out=_buf(z, out))
        np.copyto(out, z, where=z > 0.0)
        return out

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _buf(z, out)
        out.fill(self.negative_slope)
        np.copyto(out, 1.0, where=z > 0.0)
        return out


@ACTIVATIONS.register(
    "elu",
    label="ELU",
    formula="f(z) = z if z > 0 else α(e^z − 1),  f'(z) = 1 if z > 0 else α·e^z  (f'(0) = α)",
    params=[Param("alpha", "float", 1.0, min=0.0, exclusive_min=True, max=10.0, help="α")],
    description="Smooth for α = 1; negative outputs push mean activations towards zero.",
    torch="torch.nn.ELU(alpha=1.0)",
)
class ELU(Activation):
    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=alpha)
        self.alpha = float(alpha)

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = np.minimum(z, 0.0, out=_buf(z, out))
        np.expm1(out, out=out)  # expm1: accurate for tiny |z|
        out *= self.alpha
        np.copyto(out, z, where=z > 0.0)
        return out

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        # α·e^z from z (not a + α, which cancels for very negative z).
        out = np.minimum(z, 0.0, out=_buf(z, out))
        np.exp(out, out=out)
        out *= self.alpha
        np.copyto(out, 1.0, where=z > 0.0)
        return out


@ACTIVATIONS.register(
    "softplus",
    label="Softplus",
    formula=(
        "f(z) = (1/β)·ln(1 + e^(βz)), and f(z) = z where βz > threshold;  "
        "f'(z) = σ(βz), and 1 where βz > threshold"
    ),
    params=[
        Param("beta", "float", 1.0, min=0.0, exclusive_min=True, max=100.0, help="β"),
        Param(
            "threshold",
            "float",
            20.0,
            min=0.0,
            exclusive_min=True,
            max=1000.0,
            help="above β·z > threshold the function is taken as linear (torch semantics)",
        ),
    ],
    description="A smooth ReLU; computed stably via log-sum-exp.",
    torch="torch.nn.Softplus(beta=1.0, threshold=20.0)",
)
class Softplus(Activation):
    name = "softplus"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__(beta=beta, threshold=threshold)
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        bz = z * self.beta
        out = np.logaddexp(0.0, bz, out=_buf(z, out))  # ln(1 + e^(βz)) without overflow
        out *= 1.0 / self.beta
        np.copyto(out, z, where=bz > self.threshold)
        return out

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        bz = z * self.beta
        out = _sigmoid_into(bz, _buf(z, out))
        np.copyto(out, 1.0, where=bz > self.threshold)
        return out


_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


@ACTIVATIONS.register(
    "gelu",
    label="GELU",
    formula=(
        "approximate='none' (exact, erf form): f(z) = z·Φ(z) = z·½(1 + erf(z/√2)),  "
        "f'(z) = Φ(z) + z·φ(z);  approximate='tanh': "
        "f(z) = ½z(1 + tanh(√(2/π)(z + 0.044715z³)))"
    ),
    params=[
        Param(
            "approximate",
            "choice",
            "none",
            choices=("none", "tanh"),
            help="'none' = exact erf form (torch default); 'tanh' = the tanh approximation",
        )
    ],
    description="Gaussian Error Linear Unit: weights z by the standard normal CDF Φ(z).",
    torch="torch.nn.GELU(approximate='none')",
)
class GELU(Activation):
    name = "gelu"

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ConfigError("approximate", f"must be one of 'none', 'tanh', got {approximate!r}")
        super().__init__(approximate=approximate)
        self.approximate = approximate

    def _tanh_inner(self, z: FloatArray) -> FloatArray:
        return np.tanh(_GELU_K * (z + _GELU_C * (z * z * z)))

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _buf(z, out)
        if self.approximate == "tanh":
            np.add(self._tanh_inner(z), 1.0, out=out)
            out *= z
            out *= 0.5
            return out
        return np.multiply(z, norm_cdf(z), out=out)

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _buf(z, out)
        if self.approximate == "tanh":
            # torch's GeluBackward (tanh): ½(1 + t) + ½z(1 − t²)·√(2/π)(1 + 3·0.044715·z²)
            t = self._tanh_inner(z)
            inner_d = _GELU_K * (1.0 + (3.0 * _GELU_C) * (z * z))
            np.multiply(t, t, out=out)
            np.subtract(1.0, out, out=out)
            out *= inner_d
            out *= z
            out += 1.0 + t
            out *= 0.5
            return out
        pdf = np.exp(-0.5 * (z * z))
        pdf *= _INV_SQRT_2PI
        np.multiply(z, pdf, out=out)
        out += norm_cdf(z)
        return out


@ACTIVATIONS.register(
    "silu",
    label="SiLU (swish)",
    formula="f(z) = z·σ(z),  f'(z) = σ(z)(1 + z(1 − σ(z)))",
    description="Smooth, non-monotonic near z ≈ −1.28; also called swish.",
    torch="torch.nn.SiLU()",
)
class SiLU(Activation):
    name = "silu"

    def forward(self, z: FloatArray, out: FloatArray | None = None) -> FloatArray:
        out = _sigmoid_into(z, _buf(z, out))
        out *= z
        return out

    def derivative(self, z: FloatArray, a: FloatArray, out: FloatArray | None = None) -> FloatArray:
        s = _sigmoid_into(z, np.empty_like(z))
        out = np.subtract(1.0, s, out=_buf(z, out))
        out *= z
        out += 1.0
        out *= s
        return out


# --- softmax, gains, curves ------------------------------------------------------------------


def softmax(z: FloatArray, axis: int = -1) -> FloatArray:
    """Stable softmax along ``axis`` (the max is subtracted first); same shape as ``z``."""
    z = np.asarray(z, dtype=np.float64)
    e = z - np.max(z, axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(z: FloatArray, axis: int = -1) -> FloatArray:
    """Stable log-softmax: z − max − ln Σ e^(z − max); same shape as ``z``."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    shifted -= lse
    return shifted


_LINEAR_NAMES = (
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """``torch.nn.init.calculate_gain``: the recommended gain for a nonlinearity.

    linear / conv* / sigmoid → 1, tanh → 5/3, relu → √2, leaky_relu → √(2 / (1 + slope²)) with
    slope = ``param`` (default 0.01), selu → 3/4. ``"identity"`` is accepted as an alias of
    ``"linear"`` (an extension; torch rejects it). Unknown names raise ConfigError.
    """
    if nonlinearity in _LINEAR_NAMES or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ConfigError("param", f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ConfigError("nonlinearity", f"unsupported nonlinearity {nonlinearity!r}")


def activation_gain(activation: Activation) -> float:
    """Gain used by kaiming initialisation for a layer followed by ``activation``.

    identity → 1, sigmoid → 1, tanh → 5/3, relu → √2, leaky_relu → √(2/(1 + s²)) with its own
    negative_slope (all as ``calculate_gain``). torch defines no gain for elu, softplus, gelu and
    silu; we use √2 (the ReLU gain) for them because they are ReLU-like for z > 0.
    """
    name = activation.name
    if name == "leaky_relu":
        return calculate_gain("leaky_relu", activation.params["negative_slope"])
    if name in ("identity", "sigmoid", "tanh", "relu"):
        return calculate_gain(name)
    return math.sqrt(2.0)


def curve(name: str, params: dict[str, Any] | None, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(f(x), f'(x)) for the activation ``name`` with ``params`` (validated); for the curve view."""
    act = ACTIVATIONS.create(name, params or {})
    x = np.asarray(x, dtype=np.float64)
    a = act.forward(x)
    return a, act.derivative(x, a)
