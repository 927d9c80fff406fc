"""A rough, deliberately pessimistic estimate of what training a run costs in seconds.

One update of an MLP with ``W`` weights on a batch of ``B`` examples does about ``6 W B``
floating-point operations (forward ``2 W B``, backward twice that); validating on ``V``
examples every ``k`` steps adds ``2 W V / k`` per step, and the per-layer telemetry a few
passes over the parameters. Python overhead adds a roughly constant time per step.

``FLOPS`` is set below what NumPy's single-threaded float64 matrix products reach on a small
server (issue 16 measured the largest network, 64 x 512 units on 20,000 samples, at ~6.4 s per
step, i.e. ~2e10 flop/s): the estimate errs on the long side, so refusing work by it never
lets through what would take far longer than the limit.
"""

from __future__ import annotations

FLOPS = 1e10
"""Floating-point operations per second assumed for the engine (pessimistic)."""
STEP_OVERHEAD_SECONDS = 1e-4
"""Python time per step regardless of size (a tiny network takes ~50-100 us per step)."""


def step_seconds(n_weights: int, batch_size: int, n_val: int, eval_every: int) -> float:
    """Estimated seconds per training step (see the module docstring)."""
    flops = 6.0 * n_weights * batch_size + 2.0 * n_weights * n_val / eval_every
    flops += 20.0 * n_weights  # telemetry and the optimizer's elementwise updates
    return STEP_OVERHEAD_SECONDS + flops / FLOPS
