"""Paint one widget's pending repaint this instant, and the check that what it uses is there.

A widget's `refresh()` reaches the terminal in three hops: the widget posts an `Update` to its
screen when it is next idle, the screen adds it to its dirty set and resumes its update timer,
and the timer paints at its next period. For the row a save waits for (its first step
starting) that was 9-26 ms on a quiet machine, the largest fixed cost left between a save and
the screen (README, Instant re-runs). `paint_now` does the screen's update at once, for a
widget the caller has just redrawn. Textual has no public way to do that, so this relies on
two private parts of the release pinned in pyproject.toml; `internals_problems` says in words
what changed when Textual is upgraded, and tests/tui/test_save_frame.py runs it.
"""

from __future__ import annotations

from importlib.metadata import version

from textual.screen import Screen
from textual.widget import Widget

CHECKED_AGAINST = "8.2.8"
"""The Textual release these internals were read from (pinned in pyproject.toml)."""


def internals_problems(screen: Screen[object]) -> list[str]:
    """One line per private part that is missing or changed; empty when all is well."""
    problems = []
    if not isinstance(getattr(screen, "_dirty_widgets", None), set):
        problems.append("Screen._dirty_widgets is no longer a set of widgets to repaint")
    if not callable(getattr(screen, "_on_timer_update", None)):
        problems.append("Screen._on_timer_update (the screen's update tick) is gone")
    return [
        f"Textual {version('textual')}: {problem} (flowyml-tui paints a started step's row "
        f"through it, as of Textual {CHECKED_AGAINST}); update flowyml_tui/tui/paint_now.py "
        "for this release or pin Textual back"
        for problem in problems
    ]


def paint_now(widget: Widget) -> None:
    """Repaint `widget`'s dirty regions on its screen now rather than at the next update tick.

    The screen's own tick does the work (layout first if one is pending, then the compositor,
    then the terminal), so this paints exactly what that tick would have; while the screen is
    not current or the app batches updates, the tick itself declines, as it would anyway.
    The widget's `Update` message still arrives later and finds nothing left to paint."""
    screen = widget.screen
    screen._dirty_widgets.add(widget)
    screen._on_timer_update()
