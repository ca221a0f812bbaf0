"""The screen model: what the widgets read, folded from events, cheap per event."""

from __future__ import annotations

from flowyml_tui.engine.describe.display import format_duration
from flowyml_tui.engine.events import StepStatus
from flowyml_tui.tui.state import RunModel

from . import scenes


def fold(events) -> RunModel:
    model = RunModel()
    for event in events:
        model.apply(event, now=10.0)
    return model


def test_downstream_follows_the_dag_in_topological_order() -> None:
    model = fold(scenes.cached_rerun())
    assert model.downstream("source") == ["source", "squares", "cubes", "combine"]
    assert model.downstream("cubes") == ["cubes", "combine"]
    assert model.downstream("combine") == ["combine"]


def test_depths_put_parallel_branches_in_one_layer() -> None:
    model = fold(scenes.cached_rerun())
    assert model.depths() == {"source": 0, "squares": 1, "cubes": 1, "combine": 2}


def test_hit_rate_and_saved_time_count_only_reused_steps() -> None:
    model = fold(scenes.cached_rerun())
    assert model.hit_rate() == 1.0  # combine has cache=False: it could not have hit
    assert round(model.saved_seconds(), 3) == 1.107


def test_events_mark_only_their_step_dirty_and_a_new_run_resets_rows() -> None:
    model = fold(scenes.code_change())
    model.take_dirty()
    model.step_started(scenes.StepStarted(scenes.RUN, "cubes", 0.0), now=5.0)
    assert model.take_dirty() == {"cubes"}
    assert model.rows["cubes"].elapsed(now=6.5) == 1.5
    model.start(scenes.started())
    assert model.run_number == 2
    assert {row.status for row in model.rows.values()} == {StepStatus.PENDING}
    assert len(model.history["cubes"]) == 1


def test_an_interrupted_run_fails_the_running_step_when_the_child_died() -> None:
    model = fold(scenes.first_run_in_progress())
    model.interrupted(None, reason="cancelled: saved")
    assert model.rows["squares"].status == StepStatus.PENDING
    model = fold(scenes.first_run_in_progress())
    model.interrupted(scenes_problem(), reason="process exited")
    assert model.rows["squares"].status == StepStatus.FAILED


def scenes_problem():
    from flowyml_tui.tui.state import Problem

    return Problem("died", None, "killed")


def test_durations_read_at_a_glance() -> None:
    assert [format_duration(s) for s in (0.0004, 0.012, 1.254, 185)] == [
        "400µs",
        "12ms",
        "1.25s",
        "3m05s",
    ]


def test_the_output_tab_writes_sizes_as_the_cli_does() -> None:
    from flowyml_tui.engine.describe.display import format_bytes
    from flowyml_tui.tui.widgets.detail_pane import _size

    assert _size(3 * 1024 + 400) == format_bytes(3 * 1024 + 400) == "3.4 KB"


def test_a_frame_of_chatty_lines_keeps_a_bounded_tail_and_counts_every_line() -> None:
    """The app folds a frame's lines into one chunk per step: the tail stays within the
    row's limit, the count covers every line, and the last line is the last printed."""
    from flowyml_tui.engine.events import StepLog
    from flowyml_tui.tui.state import LOG_LIMIT

    model = RunModel()
    model.apply(scenes.started(), 0.0)
    name = next(iter(model.rows))
    lines = [StepLog("r", name, "stdout", f"line {i} of a chatty step\n") for i in range(20_000)]
    from flowyml_tui.tui.state import StepLogs

    model.apply(StepLogs(tuple(lines)), 0.0)
    row = model.rows[name]
    assert row.log_lines == 20_000
    assert row.log_chars <= LOG_LIMIT
    tail, earlier = row.log_tail(3)
    assert tail.splitlines() == [f"line {i} of a chatty step" for i in (19_997, 19_998, 19_999)]
    assert earlier == 19_997


def test_the_model_knows_its_failed_steps_without_reading_every_row() -> None:
    """What waits for approval is a failed step: the keys are checked against these few,
    not against 10,000 rows each time."""
    model = fold(scenes.failed_step())
    assert model.failed == {n for n, row in model.rows.items() if row.status == StepStatus.FAILED}
    assert model.failed
    model.cache_cleared()
    model.start(scenes.started())  # a new run: nothing has failed yet
    assert model.failed == set()
    model = fold(scenes.first_run_in_progress())
    model.interrupted(scenes_problem(), reason="process exited")  # the running step failed
    assert model.failed == {"squares"}
