"""No import cycle anywhere in the package: each module's import-time dependencies form a DAG.

Only imports that run when a module is imported count (module level, outside
`if TYPE_CHECKING:`); a deferred import inside a function is how a module says "only when used".
"""

from __future__ import annotations

import ast
from pathlib import Path

import flowyml_tui

ROOT = Path(flowyml_tui.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.Try, ast.If)) and not _is_type_checking(node):
            body = [*node.body, *getattr(node, "orelse", [])]
            found += _top_level_imports(ast.Module(body=body, type_ignores=[]))
    return found


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _all_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import, deferred ones inside functions included (not `if TYPE_CHECKING:`)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def dependencies(name: str, *, deferred: bool = False) -> set[str]:
    """The modules `name` imports when it is imported (with `deferred`: when it is used)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    deps: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _all_imports(tree) if deferred else _top_level_imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        deps.update(t for t in targets if t in MODULES and t != name)
    return deps


def _submodule_or(base: str, name: str) -> str:
    """`from pkg import mod` depends on pkg.mod; `from pkg import func` on pkg."""
    return f"{base}.{name}" if f"{base}.{name}" in MODULES else base


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle({name: dependencies(name) for name in MODULES})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_cycle_even_through_imports_deferred_into_functions() -> None:
    """A deferred import hides a cycle from import time, not from the reader: two modules
    that need each other are one module, or a third holds what they share."""
    cycle = find_cycle({name: dependencies(name, deferred=True) for name in MODULES})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_tui_imports_nothing_of_the_cli_and_never_the_store_itself() -> None:
    """The workbench asks the runner layer (the session, `runner.cache_actions`) to change
    the cache; command-line parsing is the CLI's."""
    for name in MODULES:
        if not name.startswith("flowyml_tui.tui"):
            continue
        deps = dependencies(name, deferred=True)
        assert not any(d.startswith("flowyml_tui.cli") for d in deps), name
        assert not any(d.startswith("flowyml_tui.engine.cache") for d in deps), name


def test_the_check_reads_real_edges_and_finds_a_cycle_when_there_is_one() -> None:
    graph = {name: dependencies(name) for name in MODULES}
    assert "flowyml_tui.engine.cache.entry" in graph["flowyml_tui.engine.cache.keys"]
    assert "flowyml_tui.engine.cache.local" in graph["flowyml_tui.engine.cache"]
    graph["flowyml_tui.engine.cache.entry"] = {"flowyml_tui.engine.cache.keys"}
    assert find_cycle(graph) is not None
