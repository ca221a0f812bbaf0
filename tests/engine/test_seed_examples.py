"""The seed documents' own examples (flowyml's caching guide), run for real."""

from __future__ import annotations

import shutil

from flowyml_tui import CacheStore
from flowyml_tui.engine.events import StepStatus

from ..conftest import REPO


def test_perf_test_sleeping_step_is_cached_the_second_time(write_file, load):
    path = write_file(
        "perf.py",
        """
        import time
        from flowyml_tui import Pipeline, step

        @step(cache="code_hash")
        def expensive_step():
            time.sleep(0.3)
            return "result"

        pipeline = Pipeline("perf_test", enable_cache=True)
        pipeline.add_step(expensive_step)
        """,
    )
    pipeline = load(path)
    first = pipeline.run()
    second = pipeline.run()
    assert first.step_results["expensive_step"].cached is False
    assert first.step_results["expensive_step"].duration_seconds >= 0.3
    assert second.step_results["expensive_step"].cached is True
    assert second.step_results["expensive_step"].reason == "cached"
    assert second["expensive_step"] == "result"


MIXED = """
from flowyml_tui import Pipeline, step

CALLS = []

@step(cache="code_hash", outputs=["raw"])
def load_data(file_path: str):
    CALLS.append("load_data")
    return [1, 2, None, 4]

@step(inputs=["raw"], cache="input_hash", outputs=["clean"])
def clean_data(raw):
    CALLS.append("clean_data")
    return [x for x in raw if x is not None]

@step(inputs=["clean"], cache=False, outputs=["result"])
def upload_to_db(clean):
    CALLS.append("upload_to_db")
    return {"uploaded": len(clean)}

pipeline = Pipeline("etl", enable_cache=True)
pipeline.add_step(load_data)
pipeline.add_step(clean_data)
pipeline.add_step(upload_to_db)
"""


def test_input_hash_step_ignores_a_code_edit(write_file, load):
    path = write_file("etl.py", MIXED)
    load(path).run(context={"file_path": "data.csv"})
    path.write_text(MIXED.replace("if x is not None]", "if x is not None and x > 1]"))
    result = load(path).run(context={"file_path": "data.csv"})
    assert result.step_results["clean_data"].cached is True
    assert result["clean"] == [1, 2, 4]


def test_an_input_hash_hit_shows_the_code_hash_of_the_code_now(write_file, load):
    """Its key ignores the code, but what the run shows must be the code that is there now."""
    path = write_file("etl.py", MIXED)
    first = load(path).run(context={"file_path": "data.csv"}).step_results["clean_data"]
    path.write_text(MIXED.replace("if x is not None]", "if x is not None and x > 1]"))
    again = load(path).run(context={"file_path": "data.csv"}).step_results["clean_data"]
    assert again.cached is True
    assert first.code_hash and again.code_hash and again.code_hash != first.code_hash


def test_code_hash_step_reruns_on_a_code_edit(write_file, load):
    path = write_file("etl.py", MIXED)
    load(path).run(context={"file_path": "data.csv"})
    path.write_text(MIXED.replace("return [1, 2, None, 4]", "return [1, 2, None, 4, 5]"))
    result = load(path).run(context={"file_path": "data.csv"})
    loaded = result.step_results["load_data"]
    assert loaded.cached is False
    assert loaded.reason == "code changed: load_data"
    assert "+    return [1, 2, None, 4, 5]" in loaded.diff
    assert result.step_results["clean_data"].reason == "upstream load_data changed (raw)"


def test_cache_false_step_always_runs(write_file, load):
    pipeline = load(write_file("etl.py", MIXED))
    pipeline.run(context={"file_path": "data.csv"})
    result = pipeline.run(context={"file_path": "data.csv"})
    upload = result.step_results["upload_to_db"]
    assert upload.status is StepStatus.EXECUTED
    assert upload.reason == "cache disabled"
    assert result["result"] == {"uploaded": 3}


def test_a_changed_context_value_reruns_the_step_that_reads_it(write_file, load):
    pipeline = load(write_file("etl.py", MIXED))
    pipeline.run(context={"file_path": "a.csv"})
    result = pipeline.run(context={"file_path": "b.csv"})
    reason = result.step_results["load_data"].reason
    assert reason == "context changed: file_path 'a.csv' -> 'b.csv'"
    assert result.step_results["clean_data"].cached is True  # early cutoff: same rows


def test_clear_step_reruns_exactly_that_step(write_file, load):
    pipeline = load(write_file("etl.py", MIXED))
    pipeline.run(context={"file_path": "data.csv"})
    CacheStore(pipeline.cache_dir).clear_step("clean_data")
    result = pipeline.run(context={"file_path": "data.csv"})
    statuses = {name: r.status for name, r in result.step_results.items()}
    assert statuses == {
        "load_data": StepStatus.CACHED,
        "clean_data": StepStatus.EXECUTED,
        "upload_to_db": StepStatus.EXECUTED,
    }
    assert result.step_results["clean_data"].reason == "new step"


def test_clear_empties_the_whole_cache(write_file, load):
    pipeline = load(write_file("etl.py", MIXED))
    pipeline.run(context={"file_path": "data.csv"})
    CacheStore(pipeline.cache_dir).clear()
    result = pipeline.run(context={"file_path": "data.csv"})
    assert not any(r.cached for r in result.step_results.values())


def test_every_example_pipeline_runs_then_is_fully_cached(tmp_path, load):
    for name in ("quickstart", "etl", "ml", "diamond"):
        copy = tmp_path / name / f"{name}.py"
        copy.parent.mkdir()
        shutil.copy(REPO / "pipelines" / f"{name}.py", copy)
        if name == "etl":
            shutil.copytree(REPO / "pipelines" / "data", copy.parent / "data")
        first = load(copy).run()
        assert not first.failed_steps, first.step_results
        second = load(copy).run()
        for step_name, result in second.step_results.items():
            assert result.cached or result.reason == "cache disabled", (name, step_name)


def test_the_fanout_example_runs_its_branches_on_a_pool_then_is_fully_cached(tmp_path, load):
    from flowyml_tui.engine.run.process import ProcessRunner

    copy = tmp_path / "fanout.py"
    shutil.copy(REPO / "pipelines" / "fanout.py", copy)
    with ProcessRunner(3) as runner:
        first = load(copy).run(runner=runner)
        assert not first.failed_steps, first.step_results
        assert {n for n, r in first.step_results.items() if r.status is StepStatus.EXECUTED} == {
            "words",
            "letters",
            "vowels",
            "lengths",
            "summary",
        }
        assert first.outputs["summary"]["letters"] == 52
        second = load(copy).run(runner=runner)
    assert all(r.cached for r in second.step_results.values()), second.step_results
