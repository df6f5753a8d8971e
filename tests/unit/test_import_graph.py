"""The import graph, read from the sources (ast): the core plugin imports no service
(services are plugins loaded by name, core/service_plugins.py), the schema imports no
service, and no two top-level packages of neutrino import each other, directly or
through others. Imports under ``if TYPE_CHECKING:`` are types only and do not count."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "neutrino"


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports(path: Path) -> set[str]:
    """Modules of neutrino that ``path`` imports (at any depth of the module: a lazy
    import inside a function is an import all the same)."""
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            found |= {f"{base}.{a.name}" for a in node.names} | {base}
    return {m for m in found if m == "neutrino" or m.startswith("neutrino.")}


@functools.cache
def _modules() -> dict[str, set[str]]:
    return {".".join(p.relative_to(SRC.parent).with_suffix("").parts): _imports(p)
            for p in SRC.rglob("*.py")}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("package", ["core", "schema"])
def test_package_imports_no_service(package: str) -> None:
    bad = sorted((m, i) for m, imports in _modules().items() if _top(m) == package
                 for i in imports if _top(i) == "services")
    assert bad == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of nodes that reach each other (strongly connected components of more than
    one node, or a node with an edge to itself): Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges.get(v, ()):
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycles_between_top_level_packages() -> None:
    edges: dict[str, set[str]] = {}
    examples: dict[tuple[str, str], tuple[str, str]] = {}
    for module, imports in _modules().items():
        for imported in imports:
            a, b = _top(module), _top(imported)
            if a and b and a != b:
                edges.setdefault(a, set()).add(b)
                examples.setdefault((a, b), (module, imported))
    cycles = _cycles(edges)
    described = {c: [examples[(a, b)] for a in group for b in group if (a, b) in examples]
                 for c, group in enumerate(cycles)}
    assert cycles == [], described


def test_the_graph_is_read() -> None:
    """The checks above see real edges (a parser that found nothing would pass them)."""
    modules = _modules()
    assert "neutrino.core.plugin" in modules
    assert "neutrino.core.service_plugins" in modules["neutrino.core.plugin"]
    assert any(_top(i) == "core" for i in modules["neutrino.services.l3.routers"])
