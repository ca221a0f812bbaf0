"""hashing/ imports one way and shares only public names, so each file can change on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import flowyml_tui.engine.hashing as hashing

PACKAGE = Path(hashing.__file__).parent
# Lowest first: a module may import only modules before it.
ORDER = [
    "code_cache",
    "encoder",
    "fingerprint",
    "origin",
    "sources",
    "normalise",
    "bytecode",
    "identity",
]


def package_imports(module: str) -> list[tuple[str, list[str]]]:
    """(module of this package, names) for every `from .x import ...` in a file, lazy ones too."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def test_every_module_of_the_package_is_in_the_order() -> None:
    files = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert files == set(ORDER)


def test_modules_import_only_modules_below_them() -> None:
    for index, module in enumerate(ORDER):
        for imported, _ in package_imports(module):
            assert imported in ORDER[:index], f"{module} imports .{imported}"


def test_no_module_imports_another_ones_private_names() -> None:
    for module in ORDER:
        for imported, names in package_imports(module):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{module} imports {private} from .{imported}"
