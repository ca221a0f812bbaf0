"""Every key does what the footer promises, against real runs and a real cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml_tui.engine.cache import CacheStore
from flowyml_tui.tui.screens.confirm import ConfirmScreen
from flowyml_tui.tui.screens.help import HelpScreen
from flowyml_tui.tui.widgets.step_table import StepTable

from .helpers import drive, statuses, table_cell, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)


async def select(pilot, app, step: str) -> None:
    table = app.query_one(StepTable)
    table.move_cursor(row=table.get_row_index(step))
    await pilot.pause()
    assert app.selected_step == step


def test_r_reruns_and_unchanged_steps_come_from_the_cache(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        assert statuses(app) == {"load": "executed", "double": "executed", "total": "executed"}
        await pilot.press("r")
        await wait_for_run(pilot, app, 2)
        assert statuses(app) == {"load": "cached", "double": "cached", "total": "cached"}

    drive(app, scenario)


def test_i_invalidates_only_the_selected_step(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "double")
        await pilot.press("i")
        await wait_for_run(pilot, app, 2)
        rows = app.model.rows
        assert rows["double"].status == "executed"
        assert rows["double"].reason_kind == "invalidated"
        assert rows["load"].status == "cached"
        # same output as before, so early cutoff keeps `total` cached
        assert rows["total"].status == "cached"

    drive(app, scenario)


def test_shift_i_invalidates_the_step_and_everything_downstream(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "double")
        await pilot.press("I")
        await wait_for_run(pilot, app, 2)
        assert statuses(app) == {"load": "cached", "double": "executed", "total": "executed"}
        assert app.model.rows["total"].reason_kind == "invalidated"

    drive(app, scenario)


def test_p_pins_then_unpins_and_the_pin_persists_in_the_store(
    write_pipeline, new_app, tmp_path: Path
) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "double")
        await pilot.press("p")
        await wait_for_run(pilot, app, 2)
        assert app.model.rows["double"].status == "pinned"
        assert "double" in CacheStore(tmp_path / "cache").pins()
        await pilot.press("p")
        await wait_for_run(pilot, app, 3)
        assert app.model.rows["double"].status == "cached"
        assert "double" not in CacheStore(tmp_path / "cache").pins()

    drive(app, scenario)


def test_c_asks_before_clearing_the_cache(write_pipeline, new_app, tmp_path: Path) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="dialog")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert CacheStore(tmp_path / "cache").steps()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="dialog")
        await pilot.press("y")
        await wait_until(
            pilot, lambda: not CacheStore(tmp_path / "cache").steps(), what="empty cache"
        )
        # The table says so at once, not only after the next run.
        await wait_until(
            pilot, lambda: set(statuses(app).values()) == {"pending"}, what="rows reset"
        )
        assert table_cell(app, "double", "reason") == "cache cleared: runs next time"
        await pilot.press("r")
        await wait_for_run(pilot, app, 2)
        assert set(statuses(app).values()) == {"executed"}

    drive(app, scenario)


def test_e_exports_a_report_into_the_cache_dir_and_says_where(
    write_pipeline, new_app, tmp_path: Path
) -> None:
    app = new_app(write_pipeline())
    reports = tmp_path / "cache" / "reports"

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("e")
        await wait_until(
            pilot, lambda: list(reports.glob("flowyml-report-*.html")), what="the report file"
        )
        written = next(reports.glob("flowyml-report-*.html"))
        assert "double" in written.read_text()
        assert not list(tmp_path.glob("flowyml-report-*"))  # not where we were started
        await wait_until(
            pilot,
            lambda: any(str(written) in n.message for n in app._notifications),
            what="a notification naming the file",
        )

    drive(app, scenario)


def test_question_mark_shows_every_key_with_its_binding_id(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(), autorun=False)

    async def scenario(pilot) -> None:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        ids = {binding_id for _, _, binding_id in app.screen.rows}
        assert {
            "rerun",
            "invalidate",
            "invalidate_downstream",
            "pin",
            "clear_cache",
            "watch",
            "export",
            "theme",
            "help",
            "quit",
            "dag",
        } <= ids
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))

    drive(app, scenario)


def test_keys_can_be_remapped_by_binding_id(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        app.set_keymap({"rerun": "f5"})
        await pilot.press("f5")
        await wait_for_run(pilot, app, 2)
        assert app.model.run_number == 2

    drive(app, scenario)


def test_t_opens_the_theme_picker_and_the_table_follows_the_theme(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        before = app.query_one(StepTable).get_cell("load", "status").style
        await pilot.press("t")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette")
        await pilot.press("escape")
        app.theme = "flowyml-light"
        await wait_until(
            pilot,
            lambda: app.query_one(StepTable).get_cell("load", "status").style != before,
            what="the table to take the new theme's colours",
        )

    drive(app, scenario)


def test_d_toggles_the_dag_view(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("d")
        drawing = widget_text(app.query_one("#dag-drawing"))
        assert [line.split()[1] for line in drawing.splitlines()] == ["load", "double", "total"]
        await pilot.press("d")
        assert app.query_one(StepTable).display

    drive(app, scenario)


def test_q_quits_and_leaves_no_child_behind(write_pipeline, new_app) -> None:
    path = write_pipeline(
        """
        @step(outputs=["slow"])
        def slow():
            time.sleep(30)
            return 1

        pipeline = Pipeline("slow").add_step(slow)
        """
    )
    app = new_app(path)
    pids: list[int] = []

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: statuses(app).get("slow") == "running", what="running")
        assert app.child_pid is not None
        pids.append(app.child_pid)
        await pilot.press("q")

    drive(app, scenario)
    assert app.return_code == 0
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pids[0], 0)


def test_every_action_is_also_in_the_command_palette(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(), autorun=False)

    async def scenario(pilot) -> None:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {
            "Re-run pipeline",
            "Invalidate step",
            "Invalidate step and downstream",
            "Pin / unpin step",
            "Clear cache",
            "Pause / resume watching",
            "Toggle DAG view",
            "Export report",
            "Keys",
        } <= titles
        assert any("theme" in title.lower() for title in titles)

    drive(app, scenario)
