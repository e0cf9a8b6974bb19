"""The package's layers hold: each subpackage imports only what its ``__init__`` says it may.

model <- sim <- program, teach <- web <- cli: the vocabulary knows nothing of the engine, the
engine nothing of the program, the teaching or the web, and nothing below the web imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "playground"
#: Layer -> the layers its modules may import (their own included).
MAY_IMPORT = {
    "model": {"model"},
    "sim": {"model", "sim"},
    "program": {"model", "sim", "program"},
    "teach": {"model", "sim", "teach"},
    "web": {"model", "sim", "program", "teach", "web"},
    "top": {"model", "sim", "program", "teach", "web", "top"},  # cli.py and __main__.py
}


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else "top"


def imported_layers(path: Path) -> set[tuple[str, int]]:
    """The playground layers ``path`` imports (at any depth, lazily too), with line numbers."""
    found = set()
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts  # ("playground", "web", "app")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = list(here[:len(here) - node.level])
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [module] if node.module or not node.level else [f"{module}.{a.name}" for a in node.names]
            if module == "playground":  # from playground import web
                names = [f"playground.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "playground":
                continue
            target = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in MAY_IMPORT) else "top"
            found.add((target, node.lineno))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_a_module_imports_only_the_layers_below_it(path):
    layer = layer_of(path)
    wrong = sorted((target, line) for target, line in imported_layers(path) if target not in MAY_IMPORT[layer])
    assert not wrong, f"{path.relative_to(PACKAGE)} ({layer}) imports " + ", ".join(
        f"{target} (line {line})" for target, line in wrong)


def test_every_module_is_in_a_layer_and_every_layer_says_what_it_may_import():
    assert {layer_of(path) for path in MODULES} == set(MAY_IMPORT)
    for layer in MAY_IMPORT.keys() - {"top"}:
        doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), f"playground/{layer}/__init__.py must say what it may import"
    top = [path.name for path in MODULES if layer_of(path) == "top"]
    assert sorted(top) == ["__init__.py", "__main__.py", "cli.py"], top


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "playground"
    (fake / "model").mkdir(parents=True)
    (fake / "model" / "bad.py").write_text("from playground.web import app\nfrom ..sim import engine\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert imported_layers(fake / "model" / "bad.py") == {("web", 1), ("sim", 2)}
