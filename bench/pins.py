"""Browser-side cost of pinned runs in the playground (issue 11): prints figures, asserts nothing.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/pins.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/pins.py --seconds 20 --pin-step 5000

Starts its own server (bench/page.py's ``start_server``) and, for 0 and for 3 pins (rebuilt
from a link: adam, rmsprop and sgd trained to ``--pin-step`` steps), plays the default run at
60 steps/s for ``--seconds`` with every chart in view (1440x2800) and prints, from the page:

* per chart: redraws and mean milliseconds per redraw (the page's own
  ``window.gradplayChartTimes()``, drawChart start to Plotly's promise),
* loss chart redraws per second and steps trained,
* long tasks: share of wall time in ``longtask`` entries (> 50 ms) and the longest one,
* the rebuild: milliseconds from navigation to the pins drawn (``data-pins-state="ready"``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import page as page_bench  # noqa: E402  # bench/page.py (server, long-task hook)
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SERIES = ["loss", "accuracy", "lr", "gradNorm", "updateRatio", "heatmap", "zeros", "hist"]


def pin_link(step: int) -> str:
    return (
        f"/?pin1.optimizer=adam&pin1.lr=0.01&pin1.step={step}"
        f"&pin2.optimizer=rmsprop&pin2.lr=0.005&pin2.step={step}"
        f"&pin3.optimizer=sgd&pin3.lr=0.1&pin3.step={step}"
    )


def measure(browser, base: str, url: str, seconds: float) -> dict:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=base, viewport={"width": 1440, "height": 2800})
    page = context.new_page()
    t0 = time.perf_counter()
    page_bench.open_ready(page, url)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=playground]').dataset.pinsState === 'ready'",
        timeout=600000,
    )
    rebuild_ms = (time.perf_counter() - t0) * 1000
    page.evaluate(page_bench.LONGTASK_JS)
    page.wait_for_timeout(1500)  # the pins' first draw is not part of playing
    before = page.evaluate("() => window.gradplayChartTimes()")
    page.evaluate("() => { window.__long.on = true; }")
    page.get_by_test_id("play").click()
    start = time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    elapsed = time.perf_counter() - start
    after = page.evaluate("() => window.gradplayChartTimes()")
    long = page.evaluate("() => window.__long")
    page.get_by_test_id("pause").click()
    step = int(page.get_by_test_id("step-counter").get_attribute("data-step") or "0")
    context.close()
    charts = {}
    for key in SERIES:
        a = after.get(key, {"n": 0, "ms": 0})
        b = before.get(key, {"n": 0, "ms": 0})
        n = a["n"] - b["n"]
        ms = a["ms"] - b["ms"]
        charts[key] = (n, ms / n if n else 0.0)
    return {
        "charts": charts,
        "elapsed": elapsed,
        "long": long,
        "step": step,
        "rebuild_ms": rebuild_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pin-step", type=int, default=2000)
    args = parser.parse_args()
    base, server, thread = page_bench.start_server()
    print(
        f"server {base}  (OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
        f"{os.cpu_count()} CPUs)"
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for label, url in [
            ("0 pins", "/"),
            (f"3 pins x {args.pin_step} steps", pin_link(args.pin_step)),
        ]:
            r = measure(browser, base, url, args.seconds)
            print()
            print(
                f"{label}: playing {r['elapsed']:.1f} s at 60 steps/s, {r['step']} steps; "
                f"page ready with pins drawn after {r['rebuild_ms']:.0f} ms"
            )
            for key, (n, avg) in r["charts"].items():
                print(f"  {key:12s} {n:4d} redraws  {avg:6.1f} ms/redraw")
            loss_n = r["charts"]["loss"][0]
            print(f"  loss chart   {loss_n / r['elapsed']:.1f} redraws/s")
            share = r["long"]["ms"] / (r["elapsed"] * 1000) * 100
            print(
                f"  long tasks   {r['long']['n']} ({share:.1f} % of wall time, "
                f"longest {r['long']['max']:.0f} ms)"
            )
        browser.close()
    server.should_exit = True
    thread.join(timeout=10)


if __name__ == "__main__":
    main()
