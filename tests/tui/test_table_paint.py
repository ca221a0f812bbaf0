"""A table works out the styles it asks for on every line once per paint, and afresh for the
next paint."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from flowyml_tui.tui.widgets.table_paint import StylesFixedWhilePainting

from .helpers import drive


class SeenTable(StylesFixedWhilePainting):
    """Notes, for each line it draws, the styles that line was drawn with."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[object, ...]] = []

    def render_line(self, y: int) -> Strip:
        header = self.get_component_styles("datatable--header")
        self.seen.append((self.rich_style, self.background_colors, header))
        return super().render_line(y)


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield SeenTable()


def test_each_line_of_a_paint_is_drawn_with_the_styles_worked_out_once() -> None:
    app = OneTable()

    async def scenario(pilot) -> None:
        table = app.query_one(SeenTable)
        table.add_column("Step", key="name")
        for name in "abcdef":
            table.add_row(name, key=name)
        await pilot.pause()

        def paint() -> list[tuple[object, ...]]:
            table.seen.clear()
            table.refresh()
            table.render_lines(Region(0, 0, *table.outer_size))
            return list(table.seen)

        lines = paint()
        assert len(lines) > 3
        assert all(all(a is b for a, b in zip(line, lines[0], strict=True)) for line in lines)
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        after = paint()  # a new paint asks again: the new theme's colours, not the kept ones
        assert after[0][0] != lines[0][0]
        assert after[0][1] != lines[0][1]

    drive(app, scenario)
