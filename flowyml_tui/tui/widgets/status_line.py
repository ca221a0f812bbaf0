"""One line that answers "what is it doing and how well is the cache working"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Static

from flowyml_tui.engine.display import format_duration
from flowyml_tui.engine.totals import format_rate

from ..state import RunModel
from .colours import status_style

ACTIVITY_STYLE = {
    "running": "running",
    "watching": "cached",
    "paused": "skipped",
    "stopped": "failed",
    "idle": "pending",
    "starting": "running",
    "error": "failed",
}


class StatusLine(Static):
    """Pipeline, run number, activity, cached vs executed, hit rate, time saved."""

    _shown: Text | None = None

    def show(
        self,
        model: RunModel,
        activity: str,
        target: str | None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Redraw only when the line reads differently; it is one line high, so no layout."""
        text = render_status(self, model, activity, target, context)
        if self._shown is not None and text == self._shown:
            return
        self._shown = text
        self.update(text, layout=False)


def render_status(
    widget: Static,
    model: RunModel,
    activity: str,
    target: str | None,
    context: Mapping[str, Any] | None = None,
) -> Text:
    app = widget.app
    text = Text(no_wrap=True, overflow="ellipsis")
    name = model.pipeline or (Path(target).stem if target else "flowyml-tui")
    text.append(f" {name} ", style="bold reverse")
    if model.source_file or target:
        text.append(f" {Path(model.source_file or target or '').name}")
    text.append(f"  run #{model.run_number}" if model.run_number else "  no run yet")
    text.append("  ")
    text.append(f"● {activity}", style=status_style(app, ACTIVITY_STYLE.get(activity, "pending")))
    if context:
        text.append("  │  ")
        text.append(" ".join(f"{k}={_short(v)}" for k, v in context.items()), style="bold")
    if model.rows:
        totals = model.totals()
        text.append("  │  ")
        text.append(f"{totals.cached} cached", style=status_style(app, "cached"))
        text.append(" · ")
        text.append(f"{totals.executed} executed", style=status_style(app, "executed"))
        if totals.failed:
            text.append(" · ")
            text.append(f"{totals.failed} failed", style=status_style(app, "failed"))
        if totals.skipped:
            text.append(f" · {totals.skipped} skipped")
        text.append(f" / {totals.steps}")
        if totals.hit_rate is not None:  # nothing could hit yet: say nothing rather than 0%
            text.append(f"  │  hit {format_rate(totals.hit_rate)}")
        if totals.saved_seconds:
            text.append(f"  │  saved {format_duration(totals.saved_seconds)}")
        if model.finished is not None:
            text.append(f"  │  took {format_duration(model.finished.duration_seconds)}")
    if model.warnings:
        text.append(f"  │  ⚠ {len(model.warnings)}", style=status_style(app, "running"))
    return text


def _short(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)
    return shown if len(shown) <= 16 else shown[:15] + "…"
