"""What the context editor (`C`) lists: every key the pipeline's steps take from the run
context, each step's default for it and the value in force, so the editor is never a blank box."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flowyml_tui.engine.events import StepInfo

VALUE_SHOWN = 40
"""Characters of a current value shown; longer ones end in `…`."""


def context_key_lines(steps: Iterable[StepInfo], context: Mapping[str, Any]) -> list[str]:
    """One line per key, in the order the steps first take them:
    `n = 4  (load: default 5; total: no default)`; a key no step takes is not listed."""
    takers: dict[str, list[str]] = {}
    for info in steps:
        for key, default in info.context_keys.items():
            said = f"default {default}" if default is not None else "no default"
            takers.setdefault(key, []).append(f"{info.name}: {said}")
    lines = []
    for key, uses in takers.items():
        now = _shown(context[key]) if key in context else "not set"
        lines.append(f"{key} = {now}  ({'; '.join(uses)})")
    return lines


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= VALUE_SHOWN else text[: VALUE_SHOWN - 1] + "…"
