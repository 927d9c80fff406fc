"""A training run: config + data + model + optimizer + schedule + RNG, stepped on demand.

``Run.step(n)`` performs ``n`` mini-batch updates and returns one record per update. Records
have stable field names (see :data:`SCALAR_FIELDS` and :data:`LAYER_FIELDS`); ``step`` in a record
is the 0-based index ``t`` of the update it describes, so ``record["lr"]`` is ``lr[t]`` of the
schedule, and ``Run.step_count`` is the number of updates done.

Determinism: every random stream (data, initialisation, shuffling, dropout, schedule noise) is
spawned from the run's seed with ``np.random.SeedSequence``; live changes are kept in an event log
``[(step, patch), …]``. The same config, seed and event log reproduce the history bit for bit
(:meth:`Run.replay`).

Divergence: a non-finite loss, gradient or weight puts the run in state ``"diverged"`` with the
step, the first offending layer and the reason. A non-finite loss or gradient skips the update;
non-finite weights after an update are rolled back to the last finite values. Nothing raises;
further steps are refused (:class:`RunStateError`) until :meth:`Run.reset`.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core import cost
from core.activations import sigmoid, softmax
from core.datasets import (
    CUSTOM,
    DATASETS,
    DEFAULT_FEATURES,
    MAX_SAMPLES,
    Dataset,
    check_custom_features,
    curve_grid,
    expand_features,
    grid_for,
    make_dataset,
    resolve_features,
    resolve_params,
)
from core.errors import ConfigError, EventLogFullError, RebuildRequiredError, RunStateError
from core.histogram import histogram
from core.history import LAYER_FIELDS, SCALAR_FIELDS, History
from core.tables import Table, TableSource

__all__ = ["LAYER_FIELDS", "SCALAR_FIELDS", "Limits", "Run", "histogram", "resolve_config"]
from core.layers import BatchNorm1d
from core.losses import LOSSES, Loss
from core.model import (
    MAX_HIDDEN_LAYERS,
    MAX_UNITS,
    MLP,
    NEAR_ZERO,
    check_bn_momentum,
    check_dropout,
    resolve_model_config,
    spec_from_config,
)
from core.normalization import (
    MODES,
    bn_gaps,
    dropout_check,
    forward_mode,
    mode_comparison,
    network_internals,
)
from core.optimizers import OPTIMIZERS, Optimizer, make_optimizer, switch_optimizer
from core.registry import join_field
from core.regularizers import (
    GradClip,
    Regularization,
    add_penalty_gradient,
    clip_gradients,
    make_grad_clip,
    make_regularization,
    penalty,
    proximal_l1,
)
from core.schedules import SCHEDULES, Schedule, make_schedule

FloatArray = NDArray[np.float64]
_SATURATION = LAYER_FIELDS.index("saturation")
_DEAD = LAYER_FIELDS.index("dead_fraction")
_BN_MEAN_GAP = LAYER_FIELDS.index("bn_mean_gap")
_BN_VAR_GAP = LAYER_FIELDS.index("bn_var_gap")

NETWORK_MAX_LAYERS = 7
NETWORK_MAX_UNITS = 16
NEURON_MAP_GRID = 24
"""Side of the coarse plane grid of the small-net snapshot's per-neuron output maps
(``neuron_maps``): 24 x 24 points cost one eval forward of 576 rows (``bench/snapshot.py``)."""
"""Snapshots carry every weight and gradient (``network``) for nets up to this size."""

SNAPSHOT_STREAM = 1000
"""Spawn-key root of the dropout masks a train-mode snapshot draws (``(1000, step)``): apart
from the run's own streams (``run_seed_streams``), so a snapshot never consumes them."""

DEFAULT_LOSS = {"binary": "bce_with_logits", "multiclass": "cross_entropy", "regression": "mse"}

PATCHABLE = ("optimizer", "schedule", "regularization", "batch_size", "dropout", "grad_clip",
             "eval_every", "batch_norm_momentum", "early_stopping", "augment")
"""Fields a live change (:meth:`Run.apply_patch`) may touch; others need a reset or a new run."""

REBUILD_FIELDS = ("seed", "dataset", "model", "loss", "loss_params")

MAX_EVENTS = 10_000
MAX_EVENT_BYTES = 16 * 1024 * 1024
"""Default bounds of a run's event log (live changes and weights edits since its last reset):
count and compact-JSON bytes. A change beyond them raises :class:`EventLogFullError`."""


@dataclass(frozen=True)
class Limits:
    """Size limits enforced on configs (the server passes its settings), and where the
    ``custom`` dataset's tables come from: ``tables(id) -> Table | None`` (the server's dataset
    store; ``None``: no custom data)."""

    max_hidden_layers: int = MAX_HIDDEN_LAYERS
    max_units: int = MAX_UNITS
    max_samples: int = MAX_SAMPLES
    max_events: int = MAX_EVENTS
    max_event_bytes: int = MAX_EVENT_BYTES
    tables: TableSource | None = field(default=None, compare=False, repr=False)


def lookup_table(dataset: Mapping[str, Any], limits: Limits) -> Table | None:
    """The table of a resolved ``custom`` dataset config (None for the generated datasets);
    an id the source does not know raises ConfigError on ``dataset.params.id``."""
    if dataset["name"] != CUSTOM:
        return None
    ident = dataset["params"]["id"]
    table = limits.tables(ident) if limits.tables is not None else None
    if table is None:
        raise ConfigError("dataset.params.id", f"no uploaded dataset with id {ident!r} on this "
                          "server (upload it with POST /api/datasets, or import a run export "
                          "that embeds it)")
    return table


def data_facts(cfg: Mapping[str, Any], table: Table | None = None) -> tuple[str, int | None]:
    """``(task, input_dim)`` of a config's dataset: from the registry, or from the table of
    custom data (its task in the engine's terms, its number of feature columns)."""
    if table is not None:
        return table.engine_task(), table.d
    comp = DATASETS.get(cfg["dataset"]["name"], "dataset.name")
    return comp.meta["task"], comp.meta.get("input_dim")


def event_size(event: Mapping[str, Any]) -> int:
    """Bytes of ``event`` as compact JSON: what it adds to an export (and to memory, roughly:
    a weights edit is stored as Python floats)."""
    return len(json.dumps(event, separators=(",", ":"), default=str))


DEFAULT_AUGMENT: dict[str, Any] = {"jitter_std": 0.0, "rotate_deg": 0.0, "flip_x": False,
                                   "flip_y": False}

DEFAULT_CONFIG: dict[str, Any] = {
    "seed": 0,
    "dataset": {
        "name": "circle",
        "n": 200,
        "noise": 0.1,
        "val_fraction": 0.2,
        "test_fraction": 0.0,
        "normalize": "none",
        "params": {},
        "features": list(DEFAULT_FEATURES),
    },
    "model": {},
    "loss": None,
    "loss_params": {},
    "optimizer": {"name": "sgd", "lr": 0.03},
    "schedule": {"name": "constant"},
    "regularization": {"l1": 0.0, "l2": 0.0, "l1_method": "proximal"},
    "batch_size": 10,
    "grad_clip": {"mode": "none"},
    "eval_every": 1,
    "early_stopping": None,
    "augment": dict(DEFAULT_AUGMENT),
}


def _int_field(value: Any, field_name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(field_name, f"must be an integer with {lo} <= x <= {hi}")
    return int(value)


def as_mapping(value: Any, field_name: str) -> dict[str, Any]:
    """``None`` -> ``{}``; a mapping -> a dict copy; anything else -> ConfigError."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(field_name, "must be an object")
    return dict(value)


def resolve_optimizer(values: Any, prefix: str = "optimizer") -> dict[str, Any]:
    """``{name, lr, …}`` -> fully resolved dict (torch defaults filled in)."""
    values = as_mapping(values, prefix)
    name = values.pop("name", "sgd")
    comp = OPTIMIZERS.get(name, f"{prefix}.name")
    return {"name": name, **comp.resolve(values, prefix)}


def resolve_schedule(values: Any, base_lr: float, seed: int, prefix: str = "schedule") -> dict:
    """``{name, warmup_steps, …}`` -> fully resolved dict (validated by building it)."""
    values = as_mapping(values, prefix)
    name = values.pop("name", "constant")
    warmup = values.pop("warmup_steps", 0)
    # Building it runs the cross-parameter checks; the resolved dict is what we store.
    make_schedule(name, values, base_lr, seed=seed, warmup_steps=warmup, prefix=prefix)
    comp = SCHEDULES.get(name, f"{prefix}.name")
    return {"name": name, "warmup_steps": warmup, **comp.resolve(values, prefix)}


def resolve_config(raw: Mapping[str, Any] | None, limits: Limits | None = None) -> dict[str, Any]:
    """Validate a run config and fill in every default; the result is JSON-able.

    Raises ConfigError naming the dotted field. ``raw`` may omit anything (``{}`` is valid).
    """
    limits = limits or Limits()
    raw = as_mapping(raw, "config")
    unknown = sorted(set(raw) - set(DEFAULT_CONFIG))
    if unknown:
        raise ConfigError(unknown[0], f"unknown field; allowed: {', '.join(DEFAULT_CONFIG)}")
    cfg: dict[str, Any] = {}
    cfg["seed"] = _int_field(raw.get("seed", 0), "seed", 0, 2**63 - 1)
    dataset = {**DEFAULT_CONFIG["dataset"], **as_mapping(raw.get("dataset"), "dataset")}
    extra = sorted(set(dataset) - set(DEFAULT_CONFIG["dataset"]))
    if extra:
        raise ConfigError(
            f"dataset.{extra[0]}",
            f"unknown field; allowed: {', '.join(DEFAULT_CONFIG['dataset'])}",
        )
    dataset["n"] = _int_field(dataset["n"], "dataset.n", 1, limits.max_samples)
    data_comp = DATASETS.get(dataset["name"], "dataset.name")
    dataset["params"] = resolve_params(
        data_comp, as_mapping(dataset["params"], "dataset.params")
    )
    table = lookup_table(dataset, limits)
    if table is not None:  # custom data: the table decides n; noise means nothing
        check_custom_features(dataset["features"])
        dataset["n"], dataset["noise"] = table.n, 0.0
    dataset["features"] = resolve_features(
        dataset["features"], dataset["name"],
        data_comp.meta.get("input_dim") if table is None else None,
    )
    # Validated when the data is made (make_dataset); kept in the resolved config only when
    # set, so the configs (and exports) of runs without a test split stay as they were.
    tf = dataset["test_fraction"]
    if isinstance(tf, int | float) and not isinstance(tf, bool) and tf == 0:
        del dataset["test_fraction"]
    cfg["dataset"] = dataset
    facts = data_facts(cfg, table)
    cfg["model"] = resolve_model_config(
        raw.get("model"), "model", limits.max_hidden_layers, limits.max_units
    )
    loss = raw.get("loss")
    loss_comp = LOSSES.get(loss if loss is not None else DEFAULT_LOSS[facts[0]], "loss")
    cfg["loss"] = loss  # null: the task's default loss
    cfg["loss_params"] = loss_comp.resolve(
        as_mapping(raw.get("loss_params"), "loss_params"), "loss_params"
    )
    optimizer = dict(DEFAULT_CONFIG["optimizer"]) if "optimizer" not in raw else raw["optimizer"]
    cfg["optimizer"] = resolve_optimizer(optimizer)
    cfg["schedule"] = resolve_schedule(
        raw.get("schedule", DEFAULT_CONFIG["schedule"]), cfg["optimizer"]["lr"], cfg["seed"]
    )
    reg = make_regularization(as_mapping(raw.get("regularization"), "regularization"))
    cfg["regularization"] = reg.to_dict()
    cfg["batch_size"] = _int_field(raw.get("batch_size", 10), "batch_size", 1, limits.max_samples)
    clip = make_grad_clip(as_mapping(raw.get("grad_clip"), "grad_clip"))
    cfg["grad_clip"] = clip.to_dict()
    cfg["eval_every"] = _int_field(raw.get("eval_every", 1), "eval_every", 1, 1_000_000)
    cfg["early_stopping"] = resolve_early_stopping(raw.get("early_stopping"), None, cfg, facts)
    cfg["augment"] = resolve_augment(raw.get("augment"), DEFAULT_AUGMENT, cfg, facts)
    _check_batch_norm_batch(cfg)
    return cfg


def resolve_early_stopping(value: Any, current: Mapping[str, Any] | None,
                           cfg: Mapping[str, Any],
                           facts: tuple[str, int | None] | None = None) -> dict[str, Any] | None:
    """``early_stopping``: ``null`` (off) or ``{monitor, patience, min_delta,
    restore_best_weights}`` merged over ``current`` (or the Keras defaults)."""
    if value is None:
        return None
    values = {**(current or DEFAULT_EARLY_STOPPING), **as_mapping(value, "early_stopping")}
    extra = sorted(set(values) - set(DEFAULT_EARLY_STOPPING))
    if extra:
        raise ConfigError(f"early_stopping.{extra[0]}",
                          f"unknown field; allowed: {', '.join(DEFAULT_EARLY_STOPPING)}")
    monitor = values["monitor"]
    if monitor not in MONITORS:
        raise ConfigError("early_stopping.monitor", f"must be one of {', '.join(MONITORS)}")
    task = (facts or data_facts(cfg))[0]
    if monitor == "val_accuracy" and task == "regression":
        raise ConfigError("early_stopping.monitor",
                          "val_accuracy needs a classification dataset; use val_loss")
    if not cfg["dataset"]["val_fraction"] > 0:
        raise ConfigError("early_stopping", "needs a validation split (dataset.val_fraction > 0)")
    patience = _int_field(values["patience"], "early_stopping.patience", 0, 1_000_000)
    delta = values["min_delta"]
    if isinstance(delta, bool) or not isinstance(delta, int | float) or not (
        math.isfinite(delta) and 0.0 <= delta <= 1e6
    ):
        raise ConfigError("early_stopping.min_delta", "must be a number with 0 <= x <= 1e6")
    restore = values["restore_best_weights"]
    if not isinstance(restore, bool):
        raise ConfigError("early_stopping.restore_best_weights", "must be true or false")
    return {"monitor": monitor, "patience": patience, "min_delta": float(delta),
            "restore_best_weights": restore}


def resolve_augment(value: Any, current: Mapping[str, Any], cfg: Mapping[str, Any],
                    facts: tuple[str, int | None] | None = None) -> dict[str, Any]:
    """``augment``: ``{jitter_std, rotate_deg, flip_x, flip_y}`` merged over ``current``; anything
    but the no-op needs a 2-D dataset."""
    values = {**current, **as_mapping(value, "augment")}
    extra = sorted(set(values) - set(DEFAULT_AUGMENT))
    if extra:
        raise ConfigError(f"augment.{extra[0]}",
                          f"unknown field; allowed: {', '.join(DEFAULT_AUGMENT)}")
    out: dict[str, Any] = {}
    for name, hi in (("jitter_std", MAX_JITTER_STD), ("rotate_deg", 180.0)):
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not (
            math.isfinite(v) and 0.0 <= v <= hi
        ):
            raise ConfigError(f"augment.{name}", f"must be a number with 0 <= x <= {hi:g}")
        out[name] = float(v)
    for name in ("flip_x", "flip_y"):
        if not isinstance(values[name], bool):
            raise ConfigError(f"augment.{name}", "must be true or false")
        out[name] = values[name]
    if out != DEFAULT_AUGMENT:
        dim = (facts or data_facts(cfg))[1]
        if dim != 2:
            two_d = ", ".join(c.name for c in DATASETS if c.meta.get("input_dim") == 2)
            raise ConfigError("augment", f"data augmentation needs a 2-D dataset ({two_d})")
    return out


def _check_batch_norm_batch(cfg: Mapping[str, Any]) -> None:
    """Batch norm cannot normalise one example (torch raises too): batches need >= 2."""
    if cfg["model"]["batch_norm"] and cfg["batch_size"] < 2:
        raise ConfigError("batch_size", "must be >= 2 with batch norm (one example has no "
                          "batch statistics)")


MONITORS = ("val_loss", "val_accuracy")
DEFAULT_EARLY_STOPPING: dict[str, Any] = {"monitor": "val_loss", "patience": 0, "min_delta": 0.0,
                                          "restore_best_weights": False}
"""Keras's defaults (``keras.callbacks.EarlyStopping``)."""
MAX_JITTER_STD = 10.0
AUGMENT_STREAM = 4
"""Spawn key of the augmentation stream: ``SeedSequence(seed).spawn(5)[4]``, a fifth stream
next to :func:`run_seed_streams` (which keeps its four, so older runs are unchanged)."""


def run_seed_streams(seed: int) -> list[np.random.SeedSequence]:
    """The independent random streams of a run: data, initialisation, shuffling, dropout.

    Labs that must see exactly a run's data (e.g. the regularization path next to the sparsity
    lab's runs) draw it from ``np.random.default_rng(run_seed_streams(seed)[0])``.
    """
    return np.random.SeedSequence(seed).spawn(4)


def _finite(x: float) -> bool:
    return math.isfinite(x)


class Run:
    """One training run. Not thread-safe: the server serialises access per run."""

    def __init__(self, config: Mapping[str, Any] | None = None, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.config = resolve_config(config, self.limits)
        self._build()

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        cfg = self.config
        seed = cfg["seed"]
        data_ss, init_ss, shuffle_ss, dropout_ss = run_seed_streams(seed)
        ds = cfg["dataset"]
        self.dataset: Dataset = make_dataset(
            ds["name"],
            n=ds["n"],
            noise=ds["noise"],
            val_fraction=ds["val_fraction"],
            normalize=ds["normalize"],
            params=ds["params"],
            rng=np.random.default_rng(data_ss),
            features=ds["features"],
            test_fraction=ds.get("test_fraction", 0.0),
            table=(table := lookup_table(ds, self.limits)),
        )
        self.table: Table | None = table  # custom data: the uploaded table (exports embed it)
        task = self.dataset.task
        loss_name = cfg["loss"] or DEFAULT_LOSS[task]
        loss_comp = LOSSES.get(loss_name, "loss")
        if task not in loss_comp.meta.get("tasks", ()):
            fits = [c.name for c in LOSSES if task in c.meta.get("tasks", ())]
            raise ConfigError("loss", f"{loss_name!r} does not fit a {task} task; use one of "
                              + ", ".join(fits))
        self.loss: Loss = loss_comp.create(cfg["loss_params"], "loss_params")
        self.loss_name = loss_name
        spec = spec_from_config(cfg["model"], self.dataset.input_dim, self.dataset.output_dim)
        if spec.batch_norm and len(self.dataset.x_train) < 2:
            raise ConfigError("model.batch_norm", "needs at least 2 training examples")
        self.model = MLP(spec, np.random.default_rng(init_ss))
        self._shuffle_rng = np.random.default_rng(shuffle_ss)
        self._dropout_rng = np.random.default_rng(dropout_ss)
        self._augment_rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(AUGMENT_STREAM,)))
        self._apply_training_settings(cfg)
        self._es_reset()
        self.step_count = 0
        self.epoch = 0
        self._start_epoch()
        self.status = "ready"
        self.divergence: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []
        self.event_bytes = 0  # sum of event_size(e) over self.events
        self.history = History(self.model.n_layers)
        self._prev_weight_norm = np.sqrt(self.model.squared_norms(self.model.theta))
        self._prev = np.empty(self.model.n_params)
        self._last_record: dict[str, Any] | None = None
        self._last_parts: tuple[tuple[Any, ...], bool, bool, bool] | None = None
        self._initial_config = copy.deepcopy(cfg)
        self._layer_block = np.empty((len(LAYER_FIELDS), self.model.n_layers))
        self._layer_block[_BN_MEAN_GAP:_BN_VAR_GAP + 1] = np.nan  # null unless batch norm
        self._bn_layers = [(k, b.norm) for k, b in enumerate(self.model.blocks)
                           if isinstance(b.norm, BatchNorm1d)]
        self._nulls: list[Any] = [None] * self.model.n_layers
        self._n_val = len(self.dataset.x_val)

    def _facts(self) -> tuple[str, int | None]:
        """(task, input dim of the data's plane) of the built dataset, for live changes."""
        return self.dataset.task, self.dataset.plane_dim

    def _apply_training_settings(self, cfg: Mapping[str, Any]) -> None:
        opt = dict(cfg["optimizer"])
        self.optimizer: Optimizer = make_optimizer(opt.pop("name"), opt)
        self.schedule: Schedule = self._make_schedule(cfg)
        self.reg: Regularization = make_regularization(cfg["regularization"])
        self.clip: GradClip = make_grad_clip(cfg["grad_clip"])
        self.batch_size: int = cfg["batch_size"]
        self.eval_every: int = cfg["eval_every"]
        self.early_stopping: dict[str, Any] | None = cfg["early_stopping"]
        self.augment: dict[str, Any] = cfg["augment"]
        self._augmenting = cfg["augment"] != DEFAULT_AUGMENT

    def _make_schedule(self, cfg: Mapping[str, Any]) -> Schedule:
        sched = dict(cfg["schedule"])
        name, warmup = sched.pop("name"), sched.pop("warmup_steps", 0)
        return make_schedule(
            name, sched, cfg["optimizer"]["lr"], seed=cfg["seed"], warmup_steps=warmup
        )

    # ------------------------------------------------------------------ data order
    def _start_epoch(self) -> None:
        """Shuffle once per epoch; batches are then zero-copy slices."""
        ds = self.dataset
        perm = self._shuffle_rng.permutation(len(ds.x_train))
        self._epoch_perm = perm
        self._epoch_x = ds.x_train[perm]
        self._epoch_y = ds.y_train[perm]
        self._pos = 0

    def _end_epoch(self) -> None:
        if self.schedule.stateful:
            self.schedule.observe(self._plateau_metric())  # type: ignore[attr-defined]
        self.epoch += 1
        self._start_epoch()

    def _plateau_metric(self) -> float:
        """reduce_on_plateau watches the validation loss (training loss without a val split)."""
        ds = self.dataset
        x, y = (ds.x_val, ds.y_val) if len(ds.x_val) else (ds.x_train, ds.y_train)
        return float(self.loss.value(self.model.predict(x), y))

    def _next_batch(self) -> tuple[FloatArray, Any]:
        """The next mini-batch; the last partial batch of an epoch is its own batch."""
        n_train = len(self._epoch_x)
        if self._pos >= n_train or (
            self.model.spec.batch_norm and n_train - self._pos < 2
        ):  # batch norm cannot normalise a single example (torch raises): drop it
            self._end_epoch()
        lo, hi = self._pos, min(self._pos + self.batch_size, n_train)
        self._pos = hi
        if self._augmenting:
            return self._augmented(self._epoch_perm[lo:hi]), self._epoch_y[lo:hi]
        return self._epoch_x[lo:hi], self._epoch_y[lo:hi]

    def _augmented(self, rows: NDArray[np.intp]) -> FloatArray:
        """The training rows ``rows`` as model inputs ``(b, input_dim)``, augmented in the raw
        (x1, x2) plane: per example a flip of x1 and/or x2 (probability ½ each, if on), a rotation
        about the origin by U(−rotate_deg, rotate_deg) degrees, then Gaussian jitter
        N(0, jitter_std²) per coordinate; then features and normalisation as for the data.
        Always draws ``(b, 5)`` uniforms/normals from the run's augmentation stream, whichever
        options are on, so the stream's position depends only on the batches drawn."""
        ds, aug = self.dataset, self.augment
        plane_norm = ds.plane_normalizer or ds.normalizer
        raw = plane_norm.inverse_transform(ds.points_train[rows])  # (b, 2), a new array
        rng = self._augment_rng
        u = rng.random((len(rows), 3))
        noise = rng.standard_normal((len(rows), 2))
        if aug["flip_x"]:
            raw[u[:, 0] < 0.5, 0] *= -1.0
        if aug["flip_y"]:
            raw[u[:, 1] < 0.5, 1] *= -1.0
        if aug["rotate_deg"]:
            theta = np.deg2rad(aug["rotate_deg"]) * (2.0 * u[:, 2] - 1.0)
            c, s = np.cos(theta), np.sin(theta)
            x1, x2 = raw[:, 0].copy(), raw[:, 1].copy()
            raw[:, 0] = c * x1 - s * x2
            raw[:, 1] = s * x1 + c * x2
        if aug["jitter_std"]:
            raw += aug["jitter_std"] * noise
        if ds.crossed:
            raw = expand_features(raw, ds.features)
        return ds.normalizer.transform(raw)

    # ------------------------------------------------------------------ stepping
    @property
    def layer_count(self) -> int:
        return self.model.n_layers

    def step(self, n: int = 1, collect: bool = True) -> list[dict[str, Any]]:
        """Perform up to ``n`` updates and return their records; stops early (and returns) on
        divergence. ``collect=False`` returns no records (``[]``): the same numbers are in
        :attr:`history` (see :meth:`record_rows`), which is cheaper for a caller that only
        serialises them."""
        if self.status == "diverged":
            raise RunStateError(
                f"run diverged at step {self.divergence and self.divergence['step']}; reset it"
            )
        if self.status == "stopped":
            raise RunStateError(
                f"early stopping stopped the run at step {self.stopped_at}; reset it"
            )
        records = []
        # Overflow on the way to divergence is expected and reported as state, not warned about.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(n):
                self._one_step()
                if collect:
                    records.append(self.last_record)
                if self.status != "ready":  # diverged or stopped
                    break
        return records

    def _one_step(self) -> None:
        model, reg = self.model, self.reg
        t = self.step_count
        xb, yb = self._next_batch()
        epoch = self.epoch
        lr = float(self.schedule.lr_at(t))

        # Validation is measured on the same weights as the training loss (before the update).
        # Without batch norm or dropout, eval mode equals train mode and the validation rows
        # ride along in the training forward pass (one pass instead of two).
        ds = self.dataset
        evaluate = self._n_val and t % self.eval_every == 0
        val_out: FloatArray | None = None
        if evaluate and model.eval_equals_train:
            nb = len(xb)
            everything = model.forward_train(np.concatenate((xb, ds.x_val)), self._dropout_rng,
                                             n_train=nb)
            out, val_out = everything[:nb], everything[nb:]
        else:
            out = model.forward_train(xb, self._dropout_rng)
            if evaluate:
                val_out = model.predict(ds.x_val)
        data_loss, g_out = self.loss.value_and_grad(out, yb)
        model.backward(g_out)
        weights, weight_grads = model.weights, model.weight_grads
        reg_loss = 0.0
        if reg.l1 or reg.l2:
            reg_loss = float(penalty(weights, reg))
            add_penalty_gradient(weight_grads, weights, reg)
        grad_norm_total: float | None = None
        if self.clip.mode != "none":
            grad_norm_total = float(clip_gradients(model.grad, self.clip))
        diverged: dict[str, Any] | None = None
        act_mean, act_std, saturation, dead = model.activation_stats()
        # One reduction checks every gradient (weights, biases, norm parameters): a NaN or inf
        # anywhere makes the sum non-finite.
        if not _finite(data_loss) or not _finite(float(np.add.reduce(model.grad))):
            diverged = self._divergence_info(t, data_loss, act_mean)
            model.delta.fill(0.0)  # the update is skipped
        else:
            if evaluate and self._es_keep_weights():
                # the weights (and BN statistics) this validation is measured on
                np.copyto(self._es_candidate[0], model.theta)
                np.copyto(self._es_candidate[1], model.buffers)
            prev = self._prev
            np.copyto(prev, model.theta)
            self.optimizer.step(model.theta, model.grad, lr)
            if reg.l1 and reg.l1_method == "proximal":
                proximal_l1(weights, reg, lr)
            if not _finite(float(np.add.reduce(model.theta))):
                bad = model.first_nonfinite_layer(model.theta)
                diverged = self._divergence_dict(t, bad, "weights are not finite after the update")
                np.copyto(model.theta, prev)  # roll back to the last finite weights
                model.delta.fill(0.0)
            else:
                np.subtract(model.theta, prev, out=model.delta)

        # One (F, L) block of per-layer telemetry, in LAYER_FIELDS order. Weight, gradient and
        # update norms come from one reduction over the model's (3, P) state rows.
        norms = np.sqrt(model.squared_norms_rows())  # rows: weights, gradients, updates
        block = self._layer_block
        block[0] = norms[1]
        block[1] = norms[0]
        prev_norm = self._prev_weight_norm
        from_zero = not prev_norm.all()  # a layer had all-zero weights before the update
        if from_zero:
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(norms[2], prev_norm, out=block[2])
        else:
            np.divide(norms[2], prev_norm, out=block[2])
        block[3] = act_mean
        block[4] = act_std
        block[5] = np.nan if saturation is None else saturation
        block[6] = np.nan if dead is None else dead
        bn_momentum = None
        for k, bn in self._bn_layers:
            block[_BN_MEAN_GAP, k], block[_BN_VAR_GAP, k] = bn_gaps(bn)
            bn_momentum = bn.momentum
        self._prev_weight_norm = norms[0]

        train_acc = self._accuracy(out, yb)
        val_loss = val_acc = None
        if val_out is not None and diverged is None:
            val_loss = float(self.loss.value(val_out, ds.y_val))
            val_acc = self._accuracy(val_out, ds.y_val)
        n_w = model.n_weights
        zero_fraction = near_zero = 0.0
        if n_w:
            zero_fraction = float(n_w - np.count_nonzero(weights)) / n_w
            near_zero = float(np.count_nonzero(np.abs(weights) < NEAR_ZERO)) / n_w
        scalars = (t, epoch, lr, float(data_loss) + reg_loss, float(data_loss), reg_loss,
                   val_loss, train_acc, val_acc, grad_norm_total, zero_fraction, near_zero,
                   bn_momentum)
        self.history.append_block(scalars, block)
        self.step_count = t + 1
        # The record (a dict) is built on demand from these and the (F, L) block, which keeps
        # this step's numbers until the next step.
        self._last_record = None
        self._last_parts = (scalars, saturation is None, dead is None, from_zero)
        if diverged is not None:
            self.status = "diverged"
            self.divergence = diverged
        else:
            self.status = "ready"
            if val_loss is not None and self.early_stopping is not None:
                self._es_observe(t, val_loss if self.early_stopping["monitor"] == "val_loss"
                                 else val_acc)

    # ------------------------------------------------------------------ early stopping
    def _es_reset(self) -> None:
        """Fresh early-stopping state (Keras ``on_train_begin``)."""
        self.stopped_at: int | None = None
        self._es_wait = 0
        self._es_best: float | None = None
        self._es_best_step: int | None = None
        self._es_best_weights: tuple[FloatArray, FloatArray] | None = None
        n_buf = len(self.model.buffers)
        self._es_candidate = (np.empty(self.model.n_params), np.empty(n_buf))

    def _es_keep_weights(self) -> bool:
        return self.early_stopping is not None and self.early_stopping["restore_best_weights"]

    def _es_improves(self, current: float) -> bool:
        """Keras ``_is_improvement``: ``current - min_delta < best`` for val_loss (mode min),
        ``current - (-min_delta) > best`` … i.e. ``current > best + min_delta`` for
        val_accuracy (mode max); best starts at ±inf."""
        es = self.early_stopping
        assert es is not None
        if self._es_best is None:
            return True
        if es["monitor"] == "val_loss":
            return current + es["min_delta"] < self._es_best
        return current - es["min_delta"] > self._es_best

    def _es_observe(self, t: int, current: float | None) -> None:
        """Keras ``EarlyStopping.on_epoch_end`` with one validation (step ``t``) per "epoch"."""
        es = self.early_stopping
        if es is None or current is None or not math.isfinite(current):
            return
        self._es_wait += 1
        if self._es_improves(current):
            self._es_best, self._es_best_step, self._es_wait = current, t, 0
            if es["restore_best_weights"]:
                self._es_best_weights = (self._es_candidate[0].copy(),
                                         self._es_candidate[1].copy())
            return
        if self._es_wait >= es["patience"]:
            self.status = "stopped"
            self.stopped_at = t
            if es["restore_best_weights"] and self._es_best_weights is not None:
                np.copyto(self.model.theta, self._es_best_weights[0])
                np.copyto(self.model.buffers, self._es_best_weights[1])
                self._prev_weight_norm = np.sqrt(self.model.squared_norms(self.model.theta))

    @property
    def early_stopping_info(self) -> dict[str, Any] | None:
        """``{stopped_at, best_step, best_value}`` with early stopping on (else None):
        ``stopped_at`` the step whose validation made it fire (null while running);
        ``best_step`` the step whose validation was best; ``best_value`` that value, measured on
        the weights that step's validation saw (those restored by ``restore_best_weights``)."""
        if self.early_stopping is None and self.stopped_at is None:
            return None
        return {"stopped_at": self.stopped_at, "best_step": self._es_best_step,
                "best_value": self._es_best}

    # ------------------------------------------------------------------ evaluation
    def evaluate(self) -> dict[str, Any]:
        """Loss (data loss, no penalty) and accuracy (null for regression) on the train,
        validation and test splits at the current weights in eval mode:
        ``{train: {loss, accuracy}, val: {...}, test: {...}}``; ``test`` only with a test split,
        ``val`` values null without validation rows. Non-finite values are null."""
        ds = self.dataset
        splits = [("train", ds.x_train, ds.y_train), ("val", ds.x_val, ds.y_val)]
        if ds.n_test:
            splits.append(("test", ds.x_test, ds.y_test))
        out: dict[str, Any] = {"step": self.step_count}
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for name, x, y in splits:
                if not len(x):
                    out[name] = {"loss": None, "accuracy": None}
                    continue
                pred = self.model.predict(x)
                loss = float(self.loss.value(pred, y))
                out[name] = {"loss": loss if math.isfinite(loss) else None,
                             "accuracy": self._accuracy(pred, y)}
        return out

    def _make_record(self) -> dict[str, Any]:
        """The record of the last step (see :attr:`last_record`)."""
        assert self._last_parts is not None
        scalars, no_saturation, no_dead, from_zero = self._last_parts
        record: dict[str, Any] = dict(zip(SCALAR_FIELDS, scalars, strict=True))
        rows = self._layer_block.tolist()
        for k, name in enumerate(LAYER_FIELDS):
            record[name] = rows[k]
        # Not-applicable entries are null, not NaN (NaN appears only for divergence): the
        # output layer has no saturation or dead fraction (see :meth:`record_rows`).
        if no_saturation:
            record["saturation"] = self._nulls
        else:
            record["saturation"][-1] = None
        if no_dead:
            record["dead_fraction"] = self._nulls
        else:
            record["dead_fraction"][-1] = None
        if from_zero:  # ‖ΔW‖ / 0 is undefined: null, not inf/NaN
            record["update_ratio"] = [v if math.isfinite(v) else None for v in rows[2]]
        for name in ("bn_mean_gap", "bn_var_gap"):  # null where there is no batch norm
            record[name] = ([v if math.isfinite(v) else None for v in record[name]]
                            if self._bn_layers else self._nulls)
        return record

    def record_rows(self, start: int, stop: int) -> tuple[FloatArray, FloatArray]:
        """Rows ``start:stop`` of :attr:`history` as the records show them: ``(scalars (m, S)
        in SCALAR_FIELDS order, layers (m, F, L) in LAYER_FIELDS order)``, copies, where NaN
        and ±inf stand for null. Rows are steps only while ``history.stride == 1``."""
        scalars, layers = self.history.rows(start, stop)
        layers[:, _SATURATION, -1] = np.nan  # null in records: see _make_record
        layers[:, _DEAD, -1] = np.nan
        return scalars, layers

    def _accuracy(self, out: FloatArray, y: Any) -> float | None:
        task = self.dataset.task
        if task == "binary":
            return float(np.count_nonzero((out > 0.0) == y)) / len(y)  # y is 0.0 / 1.0
        if task == "multiclass":
            return float(np.count_nonzero(np.argmax(out, axis=1) == y)) / len(y)
        return None

    def _divergence_info(self, t: int, loss: float, act_mean: FloatArray) -> dict[str, Any]:
        """Where a non-finite loss or gradient comes from: the first layer with non-finite
        activations, else the first layer with a non-finite gradient, else the loss."""
        for k, m in enumerate(act_mean.tolist()):
            if not _finite(m):
                return self._divergence_dict(t, k, "activations are not finite")
        if not _finite(loss):
            return self._divergence_dict(t, self.model.n_layers - 1, "loss is not finite")
        bad = self.model.first_nonfinite_layer(self.model.grad)
        return self._divergence_dict(t, bad, "gradients are not finite")

    def _divergence_dict(self, t: int, layer: int, reason: str) -> dict[str, Any]:
        return {
            "step": t,
            "layer": layer,
            "layer_name": self.model.layer_names()[layer],
            "reason": reason,
        }

    # ------------------------------------------------------------------ live changes
    def apply_patch(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a live change from the next step on, and log it as ``(step, patch)``.

        ``patch`` may hold ``optimizer`` (incl. ``name``: a new name starts fresh optimizer
        state, the same name keeps it), ``schedule``, ``regularization``, ``batch_size``,
        ``dropout``, ``grad_clip``, ``eval_every`` and ``batch_norm_momentum``. Nothing changes
        unless the whole patch validates. Returns the new effective config.
        """
        patch = as_mapping(patch, "patch")
        for key in patch:
            if key in REBUILD_FIELDS:
                raise RebuildRequiredError(
                    key, "cannot change while training; reset the run or create a new one"
                )
            if key not in PATCHABLE:
                raise ConfigError(key, f"unknown field; live-changeable: {', '.join(PATCHABLE)}")
        new_cfg = copy.deepcopy(self.config)
        if "optimizer" in patch:
            opt = as_mapping(patch["optimizer"], "optimizer")
            current = dict(new_cfg["optimizer"])
            if "name" in opt and opt["name"] != current["name"]:
                new_cfg["optimizer"] = resolve_optimizer(opt)
            else:
                current.update(opt)
                new_cfg["optimizer"] = resolve_optimizer(current)
        if "schedule" in patch or "optimizer" in patch:
            sched = as_mapping(patch.get("schedule"), "schedule")
            current = dict(new_cfg["schedule"])
            if "name" in sched and sched["name"] != current["name"]:
                merged = sched
            else:
                merged = {**current, **sched}
            new_cfg["schedule"] = resolve_schedule(
                merged, new_cfg["optimizer"]["lr"], new_cfg["seed"]
            )
        if "regularization" in patch:
            merged = {**new_cfg["regularization"],
                      **as_mapping(patch["regularization"], "regularization")}
            reg = make_regularization(merged)
            new_cfg["regularization"] = reg.to_dict()
        if "grad_clip" in patch:
            merged = {**new_cfg["grad_clip"], **as_mapping(patch["grad_clip"], "grad_clip")}
            clip = make_grad_clip(merged)
            new_cfg["grad_clip"] = clip.to_dict()
        if "batch_size" in patch:
            new_cfg["batch_size"] = _int_field(
                patch["batch_size"], "batch_size", 1, self.limits.max_samples
            )
        if "eval_every" in patch:
            new_cfg["eval_every"] = _int_field(patch["eval_every"], "eval_every", 1, 1_000_000)
        if "dropout" in patch:
            new_cfg["model"]["dropout"] = check_dropout(patch["dropout"], "dropout")
        if "batch_norm_momentum" in patch:
            new_cfg["model"]["batch_norm_momentum"] = check_bn_momentum(
                patch["batch_norm_momentum"], "batch_norm_momentum"
            )
        if "early_stopping" in patch:
            new_cfg["early_stopping"] = resolve_early_stopping(
                patch["early_stopping"], new_cfg["early_stopping"], new_cfg, self._facts())
        if "augment" in patch:
            new_cfg["augment"] = resolve_augment(patch["augment"], new_cfg["augment"], new_cfg,
                                                 self._facts())
        _check_batch_norm_batch(new_cfg)
        if self.config_check is not None:  # e.g. the server's memory budget
            self.config_check(new_cfg)
        event = {"step": self.step_count, "patch": copy.deepcopy(dict(patch))}
        size = self._check_event_room(event)

        # Everything validated: commit.
        old_opt = self.config["optimizer"]
        if new_cfg["optimizer"] != old_opt:
            opt = dict(new_cfg["optimizer"])
            self.optimizer = switch_optimizer(self.optimizer, opt.pop("name"), opt)
        if new_cfg["schedule"] != self.config["schedule"] or new_cfg["optimizer"] != old_opt:
            old = self.schedule
            self.schedule = self._make_schedule(new_cfg)
            if old.stateful and self.schedule.stateful and new_cfg["schedule"]["name"] == (
                self.config["schedule"]["name"]
            ):
                # Keep the plateau counters; a new base lr replaces the current rate, as
                # setting param_group["lr"] does in torch.
                state = dict(old.state_dict())  # type: ignore[attr-defined]
                if new_cfg["optimizer"]["lr"] != old_opt["lr"]:
                    state["lr"] = new_cfg["optimizer"]["lr"]
                self.schedule.load_state_dict(state)  # type: ignore[attr-defined]
        self.reg = make_regularization(new_cfg["regularization"])
        self.clip = make_grad_clip(new_cfg["grad_clip"])
        self.batch_size = new_cfg["batch_size"]
        self.eval_every = new_cfg["eval_every"]
        self.model.dropout = new_cfg["model"]["dropout"]
        self.model.set_bn_momentum(new_cfg["model"]["batch_norm_momentum"])
        old_es, new_es = self.config["early_stopping"], new_cfg["early_stopping"]
        if new_es is not None and (old_es is None or old_es["monitor"] != new_es["monitor"]):
            # switched on or to another metric: start counting afresh (keeps a past stop)
            stopped = self.stopped_at
            self._es_reset()
            self.stopped_at = stopped
        self.early_stopping = new_es
        self.augment = new_cfg["augment"]
        self._augmenting = new_cfg["augment"] != DEFAULT_AUGMENT
        self.config = new_cfg
        self._log_event(event, size)
        return new_cfg

    def _check_event_room(self, event: Mapping[str, Any]) -> int:
        """The size of ``event`` if the log has room for it, else EventLogFullError."""
        size = event_size(event)
        count, limit = len(self.events), self.limits
        if count + 1 > limit.max_events or self.event_bytes + size > limit.max_event_bytes:
            raise EventLogFullError(
                f"event log full: {count} events, {self.event_bytes} bytes, and this change "
                f"adds {size} bytes; the limits are {limit.max_events} events and "
                f"{limit.max_event_bytes} bytes (GRADPLAY_MAX_EVENTS, "
                "GRADPLAY_MAX_EVENT_BYTES). Reset the run (it clears the log) or start a new one"
            )
        return size

    def _log_event(self, event: dict[str, Any], size: int) -> None:
        self.events.append(event)
        self.event_bytes += size

    def set_weights(self, layers: Sequence[Mapping[str, Any]], prefix: str = "layers") -> None:
        """Replace every parameter and buffer (exact float64; see ``MLP.set_layers``), keep the
        optimizer state, and log ``{step, weights}`` so replays stay exact."""
        before = self.model.get_layers()
        self.model.set_layers(layers, prefix)
        exact = [{k: np.asarray(v, dtype=np.float64).tolist() for k, v in layer.items()}
                 for layer in layers]
        event = {"step": self.step_count, "weights": exact}
        try:
            size = self._check_event_room(event)
        except EventLogFullError:
            self.model.set_layers(before)  # nothing changes
            raise
        self._prev_weight_norm = np.sqrt(self.model.squared_norms(self.model.theta))
        self._log_event(event, size)

    # ------------------------------------------------------------------ reset / replay
    def reset(self, seed: int | None = None) -> None:
        """Back to step 0 with the current (patched) config; optionally a new seed."""
        cfg = copy.deepcopy(self.config)
        if seed is not None:
            cfg["seed"] = _int_field(seed, "seed", 0, 2**63 - 1)
        self.config = resolve_config(cfg, self.limits)
        self._build()

    def export(self) -> dict[str, Any]:
        """Everything needed to reproduce this run: initial config, event log, step count, and
        for custom data the table itself (``table``: :meth:`core.tables.Table.to_dict`)."""
        out = {
            "format": "gradplay-run",
            "version": 1,
            "config": copy.deepcopy(self.initial_config),
            "events": copy.deepcopy(self.events),
            "step": self.step_count,
        }
        if self.table is not None:
            out["table"] = self.table.to_dict()
        return out

    @property
    def initial_config(self) -> dict[str, Any]:
        """The config at step 0 (before any logged live change)."""
        return self._initial_config

    config_check: Callable[[Mapping[str, Any]], None] | None = None
    """Called with the would-be config of every live change before it is applied; raises
    ConfigError to refuse it (the server's per-run memory budget, :mod:`app.budgets`)."""

    def estimated_step_seconds(self) -> float:
        """Rough seconds per training step of this run as configured (:mod:`core.cost`)."""
        return cost.step_seconds(self.model.n_weights, self.batch_size,
                                 self.dataset.n_val, self.eval_every)

    @classmethod
    def replay(
        cls,
        config: Mapping[str, Any],
        events: Sequence[Mapping[str, Any]],
        steps: int,
        limits: Limits | None = None,
        max_seconds: float | None = None,
        config_check: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> Run:
        """Rebuild a run from its config and event log and train it to ``steps`` updates
        (refused up front when :meth:`estimated_step_seconds` times ``steps`` exceeds
        ``max_seconds``).

        Errors name their place in the export: ``config.optimizer.lr``,
        ``events[3].patch.model`` (a patch the log cannot hold is invalid input here, never a
        "reset first" conflict), ``events[4].weights[1].W``.
        """
        try:
            run = cls(config, limits)
        except ConfigError as exc:
            raise ConfigError(join_field("config", exc.field), exc.message) from None
        run.config_check = config_check
        if max_seconds is not None:
            estimate = run.estimated_step_seconds() * steps
            if estimate > max_seconds:
                raise ConfigError(
                    "step",
                    f"replaying {steps} steps of this network would take about "
                    f"{estimate:,.0f} s (estimated {run.estimated_step_seconds():.3g} s per "
                    f"step); the limit is {max_seconds:g} s per request "
                    "(GRADPLAY_MAX_REQUEST_SECONDS)",
                )
        if len(events) > run.limits.max_events:
            raise ConfigError("events", f"at most {run.limits.max_events} events "
                              f"(GRADPLAY_MAX_EVENTS), got {len(events)}")
        last = -1
        for k, event in enumerate(events):
            if not isinstance(event, Mapping) or not (
                set(event) == {"step", "patch"} or set(event) == {"step", "weights"}
            ):
                raise ConfigError(f"events[{k}]", "must be an object {step, patch|weights}")
            at = _int_field(event["step"], f"events[{k}].step", 0, steps)
            if at < last:
                raise ConfigError(f"events[{k}].step", "events must be in step order")
            last = at
            if at > run.step_count and run.status == "ready":
                run.step(at - run.step_count, collect=False)
            # a change at the step where the run diverged or stopped was made after that
            # (the log of a run patched before its reset); one beyond it cannot have been
            if at > run.step_count and run.status == "diverged":
                raise ConfigError(f"events[{k}].step", "the run diverged before this event")
            if at > run.step_count:  # early stopping ended it before this event
                raise ConfigError(f"events[{k}].step",
                                  f"early stopping stopped the run at step {run.stopped_at}")
            try:
                if "patch" in event:
                    try:
                        run.apply_patch(event["patch"])
                    except ConfigError as exc:
                        inner = "" if exc.field == "patch" else exc.field
                        raise ConfigError(join_field(f"events[{k}].patch", inner),
                                          exc.message) from None
                else:
                    run.set_weights(event["weights"], prefix=f"events[{k}].weights")
            except EventLogFullError as exc:
                raise ConfigError(f"events[{k}]", str(exc)) from None
        if steps > run.step_count and run.status == "ready":
            run.step(steps - run.step_count, collect=False)
        return run

    # ------------------------------------------------------------------ inspection
    @property
    def last_record(self) -> dict[str, Any] | None:
        """The record of the last step (None before the first)."""
        if self._last_record is None and self._last_parts is not None:
            self._last_record = self._make_record()
        return self._last_record

    def snapshot(
        self, bins: int = 30, grid: int = 50, max_points: int = 2000, mode: str | None = None
    ) -> dict[str, Any]:
        """Per-layer histograms and the model's picture of the data.

        ``layers[k]``: histograms of weights, biases, last gradients (∂L/∂W of the last update)
        and activations (eval-mode forward over at most ``max_points`` training inputs; train
        mode with ``mode="train"``), input to output. Plus, by dataset: ``surface`` (2-D inputs:
        a ``grid`` x ``grid`` window with, for binary data, P(class 1); for multiclass, per-class
        probabilities and the argmax class; for regression, the prediction), ``curve`` (1-D
        regression: the fitted curve), and ``coefficients`` (linear models on data with known
        coefficients: learned vs true); surface and curve are always eval mode (inference).
        For small nets ``network``: per layer ``{W (in, out), dW (last gradient), b}`` and, for
        hidden layers, ``batch_norm`` / ``layer_norm`` / ``dropout`` internals
        (:func:`core.normalization.network_internals`) and, on 2-D data, ``neuron_maps``: every
        hidden unit's eval-mode activation over a coarse ``NEURON_MAP_GRID`` square of the
        surface's window (:meth:`_neuron_maps`). ``dropout``: the last step's
        ``E[x'] = x`` check (:func:`core.normalization.dropout_check`), when it used dropout.
        With ``mode`` (``"train"`` or ``"eval"``), ``modes``: both modes on the same validation
        batch (its first ``max_points`` rows; the training inputs without a validation split of
        at least 2 rows), see :func:`core.normalization.mode_comparison`.

        A snapshot never changes the run: train mode here updates no running statistics and
        draws its dropout masks from a stream of its own (``SNAPSHOT_STREAM``, the step).
        """
        if mode is not None and mode not in MODES:
            raise ConfigError("mode", f"must be one of {', '.join(MODES)}")
        # A diverged (or diverging) model overflows here too: that is state, not a warning.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._snapshot(bins, grid, max_points, mode)

    def _snapshot_rng(self) -> np.random.Generator:
        seq = np.random.SeedSequence(self.config["seed"],
                                     spawn_key=(SNAPSHOT_STREAM, self.step_count))
        return np.random.default_rng(seq)

    def _neuron_maps(self) -> dict[str, Any]:
        """Every hidden unit's eval-mode activation over the plane (TensorFlow Playground's
        per-neuron maps): ``x (r,)``, ``y (r,)`` as in ``surface`` (same window, coarser) and
        ``layers[k] (width_k, r, r)`` for hidden layer ``k``, rows by y. Through
        ``Dataset.inputs_for``, so feature crosses are included. The activations are sent as
        float32: they are pictures, and float64 would double the snapshot of the largest
        diagram net (16 units x 6 layers: 55,296 values)."""
        xs, ys, points = grid_for(self.dataset, resolution=NEURON_MAP_GRID)
        r = len(xs)
        acts = self.model.forward_eval(self.dataset.inputs_for(points))[:-1]
        return {"x": xs, "y": ys,
                "layers": [a.T.reshape(-1, r, r).astype(np.float32) for a in acts]}

    def _snapshot(self, bins: int, grid: int, max_points: int, mode: str | None) -> dict[str, Any]:
        model, ds = self.model, self.dataset
        x_hist = ds.x_train[:max_points]
        if mode == "train" and not (model.spec.batch_norm and len(x_hist) < 2):
            acts = forward_mode(model, x_hist, True, self._snapshot_rng())
        else:
            acts = model.forward_eval(x_hist)
        layers = []
        for k, (name, dense) in enumerate(zip(model.layer_names(), model.dense_layers,
                                              strict=True)):
            layers.append({
                "name": name,
                "shape": list(dense.W.shape),
                "weights": histogram(dense.W, bins),
                "biases": histogram(dense.b, bins),
                "grads": histogram(dense.dW, bins),
                "activations": histogram(acts[k], bins),
            })
        out: dict[str, Any] = {
            "step": self.step_count,
            "status": self.status,
            "task": ds.task,
            "layers": layers,
        }
        if ds.plane_dim == 2:
            # drawn over the (x1, x2) plane whatever the input features are
            xs, ys, points = grid_for(ds, resolution=grid)
            pred = model.predict(ds.inputs_for(points))
            r = len(xs)
            surface: dict[str, Any] = {"x": xs, "y": ys}
            if ds.task == "binary":
                surface["prob"] = sigmoid(pred[:, 0]).reshape(r, r)
            elif ds.task == "multiclass":
                probs = softmax(pred, axis=1)
                surface["probs"] = probs.T.reshape(-1, r, r)
                surface["argmax"] = np.argmax(probs, axis=1).reshape(r, r)
            else:
                surface["value"] = pred[:, 0].reshape(r, r)
            out["surface"] = surface
        elif ds.input_dim == 1 and ds.task == "regression":
            xs = curve_grid(ds)
            out["curve"] = {"x": xs[:, 0], "y": model.predict(xs)[:, 0]}
        small = model.n_layers <= NETWORK_MAX_LAYERS and max(
            [ds.input_dim, *model.widths]
        ) <= NETWORK_MAX_UNITS
        if small:
            # Small nets: every weight and its last gradient, for the network diagram.
            out["network"] = [
                {"W": dense.W.copy(), "dW": dense.dW.copy(), "b": dense.b.copy()}
                for dense in model.dense_layers
            ]
            for entry, extra in zip(out["network"], network_internals(model), strict=False):
                entry.update(extra)
            if ds.plane_dim == 2:
                out["neuron_maps"] = self._neuron_maps()
        drop = dropout_check(model)
        if drop is not None:
            out["dropout"] = drop
        if mode is not None:
            x, y, batch = ds.x_val[:max_points], ds.y_val[:max_points], "val"
            if len(x) < 2:  # no validation split to speak of (train mode needs 2 rows)
                x, y, batch = ds.x_train[:max_points], ds.y_train[:max_points], "train"
            if len(x) >= 2 or not model.spec.batch_norm:
                cmp = mode_comparison(model, x, y, self.loss, self._snapshot_rng(), small)
                out["modes"] = {"mode": mode, "batch": batch, **cmp}
        coef = (ds.truth or {}).get("coef")
        if coef is not None and not model.blocks and not ds.crossed:
            # The model sees normalised inputs (x - shift) / scale, so its weights are the true
            # coefficients times scale: divide to compare in the data's own units.
            learned = model.output.W[:, 0] / ds.normalizer.scale
            out["coefficients"] = {"learned": learned, "learned_normalized": model.output.W[:, 0]
                                   .copy(), "true": list(coef)}
        return out
