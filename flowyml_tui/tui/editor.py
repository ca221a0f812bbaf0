"""`o`: the command that opens a file at a line in the user's editor ($VISUAL, else $EDITOR)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

GOTO_FLAG = {"code": "-g", "code-insiders": "-g", "codium": "-g", "cursor": "-g"}
"""Editors that take `-g FILE:LINE`."""
COLON_LINE = frozenset({"subl", "zed", "hx", "helix", "kak", "micro"})
"""Editors that take `FILE:LINE` as is."""


def editor_command(
    file: str, line: int | None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """argv for $VISUAL / $EDITOR (with its own arguments kept), else `vi`, at `line`.

    Most terminal editors (vi, vim, nvim, nano, emacs, micro's `+N` too) take `+LINE FILE`.
    """
    env = os.environ if environ is None else environ
    editor = shlex.split(env.get("VISUAL") or env.get("EDITOR") or "vi")
    name = Path(editor[0]).name
    if line is None:
        return [*editor, file]
    if name in GOTO_FLAG:
        return [*editor, GOTO_FLAG[name], f"{file}:{line}"]
    if name in COLON_LINE:
        return [*editor, f"{file}:{line}"]
    return [*editor, f"+{line}", file]
