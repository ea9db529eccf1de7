"""No import cycles anywhere in the project.

Every ``.py`` under the project's packages is read with ``ast`` (nothing is imported or
run) and each import of a project module becomes an edge of the module graph:

- ``import a.b.c`` and ``from a.b.c import name`` point at ``a.b.c`` (the most specific
  project module named); ``from a.b import c`` points at ``a.b.c`` when ``c`` is a
  submodule, else at ``a.b`` (``c`` is a name of its ``__init__``);
- relative imports are resolved against the importing module's package;
- imports inside functions count (a late import only hides a cycle, it is still one);
  only imports under ``if TYPE_CHECKING:`` are left out, since they never run.

A package's ``__init__`` importing its own submodules is therefore no cycle by itself; it
becomes one when a submodule imports a name of that ``__init__`` back. The test fails
listing every strongly connected component of more than one module, with the import
lines that close it. ``tests/`` is not walked: nothing in the project imports it back
except benchmarks, which only use its fixtures.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("activities", "models", "workflows", "worker", "starter", "bench")

Graph = dict[str, dict[str, int]]  # module -> {imported module: line of the first such import}


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` below the packages."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those only a type checker sees."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nearest(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a project module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def imports_of(name: str, modules: dict[str, Path]) -> dict[str, int]:
    path = modules[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: dict[str, int] = {}

    def add(target: str | None, line: int) -> None:
        if target and target != name:
            edges[target] = min(edges.get(target, line), line)

    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_nearest(alias.name, modules), node.lineno)
            continue
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            add(submodule if submodule in modules else _nearest(base, modules), node.lineno)
    return edges


def import_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> Graph:
    modules = module_files(root, packages)
    return {name: imports_of(name, modules) for name in modules}


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def describe(graph: Graph, component: list[str]) -> str:
    members = set(component)
    lines = [f"import cycle of {len(component)} modules: {', '.join(component)}"]
    for name in component:
        for target, line in sorted(graph[name].items()):
            if target in members:
                lines.append(f"  {name.replace('.', '/')}.py:{line} imports {target}")
    return "\n".join(lines)


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "\n\n".join(describe(graph, c) for c in found)


# ------------------------------------------------------------------ the checker itself


def _tree(root: Path, files: dict[str, str]) -> Graph:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(root, sorted({rel.split("/")[0] for rel in files}))


def test_checker_finds_the_kinds_of_cycle(tmp_path: Path) -> None:
    graph = _tree(tmp_path, {
        # a circle through a late import and a relative one
        "p/__init__.py": "",
        "p/a.py": "from p.b import x\n",
        "p/b.py": "def f():\n    from . import c\n",
        "p/c.py": "import p.a\n",
        # a package whose __init__ builds on its submodules, and one submodule imports it back
        "q/__init__.py": "from q.one import thing\nfrom q import two\n",
        "q/one.py": "thing = 1\n",
        "q/two.py": "from q import thing\n",
        # only a type checker sees this import: no cycle
        "r/__init__.py": "",
        "r/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from r.y import Y\n",
        "r/y.py": "from r import x\n",
    })
    assert cycles(graph) == [["p.a", "p.b", "p.c"], ["q", "q.two"]]
    assert "p/b.py:2 imports p.c" in describe(graph, ["p.a", "p.b", "p.c"])


def test_a_package_importing_its_submodules_is_no_cycle(tmp_path: Path) -> None:
    graph = _tree(tmp_path, {
        "s/__init__.py": "from s import app\n",
        "s/app.py": "from s.commands import run\nfrom s.console import out\n",
        "s/commands.py": "from s.console import out, fail\nfrom .console import err\n",
        "s/console.py": "import json\nout = err = fail = None\n",
    })
    assert graph["s.commands"] == {"s.console": 1}
    assert cycles(graph) == []
