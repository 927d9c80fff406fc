"""Output size of a convolution or pooling window along one spatial dimension.

    W2 = floor((W1 + 2P - D*(F - 1) - 1) / S) + 1

with input size W1, kernel (receptive field) F, zero padding P on each side, stride S and
dilation D. With D = 1 this is the CS231n form ``(W1 - F + 2P)/S + 1`` (rounded down), the same
rule as ``torch.nn.Conv2d``. The hyperparameters tile the input exactly ("valid" in the notes'
sense) when the division leaves no remainder; otherwise the last rows/columns of the padded input
are never covered by a window.

Pure standard library.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ConfigError


@dataclass(frozen=True)
class ConvShape:
    """Result of :func:`conv_shape`.

    ``remainder`` is ``(W1 + 2P - D*(F-1) - 1) mod S``: the number of padded input positions
    left over after the last window; ``valid`` is ``remainder == 0``.
    """

    output_size: int
    formula: str
    valid: bool
    remainder: int


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(name, f"must be an integer >= {minimum}, got {value!r}")
    return value


def conv_output_size(
    input_size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1
) -> int:
    """``floor((W1 + 2P - D*(F-1) - 1)/S) + 1``; raises ConfigError for impossible settings."""
    return conv_shape(input_size, kernel_size, padding, stride, dilation).output_size


def conv_shape(
    input_size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1
) -> ConvShape:
    """Output size, the formula with the numbers filled in, and whether the stride fits exactly.

    >>> conv_shape(5, 3, padding=0, stride=2).output_size  # the notes' example
    2
    """
    w1 = _check_int("input_size", input_size, 1)
    f = _check_int("kernel_size", kernel_size, 1)
    p = _check_int("padding", padding, 0)
    s = _check_int("stride", stride, 1)
    d = _check_int("dilation", dilation, 1)
    padded = w1 + 2 * p
    effective = d * (f - 1) + 1  # span of the dilated kernel
    if effective > padded:
        what = f"dilated kernel span D*(F-1)+1 = {effective}" if d > 1 else f"kernel size {f}"
        raise ConfigError(
            "kernel_size",
            f"{what} is larger than the padded input W1+2P = {w1}+2*{p} = {padded}",
        )
    numerator = padded - effective
    out = numerator // s + 1
    remainder = numerator % s
    if d == 1:
        formula = (
            f"W2 = floor((W1 - F + 2P)/S) + 1 = floor(({w1} - {f} + 2*{p})/{s}) + 1 = {out}"
        )
    else:
        formula = (
            f"W2 = floor((W1 + 2P - D*(F-1) - 1)/S) + 1 = "
            f"floor(({w1} + 2*{p} - {d}*({f}-1) - 1)/{s}) + 1 = {out}"
        )
    return ConvShape(output_size=out, formula=formula, valid=remainder == 0, remainder=remainder)
