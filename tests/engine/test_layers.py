"""Layers import one way (tui -> runner -> engine; report and cli beside them): the engine is a
library that imports nothing else of ours, so scripts and CI can use it without the rest."""

from __future__ import annotations

import ast
from pathlib import Path

import flowyml_tui.engine

ENGINE = Path(flowyml_tui.engine.__file__).parent


def imported_modules(path: Path) -> list[str]:
    """Absolute names of what a module imports, relative imports resolved against its package."""
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    package = ".".join(("flowyml_tui", *parts[:-1]))  # a module's package, or __init__'s own
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                names.append(f"{base}.{node.module}" if node.module else base)
            else:
                names.append(node.module or "")
    return names


def test_the_engine_imports_nothing_of_ours_outside_itself() -> None:
    outside = sorted(
        f"{path.relative_to(ENGINE.parent)}: {name}"
        for path in ENGINE.rglob("*.py")
        for name in imported_modules(path)
        if name.startswith("flowyml_tui.") and not name.startswith("flowyml_tui.engine")
    )
    assert not outside, "the engine must not import the report, runner, TUI or CLI: " + "; ".join(
        outside
    )


def test_reports_live_beside_the_engine_not_inside_it() -> None:
    assert not (ENGINE / "report").exists()
    assert (ENGINE.parent / "report" / "__init__.py").is_file()
