"""The package stays readable: small files, functions and classes, and imports that run one way.

Limits: no file in pixelcourse/ over 400 lines, no function over 60, no class
over 200, and no import cycle between its modules (imports inside functions
count too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pixelcourse"
MAX_FILE, MAX_FUNCTION, MAX_CLASS = 400, 60, 200


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def spans(tree: ast.Module, kinds) -> list[tuple[str, int]]:
    """(name, lines) of every node of the given kinds, nested ones included."""
    return [
        (node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree) if isinstance(node, kinds)
    ]


def imported_modules(name: str, source: str, is_package: bool = False, modules=MODULES) -> set[str]:
    """The package modules that module ``name`` imports anywhere in ``source``, at module level or in functions."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the module pkg.sub when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    path = MODULES[name]
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_FILE, f"{path.name} has {lines} lines (limit {MAX_FILE}): split it along a job line"
    tree = parsed(path)
    long_functions = [(f, n) for f, n in spans(tree, (ast.FunctionDef, ast.AsyncFunctionDef)) if n > MAX_FUNCTION]
    assert not long_functions, f"functions over {MAX_FUNCTION} lines in {name}: {long_functions}"
    long_classes = [(c, n) for c, n in spans(tree, ast.ClassDef) if n > MAX_CLASS]
    assert not long_classes, f"classes over {MAX_CLASS} lines in {name}: {long_classes}"


def test_imports_run_one_way():
    graph = {name: imported_modules(name, p.read_text(), p.name == "__init__.py") for name, p in MODULES.items()}
    assert find_cycle(graph) is None, "import cycle: " + " -> ".join(find_cycle(graph))


def test_the_cycle_finder_sees_imports_inside_functions():
    modules = {"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"}
    source = "import os\nfrom . import b\n\ndef f():\n    from .sub.c import g\n    from pkg import sub\n"
    assert imported_modules("pkg.a", source, modules=modules) == {"pkg.b", "pkg.sub.c", "pkg.sub"}
    inner = "def f():\n    from .. import a\n    from ..b import h\n"
    assert imported_modules("pkg.sub.c", inner, modules=modules) == {"pkg.a", "pkg.b"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
