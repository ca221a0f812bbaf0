"""While a big run executes, what was alive before it is frozen out of collection
(`run/settled.py`), the collector still frees the cycles its steps make, and afterwards
nothing stays frozen that was not frozen before. Real runs of a 1,000-step pipeline."""

from __future__ import annotations

import gc
import traceback

import pytest

from flowyml_tui.engine.events import Event, RunFinished, StepFinished
from flowyml_tui.engine.hashing.sources import source_file
from flowyml_tui.engine.run.settled import FREEZE_FROM_STEPS


def wide_source(steps: int) -> str:
    """`steps` independent steps; the first one reports what the collector sees from inside
    the run, and whether a cycle it made was freed without asking for a collection."""
    lines = [
        "import gc, weakref",
        "from flowyml_tui import Pipeline, step",
        "seen = {}",
        "class Node:",
        "    pass",
        "@step(outputs=['probe'])",
        "def probe():",
        "    node = Node()",
        "    node.me = node",
        "    alive = weakref.ref(node)",
        "    del node",
        "    kept = [[] for _ in range(20_000)]  # the collector runs by itself meanwhile",
        "    seen['frozen'] = gc.get_freeze_count()",
        "    seen['cycle freed'] = alive() is None",
        "    return len(kept) - 20_000",
        'pipeline = Pipeline("wide").add_step(probe)',
    ]
    for i in range(steps - 1):
        lines += [f"@step(outputs=['v{i}'])", f"def s{i}():", f"    return {i}"]
        lines += [f"pipeline.add_step(s{i})"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def thawed():
    """Each test starts and ends with nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_big_run_freezes_what_existed_before_it_and_thaws_it_after(write_file, load, thawed):
    pipeline = load(write_file("wide.py", wide_source(FREEZE_FROM_STEPS)))
    seen = pipeline.steps[0].func.__globals__["seen"]
    assert gc.get_freeze_count() == 0

    result = pipeline.run()

    assert result.step_results["probe"].status == "executed"
    assert seen["frozen"] > 0, "the run scanned the pipeline's objects again"
    assert seen["cycle freed"], "a cycle a step made was not collected"
    assert gc.get_freeze_count() == 0, "the run left objects frozen"


def test_a_small_run_freezes_nothing(write_file, load, thawed):
    pipeline = load(write_file("small.py", wide_source(10)))
    seen = pipeline.steps[0].func.__globals__["seen"]

    pipeline.run()

    assert seen == {"frozen": 0, "cycle freed": True}


def test_what_someone_else_froze_stays_frozen(write_file, load, thawed):
    pipeline = load(write_file("wide.py", wide_source(FREEZE_FROM_STEPS)))
    theirs = [object()]
    gc.freeze()  # a server that froze before forking, say
    assert not _collectable(theirs)

    pipeline.run()

    assert not _collectable(theirs), "the run thawed what it had not frozen"


def _collectable(obj: object) -> bool:
    """In one of the collector's generations: frozen objects are in none of them."""
    return any(candidate is obj for candidate in gc.get_objects())


def replay_watching_collections(pipeline, watch) -> tuple[RunFinished, int]:
    """Replay `pipeline` with `watch(info)` called at the start of each collection after
    its last step finished; returns the run's `RunFinished` and the number of steps."""
    steps, finished = len(pipeline.steps), []

    def step_finished(event: Event) -> None:
        if isinstance(event, StepFinished):
            finished.append(event.step)

    def after_the_steps(phase: str, info: dict) -> None:
        if phase == "start" and len(finished) == steps:
            watch(info)

    gc.callbacks.append(after_the_steps)
    try:
        result = pipeline.run(on_event=step_finished)
    finally:
        gc.callbacks.remove(after_the_steps)
    ended = result.events[-1]
    assert isinstance(ended, RunFinished) and ended.replay_of is not None  # it was a replay
    return ended, steps


def test_the_collection_a_big_replay_defers_runs_with_the_pipeline_frozen(write_file, load, thawed):
    """A replay pauses the collector while it copies the kept run's results; the collection
    that pause defers runs as it ends, and must not scan the whole pipeline again."""
    pipeline = load(write_file("wide.py", wide_source(FREEZE_FROM_STEPS)))
    pipeline.run()  # cold
    pipeline.run()  # fully cached: kept for the next one to replay
    frozen: list[int] = []

    replay_watching_collections(pipeline, lambda info: frozen.append(gc.get_freeze_count()))

    assert frozen and frozen[0] > 0, "the deferred collection scanned the pipeline again"
    assert gc.get_freeze_count() == 0


def test_what_a_big_replay_made_is_not_scanned_when_its_collector_comes_back(
    write_file, load, thawed
):
    """A replay's results and events hold no cycle: the collection its pause deferred would
    free nothing, so they are left out too, and no collection after the steps finds them
    young (it scanned 30,000 of them in a 10,000-step replay)."""
    pipeline = load(write_file("wide.py", wide_source(FREEZE_FROM_STEPS)))
    for _ in range(3):  # cold, fully cached, then a replay that cuts the kept lines
        pipeline.run()
    young: list[int] = []

    _, steps = replay_watching_collections(
        pipeline, lambda info: young.append(len(gc.get_objects(generation=0)))
    )

    assert all(count < steps for count in young), f"young objects at each collection: {young}"


def test_a_cold_run_keeps_few_objects_the_collector_must_scan(write_file, load, tmp_path, thawed):
    """What a cold run keeps of each step until it ends (its result, the entry it wrote) is
    scanned by every full collection the run sets off; a 10,000-step run kept 11 such objects
    a step, enough to set off two of 20-80 ms each. Entries and counts are tuples now, which
    the collector stops tracking."""
    steps = 300
    pipeline = load(write_file("wide.py", plain_source(steps, tmp_path)))
    pipeline.run()  # whatever a first run in a process makes once
    pipeline.cache_dir = tmp_path / "another"
    gc.collect()
    gc.freeze()  # everything alive before the measured run
    try:
        result = pipeline.run()
        gc.collect()
        kept = len(gc.get_objects())
    finally:
        gc.unfreeze()

    assert all(r.status == "executed" for r in result.step_results.values())
    assert kept < 5 * steps, f"{kept / steps:.1f} tracked objects kept a step"


def test_a_first_run_keeps_no_syntax_tree_and_parses_without_collecting(
    write_file, load, tmp_path, thawed
):
    """The first run of a pipeline parses its file (when no summary of these bytes is on
    disk) and keeps each definition's digests. The tree itself (about 50 objects a step)
    was kept too, as long as the file stayed unchanged; and the collections its parse set
    off moved it towards the oldest generation, so a 10,000-step file's first run then set
    off three full collections of 40-100 ms. What is kept holds few tracked objects: the
    summary's names are tuples and a step's code identity is untracked: 8 a step, with
    what the run itself keeps (13 before)."""
    steps = 300
    pipeline = load(write_file("wide.py", plain_source(steps, tmp_path)))
    during_parse: list[str] = []

    def watch(phase: str, info: dict) -> None:
        names = {frame.f_code.co_name for frame, _ in traceback.walk_stack(None)}
        if phase == "start" and names & {"_parse", "_build_summary"}:
            during_parse.append(f"generation {info['generation']}")

    gc.collect()
    gc.freeze()
    gc.callbacks.append(watch)
    try:
        result = pipeline.run()
        gc.collect()
        kept = len(gc.get_objects())
    finally:
        gc.callbacks.remove(watch)
        gc.unfreeze()

    assert all(r.status == "executed" for r in result.step_results.values())
    assert source_file(str(tmp_path / "wide.py")).parsed, "the file was not parsed: no test"
    assert not during_parse, f"collections while the tree was built: {during_parse}"
    assert kept < 10 * steps, f"{kept / steps:.1f} tracked objects kept a step"


def plain_source(steps: int, salt: object) -> str:
    """`steps` independent trivial steps; `salt` makes the bytes this test's own, so no
    summary another test stored for them spares the parse."""
    lines = [f"# {salt}", "from flowyml_tui import Pipeline, step", 'pipeline = Pipeline("wide")']
    for i in range(steps):
        lines += [f"@step(outputs=['v{i}'])", f"def s{i}():", f"    return {i}"]
        lines += [f"pipeline.add_step(s{i})"]
    return "\n".join(lines) + "\n"
