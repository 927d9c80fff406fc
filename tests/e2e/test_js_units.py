"""Unit tests of the playground's pure front-end functions, run in the browser (no toolchain):
the ES modules served by the app are imported into a page with ``import()`` and called with
edge cases; results come back as JSON and are checked here.

Covered: ``needsRebuild`` and ``livePatch`` (controls.js), ``configFromQuery`` /
``queryFromConfig`` (URL state, controls.js) with ``parseParam`` / ``formatParam``
(common.js), ``thinCurve`` and ``RecordStore`` (charts.js).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

# The page's own module instances: the page loads /static/js/common.js and the playground
# modules import each other by these unversioned URLs.
PRELUDE = """
  const controls = await import("/static/js/playground/controls.js");
  const charts = await import("/static/js/playground/charts.js");
  const common = await import("/static/js/common.js");
  const catalog = await common.getCatalog();
"""


@pytest.fixture(scope="module")
def js(browser: Browser, live_server: str) -> Iterator[Page]:
    """A light page (the API reference) that has the shared modules; console errors fail."""
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/api-reference")
    page.wait_for_function("() => document.body.dataset.i18nReady === 'true'")
    yield page
    context.close()
    assert not errors, errors


def run_js(page: Page, body: str, arg: Any = None) -> Any:
    """Evaluate ``body`` (an async function body with controls, charts, common, catalog and
    ``arg`` in scope)."""
    return page.evaluate(f"async (arg) => {{ {PRELUDE} {body} }}", arg)


@pytest.fixture(scope="module")
def base_config(live_server: str) -> dict[str, Any]:
    """A server-resolved config with non-default values almost everywhere."""
    raw = {
        "seed": 7,
        "dataset": {
            "name": "spiral",
            "n": 300,
            "noise": 0.2,
            "val_fraction": 0.25,
            "normalize": "zscore",
            "params": {"classes": 4},
            "features": ["x1", "x2", "x1_x2", "sin_x1"],
        },
        "model": {
            "hidden": [8, 6],
            "activation": "leaky_relu",
            "activation_params": {"negative_slope": 0.2},
            "init": "kaiming_normal",
            "dropout": 0.1,
            "layer_norm": True,
        },
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "lr": 0.005, "betas": [0.8, 0.99], "amsgrad": True},
        "schedule": {"name": "multistep", "milestones": [40, 90], "gamma": 0.5, "warmup_steps": 10},
        "regularization": {"l1": 0.001, "l2": 0.0005, "l1_method": "subgradient"},
        "batch_size": 16,
        "grad_clip": {"mode": "norm", "max_norm": 0.5, "norm_type": 1.0},
    }
    r = httpx.post(f"{live_server}/api/runs", json=raw)
    assert r.status_code == 201, r.text
    return dict(r.json()["config"])


def changed(cfg: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return out


# ---------------------------------------------------------------------------- needsRebuild

REBUILD = [
    ("seed", 8),
    ("dataset.name", "circle"),
    ("dataset.n", 301),
    ("dataset.noise", 0.3),
    ("dataset.val_fraction", 0.2),
    ("dataset.normalize", "none"),
    ("dataset.params", {"classes": 3}),
    ("model.hidden", [8]),
    ("model.hidden", [8, 6, 4]),
    ("model.activation", "relu"),
    ("model.activation_params", {"negative_slope": 0.01}),
    ("model.init", "xavier_uniform"),
    ("model.layer_norm", False),
    ("model.batch_norm", True),
    ("model.residual", True),
    ("loss", None),
]
LIVE = [
    ("optimizer.lr", 0.01),
    ("optimizer.name", "sgd"),
    ("optimizer.betas", [0.9, 0.999]),
    ("schedule.gamma", 0.1),
    ("schedule.name", "constant"),
    ("schedule.warmup_steps", 0),
    ("regularization.l1", 0.0),
    ("regularization.l1_method", "proximal"),
    ("batch_size", 32),
    ("grad_clip.mode", "none"),
    ("grad_clip.max_norm", 2.0),
    ("model.dropout", 0.0),
]


def test_needs_rebuild(js: Page, base_config: dict[str, Any]) -> None:
    cases = [(f"{p}={v!r}", changed(base_config, p, v)) for p, v in REBUILD + LIVE]
    got = run_js(
        js,
        "return arg.cases.map(([k, c]) => [k, controls.needsRebuild(arg.base, c)]);",
        {"base": base_config, "cases": cases},
    )
    want = {f"{p}={v!r}": True for p, v in REBUILD} | {f"{p}={v!r}": False for p, v in LIVE}
    assert dict(got) == want
    same = run_js(js, "return controls.needsRebuild(arg, structuredClone(arg));", base_config)
    assert same is False
    # the loss's parameters only matter when a loss is chosen (null: the task's default)
    default_loss = changed(base_config, "loss", None)
    edge = run_js(
        js,
        """
      const a = structuredClone(arg); const b = structuredClone(arg);
      b.loss_params = {beta: 2};
      const c = structuredClone(arg); c.loss = "cross_entropy"; c.loss_params = {};
      const d = structuredClone(c); d.loss_params = {label_smoothing: 0.1};
      return [controls.needsRebuild(a, b), controls.needsRebuild(a, c),
              controls.needsRebuild(c, d)];
    """,
        default_loss,
    )
    assert edge == [False, True, True]


# ------------------------------------------------------------------------------ livePatch


def live_patch(js: Page, old: dict[str, Any], new: dict[str, Any]) -> Any:
    return run_js(js, "return controls.livePatch(arg[0], arg[1]);", [old, new])


def test_live_patch_nothing_or_only_rebuild_fields(js: Page, base_config: dict[str, Any]) -> None:
    assert live_patch(js, base_config, copy.deepcopy(base_config)) is None
    for path, value in REBUILD:
        assert live_patch(js, base_config, changed(base_config, path, value)) is None, path


def test_live_patch_sends_only_what_changed(js: Page, base_config: dict[str, Any]) -> None:
    cfg = base_config
    assert live_patch(js, cfg, changed(cfg, "optimizer.lr", 0.01)) == {"optimizer": {"lr": 0.01}}
    assert live_patch(js, cfg, changed(cfg, "optimizer.betas", [0.9, 0.9])) == {
        "optimizer": {"betas": [0.9, 0.9]}
    }
    assert live_patch(js, cfg, changed(cfg, "schedule.gamma", 0.1)) == {"schedule": {"gamma": 0.1}}
    assert live_patch(js, cfg, changed(cfg, "schedule.warmup_steps", 0)) == {
        "schedule": {"warmup_steps": 0}
    }
    assert live_patch(js, cfg, changed(cfg, "regularization.l2", 0.1)) == {
        "regularization": {"l2": 0.1}
    }
    assert live_patch(js, cfg, changed(cfg, "regularization.l1_method", "proximal")) == {
        "regularization": {"l1_method": "proximal"}
    }
    assert live_patch(js, cfg, changed(cfg, "grad_clip.max_norm", 2.0)) == {
        "grad_clip": {"max_norm": 2.0}
    }
    assert live_patch(js, cfg, changed(cfg, "batch_size", 1)) == {"batch_size": 1}
    assert live_patch(js, cfg, changed(cfg, "model.dropout", 0)) == {"dropout": 0}
    # several at once, and a live change next to a rebuild change (the live part is sent)
    both = changed(changed(changed(cfg, "batch_size", 4), "optimizer.lr", 0.5), "seed", 99)
    assert live_patch(js, cfg, both) == {"optimizer": {"lr": 0.5}, "batch_size": 4}


def test_live_patch_new_component_sends_it_whole(js: Page, base_config: dict[str, Any]) -> None:
    cfg = base_config
    sgd = {
        "name": "sgd",
        "lr": 0.005,
        "momentum": 0.9,
        "dampening": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
    }
    assert live_patch(js, cfg, changed(cfg, "optimizer", sgd)) == {"optimizer": sgd}
    step = {"name": "step", "warmup_steps": 10, "step_size": 30, "gamma": 0.5}
    assert live_patch(js, cfg, changed(cfg, "schedule", step)) == {"schedule": step}
    clip = {"mode": "value", "max_norm": 0.5, "norm_type": 1.0, "clip_value": 0.1}
    assert live_patch(js, cfg, changed(cfg, "grad_clip", clip)) == {"grad_clip": clip}


# ------------------------------------------------------------------------------ URL state


def test_url_round_trip_keeps_the_config(
    js: Page,
    base_config: dict[str, Any],
    live_server: str,
) -> None:
    """config -> query -> config resolves (server) to the same config."""
    got = run_js(
        js,
        """
      const pairs = controls.queryFromConfig(arg, catalog);
      const text = new URLSearchParams(pairs).toString();
      return [pairs, controls.configFromQuery(new URLSearchParams(text), catalog)];
    """,
        base_config,
    )
    pairs, partial = got
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "a key written twice"
    r = httpx.post(f"{live_server}/api/runs", json=partial)
    assert r.status_code == 201, r.text
    assert r.json()["config"] == base_config


def test_url_writes_defaults_compactly(js: Page, live_server: str) -> None:
    default = httpx.post(f"{live_server}/api/runs", json={}).json()["config"]
    pairs = dict(run_js(js, "return controls.queryFromConfig(arg, catalog);", default))
    # component parameters at their defaults are left out; main choices are always there
    assert not [k for k in pairs if k.startswith(("optimizer.", "schedule.", "dataset.", "clip"))]
    assert pairs["optimizer"] == default["optimizer"]["name"]
    assert pairs["lr"] == str(default["optimizer"]["lr"])
    assert pairs["hidden"] == ",".join(str(w) for w in default["model"]["hidden"])
    assert "dropout" not in pairs and "l1_method" not in pairs and "normalize" not in pairs


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ("", {}),
        ("hidden=", {"model": {"hidden": []}}),
        ("hidden=8,4", {"model": {"hidden": [8, 4]}}),
        ("hidden=8,x", {}),
        ("hidden=8,2.5", {}),
        ("n=abc&noise=&seed=1.5", {}),
        ("n=50&seed=3", {"dataset": {"n": 50}, "seed": 3}),
        (
            "batch_norm=1&residual=false&layer_norm=maybe",
            {"model": {"batch_norm": True, "residual": False}},
        ),
        ("normalize=zscore", {"dataset": {"normalize": "zscore"}}),
        ("normalize=bogus", {}),
        ("loss=", {}),
        ("lr=1e-3", {"optimizer": {"lr": 0.001}}),
        ("lr=inf", {}),
        (
            "optimizer=adam&optimizer.betas=0.9,0.95&optimizer.amsgrad=true",
            {"optimizer": {"name": "adam", "betas": [0.9, 0.95], "amsgrad": True}},
        ),
        ("optimizer=adam&optimizer.betas=0.9,oops", {"optimizer": {"name": "adam"}}),
        ("optimizer.momentum=0.9", {"optimizer": {"momentum": 0.9}}),  # sgd is the default
        (
            "schedule=multistep&schedule.milestones=10,20",
            {"schedule": {"name": "multistep", "milestones": [10, 20]}},
        ),
        ("schedule=multistep&schedule.milestones=10,2.5", {"schedule": {"name": "multistep"}}),
        ("schedule=one_cycle&schedule.anneal_strategy=bogus", {"schedule": {"name": "one_cycle"}}),
        ("warmup_steps=5", {"schedule": {"warmup_steps": 5}}),
        (
            "l1=0.01&l1_method=subgradient",
            {"regularization": {"l1": 0.01, "l1_method": "subgradient"}},
        ),
        ("l1_method=bogus", {}),
        ("clip=norm&clip.max_norm=0.5", {"grad_clip": {"mode": "norm", "max_norm": 0.5}}),
        ("dataset=nope", {}),  # not a catalog dataset: dropped (and named) by the page
        (
            "dataset=spiral&dataset.classes=4",
            {"dataset": {"name": "spiral", "params": {"classes": 4}}},
        ),
        ("val_split=0.3", {"dataset": {"val_fraction": 0.3}}),
        ("dropout=0.2", {"model": {"dropout": 0.2}}),
        ("features=x1_sq,x2_sq", {"dataset": {"features": ["x1_sq", "x2_sq"]}}),
        ("features=x1,cube", {}),  # unknown name: dropped
        ("features=x1,x1", {}),  # twice
        ("features=", {}),  # none
        ("dataset=sine&features=x1_sq", {"dataset": {"name": "sine"}}),  # 2-D only
        ("dataset=sine&features=x1,x2", {"dataset": {"name": "sine", "features": ["x1", "x2"]}}),
    ],
)
def test_config_from_query_edge_cases(js: Page, query: str, want: dict[str, Any]) -> None:
    got = run_js(js, "return controls.configFromQuery(new URLSearchParams(arg), catalog);", query)
    assert got == want


PARAM_CASES = [
    # (param, text, parsed); parsed None = null, "undefined" = rejected
    ({"name": "p", "type": "float"}, "0.5", 0.5),
    ({"name": "p", "type": "float"}, "1e-3", 0.001),
    ({"name": "p", "type": "float"}, " 2 ", 2),
    ({"name": "p", "type": "float"}, "", "undefined"),
    ({"name": "p", "type": "float"}, "abc", "undefined"),
    ({"name": "p", "type": "float"}, "Infinity", "undefined"),
    ({"name": "p", "type": "int"}, "3", 3),
    ({"name": "p", "type": "int"}, "2.5", "undefined"),
    ({"name": "p", "type": "int", "nullable": True}, "", None),
    ({"name": "p", "type": "bool"}, "true", True),
    ({"name": "p", "type": "bool"}, "0", False),
    ({"name": "p", "type": "bool"}, "yes", "undefined"),
    ({"name": "p", "type": "choice", "choices": ["a", "b"]}, "b", "b"),
    ({"name": "p", "type": "choice", "choices": ["a", "b"]}, "c", "undefined"),
    ({"name": "p", "type": "float_list"}, "0.9,0.99", [0.9, 0.99]),
    ({"name": "p", "type": "float_list"}, "", []),
    ({"name": "p", "type": "float_list"}, "1,,2", "undefined"),
    ({"name": "p", "type": "int_list"}, "30, 80", [30, 80]),
    ({"name": "p", "type": "int_list"}, "30,8.5", "undefined"),
]


def test_parse_param_and_format_param(js: Page) -> None:
    got = run_js(
        js,
        """
      return arg.map(([p, text]) => {
        const v = common.parseParam(p, text);
        return [v === undefined ? "undefined" : v,
                v === undefined ? null : common.formatParam(p, v)];
      });
    """,
        [[p, text] for p, text, _ in PARAM_CASES],
    )
    for (param, text, want), (value, formatted) in zip(PARAM_CASES, got, strict=True):
        assert value == want, (param, text)
        if want != "undefined":
            # formatting and parsing again gives the same value
            again = run_js(js, "return common.parseParam(arg[0], arg[1]);", [param, formatted])
            assert again == want, (param, formatted)


# ------------------------------------------------------------------------------ thinCurve


def thin(js: Page, y_expr: str, n: int, target: int | None = None) -> dict[str, Any]:
    return run_js(
        js,
        f"""
      const n = arg.n; const x = []; const y = [];
      for (let i = 0; i < n; i += 1) {{ x.push(i); y.push(({y_expr})(i)); }}
      const out = arg.target ? charts.thinCurve({{x, y}}, arg.target) : charts.thinCurve({{x, y}});
      return {{x: out.x, y: out.y, same: out.x === x, full: y, draw: charts.DRAW_POINTS}};
    """,
        {"n": n, "target": target},
    )


def test_thin_curve_short_curves_untouched(js: Page) -> None:
    for n in (0, 1, 10, 1500):
        got = thin(js, "(i) => 0.1 * 0.99 ** i", n)
        assert got["same"] and len(got["x"]) == n


def test_thin_curve_smooth_curve(js: Page) -> None:
    got = thin(js, "(i) => 0.1 * Math.cos(i / 30000)", 100000)
    x, y, full = got["x"], got["y"], got["full"]
    assert got["draw"] <= len(x) <= 1.1 * got["draw"]
    assert x[0] == 0 and x[-1] == 99999 and x == sorted(x)
    assert all(y[k] == full[x[k]] for k in range(len(x)))  # exact values, no interpolation


def test_thin_curve_keeps_both_sides_of_every_jump(js: Page) -> None:
    # multistep-like: halves at steps 12345, 50001 and 77777 (not on the stride)
    got = thin(js, "(i) => 0.1 * 0.5 ** ((i >= 12345) + (i >= 50001) + (i >= 77777))", 100000)
    kept = set(got["x"])
    for edge in (12345, 50001, 77777):
        assert {edge - 1, edge} <= kept, edge
    assert len(kept) < 1100
    assert all(got["y"][k] == got["full"][x] for k, x in enumerate(got["x"]))


def test_thin_curve_noisy_curve_falls_back_to_stride(js: Page) -> None:
    # every step jumps: keeping both sides of each jump would keep everything
    got = thin(js, "(i) => (i % 2 ? 1 : 0.01)", 20000, 500)
    assert 0 < len(got["x"]) <= 4 * 500
    assert got["x"][0] == 0 and got["x"][-1] == 19999


# ------------------------------------------------------------------------------ RecordStore


def test_record_store(js: Page) -> None:
    got = run_js(
        js,
        """
      const s = new charts.RecordStore(8);
      const out = {};
      for (let t = 0; t < 8; t += 1) s.push({step: t});
      out.full = s.rows.map((r) => r.step);
      out.strideFull = s.stride;
      s.push({step: 8});                       // over the cap: every other row dropped
      out.afterCap = s.rows.map((r) => r.step);
      out.stride = s.stride;
      s.push({step: 9});                       // not on the stride: not stored ...
      out.rows9 = s.rows.map((r) => r.step);
      out.view9 = s.view().map((r) => r.step); // ... but drawn as the newest record
      const v1 = s.view();
      out.cached = s.view() === v1;
      s.push({step: 10});
      out.cachedAfterPush = s.view() === v1;
      out.view10 = s.view().map((r) => r.step);
      for (let t = 11; t < 40; t += 1) s.push({step: t});
      out.rows40 = s.rows.map((r) => r.step);
      out.stride40 = s.stride;
      out.last40 = s.view().at(-1).step;
      const version = s.version;
      s.clear();
      out.cleared = [s.rows.length, s.stride, s.last, s.view().length, s.version > version];
      // drawing: at most DRAW_POINTS evenly spaced rows plus the newest
      const big = new charts.RecordStore(100000);
      for (let t = 0; t < 2501; t += 1) big.push({step: t});
      const view = big.view().map((r) => r.step);
      out.bigLen = view.length; out.bigFirst = view[0]; out.bigLast = view.at(-1);
      out.bigSorted = view.every((v, i) => i === 0 || v > view[i - 1]);
      out.draw = charts.DRAW_POINTS;
      return out;
    """,
    )
    assert got["full"] == list(range(8)) and got["strideFull"] == 1
    assert got["afterCap"] == [0, 2, 4, 6, 8] and got["stride"] == 2
    assert got["rows9"] == [0, 2, 4, 6, 8]
    assert got["view9"] == [0, 2, 4, 6, 8, 9]
    assert got["cached"] is True and got["cachedAfterPush"] is False
    assert got["view10"] == [0, 2, 4, 6, 8, 10]
    assert len(got["rows40"]) <= 8 and all(s % got["stride40"] == 0 for s in got["rows40"])
    assert got["rows40"][0] == 0 and got["last40"] == 39
    assert got["cleared"] == [0, 1, None, 0, True]
    assert got["bigLen"] <= got["draw"] + 1 and got["bigLen"] >= got["draw"] // 2
    assert got["bigFirst"] == 0 and got["bigLast"] == 2500 and got["bigSorted"]


# wrapText (common.js): the chart titles of a narrow chart are broken into lines (issue 9,
# defect 12: a long zh title was clipped at the chart's right edge).
WRAP = """
  const out = common.wrapText(arg.text, arg.size, arg.max);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${arg.size}px system-ui, sans-serif`;
  return out.split('<br>').map((l) => [l, ctx.measureText(l).width]);
"""


CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
# the units a line may break between: a word, or a CJK character with its closing punctuation
# (an opening bracket, and a space after it, goes with what follows it)
WRAP_TOKEN = re.compile(rf"(?:[（(\[「『【]\s*)*(?:[{CJK}][、。，）：；」！？]*|[^\s{CJK}]+)")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(alphabet="ab cd 学习曲线每个坐标（）：，|_1", max_size=60),
    size=st.sampled_from([14, 22]),
    width=st.integers(min_value=30, max_value=320),
)
@example(text="（ 个", size=14, width=30)  # found by CI: a space after the bracket was a break
def test_wrap_text_fits_lines_and_keeps_the_text(
    js: Page, text: str, size: int, width: int
) -> None:
    """Every line fits the width unless it is one unbreakable word; nothing but the
    whitespace at a break is lost; an opening bracket never ends a line."""
    lines = run_js(js, WRAP, {"text": text, "size": size, "max": width})
    joined = "".join(line for line, _ in lines)
    assert "".join(joined.split()) == "".join(text.split())
    for i, (line, px) in enumerate(lines):
        if len(lines) > 1 and len(WRAP_TOKEN.findall(line)) > 1:  # one token may not fit
            assert px <= width + 0.5, (text, lines)
        if i < len(lines) - 1:
            assert not line.endswith("（"), lines


def test_wrap_text_short_titles_untouched_and_zh_title_wrapped(js: Page) -> None:
    short = run_js(js, WRAP, {"text": "状态: 2. sgd", "size": 22, "max": 300})
    assert [line for line, _ in short] == ["状态: 2. sgd"]
    title = "每个坐标的有效步长 |lr_eff|（实线：x，点线：y）"
    lines = run_js(js, WRAP, {"text": title, "size": 22, "max": 300})
    assert len(lines) == 2 and all(px <= 300 for _, px in lines), lines
    assert lines[1][0].startswith("（")  # the bracket goes with what it opens


# ---- drawChart: a tick step fitted to an earlier range ------------------------------------

# Draws a weight histogram like the sparsity lab's (bars, nticks 6, a 259 px card) whose
# labels crowd, so drawChart fits an x step to its range, then the same chart with weights
# 10⁴ times wider, as a diverging run's does. Returns, per draw, the x labels Plotly drew, the
# fitted step and the draw's duration.
STALE_STEP = """
  const box = document.createElement("div");
  box.style.cssText = "width: 259px; height: 280px; position: absolute; top: 0; left: 0;";
  document.body.append(box);
  const draw = async (xs) => {
    const t0 = performance.now();
    await common.drawChart(box, [{ type: "bar", x: xs, y: xs.map((_, i) => 1 + (i % 7)) }],
      { xaxis: { title: { text: "w" }, nticks: 6 }, showlegend: false });
    const fix = box._tickFix && box._tickFix.fix && box._tickFix.fix.xaxis;
    return { ms: performance.now() - t0, fix: fix || null,
             labels: box._fullLayout.xaxis._vals.filter((v) => v.text !== "").length };
  };
  const narrow = await draw(arg.narrow);
  const wide = await draw(arg.wide);
  box.remove();
  return { narrow, wide };
"""


def test_a_tick_step_fitted_to_a_narrow_range_is_not_reused_for_a_wide_one(
    browser: Browser, live_server: str
) -> None:
    """The sparsity lab froze for 10-35 s per draw when a run diverged: its weight histogram's
    x step, fitted while the weights were within ±0.5, was reused for weights in
    [-5248, 11857] and Plotly drew (and measured) ~1,000 labels. The step is now dropped when
    the numbers outgrow it; the wide draw gets a handful of labels."""
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/labs/schedules")
        page.wait_for_function("() => window.Plotly && document.body.dataset.i18nReady === 'true'")
        narrow = [-0.48 + 0.0325 * i for i in range(30)]  # the lab's, before training
        wide = [-5248.25 + 590.5 * i for i in range(30)]  # after diverging
        out = page.evaluate(
            "async (arg) => { const common = await import('/static/js/common.js');"
            + STALE_STEP
            + "}",
            {"narrow": narrow, "wide": wide},
        )
    finally:
        context.close()
    # the narrow draw needed a fitted step (else this test would not test anything)
    assert out["narrow"]["fix"] and "dtick" in out["narrow"]["fix"], out
    assert 2 <= out["narrow"]["labels"] <= 4, out
    assert 2 <= out["wide"]["labels"] <= 12, out


# Draws the same bar chart twice (x far from 0, crowded labels) and counts the Plotly.react
# calls of the second draw, which should reuse the step fitted by the first.
SAME_STEP = """
  const box = document.createElement("div");
  box.style.cssText = "width: 259px; height: 280px; position: absolute; top: 0; left: 0;";
  document.body.append(box);
  const traces = [{ type: "bar", x: arg.xs, y: arg.xs.map((_, i) => 1 + (i % 7)) }];
  const layout = { xaxis: { title: { text: "step" }, nticks: 6 }, showlegend: false };
  await common.drawChart(box, traces, layout);
  const fix = box._tickFix && box._tickFix.fix && box._tickFix.fix.xaxis || null;
  const react = window.Plotly.react;
  let calls = 0;
  window.Plotly.react = function (...args) { calls += 1; return react.apply(this, args); };
  try {
    await common.drawChart(box, traces, layout);
  } finally {
    window.Plotly.react = react;
  }
  box.remove();
  return { fix, calls };
"""


def test_a_fitted_step_is_kept_for_bars_far_from_zero(browser: Browser, live_server: str) -> None:
    """Only a bar chart's value axis starts at 0: bars at x = 1000.12-1000.41 keep their fitted
    x step on the next draw (one Plotly.react), instead of having it judged too fine for an
    extent stretched to 0 and fitted again on every draw."""
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/labs/schedules")
        page.wait_for_function("() => window.Plotly && document.body.dataset.i18nReady === 'true'")
        out = page.evaluate(
            "async (arg) => { const common = await import('/static/js/common.js');"
            + SAME_STEP
            + "}",
            {"xs": [1000.123 + 0.01 * i for i in range(30)]},
        )
    finally:
        context.close()
    assert out["fix"] and "dtick" in out["fix"], out  # the first draw needed a fitted step
    assert out["calls"] == 1, out
