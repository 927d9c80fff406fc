"""Toy datasets, train/validation split and input normalisation.

Every generator in ``DATASETS`` is a factory ``(n, noise, rng, **params) -> RawData``. Coordinates
follow the TensorFlow Playground: the 2-D sets live roughly in ``[-6, 6]²``. ``noise`` is in
``[0, 1]``; its meaning per dataset (always Gaussian, always drawn from ``rng``):

==============  ======  ==============================================================
dataset         task    meaning of ``noise``
==============  ======  ==============================================================
circle          binary  std of Gaussian jitter added to both coordinates (units of x)
xor             binary  same
moons           binary  same
spiral          multi   same
gauss           binary  blob spread: each blob has std ``0.5 + 2.5·noise``
plane           regr.   std of target noise ``0.5·noise`` (≈ noise × std of the clean y)
sine            regr.   std of target noise ``noise`` (sine amplitude is 1); param
                        ``outliers``: that fraction of targets gets ``+= U(3, 5)``
sparse_linear   regr.   noise-to-signal ratio: target noise std ``noise·‖coef‖₂``
unscaled        regr.   std of target noise ``noise``
==============  ======  ==============================================================

Labels of the classification sets come from the clean generating process, so jitter creates
overlapping classes. Rows of :class:`RawData` may be grouped by class; :func:`make_dataset`
shuffles them.

Label noise (``params.label_noise``, the classification sets circle, xor, gauss, spiral and
moons; ``0 <= label_noise < 1``, default 0): a fraction of the *training* labels is replaced by
a different class chosen uniformly, so the network is taught wrong answers while validation and
test labels stay clean (the gap between them shows what memorising the noise costs). It is
applied by :func:`make_dataset` after the split, never by the generator, and is drawn from the
same ``rng`` in this order: (1) the generator's draws, (2) the split permutation, (3)
``k = round(label_noise·n_train)`` distinct training rows ``sort(rng.choice(n_train, k,
replace=False))`` (positions in the training split), (4) one offset per chosen row,
``rng.integers(1, K, k)`` with K classes (2 for binary), the new label being
``(y + offset) mod K`` — uniform over the K − 1 other classes, so a binary label is always
flipped. Steps (3)-(4) draw nothing when ``k = 0``: without label noise every seed gives the
same points and labels as before the parameter existed. Exactly ``k`` training labels differ
from the clean ones (:attr:`Dataset.flipped` lists their positions). Regression sets (and
custom data) have no ``label_noise``: their targets are not classes (target noise is what
``noise`` already does for them), so asking for it is a 422 on ``dataset.params.label_noise``.

Targets: binary ``y (n, 1)`` float 0/1; multiclass ``y (n,)`` int64; regression ``y (n, 1)``
float. ``n_classes`` is 1 for binary (one logit), K for multiclass and 0 for regression.
Targets are never normalised; only the inputs ``x`` are (see :class:`Normalizer`).

Feature crosses (``FEATURES``, TensorFlow Playground's input column): for the 2-D datasets the
model's inputs may be any non-empty list of ``x1, x2, x1_sq, x2_sq, x1_x2, sin_x1, sin_x2``
(default ``["x1", "x2"]``, the raw coordinates). They are computed from the raw coordinates
(the dataset's own units, as in TF Playground) and only then normalised, column by column. The
plane the data lives in stays ``(x1, x2)``: :attr:`Dataset.points_train` / ``points_val`` are
the 2-D points (normalised with the same method, fitted on the 2-D training points) and
:func:`grid_for` lays its grid over them; :meth:`Dataset.inputs_for` maps plane points to model
inputs. With the default features both are exactly the model's inputs, bit for bit.

Custom data (``custom``, "bring your own data"): the rows of an uploaded table
(:mod:`core.tables`). ``params.id`` names it; :func:`make_dataset` takes the table itself through
``table=`` (the trainer asks its table source, ``Limits.tables``): this module reads no files.
``n`` is the table's row count and ``noise`` is unused (0); splits, normalisation and the test
split work as for generated data (the permutation draws from ``rng`` as usual). Feature crosses
are not applied to custom data (only the default features, meaning "the table's columns"):
crosses are defined on the playground's (x1, x2) plane, and a table's columns have their own
names and units. A 2-column table is a 2-D dataset for the decision surface and augmentation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from core.errors import ConfigError
from core.registry import Component, Param, Registry
from core.tables import Table

__all__ = [
    "CUSTOM",
    "DATASETS",
    "DEFAULT_FEATURES",
    "FEATURES",
    "LABEL_NOISE",
    "MAX_SAMPLES",
    "NORMALIZE_METHODS",
    "Dataset",
    "Normalizer",
    "RawData",
    "curve_grid",
    "flip_labels",
    "grid_for",
    "make_dataset",
    "resolve_features",
]

MAX_SAMPLES = 20000
NORMALIZE_METHODS: tuple[str, ...] = ("none", "minmax", "zscore")
Task = Literal["binary", "multiclass", "regression"]

PLAYGROUND_RADIUS = 5.0  # half-width of the 2-D generators (jitter can push points beyond it)
SINE_INTERVAL = (-2.0 * math.pi, 2.0 * math.pi)
UNSCALED_COEF = (3.0, 0.003)  # y = 3·x1 + 0.003·x2 + 1: both features move y by up to 3
UNSCALED_INTERCEPT = 1.0
UNSCALED_RANGES = ((0.0, 1.0), (0.0, 1000.0))
PLANE_COEF = (0.1, 0.1)  # TF Playground "plane": y = (x1 + x2) / 10
OUTLIER_SHIFT = (3.0, 5.0)  # sine outliers: y += U(3, 5) (one-sided, so they pull a mean)


@dataclass(frozen=True, eq=False)
class RawData:
    """What a generator returns.

    x: (n, d) float64 inputs. y: (n, 1) float 0/1 (binary), (n,) int64 (multiclass) or (n, 1)
    float (regression). ``truth`` holds ground-truth facts (e.g. coefficients) or None.
    """

    x: np.ndarray
    y: np.ndarray
    task: Task
    n_classes: int
    truth: dict[str, Any] | None = None


DATASETS: Registry[RawData] = Registry("dataset")


# ---------------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------------


def _halves(n: int) -> np.ndarray:
    """Binary labels (n, 1): the first n//2 are 1, the rest 0 (balanced to within one)."""
    y = np.zeros((n, 1))
    y[: n // 2] = 1.0
    return y


LABEL_NOISE = "label_noise"
LABEL_NOISE_PARAM = Param(
    LABEL_NOISE,
    "float",
    0.0,
    min=0.0,
    max=1.0,
    exclusive_max=True,
    help="Fraction of the training labels (0 <= x < 1) replaced by a different class chosen "
    "uniformly (binary: flipped). Validation and test labels stay clean. Classification "
    "datasets only.",
)
"""Parameter of every built-in classification set, applied by make_dataset after the split
(the generators never see it)."""


def _jitter(x: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    # Always draw, even for std = 0, so the random stream does not depend on noise == 0.
    x += std * rng.standard_normal(x.shape)
    return x


def _polar(r: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.column_stack([r * np.cos(angle), r * np.sin(angle)])


@DATASETS.register(
    "circle",
    label="Circle",
    formula="class 1: r ~ U(0, 2.5);  class 0: r ~ U(3.5, 5);  angle ~ U(0, 2π);  "
    "x += N(0, noise²)",
    description="A disc of class 1 inside a ring of class 0: not linearly separable in (x1, x2), "
    "but separable with the feature x1² + x2² or a hidden layer.",
    params=(LABEL_NOISE_PARAM,),
    task="binary",
    input_dim=2,
)
def _circle(n: int, noise: float, rng: np.random.Generator) -> RawData:
    y = _halves(n)
    inner = y[:, 0] == 1.0
    r = np.where(
        inner,
        rng.uniform(0.0, 0.5 * PLAYGROUND_RADIUS, n),
        rng.uniform(0.7 * PLAYGROUND_RADIUS, PLAYGROUND_RADIUS, n),
    )
    x = _polar(r, rng.uniform(0.0, 2.0 * math.pi, n))
    return RawData(_jitter(x, noise, rng), y, "binary", 1)


@DATASETS.register(
    "xor",
    label="XOR",
    formula="x ~ U(±[0.3, 5])²;  y = 1 if x1·x2 > 0 else 0;  x += N(0, noise²)",
    description="Four quadrants with opposite corners sharing a class (exclusive or): the "
    "classic problem a single linear layer cannot solve.",
    params=(LABEL_NOISE_PARAM,),
    task="binary",
    input_dim=2,
)
def _xor(n: int, noise: float, rng: np.random.Generator) -> RawData:
    y = _halves(n)
    pad = 0.3  # keep clean points away from the axes, as in TF Playground
    mag = rng.uniform(pad, PLAYGROUND_RADIUS, (n, 2))
    s1 = rng.choice([-1.0, 1.0], n)
    s2 = np.where(y[:, 0] == 1.0, s1, -s1)  # same signs -> x1·x2 > 0 -> class 1
    x = mag * np.column_stack([s1, s2])
    return RawData(_jitter(x, noise, rng), y, "binary", 1)


@DATASETS.register(
    "gauss",
    label="Gaussian blobs",
    formula="class 1: N((2, 2), s²I);  class 0: N((−2, −2), s²I);  s = 0.5 + 2.5·noise",
    description="Two Gaussian clouds; linearly separable at low noise, overlapping at high noise.",
    params=(LABEL_NOISE_PARAM,),
    task="binary",
    input_dim=2,
)
def _gauss(n: int, noise: float, rng: np.random.Generator) -> RawData:
    y = _halves(n)
    centre = np.where(y == 1.0, 2.0, -2.0)  # (n, 1) broadcast to both coordinates
    x = centre + (0.5 + 2.5 * noise) * rng.standard_normal((n, 2))
    return RawData(x, y, "binary", 1)


@DATASETS.register(
    "spiral",
    label="Spiral",
    formula="arm j of k: t ~ U(0, 1), r = 5t, angle = 2π·turns·t + 2πj/k;  x += N(0, noise²)",
    params=(
        Param("classes", "int", 3, min=2, max=8, help="Number of spiral arms (classes)."),
        Param(
            "turns",
            "float",
            1.0,
            min=0.25,
            max=3.0,
            help="How many full turns each arm makes (more turns = harder).",
        ),
        LABEL_NOISE_PARAM,
    ),
    description="k interleaved spiral arms, one class each: needs a deep or wide network and "
    "shows curved decision boundaries.",
    task="multiclass",
    input_dim=2,
)
def _spiral(
    n: int, noise: float, rng: np.random.Generator, classes: int = 3, turns: float = 1.0
) -> RawData:
    y = (np.arange(n) % classes).astype(np.int64)
    t = rng.uniform(0.0, 1.0, n)
    angle = 2.0 * math.pi * (turns * t + y / classes)
    x = _polar(PLAYGROUND_RADIUS * t, angle)
    return RawData(_jitter(x, noise, rng), y, "multiclass", classes)


@DATASETS.register(
    "moons",
    label="Two moons",
    formula="class 0: (cos t, sin t);  class 1: (1 − cos t, ½ − sin t);  t ~ U(0, π);  "
    "centred, ×3;  x += N(0, noise²)",
    description="Two interleaving half circles (scikit-learn's make_moons, scaled by 3 and "
    "centred): a gently curved boundary.",
    params=(LABEL_NOISE_PARAM,),
    task="binary",
    input_dim=2,
)
def _moons(n: int, noise: float, rng: np.random.Generator) -> RawData:
    y = _halves(n)
    t = rng.uniform(0.0, math.pi, n)
    upper = y[:, 0] == 0.0
    x1 = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    x2 = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    x = 3.0 * (np.column_stack([x1, x2]) - np.array([0.5, 0.25]))
    return RawData(_jitter(x, noise, rng), y, "binary", 1)


@DATASETS.register(
    "plane",
    label="Plane (regression)",
    formula="x ~ U(−6, 6)²;  y = 0.1·x1 + 0.1·x2 + N(0, (0.5·noise)²)",
    description="A tilted plane: the simplest regression, solvable by a linear model.",
    task="regression",
    input_dim=2,
)
def _plane(n: int, noise: float, rng: np.random.Generator) -> RawData:
    x = rng.uniform(-6.0, 6.0, (n, 2))
    coef = np.array(PLANE_COEF)
    y = (x @ coef)[:, None] + 0.5 * noise * rng.standard_normal((n, 1))
    return RawData(x, y, "regression", 0, {"coef": list(PLANE_COEF), "intercept": 0.0})


@DATASETS.register(
    "sine",
    label="Sine curve (1-D)",
    formula="x ~ U(−2π, 2π);  y = sin(x) + N(0, noise²);  outliers: round(outliers·n) random "
    "points get y += U(3, 5)",
    params=(
        Param(
            "outliers",
            "float",
            0.0,
            min=0.0,
            max=0.5,
            help="Fraction of points (0 … 0.5) whose target is shifted up by U(3, 5): "
            "one-sided outliers that pull an MSE fit, not an MAE one.",
        ),
    ),
    description="A 1-D regression for the fitted-curve view: watch the network bend a line "
    "into two periods of a sine wave. With outliers, MSE fits the conditional mean (pulled "
    "up), MAE the conditional median (stays on the sine).",
    task="regression",
    input_dim=1,
)
def _sine(n: int, noise: float, rng: np.random.Generator, outliers: float = 0.0) -> RawData:
    x = rng.uniform(*SINE_INTERVAL, (n, 1))
    y = np.sin(x) + noise * rng.standard_normal((n, 1))
    truth: dict[str, Any] = {"function": "sin", "interval": list(SINE_INTERVAL)}
    k = math.floor(outliers * n + 0.5)
    if k > 0:  # drawn after the clean data: outliers = 0 keeps every seed's points unchanged
        idx = np.sort(rng.choice(n, size=k, replace=False))
        y[idx] += rng.uniform(OUTLIER_SHIFT[0], OUTLIER_SHIFT[1], (k, 1))
        truth["outliers"] = idx.tolist()
    return RawData(x, y, "regression", 0, truth)


def _check_sparse(values: dict[str, Any]) -> None:
    if values["n_informative"] > values["n_features"]:
        raise ConfigError(
            "n_informative",
            f"must be an integer with 1 <= x <= n_features (= {values['n_features']}), "
            f"got {values['n_informative']}",
        )


@DATASETS.register(
    "sparse_linear",
    label="Sparse linear (regression)",
    formula="x ~ N(0, I_p);  y = x·β + N(0, (noise·‖β‖)²);  β has n_informative non-zeros, "
    "|β_j| ~ U(1, 3), random signs",
    params=(
        Param("n_features", "int", 20, min=2, max=200, help="Number of input features p."),
        Param(
            "n_informative",
            "int",
            3,
            min=1,
            max=200,
            help="How many features actually matter (1..n_features).",
        ),
    ),
    check=_check_sparse,
    description="Many features, few of which matter: L1 regularisation should find the "
    "informative ones (truth.informative) and zero the rest; L2 only shrinks them.",
    task="regression",
)
def _sparse_linear(
    n: int,
    noise: float,
    rng: np.random.Generator,
    n_features: int = 20,
    n_informative: int = 3,
) -> RawData:
    informative = np.sort(rng.choice(n_features, size=n_informative, replace=False))
    coef = np.zeros(n_features)
    magnitude = rng.uniform(1.0, 3.0, n_informative)
    coef[informative] = magnitude * rng.choice([-1.0, 1.0], n_informative)
    x = rng.standard_normal((n, n_features))
    noise_std = noise * float(np.linalg.norm(coef))
    y = (x @ coef)[:, None] + noise_std * rng.standard_normal((n, 1))
    truth = {
        "coef": coef.tolist(),
        "informative": informative.tolist(),
        "intercept": 0.0,
        "noise_std": noise_std,
    }
    return RawData(x, y, "regression", 0, truth)


@DATASETS.register(
    "unscaled",
    label="Unscaled features (regression)",
    formula="x1 ~ U(0, 1), x2 ~ U(0, 1000);  y = 3·x1 + 0.003·x2 + 1 + N(0, noise²)",
    description="Two features on wildly different scales (x2 is 1000× larger). Without "
    "normalisation the loss surface is a long narrow valley: gradient descent zig-zags, and a "
    "learning rate small enough for x2 barely moves x1. Min-max or z-score normalisation fixes "
    "it.",
    task="regression",
    input_dim=2,
)
def _unscaled(n: int, noise: float, rng: np.random.Generator) -> RawData:
    lo = np.array([r[0] for r in UNSCALED_RANGES])
    hi = np.array([r[1] for r in UNSCALED_RANGES])
    x = lo + (hi - lo) * rng.uniform(0.0, 1.0, (n, 2))
    y = (x @ np.array(UNSCALED_COEF) + UNSCALED_INTERCEPT)[:, None]
    y += noise * rng.standard_normal((n, 1))
    truth = {
        "coef": list(UNSCALED_COEF),
        "intercept": UNSCALED_INTERCEPT,
        "ranges": [list(r) for r in UNSCALED_RANGES],
    }
    return RawData(x, y, "regression", 0, truth)


CUSTOM = "custom"


@DATASETS.register(
    CUSTOM,
    label="Your data (uploaded table)",
    formula="the rows of a table uploaded with POST /api/datasets (CSV or JSON rows)",
    params=(
        Param("id", "str", "", max_len=64,
              help="Id of an uploaded table (POST /api/datasets answers it)."),
    ),
    description="Your own data: a CSV with a header row, feature columns and a target column. "
    "Classification or regression as the upload says; 2 feature columns get the decision "
    "surface.",
    task=None,
    input_dim=None,
    custom=True,
)
def _custom(n: int, noise: float, rng: np.random.Generator, id: str = "") -> RawData:
    # make_dataset builds custom data from the table it is given; reaching this means none was
    raise ConfigError("dataset.params.id", f"no uploaded dataset with id {id!r}")


def resolve_params(comp: Component[RawData], params: Any,
                   prefix: str = "dataset.params") -> dict[str, Any]:
    """``comp.resolve(params)``, with a plain answer for ``label_noise`` on a dataset without
    classes (the registry alone would only say "unknown parameter")."""
    if isinstance(params, Mapping) and LABEL_NOISE in params and not _has_label_noise(comp):
        kind = "custom (uploaded) dataset" if comp.meta.get("custom") else \
            f"{comp.meta.get('task')} dataset"
        with_it = ", ".join(c.name for c in DATASETS if _has_label_noise(c))
        raise ConfigError(
            f"{prefix}.{LABEL_NOISE}",
            f"label noise applies to the classification datasets ({with_it}) only; "
            f"{comp.name!r} is a {kind} (for target noise use dataset.noise)",
        )
    return comp.resolve(params, prefix)


def _has_label_noise(comp: Component[RawData]) -> bool:
    return any(p.name == LABEL_NOISE for p in comp.params)


def flip_labels(
    y: np.ndarray, fraction: float, n_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Label noise: replace ``k = round(fraction·n)`` labels by a different class.

    ``y``: binary ``(n, 1)`` float 0/1 (``n_classes`` 1) or multiclass ``(n,)`` int64
    (``n_classes`` K). Draws (only when ``k > 0``): ``idx = sort(rng.choice(n, k,
    replace=False))``, then ``offset = rng.integers(1, K, k)`` (K = 2 for binary), and sets
    ``y[idx] = (y[idx] + offset) mod K``: uniform over the other K − 1 classes, never the same
    class. Returns ``(noisy copy of y, idx (k,) int64)``; ``y`` itself is not modified.
    """
    n = int(y.shape[0])
    k = min(math.floor(fraction * n + 0.5), n)
    out = y.copy()
    if k == 0:
        return out, np.empty(0, dtype=np.int64)
    classes = 2 if n_classes == 1 else n_classes
    idx = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    offset = rng.integers(1, classes, size=k)
    if out.ndim == 2:  # binary (n, 1) floats
        out[idx, 0] = (out[idx, 0].astype(np.int64) + offset) % classes
    else:
        out[idx] = (out[idx] + offset) % classes
    return out, idx


def custom_raw(table: Table) -> RawData:
    """A table's rows as generator output (copies: the table stays immutable)."""
    y, task, n_classes = table.raw_targets()
    return RawData(np.array(table.x, dtype=np.float64), y, task, n_classes)  # type: ignore[arg-type]


def check_custom_features(features: Any) -> None:
    """Custom data trains on its own columns: only the default features are allowed."""
    if features is not None and list(features) != list(DEFAULT_FEATURES):
        raise ConfigError(
            "dataset.features",
            "feature crosses apply to the built-in 2-D datasets only; custom data trains on "
            "its own columns, so only the default ['x1', 'x2'] is allowed",
        )


# ---------------------------------------------------------------------------------------------
# Feature crosses (2-D datasets)
# ---------------------------------------------------------------------------------------------

FeatureFn = Callable[[np.ndarray], np.ndarray]
FEATURES: Registry[FeatureFn] = Registry("feature")
"""Input features of the 2-D datasets; a component's ``factory`` maps raw ``x (n, 2)`` to one
column ``(n,)``. The catalog lists them under ``features``."""

DEFAULT_FEATURES: tuple[str, ...] = ("x1", "x2")


def _register_feature(name: str, label: str, formula: str, fn: FeatureFn, description: str) -> None:
    FEATURES.add(
        Component(
            kind="feature",
            name=name,
            label=label,
            formula=formula,
            params=(),
            factory=fn,
            description=description,
            meta={"input_dim": 2},
        )
    )


_register_feature("x1", "x₁", "x1", lambda x: x[:, 0], "The first coordinate.")
_register_feature("x2", "x₂", "x2", lambda x: x[:, 1], "The second coordinate.")
_register_feature(
    "x1_sq",
    "x₁²",
    "x1²",
    lambda x: x[:, 0] * x[:, 0],
    "Squared first coordinate: with x₂² a linear model can draw circles and ellipses.",
)
_register_feature(
    "x2_sq",
    "x₂²",
    "x2²",
    lambda x: x[:, 1] * x[:, 1],
    "Squared second coordinate.",
)
_register_feature(
    "x1_x2",
    "x₁x₂",
    "x1·x2",
    lambda x: x[:, 0] * x[:, 1],
    "The product: its sign is the XOR label, so a linear model solves XOR with it.",
)
_register_feature("sin_x1", "sin x₁", "sin(x1)", lambda x: np.sin(x[:, 0]), "Sine of x₁.")
_register_feature("sin_x2", "sin x₂", "sin(x2)", lambda x: np.sin(x[:, 1]), "Sine of x₂.")


def resolve_features(
    value: Any, dataset: str, input_dim: int | None, field_name: str = "dataset.features"
) -> list[str]:
    """Validate ``dataset.features``: a non-empty list of distinct names from ``FEATURES``.

    ``None`` means the default ``["x1", "x2"]``. Datasets that are not 2-D (``input_dim`` other
    than 2) accept only the default, which there means "the dataset's own inputs".
    """
    allowed = ", ".join(repr(n) for n in FEATURES.names())
    if value is None:
        return list(DEFAULT_FEATURES)
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(
            field_name, f"must be a non-empty list of distinct names from {allowed}, got {value!r}"
        )
    out: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in FEATURES:
            raise ConfigError(f"{field_name}[{i}]", f"unknown feature {name!r}; allowed: {allowed}")
        if name in out:
            raise ConfigError(
                f"{field_name}[{i}]",
                f"duplicate feature {name!r}; each of {allowed} may appear once",
            )
        out.append(name)
    if input_dim != 2 and out != list(DEFAULT_FEATURES):
        two_d = ", ".join(c.name for c in DATASETS if c.meta.get("input_dim") == 2)
        raise ConfigError(
            field_name,
            f"feature crosses need a 2-D dataset ({two_d}); "
            f"{dataset!r} is not 2-D, so only the default ['x1', 'x2'] is allowed",
        )
    return out


def expand_features(x: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """Raw 2-D points ``x (n, 2)`` -> model inputs ``(n, len(features))``, float64."""
    cols = [
        np.asarray(FEATURES.get(f, "dataset.features").factory(x), dtype=np.float64)
        for f in features
    ]
    return np.column_stack(cols) if cols else np.empty((len(x), 0))


# ---------------------------------------------------------------------------------------------
# Normalisation, split, Dataset
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Normalizer:
    """Per-feature affine map ``transform(x) = (x − shift) / scale`` fitted on the training split.

    - ``"none"``: shift 0, scale 1.
    - ``"minmax"``: shift = min, scale = max − min (training split maps onto [0, 1]).
    - ``"zscore"``: shift = mean, scale = population std (ddof = 0, like sklearn's
      StandardScaler).

    A feature that is constant on the training split (max == min) gets scale 1: it is only
    shifted (centred on its constant value, i.e. mapped to 0), never divided by zero.
    ``shift``/``scale`` have shape (d,).
    """

    method: str
    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, method: str, x: np.ndarray) -> Normalizer:
        """Fit on ``x (n, d)``; ``n`` may be 0 only for ``"none"``."""
        d = x.shape[1]
        if method == "none":
            return cls(method, np.zeros(d), np.ones(d))
        lo = x.min(axis=0)
        hi = x.max(axis=0)
        if method == "minmax":
            shift, scale = lo, hi - lo
        elif method == "zscore":
            shift, scale = x.mean(axis=0), x.std(axis=0)
        else:
            raise ConfigError("dataset.normalize", f"must be one of {', '.join(NORMALIZE_METHODS)}")
        scale = np.where((hi == lo) | (scale == 0.0), 1.0, scale)
        return cls(method, np.asarray(shift, dtype=np.float64), scale.astype(np.float64))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, d), a new float64 array."""
        return (np.asarray(x, dtype=np.float64) - self.shift) / self.scale

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`: (n, d) -> (n, d)."""
        return np.asarray(x, dtype=np.float64) * self.scale + self.shift

    def to_dict(self) -> dict[str, Any]:
        """JSON-able statistics, with the method's own names (min/max or mean/std) as well."""
        out: dict[str, Any] = {
            "method": self.method,
            "shift": self.shift.tolist(),
            "scale": self.scale.tolist(),
        }
        if self.method == "minmax":
            out["min"] = self.shift.tolist()
            out["max"] = (self.shift + self.scale).tolist()
        elif self.method == "zscore":
            out["mean"] = self.shift.tolist()
            out["std"] = self.scale.tolist()
        return out


@dataclass(frozen=True, eq=False)
class Dataset:
    """A split, normalised dataset ready for training.

    x_train (n_train, d), x_val (n_val, d): NORMALISED inputs (raw = normalizer.inverse_transform).
    y_*: targets as in RawData. n_classes: 1 binary / K multiclass / 0 regression.
    output_dim: network outputs needed (binary 1, multiclass K, regression 1). ``truth`` refers
    to the raw (unnormalised) features. ``params``: the resolved generator parameters.
    ``features``: the model's input features (2-D datasets; ``("x1", "x2")`` = raw inputs).
    ``flipped``: with label noise, the positions ``(k,)`` in the training split whose label
    ``y_train`` was replaced (None without label noise; ``y_val`` / ``y_test`` are always
    clean). With other features, ``plane_*`` hold the 2-D points ``(n, 2)`` (normalised like the
    inputs would be without crosses, by ``plane_normalizer``) and ``input_dim`` is
    ``len(features)``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: Task
    n_classes: int
    input_dim: int
    output_dim: int
    normalizer: Normalizer
    truth: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    noise: float = 0.0
    features: tuple[str, ...] = DEFAULT_FEATURES
    plane_train: np.ndarray | None = None
    plane_val: np.ndarray | None = None
    plane_normalizer: Normalizer | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    table: dict[str, Any] | None = None
    flipped: np.ndarray | None = None

    @property
    def crossed(self) -> bool:
        """True when the model's inputs are feature crosses rather than the raw coordinates."""
        return self.plane_train is not None

    @property
    def points_train(self) -> np.ndarray:
        """Training points in the data's plane: ``(n_train, d)``, normalised."""
        return self.x_train if self.plane_train is None else self.plane_train

    @property
    def points_val(self) -> np.ndarray:
        """Validation points in the data's plane: ``(n_val, d)``, normalised."""
        return self.x_val if self.plane_val is None else self.plane_val

    @property
    def plane_dim(self) -> int:
        """Dimension of the data's plane (2 for the 2-D sets, whatever the features)."""
        return int(self.points_train.shape[1])

    def inputs_for(self, points: np.ndarray) -> np.ndarray:
        """Normalised plane points ``(m, d)`` -> model inputs ``(m, input_dim)``."""
        if self.plane_normalizer is None:
            return points
        raw = self.plane_normalizer.inverse_transform(points)
        return self.normalizer.transform(expand_features(raw, self.features))

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.x_val.shape[0])

    @property
    def n_test(self) -> int:
        """Rows of the held-out test split (0 without one)."""
        return 0 if self.x_test is None else int(self.x_test.shape[0])

    def summary(self) -> dict[str, Any]:
        """JSON-able description (no arrays)."""
        return {
            "name": self.name,
            "task": self.task,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "n_classes": self.n_classes,
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "noise": self.noise,
            "params": dict(self.params),
            "normalizer": self.normalizer.to_dict(),
            "truth": self.truth,
            "features": list(self.features),
            **({"table": dict(self.table)} if self.table is not None else {}),
            **({"n_flipped": len(self.flipped)} if self.flipped is not None else {}),
        }


_N_PARAM = Param("n", "int", 200, min=1, max=MAX_SAMPLES, help="Number of examples.")
_NOISE_PARAM = Param("noise", "float", 0.1, min=0.0, max=1.0, help="Noise level (per dataset).")
_VAL_PARAM = Param(
    "val_fraction", "float", 0.2, min=0.0, max=0.9, help="Fraction held out for validation."
)
_NORMALIZE_PARAM = Param(
    "normalize",
    "choice",
    "none",
    choices=NORMALIZE_METHODS,
    help="Input normalisation fitted on the training split.",
)
_TEST_PARAM = Param(
    "test_fraction",
    "float",
    0.0,
    min=0.0,
    max=0.5,
    help="Fraction held out as a test set: never trained on, never used for early stopping.",
)
MAX_HELD_OUT = 0.9
"""Bound on ``val_fraction + test_fraction``."""
# Schema of make_dataset's top-level arguments (for the API/catalog).
DATASET_ARGS: tuple[Param, ...] = (
    _N_PARAM,
    _NOISE_PARAM,
    _VAL_PARAM,
    _NORMALIZE_PARAM,
    _TEST_PARAM,
)


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    """(n_train, n_val): n_val = round(val_fraction·n), at least 1 if val_fraction > 0 and n >= 2,
    and always leaving at least one training example."""
    n_val = math.floor(val_fraction * n + 0.5)
    if val_fraction > 0.0 and n >= 2:
        n_val = max(n_val, 1)
    n_val = min(n_val, n - 1)
    return n - n_val, n_val


def make_dataset(
    name: str,
    n: int = 200,
    noise: float = 0.1,
    val_fraction: float = 0.2,
    normalize: str = "none",
    params: Mapping[str, Any] | None = None,
    *,
    rng: np.random.Generator,
    features: Sequence[str] | None = None,
    test_fraction: float = 0.0,
    table: Table | None = None,
) -> Dataset:
    """Generate ``name``, shuffle, split off a validation set and normalise the inputs.

    The split is a random permutation from ``rng`` (drawn after the generator's own draws);
    normalisation statistics come from the training split only and are applied to both splits.
    Bad values raise ConfigError with fields ``dataset.name``, ``dataset.n`` (1..MAX_SAMPLES),
    ``dataset.noise`` ([0, 1]), ``dataset.val_fraction`` ([0, 0.9]), ``dataset.normalize`` and
    ``dataset.params.<param>`` and ``dataset.features`` (see :func:`resolve_features`). Feature
    crosses draw nothing from ``rng``: the same seed gives the same points with any features.

    Test split (``test_fraction``, [0, 0.5], with ``val_fraction + test_fraction <= 0.9``): the
    permutation is cut as ``[val | test | train]`` with ``n_val = round(val_fraction·n)`` and
    ``n_test = round(test_fraction·n)``. The test rows are thus carved off the held-out end, so
    ``(val_fraction=v, test_fraction=t)`` has exactly the training rows (and the normaliser) of
    ``(val_fraction=v+t, test_fraction=0)`` when the counts add up; the rng draws nothing more.

    ``custom`` (``params={"id": ...}``) needs ``table``, the table with that id: ``n`` becomes
    its row count and ``noise`` 0; ``features`` must be the default.

    Label noise (``params={"label_noise": f}``, classification sets): after the split,
    :func:`flip_labels` replaces ``round(f·n_train)`` training labels, drawing from ``rng`` after
    the permutation (nothing when that count is 0). Validation and test labels, the inputs and
    the normaliser are those of the same seed without label noise.
    """
    comp = DATASETS.get(name, "dataset.name")
    info: dict[str, Any] | None = None
    if name == CUSTOM:
        ident = resolve_params(comp, params)["id"]
        if table is None or table.id != ident:
            raise ConfigError("dataset.params.id", f"no uploaded dataset with id {ident!r} on "
                              "this server (upload it with POST /api/datasets)")
        check_custom_features(features)
        n, noise, features = table.n, 0.0, None
        info = {"id": table.id, "columns": list(table.columns), "target": table.target,
                "task": table.task}
        if table.task == "classification":
            info["classes"] = table.summary()["classes"]
    n = _N_PARAM.validate(n, "dataset.n")
    noise = _NOISE_PARAM.validate(noise, "dataset.noise")
    val_fraction = _VAL_PARAM.validate(val_fraction, "dataset.val_fraction")
    test_fraction = _TEST_PARAM.validate(test_fraction, "dataset.test_fraction")
    if val_fraction + test_fraction > MAX_HELD_OUT + 1e-12:
        raise ConfigError(
            "dataset.test_fraction",
            f"must be <= {MAX_HELD_OUT} - val_fraction "
            f"(= {MAX_HELD_OUT - val_fraction:.4g}): val_fraction + test_fraction "
            f"<= {MAX_HELD_OUT}",
        )
    normalize = _NORMALIZE_PARAM.validate(normalize, "dataset.normalize")
    resolved = resolve_params(comp, params)
    # label_noise is applied here, after the split; the generator never sees it
    label_noise = resolved.get(LABEL_NOISE, 0.0)
    gen_params = {k: v for k, v in resolved.items() if k != LABEL_NOISE}
    feats = resolve_features(
        None if features is None else list(features), name,
        comp.meta.get("input_dim") if info is None else None,
    )

    raw = custom_raw(table) if info is not None and table is not None else comp.factory(
        n=n, noise=noise, rng=rng, **gen_params)
    x = np.ascontiguousarray(raw.x, dtype=np.float64)
    y = raw.y.astype(np.int64 if raw.task == "multiclass" else np.float64, copy=False)

    _, n_val = split_sizes(n, val_fraction)
    n_test = 0
    if test_fraction > 0.0:
        n_test = min(math.floor(test_fraction * n + 0.5), n - 1 - n_val)
        n_test = max(n_test, 1 if n - 1 - n_val >= 1 else 0)
    perm = rng.permutation(n)
    train_idx, val_idx = perm[n_val + n_test :], perm[:n_val]
    test_idx = perm[n_val : n_val + n_test]
    plane: dict[str, Any] = {}
    if feats != list(DEFAULT_FEATURES):
        plane_norm = Normalizer.fit(normalize, x[train_idx])
        plane = {
            "plane_train": plane_norm.transform(x[train_idx]),
            "plane_val": plane_norm.transform(x[val_idx]),
            "plane_normalizer": plane_norm,
        }
        x = expand_features(x, feats)
    norm = Normalizer.fit(normalize, x[train_idx])
    y_train, flipped = y[train_idx], None
    if label_noise > 0.0:
        y_train, flipped = flip_labels(y_train, label_noise, raw.n_classes, rng)
    return Dataset(
        name=name,
        x_train=norm.transform(x[train_idx]),
        y_train=y_train,
        x_val=norm.transform(x[val_idx]),
        y_val=y[val_idx],
        task=raw.task,
        n_classes=raw.n_classes,
        input_dim=int(x.shape[1]),
        output_dim=raw.n_classes if raw.task == "multiclass" else 1,
        normalizer=norm,
        truth=raw.truth,
        params=resolved,
        noise=noise,
        features=tuple(feats),
        x_test=norm.transform(x[test_idx]) if n_test else None,
        y_test=y[test_idx] if n_test else None,
        table=info,
        flipped=flipped,
        **plane,
    )


# ---------------------------------------------------------------------------------------------
# Grids for decision surfaces and fitted curves
# ---------------------------------------------------------------------------------------------


def _extent(dataset: Dataset, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-coordinate (lo, hi) of the data's plane over train+val (normalised space), widened by
    margin·span per side."""
    x = np.concatenate([dataset.points_train, dataset.points_val])
    lo, hi = x.min(axis=0), x.max(axis=0)
    flat = hi == lo  # e.g. a single point: still give it a unit-wide window
    lo, hi = np.where(flat, lo - 0.5, lo), np.where(flat, hi + 0.5, hi)
    span = hi - lo
    return lo - margin * span, hi + margin * span


def grid_for(
    dataset: Dataset, resolution: int = 50, margin: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regular grid over a 2-D dataset's (normalised) plane ``(x1, x2)`` for decision surfaces
    (with feature crosses too: feed ``dataset.inputs_for(points)`` to the model).

    Returns ``xs (r,)``, ``ys (r,)`` and ``points (r·r, 2)`` with
    ``points.reshape(r, r, 2)[i, j] == (xs[j], ys[i])``, so model outputs reshaped to ``(r, r)``
    are rows-by-y, as a Plotly heatmap/contour ``z`` expects. The window covers train + val with
    ``margin`` × span extra on each side.
    """
    if dataset.plane_dim != 2:
        raise ConfigError(
            "dataset.name", f"a decision-surface grid needs 2-D inputs, got {dataset.plane_dim}-D"
        )
    resolution = Param("resolution", "int", 50, min=2, max=1000).validate(resolution, "resolution")
    margin = Param("margin", "float", 0.1, min=0.0, max=10.0).validate(margin, "margin")
    lo, hi = _extent(dataset, margin)
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    gx, gy = np.meshgrid(xs, ys)  # (r, r), gx[i, j] = xs[j], gy[i, j] = ys[i]
    points = np.column_stack([gx.ravel(), gy.ravel()])
    return xs, ys, points


def curve_grid(dataset: Dataset, n: int = 200, margin: float = 0.1) -> np.ndarray:
    """``xs (n, 1)``: evenly spaced inputs over a 1-D dataset's (normalised) range plus margin."""
    if dataset.input_dim != 1:
        raise ConfigError(
            "dataset.name", f"a curve grid needs 1-D inputs, got {dataset.input_dim}-D"
        )
    n = Param("n", "int", 200, min=2, max=100000).validate(n, "n")
    margin = Param("margin", "float", 0.1, min=0.0, max=10.0).validate(margin, "margin")
    lo, hi = _extent(dataset, margin)
    return np.linspace(lo[0], hi[0], n)[:, None]
