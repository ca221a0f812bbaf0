"""At 80x24 the screen keeps what matters most: the footer's first keys, totals, an ellipsis."""

from __future__ import annotations

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey
from textual.widgets.data_table import ColumnKey

from flowyml_tui.engine.events import RunStarted
from flowyml_tui.tui.widgets.status_line import StatusLine
from flowyml_tui.tui.widgets.step_table import StepTable

from . import scenes
from .helpers import FakeClock, drive, widget_text

pytestmark = pytest.mark.timeout(60)
SMALL = (80, 24)


@pytest.fixture
def scene_app(write_pipeline, new_app):
    return new_app(
        write_pipeline(name="diamond.py"), autorun=False, clock=FakeClock(), themes_from=[]
    )


def test_the_footer_leads_with_q_r_s_i_p_and_help(scene_app) -> None:
    async def scenario(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")
        keys = [key.key_display for key in scene_app.query_one(Footer).query(FooterKey)]
        assert keys[:6] == ["q", "r", "s", "i", "p", "?"]
        shown = [widget_text(k) for k in scene_app.query_one(Footer).query(FooterKey)][:6]
        assert all(k.region.right <= SMALL[0] for k in scene_app.query(FooterKey)[:6])
        assert all(text.strip() for text in shown)

    drive(scene_app, scenario, size=SMALL)


def test_the_status_line_keeps_totals_hit_rate_and_saved_time(scene_app) -> None:
    async def scenario(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")
        line = widget_text(scene_app.query_one(StatusLine))
        assert "2 cached · 2 executed / 4" in line and "hit 67%" in line and "saved" in line
        assert len(line.rstrip()) <= SMALL[0]

    drive(scene_app, scenario, size=SMALL)


def test_a_long_reason_ends_in_an_ellipsis_and_why_stays(scene_app) -> None:
    async def scenario(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")
        row = scene_app.model.rows["combine"]
        row.reason = "upstream cubes changed and so did everything that reads from it " * 2
        scene_app.model.dirty.add("combine")
        scene_app.catch_up()
        await pilot.pause()
        table = widget_text(scene_app.query_one(StepTable))
        assert "Why" in table
        line = next(text for text in table.splitlines() if "combine" in text)
        assert "upstream cubes" in line and "…" in line

    drive(scene_app, scenario, size=SMALL)


def test_the_context_stays_in_the_status_line_at_80_columns(write_pipeline, new_app) -> None:
    app = new_app(
        write_pipeline(name="diamond.py"),
        autorun=False,
        clock=FakeClock(),
        themes_from=[],
        context={"n": 10, "threshold": 3},
    )

    async def scenario(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")
        line = widget_text(app.query_one(StatusLine))
        assert "n=10 threshold=3" in line and "2 cached · 2 executed / 4" in line

    drive(app, scenario, size=SMALL)


def test_at_80_columns_less_useful_columns_give_way_to_a_long_reason(scene_app) -> None:
    """Cache and Time are dropped before Why shrinks; every cut cell ends in `…`; the step
    detail has the whole reason; wider again, the columns come back."""

    async def scenario(pilot) -> None:
        await scenes.play(pilot, scenes.long_failure(), select="train_gradient_boosting")
        table = scene_app.query_one(StepTable)
        labels = [str(column.label) for column in table.columns.values()]
        assert labels == ["Status", "Step", "Saved", "Why"]
        assert table.columns[ColumnKey("reason")].width >= 20
        text = widget_text(table)
        line = next(t for t in text.splitlines() if "train_gradient_boosting" in t)
        assert "ValueError: Input X" in line and line.rstrip(" │").endswith("…")
        why = " ".join(widget_text(scene_app.query_one("#why")).split())
        assert "impute them first" in why  # the whole reason, in the detail
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        labels = [str(column.label) for column in table.columns.values()]
        assert labels == ["Status", "Step", "Cache", "Time", "Saved", "Why"]
        assert "41.50s" in widget_text(table)

    drive(scene_app, scenario, size=SMALL)


def test_a_step_name_too_long_for_80_columns_is_cut_with_an_ellipsis(scene_app) -> None:
    async def scenario(pilot) -> None:
        events = scenes.long_failure()
        long_name = "train_gradient_boosting_with_cross_validated_hyperparameter_search"
        events = [_renamed(event, "train_gradient_boosting", long_name) for event in events]
        await scenes.play(pilot, events, select=long_name)
        table = scene_app.query_one(StepTable)
        assert table.columns[ColumnKey("reason")].width >= 8
        line = next(t for t in widget_text(table).splitlines() if "train_gradient" in t)
        assert long_name not in line and "train_gradient_boosting_with_cross_valida…" in line
        assert "ValueError: Input X…" in line  # Why keeps its 20 characters

    drive(scene_app, scenario, size=SMALL)


def _renamed(event: object, old: str, new: str) -> object:
    """The event with step `old` called `new` (in the run's step list too)."""
    import msgspec

    if isinstance(event, RunStarted):
        steps = tuple(
            msgspec.structs.replace(
                info,
                name=new if info.name == old else info.name,
                upstream=tuple(new if u == old else u for u in info.upstream),
            )
            for info in event.steps
        )
        return msgspec.structs.replace(event, steps=steps)
    if getattr(event, "step", None) == old:
        return msgspec.structs.replace(event, step=new)
    return event
