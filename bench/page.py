"""Browser-side benchmark of the playground page (``/``): prints figures, asserts nothing.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/page.py              # heap sampled for 60 s
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/page.py --minutes 10
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/page.py --live-only     # ~1-4 min
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/page.py --updates-only  # ~40 s

Starts its own uvicorn server on a free loopback port (in this process, OPENBLAS_NUM_THREADS=1)
and drives Debian's Chromium through Playwright with the launch flags of tests/e2e/conftest.py.

* cold / warm: time from navigation start to the first chart drawn (the first
  ``.js-plotly-plot`` whose ``data`` has a trace), from ``performance.now()`` in the page (its
  origin is the navigation start). Cold: a fresh browser context (empty cache); warm: the same
  context, second navigation.
* bytes: sum of ``encodedDataLength`` (CDP Network.loadingFinished) of every response of the
  cold and of the warm load, plus how many responses were gzip-encoded.
* chart updates/s: ``Plotly.react`` calls on ``chart-loss`` counted over ~10 s of training
  (the function is wrapped in the page right before play).
* JS heap: CDP ``Performance.getMetrics`` JSHeapUsedSize every 10 s while training, for
  ``--minutes`` (default 1), as found and after a forced garbage collection (CDP
  HeapProfiler.collectGarbage; the live heap, which is what must stay flat).

Live changes (issue 9, defect 15; ``--live-only`` prints just these; with ``--server-process``
the server is ``gradplay serve`` in a process of its own, as ``make run`` starts it, rather than
in this process, where its threads share the GIL with Playwright's client: the page-side figures
only, no server-side breakdown):

* input -> set sent -> first frame: 30 lr changes while playing at 60 steps/s (1280x800).
  Each change is typed into the lr field and committed (a ``change`` event). Times from the
  page clock: the change event's ``timeStamp`` (when the browser created the event, so time
  the event waited behind other tasks counts), ``WebSocket.send`` of the ``set`` (wrapped),
  and the first animation frame after ``chart-loss`` was redrawn with the new change marker
  (its full ``Plotly.react``, or the ``Plotly.relayout`` of its marker lines alone that the page
  draws first: charts.js ``drawMarkerLines``; the line's label follows with the full redraw).
  Breakdown (p50 / p95 / max of each segment): event -> set sent; set sent -> the server
  got it; the server applied it and starts writing the ``config`` reply (times from the in-process
  server's wall clock, ``time.time()``, placed on the page clock through
  ``performance.timeOrigin``: a few ms of skew between the two clocks are possible, so a
  segment can read slightly negative); reply written -> the page's handler starts; handler ->
  the loss chart's redraw starts; redraw -> next frame. What ran in between comes from a
  timeline of the page's main-thread work recorded by hooks installed before the page's
  scripts (WORK_HOOKS_JS: WebSocket message handlers by message type, Plotly.react per chart,
  URL writes, the neuron maps' PNGs, and long-animation-frame script attribution), printed
  for the five slowest changes.
* long tasks: share of wall time spent in ``longtask`` entries (PerformanceObserver, tasks
  > 50 ms) over 10 s of playing at 60 steps/s with every chart in view (1440x2800 viewport).
* unlimited: the page's step counter over 5 s at "unlimited" vs a script client (bench/
  stream.py's ``Client``, as in its measure [1]) streaming the same default run from the same
  server right after.

``--updates-only``: Plotly.react calls per chart per second and their mean synchronous time
while playing at 60 steps/s, at 1280x800 and at 1440x2800 (every chart in view), with the
long-task share of each window.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  # isort: skip  (limits BLAS threads before NumPy loads)
import httpx  # noqa: E402
import uvicorn  # noqa: E402
from playwright.sync_api import BrowserContext, Page, sync_playwright  # noqa: E402

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import stream as stream_bench  # noqa: E402  # bench/stream.py (its Client, as in its [1])

FIRST_CHART_JS = """
(() => {
  const tick = () => {
    const el = [...document.querySelectorAll('.js-plotly-plot')]
      .find((e) => e.data && e.data.length);
    if (el) { window.__firstChart = performance.now(); window.__firstChartId = el.dataset.testid; }
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""

WRAP_REACT_JS = """
() => {
  window.__reacts = { loss: 0, all: 0 };
  const orig = window.Plotly.react;
  window.Plotly.react = function (el, ...rest) {
    window.__reacts.all += 1;
    if (el && el.dataset && el.dataset.testid === 'chart-loss') window.__reacts.loss += 1;
    return orig.call(this, el, ...rest);
  };
}
"""


# Installed before the page's scripts run (context.add_init_script): a timeline of the page's
# main-thread work, so the time between a change and its frame can be attributed. Each entry
# is [kind, start, end] on the page clock (performance.now()):
#   ws:<type>  the page's WebSocket "message" listener, by message type (frame, snapshot,
#              config, ack ...): a snapshot's includes the network diagram and neuron maps
#   png        canvas.toDataURL (the neuron maps' images; inside ws:snapshot)
#   url        history.replaceState (the URL write)
#   react:<chart>  Plotly.react's synchronous part, per chart (data-testid)
#   loaf       a long animation frame (> 50 ms, PerformanceObserver "long-animation-frame");
#              its scripts are kept as [invoker, function, start, duration]
WORK_HOOKS_JS = r"""
(() => {
  const W = window.__work = [];
  const loafs = window.__loafs = [];
  const push = (kind, t0) => { if (W.length < 50000) W.push([kind, t0, performance.now()]); };
  window.__workPush = push;
  const add = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (type, fn, opts) {
    if (type !== 'message' || typeof fn !== 'function') return add.call(this, type, fn, opts);
    const timed = function (ev) {
      const t0 = performance.now();
      const head = typeof ev.data === 'string' ? ev.data.slice(0, 40) : '';
      const m = /"type":\s*"(\w+)"/.exec(head);
      try { return fn.call(this, ev); } finally { push('ws:' + (m ? m[1] : '?'), t0); }
    };
    return add.call(this, type, timed, opts);
  };
  const replace = history.replaceState;
  history.replaceState = function (...a) {
    const t0 = performance.now();
    try { return replace.apply(this, a); } finally { push('url', t0); }
  };
  const png = HTMLCanvasElement.prototype.toDataURL;
  HTMLCanvasElement.prototype.toDataURL = function (...a) {
    const t0 = performance.now();
    try { return png.apply(this, a); } finally { push('png', t0); }
  };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (loafs.length > 5000) return;
        loafs.push({ start: e.startTime, end: e.startTime + e.duration,
          blocking: e.blockingDuration,
          scripts: (e.scripts || []).map((s) => [s.invoker, s.sourceFunctionName || '',
            s.startTime, s.duration, s.forcedStyleAndLayoutDuration || 0]) });
      }
    }).observe({ type: 'long-animation-frame', buffered: true });
  } catch (err) { /* no LoAF in this browser: the wrapped kinds only */ }
})();
"""

LIVE_HOOKS_JS = """
() => {
  window.__cur = null;
  document.addEventListener('change', (e) => {
    const c = window.__cur;
    const lr = e.target && e.target.dataset.testid === 'lr';
    if (c && c.input === null && lr) c.input = e.timeStamp;
  }, true);
  // the page adds a change marker when the server's `config` reply arrives (data-markers)
  new MutationObserver(() => {
    const c = window.__cur;
    if (c && c.config === null && c.sent !== null) c.config = performance.now();
  }).observe(document.querySelector('[data-testid=playground]'),
    { attributes: true, attributeFilter: ['data-markers'] });
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const c = window.__cur;
    const isSet = typeof data === 'string' && data.includes('"set"');
    if (c && c.sent === null && isSet) c.sent = performance.now();
    return send.call(this, data);
  };
  // Plotly.react (a full redraw) and Plotly.relayout (the page draws a new marker's line alone
  // first: charts.js drawMarkerLines) both count as the loss chart's redraw with the marker
  for (const name of ['react', 'relayout']) {
    const original = window.Plotly[name];
    window.Plotly[name] = function (el, ...rest) {
      const t0 = performance.now();
      const out = original.call(this, el, ...rest);
      const id = (el && el.dataset && el.dataset.testid) || '?';
      window.__workPush(name + ':' + id, t0);
      const c = window.__cur;
      if (c && c.frame === null && id === 'chart-loss') {
        const shapes = (el.layout && el.layout.shapes) || [];
        if (shapes.length >= c.need && c.draw === null) c.draw = t0;
        Promise.resolve(out).then(() => {
          const shapes = (el.layout && el.layout.shapes) || [];
          if (shapes.length >= c.need && c.frame === null) {
            requestAnimationFrame(() => { if (c.frame === null) c.frame = performance.now(); });
          }
        });
      }
      return out;
    };
  }
}
"""

LONGTASK_JS = """
() => {
  window.__long = { ms: 0, n: 0, max: 0, on: false };
  new PerformanceObserver((list) => {
    if (!window.__long.on) return;
    for (const e of list.getEntries()) {
      window.__long.ms += e.duration; window.__long.n += 1;
      window.__long.max = Math.max(window.__long.max, e.duration);
    }
  }).observe({ type: 'longtask', buffered: false });
}
"""


def open_ready(page: Page, url: str = "/") -> None:
    page.goto(url)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=playground]').dataset.ready === 'true'"
        " && !document.querySelector('[data-testid=play]').disabled",
        timeout=30000,
    )


class ServerTimes:
    """Wall-clock times (ms since the epoch, the clock the page's ``performance.timeOrigin``
    counts from) at which the in-process server got each ``set`` and started writing each
    ``config`` reply to a socket: wraps ``app.routers.stream._handle`` and ``_send``."""

    def __init__(self) -> None:
        import app.routers.stream as stream_router

        self.got: list[float] = []
        self.replied: list[float] = []
        handle, send = stream_router._handle, stream_router._send

        async def timed_handle(session: Any, text: str, *args: Any, **kwargs: Any) -> Any:
            if '"set"' in text:
                self.got.append(time.time() * 1000)
            return await handle(session, text, *args, **kwargs)

        async def timed_send(ws: Any, message: dict[str, Any]) -> None:
            # before the send: once awaited, a busy event loop resumes this late
            if message.get("type") == "config":
                self.replied.append(time.time() * 1000)
            await send(ws, message)

        stream_router._handle = timed_handle
        stream_router._send = timed_send

        # inside "server applies it": the patch itself and the run store write (both under
        # the run's lock, before the reply is broadcast)
        from app.sessions import RunSession

        self.apply_ms: list[float] = []
        self.save_ms: list[float] = []
        save_after, save = RunSession.save_after, RunSession._save

        def timed_save_after(session: Any, fn: Any, *args: Any) -> Any:
            if getattr(fn, "__name__", "") != "apply_patch":
                return save_after(session, fn, *args)
            t0 = time.perf_counter()
            result = fn(*args)
            t1 = time.perf_counter()
            save(session)
            self.apply_ms.append((t1 - t0) * 1000)
            self.save_ms.append((time.perf_counter() - t1) * 1000)
            return result

        RunSession.save_after = timed_save_after  # type: ignore[method-assign]


def overlap(entries: list[list[Any]], t0: float, t1: float) -> dict[str, float]:
    """ms of each kind of page work inside [t0, t1] (entries [kind, start, end])."""
    out: dict[str, float] = {}
    for kind, a, b in entries:
        ms = min(b, t1) - max(a, t0)
        if ms > 0:
            out[kind] = out.get(kind, 0.0) + ms
    return out


def loaf_scripts(loafs: list[dict[str, Any]], t0: float, t1: float) -> dict[str, float]:
    """ms of long-animation-frame scripts inside [t0, t1], by invoker (and function)."""
    out: dict[str, float] = {}
    for frame in loafs:
        if frame["end"] < t0 or frame["start"] > t1:
            continue
        for invoker, fn, start, dur, _layout in frame["scripts"]:
            ms = min(start + dur, t1) - max(start, t0)
            if ms > 0:
                key = f"{invoker}{f' {fn}' if fn and fn not in invoker else ''}"
                out[key] = out.get(key, 0.0) + ms
    return out


def top(work: dict[str, float], n: int = 4, floor: float = 1.0) -> str:
    items = sorted(((v, k) for k, v in work.items() if v >= floor), reverse=True)[:n]
    return ", ".join(f"{k} {v:.0f}" for v, k in items) or "-"


# The segments of one change (page clock, ms), in order; srv_in/srv_out come from the server.
SEGMENTS = (
    ("input", "sent", "event -> set sent"),
    ("sent", "srv_in", "set sent -> server has it"),
    ("srv_in", "srv_out", "server applies it, config reply ready"),
    ("srv_out", "cfg_start", "reply written -> page handles it"),
    ("cfg_start", "draw", "config handled -> loss redraw starts"),
    ("draw", "frame", "loss redraw -> next frame"),
)


def bench_live(browser: Any, base: str, n_changes: int = 30,
               server_times: ServerTimes | None = None) -> list[str]:
    """The three live-change figures of issue 9 (see the module docstring); returns lines."""
    out: list[str] = []
    # 1. input -> set sent -> first frame
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    context.add_init_script(WORK_HOOKS_JS)
    page = context.new_page()
    open_ready(page)
    page.evaluate(LIVE_HOOKS_JS)
    origin = page.evaluate("() => performance.timeOrigin")
    page.get_by_test_id("play").click()
    page.wait_for_timeout(1500)
    lr = page.get_by_test_id("lr")
    to_sent: list[float] = []
    to_frame: list[float] = []
    to_config: list[float] = []  # set sent -> the server's config reply handled (marker added)
    changes: list[dict[str, Any]] = []  # every measured change: its times (page clock)
    missed = 0
    for i in range(n_changes):
        value = round(0.03 + 0.001 * (i + 1), 4)
        page.evaluate(
            "() => { const el = document.querySelector('[data-testid=chart-loss]');"
            " const n = ((el.layout && el.layout.shapes) || []).length;"
            " window.__cur = { input: null, sent: null, config: null, draw: null, frame: null,"
            " need: n + 1 }; }"
        )
        n_got = len(server_times.got) if server_times else 0
        n_replied = len(server_times.replied) if server_times else 0
        lr.fill(str(value))
        lr.dispatch_event("change")
        try:
            page.wait_for_function("() => window.__cur.frame !== null", timeout=5000)
        except Exception:
            missed += 1
            continue
        cur = page.evaluate("() => window.__cur")
        to_sent.append(cur["sent"] - cur["input"])
        if cur["config"] is not None:
            to_config.append(cur["config"] - cur["sent"])
        to_frame.append(cur["frame"] - cur["input"])
        if server_times and len(server_times.got) > n_got and len(server_times.replied) > n_replied:
            cur["srv_in"] = server_times.got[n_got] - origin
            cur["srv_out"] = server_times.replied[n_replied] - origin
        changes.append(cur)
        page.wait_for_timeout(250)
    page.get_by_test_id("pause").click()
    work = page.evaluate("() => window.__work")
    loafs = page.evaluate("() => window.__loafs")
    context.close()
    if to_frame:
        p95 = pct(to_frame, 0.95)
        out.append(f"{'live change: input -> set sent, p50 / p95':<44}"
                   f"{pct(to_sent, 0.5):>7.1f} / {pct(to_sent, 0.95):>5.1f} ms")
        if to_config:
            out.append(f"{'  of which: set sent -> config reply, p50/p95':<44}"
                       f"{pct(to_config, 0.5):>7.1f} / {pct(to_config, 0.95):>5.1f} ms")
        out.append(f"{'live change: input -> first frame, p50 / p95':<44}"
                   f"{pct(to_frame, 0.5):>7.1f} / {p95:>5.1f} ms   <= 100 ms (p95)"
                   f"  {'OK' if p95 <= 100 else 'MISSED'}  ({len(to_frame)} changes"
                   f"{f', {missed} without a marker in 5 s' if missed else ''})")
        out.extend(live_breakdown(changes, work, loafs))
        if server_times and server_times.save_ms:
            a, w = server_times.apply_ms, server_times.save_ms
            out.append(f"    {'  of which: apply_patch / run store write':<40}"
                       f"{pct(a, 0.5):>7.1f} / {pct(a, 0.95):>6.1f} ms (p50/p95);"
                       f" {pct(w, 0.5):.1f} / {pct(w, 0.95):.1f} ms")
    else:
        out.append(f"live change: no marker seen in {n_changes} changes")

    # 2. long tasks while playing at 60 steps/s, every chart in view
    context = browser.new_context(base_url=base, viewport={"width": 1440, "height": 2800})
    page = context.new_page()
    open_ready(page)
    page.evaluate(LONGTASK_JS)
    page.get_by_test_id("play").click()
    page.wait_for_timeout(1500)
    page.evaluate("() => { window.__long.on = true; window.__t0 = performance.now(); }")
    page.wait_for_timeout(10000)
    long = page.evaluate(
        "() => { window.__long.on = false;"
        " return { ...window.__long, wall: performance.now() - window.__t0 }; }"
    )
    steps = page.get_by_test_id("step-counter").get_attribute("data-step")
    page.get_by_test_id("pause").click()
    context.close()
    share = long["ms"] / long["wall"]
    out.append(f"{'long tasks while playing 60 steps/s (all charts)':<44}{share * 100:>14.1f} %"
               f"   <= 25 %  {'OK' if share <= 0.25 else 'MISSED'}  ({long['n']} tasks,"
               f" longest {long['max']:.0f} ms, {long['wall'] / 1000:.1f} s, step {steps})")

    # 3. unlimited: the page's step counter vs a script client
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    open_ready(page)
    page.get_by_test_id("speed-unlimited").check()
    page.get_by_test_id("play").click()
    page.wait_for_timeout(1000)
    s0 = int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")
    t0 = time.perf_counter()
    page.wait_for_timeout(5000)
    s1 = int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")
    page_rate = (s1 - s0) / (time.perf_counter() - t0)
    page.get_by_test_id("pause").click()
    context.close()
    with httpx.Client(base_url=base) as http:
        run_id = stream_bench.create_run(http, {})
        client = stream_bench.Client(base, run_id, http)
        client.send({"type": "speed", "steps_per_second": "unlimited"})
        client.send({"type": "play"})
        time.sleep(1.0)
        r0, t0 = client.records, time.perf_counter()
        time.sleep(5.0)
        script_rate = (client.records - r0) / (time.perf_counter() - t0)
        client.send({"type": "pause"})
        client.close()
    ratio = page_rate / script_rate if script_rate else float("nan")
    label = "unlimited: page steps/s vs script [1]"
    out.append(f"{label:<44}{page_rate:>9,.0f} / {script_rate:,.0f}"
               f"   >= 70 %  {'OK' if ratio >= 0.7 else 'MISSED'}  ({ratio * 100:.0f} %)")
    return out


def bench_updates(browser: Any, base: str, seconds: float) -> list[str]:
    """``--updates-only``: Plotly.react calls per chart while playing at 60 steps/s, at
    1280x800 (as the full run's "chart updates/s") and at 1440x2800 (every chart in view),
    with the long-task share of the second window (as the live-change figures' [2])."""
    out: list[str] = []
    for width, height in ((1280, 800), (1440, 2800)):
        context = browser.new_context(base_url=base, viewport={"width": width, "height": height})
        context.add_init_script(WORK_HOOKS_JS)
        page = context.new_page()
        open_ready(page)
        page.evaluate(LONGTASK_JS)
        page.evaluate(
            "() => { const react = window.Plotly.react;"
            " window.Plotly.react = function (el, ...rest) { const t0 = performance.now();"
            " const out = react.call(this, el, ...rest);"
            " window.__workPush('react:' + ((el && el.dataset && el.dataset.testid) || '?'), t0);"
            " return out; }; }"
        )
        page.get_by_test_id("play").click()
        page.wait_for_timeout(1500)
        page.evaluate(
            "() => { window.__long.on = true; window.__t0 = performance.now();"
            " window.__w0 = window.__work.length; }"
        )
        page.wait_for_timeout(seconds * 1000)
        res = page.evaluate(
            "() => { window.__long.on = false; const wall = performance.now() - window.__t0;"
            " return { long: window.__long, wall, work: window.__work.slice(window.__w0) }; }"
        )
        page.get_by_test_id("pause").click()
        context.close()
        wall_s = res["wall"] / 1000
        per: dict[str, list[float]] = {}
        for kind, a, b in res["work"]:
            if kind.startswith("react:chart-"):
                per.setdefault(kind[len("react:chart-"):], []).append(b - a)
        loss = len(per.get("loss", [])) / wall_s
        share = res["long"]["ms"] / res["wall"]
        charts = ", ".join(f"{k} {len(v) / wall_s:.1f}/s ({sum(v) / len(v):.0f} ms)"
                           for k, v in sorted(per.items(), key=lambda kv: -len(kv[1])))
        out.append(f"{width}x{height}: chart-loss updates/s {loss:.1f}; long tasks "
                   f"{share * 100:.1f} % ({res['long']['n']} tasks, longest "
                   f"{res['long']['max']:.0f} ms) over {wall_s:.1f} s")
        out.append(f"  Plotly.react per chart (calls/s, mean synchronous ms): {charts}")
    return out


def live_breakdown(changes: list[dict[str, Any]], work: list[list[Any]],
                   loafs: list[dict[str, Any]]) -> list[str]:
    """Where the time of each change went: the segments (p50 / p95 / max) and, for the
    slowest changes, the page's work in the two windows the page can be blocked in: while
    the config reply waits (written -> handled) and from handled to the frame."""
    out = ["  breakdown (page clock; server times from the in-process server's wall clock):"]
    for c in changes:
        for kind, a, _end in work:
            if kind == "ws:config" and a >= c["sent"] and c.get("cfg_start") is None:
                c["cfg_start"] = a
        if c.get("cfg_start") is None:
            c["cfg_start"] = c["config"]
        if c.get("draw") is None:
            c["draw"] = c["frame"]
    for a, b, label in SEGMENTS:
        vals = [c[b] - c[a] for c in changes if c.get(a) is not None and c.get(b) is not None]
        if vals:
            out.append(f"    {label:<40}{pct(vals, 0.5):>7.1f} / {pct(vals, 0.95):>6.1f}"
                       f" / {max(vals):>6.1f} ms  (p50 / p95 / max)")
    # page work over the whole change (input -> frame), summed over all changes, per change
    total: dict[str, float] = {}
    for c in changes:
        for k, v in overlap(work, c["input"], c["frame"]).items():
            total[k] = total.get(k, 0.0) + v / len(changes)
    out.append(f"    page work per change, mean ms (input -> frame): {top(total, 8, 0.5)}")
    calls: dict[str, list[float]] = {}
    for kind, a, b in work:
        calls.setdefault(kind, []).append(b - a)
    per_call = {k: sum(v) / len(v) for k, v in calls.items()}
    out.append(f"    mean ms per call while playing: {top(per_call, 8, 0.5)}")
    loss = [c["frame"] - c["draw"] for c in changes]
    third = max(1, len(loss) // 3)
    out.append(f"    loss redraw -> frame, mean of the first / last {third} changes (more markers):"
               f" {sum(loss[:third]) / third:.1f} / {sum(loss[-third:]) / third:.1f} ms")
    for i, c in enumerate(changes):
        c["n"] = i + 1
    slow = sorted(changes, key=lambda c: c["frame"] - c["input"], reverse=True)[:5]
    out.append("    slowest changes: total = segments (ms); work while the reply waited |"
               " work from handled to frame; long-frame scripts in both")
    for c in slow:
        segs = " ".join(
            f"{c[b] - c[a]:.0f}" if c.get(a) is not None and c.get(b) is not None else "?"
            for a, b, _ in SEGMENTS)
        wait_from = c.get("srv_out", c["sent"])
        waited = overlap(work, wait_from, c["cfg_start"])
        after = overlap(work, c["cfg_start"], c["frame"])
        scripts = loaf_scripts(loafs, wait_from, c["frame"])
        out.append(f"    #{c['n']:<2} {c['frame'] - c['input']:>5.0f} = {segs:<22} {top(waited)}"
                   f" | {top(after)} ; {top(scripts, 3)}")
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


def start_server() -> tuple[str, _Server, threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # a data dir of its own: a search left in the default one (e.g. by an earlier page-load
    # run opening /labs/search) is resumed by the server's search workers, in this process
    data_dir = Path(tempfile.mkdtemp(prefix="gradplay-bench-page-"))
    config = uvicorn.Config(create_app(Settings(data_dir=data_dir)), log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


class Traffic:
    """Encoded bytes and gzip responses seen through CDP Network events."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.bytes = 0
        self.responses = 0
        self.gzip = 0
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.responseReceived", self._response)

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))
        self.responses += 1

    def _response(self, event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event["response"].get("headers", {}).items()}
        if "gzip" in headers.get("content-encoding", ""):
            self.gzip += 1

    def take(self) -> tuple[int, int, int]:
        out = (self.bytes, self.responses, self.gzip)
        self.bytes = self.responses = self.gzip = 0
        return out


def first_chart(page: Page, url: str) -> tuple[float, str]:
    page.goto(url)
    page.wait_for_function("() => window.__firstChart !== undefined", timeout=30000)
    return page.evaluate("() => [window.__firstChart, window.__firstChartId || '?']")


# Every page of the app: cold (new browser context) and warm (reloaded) navigation -> first
# Plotly chart with data, and the bytes of the cold load (issue 10's page-load figures).
LAB_PAGES = (
    "/labs/gradients", "/labs/schedules", "/labs/sparsity", "/labs/search",
    "/labs/normalization", "/labs/optimizers", "/labs/backprop", "/labs/blocks",
    "/labs/generalization", "/labs/batch-size",
)


def bench_pages(browser: Any, base: str) -> list[str]:
    out = [f"{'page':<24}{'cold first chart':>18}{'warm first chart':>18}{'cold bytes':>14}"]
    for url in LAB_PAGES:
        if httpx.get(base + url).status_code != 200:
            continue  # not on this branch
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
        context.add_init_script(FIRST_CHART_JS)
        page = context.new_page()
        traffic = Traffic(context, page)
        try:
            cold_ms, _ = first_chart(page, url)
            page.wait_for_load_state("networkidle")
            cold_bytes, _, _ = traffic.take()
            warm_ms, _ = first_chart(page, url)
            out.append(f"{url:<24}{cold_ms:>15.0f} ms{warm_ms:>15.0f} ms"
                       f"{cold_bytes / 1024:>11.0f} KB")
        except Exception as exc:  # a page that draws no chart without a click
            out.append(f"{url:<24}  no chart within 30 s ({type(exc).__name__})")
        context.close()
    return out


def heap_mb(cdp: Any) -> tuple[float, float]:
    """(JS heap used as found, JS heap used after a forced garbage collection) in MB."""
    def used() -> float:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return metrics["JSHeapUsedSize"] / 1e6

    before = used()
    cdp.send("HeapProfiler.collectGarbage")
    return before, used()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="heap sampling duration")
    parser.add_argument("--every", type=float, default=10.0, help="heap sample interval (s)")
    parser.add_argument("--updates-seconds", type=float, default=10.0)
    parser.add_argument("--live-only", action="store_true", help="only the live-change figures")
    parser.add_argument("--pages-only", action="store_true", help="only the per-page load figures")
    parser.add_argument("--updates-only", action="store_true",
                        help="only chart updates per chart and the long-task share while playing")
    parser.add_argument("--server-process", action="store_true",
                        help="with --live-only: the server is `gradplay serve` in its own "
                        "process (as `make run` starts it) instead of in this one, where it "
                        "shares the GIL with Playwright's client; no server-side breakdown")
    args = parser.parse_args()

    if args.server_process:
        if not args.live_only:
            parser.error("--server-process goes with --live-only")
        with stream_bench.server() as base, sync_playwright() as pw:
            print(f"server {base}: gradplay serve in its own process")
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
            print()
            print("live changes (issue 9):")
            for line in bench_live(browser, base):
                print(line)
            browser.close()
        return

    server_times = ServerTimes()  # before the app is built: it looks the handlers up per call
    base, server, thread = start_server()
    print(f"server {base}  (OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']})")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        if args.updates_only:
            print()
            print("chart updates while playing at 60 steps/s:")
            for line in bench_updates(browser, base, args.updates_seconds):
                print(line)
            browser.close()
            server.should_exit = True
            thread.join(timeout=10)
            return
        if not args.live_only:
            print()
            print("page loads (1280×800, navigation -> first chart with data):")
            for line in bench_pages(browser, base):
                print(line)
        if args.pages_only:
            browser.close()
            server.should_exit = True
            thread.join(timeout=10)
            return
        live = bench_live(browser, base, server_times=server_times)
        print()
        print("live changes (issue 9):")
        for line in live:
            print(line)
        if args.live_only:
            browser.close()
            server.should_exit = True
            thread.join(timeout=10)
            return
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
        context.add_init_script(FIRST_CHART_JS)
        page = context.new_page()
        traffic = Traffic(context, page)

        cold_ms, cold_chart = first_chart(page, "/")
        page.wait_for_load_state("networkidle")
        cold_bytes, cold_n, cold_gz = traffic.take()
        warm_ms, warm_chart = first_chart(page, "/")
        page.wait_for_load_state("networkidle")
        warm_bytes, warm_n, warm_gz = traffic.take()

        # chart updates per second while training
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=play]').disabled", timeout=30000
        )
        page.evaluate(WRAP_REACT_JS)
        page.get_by_test_id("play").click()
        t0 = time.perf_counter()
        page.wait_for_timeout(args.updates_seconds * 1000)
        counts = page.evaluate("() => window.__reacts")
        elapsed = time.perf_counter() - t0
        step = page.get_by_test_id("step-counter").get_attribute("data-step")
        loss_rate = counts["loss"] / elapsed
        all_rate = counts["all"] / elapsed
        play_bytes, play_n, _ = traffic.take()

        # JS heap while training
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        samples: list[tuple[float, float, float]] = []
        start = time.perf_counter()
        n_samples = int(args.minutes * 60.0 / args.every + 1e-9) + 1
        for k in range(n_samples):
            wait = start + k * args.every - time.perf_counter()
            if wait > 0:
                page.wait_for_timeout(wait * 1000)
            samples.append((time.perf_counter() - start, *heap_mb(cdp)))
        final_step = page.get_by_test_id("step-counter").get_attribute("data-step")
        page.get_by_test_id("pause").click()
        context.close()
        browser.close()
    server.should_exit = True
    thread.join(timeout=10)

    print()
    print(f"{'measure':<44}{'value':>16}   target")
    print(f"{'cold: navigation -> first chart':<44}{cold_ms:>13.0f} ms   -    ({cold_chart})")
    print(f"{'warm: navigation -> first chart':<44}{warm_ms:>13.0f} ms   <= 1000 ms"
          f"  {'OK' if warm_ms <= 1000 else 'MISSED'}  ({warm_chart})")
    print(f"{'cold load: bytes transferred (encoded)':<44}{cold_bytes / 1024:>13.1f} KB"
          f"   {cold_n} responses, {cold_gz} gzip")
    print(f"{'warm load: bytes transferred (encoded)':<44}{warm_bytes / 1024:>13.1f} KB"
          f"   {warm_n} responses, {warm_gz} gzip")
    print(f"{'chart-loss updates/s while training':<44}{loss_rate:>16.1f}   >= 20 /s"
          f"  {'OK' if loss_rate >= 20 else 'MISSED'}")
    print(f"{'all Plotly.react calls/s while training':<44}{all_rate:>16.1f}")
    print(f"{'steps after the updates window':<44}{step:>16}")
    print(f"{'bytes during the updates window (HTTP only)':<44}{play_bytes / 1024:>13.1f} KB"
          f"   {play_n} responses (WebSocket frames not counted)")
    print()
    print(f"JS heap used while training (every {args.every:g} s for {args.minutes:g} min; "
          f"final step {final_step}):")
    print(f"  {'t':>8}   {'used':>10}   {'after GC':>10}")
    for t, used, live in samples:
        print(f"  {t:6.0f} s   {used:7.2f} MB   {live:7.2f} MB")
    if len(samples) >= 2:
        first, last = samples[0][2], samples[-1][2]
        peak = max(s[2] for s in samples)
        print(f"  after GC: first {first:.2f} MB, last {last:.2f} MB, peak {peak:.2f} MB, "
              f"drift {last - first:+.2f} MB")


if __name__ == "__main__":
    main()
