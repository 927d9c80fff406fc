"""Every live-changeable control of the playground reaches the server while the run plays.

One run plays throughout; each control is changed once (the learning rate, every optimizer
and each of its parameters, the schedule select and one schedule parameter of each type,
warm-up, L1, L2, the L1 method, batch size, dropout, and every clipping mode with its
parameters), and after each change the test reads ``GET /api/runs/{id}`` until the
run's config shows it. A control whose change never reaches the server fails, naming it.
The run must stay the same run (no rebuild) and keep playing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.playground_util import (
    api_run,
    open_playground,
    owner_headers,
    run_id,
    wait_for_api,
)

pytestmark = pytest.mark.e2e

# adamw first: switching to sgd (the catalog's first optimizer) is then a change
URL = "/?dataset=circle&hidden=8,8&optimizer=adamw&lr=0.03&batch_size=10&seed=1"

# New values for optimizer parameters: mild ones, so the run keeps training. A parameter added
# to the catalog without an entry here fails the test (add it, so its control is covered).
OPTIMIZER_VALUES: dict[str, Any] = {
    "momentum": 0.5,
    "dampening": 0.1,
    "nesterov": True,
    "weight_decay": 0.001,
    "lr_decay": 0.001,
    "initial_accumulator_value": 0.1,
    "eps": 1e-6,
    "alpha": 0.9,
    "centered": True,
    "betas": [0.8, 0.99],
    "amsgrad": True,
    "momentum_decay": 0.005,
    "decoupled_weight_decay": True,
    "rho": 0.8,
    "etas": [0.4, 1.1],
    "step_sizes": [1e-5, 10.0],
}
# Every schedule is selected once; its parameter controls are generic (one code path for all
# schedules), so one parameter of each type (int, float, int_list, float_list, bool, choice) is
# changed: in the first schedule (catalog order) with a parameter of a type not yet covered.


def new_value(param: dict[str, Any]) -> Any:
    """A valid value different from the default (the control shows the default after a switch
    of component)."""
    default, kind = param["default"], param["type"]
    if kind == "bool":
        return not default
    if kind == "choice":
        return next(c for c in param["choices"] if c != default)
    top = param.get("max")

    def bump(v: float) -> float:
        if v == 0:
            return 1 if kind.startswith("int") else 0.01
        if kind.startswith("int"):
            return v + 10 if top is None or v + 10 <= top else v - 1
        return v * 2 if top is None or v * 2 <= top else v / 2

    if kind.endswith("_list"):
        return [bump(v) for v in default]
    return bump(default)


def as_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def same(got: Any, want: Any) -> bool:
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(same(g, w) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, bool | str):
        return bool(got == want)
    return got is not None and math.isclose(got, want, rel_tol=1e-9)


class LiveChecker:
    def __init__(self, page: Page, live_server: str) -> None:
        self.page = page
        self.server = live_server
        self.rid = run_id(page)
        self.changes = 0

    def set_control(self, testid: str, value: Any) -> None:
        control = self.page.get_by_test_id(testid)
        expect(control).to_have_count(1)
        tag = control.evaluate("e => e.tagName + ':' + (e.type || '')")
        if tag == "SELECT:select-one":
            control.select_option(str(value))
        elif tag == "INPUT:checkbox":
            control.set_checked(bool(value))
        else:
            control.fill(as_text(value))

    def change(self, *changes: tuple[str, Any, tuple[str, ...]]) -> None:
        """Set each control ``testid`` to ``value`` (controls of one section together: the
        page sends them as one live change); the run's config at each ``path`` must follow.
        A control whose value does not arrive is named in the failure."""
        for testid, value, _ in changes:
            self.set_control(testid, value)
            self.changes += 1

        def missing(body: dict[str, Any]) -> list[str]:
            out = []
            for testid, value, path in changes:
                node: Any = body["config"]
                for key in path:
                    node = node.get(key) if isinstance(node, dict) else None
                if not same(node, value):
                    out.append(f"control {testid!r} = {value!r} (config.{'.'.join(path)})")
            return out

        body = wait_for_api(
            self.server,
            self.rid,
            lambda b: not missing(b),
            " / ".join(c[0] for c in changes),
            page=self.page,
        )
        assert not missing(body)
        assert body["status"] == "running", f"after {changes}: {body['status']}"


def test_every_live_control_reaches_the_running_server(page: Page, live_server: str) -> None:
    catalog = httpx.get(f"{live_server}/api/catalog").json()
    open_playground(page, URL)
    live = LiveChecker(page, live_server)
    # slow play (1 step/s, few chart redraws): the page stays responsive on a busy machine
    page.get_by_test_id("speed").evaluate(
        "e => { e.value = '0'; e.dispatchEvent(new Event('input', { bubbles: true })); }"
    )
    wait_for_api(live_server, live.rid, lambda b: b["speed"] == 1, "speed 1", page=page)
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    start = api_run(live_server, live.rid, page)
    assert start["config"]["optimizer"]["name"] == "adamw"

    live.change(("lr", 0.05, ("optimizer", "lr")))

    # every optimizer, and each of its parameters (after the switch, all at once)
    for entry in catalog["optimizers"]:
        name = entry["name"]
        live.change(("optimizer", name, ("optimizer", "name")))
        batch = []
        for param in entry["params"]:
            pname = param["name"]
            if pname == "lr":
                continue
            assert pname in OPTIMIZER_VALUES, f"no test value for optimizer parameter {pname}"
            batch.append((f"optimizer.{pname}", OPTIMIZER_VALUES[pname], ("optimizer", pname)))
        if name == "sgd":
            # torch: Nesterov momentum needs dampening 0, so dampening goes back to 0 after
            nesterov = [c for c in batch if c[0] == "optimizer.nesterov"]
            live.change(*[c for c in batch if c not in nesterov])
            live.change(("optimizer.dampening", 0.0, ("optimizer", "dampening")), *nesterov)
        else:
            live.change(*batch)

    # schedules: the selects and one parameter of each type (the parameter controls are
    # generic, one code path for every schedule), in the first schedules that have them
    covered: set[str] = set()
    for entry in catalog["schedules"]:
        batch = []
        for param in entry["params"]:
            if param["type"] not in covered:
                covered.add(param["type"])
                name = param["name"]
                batch.append((f"schedule.{name}", new_value(param), ("schedule", name)))
        if batch:
            live.change(("schedule", entry["name"], ("schedule", "name")))
            live.change(*batch)
    assert covered == {"int", "float", "int_list", "float_list", "bool", "choice"}
    live.change(
        ("schedule", "reduce_on_plateau", ("schedule", "name")),
        ("warmup-steps", 7, ("schedule", "warmup_steps")),
    )

    # regularization, batch size, dropout
    live.change(
        ("l1", 0.001, ("regularization", "l1")),
        ("l2", 0.002, ("regularization", "l2")),
        ("l1-method", "subgradient", ("regularization", "l1_method")),
    )
    live.change(("batch-size", 16, ("batch_size",)), ("dropout", 0.1, ("model", "dropout")))

    # clipping: every mode and each of its parameters
    for entry in catalog["grad_clip"]:
        live.change(("grad-clip", entry["name"], ("grad_clip", "mode")))
        if entry["params"]:
            live.change(
                *[
                    (f"grad-clip.{p['name']}", new_value(p), ("grad_clip", p["name"]))
                    for p in entry["params"]
                ]
            )

    # still the same run, still playing, nothing asked to rebuild, every change logged
    end = api_run(live_server, live.rid, page)
    assert end["status"] == "running" and end["step"] > start["step"]
    assert run_id(page) == live.rid
    expect(page.get_by_test_id("rebuild-notice")).to_be_hidden()
    expect(page.get_by_test_id("pg-error")).to_be_hidden()
    events = httpx.get(f"{live_server}/api/runs/{live.rid}/export",
                       headers=owner_headers(page)).json()["events"]
    assert len([e for e in events if "patch" in e]) >= 20
    save_screenshot(page, "playground-live-controls")
    page.get_by_test_id("pause").click()


def test_new_value_differs_from_default() -> None:
    # the helper above must produce a change for every kind of parameter
    cases: list[tuple[dict[str, Any], Callable[[Any], bool]]] = [
        ({"type": "int", "default": 30, "max": 100}, lambda v: v == 40),
        ({"type": "int", "default": 0, "max": 5}, lambda v: v == 1),
        ({"type": "float", "default": 0.95, "max": 1.0}, lambda v: v == 0.475),
        ({"type": "float", "default": 0.0, "max": 1.0}, lambda v: v == 0.01),
        ({"type": "int_list", "default": [30, 80], "max": 1000}, lambda v: v == [40, 90]),
        ({"type": "float_list", "default": [0.1, 0.01]}, lambda v: v == [0.2, 0.02]),
        ({"type": "bool", "default": False}, lambda v: v is True),
        ({"type": "choice", "default": "min", "choices": ["min", "max"]}, lambda v: v == "max"),
    ]
    for param, ok in cases:
        assert ok(new_value(param)), param


def test_change_and_revert_before_the_server_answers(page: Page, live_server: str) -> None:
    """Regression: the page diffed a change against the last config the server had confirmed,
    so setting a value and setting it back before the server's answer arrived sent nothing,
    and the server kept the intermediate value. The server's answers are held back here (a
    routed WebSocket) to make the slow round trip deterministic."""
    hold = {"on": False}
    held: list[str | bytes] = []
    sent: list[str] = []
    routes: list[Any] = []

    def route(ws: Any) -> None:
        routes.append(ws)
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if hold["on"]:
                held.append(message)
            else:
                ws.send(message)

        def from_page(message: str | bytes) -> None:
            sent.append(str(message))
            server.send(message)

        server.on_message(from_server)
        ws.on_message(from_page)

    page.route_web_socket("**/api/runs/*/stream", route)
    open_playground(page, "/?optimizer=sgd&lr=0.03&optimizer.momentum=0.5")
    rid = run_id(page)
    hold["on"] = True
    page.get_by_test_id("optimizer.dampening").fill("0.1")
    wait_for_api(
        live_server,
        rid,
        lambda b: b["config"]["optimizer"]["dampening"] == 0.1,
        "dampening 0.1",
        page=page,
    )
    # the page has not heard back yet; the user sets the value back
    page.get_by_test_id("optimizer.dampening").fill("0")
    page.wait_for_function(
        "() => new URLSearchParams(location.search).get('optimizer.dampening') === null",
        polling=100,
    )  # the debounced change was handled (the URL drops a default value)
    hold["on"] = False
    for message in held:  # the server's answers reach the page late, in order
        routes[0].send(message)
    wait_for_api(
        live_server,
        rid,
        lambda b: b["config"]["optimizer"]["dampening"] == 0.0,
        "dampening set back to 0 before the server's answer",
        page=page,
    )
    assert [m for m in sent if '"set"' in m] == [
        '{"type":"set","patch":{"optimizer":{"dampening":0.1}}}',
        '{"type":"set","patch":{"optimizer":{"dampening":0}}}',
    ]
