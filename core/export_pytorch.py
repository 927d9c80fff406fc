"""“Copy as PyTorch”: a standalone ``torch`` + ``numpy`` script that rebuilds a run.

:func:`pytorch_script` turns a :class:`core.trainer.Run` into Python source text. The script
embeds the training data (``x_train``, ``y_train`` after feature expansion and normalisation),
the initial weights, the resolved hyperparameters, the per-step learning rates and the run's
event log, and trains a ``torch.nn.Module`` step by step, printing ``step <t> loss <value>``
(``t`` as in the records, ``value`` the record's ``loss``: data loss plus penalty, as ``repr``).

Exactness: the batch order is redrawn with NumPy from the run's own shuffle stream
(``SeedSequence(seed).spawn(4)[2]``, one permutation per epoch, the engine's batching rule), so
it is the engine's order bit for bit; everything else runs in float64 in torch. Without dropout
the losses match the engine's history to ~1e-12 relative. Dropout masks come from torch's RNG:
such runs match in distribution only.

Data size: always embedded, so the script never needs the JSON export next to it. Up to
:data:`LITERAL_MAX_VALUES` numbers the data is a readable Python list literal; larger data (an
uploaded table of 20,000 rows and 100 columns: 1.6 million numbers) is the arrays' little-endian
bytes in base64 (stdlib ``base64`` + ``np.frombuffer``): exact, about 11 characters per number
instead of ~20, and the script starts at once (CPython needs ~50 s and 1.7 GB to compile a
list literal of 1.6 million floats).

This module is pure Python + NumPy: it writes text that mentions torch but never imports it.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.optimizers import OPTIMIZERS
from core.schedules import SCHEDULES

__all__ = ["LITERAL_MAX_VALUES", "TORCH_ACTIVATIONS", "TORCH_LOSSES", "TORCH_OPTIMIZERS",
           "pytorch_script"]

LITERAL_MAX_VALUES = 50_000
"""Arrays with more numbers are embedded as base64 bytes instead of a list literal."""

TORCH_OPTIMIZERS = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adadelta": "Adadelta",
    "rprop": "Rprop",
}
"""Catalog optimizer -> ``torch.optim`` class (the catalog uses torch's parameter names)."""

TORCH_ACTIVATIONS = {
    "identity": None,
    "sigmoid": "torch.sigmoid",
    "tanh": "torch.tanh",
    "relu": "F.relu",
    "leaky_relu": "F.leaky_relu",
    "elu": "F.elu",
    "softplus": "F.softplus",
    "gelu": "F.gelu",
    "silu": "F.silu",
}

TORCH_LOSSES = {
    "mse": "F.mse_loss(out, y)",
    "half_mse": "0.5 * F.mse_loss(out, y)",
    "mae": "F.l1_loss(out, y)",
    "smooth_l1": "F.smooth_l1_loss(out, y, **LOSS_PARAMS)",
    "huber": "F.huber_loss(out, y, **LOSS_PARAMS)",
    "bce_with_logits": "F.binary_cross_entropy_with_logits(out, y)",
    "cross_entropy": "F.cross_entropy(out, y)",
}


def _lit(value: Any) -> str:
    """A Python literal of ``value`` (floats as ``repr``: exact round trip)."""
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_lit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_lit(v) for v in value) + "]"
    return repr(value)


def _packed(value: np.ndarray, dtype: str) -> str:
    """``value`` as an expression decoding its little-endian ``dtype`` bytes from base64 (one
    76-character line per 57 bytes; ``b64decode`` skips the newlines), in ``value``'s shape."""
    a = np.ascontiguousarray(value, dtype=np.dtype(dtype).newbyteorder("<"))
    text = base64.encodebytes(a.tobytes()).decode("ascii")
    return (f'np.frombuffer(base64.b64decode("""\n{text}"""), dtype="<{np.dtype(dtype).str[1:]}")'
            f".reshape({tuple(a.shape)!r}).astype(np.{dtype})")


def _training_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The live-changeable settings the script applies, from a resolved config."""
    return {
        "optimizer": dict(cfg["optimizer"]),
        "regularization": dict(cfg["regularization"]),
        "grad_clip": dict(cfg["grad_clip"]),
        "batch_size": cfg["batch_size"],
        "dropout": cfg["model"]["dropout"],
        "batch_norm_momentum": cfg["model"]["batch_norm_momentum"],
    }


def _schedule_note(cfg: dict[str, Any]) -> str:
    name = cfg["schedule"]["name"]
    comp = SCHEDULES.get(name, "schedule.name")
    torch = comp.meta.get("torch")
    if torch:
        return f"{name} = {torch} in torch"
    if comp.meta.get("tf"):
        return f"{name} = {comp.meta['tf']} (TensorFlow; torch has no such scheduler)"
    return f"{name} (a constant learning rate)"


def _check(run: Any) -> None:
    """Refuse what the script cannot reproduce, naming the field (422 at the API)."""
    if run.status == "diverged":
        raise ConfigError(
            "status",
            "the run diverged; reset it before exporting a PyTorch "
            "script (torch would not skip the non-finite update as GradPlay does)",
        )
    if run.history.stride != 1:
        raise ConfigError(
            "step",
            "the run's history is decimated (too many steps); the script "
            "prints every step, so export at most "
            f"{run.history.capacity} steps",
        )
    model_cfg = run.initial_config["model"]
    if model_cfg["activation"] not in TORCH_ACTIVATIONS:
        raise ConfigError("model.activation", "has no torch equivalent in the PyTorch export")
    if run.loss_name not in TORCH_LOSSES:
        raise ConfigError("loss", "has no torch equivalent in the PyTorch export")
    names = [("optimizer.name", run.initial_config["optimizer"]["name"])]
    for k, event in enumerate(run.events):
        opt = event.get("patch", {}).get("optimizer")
        if isinstance(opt, dict) and "name" in opt:
            names.append((f"events[{k}].patch.optimizer.name", opt["name"]))
    for field, name in names:
        if name not in TORCH_OPTIMIZERS:
            raise ConfigError(field, "has no torch.optim equivalent in the PyTorch export")


def _event_actions(run: Any) -> dict[int, list[Any]]:
    """``{step: [("settings", {...}) | ("weights", [...]), ...]}`` from the event log.

    Patches are replayed on a fresh run (no training needed) to get the resolved settings
    after each one; the script applies the whole resolved set.
    """
    from core.trainer import Run  # local: core.trainer is the heavier import

    shadow = Run(run.initial_config, run.limits)
    actions: dict[int, list[Any]] = {}
    for event in run.events:
        if "patch" in event:
            cfg = shadow.apply_patch(event["patch"])
            actions.setdefault(event["step"], []).append(("settings", _training_settings(cfg)))
        else:
            layers = [
                {k: np.asarray(v, dtype=np.float64) for k, v in layer.items()}
                for layer in event["weights"]
            ]
            actions.setdefault(event["step"], []).append(("weights", layers))
    return actions


def pytorch_script(run: Any) -> str:
    """The standalone script (text) for ``run`` (a :class:`core.trainer.Run`) at its current
    step; raises :class:`ConfigError` naming the field for what it cannot reproduce."""
    _check(run)
    from core.trainer import Run

    cfg = run.initial_config
    fresh = Run(cfg, run.limits)  # step 0: the initial weights and the data
    ds = fresh.dataset
    model_cfg = cfg["model"]
    norm = "batch" if model_cfg["batch_norm"] else "layer" if model_cfg["layer_norm"] else None
    lrs = np.asarray(run.history.columns()["lr"], dtype=np.float64)[: run.step_count]
    opt_name = cfg["optimizer"]["name"]
    OPTIMIZERS.get(opt_name, "optimizer.name")
    y = ds.y_train
    y_dtype = "int64" if ds.task == "multiclass" else "float64"
    packed = ds.x_train.size + y.size > LITERAL_MAX_VALUES
    if packed:  # big data: base64 bytes (see the module docstring)
        data_lines = [f"X_TRAIN = {_packed(ds.x_train, 'float64')}",
                      f"Y_TRAIN = {_packed(y, y_dtype)}"]
    else:
        data_lines = [
            f"X_TRAIN = np.array({_lit(ds.x_train)}, dtype=np.float64).reshape(-1, "
            f"{ds.input_dim})",
            f"Y_TRAIN = np.array({_lit(y)}, dtype=np.{y_dtype})"]
    lines = [
        '"""GradPlay run as a standalone PyTorch script (torch + numpy only).',
        "",
        f"Rebuilds the run (seed {cfg['seed']}, {run.step_count} steps) and prints one line per",
        "step: `step <t> loss <value>`, the same numbers as the run's history (`loss`: data loss",
        "plus the L1/L2 penalty), within float rounding (~1e-12 relative), in float64.",
        "",
        "- Data: the training rows as GradPlay feeds them (features expanded, normalised),",
        "  always embedded (at most 20,000 rows), so no JSON export is needed next to it"
        + ("; as" if packed else "."),
        *(["  base64 of the arrays' little-endian bytes (exact; a list literal this long",
           "  would take Python a minute to compile)."] if packed else []),
        "- Batch order: the engine's own per-epoch permutations, redrawn with numpy from the",
        "  run's shuffle stream (SeedSequence(seed).spawn(4)[2]).",
        "- Initial weights embedded; torch's Linear stores W.T of GradPlay's W (in, out).",
        f"- Optimizer: torch.optim.{TORCH_OPTIMIZERS[opt_name]} with GradPlay's (= torch's)",
        "  parameter names.",
        f"- Learning rate schedule: {_schedule_note(cfg)}.",
        "  The script sets each step's lr from LRS, the engine's per-step list (exact for",
        "  every schedule, TensorFlow-named ones and live changes included).",
        "- Regularization as GradPlay defines it: l1*sum|W| + (l2/2)*sum W^2 over dense weights",
        "  (not biases); proximal L1 is an explicit soft-threshold after optimizer.step().",
        "- Live changes from the event log are applied before the step they happened at.",
    ]
    if model_cfg["dropout"] > 0 or any("dropout" in e.get("patch", {}) for e in run.events):
        lines.append("- DROPOUT: masks come from torch's own RNG, not GradPlay's, so this run")
        lines.append("  matches GradPlay in distribution only, not step for step.")
    lines += ['"""', ""]
    lines += [
        *(["import base64", ""] if packed else []),
        "import numpy as np",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        "torch.set_default_dtype(torch.float64)",
        "torch.manual_seed(0)  # dropout masks only",
        "",
        f"SEED = {cfg['seed']!r}",
        f"STEPS = {run.step_count!r}",
        f"TASK = {ds.task!r}",
        *data_lines,
        f"HIDDEN = {_lit(list(model_cfg['hidden']))}",
        f"ACTIVATION = {TORCH_ACTIVATIONS[model_cfg['activation']]}",
        f"ACTIVATION_PARAMS = {_lit(model_cfg['activation_params'])}",
        f"NORM = {norm!r}",
        f"RESIDUAL = {model_cfg['residual']!r}",
        f"LOSS_PARAMS = {_lit(cfg['loss_params'])}",
        f"SETTINGS = {_lit(_training_settings(cfg))}",
        f"INITIAL_LAYERS = {_lit(fresh.model.get_layers())}",
        f"LRS = {_lit(lrs)}",
        f"EVENTS = {_lit(_event_actions(run))}",
        f"OPTIMIZERS = {_lit(TORCH_OPTIMIZERS)}",
        "",
        _BODY.replace("LOSS_EXPR", TORCH_LOSSES[run.loss_name]),
    ]
    return "\n".join(lines)


_BODY = '''
class Net(nn.Module):
    """dense -> [norm] -> activation -> [dropout] (+ residual when widths agree) per hidden
    layer, then a linear output layer."""

    def __init__(self, dims):
        super().__init__()
        pairs = list(zip(dims[:-1], dims[1:]))
        self.linears = nn.ModuleList(nn.Linear(i, o) for i, o in pairs)
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(o, eps=1e-5, momentum=SETTINGS["batch_norm_momentum"])
            if NORM == "batch" else nn.LayerNorm(o, eps=1e-5) if NORM == "layer"
            else nn.Identity()
            for _, o in pairs[:-1])
        self.residual = [RESIDUAL and i == o for i, o in pairs[:-1]]
        self.p = SETTINGS["dropout"]

    def forward(self, x):
        h = x
        for lin, norm, res in zip(self.linears[:-1], self.norms, self.residual):
            a = norm(lin(h))
            a = a if ACTIVATION is None else ACTIVATION(a, **ACTIVATION_PARAMS)
            if self.p > 0:
                a = F.dropout(a, self.p, training=self.training)
            h = h + a if res else a
        return self.linears[-1](h)


def set_layers(model, layers):
    """GradPlay layers {W (in, out), b, [gamma, beta, running_mean, running_var]}."""
    with torch.no_grad():
        for k, layer in enumerate(layers):
            model.linears[k].weight.copy_(torch.tensor(layer["W"]).T)
            model.linears[k].bias.copy_(torch.tensor(layer["b"]))
            if "gamma" in layer:
                model.norms[k].weight.copy_(torch.tensor(layer["gamma"]))
                model.norms[k].bias.copy_(torch.tensor(layer["beta"]))
            if "running_mean" in layer:
                model.norms[k].running_mean.copy_(torch.tensor(layer["running_mean"]))
                model.norms[k].running_var.copy_(torch.tensor(layer["running_var"]))


def make_optimizer(params, spec):
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items() if k != "name"}
    return getattr(torch.optim, OPTIMIZERS[spec["name"]])(params, **kwargs)


def apply_settings(settings, model, optimizer):
    """A live change: the resolved settings after it. Same optimizer name: new
    hyperparameters, state kept; another name: a fresh optimizer (as GradPlay)."""
    global SETTINGS
    old = SETTINGS
    SETTINGS = settings
    spec = settings["optimizer"]
    if spec["name"] != old["optimizer"]["name"]:
        optimizer = make_optimizer(list(model.parameters()), spec)
    else:
        for group in optimizer.param_groups:
            for key, value in spec.items():
                if key != "name":
                    group[key] = tuple(value) if isinstance(value, list) else value
    model.p = settings["dropout"]
    for norm in model.norms:
        if isinstance(norm, nn.BatchNorm1d):
            norm.momentum = settings["batch_norm_momentum"]
    return optimizer


def loss_fn(out, y):
    return LOSS_EXPR


def main():
    x_all = torch.tensor(X_TRAIN)
    y_all = torch.tensor(Y_TRAIN)
    if TASK != "multiclass":
        y_all = y_all.reshape(-1, 1)
    model = Net([X_TRAIN.shape[1], *HIDDEN, len(INITIAL_LAYERS[-1]["b"])])
    set_layers(model, INITIAL_LAYERS)
    model.train()
    params = list(model.parameters())
    optimizer = make_optimizer(params, SETTINGS["optimizer"])
    # The engine's batch order: one permutation per epoch from the run's shuffle stream.
    shuffle = np.random.default_rng(np.random.SeedSequence(SEED).spawn(4)[2])
    n = len(X_TRAIN)
    perm, pos = shuffle.permutation(n), 0
    for t in range(STEPS):
        for kind, payload in EVENTS.get(t, ()):
            if kind == "settings":
                optimizer = apply_settings(payload, model, optimizer)
            else:  # a weights edit: direct parameter assignment, optimizer state kept
                set_layers(model, payload)
        if pos >= n or (NORM == "batch" and n - pos < 2):  # batch norm needs 2 rows
            perm, pos = shuffle.permutation(n), 0
        idx = perm[pos:pos + SETTINGS["batch_size"]]
        pos += len(idx)
        lr = LRS[t]
        for group in optimizer.param_groups:
            group["lr"] = lr
        reg, clip = SETTINGS["regularization"], SETTINGS["grad_clip"]
        optimizer.zero_grad()
        data_loss = loss_fn(model(x_all[idx]), y_all[idx])
        weights = [lin.weight for lin in model.linears]
        l1_sum = sum(w.abs().sum() for w in weights)
        l2_sum = sum((w * w).sum() for w in weights)
        penalty = reg["l1"] * l1_sum.item() + 0.5 * reg["l2"] * l2_sum.item()
        objective = data_loss
        if reg["l2"]:
            objective = objective + 0.5 * reg["l2"] * l2_sum
        if reg["l1"] and reg["l1_method"] == "subgradient":
            objective = objective + reg["l1"] * l1_sum
        objective.backward()
        if clip["mode"] == "norm":
            torch.nn.utils.clip_grad_norm_(params, clip["max_norm"], clip["norm_type"])
        elif clip["mode"] == "value":
            torch.nn.utils.clip_grad_value_(params, clip["clip_value"])
        optimizer.step()
        if reg["l1"] and reg["l1_method"] == "proximal" and lr > 0:
            # Proximal L1: soft-threshold the dense weights by lr * l1 after the step.
            threshold = lr * reg["l1"]
            with torch.no_grad():
                for w in weights:
                    w -= w.clamp(-threshold, threshold)
        print(f"step {t} loss {data_loss.item() + penalty!r}")


if __name__ == "__main__":
    main()
'''
