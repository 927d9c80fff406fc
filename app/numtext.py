"""Vectorised JSON number text: float64 arrays to the exact bytes of Python's ``repr``.

Encoding a 1,000-step response spends most of its time in ``float.__repr__`` (~0.3-0.4 µs per
number on the dev machine, ~33 numbers per record). This module formats arrays with NumPy
instead (about 2x faster in blocks of a few thousand values; ``bench/encode.py``), and the
text is byte for byte what ``json.dumps`` writes: the shortest decimal that reads back as the
same float (the tests compare it with ``repr`` over random bit patterns and edge cases).

1. Each value ``a`` (finite, in 1e-280..1e280, not a power of two) is scaled to
   ``P = a * 10**k`` in [1e16, 1e17) in double-double arithmetic (Dekker's exact two-product
   against a table of 10**k kept to ~106 bits), so P is known to ~1e-13 of a unit.
2. The n-digit decimals nearest to ``a`` for n = 17, 16, 15 are ``round(P / 10**(17 - n))``.
   The shortest of them that reads back as ``a`` (its distance to ``a`` is under half an ulp)
   is what ``repr`` writes: at most one 15-digit decimal lies within half an ulp of a float
   (so a shorter text is that one without its trailing zeros), and among 16- or 17-digit
   candidates ``repr`` takes the nearest.
3. Digits go through a 4-digit lookup table into byte matrices laid out as ``repr`` does
   (fixed notation for 1e-4 <= |a| < 1e16, exponent notation otherwise). Positions a text does
   not use hold NUL bytes, which :func:`join` drops.

Values the arithmetic cannot decide safely (a distance within 1e-7 of a tie or of half an ulp:
none in the records of real runs, but e.g. a third of the floats in 1e13..1e17 with few fraction
bits, which are exact ties), values outside 1e-280..1e280 and exact powers of two (whose
rounding interval is lopsided) take their digits from ``repr`` itself (powers of two from a
table), so every text is exact, only slower. NaN and ±inf become ``null``.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from functools import cache

import numpy as np

WIDTH = 41
"""Bytes per value in the text matrices (mostly NUL): see the layouts below."""

_SAFE_MIN, _SAFE_MAX = 1e-280, 1e280
_K_MIN, _K_MAX = -300, 300  # 10**k table (k used: 16 - log10(a), so -264 .. 296)
_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitter
_MARGIN = 1e-7
_POW2_E_MIN, _POW2_E_MAX = -1021, 1024  # frexp exponents of normal floats

# Fixed notation: [sign | "0" | 17 integer digits | point | 3 zeros | 17 fraction digits | "0"]
_INT0, POINT, _ZEROS0, _FRAC0, LAST = 2, 19, 20, 23, 40
# Exponent notation: [sign | first digit | point | 17 more digits | e | sign | 3 digits]
_XDIG, _XPOINT, _XREST0, _XE, _XSIGN, _XEXP0 = 1, 2, 3, 20, 21, 22


def _powers_of_ten() -> tuple[np.ndarray, np.ndarray]:
    """10**k for k in [_K_MIN, _K_MAX] as double-double (hi, lo), each correctly rounded."""
    hi, lo = [], []
    for k in range(_K_MIN, _K_MAX + 1):
        exact = Fraction(10) ** k
        h = float(exact)
        hi.append(h)
        lo.append(float(exact - Fraction(h)))
    return np.array(hi), np.array(lo)


_TEN_HI, _TEN_LO = _powers_of_ten()
_TEN_HI_HI = _TEN_HI * _SPLIT - (_TEN_HI * _SPLIT - _TEN_HI)
_TEN_HI_LO = _TEN_HI - _TEN_HI_HI
_POW10 = 10 ** np.arange(19, dtype=np.int64)
# "0000".."9999" as one uint32 per entry, so digits are gathered four at a time
_LUT4 = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), np.uint32).copy()
_COLS = np.arange(20)
# _SPAN_MASKS[lo * 18 + hi]: 0xFF in columns [lo, hi) of 17, else 0
_SPAN_MASKS = (
    (np.arange(17) >= np.arange(18)[:, None, None]) & (np.arange(17) < np.arange(18)[None, :, None])
).reshape(18 * 18, 17).astype(np.uint8) * np.uint8(0xFF)
_NULL_ROW = np.zeros(WIDTH, dtype=np.uint8)
_NULL_ROW[:4] = np.frombuffer(b"null", dtype=np.uint8)


def digit_columns(values: np.ndarray) -> np.ndarray:
    """(N, 20) uint8: non-negative int64 ``values`` (< 10**19) as 20 zero-padded digits."""
    blocks = np.empty((len(values), 5), dtype=np.intp)
    rest = values
    for j in range(4, 0, -1):
        quotient = rest // 10_000  # // by a constant is fast in NumPy; divmod is not
        blocks[:, j] = rest - quotient * 10_000
        rest = quotient
    blocks[:, 0] = rest
    return _LUT4[blocks].view(np.uint8).reshape(len(values), 20)


def _blank_leading(digits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``digits`` (N, C) with all but the last ``keep`` (N,) columns of each row set to NUL."""
    return digits * (_COLS[: digits.shape[1]] >= digits.shape[1] - keep[:, None])


def _scaled(a: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a * 10**k`` as an unevaluated sum hi + lo, with an error of ~1e-30 relative (the
    table's and the rounding of ``a * t_lo``; ``p + err`` is exact)."""
    i = k - _K_MIN
    t_hi, t_lo, th_hi, th_lo = _TEN_HI[i], _TEN_LO[i], _TEN_HI_HI[i], _TEN_HI_LO[i]
    p = a * t_hi
    c = a * _SPLIT
    a_hi = c - (c - a)
    a_lo = a - a_hi
    err = ((a_hi * th_hi - p) + a_hi * th_lo + a_lo * th_hi) + a_lo * th_lo  # p + err exact
    return p, err + a * t_lo


def _shortest(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For positive ``a`` in the safe range, not powers of two: (digits, decpt, unsure) where
    ``digits`` is the shortest decimal that reads back as ``a``, padded with zeros to 17
    digits, and ``a`` == 0.<digits> * 10**decpt; ``unsure`` marks values to take from
    ``repr`` instead."""
    e = np.floor(np.log10(a)).astype(np.int64)
    hi, lo = _scaled(a, 16 - e)
    off = (hi >= 1e17) | (hi < 1e16)  # log10 was one off near a power of ten
    if off.any():
        e[off] += np.where(hi[off] >= 1e17, 1, -1)
        hi[off], lo[off] = _scaled(a[off], 16 - e[off])
    unsure = (hi >= 1e17) | (hi < 1e16)  # (the product straddles a power of ten)
    # P = hi + lo in [1e16, 1e17): hi is an integer (>= 2**53), lo holds the fraction.
    whole = hi.astype(np.int64)
    _, ulp_exp = np.frexp(a)  # a = m * 2**ulp_exp, m in [0.5, 1): half an ulp = 2**(ulp_exp-54)
    half_ulp = np.ldexp(_TEN_HI[16 - e - _K_MIN], ulp_exp - 54)  # in units of P
    digits = np.empty(len(a), dtype=np.int64)
    # 17 digits always read back; 16 and then 15 replace them where they do too.
    for scale in (1, 10, 100):
        # P / scale = q + (r + lo) / scale, where whole = q * scale + r (exact integers)
        q = whole // scale if scale > 1 else whole
        t = ((whole - q * scale) + lo) / scale if scale > 1 else lo
        m = np.floor(t)
        f = t - m
        up = f > 0.5
        d = q + m.astype(np.int64)
        d += up
        dist = np.abs(f - up)  # to the nearest decimal of this length, in units of its last digit
        limit = half_ulp / scale
        unsure |= np.abs(f - 0.5) < _MARGIN
        unsure |= np.abs(dist - limit) < _MARGIN
        if scale == 1:
            unsure |= dist >= limit  # cannot happen: 17 digits are within half an ulp
            digits[:] = d
        else:
            np.copyto(digits, d * scale, where=dist < limit)
    # Rounding up to 10**17 (9.9999999999999999e-3 at 16 digits) is 10**16 a decade higher.
    carry = digits == _POW10[17]
    digits[carry] = _POW10[16]
    unsure |= (digits < _POW10[16]) | (digits >= _POW10[17])
    return digits, e + 1 + carry, unsure


def _from_repr(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """17 digits (zero-padded) and decpt of positive finite ``values``, read off ``repr``."""
    digits, decpt = [], []
    for v in values.tolist():
        parsed = Decimal(repr(v)).as_tuple()
        assert isinstance(parsed.exponent, int)
        text = "".join(map(str, parsed.digits)).rstrip("0")
        digits.append(int(text.ljust(17, "0")))
        decpt.append(len(parsed.digits) + parsed.exponent)  # value = 0.d1d2... * 10**decpt
    return np.array(digits, dtype=np.int64), np.array(decpt, dtype=np.int64)


@cache
def _powers_of_two() -> tuple[np.ndarray, np.ndarray]:
    """17 digits and decpt of 2**(E - 1) for frexp exponents E in -1021..1024."""
    return _from_repr(np.ldexp(1.0, np.arange(_POW2_E_MIN, _POW2_E_MAX + 1) - 1))


def _decimal_parts(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(digits, decpt) of finite ``a >= 0``: the shortest decimal that reads back as ``a``,
    zero-padded to 17 digits, with ``a`` == 0.<digits> * 10**decpt. Zero: (0, 1)."""
    n = len(a)
    digits = np.zeros(n, dtype=np.int64)
    decpt = np.ones(n, dtype=np.int64)
    in_range = (a >= _SAFE_MIN) & (a <= _SAFE_MAX)
    power_of_two = (a.view(np.uint64) & np.uint64((1 << 52) - 1)) == 0
    fast = np.flatnonzero(in_range & ~power_of_two)
    slow = np.flatnonzero(~in_range & (a != 0))
    if len(fast):
        d, dp, unsure = _shortest(a[fast])
        digits[fast], decpt[fast] = d, dp
        slow = np.concatenate((slow, fast[unsure]))
    pow2 = np.flatnonzero(in_range & power_of_two)
    if len(pow2):  # 1.0, 0.5, 0.25, ...: digits from a table of repr
        table = _powers_of_two()
        e = np.frexp(a[pow2])[1] - _POW2_E_MIN
        digits[pow2], decpt[pow2] = table[0][e], table[1][e]
    if len(slow):
        digits[slow], decpt[slow] = _from_repr(a[slow])
    return digits, decpt


def float_text(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The JSON text of each value of float64 ``x`` (any shape, read flat): ``repr`` for
    finite values, ``null`` otherwise, as uint8 ``out`` of shape ``(x.size, WIDTH)`` (may be a
    view with any strides), NUL wherever a text has no byte. An integral value
    ``|v| < 1e16`` is ``<digits>.0``, with the point at column ``POINT`` and the last zero at
    ``LAST``: clear both to write it as an integer."""
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    if out is None:
        out = np.empty((len(x), WIDTH), dtype=np.uint8)
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    a = np.abs(x) if all_finite else np.where(finite, np.abs(x), 0.0)
    digits, decpt = _decimal_parts(a)
    z = digit_columns(digits)[:, 3:]  # the 17 digits
    # significant digits: up to the last non-zero one
    sig = 17 - np.argmax(z[:, ::-1] != ord("0"), axis=1)
    sig[digits == 0] = 0

    # Fixed notation for every value (the few in exponent notation are overwritten below):
    # integer digits are columns [0, point) of the 17, fraction digits [point, sig).
    point = np.clip(decpt, 0, 17)
    frac_end = np.maximum(sig, point)
    out[:, 0] = np.signbit(x) * np.uint8(ord("-"))
    out[:, 1] = (decpt <= 0) * np.uint8(ord("0"))
    out[:, _INT0:_INT0 + 17] = z & _SPAN_MASKS[point]
    out[:, POINT] = ord(".")
    for k in range(3):  # 0.0001 .. 0.1: zeros after the point
        out[:, _ZEROS0 + k] = (decpt < -k) * np.uint8(ord("0"))
    out[:, _FRAC0:_FRAC0 + 17] = z & _SPAN_MASKS[point * 18 + frac_end]
    out[:, LAST] = (frac_end == point) * np.uint8(ord("0"))  # 1.0, 100.0

    g = np.flatnonzero((decpt <= -4) | (decpt > 16))  # repr's exponent notation
    if len(g):
        nd = sig[g]
        exponent = decpt[g] - 1
        rows = np.zeros((len(g), WIDTH), dtype=np.uint8)
        rows[:, 0] = np.signbit(x[g]) * ord("-")
        rows[:, _XDIG] = z[g, 0]
        rows[:, _XPOINT] = (nd > 1) * ord(".")
        rows[:, _XREST0:_XREST0 + 17] = z[g] & _SPAN_MASKS[18 + nd]
        rows[:, _XE] = ord("e")
        rows[:, _XSIGN] = np.where(exponent < 0, ord("-"), ord("+"))
        rows[:, _XEXP0:_XEXP0 + 3] = _blank_leading(
            digit_columns(np.abs(exponent))[:, 17:], np.where(np.abs(exponent) >= 100, 3, 2)
        )
        out[g] = rows
    if not all_finite:
        out[~finite] = _NULL_ROW
    return out


def texts(matrix: np.ndarray) -> list[str]:
    """The rows of a text matrix as strings (for tests and debugging)."""
    return [bytes(row).replace(b"\0", b"").decode() for row in matrix]


def join(parts: np.ndarray) -> bytes:
    """The bytes of uint8 array ``parts`` (any shape, read flat) without its NULs."""
    flat = np.ascontiguousarray(parts).reshape(-1)
    return flat[flat != 0].tobytes()
