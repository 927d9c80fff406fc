"""Analysis endpoints (core.labs over HTTP), the lab pages and their message catalogs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.routers.pages import GRADIENT_PRESETS
from core.activations import ACTIVATIONS
from core.initializers import INITIALIZERS

DEPTH = "/api/labs/depth"
TRAJ = "/api/optimizers/trajectory"
REG = "/api/labs/regularization-path"
BACKPROP = "/api/labs/backprop"
I18N = Path(__file__).resolve().parents[2] / "static" / "i18n"

NOTES_221 = {
    "x": [1, 2],
    "y": [0.5],
    "layers": [
        {"W": [[0.5, 0.6], [0.7, 0.8]], "b": [0.1, 0.2]},
        {"W": [[0.9], [0.1]], "b": [0.3]},
    ],
    "activation": "sigmoid",
    "loss": "half_mse",
    "lr": 0.1,
}


def locs(response: Any) -> list[list[Any]]:
    return [item["loc"] for item in response.json()["detail"]]


# --- depth profile ------------------------------------------------------------------------


def test_depth_profile_layers_input_to_output(client: TestClient) -> None:
    r = client.post(DEPTH, json={"depth": 5, "width": 16, "activation": "tanh", "seed": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    layers = body["layers"]
    assert len(layers) == 6  # 5 hidden + output
    assert [layer["index"] for layer in layers] == list(range(6))
    for layer in layers:
        assert layer["grad_norm"] > 0
        assert len(layer["act_hist"]["edges"]) == len(layer["act_hist"]["counts"]) + 1
    assert layers[0]["saturation"] is not None and layers[-1]["saturation"] is None
    assert isinstance(body["loss"], float)


def test_depth_profile_sigmoid_xavier_vanishes(client: TestClient) -> None:
    body = {"depth": 20, "width": 64, "activation": "sigmoid", "init": "xavier_uniform"}
    layers = client.post(DEPTH, json=body).json()["layers"]
    assert layers[0]["grad_norm"] < 1e-6 * layers[-2]["grad_norm"]
    res = client.post(DEPTH, json={**body, "residual": True}).json()["layers"]
    assert res[0]["grad_norm"] > 1e-3 * res[-2]["grad_norm"]


def test_depth_profile_relu_reports_dead_units(client: TestClient) -> None:
    r = client.post(DEPTH, json={"depth": 4, "width": 8, "activation": "relu",
                                 "init": "kaiming_normal", "batch_norm": True, "n": 64})
    assert r.status_code == 200, r.text
    assert all(layer["dead_fraction"] is not None for layer in r.json()["layers"][:-1])


def test_depth_profile_params_passed_through(client: TestClient) -> None:
    r = client.post(DEPTH, json={"depth": 2, "width": 4, "activation": "leaky_relu",
                                 "activation_params": {"negative_slope": 0.2},
                                 "init": "normal", "init_params": {"std": 0.5}})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"depth": 0, "width": 8}, ["body", "depth"]),
        ({"depth": 51, "width": 8}, ["body", "depth"]),
        ({"depth": 2, "width": 513}, ["body", "width"]),
        ({"depth": 2, "width": 8, "n": 5000}, ["body", "n"]),
        ({"depth": 2, "width": 8, "activation": "nope"}, ["body", "activation"]),
        ({"depth": 2, "width": 8, "init": "nope"}, ["body", "init"]),
        ({"depth": 2, "width": 8, "init": "normal", "init_params": {"std": -1}},
         ["body", "init_params", "std"]),
        ({"depth": 2, "width": 8, "activation_params": {"x": 1}},
         ["body", "activation_params", "x"]),
        ({"depth": 2, "width": 8, "extra": 1}, ["body", "extra"]),
        ({"depth": "2", "width": 8}, ["body", "depth"]),
        ({"width": 8}, ["body", "depth"]),
    ],
)
def test_depth_profile_rejects(client: TestClient, body: dict[str, Any], loc: list[Any]) -> None:
    r = client.post(DEPTH, json=body)
    assert r.status_code == 422, r.text
    assert loc in locs(r)


def test_depth_width_limit_follows_settings(make_client: Any) -> None:
    small = make_client(max_units=8)
    assert small.post(DEPTH, json={"depth": 2, "width": 8}).status_code == 200
    r = small.post(DEPTH, json={"depth": 2, "width": 9})
    assert r.status_code == 422 and "8" in r.json()["detail"][0]["msg"]


def test_gradient_presets_use_catalog_names(client: TestClient) -> None:
    # presets live server-side; every name must exist and every preset must compute
    for preset in GRADIENT_PRESETS:
        for col in ("a", "b"):
            cfg = preset[col]
            assert cfg["activation"] in ACTIVATIONS and cfg["init"] in INITIALIZERS
            r = client.post(DEPTH, json={**cfg, "n": 64})
            assert r.status_code == 200, (preset["id"], col, r.text)


# --- optimizer trajectory ------------------------------------------------------------------


def test_trajectory_path_starts_at_start(client: TestClient) -> None:
    body = {"function": "quadratic", "start": [1.0, -1.0],
            "optimizer": {"name": "sgd", "lr": 0.1}, "steps": 20}
    r = client.post(TRAJ, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["path"][0] == [1.0, -1.0]
    assert len(out["path"]) == 21 and len(out["value"]) == 21 and len(out["lr"]) == 20
    assert out["value"][-1] < out["value"][0]
    assert out["diverged"] is False


def test_trajectory_with_schedule_and_divergence(client: TestClient) -> None:
    body = {"function": "rosenbrock", "optimizer": {"name": "sgd", "lr": 0.1},
            "schedule": {"name": "step", "step_size": 5, "gamma": 0.5}, "steps": 200}
    out = client.post(TRAJ, json=body).json()
    assert out["diverged"] is True
    assert json.dumps(out)  # strict JSON (no NaN)
    ok = client.post(TRAJ, json={**body, "optimizer": {"name": "adam", "lr": 0.01},
                                 "steps": 10}).json()
    assert ok["lr"][:6] == pytest.approx([0.01] * 5 + [0.005])


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"function": "nope"}, ["body", "function"]),
        ({"function": "quadratic", "steps": 10001}, ["body", "steps"]),
        ({"function": "quadratic", "start": [1.0]}, ["body", "start"]),
        ({"function": "quadratic", "optimizer": {"name": "sgd", "lr": -1}},
         ["body", "optimizer", "lr"]),
        ({"function": "quadratic", "optimizer": {"name": "sgd", "bogus": 1}},
         ["body", "optimizer", "bogus"]),
        ({"function": "quadratic", "schedule": {"name": "step", "gamma": 2}},
         ["body", "schedule", "gamma"]),
    ],
)
def test_trajectory_rejects(client: TestClient, body: dict[str, Any], loc: list[Any]) -> None:
    r = client.post(TRAJ, json=body)
    assert r.status_code == 422, r.text
    assert loc in locs(r)


def test_trajectory_state_and_effective_lr(client: TestClient) -> None:
    body = {"function": "rosenbrock", "optimizer": {"name": "adam", "lr": 0.05}, "steps": 30,
            "state": True}
    r = client.post(TRAJ, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert sorted(out["state"]) == ["exp_avg", "exp_avg_sq"]
    assert all(len(rows) == 30 and len(rows[0]) == 2 for rows in out["state"].values())
    assert len(out["effective_lr"]) == 30 and len(out["distance"]) == 31
    # Adam: effective lr = lr / (√v̂ + eps) with v̂ = exp_avg_sq / (1 − β2ᵗ)
    t, v = 30, out["state"]["exp_avg_sq"][-1][0]
    assert out["effective_lr"][-1][0] == pytest.approx(0.05 / ((v / (1 - 0.999**t)) ** 0.5 + 1e-8))
    plain = client.post(TRAJ, json={**body, "state": False}).json()
    assert "state" not in plain and plain["path"] == out["path"]
    nadam = client.post(TRAJ, json={**body, "optimizer": {"name": "nadam"}}).json()
    assert sorted(nadam["state"]) == ["exp_avg", "exp_avg_sq", "mu_product"]


def test_trajectory_state_of_a_diverged_run_is_strict_json(client: TestClient) -> None:
    body = {"function": "rosenbrock", "start": [3.0, 3.0], "state": True, "steps": 50,
            "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.5}}
    r = client.post(TRAJ, json=body)
    out = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert out["diverged"] is True
    assert len(out["state"]["momentum_buffer"]) == out["steps_done"]


@pytest.mark.parametrize("function", ["plateau", "wells", "saddle"])
def test_new_surfaces_and_distance(client: TestClient, function: str) -> None:
    out = client.post(TRAJ, json={"function": function, "steps": 5}).json()
    assert len(out["path"]) == 6
    if function == "saddle":
        assert out["minima"] == [] and out["distance"] is None
    else:
        assert len(out["distance"]) == 6 and out["minima"]
    if function == "wells":
        assert len(out["minima"]) == 3


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        ({"function": "quadratic", "state": "yes"}, ["body", "state"], "bool"),
        ({"function": "quadratic", "params": {"rotation": 200}}, ["body", "params", "rotation"],
         "-180.0 <= x <= 180.0"),
        ({"function": "plateau", "params": {"width": 0}}, ["body", "params", "width"],
         "0.1 <= x <= 5.0"),
        ({"function": "wells", "params": {"a": 1}}, ["body", "params", "a"], "unknown"),
        ({"function": "quadratic", "optimizer": {"name": "rprop", "etas": [0.5, 0.9]}},
         ["body", "optimizer", "etas"], "0 < η− < 1 < η+"),
        ({"function": "quadratic", "optimizer": {"name": "nadam", "momentum_decay": -1}},
         ["body", "optimizer", "momentum_decay"], "0.0 <= x <= 1.0"),
    ],
)
def test_trajectory_errors_name_field_and_range(
    client: TestClient, body: dict[str, Any], loc: list[Any], message: str
) -> None:
    r = client.post(TRAJ, json=body)
    assert r.status_code == 422, r.text
    detail = {tuple(d["loc"]): d["msg"] for d in r.json()["detail"]}
    assert tuple(loc) in detail, detail
    assert message in detail[tuple(loc)].lower() or message in detail[tuple(loc)]


# --- regularization path -------------------------------------------------------------------


def test_regularization_path_l1_sparsity(client: TestClient) -> None:
    r = client.post(REG, json={"method": "l1", "lambdas": [0.001, 0.1, 100.0]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["coefs"]) == 3 and len(out["coefs"][0]) == 20
    assert out["zeros"][2] == 20  # huge λ: every coefficient exactly 0
    assert out["zeros"][0] < out["zeros"][1]
    ridge = client.post(REG, json={"method": "l2"}).json()
    assert len(ridge["lambdas"]) == 30 and ridge["lambda_max"] is None


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"method": "l3"}, ["body", "method"]),
        ({"method": "l1", "lambdas": [0.0]}, ["body", "lambdas", 0]),
        ({"method": "l1", "lambdas": []}, ["body", "lambdas"]),
        ({"method": "l1", "n_features": 1}, ["body", "n_features"]),
        ({"method": "elastic_net", "l1_ratio": 1.5}, ["body", "l1_ratio"]),
    ],
)
def test_regularization_path_rejects(
    client: TestClient, body: dict[str, Any], loc: list[Any]
) -> None:
    r = client.post(REG, json=body)
    assert r.status_code == 422, r.text
    assert loc in locs(r)


GEOMETRY = "/api/labs/penalty-geometry"


def test_penalty_geometry_l1_corner_vs_l2(client: TestClient) -> None:
    # w* = (1.5, 0.5), H = I: L1 soft-thresholds each coordinate, L2 scales both
    body = {"w_star": [1.5, 0.5], "curvature": [1.0, 1.0], "rotation": 0.0, "resolution": 20}
    l1 = client.post(GEOMETRY, json={**body, "method": "l1", "lam": 0.8})
    assert l1.status_code == 200, l1.text
    out = l1.json()
    assert out["solution"] == pytest.approx([0.7, 0.0]) and out["solution"][1] == 0.0
    assert len(out["x"]) == 20 and len(out["loss"]) == 20 and len(out["loss"][0]) == 20
    assert len(out["path"]["lambdas"]) == len(out["path"]["solutions"]) == 41
    assert out["constraint"][0] == out["constraint"][-1]  # closed diamond
    l2 = client.post(GEOMETRY, json={**body, "method": "l2", "lam": 1.0}).json()
    assert l2["solution"] == pytest.approx([0.75, 0.25])  # shrunk, never exactly 0
    doc = client.get("/openapi.json").json()["paths"][GEOMETRY]["post"]
    assert "422" in doc["responses"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"method": "l3"}, ["body", "method"]),
        ({"method": "l1", "lam": -1.0}, ["body", "lam"]),
        ({"method": "l1", "w_star": [1.0]}, ["body", "w_star"]),
        ({"method": "l1", "curvature": [0.0, 1.0]}, ["body", "curvature", 0]),
        ({"method": "l1", "resolution": 1}, ["body", "resolution"]),
        ({"method": "l1", "extra": 1}, ["body", "extra"]),
    ],
)
def test_penalty_geometry_rejects(
    client: TestClient, body: dict[str, Any], loc: list[Any]
) -> None:
    r = client.post(GEOMETRY, json=body)
    assert r.status_code == 422, r.text
    assert loc in locs(r)


# --- backprop worked example ---------------------------------------------------------------


def test_backprop_notes_221_example(client: TestClient) -> None:
    r = client.post(BACKPROP, json=NOTES_221)
    assert r.status_code == 200, r.text
    out = r.json()
    assert round(out["loss"], 6) == 0.035308
    assert round(out["updated"][1]["b"][0], 6) == 0.295233
    assert len(out["forward"]) == 2 and len(out["backward"]) == 2
    assert len(out["backward"][0]["dW"]) == 2 and len(out["backward"][0]["dW"][0]) == 2
    assert out["forward"][0]["z"] == pytest.approx([2.0, 2.4])


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"layers": [{"W": [[0.5, 0.6]], "b": [0.1, 0.2]}]}, ["body", "layers", 0, "W"]),
        ({"layers": [{"W": [[0.5], [0.6]], "b": [0.1, 0.2]}]}, ["body", "layers", 0, "b"]),
        ({"layers": [{"W": [[0.5], [0.6]]}]}, ["body", "layers", 0, "b"]),
        ({"activation": "nope"}, ["body", "activation"]),
        ({"loss": "nope"}, ["body", "loss"]),
        ({"output_activation": "nope"}, ["body", "output_activation"]),
        ({"lr": 100}, ["body", "lr"]),
        ({"y": [0.5, 0.5]}, ["body", "y"]),
    ],
)
def test_backprop_rejects(client: TestClient, patch: dict[str, Any], loc: list[Any]) -> None:
    r = client.post(BACKPROP, json={**NOTES_221, **patch})
    assert r.status_code == 422, r.text
    assert loc in locs(r)


def test_analysis_endpoints_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for url in (DEPTH, TRAJ, REG, BACKPROP):
        op = paths[url]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" in schema and "422" in op["responses"]


# --- pages and message catalogs --------------------------------------------------------------


@pytest.mark.parametrize("url", ["/labs/schedules", "/labs/gradients", "/labs/sparsity", "/"])
def test_lab_pages_render(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200
    assert 'data-testid="lang-toggle"' in r.text and 'data-testid="font-toggle"' in r.text
    assert "<script>" not in r.text  # CSP: no inline scripts


def test_message_catalogs_have_the_same_keys() -> None:
    en = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((I18N / "zh.json").read_text(encoding="utf-8"))
    ui = {k for k in zh if not k.startswith("catalog.")}  # catalog.* fall back to the API text
    assert set(en) == ui
    assert all(v.strip() for v in [*en.values(), *zh.values()])


def test_templates_only_use_known_keys(client: TestClient) -> None:
    import re

    en = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
    for url in ("/labs/schedules", "/labs/gradients", "/"):
        keys = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', client.get(url).text))
        assert keys and keys <= set(en), sorted(keys - set(en))


# --- exponentially weighted average ----------------------------------------------------------

EWA = "/api/labs/ewa"


def test_ewa_generated_and_given_series(client: TestClient) -> None:
    r = client.post(EWA, json={"beta": 0.9, "n": 50, "seed": 3})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["t"][:3] == [1, 2, 3] and len(out["values"]) == 50 and len(out["signal"]) == 50
    assert out["window"] == pytest.approx(10.0)
    given = client.post(EWA, json={"values": [4.0, 4.0, 4.0], "beta": 0.5}).json()
    assert given["signal"] is None
    assert given["zero_start"] == [2.0, 3.0, 3.5]
    assert given["bias_corrected"] == pytest.approx([4.0, 4.0, 4.0], rel=1e-15)
    assert given["first_value_start"] == [4.0, 4.0, 4.0]


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        ({"beta": 1.0}, ["body", "beta"], "0.0 <= x < 1.0"),
        ({"values": []}, ["body", "values"], "1 to 10000"),
        ({"values": [1, 1e13]}, ["body", "values", 1], "<= 1000000000000.0"),
        ({"n": 20000}, ["body", "n"], "1 <= x <= 10000"),
        ({"noise": -1}, ["body", "noise"], "0.0 <= x <= 100.0"),
        ({"bogus": 1}, ["body", "bogus"], ""),
    ],
)
def test_ewa_errors_name_field_and_range(
    client: TestClient, body: dict[str, Any], loc: list[Any], message: str
) -> None:
    r = client.post(EWA, json=body)
    assert r.status_code == 422, r.text
    detail = {tuple(d["loc"]): d["msg"] for d in r.json()["detail"]}
    assert tuple(loc) in detail, detail
    assert message in detail[tuple(loc)]


# --- input normalisation (issue 12) ----------------------------------------------------------

INPUT_SCALING = "/api/labs/input-scaling"


def test_input_scaling_surfaces_and_paths(client: TestClient) -> None:
    r = client.post(INPUT_SCALING, json={"steps": 20, "grid": 15, "seed": 2})
    assert r.status_code == 200, r.text
    out = r.json()
    assert [m["normalize"] for m in out["methods"]] == ["none", "minmax", "zscore"]
    from core.labs.input_scaling import input_scaling

    want = input_scaling(steps=20, grid=15, seed=2)["methods"]
    for got, ref in zip(out["methods"], want, strict=True):
        assert got["path"] == ref["path"].tolist()
        assert got["grid"]["loss"] == ref["grid"]["loss"].tolist()
        assert len(got["grid"]["w1"]) == 15 and len(got["loss"]) == 21
    assert out["methods"][0]["condition_number"] > 1e5 > out["methods"][2]["condition_number"]


@pytest.mark.parametrize(
    ("body", "loc", "text"),
    [({"steps": 0}, ["body", "steps"], "1"),
     ({"lr_fraction": 1.5}, ["body", "lr_fraction"], "0.99"),
     ({"grid": 7}, ["body", "grid"], "11"), ({"extra": 1}, ["body", "extra"], "")],
)
def test_input_scaling_bad_values(client: TestClient, body: dict, loc: list, text: str) -> None:
    r = client.post(INPUT_SCALING, json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == loc and text in detail["msg"]
