"""`KEY=VALUE` context settings, as `-c` and the workbench's context editor take them."""

from __future__ import annotations

import json
from typing import Any

from flowyml_tui.engine.errors import FlowymlError


def parse_context(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; a VALUE that parses as JSON (numbers, lists, true) is taken as such."""
    context: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.isidentifier():
            raise FlowymlError(f"--context takes KEY=VALUE with KEY a Python name, got {pair!r}")
        try:
            context[key] = json.loads(raw)
        except ValueError:
            context[key] = raw
    return context
