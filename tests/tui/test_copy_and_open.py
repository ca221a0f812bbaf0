"""`y` copies the selected traceback or diff (OSC 52), `o` opens the step's `def` in $EDITOR."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.editor import editor_command

from .conftest import CHAIN
from .helpers import drive, wait_for_run, wait_until

pytestmark = pytest.mark.timeout(60)

FAILING = CHAIN.replace('print("doubling", len(raw))', 'raise ValueError("no doubling today")')


async def select(pilot, app, step: str) -> None:
    table = app.query_one("#steps")
    table.move_cursor(row=table.get_row_index(step))
    await pilot.pause()


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def test_y_copies_the_traceback_of_the_selected_step(write_pipeline, new_app):
    app = new_app(write_pipeline(FAILING))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "double")
        await pilot.press("y")
        assert "ValueError: no doubling today" in app.clipboard
        assert app.clipboard == app.model.rows["double"].error
        assert any("Copied the traceback of double" in n for n in notes(app))

    drive(app, scenario)


def test_y_on_a_step_with_nothing_to_copy_says_so(write_pipeline, new_app):
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "load")
        await pilot.press("y")
        assert app.clipboard == ""
        await wait_until(pilot, lambda: any("Nothing to copy" in n for n in notes(app)))

    drive(app, scenario)


def test_o_names_the_step_location_when_the_terminal_cannot_be_handed_over(write_pipeline, new_app):
    path = write_pipeline()
    app = new_app(path)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "double")
        await pilot.press("o")  # headless: Textual cannot suspend, so it says where instead
        line = app.model.rows["double"].info.source_line
        assert path.read_text().splitlines()[line - 1].startswith("@step")  # the step's own code
        await wait_until(pilot, lambda: any(f"{path}:{line}" in n for n in notes(app)))

    drive(app, scenario)


@pytest.mark.parametrize(
    ("editor", "expected"),
    [
        ("vim", ["vim", "+12", "f.py"]),
        ("nano -w", ["nano", "-w", "+12", "f.py"]),
        ("/usr/bin/code --wait", ["/usr/bin/code", "--wait", "-g", "f.py:12"]),
        ("subl", ["subl", "f.py:12"]),
    ],
)
def test_the_editor_command_puts_the_cursor_on_the_line(editor, expected):
    assert editor_command("f.py", 12, {"EDITOR": editor}) == expected


def test_visual_wins_over_editor_and_vi_is_the_fallback():
    assert editor_command("f.py", 3, {"VISUAL": "nvim", "EDITOR": "nano"})[0] == "nvim"
    assert editor_command("f.py", 3, {}) == ["vi", "+3", "f.py"]
