"""Encoding benchmark: prints figures, asserts nothing.

Measures the JSON encoding of training records (:mod:`app.jsonenc`, orjson) against the
standard library, and the two ways the server can get a chunk of records to encode:

1. ``jsonenc.dumps`` (orjson) vs ``json.dumps`` (compact, strict, non-finite values replaced
   first, as the app wrote it before orjson) on the record dicts of the default run, 1 to 3,000
   records; plus ``records_json`` on the same records' history rows;
2. per step, training ``n`` steps and encoding their records: with record dicts from the engine
   (``Run.step(n)`` + ``dumps``) vs from the history rows (``Run.step(n, collect=False)`` +
   ``records_json``), for chunk sizes from 1 to 1,000 (why the server takes the rows whenever
   the history holds them);
3. ``Run.step(1000)`` vs ``Run.step(1000, collect=False)``: the cost of building record dicts;
4. the server's whole ``POST .../step`` body for 1,000 steps (``RunSession.step_body``: training,
   encoding, the response JSON; CPU time of the process, as it runs on a worker thread) vs
   ``Run.step(1000, collect=False)``: the API's cost without HTTP, which the shared machine's
   load does not blur as it does the wall-clock figure of ``bench/stream.py`` [4].

Every set of functions is interleaved, and times are CPU seconds of this thread
(``time.thread_time``), best of the repeats: the dev machine is shared, and waiting for a core
is not the cost of the code measured.

Usage: ``OPENBLAS_NUM_THREADS=1 python bench/encode.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.jsonenc import dumps, records_json, sanitize  # noqa: E402
from app.sessions import RunSession  # noqa: E402
from core.trainer import Run  # noqa: E402


def best_of(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best CPU time in seconds of each function, calls interleaved."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.thread_time()
            fn()
            best[name] = min(best[name], time.thread_time() - t0)
    return best


def stdlib_dumps(content: object) -> bytes:
    return json.dumps(sanitize(content), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


def main() -> None:
    run = Run({})
    records = run.step(3000)
    scalars, layers = run.record_rows(0, run.history.size)
    for n in (1, 10, 100, 1000, 3000):
        recs, s, lay = records[:n], scalars[:n], layers[:n]
        t = best_of({"orjson": lambda recs=recs: dumps(recs),
                     "json": lambda recs=recs: stdlib_dumps(recs),
                     "rows": lambda s=s, lay=lay: records_json(s, lay)},
                    300 if n <= 100 else 20)
        print(f"[1] {n:>5,} records: orjson {t['orjson'] * 1e3:7.3f} ms, json.dumps "
              f"{t['json'] * 1e3:7.3f} ms ({t['json'] / t['orjson']:4.1f}x); "
              f"records_json from rows {t['rows'] * 1e3:7.3f} ms")

    for n, rounds in ((1, 300), (4, 150), (16, 60), (64, 30), (256, 12), (1000, 8)):
        dicts, rows = Run({}), Run({})

        def with_dicts(n: int = n, run: Run = dicts) -> None:
            dumps(run.step(n))

        def from_rows(n: int = n, run: Run = rows) -> None:
            start = run.history.size
            run.step(n, collect=False)
            records_json(*run.record_rows(start, run.history.size))

        # both runs advance in step, so each pair of calls trains the same steps
        ratios = []
        best = dict.fromkeys(("dicts", "rows"), float("inf"))
        for _ in range(rounds):
            t = best_of({"dicts": with_dicts, "rows": from_rows}, 1)
            ratios.append(t["rows"] / t["dicts"])
            best = {k: min(best[k], t[k]) for k in best}
        print(f"[2] chunks of {n:>4} steps: dicts + dumps {best['dicts'] / n * 1e6:6.1f} us/step,"
              f" rows + records_json {best['rows'] / n * 1e6:6.1f} us/step (rows/dicts: median "
              f"of {rounds} pairs {statistics.median(ratios):.3f})")

    def steps(collect: bool) -> None:
        Run({}).step(1000, collect=collect)

    t = best_of({"dicts": lambda: steps(True), "rows": lambda: steps(False)}, 15)
    print(f"[3] Run({{}}).step(1000): with records {t['dicts'] * 1e3:.1f} ms, collect=False "
          f"{t['rows'] * 1e3:.1f} ms (dicts cost {100 * (t['dicts'] / t['rows'] - 1):.0f}%)")

    def body() -> float:
        session = RunSession("bench", Run({}))
        t0 = time.process_time()
        asyncio.run(session.step_body(1000, None))
        return time.process_time() - t0

    def engine() -> float:
        run = Run({})
        t0 = time.process_time()
        run.step(1000, collect=False)
        return time.process_time() - t0

    api, base = [], []
    for k in range(15):
        pair = (body, engine) if k % 2 else (engine, body)
        times = {f.__name__: f() for f in pair}
        api.append(times["body"])
        base.append(times["engine"])
    ratio = statistics.median(a / b for a, b in zip(api, base, strict=True))
    print(f"[4] 1,000 steps, CPU: step_body {min(api) * 1e3:.1f} ms vs Run.step(1000, "
          f"collect=False) {min(base) * 1e3:.1f} ms (best of 15, interleaved): "
          f"{100 * (min(api) / min(base) - 1):+.1f}% best vs best, "
          f"{100 * (ratio - 1):+.1f}% median of pairs; target <= 5%")


if __name__ == "__main__":
    main()
