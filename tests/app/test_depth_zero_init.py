"""Issue 9, defect 7: which layers get a gradient with all-zero initial weights, per
architecture, straight from the engine (POST /api/labs/depth). The lab's text and chart must
say the same."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "gelu", "softplus"])
@pytest.mark.parametrize(("batch_norm", "residual"), [(False, False), (True, False), (False, True)])
def test_zero_init_gradients(
    client: TestClient, activation: str, batch_norm: bool, residual: bool
) -> None:
    r = client.post(
        "/api/labs/depth",
        json={
            "depth": 4,
            "width": 16,
            "activation": activation,
            "init": "zeros",
            "batch_norm": batch_norm,
            "residual": residual,
            "n": 64,
            "seed": 0,
        },
    )
    assert r.status_code == 200, r.text
    layers = r.json()["layers"]
    hidden, out = layers[:-1], layers[-1]
    # every hidden layer: exactly zero (W and b) -- no signal reaches them through W_out = 0
    assert all(lay["grad_norm"] == 0.0 and lay["bias_grad_norm"] == 0.0 for lay in hidden)
    # the output bias always learns: dL/db_out = sum of the output errors
    assert out["bias_grad_norm"] > 0.0
    # the output weights learn iff the last hidden activation is not 0 everywhere:
    # f(0) != 0 (sigmoid: 1/2, softplus: ln 2) or a residual path carrying the input
    expect_w = activation in ("sigmoid", "softplus") or residual
    assert (out["grad_norm"] > 0.0) == expect_w
