"""Layers with explicit forward and backward passes.

Every trainable array is a *view* into the model's flat parameter vector (and every gradient a
view into the flat gradient vector), so the layers write their gradients straight into the place
the optimizer reads them from. Shapes: a batch ``x`` is ``(n, d_in)``; ``W`` is ``(d_in, d_out)``
and ``z = x @ W + b`` (the notes' convention; torch stores ``W.T``).

Batch norm and layer norm follow ``torch.nn.BatchNorm1d`` / ``torch.nn.LayerNorm`` exactly:
batch norm normalises with the biased batch variance, updates ``running_var`` with the unbiased
one, uses ``momentum=0.1`` as ``running = (1 - momentum) * running + momentum * batch_stat`` and
``eps=1e-5``; in eval mode it uses the running statistics. Dropout is inverted dropout (kept
units are scaled by ``1 / (1 - p)`` in training; identity in eval), as ``torch.nn.Dropout``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

BN_MOMENTUM = 0.1
NORM_EPS = 1e-5


class Dense:
    """``z = x @ W + b``. ``W (d_in, d_out)``, ``b (d_out,)`` and their gradients are views."""

    def __init__(self, W: FloatArray, b: FloatArray, dW: FloatArray, db: FloatArray) -> None:
        self.W, self.b, self.dW, self.db = W, b, dW, db
        self.x: FloatArray | None = None

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        """``x (n, d_in) -> z (n, d_out)``; caches ``x`` for the backward pass when training."""
        if train:
            self.x = x
        z = x @ self.W
        z += self.b
        return z

    def backward(self, gz: FloatArray, need_dx: bool = True) -> FloatArray | None:
        """``gz = dL/dz (n, d_out)``: writes dL/dW and dL/db, returns dL/dx ``(n, d_in)``.

        If the forward pass carried extra rows after the batch, only the first ``n`` count."""
        assert self.x is not None, "backward before forward"
        x = self.x if len(self.x) == len(gz) else self.x[: len(gz)]  # batch rows only
        np.matmul(x.T, gz, out=self.dW)
        np.add.reduce(gz, axis=0, out=self.db)
        return gz @ self.W.T if need_dx else None


class BatchNorm1d:
    """Batch normalisation over the batch axis, per feature (``torch.nn.BatchNorm1d``).

    ``gamma``/``beta`` (d,) and their gradients are views into the flat vectors;
    ``running_mean``/``running_var`` (d,) are views into the model's buffer vector.
    """

    def __init__(
        self,
        gamma: FloatArray,
        beta: FloatArray,
        dgamma: FloatArray,
        dbeta: FloatArray,
        running_mean: FloatArray,
        running_var: FloatArray,
        momentum: float = BN_MOMENTUM,
        eps: float = NORM_EPS,
    ) -> None:
        self.gamma, self.beta, self.dgamma, self.dbeta = gamma, beta, dgamma, dbeta
        self.running_mean, self.running_var = running_mean, running_var
        self.momentum, self.eps = momentum, eps
        self._xhat: FloatArray | None = None
        self._inv_std: FloatArray | None = None
        # The last training batch's statistics (d,): mean and biased variance, and its size.
        self.batch_mean: FloatArray | None = None
        self.batch_var: FloatArray | None = None
        self.batch_n = 0

    def forward(self, z: FloatArray, train: bool = True) -> FloatArray:
        """``z (n, d) -> y (n, d)``. Training needs ``n >= 2`` (as torch)."""
        if train:
            n = z.shape[0]
            mean = z.mean(axis=0)
            centred = z - mean
            var = np.einsum("ij,ij->j", centred, centred) / n  # biased, for normalising
            inv_std = 1.0 / np.sqrt(var + self.eps)
            xhat = centred
            xhat *= inv_std
            self._xhat, self._inv_std = xhat, inv_std
            self.batch_mean, self.batch_var, self.batch_n = mean, var, n
            m = self.momentum
            self.running_mean *= 1.0 - m
            self.running_mean += m * mean
            self.running_var *= 1.0 - m
            self.running_var += (m * n / (n - 1)) * var  # unbiased, as torch
        else:
            xhat = (z - self.running_mean) / np.sqrt(self.running_var + self.eps)
        y = xhat * self.gamma
        y += self.beta
        return y

    def normalize(self, z: FloatArray, train: bool) -> FloatArray:
        """``z (n, d) -> y (n, d)`` like :meth:`forward` but without side effects: train mode
        normalises with the batch statistics and leaves the running statistics and the
        backward caches alone (a look at train mode that does not change the run)."""
        if train:
            centred = z - z.mean(axis=0)  # the same operations as forward: the same numbers
            var = np.einsum("ij,ij->j", centred, centred) / z.shape[0]
            xhat = centred * (1.0 / np.sqrt(var + self.eps))
        else:
            xhat = (z - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return xhat * self.gamma + self.beta

    def folded_affine(self) -> tuple[FloatArray, FloatArray]:
        """Eval mode as one affine map per unit, ``y = scale * z + shift`` ``(d,), (d,)``:
        ``scale = gamma / sqrt(running_var + eps)``, ``shift = beta - scale * running_mean``
        (what ``torch.nn.utils.fusion.fuse_linear_bn_eval`` folds into the dense layer)."""
        scale = self.gamma / np.sqrt(self.running_var + self.eps)
        return scale, self.beta - scale * self.running_mean

    def backward(self, gy: FloatArray) -> FloatArray:
        """``gy = dL/dy (n, d)``: writes dL/dgamma, dL/dbeta, returns dL/dz ``(n, d)``."""
        xhat, inv_std = self._xhat, self._inv_std
        assert xhat is not None and inv_std is not None, "backward before forward"
        n = gy.shape[0]
        np.einsum("ij,ij->j", gy, xhat, out=self.dgamma)
        np.add.reduce(gy, axis=0, out=self.dbeta)
        # dL/dz = gamma/sigma * (gy - mean(gy) - xhat * mean(gy * xhat))
        gz = gy - self.dbeta / n
        gz -= xhat * (self.dgamma / n)
        gz *= self.gamma * inv_std
        return gz


class LayerNorm:
    """Layer normalisation over the feature axis, per example (``torch.nn.LayerNorm(d)``)."""

    def __init__(
        self,
        gamma: FloatArray,
        beta: FloatArray,
        dgamma: FloatArray,
        dbeta: FloatArray,
        eps: float = NORM_EPS,
    ) -> None:
        self.gamma, self.beta, self.dgamma, self.dbeta = gamma, beta, dgamma, dbeta
        self.eps = eps
        self._xhat: FloatArray | None = None
        self._inv_std: FloatArray | None = None

    def forward(self, z: FloatArray, train: bool = True) -> FloatArray:
        """``z (n, d) -> y (n, d)``; identical in train and eval mode."""
        mean = z.mean(axis=1, keepdims=True)
        centred = z - mean
        var = np.einsum("ij,ij->i", centred, centred)[:, None] / z.shape[1]
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = centred
        xhat *= inv_std
        if train:
            self._xhat, self._inv_std = xhat, inv_std
        y = xhat * self.gamma
        y += self.beta
        return y

    def backward(self, gy: FloatArray) -> FloatArray:
        """``gy = dL/dy (n, d)``: writes dL/dgamma, dL/dbeta, returns dL/dz ``(n, d)``."""
        xhat, inv_std = self._xhat, self._inv_std
        assert xhat is not None and inv_std is not None, "backward before forward"
        if len(xhat) != len(gy):  # the forward pass carried extra (evaluation) rows
            xhat, inv_std = xhat[: len(gy)], inv_std[: len(gy)]
        d = gy.shape[1]
        np.einsum("ij,ij->j", gy, xhat, out=self.dgamma)
        np.add.reduce(gy, axis=0, out=self.dbeta)
        gxhat = gy * self.gamma
        gz = gxhat - gxhat.mean(axis=1, keepdims=True)
        gz -= xhat * (np.einsum("ij,ij->i", gxhat, xhat)[:, None] / d)
        gz *= inv_std
        return gz


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator) -> FloatArray:
    """Inverted-dropout mask: 0 with probability ``p``, else ``1 / (1 - p)``.

    Multiplying activations by the mask in training keeps their expectation unchanged, so eval
    mode is the identity (``torch.nn.Dropout``). The backward pass multiplies by the same mask.
    """
    keep = rng.random(shape) >= p
    return keep * (1.0 / (1.0 - p))
