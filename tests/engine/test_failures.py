"""Bad input gets a clear error and loses nothing; user code never takes the engine down."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from flowyml_tui import CacheStore, Pipeline, step
from flowyml_tui.engine.errors import (
    CacheError,
    CycleError,
    DuplicateOutputError,
    MissingInputError,
    PipelineLoadError,
    StepDefinitionError,
)
from flowyml_tui.engine.events import ReasonKind, StepStatus
from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline

BRANCHES = """
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def a():
    return 1

@step(inputs=["a"], outputs=["b"])
def broken(a):
    raise ValueError("bad row 7")

@step(inputs=["b"], outputs=["c"])
def after_broken(b):
    return b

@step(inputs=["a"], outputs=["d"])
def independent(a):
    return a + 1

pipeline = Pipeline("branches")
pipeline.add_step(a).add_step(broken).add_step(after_broken).add_step(independent)
"""


def test_a_failing_step_skips_its_downstream_and_independent_branches_still_run(write_file, load):
    result = load(write_file("branches.py", BRANCHES)).run()
    broken = result.step_results["broken"]
    assert broken.status is StepStatus.FAILED
    assert broken.reason == "failed: ValueError: bad row 7"
    assert 'raise ValueError("bad row 7")' in broken.error
    assert "executor.py" not in broken.error  # the user's frames, not ours
    skipped = result.step_results["after_broken"]
    assert skipped.status is StepStatus.SKIPPED
    assert skipped.reason == "upstream broken failed"
    assert result.step_results["independent"].status is StepStatus.EXECUTED
    assert result.status == "failed"
    with pytest.raises(ValueError, match="bad row 7"):
        result.raise_for_failures()


def test_a_cycle_is_named_before_anything_runs():
    @step(inputs=["y"], outputs=["x"])
    def make_x(y):
        return y

    @step(inputs=["x"], outputs=["y"])
    def make_y(x):
        return x

    pipeline = Pipeline("loop").add_step(make_x).add_step(make_y)
    with pytest.raises(CycleError, match=r"make_\w -> make_\w -> make_\w"):
        pipeline.run()


def test_a_missing_input_says_which_step_and_what_to_do():
    @step(inputs=["raw"], outputs=["clean"])
    def clean(raw):
        return raw

    with pytest.raises(
        MissingInputError, match=r"step 'clean' needs input 'raw'.*outputs=\['raw'\]"
    ):
        Pipeline("p").add_step(clean).run()


def test_a_missing_parameter_says_how_to_pass_it():
    @step(outputs=["rows"])
    def load_rows(file_path):
        return file_path

    with pytest.raises(MissingInputError, match=r"parameter 'file_path'.*context="):
        Pipeline("p", enable_cache=False).add_step(load_rows).run()


def test_a_parameter_is_asked_for_on_every_run_that_lacks_it():
    """The check is remembered per graph once it passed, never once it failed, and a context
    with other names is another graph."""

    @step(outputs=["rows"])
    def load_rows(file_path="default.csv"):
        return file_path

    @step(outputs=["n"])
    def count(rows, limit):
        return min(len(rows), limit)

    pipeline = Pipeline("p", enable_cache=False).add_steps([load_rows, count])
    for _ in range(2):
        with pytest.raises(MissingInputError, match=r"parameter 'limit'"):
            pipeline.run()
    assert pipeline.run(context={"limit": 3}).outputs["n"] == 3
    assert pipeline.run(limit=4).outputs["n"] == 4
    with pytest.raises(MissingInputError, match=r"parameter 'limit'"):
        pipeline.run()


def test_duplicate_output_names_are_refused():
    @step(outputs=["x"])
    def one():
        return 1

    @step(outputs=["x"])
    def two():
        return 2

    with pytest.raises(DuplicateOutputError, match="'x' is produced by both 'one' and 'two'"):
        Pipeline("p").add_step(one).add_step(two).run()


def test_an_unknown_cache_strategy_is_refused_at_decoration():
    with pytest.raises(StepDefinitionError, match="cache='sometimes' is not a strategy"):
        step(cache="sometimes")(lambda: 1)


def test_an_unhashable_context_value_fails_the_step_naming_step_and_argument(write_file, load):
    path = write_file(
        "lock.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["out"])
        def uses_lock(lock):
            return 1

        pipeline = Pipeline("lock").add_step(uses_lock)
        """,
    )
    result = load(path).run(lock=threading.Lock())
    failed = result.step_results["uses_lock"]
    assert failed.status is StepStatus.FAILED
    assert "step 'uses_lock': argument 'lock'" in failed.reason
    assert "key function" in failed.reason


def test_an_unpicklable_output_is_a_warning_and_the_run_goes_on_uncached(write_file, load):
    path = write_file(
        "gen.py",
        """
        import threading
        from flowyml_tui import Pipeline, step

        @step(outputs=["lock"])
        def make_lock():
            return threading.Lock()

        @step(inputs=["lock"], outputs=["ok"])
        def use(lock):
            return lock.acquire(blocking=False)

        pipeline = Pipeline("gen").add_step(make_lock).add_step(use)
        """,
    )
    pipeline = load(path)
    first = pipeline.run()
    assert first["ok"] is True
    made = first.step_results["make_lock"]
    assert made.status is StepStatus.EXECUTED
    assert any("cannot be pickled" in w for w in made.warnings)
    assert made.reason == "output not cacheable: lock"
    again = pipeline.run().step_results["make_lock"]
    assert not again.cached
    assert again.reason == "output not cacheable: lock"  # every run, never "new step"


def test_a_wrong_number_of_outputs_is_a_clear_failure(write_file, load):
    path = write_file(
        "pair.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["a", "b"])
        def pair():
            return 1

        pipeline = Pipeline("pair").add_step(pair)
        """,
    )
    failed = load(path).run().step_results["pair"]
    assert failed.status is StepStatus.FAILED
    assert "declares 2 outputs ['a', 'b'] but returned a int" in failed.reason


def _corrupt_every_value(cache_dir):
    store = CacheStore(cache_dir)
    for key in list(store.database.iterkeys()):
        if isinstance(key, str) and key.startswith("v:"):
            blob = store.database.get(key)
            store.database.set(key, blob[: len(blob) // 2])


def test_a_corrupt_entry_is_a_miss_with_a_warning_not_a_crash(write_file, load):
    path = write_file(
        "corrupt.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["rows"])
        def rows():
            return list(range(1000))

        @step(inputs=["rows"], outputs=["total"], cache=False)
        def total(rows):
            return sum(rows)

        pipeline = Pipeline("corrupt").add_step(rows).add_step(total)
        """,
    )
    pipeline = load(path)
    pipeline.run()
    _corrupt_every_value(pipeline.cache_dir)
    events = []
    result = load(path).run(on_event=events.append)
    assert result["total"] == sum(range(1000))
    assert result.step_results["rows"].reason_kind is ReasonKind.CORRUPT_ENTRY
    assert any(getattr(e, "kind", "") == "warning" and "corrupt" in e.message for e in events)
    assert load(path).run().step_results["rows"].cached  # re-stored, healthy again


def test_a_flipped_byte_that_still_unpickles_is_caught_by_the_checksum(write_file, load):
    path = write_file(
        "flip.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["payload"])
        def payload():
            return b"a" * 4096

        @step(inputs=["payload"], outputs=["size"], cache=False)
        def count(payload):
            return payload.count(b"a")

        pipeline = Pipeline("flip").add_step(payload).add_step(count)
        """,
    )
    pipeline = load(path)
    pipeline.run()
    store = CacheStore(pipeline.cache_dir)
    (key,) = [k for k in store.database.iterkeys() if isinstance(k, str) and k.startswith("v:")]
    blob = bytearray(store.database.get(key))
    blob[len(blob) // 2] = ord("b")  # same length, still a valid pickle, wrong value
    store.database.set(key, bytes(blob))
    result = load(path).run()
    assert result.step_results["payload"].reason_kind is ReasonKind.CORRUPT_ENTRY
    assert result["size"] == 4096


def test_unreadable_entry_metadata_is_a_miss_with_a_warning(write_file, load):
    path = write_file(
        "meta.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["x"])
        def x():
            return 41

        pipeline = Pipeline("meta").add_step(x)
        """,
    )
    pipeline = load(path)
    key = pipeline.run().step_results["x"].key
    CacheStore(pipeline.cache_dir)._cache.set("e:" + key, '{"truncated": ')
    events = []
    result = load(path).run(on_event=events.append)
    assert result.step_results["x"].reason_kind is ReasonKind.CORRUPT_ENTRY
    assert any(getattr(e, "kind", "") == "warning" and "unreadable" in e.message for e in events)
    assert load(path).run().step_results["x"].cached


def test_a_writer_killed_mid_write_leaves_no_entry_that_loads_wrong(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, pickle
        from flowyml_tui.engine.cache import Entry, StoredRecipe
        from flowyml_tui.engine.cache import CacheStore, checksum
        store = CacheStore({str(tmp_path / "cache")!r})
        i = 0
        while True:
            blob = pickle.dumps(os.urandom(8 * 2**20))
            key = f"s-{{i}}"
            meta = Entry(key=key, pipeline="p", step="s", created=0, created_ns=0, duration=0,
                         policy="code_hash", code_hash=None, functions={{}},
                         recipe=StoredRecipe(policy="code_hash"), outputs=("x",),
                         output_fps=("-",), sizes=(len(blob),), checksums=(checksum(blob),),
                         formats=("pickle",), previews=("",))
            store.put_entry(meta, [blob], {{}})
            i += 1
            if i == 3:
                print("ready", flush=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    child.kill()
    child.wait()
    store = CacheStore(tmp_path / "cache")
    keys = store.versions("s")
    assert len(keys) >= 3
    for key in keys:
        entry = store.get_entry(key)
        assert len(store.load_value(entry, 0)) == 8 * 2**20


def test_the_cache_dir_is_created_private(tmp_path):
    store = CacheStore(tmp_path / "deep" / "cache")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o700


def test_a_cache_dir_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(CacheError, match=r"writable by other users.*chmod 700"):
        CacheStore(shared)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a dir to another user needs root")
def test_a_cache_dir_owned_by_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 12345, -1)
    with pytest.raises(CacheError, match=r"belongs to another user \(uid 12345\)"):
        CacheStore(theirs)


def test_a_clear_by_another_process_is_seen_by_a_pipeline_kept_in_memory(write_file, load):
    path = write_file(
        "kept.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["x"])
        def x():
            return 1

        pipeline = Pipeline("kept").add_step(x)
        """,
    )
    pipeline = load(path)
    pipeline.run()
    assert pipeline.run().step_results["x"].cached  # metadata now held in memory
    subprocess.run(
        [
            sys.executable,
            "-m",
            "flowyml_tui",
            "cache",
            "clear",
            "--yes",
            "--cache-dir",
            str(pipeline.cache_dir),
        ],
        check=True,
        capture_output=True,
    )
    assert pipeline.run().step_results["x"].reason == "new step"


def test_step_prints_and_logs_are_captured_per_step(write_file, load):
    path = write_file(
        "noisy.py",
        """
        import logging, sys
        from flowyml_tui import Pipeline, step

        @step(outputs=["a"])
        def talks():
            print("hello from talks")
            print("to stderr", file=sys.stderr)
            logging.getLogger("etl").warning("logged %d rows", 3)
            return 1

        @step(inputs=["a"], outputs=["b"])
        def quiet(a):
            return a

        pipeline = Pipeline("noisy").add_step(talks).add_step(quiet)
        """,
    )
    result = load(path).run()
    logs = result.step_results["talks"].logs
    assert ("stdout", "hello from talks\n") in logs
    assert ("stderr", "to stderr\n") in logs
    assert ("log", "WARNING etl: logged 3 rows\n") in logs
    assert result.step_results["quiet"].logs == []


def test_loading_a_file_with_a_syntax_error_names_file_and_line(write_file):
    path = write_file("bad.py", "from flowyml_tui import Pipeline\n\ndef oops(:\n    pass\n")
    with pytest.raises(PipelineLoadError) as caught:
        load_pipelines(path)
    assert caught.value.line == 3
    assert f"{path}:3: syntax error" in str(caught.value)


def test_an_exception_at_import_time_points_at_the_users_line(write_file):
    path = write_file("boom.py", "x = 1\nraise RuntimeError('no config')\n")
    with pytest.raises(PipelineLoadError, match=r"boom\.py:2: RuntimeError") as caught:
        load_pipelines(path)
    assert caught.value.line == 2


def test_a_file_without_a_pipeline_says_how_to_make_one(write_file):
    with pytest.raises(PipelineLoadError, match="defines no Pipeline"):
        load_pipelines(write_file("empty.py", "x = 1\n"))


def test_several_pipelines_in_one_file_need_a_choice(write_file):
    path = write_file(
        "two.py",
        """
        from flowyml_tui import Pipeline
        first = Pipeline("first")
        second = Pipeline("second")
        """,
    )
    pipelines = load_pipelines(path)
    assert set(pipelines) == {"first", "second"}
    assert pick_pipeline(pipelines, "second", path).name == "second"
    with pytest.raises(PipelineLoadError, match=r"several pipelines.*--pipeline NAME"):
        pick_pipeline(pipelines, None, path)
    with pytest.raises(PipelineLoadError, match="no pipeline named 'third'"):
        pick_pipeline(pipelines, "third", path)
