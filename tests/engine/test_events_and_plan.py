"""The event stream, the dry-run plan, and the engine's independence from the TUI."""

from __future__ import annotations

import subprocess
import sys

from flowyml_tui.engine.events import (
    RunFinished,
    RunStarted,
    StepFinished,
    StepLog,
    StepStarted,
    event_from_json,
)

PIPE = """
from pathlib import Path
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def first():
    print("working")
    return 1

@step(inputs=["a"], outputs=["b"])
def second(a):
    Path(__file__).with_name("second-ran").write_text("yes")
    return a + 1

pipeline = Pipeline("events").add_step(first).add_step(second)
"""


def test_a_run_emits_started_log_finished_in_order(write_file, load):
    events = []
    load(write_file("events.py", PIPE)).run(on_event=events.append)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "RunStarted",
        "StepStarted",
        "StepLog",
        "StepFinished",
        "StepStarted",
        "StepFinished",
        "RunFinished",
    ]
    started = events[0]
    assert isinstance(started, RunStarted)
    assert [s.name for s in started.steps] == ["first", "second"]
    assert started.steps[1].upstream == ("first",)
    assert isinstance(events[2], StepLog) and events[2].text == "working\n"
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.executed == 2


def test_every_event_survives_a_json_round_trip(write_file, load):
    pipeline = load(write_file("events.py", PIPE))
    events = []
    pipeline.run(on_event=events.append)
    pipeline.run(on_event=events.append)
    for event in events:
        assert event_from_json(event.to_json()) == event


def test_a_cached_step_event_carries_saved_time_and_output_preview(write_file, load):
    pipeline = load(write_file("events.py", PIPE))
    pipeline.run()
    events = []
    pipeline.run(on_event=events.append)
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert [e.status for e in finished] == ["cached", "cached"]
    assert not any(isinstance(e, StepStarted) for e in events)
    assert finished[0].saved_seconds > 0
    assert finished[1].output_previews["b"].startswith("int\n2")


def test_plan_says_what_would_run_and_why_without_running(write_file, load, tmp_path):
    path = write_file("events.py", PIPE)
    plan = load(path).plan()
    assert [(p.step, p.action, p.reason) for p in plan] == [
        ("first", "run", "new step"),
        ("second", "run", "new step"),
    ]
    assert not (tmp_path / "second-ran").exists()
    load(path).run()
    path.write_text(PIPE.replace('write_text("yes")', 'write_text("yes!")'))
    plan = load(path).plan()
    assert [(p.step, p.action) for p in plan] == [("first", "hit"), ("second", "run")]
    assert plan[1].reason == "code changed: second"


def test_the_engine_imports_nothing_from_textual_or_rich(write_file):
    path = write_file("events.py", PIPE)
    code = (
        "import sys\n"
        "from flowyml_tui.engine.load.loader import load_pipelines\n"
        f"p = load_pipelines({str(path)!r})['events']\n"
        f"p.cache_dir = {str(path.parent / 'cache')!r}\n"
        "p.run()\n"
        "from flowyml_tui import report\n"
        "from flowyml_tui.engine.history import records\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "assert not bad, bad\n"
        "assert 'numpy' not in sys.modules and 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_cached_run_in_a_fresh_process_leaves_modules_it_does_not_need_unimported(
    write_file,
):
    """Start-up is paid on every save in the TUI: a cached run must not import what only an
    executing step, a failure or a rare value type needs."""
    path = write_file("events.py", PIPE)
    run = (
        "import sys\n"
        "from flowyml_tui.engine.load.loader import load_pipelines\n"
        f"p = load_pipelines({str(path)!r})['events']\n"
        f"p.cache_dir = {str(path.parent / 'cache')!r}\n"
        "r = p.run()\n"
        "print(all(s.cached for s in r.step_results.values()))\n"
        "print(sorted(m for m in ('logging', 'fractions', 'hashlib', 'concurrent.futures',"
        " 'asyncio', 'cloudpickle', 'dataclasses', 'flowyml_tui.engine.compat.control_flow')"
        " if m in sys.modules))\n"
    )
    subprocess.run([sys.executable, "-c", run], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", run], check=True, capture_output=True, text=True)
    assert out.stdout.split("\n")[:2] == ["True", "[]"]


def test_plan_names_a_steps_own_change_even_behind_a_step_that_will_run(write_file, load):
    path = write_file("events.py", PIPE)
    load(path).run()
    edited = PIPE.replace("return 1", "return 2").replace("return a + 1", "return a + 2")
    path.write_text(edited)
    plan = {p.step: p for p in load(path).plan()}
    assert plan["first"].reason == "code changed: first"
    assert plan["second"].reason == "code changed: second; upstream first will run"


def test_plan_keeps_a_pinned_step_pinned_behind_a_step_that_will_run(write_file, load):
    from flowyml_tui import CacheStore

    path = write_file("events.py", PIPE)
    pipeline = load(path)
    pipeline.run()
    CacheStore(pipeline.cache_dir).pin("second")
    path.write_text(PIPE.replace("return 1", "return 2"))
    plan = {p.step: (p.action, p.reason) for p in load(path).plan()}
    assert plan["second"] == ("pinned", "pinned")


def test_a_number_previews_as_its_type_and_repr_cut_as_reprlib_cuts_it():
    """Scalars take a short way past `reprlib` in `preview`: what they show stays what it
    wrote, a long integer cut in the middle included."""
    from flowyml_tui.engine.describe.preview import preview

    assert preview(5) == "int\n5"
    assert preview(-0.0) == "float\n-0.0"
    assert preview(True) == "bool\nTrue"
    assert preview(None) == "NoneType\nNone"
    assert preview(10**39) == "int\n" + "1" + "0" * 39
    assert preview(10**45) == "int\n1" + "0" * 17 + "..." + "0" * 19
