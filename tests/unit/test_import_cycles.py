"""No import cycles among the suite's and the sandbox's own modules (issue 20).

The graph is read from the source with `ast`, every `import` counted wherever it stands (module
top, inside a function, a method or a `try:`): an import made inside a function only delays the
cycle to the first call, it does not remove it. Imports under `if TYPE_CHECKING:` are left out:
they never run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]
PACKAGES = ("helpers", "fixtures", "sandbox")


def module_files(root: Path = PROJECT) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py under the three packages."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree, but those inside an `if TYPE_CHECKING:` body."""
    out: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    walk_stmt(stmt)
                continue
            walk_stmt(child)

    def walk_stmt(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        walk(node)

    walk(tree)
    return out


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The first-party modules `name` (in `path`) imports: for `from X import y`, X.y when that is
    a module, else X; relative imports resolved against the module's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for candidate in candidates:
            # the most specific first-party module the name reaches
            parts = candidate.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts:
                targets.add(".".join(parts))
    targets.discard(name)
    return targets


def import_graph(root: Path = PROJECT) -> dict[str, set[str]]:
    files = module_files(root)
    known = set(files)
    return {name: imported_modules(name, path, known) for name, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module (Tarjan), as one example cycle
    through it: `a -> b -> ... -> a`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return [_one_cycle(graph, set(c)) for c in components]


def _one_cycle(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth first inside it)."""
    start = min(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")  # a component of >1 always has one


def test_the_suite_and_the_sandbox_have_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "helpers.config" in graph and "sandbox.lifecycle" in graph
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_walk_sees_imports_inside_functions_and_names_the_cycle(tmp_path: Path):
    """The checker itself on a small tree: a cycle closed by an import inside a function, one by a
    relative import, and a TYPE_CHECKING import that closes none."""
    def write(rel: str, text: str) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    for package in PACKAGES:
        write(f"{package}/__init__.py", "")
    write("helpers/a.py", "from helpers import b\n")
    write("helpers/b.py", "def later():\n    from helpers.a import thing\n    return thing\n")
    write("sandbox/x.py", "from . import y\n")
    write("sandbox/y.py", "try:\n    from .x import z\nexcept ImportError:\n    pass\n")
    write("fixtures/p.py", "from typing import TYPE_CHECKING\nfrom fixtures import q\n")
    write("fixtures/q.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fixtures.p import P\n")
    cycles = find_cycles(import_graph(tmp_path))
    assert sorted(" -> ".join(c) for c in cycles) == ["helpers.a -> helpers.b -> helpers.a",
                                                       "sandbox.x -> sandbox.y -> sandbox.x"]
