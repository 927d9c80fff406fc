"""Loss functions with their gradient w.r.t. the network output.

All losses use torch's ``reduction="mean"`` semantics: the elementwise loss is averaged over every
element of ``out`` (n·k of them), except ``cross_entropy``, which averages over the n rows. The
gradient is dL/d(out), same shape as ``out``; at kinks it equals what torch autograd returns
(L1: sign(0) = 0; SmoothL1/Huber: the quadratic branch's value, which is continuous there).

Shapes (see docs/engine.md): ``out`` is (n, k). Targets: regression (n, k) float; binary (n, 1)
float in [0, 1] (used with ``bce_with_logits``, out holds logits); multiclass (n,) integer class
ids in [0, K) (``cross_entropy``, out holds (n, K) logits).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from core.registry import Param, Registry

FloatArray = NDArray[np.float64]


def _mean(x: FloatArray) -> float:
    """Mean of all elements; ``np.add.reduce`` skips np.mean's Python-level overhead, which
    dominates on the tiny batches this engine trains on."""
    return float(np.add.reduce(x, axis=None)) / x.size

LOSSES: Registry[Loss] = Registry("loss")


class Loss:
    """Base class. Subclasses implement ``value_and_grad``; ``value`` defaults to it."""

    name: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        """Mean loss (float)."""
        return self.value_and_grad(out, target)[0]

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        """(mean loss, dL/d(out) with out's shape)."""
        raise NotImplementedError


def _diff(out: FloatArray, target: NDArray[Any]) -> FloatArray:
    out = np.asarray(out, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if out.shape != target.shape:
        raise ValueError(f"out {out.shape} and target {target.shape} must have the same shape")
    return out - target


_REG = ("regression",)


@LOSSES.register(
    "mse",
    label="Mean squared error (torch MSELoss)",
    formula="L = mean((ŷ − y)²),  ∂L/∂ŷ = 2(ŷ − y) / N  (N = number of elements)",
    tasks=list(_REG),
    torch="torch.nn.MSELoss()",
)
class MSE(Loss):
    name = "mse"
    tasks = _REG

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        d = _diff(out, target)
        return float(_mean(d * d))

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        d = _diff(out, target)
        val = float(_mean(d * d))
        d *= 2.0 / d.size
        return val, d


@LOSSES.register(
    "half_mse",
    label="Half squared error ½(ŷ − y)² (textbook)",
    formula="L = mean(½(ŷ − y)²),  ∂L/∂ŷ = (ŷ − y) / N;  one output, one example: L = ½(ŷ − y)²",
    description=(
        "The notes' textbook loss: the ½ cancels the 2 of the derivative. Averaged over all "
        "elements (like MSELoss), so it is exactly MSE / 2."
    ),
    tasks=list(_REG),
    torch="0.5 * torch.nn.MSELoss()",
)
class HalfMSE(Loss):
    name = "half_mse"
    tasks = _REG

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        d = _diff(out, target)
        return float(0.5 * _mean(d * d))

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        d = _diff(out, target)
        val = float(0.5 * _mean(d * d))
        d *= 1.0 / d.size
        return val, d


@LOSSES.register(
    "mae",
    label="Mean absolute error (torch L1Loss)",
    formula="L = mean(|ŷ − y|),  ∂L/∂ŷ = sign(ŷ − y) / N  (0 at ŷ = y, as torch)",
    tasks=list(_REG),
    torch="torch.nn.L1Loss()",
)
class MAE(Loss):
    name = "mae"
    tasks = _REG

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        return float(_mean(np.abs(_diff(out, target))))

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        d = _diff(out, target)
        val = float(_mean(np.abs(d)))
        g = np.sign(d)
        g *= 1.0 / d.size
        return val, g


@LOSSES.register(
    "smooth_l1",
    label="Smooth L1 (torch SmoothL1Loss)",
    formula=(
        "l(d) = ½d²/β if |d| < β else |d| − ½β  (d = ŷ − y),  L = mean(l);  "
        "∂L/∂ŷ = clip(d/β, −1, 1) / N;  β = 0 is L1"
    ),
    params=[Param("beta", "float", 1.0, min=0.0, help="where the quadratic part ends (β)")],
    tasks=list(_REG),
    torch="torch.nn.SmoothL1Loss(beta=1.0)",
)
class SmoothL1(Loss):
    name = "smooth_l1"
    tasks = _REG

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__(beta=beta)
        self.beta = float(beta)

    def _elementwise(self, d: FloatArray) -> FloatArray:
        ad = np.abs(d)
        if self.beta == 0.0:  # torch: beta == 0 is exactly l1_loss
            return ad
        return np.where(ad < self.beta, (0.5 / self.beta) * (d * d), ad - 0.5 * self.beta)

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        return float(_mean(self._elementwise(_diff(out, target))))

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        d = _diff(out, target)
        val = float(_mean(self._elementwise(d)))
        g = np.sign(d) if self.beta == 0.0 else np.clip(d * (1.0 / self.beta), -1.0, 1.0)
        g *= 1.0 / d.size
        return val, g


@LOSSES.register(
    "huber",
    label="Huber (torch HuberLoss)",
    formula=(
        "l(d) = ½d² if |d| < δ else δ(|d| − ½δ)  (d = ŷ − y),  L = mean(l);  "
        "∂L/∂ŷ = clip(d, −δ, δ) / N"
    ),
    params=[
        Param("delta", "float", 1.0, min=0.0, exclusive_min=True, help="where the quadratic ends")
    ],
    description="Equals δ · SmoothL1 with β = δ.",
    tasks=list(_REG),
    torch="torch.nn.HuberLoss(delta=1.0)",
)
class Huber(Loss):
    name = "huber"
    tasks = _REG

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__(delta=delta)
        self.delta = float(delta)

    def _elementwise(self, d: FloatArray) -> FloatArray:
        ad = np.abs(d)
        return np.where(ad < self.delta, 0.5 * (d * d), self.delta * (ad - 0.5 * self.delta))

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        return float(_mean(self._elementwise(_diff(out, target))))

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        d = _diff(out, target)
        val = float(_mean(self._elementwise(d)))
        g = np.clip(d, -self.delta, self.delta)
        g *= 1.0 / d.size
        return val, g


@LOSSES.register(
    "bce_with_logits",
    label="Binary cross-entropy on logits (torch BCEWithLogitsLoss)",
    formula=(
        "l = −[y·ln σ(z) + (1 − y)·ln(1 − σ(z))] = max(z, 0) − z·y + ln(1 + e^(−|z|)),  "
        "L = mean(l);  ∂L/∂z = (σ(z) − y) / N"
    ),
    description=(
        "Sigmoid and binary cross-entropy fused: stable for any logit z (no log(0)). Target y "
        "is (n, 1) in [0, 1]; out holds logits."
    ),
    tasks=["binary"],
    torch="torch.nn.BCEWithLogitsLoss()",
)
class BCEWithLogits(Loss):
    name = "bce_with_logits"
    tasks = ("binary",)

    @staticmethod
    def _elementwise(z: FloatArray, y: FloatArray) -> FloatArray:
        # max(z,0) − z·y + ln(1 + e^(−|z|)); log1p keeps precision when e^(−|z|) is tiny.
        return np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        z = np.asarray(out, dtype=np.float64)
        y = np.asarray(target, dtype=np.float64)
        _diff(z, y)  # shape check
        return float(_mean(self._elementwise(z, y)))

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        z = np.asarray(out, dtype=np.float64)
        y = np.asarray(target, dtype=np.float64)
        _diff(z, y)
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
        val = float(_mean(np.maximum(z, 0.0) - z * y + np.log1p(e)))
        # σ(z) = 1/(1+e) for z >= 0, e/(1+e) for z < 0
        sig = np.where(z >= 0.0, 1.0, e)
        sig /= 1.0 + e
        sig -= y
        sig *= 1.0 / z.size
        return val, sig


@LOSSES.register(
    "cross_entropy",
    label="Softmax cross-entropy (torch CrossEntropyLoss)",
    formula=(
        "L = mean over rows of −ln softmax(z)_y = ln Σ_j e^(z_j) − z_y,  "
        "∂L/∂z = (softmax(z) − onehot(y)) / n"
    ),
    description=(
        "Softmax and negative log-likelihood fused (log-sum-exp with the row max subtracted). "
        "out (n, K) logits, target (n,) integer class ids."
    ),
    tasks=["multiclass"],
    torch="torch.nn.CrossEntropyLoss()",
)
class CrossEntropy(Loss):
    name = "cross_entropy"
    tasks = ("multiclass",)

    @staticmethod
    def _check(z: FloatArray, target: NDArray[Any]) -> tuple[FloatArray, NDArray[np.intp]]:
        z = np.asarray(z, dtype=np.float64)
        t = np.asarray(target)
        if z.ndim != 2 or t.shape != (z.shape[0],):
            raise ValueError(
                f"cross_entropy needs out (n, K) and target (n,), got {z.shape} and {t.shape}"
            )
        if t.dtype.kind not in "iu":
            if not np.all(np.equal(np.mod(t, 1), 0)):
                raise ValueError("cross_entropy target must hold integer class ids")
            t = t.astype(np.intp)
        return z, t

    @staticmethod
    def _shifted(z: FloatArray) -> tuple[FloatArray, FloatArray]:
        shifted = z - np.max(z, axis=1, keepdims=True)
        e = np.exp(shifted)
        return shifted, e

    def value(self, out: FloatArray, target: NDArray[Any]) -> float:
        z, t = self._check(out, target)
        shifted, e = self._shifted(z)
        rows = np.arange(z.shape[0])
        return float(_mean(np.log(np.add.reduce(e, axis=1)) - shifted[rows, t]))

    def value_and_grad(self, out: FloatArray, target: NDArray[Any]) -> tuple[float, FloatArray]:
        z, t = self._check(out, target)
        shifted, e = self._shifted(z)
        rows = np.arange(z.shape[0])
        s = np.add.reduce(e, axis=1)
        val = float(_mean(np.log(s) - shifted[rows, t]))
        e /= s[:, None]  # softmax
        e[rows, t] -= 1.0
        e *= 1.0 / z.shape[0]
        return val, e
