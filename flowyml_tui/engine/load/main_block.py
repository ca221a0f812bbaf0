"""Compile a pipeline file so its `if __name__ == "__main__":` blocks run, as `python FILE` would.

Scripts build their pipeline inside `main()` and call it under the guard. Importing the file
as `__main__` would name its functions and classes `__main__.x`, which a worker process cannot
unpickle; so the module keeps its file's name and only the top-level guards are made true,
in place, so the block runs where the author wrote it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ast
    from types import CodeType

GUARD_TEXT = b"__main__"
"""Files without it are compiled as they are, with no parse of our own."""


def compile_as_script(source: bytes, path: str) -> CodeType:
    """`source` compiled with each top-level `__name__ == "__main__"` test made true."""
    import ast  # only files with a guard pay for it

    tree = ast.parse(source, path)
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            node.test = ast.copy_location(ast.Constant(True), node.test)
    return compile(tree, path, "exec", dont_inherit=True)


def _is_main_guard(test: ast.expr) -> bool:
    import ast

    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = (test.left, test.comparators[0])
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1
