"""Every number the interview-question bank states (app/questions/*.json, ``checks``) is
recomputed with the engine: the engine's value rounded to ``digits`` decimals must equal the
stated value, and the stated value (written with ``digits`` decimals) must appear in the
question's English and Chinese text, so neither the text nor the engine can drift silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.questions import load_bank
from core.activations import curve, sigmoid, softmax
from core.convshape import conv_shape
from core.initializers import INITIALIZERS
from core.labs.backprop import backprop_example
from core.labs.ewa import ewa
from core.layers import BatchNorm1d, dropout_mask
from core.losses import LOSSES
from core.model import MLP, resolve_model_config, spec_from_config
from core.optimizers import make_optimizer
from core.regularizers import make_regularization, penalty
from core.schedules import make_schedule

# the notes' 2-2-1 example (003:152-265)
NOTES_221 = {
    "x": [1.0, 2.0],
    "y": [0.5],
    "layers": [
        {"W": [[0.5, 0.6], [0.7, 0.8]], "b": [0.1, 0.2]},
        {"W": [[0.9], [0.1]], "b": [0.3]},
    ],
}


def _descend(name: str, w0: float, steps: int, **params: Any) -> float:
    """``steps`` updates of optimizer ``name`` on f(w) = ½w² (gradient w) from ``w0``."""
    opt = make_optimizer(name, dict(params))
    w = np.array([w0])
    for _ in range(steps):
        opt.step(w, w.copy(), params["lr"])
    return float(w[0])


def _backprop(path: str) -> float:
    node: Any = backprop_example(**NOTES_221, activation="sigmoid", loss="half_mse", lr=0.1)
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    return float(np.asarray(node))


def _bn(x: list[list[float]], row: int, col: int) -> float:
    z = np.asarray(x, dtype=np.float64)
    d = z.shape[1]
    layer = BatchNorm1d(np.ones(d), np.zeros(d), np.zeros(d), np.zeros(d), np.zeros(d), np.ones(d))
    return float(layer.forward(z.copy(), train=True)[row, col])


def _bn_notes_code(x: list[list[float]], row: int, col: int, eps: float = 1e-5) -> float:
    """The notes' snippet (004:95-104) as printed: variance taken as mean(x²) — the erratum."""
    z = np.asarray(x, dtype=np.float64)
    return float(((z - z.mean(0)) / np.sqrt((z**2).mean(0) + eps))[row, col])


def _bn_running_var(x: list[float]) -> float:
    """Running variance after one training batch with momentum 1: the unbiased variance."""
    z = np.asarray(x, dtype=np.float64)[:, None]
    layer = BatchNorm1d(
        np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), np.ones(1), momentum=1.0
    )
    layer.forward(z.copy(), train=True)
    return float(layer.running_var[0])


def _mlp_params(sizes: list[int]) -> float:
    cfg = resolve_model_config({"hidden": sizes[1:-1]})
    return MLP(spec_from_config(cfg, sizes[0], sizes[-1]), np.random.default_rng(0)).n_params


def _iterations(n: int, batch: int, epochs: int = 1) -> float:
    # core/trainer.py: "the last partial batch of an epoch is its own batch"
    return epochs * math.ceil(n / batch)


CALCS: dict[str, Callable[..., float]] = {
    "sigmoid": lambda x: float(sigmoid(np.array([x]))[0]),
    "sigmoid_grad": lambda x: float(curve("sigmoid", None, np.array([x]))[1][0]),
    "leaky_grad": lambda x: float(curve("leaky_relu", None, np.array([x]))[1][0]),
    "softmax0": lambda z: float(softmax(np.array([z]))[0, 0]),
    "ce": lambda z, y: float(
        LOSSES.create("cross_entropy", {}).value(np.array([z]), np.array([y]))
    ),
    "smooth_l1": lambda e: float(
        LOSSES.create("smooth_l1", {}).value(np.array([[e]]), np.array([[0.0]]))
    ),
    "xavier_std": lambda fan_in, fan_out: INITIALIZERS.create("xavier_normal", {}).expected_std(
        fan_in, fan_out
    ),
    "iterations": _iterations,
    "sgd": lambda w0, steps, **p: _descend("sgd", w0, steps, **p),
    "adagrad": lambda w0, steps, **p: _descend("adagrad", w0, steps, **p),
    "rmsprop": lambda w0, steps, **p: _descend("rmsprop", w0, steps, **p),
    "adam": lambda w0, steps, **p: _descend("adam", w0, steps, **p),
    "ewa_last": lambda beta, n: float(ewa(values=[1.0] * n, beta=beta)["zero_start"][-1]),
    "schedule": lambda name, params, lr, t: make_schedule(name, dict(params), lr).lr_at(t),
    "bn": _bn,
    "bn_notes_code": _bn_notes_code,
    "bn_running_var": _bn_running_var,
    "dropout_scale": lambda p: float(dropout_mask((1000,), p, np.random.default_rng(0)).max()),
    "penalty": lambda w, l1, l2: penalty(np.asarray(w), make_regularization({"l1": l1, "l2": l2})),
    "conv": lambda W, F, P, S: conv_shape(W, F, padding=P, stride=S).output_size,
    "mlp_params": _mlp_params,
    "backprop": _backprop,
}

CHECKS = [
    pytest.param(q, check, id=f"{q.id}-{i}")
    for chapter in load_bank().chapters
    for q in chapter.questions
    for i, check in enumerate(q.checks)
]


def shown(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def question_text(q: Any, lang: str) -> str:
    parts = [getattr(q.question, lang), getattr(q.answer, lang)]
    for e in q.errata:
        parts += [getattr(e.notes, lang), getattr(e.correct, lang)]
    parts += [getattr(link.look_for, lang) for link in q.try_]
    return "\n".join(parts).replace("−", "-")  # a typographic minus counts as "-"


def test_bank_states_numbers() -> None:
    assert len(CHECKS) >= 40
    assert {c.values[1].calc for c in CHECKS} == set(CALCS)  # every calculation is used


@pytest.mark.parametrize(("question", "check"), CHECKS)
def test_stated_number_matches_the_engine(question: Any, check: Any) -> None:
    engine = CALCS[check.calc](**check.args)
    assert math.isfinite(engine)
    assert round(engine, check.digits) == pytest.approx(check.value, abs=1e-12), (
        f"{question.id}: engine gives {engine!r}, the bank says {check.value}"
    )
    text = shown(check.value, check.digits)
    for lang in ("en", "zh"):
        assert text in question_text(question, lang), f"{question.id} ({lang}) never says {text}"


def test_the_issues_key_values() -> None:
    """The issue's named errata, straight from the engine (not through the bank)."""
    assert round(CALCS["sigmoid"](2.4), 4) == 0.9168
    assert round(
        CALCS["schedule"]("natural_exp_decay", {"decay_steps": 100, "decay_rate": 0.5}, 0.1, 100), 4
    ) == round(0.1 * math.exp(-0.5), 4)
    # the notes' lr·e^(−rate/step) would *rise* with the step; the engine's rate falls
    rates = [CALCS["schedule"]("natural_exp_decay", {}, 0.1, t) for t in (0, 100, 1000)]
    assert rates[0] > rates[1] > rates[2]
    # ε inside the root: a constant feature (σ² = 0) maps to 0, and σ² = 1 to −1/√(1+ε)
    assert CALCS["bn"]([[1.0, 2.0], [3.0, 4.0]], 0, 0) == pytest.approx(-1 / math.sqrt(1 + 1e-5))
    assert CALCS["penalty"]([1.0, 2.0, 3.0], 0.5, 0.0) == 3.0
    assert CALCS["penalty"]([1.0, 2.0, 3.0], 0.0, 1.0) == 7.0
    assert CALCS["dropout_scale"](0.5) == 2.0
