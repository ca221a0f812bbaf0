"""The status line says how many steps run at once and where, from what the app was started
with (`--jobs N`, `--dask ADDRESS`); the default (one at a time) says nothing."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.state import describe_runner
from flowyml_tui.tui.widgets.status_line import StatusLine

from .helpers import drive, statuses, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(90)

BRANCHES = """
@step(outputs=["n"])
def source():
    return 2


@step(inputs=["n"], outputs=["left"])
def left(n):
    return n * 2


@step(inputs=["n"], outputs=["right"])
def right(n):
    return n * 3


pipeline = Pipeline("branches", cache_dir=".flowyml/cache")
for s in (source, left, right):
    pipeline.add_step(s)
"""


def test_jobs_shows_in_the_status_line_through_a_real_parallel_run(write_pipeline, new_app):
    app = new_app(write_pipeline(BRANCHES), runner_args=("--jobs", "2"))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1, timeout=60)
        assert statuses(app) == {"source": "executed", "left": "executed", "right": "executed"}
        await wait_until(
            pilot, lambda: "jobs 2" in widget_text(app.query_one(StatusLine)), what="jobs 2"
        )

    drive(app, scenario)


@pytest.mark.parametrize(
    ("runner_args", "shown", "absent"),
    [
        (("--jobs", "4", "--dask", "tcp://10.1.2.3:8786"), "dask tcp://10.1.2.3:8786", "jobs"),
        ((), None, "⇉"),
    ],
)
def test_dask_or_nothing_shows_before_any_run(write_pipeline, new_app, runner_args, shown, absent):
    app = new_app(write_pipeline(BRANCHES), runner_args=runner_args, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        text = widget_text(app.query_one(StatusLine))
        if shown is not None:
            assert shown in text
        assert absent not in text

    drive(app, scenario)


def test_the_runner_arguments_read_as_the_user_gave_them():
    assert describe_runner(["--jobs", "4"]) == "jobs 4"
    assert describe_runner(["--jobs=3"]) == "jobs 3"
    assert describe_runner(["--jobs", "1"]) == ""
    assert describe_runner(["--dask", "tcp://h:8786", "--jobs", "4"]) == "dask tcp://h:8786"


MEETING = """
import os

GATE = GATE_DIR


def meet(me, other):
    open(os.path.join(GATE, me), "w").close()
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(GATE, other)):  # the other runs beside me
        if time.time() > deadline:
            raise TimeoutError(me + " ran alone")
        time.sleep(0.01)
    while not os.path.exists(os.path.join(GATE, "go")) and time.time() < deadline:
        time.sleep(0.01)  # held until the test has looked


@step(outputs=["n"])
def source():
    return 2


@step(inputs=["n"], outputs=["left"])
def left(n):
    meet("left", "right")
    return n * 2


@step(inputs=["n"], outputs=["right"])
def right(n):
    meet("right", "left")
    return n * 3


pipeline = Pipeline("meeting", cache_dir=".flowyml/cache")
for s in (source, left, right):
    pipeline.add_step(s)
"""


def test_the_dag_view_shows_parallel_steps_running_at_once_each_with_its_timer(
    write_pipeline, new_app, tmp_path
):
    from .helpers import FakeClock

    gate = tmp_path / "gate"
    gate.mkdir()
    clock = FakeClock()
    path = write_pipeline(MEETING.replace("GATE_DIR", repr(str(gate))))
    app = new_app(path, runner_args=("--jobs", "2"), clock=clock)

    def drawing() -> str:
        return widget_text(app.query_one("#dag-drawing"))

    async def scenario(pilot) -> None:
        await wait_until(
            pilot,
            lambda: (gate / "left").exists() and (gate / "right").exists(),
            timeout=60,
            what="both branches to start",
        )
        await pilot.press("d")
        await wait_until(pilot, lambda: drawing().count("running") == 2, what="two running boxes")
        clock.now += 3
        app.tick_elapsed()
        await wait_until(
            pilot, lambda: drawing().count("running 3.00s") == 2, what="both timers at 3 s"
        )
        (gate / "go").touch()
        await wait_for_run(pilot, app, 1, timeout=60)
        assert statuses(app) == {"source": "executed", "left": "executed", "right": "executed"}

    drive(app, scenario)
