"""The styles a DataTable asks for on every line it draws, worked out once per paint.

DataTable asks for its own `rich_style`, `background_colors` and header component style for
each line, and each walks the widget's ancestors and merges their styles: about a fifth of
drawing a screen of rows whose cells it already has (~1.5 ms of ~8 at 160x48). Nothing
restyles a widget while it draws its lines, so within one `render_lines` each is worked out
once. These are DOMNode's public properties; DataTable only reads what they return.
"""

from __future__ import annotations

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

    @property
    def rich_style(self) -> Style:
        painting = self._painting
        if painting is None:
            return super().rich_style
        style = painting.get("rich_style")
        if style is None:
            style = painting["rich_style"] = super().rich_style
        return style

    @property
    def background_colors(self) -> tuple[Color, Color]:
        painting = self._painting
        if painting is None:
            return super().background_colors
        colors = painting.get("background_colors")
        if colors is None:
            colors = painting["background_colors"] = super().background_colors
        return colors

    def get_component_styles(self, *names: str) -> RenderStyles:
        painting = self._painting
        if painting is None:
            return super().get_component_styles(*names)
        styles = painting.get(names)
        if styles is None:
            styles = painting[names] = super().get_component_styles(*names)
        return styles
