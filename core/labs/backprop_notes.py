"""The notes' 2-2-1 backprop worked example as printed, next to the engine's exact values.

Source: the interview notes ``/work/shared/seeds/003_3268ba521db8fca8.txt``, section
"反向传播的梯度计算", lines 152–265 (the syllabus, ``/work/shared/syllabus.md``, lists the slips at
"003:177–227" and "003:233–262"). ``PRINTED`` copies each printed number with its line; the
exact values come from :func:`core.labs.backprop.backprop_example` on ``NOTES_221``.

A printed number *agrees* when it is the exact value rounded to the printed decimals
(|exact − printed| <= ½·10^−decimals); otherwise the row names its slip (``SLIPS``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.activations import ACTIVATIONS
from core.labs.backprop import BACKPROP_PRESETS, backprop_example, fmt

__all__ = ["NOTES_221", "NOTES_SOURCE", "PRINTED", "SLIPS", "notes_comparison"]

NOTES_SOURCE = "/work/shared/seeds/003_3268ba521db8fca8.txt"

# The example (lines 158–166): x = [1, 2], y = 0.5, W1 (in, out), W2 = [0.9, 0.1] as (2, 1).
NOTES_221: dict[str, Any] = BACKPROP_PRESETS["notes_221"]

SLIPS: dict[str, str] = {
    "sigmoid_2_4": "σ(2.4) is written 0.9084; it is 0.9168.",
    "carried": "Carries the σ(2.4) slip (a₁[2] = 0.9084 instead of 0.9168).",
    "sigmoid_z2": "σ(1.1835) is 0.7656, not 0.7692 (a second slip, on top of the carried one).",
    "rounding": "0.8808 × 0.1192 = 0.1050, printed 0.1051.",
    "rounded_operand": "Computed from δ₁[2] rounded to 0.0004 (exact 0.000363): 2 × 0.000363 = "
    "0.000727.",
    "layout": "∂L/∂W₁ = δ₁ᵀX is (out, in), but W₁ is stored (in, out) (z₁ = X·W₁ + b₁): the two "
    "off-diagonal entries land on the wrong weights. Correct: ∂L/∂W₁ = Xᵀδ₁.",
}

# (id, quantity, printed value(s) as printed (text: its decimals are the precision), line, slip
# per entry (None: should agree)).
# W entries are (in, out) as the engine stores them; the notes' ∂L/∂W₁ matrix is copied as
# printed (row = out) and compared entry by entry with the engine's (in, out) array, which is
# exactly the slip.
PRINTED: list[tuple[str, str, list[Any], int, list[Any]]] = [
    ("z1", "z₁", ["2.0", "2.4"], 174, [None, None]),
    ("a1", "a₁ = σ(z₁)", ["0.8808", "0.9084"], 177, [None, "sigmoid_2_4"]),
    ("z2", "z₂", ["1.1835"], 183, ["carried"]),
    ("yhat", "ŷ = σ(z₂)", ["0.7692"], 187, ["sigmoid_z2"]),
    ("loss", "L = ½(ŷ − y)²", ["0.035"], 193, [None]),
    ("dL_dyhat", "∂L/∂ŷ = ŷ − y", ["0.2692"], 199, ["carried"]),
    ("dsig_z2", "σ′(z₂)", ["0.1776"], 203, ["carried"]),
    ("delta2", "δ₂", ["0.0478"], 207, ["carried"]),
    ("dW2", "∂L/∂W₂", ["0.0421", "0.0434"], 211, ["carried", "carried"]),
    ("db2", "∂L/∂b₂", ["0.0478"], 213, ["carried"]),
    ("dL_da1", "∂L/∂a₁ = δ₂·W₂", ["0.0430", "0.0048"], 219, ["carried", None]),
    ("dsig_z1", "σ′(z₁)", ["0.1051", "0.0833"], 223, ["rounding", "carried"]),
    ("delta1", "δ₁", ["0.0045", "0.0004"], 227, [None, None]),
    (
        "dW1",
        "∂L/∂W₁",
        [["0.0045", "0.0090"], ["0.0004", "0.0008"]],
        233,
        [[None, "layout"], ["layout", "rounded_operand"]],
    ),
    ("db1", "∂L/∂b₁", ["0.0045", "0.0004"], 237, [None, None]),
    ("W2_new", "W₂ ← W₂ − η·∂L/∂W₂", ["0.8958", "0.0957"], 250, [None, "carried"]),
    ("b2_new", "b₂ ← b₂ − η·∂L/∂b₂", ["0.2952"], 251, [None]),
    (
        "W1_new",
        "W₁ ← W₁ − η·∂L/∂W₁",
        [["0.4995", "0.5991"], ["0.6996", "0.7999"]],
        252,
        [[None, "layout"], ["layout", None]],
    ),
    ("b1_new", "b₁ ← b₁ − η·∂L/∂b₁", ["0.0995", "0.19996"], 253, [None, None]),
]


def _exact_values() -> dict[str, np.ndarray]:
    """The engine's exact value of every quantity the notes print (same shapes as printed)."""
    r = backprop_example(**NOTES_221)
    (f1, f2), (b1, b2), (u1, u2) = r["forward"], r["backward"], r["updated"]
    sig = ACTIVATIONS.create("sigmoid", {}, "activation")
    W2 = np.asarray(NOTES_221["layers"][1]["W"])
    return {
        "z1": f1["z"],
        "a1": f1["a"],
        "z2": f2["z"],
        "yhat": r["output"],
        "loss": np.array([r["loss"]]),
        "dL_dyhat": r["dL_da"],
        "dsig_z2": sig.derivative(f2["z"], f2["a"]),
        "delta2": b2["delta"],
        "dW2": b2["dW"][:, 0],
        "db2": b2["db"],
        "dL_da1": W2 @ b2["delta"],
        "dsig_z1": sig.derivative(f1["z"], f1["a"]),
        "delta1": b1["delta"],
        "dW1": b1["dW"],
        "db1": b1["db"],
        "W2_new": u2["W"][:, 0],
        "b2_new": u2["b"],
        "W1_new": u1["W"],
        "b1_new": u1["b"],
    }


def notes_comparison() -> dict[str, Any]:
    """Every number the notes print for their 2-2-1 example next to the exact value.

    Returns ``{"source", "example": NOTES_221, "slips": SLIPS, "rows": [{"id", "quantity",
    "line", "entries": [{"index": [..], "printed" (text), "decimals", "exact",
    "exact_rounded" (to the printed decimals), "exact_text" (as the walk prints it), "agrees",
    "slip"}]}]}``;
    ``slip`` is the documented slip of an entry (None where the notes should agree) — a test
    checks that ``agrees`` is False exactly where ``slip`` is set.
    """
    exact = _exact_values()
    rows = []
    for key, label, printed, line, slips in PRINTED:
        text = np.asarray(printed, dtype=object)
        e = np.asarray(exact[key], dtype=np.float64).reshape(text.shape)
        s = np.asarray(slips, dtype=object).reshape(text.shape)
        entries = []
        for idx in np.ndindex(text.shape):
            decimals = len(text[idx].partition(".")[2])
            value = float(text[idx])
            tol = 0.5 * 10.0**-decimals * (1 + 1e-9)  # 1e-9: the printed decimal's float error
            entries.append(
                {
                    "index": list(idx),
                    "printed": text[idx],
                    "decimals": decimals,
                    "exact": float(e[idx]),
                    "exact_rounded": f"{e[idx]:.{decimals}f}",
                    "exact_text": fmt(float(e[idx])),
                    "agrees": bool(abs(e[idx] - value) <= tol),
                    "slip": s[idx],
                }
            )
        rows.append({"id": key, "quantity": label, "line": line, "entries": entries})
    return {"source": f"{NOTES_SOURCE}:152-265", "example": NOTES_221, "slips": SLIPS, "rows": rows}
