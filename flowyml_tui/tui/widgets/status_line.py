"""One line that answers "what is it doing and how well is the cache working"."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from flowyml_tui.engine.display import format_duration
from flowyml_tui.engine.events import StepStatus

from ..state import RunModel
from .colours import status_style

ACTIVITY_STYLE = {
    "running": "running",
    "watching": "cached",
    "paused": "skipped",
    "idle": "pending",
    "starting": "running",
    "error": "failed",
}


class StatusLine(Static):
    """Pipeline, run number, activity, cached vs executed, hit rate, time saved."""

    _shown: Text | None = None

    def show(self, model: RunModel, activity: str, target: str | None) -> None:
        """Redraw only when the line reads differently; it is one line high, so no layout."""
        text = render_status(self, model, activity, target)
        if self._shown is not None and text == self._shown:
            return
        self._shown = text
        self.update(text, layout=False)


def render_status(widget: Static, model: RunModel, activity: str, target: str | None) -> Text:
    app = widget.app
    text = Text(no_wrap=True, overflow="ellipsis")
    name = model.pipeline or (Path(target).stem if target else "flowyml-tui")
    text.append(f" {name} ", style="bold reverse")
    if model.source_file or target:
        text.append(f" {Path(model.source_file or target or '').name}")
    text.append(f"  run #{model.run_number}" if model.run_number else "  no run yet")
    text.append("  ")
    text.append(f"● {activity}", style=status_style(app, ACTIVITY_STYLE.get(activity, "pending")))
    if model.rows:
        counts = model.counts()
        cached = counts[StepStatus.CACHED] + counts[StepStatus.PINNED]
        text.append("  │  ")
        text.append(f"{cached} cached", style=status_style(app, "cached"))
        text.append(" · ")
        text.append(f"{counts[StepStatus.EXECUTED]} executed", style=status_style(app, "executed"))
        if counts[StepStatus.FAILED]:
            text.append(" · ")
            text.append(f"{counts[StepStatus.FAILED]} failed", style=status_style(app, "failed"))
        if counts[StepStatus.SKIPPED]:
            text.append(f" · {counts[StepStatus.SKIPPED]} skipped")
        text.append(f" / {len(model.rows)}")
        rate = model.hit_rate()
        if rate is not None:
            text.append(f"  │  hit {rate:.0%}")
        saved = model.saved_seconds()
        if saved:
            text.append(f"  │  saved {format_duration(saved)}")
        if model.finished is not None:
            text.append(f"  │  took {format_duration(model.finished.duration_seconds)}")
    if model.warnings:
        text.append(f"  │  ⚠ {len(model.warnings)}", style=status_style(app, "running"))
    return text
