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


def pool_shape(
    input_size: int,
    kernel_size: int,
    padding: int = 0,
    stride: int | None = None,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> ConvShape:
    """Output size of ``torch.nn.MaxPool2d`` along one dimension (``stride`` None = kernel).

    ``floor((W1 + 2P - D*(F-1) - 1)/S) + 1``, or with ``ceil_mode`` the ceiling, except that a
    last window starting inside the right padding is dropped (torch's
    ``pooling_output_shape``: if ``(W2 - 1)*S >= W1 + P`` then ``W2 -= 1``). As torch, the
    padding may be at most half the kernel size: ``P <= F // 2``.
    """
    w1 = _check_int("input_size", input_size, 1)
    f = _check_int("kernel_size", kernel_size, 1)
    p = _check_int("padding", padding, 0)
    s = f if stride is None else _check_int("stride", stride, 1)
    d = _check_int("dilation", dilation, 1)
    effective = d * (f - 1) + 1
    if p > f // 2:  # torch checks the undilated kernel: kW/2 >= padW
        raise ConfigError(
            "padding",
            f"must be an integer with 0 <= x <= {f // 2} for pooling (at most half the kernel "
            f"size F = {f}, as torch)",
        )
    if not ceil_mode:
        return conv_shape(w1, f, p, s, d)
    numerator = w1 + 2 * p - effective
    # torch's pooling_output_shape: ceil via (numerator + S - 1) // S (floor division, so a
    # kernel wider than the padded input can still give one window when S is large enough)
    out = (numerator + s - 1) // s + 1
    dropped = (out - 1) * s >= w1 + p
    if dropped:
        out -= 1
    if out < 1:
        raise ConfigError(
            "kernel_size",
            f"dilated kernel span D*(F-1)+1 = {effective} leaves no window in the padded input "
            f"W1+2P = {w1}+2*{p} = {w1 + 2 * p} (output size {out})",
        )
    remainder = numerator % s
    formula = (
        f"W2 = ceil((W1 + 2P - D*(F-1) - 1)/S) + 1 = "
        f"ceil(({w1} + 2*{p} - {d}*({f}-1) - 1)/{s}) + 1"
        + (f" - 1 = {out} (the last window would start in the padding)" if dropped else f" = {out}")
    )
    return ConvShape(output_size=out, formula=formula, valid=remainder == 0, remainder=remainder)


def window_starts(output_size: int, stride: int) -> list[int]:
    """Start index of every window in padded-input coordinates: ``i*S`` for ``i < W2``."""
    return [i * stride for i in range(output_size)]
