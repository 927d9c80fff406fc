"""core/ is pure NumPy + stdlib: it must not import the web stack or the app package."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
FORBIDDEN = ("fastapi", "starlette", "pydantic", "uvicorn", "jinja2", "httpx", "app")
CORE_FILES = sorted(CORE.rglob("*.py"))


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):  # walks into functions too: lazy imports count
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


def _forbidden(name: str) -> bool:
    return name.split(".")[0] in FORBIDDEN


def test_core_files_found() -> None:
    names = {p.name for p in CORE_FILES}
    assert {"__init__.py", "trainer.py", "model.py", "history.py"} <= names


def test_checker_detects_forbidden_imports() -> None:
    src = (
        "import os\nimport fastapi.routing\nfrom app.main import x\n"
        "def f():\n    from starlette import y\n    importlib.import_module('pydantic')\n"
        "from .sibling import z\nfrom appdirs import w\n"
    )
    found = [n for n in _imported_modules(ast.parse(src)) if _forbidden(n)]
    assert found == ["fastapi.routing", "app.main", "starlette", "pydantic"]


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_forbidden_imports_in_source(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [n for n in _imported_modules(tree) if _forbidden(n)]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_importing_core_loads_no_web_modules() -> None:
    modules = [
        "core" if p.name == "__init__.py" else "core." + ".".join(
            p.relative_to(CORE).with_suffix("").parts)
        for p in CORE_FILES
    ]
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "core.trainer" in loaded and "numpy" in loaded
    bad = sorted(m for m in loaded if _forbidden(m))
    assert bad == [], f"importing core loaded {bad}"
