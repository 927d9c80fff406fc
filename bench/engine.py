"""Engine throughput benchmark: GradPlay's NumPy engine vs PyTorch CPU eager (float64).

Prints two tables (no assertions; see bench/README.md):

1. steps/s and examples/s of ``Run.step`` with full telemetry (as the server calls it: per-layer
   norms, activation statistics, validation evaluation every step, history) next to PyTorch doing
   the same maths (float64, same architecture, forward + backward + optimizer step on the same
   batch size), with and without per-layer weight-gradient-norm telemetry.
2. where the engine's time goes in case (a), measured by calling the pieces of a step directly.

Run with ``make bench`` (or ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/engine.py``).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.trainer import Run  # noqa: E402

REPEAT_SECONDS = 1.5  # length of one timed repeat
REPEATS = 3  # best of
WARMUP_SECONDS = 0.3


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    config: dict[str, Any]
    target_ratio: float  # gradplay steps/s divided by torch steps/s
    target_examples: float | None = None  # gradplay examples/s

    @property
    def batch_size(self) -> int:
        return int(self.config["batch_size"])


CASES = (
    Case(
        "a", "2-8x4-1 tanh, b10, SGD",
        {"dataset": {"name": "circle", "n": 500}, "batch_size": 10,
         "model": {"hidden": [8] * 4, "activation": "tanh"},
         "optimizer": {"name": "sgd", "lr": 0.03}},
        target_ratio=4.0, target_examples=150_000,
    ),
    Case(
        "b", "2-8x6-1 tanh, b64, Adam",
        {"dataset": {"name": "circle", "n": 500}, "batch_size": 64,
         "model": {"hidden": [8] * 6, "activation": "tanh"},
         "optimizer": {"name": "adam", "lr": 0.001}},
        target_ratio=4.0,
    ),
    Case(
        "c", "2-64x20-1 relu+BN, b128, Adam",
        {"dataset": {"name": "circle", "n": 500}, "batch_size": 128,
         "model": {"hidden": [64] * 20, "activation": "relu", "batch_norm": True,
                   "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.001}},
        target_ratio=1.0,
    ),
)


def best_rate(chunk: Callable[[], int], seconds: float = REPEAT_SECONDS,
              repeats: int = REPEATS) -> float:
    """Best of ``repeats`` rates (units/s); each repeat calls ``chunk`` (which returns how many
    units it did) until ``seconds`` have passed. A warm-up precedes the repeats."""
    end = time.perf_counter() + WARMUP_SECONDS
    while time.perf_counter() < end:
        chunk()
    best = 0.0
    for _ in range(repeats):
        done = 0
        start = time.perf_counter()
        while True:
            done += chunk()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


# ------------------------------------------------------------------ GradPlay


def gradplay_rate(case: Case) -> float:
    run = Run(case.config)

    def chunk() -> int:
        if run.status == "diverged":
            run.reset()
        return len(run.step(100))

    return best_rate(chunk)


def breakdown(case: Case) -> list[tuple[str, float]]:
    """Microseconds per step of each piece of ``Run._one_step`` for ``case``."""
    from core.regularizers import clip_gradients

    run = Run(case.config)
    run.step(50)
    model, loss, ds = run.model, run.loss, run.dataset
    xb, yb = ds.x_train[: case.batch_size], ds.y_train[: case.batch_size]
    rng = np.random.default_rng(0)
    theta = model.theta.copy()
    grad = model.grad.copy()
    optimizer = type(run.optimizer)(dict(run.optimizer.hp))
    block = np.zeros((7, model.n_layers))
    scalars = tuple(float(i) for i in range(12))
    n = 200

    def timed(body: Callable[[], None]) -> float:
        def chunk() -> int:
            for _ in range(n):
                body()
            return n

        return 1e6 / best_rate(chunk, seconds=0.4)

    def fwd_bwd() -> None:
        out = model.forward_train(xb, rng)
        _, g = loss.value_and_grad(out, yb)
        model.backward(g)

    def opt_step() -> None:
        optimizer.step(theta, grad, 0.03)

    def telemetry() -> None:
        model.activation_stats()
        model.squared_norms(model.grad)
        sq = model.squared_norms(model.theta)
        np.isfinite(sq).all()
        np.subtract(model.theta, theta, out=model.delta)
        model.squared_norms(model.delta)
        w = model.weights
        np.count_nonzero(w)
        np.count_nonzero(np.abs(w) < 1e-3)
        run._accuracy(model._last_buffer[-len(yb):].reshape(len(yb), -1), yb)

    def validation() -> None:
        out = model.predict(ds.x_val)
        loss.value(out, ds.y_val)
        run._accuracy(out, ds.y_val)

    history = run.history

    def history_append() -> None:
        history.append_block(scalars, block)
        if history.size > 10_000:
            history.size = 0

    def clip_none() -> None:
        clip_gradients(model.grad, run.clip)

    fresh = Run(case.config)

    def whole_step() -> None:
        if fresh.status == "diverged":
            fresh.reset()
        fresh.step(1)

    pieces = [
        ("forward + loss + backward", timed(fwd_bwd)),
        ("optimizer step", timed(opt_step)),
        ("telemetry (norms, act. stats, zeros)", timed(telemetry)),
        ("validation eval (standalone pass)*", timed(validation)),
        ("history append", timed(history_append)),
        ("grad clip (mode none)", timed(clip_none)),
    ]
    total = timed(whole_step)
    parts = sum(t for _, t in pieces)
    pieces.append(("rest (batching, record dict, ...)", max(total - parts, 0.0)))
    pieces.append(("Run.step total", total))
    return pieces


# ------------------------------------------------------------------ PyTorch


def torch_rates(case: Case) -> tuple[float, float, float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    run = Run(case.config)  # same data
    x = torch.from_numpy(run.dataset.x_train.copy())
    y = torch.from_numpy(run.dataset.y_train.copy())
    spec = run.model.spec
    layers: list[Any] = []
    dims = [spec.input_dim, *spec.hidden]
    for i, o in zip(dims[:-1], dims[1:], strict=True):
        layers.append(torch.nn.Linear(i, o, dtype=torch.float64))
        if spec.batch_norm:
            layers.append(torch.nn.BatchNorm1d(o, dtype=torch.float64))
        layers.append(torch.nn.Tanh() if spec.activation == "tanh" else torch.nn.ReLU())
    layers.append(torch.nn.Linear(dims[-1], spec.output_dim, dtype=torch.float64))
    net = torch.nn.Sequential(*layers)
    net.train()
    lossf = torch.nn.BCEWithLogitsLoss()
    opt_cfg = case.config["optimizer"]
    if opt_cfg["name"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=opt_cfg["lr"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=opt_cfg["lr"])
    weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
    bs, n = case.batch_size, len(x)
    state = {"xs": x, "ys": y, "pos": n}

    def next_batch() -> tuple[Any, Any]:
        """The engine's batching: reshuffle per epoch, the last partial batch is its own."""
        if state["pos"] >= n or (spec.batch_norm and n - state["pos"] < 2):
            perm = torch.randperm(n)
            state["xs"], state["ys"], state["pos"] = x[perm], y[perm], 0
        lo = state["pos"]
        hi = min(lo + bs, n)
        state["pos"] = hi
        return state["xs"][lo:hi], state["ys"][lo:hi]

    def step(telemetry: bool) -> None:
        xb, yb = next_batch()
        opt.zero_grad(set_to_none=True)
        out = net(xb)
        loss = lossf(out, yb)
        loss.backward()
        if telemetry:  # per-layer weight-gradient norms, fetched as the server would
            torch.stack([torch.linalg.vector_norm(w.grad) for w in weights]).tolist()
            loss.item()
        opt.step()

    x_val = torch.from_numpy(run.dataset.x_val.copy())
    y_val = torch.from_numpy(run.dataset.y_val.copy())
    act_layers = [m for m in net if isinstance(m, torch.nn.Tanh | torch.nn.ReLU)]

    def same_maths_step() -> None:
        """Everything a GradPlay record holds: batch loss and accuracy, validation loss and
        accuracy (every step), per-layer gradient/weight/update norms, activation mean/std,
        saturation (tanh) or dead units (relu), exact and near-zero weight fractions."""
        xb, yb = next_batch()
        opt.zero_grad(set_to_none=True)
        acts = []
        h = xb
        for module in net:
            h = module(h)
            if module in act_layers:
                acts.append(h)
        loss = lossf(h, yb)
        loss.backward()
        with torch.no_grad():
            before = [w.detach().clone() for w in weights]
            opt.step()
            net.eval()
            val_out = net(x_val)
            net.train()
            stats = [
                loss.item(), lossf(val_out, y_val).item(),
                ((h > 0) == (yb > 0.5)).double().mean().item(),
                ((val_out > 0) == (y_val > 0.5)).double().mean().item(),
                torch.stack([torch.linalg.vector_norm(w.grad) for w in weights]).tolist(),
                torch.stack([torch.linalg.vector_norm(w) for w in weights]).tolist(),
                torch.stack([torch.linalg.vector_norm(w - b) / torch.linalg.vector_norm(b)
                             for w, b in zip(weights, before, strict=True)]).tolist(),
                [(a.mean().item(), a.std(unbiased=False).item()) for a in acts],
                [((a.abs() > 0.9747).double().mean().item() if spec.activation == "tanh"
                  else (~(a > 0).any(dim=0)).double().mean().item()) for a in acts],
            ]
            flat = torch.cat([w.reshape(-1) for w in weights])
            stats.append(((flat == 0).double().mean().item(),
                          (flat.abs() < 1e-3).double().mean().item()))

    def plain() -> int:
        for _ in range(50):
            step(False)
        return 50

    def with_telemetry() -> int:
        for _ in range(50):
            step(True)
        return 50

    def same_maths() -> int:
        for _ in range(50):
            same_maths_step()
        return 50

    return best_rate(plain), best_rate(with_telemetry), best_rate(same_maths)


# ------------------------------------------------------------------ report


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def main() -> None:
    try:
        import torch

        torch_note = f"torch {torch.__version__}, torch.set_num_threads(1), float64, eager"
    except ImportError:
        torch = None  # type: ignore[assignment]
        torch_note = "torch not installed: engine numbers only"
    print(f"GradPlay engine benchmark  (python {platform.python_version()}, numpy "
          f"{np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')})")
    print(f"{torch_note}; best of {REPEATS} x {REPEAT_SECONDS:g} s after warm-up; "
          "dataset circle n=500 (400 train / 100 val, validation every step)")
    print()
    header = (f"{'case':<34} {'gp steps/s':>11} {'gp ex/s':>10} {'torch bare':>11} "
              f"{'ratio':>6} {'torch same maths':>17} {'ratio':>6}  target (vs same maths)")
    print(header)
    print("-" * len(header))
    for case in CASES:
        gp = gradplay_rate(case)
        rates = torch_rates(case) if torch is not None else None
        t_plain, _t_tel, t_same = rates if rates is not None else (math.nan,) * 3
        ratio = gp / t_plain if rates else math.nan
        ratio_same = gp / t_same if rates else math.nan
        target = f">= {case.target_ratio:g}x torch"
        if case.target_examples:
            target += f", >= {case.target_examples:,.0f} ex/s"
        ok_ratio = rates is None or ratio_same >= case.target_ratio
        ok_ex = case.target_examples is None or gp * case.batch_size >= case.target_examples
        verdict = "met" if ok_ratio and ok_ex else "MISSED"
        print(f"({case.key}) {case.label:<30} {_fmt(gp):>11} {_fmt(gp * case.batch_size):>10} "
              f"{_fmt(t_plain):>11} {_fmt(ratio, '.2f'):>6} {_fmt(t_same):>17} "
              f"{_fmt(ratio_same, '.2f'):>6}  {target} ({verdict})")
    print()
    print("torch bare: forward + loss + backward + optimizer step only. torch same maths: also")
    print("everything a GradPlay record holds (validation loss/accuracy every step, per-layer")
    print("gradient/weight/update norms, activation mean/std, saturation or dead units, zeros).")
    print()
    case = CASES[0]
    print(f"Per-step time breakdown, case ({case.key}) {case.label} (pieces called directly):")
    rows = breakdown(case)
    total = rows[-1][1]
    for name, us in rows:
        print(f"  {name:<38} {us:8.2f} us  {100 * us / total:5.1f} %")
    print("  * Run.step evaluates the validation rows inside the training forward pass when the")
    print("    model has no batch norm or dropout, so its real cost is lower than this standalone")
    print("    pass; 'rest' is what remains of Run.step after the pieces above.")


if __name__ == "__main__":
    main()
