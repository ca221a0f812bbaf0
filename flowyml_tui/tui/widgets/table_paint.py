"""The styles a DataTable asks for on every line it draws, worked out once per paint.

DataTable asks for its own `rich_style`, `background_colors` and header component style for
each line, and each walks the widget's ancestors and merges their styles: about a fifth of
drawing a screen of rows whose cells it already has (~1.5 ms of ~8 at 160x48). Nothing
restyles a widget while it draws its lines, so within one `render_lines` each is worked out
once. These are DOMNode's public properties; DataTable only reads what they return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.style import Style
from textual.color import Color
from textual.css.styles import RenderStyles
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable


class StylesFixedWhilePainting(DataTable[Any]):
    """A DataTable whose styles are worked out once per `render_lines`, not once per line."""

    _painting: dict[object, Any] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._painting = {}
        try:
            return super().render_lines(crop)
        finally:
            self._painting = None

    def _once_per_paint(self, key: object, work: Callable[[], Any]) -> Any:
        """`work()` once per `render_lines`, kept under `key`; outside one, every time."""
        painting = self._painting
        if painting is None:
            return work()
        found = painting.get(key)
        if found is None:
            found = painting[key] = work()
        return found

    @property
    def rich_style(self) -> Style:
        parent = super()
        return self._once_per_paint("rich_style", lambda: parent.rich_style)

    @property
    def background_colors(self) -> tuple[Color, Color]:
        parent = super()
        return self._once_per_paint("background_colors", lambda: parent.background_colors)

    def get_component_styles(self, *names: str) -> RenderStyles:
        parent = super()
        return self._once_per_paint(names, lambda: parent.get_component_styles(*names))
