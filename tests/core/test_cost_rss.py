"""The memory estimate against real memory (issue 16): for a range of configs, a fresh
process builds the run, trains it and takes a snapshot (``rss_probe.py``); its peak RSS growth
must be within a factor 2 of :func:`core.cost.run_memory` (counted at the history rows those
steps allocate). Configs are large enough (>= 20 MB) that the allocator's noise is small."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).with_name("rss_probe.py")
MB = 2**20

CONFIGS: list[tuple[dict[str, Any], int]] = [
    ({"dataset": {"n": 2000}, "model": {"hidden": [256] * 4}}, 20),
    ({"dataset": {"n": 20000}, "model": {"hidden": [128] * 8}, "batch_size": 100}, 20),
    (
        {
            "dataset": {"name": "spiral", "n": 10000},
            "model": {"hidden": [512] * 8},
            "optimizer": {"name": "adam"},
        },
        5,
    ),
    (
        {
            "dataset": {"n": 4000},
            "model": {"hidden": [256] * 16, "dropout": 0.2},
            "batch_size": 200,
        },
        10,
    ),
    (
        {
            "dataset": {"n": 4000},
            "model": {"hidden": [256] * 16, "batch_norm": True},
            "batch_size": 200,
        },
        10,
    ),
    (
        {
            "dataset": {"n": 20000},
            "model": {"hidden": [512] * 4, "residual": True, "layer_norm": True},
            "optimizer": {"name": "rmsprop"},
        },
        3,
    ),
    ({"dataset": {"n": 200}, "model": {"hidden": [64] * 32}}, 3000),  # history-heavy
    (
        {
            "dataset": {"n": 20000, "test_fraction": 0.2},
            "model": {"hidden": [128] * 2},
            "batch_size": 1000,
            "eval_every": 5,
        },
        300,
    ),
]


@pytest.mark.parametrize(("config", "steps"), CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
def test_estimate_within_2x_of_measured_rss_growth(config: dict[str, Any], steps: int) -> None:
    # RSS growth depends on the allocator (arenas, when freed pages go back to the system):
    # a config is measured up to twice in fresh processes and the estimate must be within 2x
    # of one of them (seen once in a quiet full run: config 7 outside on the first try only).
    failures = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, str(PROBE), json.dumps(config), str(steps)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        result = json.loads(out.stdout)
        growth, estimate = result["growth"], result["estimate"]["total"]
        assert growth > 20 * MB  # large enough to measure
        ratio = estimate / growth
        if 0.5 <= ratio <= 2.0:
            return
        failures.append(
            f"estimate {estimate / MB:.1f} MB vs measured {growth / MB:.1f} MB (x{ratio:.2f}); "
            f"parts: { {k: round(v / MB, 1) for k, v in result['estimate'].items()} }"
        )
    raise AssertionError("; ".join(failures))
