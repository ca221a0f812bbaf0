"""Rich styles for step statuses, read from the active theme's variables."""

from __future__ import annotations

from rich.style import Style
from textual.app import App
from textual.color import Color, ColorParseError


def status_style(app: App[object], status: str) -> Style:
    """The `$step-<status>` colour of the current theme as a Rich style."""
    return theme_style(app, f"step-{status}")


def theme_style(app: App[object], variable: str) -> Style:
    """The `$<variable>` colour of the current theme (`warning`, say) as a Rich style."""
    value = app.theme_variables.get(variable)
    if not value:
        return Style()
    try:
        return Style(color=Color.parse(value).rich_color)
    except ColorParseError:
        return Style()
