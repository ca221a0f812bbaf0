"""One line that answers "what is it doing and how well is the cache working"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from flowyml_tui.engine.describe.display import format_bytes, format_duration
from flowyml_tui.engine.history.totals import format_rate
from flowyml_tui.runner.protocol import WarmedUp

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


CONTEXT_CHARS = 28
"""The run context shown in the line, at most; `C` shows all of it."""

WARM_SHOWN_FROM = 1 << 20
"""The spare's extra memory is shown from 1 MB: below, it imported only what the engine uses
(a stdlib pipeline), and the line keeps its room for the file name."""

Segment = tuple[int, Text]
"""(priority, text): when the line is too wide, the lowest priority goes first."""


class StatusLine(Static):
    """Pipeline, run number, activity, where steps run, cached vs executed, hit rate, time saved."""

    _shown: Text | None = None
    _last: tuple[RunModel, str, str | None, Mapping[str, Any] | None] | None = None

    def show(
        self,
        model: RunModel,
        activity: str,
        target: str | None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Redraw only when the line reads differently; it is one line high, so no layout."""
        self._last = (model, activity, target, context)
        text = render_status(self, model, activity, target, context, width=self.size.width)
        if self._shown is not None and text == self._shown:
            return
        self._shown = text
        self.update(text, layout=False)

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last)


def render_status(
    widget: Static,
    model: RunModel,
    activity: str,
    target: str | None,
    context: Mapping[str, Any] | None = None,
    *,
    width: int = 0,
) -> Text:
    """The line, its parts dropped by priority until it fits `width` (0: no limit)."""
    segments = status_segments(widget, model, activity, target, context)
    if width > 0 and sum(len(t) for _, t in segments) > width:  # narrow: tighter separators
        segments = status_segments(widget, model, activity, target, context, sep=" │ ")
    if width > 0:
        while len(segments) > 1 and sum(len(t) for _, t in segments) > width:
            lowest = min(range(len(segments)), key=lambda i: segments[i][0])
            segments.pop(lowest)
    text = Text(no_wrap=True, overflow="ellipsis")
    for _, part in segments:
        text.append_text(part)
    return text


def status_segments(
    widget: Static,
    model: RunModel,
    activity: str,
    target: str | None,
    context: Mapping[str, Any] | None,
    sep: str = "  │  ",
) -> list[Segment]:
    app = widget.app
    segments: list[Segment] = []

    def add(priority: int, *parts: str | tuple[str, Style | str]) -> None:
        segments.append((priority, Text.assemble(*parts)))

    name = model.pipeline or (Path(target).stem if target else "flowyml-tui")
    add(100, (f" {name} ", "bold reverse"))
    if model.source_file or target:
        add(40, f" {Path(model.source_file or target or '').name}")
    add(50, f"  run #{model.run_number}" if model.run_number else "  no run yet")
    add(95, "  ", (f"● {activity}", status_style(app, ACTIVITY_STYLE.get(activity, "pending"))))
    if model.parallel:  # where steps run, when not one at a time
        add(75, sep, (f"⇉ {model.parallel}", "bold"))
    if context:
        shown = " ".join(f"{k}={_short(v)}" for k, v in context.items())
        if len(shown) > CONTEXT_CHARS:
            shown = shown[: CONTEXT_CHARS - 1] + "…"
        add(85, sep, (shown, "bold"))  # the values in force: kept before the hit rate
    if model.rows:
        totals = model.totals()
        counts: list[str | tuple[str, Style | str]] = [
            sep,
            (f"{totals.cached} cached", status_style(app, "cached")),
            " · ",
            (f"{totals.executed} executed", status_style(app, "executed")),
        ]
        if totals.failed:
            counts += [" · ", (f"{totals.failed} failed", status_style(app, "failed"))]
        if totals.skipped:
            counts.append(f" · {totals.skipped} skipped")
        counts.append(f" / {totals.steps}")
        add(90, *counts)
        shared = model.shared_hits()
        if model.shared_offline:  # the breaker is open: this run is local only
            add(75, sep, ("shared offline", status_style(app, "failed")))
        elif shared:
            hits = f"shared ✓ {shared} hit{'s' if shared != 1 else ''}"
            add(75, sep, (hits, status_style(app, "cached")))
        if totals.hit_rate is not None:  # nothing could hit yet: say nothing rather than 0%
            add(80, f"{sep}hit {format_rate(totals.hit_rate)}")
        if totals.saved_seconds:
            add(70, f"{sep}saved {format_duration(totals.saved_seconds)}")
        if model.finished is not None:
            add(60, f"{sep}took {format_duration(model.finished.duration_seconds)}")
    if model.warnings:
        add(65, sep, (f"⚠ {len(model.warnings)}", status_style(app, "running")))
    warm = model.warm
    if warm is not None and (warm.extra_bytes or 0) >= WARM_SHOWN_FROM:
        add(45, f"{sep}{warm_detail(warm)}")  # before the file name goes, after the run
    return segments


def warm_detail(warm: WarmedUp) -> str:
    """The memory the spare worker holds for the libraries it imported before the save."""
    return f"warm +{format_bytes(max(0, warm.extra_bytes or 0))}"


def _short(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)
    return shown if len(shown) <= 16 else shown[:15] + "…"
