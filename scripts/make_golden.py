"""Regenerate every PyTorch golden fixture: ``tests/fixtures/golden_<name>.json``.

Discovers the generator modules in ``scripts/golden/`` with :mod:`pkgutil` and runs each one
exactly as ``python -m scripts.golden.<name>`` would: a module with a ``main()`` has it called;
a module that only has an ``if __name__ == "__main__":`` block is executed as ``__main__``
(:func:`runpy.run_path`), so every generator writes its fixture in its own format.

Usage: ``make golden`` or ``python scripts/make_golden.py [name ...]`` (default: all).
Needs PyTorch (the Makefile's ``install-test`` installs the pinned CPU build).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import importlib  # noqa: E402
import pkgutil  # noqa: E402
import runpy  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT / "scripts" / "golden"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def generator_names() -> list[str]:
    """Module names in scripts/golden/ (sorted; packages and private modules skipped)."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(GOLDEN_DIR)])
        if not m.ispkg and not m.name.startswith("_")
    )


def run_generator(name: str) -> None:
    """Run one generator the way its own ``__main__`` entry point does."""
    module = importlib.import_module(f"scripts.golden.{name}")
    main = getattr(module, "main", None)
    if callable(main):
        main()
        return
    path = Path(module.__file__ or GOLDEN_DIR / f"{name}.py")
    source = path.read_text(encoding="utf-8")
    if '__name__ == "__main__"' not in source and "__name__ == '__main__'" not in source:
        raise SystemExit(f"scripts/golden/{name}.py has neither main() nor a __main__ block")
    runpy.run_path(str(path), run_name="__main__")


def main(argv: list[str] | None = None) -> int:
    names = generator_names()
    wanted = list(argv if argv is not None else sys.argv[1:]) or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown generator(s): {', '.join(unknown)}; available: {', '.join(names)}",
              file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        print("PyTorch is required: run `make install-test` first", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}; generators: {', '.join(wanted)}")
    for name in wanted:
        start = time.perf_counter()
        run_generator(name)
        print(f"  {name}: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
