"""Lab analyses: one module per lab, pure functions from a config to plain arrays and dicts.

- :mod:`core.labs.depth`: gradient/activation statistics of a deep MLP at initialisation.
- :mod:`core.labs.trajectories`: optimizer paths on 2-D test functions (``TEST_FUNCTIONS``).
- :mod:`core.labs.sparsity`: exact regularization paths and the 2-D penalty geometry.
- :mod:`core.labs.backprop`: one training step of a small network, every number shown (and
  :mod:`core.labs.backprop_notes`: the notes' printed 2-2-1 numbers vs the exact ones).
- :mod:`core.labs.input_scaling`: a linear model's loss surface and gradient-descent path with
  unscaled, min-max and z-scored inputs.
- :mod:`core.labs.blocks`: activation profiles, softmax, loss curves, parameter counts and
  iterations per epoch (the building blocks lab).

Shared conventions: every function validates its input (``ConfigError(field, message)`` naming
the allowed range), works in float64, draws randomness only from ``np.random.default_rng``
streams derived from an explicit ``seed``, and returns plain dicts of NumPy arrays / floats /
lists (JSON-able once the web layer converts NumPy values; non-finite floats become ``null``
there). Dense weights are ``W (in, out)``, ``z = x @ W + b``; penalties
``l1·Σ|w| + (l2/2)·Σw²``; optimizers and schedules are the training code itself.
"""
