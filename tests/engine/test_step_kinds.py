"""`async def` steps are awaited on one loop per run; generator steps are refused at `@step`."""

from __future__ import annotations

import asyncio

import pytest

from flowyml_tui import step
from flowyml_tui.engine.errors import StepDefinitionError

ASYNC_PIPELINE = """
import asyncio
from flowyml_tui import Pipeline, step

@step(outputs=["raw"])
async def fetch():
    await asyncio.sleep(0.001)
    print("fetched")
    return [1, 2, 3]

@step(inputs=["raw"], outputs=["total"])
async def total(raw):
    await asyncio.sleep(0)
    return sum(raw)

@step(inputs=["total"], outputs=["label"])
def label(total):
    return f"total={total}"

pipeline = Pipeline("aio").add_step(fetch).add_step(total).add_step(label)
"""

LOOP_PIPELINE = """
import asyncio
from flowyml_tui import Pipeline, step

LOOPS = []

@step(outputs=["first"], cache=False)
async def first():
    LOOPS.append(asyncio.get_running_loop())
    print("first ran")
    return 1

@step(inputs=["first"], outputs=["second"], cache=False)
async def second(first):
    LOOPS.append(asyncio.get_running_loop())
    return first + 1

pipeline = Pipeline("loops").add_step(first).add_step(second)
"""


@pytest.fixture
def aio_file(write_file):
    return write_file("aio.py", ASYNC_PIPELINE)


@pytest.fixture
def loops_file(write_file):
    return write_file("loops.py", LOOP_PIPELINE)


def test_an_async_step_is_awaited_and_its_value_cached(aio_file, load):
    pipeline = load(aio_file)
    first = pipeline.run()
    assert first.failed_steps == []
    assert first["raw"] == [1, 2, 3]
    assert first["total"] == 6
    assert first["label"] == "total=6"
    assert first.step_results["fetch"].logs == [("stdout", "fetched\n")]
    again = load(aio_file).run()
    assert all(r.cached for r in again.step_results.values())
    assert again["total"] == 6


def test_the_async_steps_of_a_run_share_one_loop_closed_when_the_run_ends(loops_file, load):
    pipeline = load(loops_file)
    assert pipeline.run()["second"] == 2
    loops = pipeline.steps[0].func.__globals__["LOOPS"]
    assert len(loops) == 2
    assert loops[0] is loops[1]
    assert loops[0].is_closed()


def test_an_async_step_runs_when_the_caller_is_inside_a_running_loop(loops_file, load):
    pipeline = load(loops_file)

    async def notebook_cell():  # Jupyter runs cells inside its own event loop
        return pipeline.run()

    result = asyncio.run(notebook_cell())
    assert result.failed_steps == []
    assert result["second"] == 2
    assert result.step_results["first"].logs == [("stdout", "first ran\n")]
    loops = pipeline.steps[0].func.__globals__["LOOPS"]
    assert loops[0] is loops[1] and loops[0].is_closed()


def test_editing_an_async_step_reruns_it_with_the_diff(aio_file, load):
    load(aio_file).run()
    aio_file.write_text(ASYNC_PIPELINE.replace("return sum(raw)", "return sum(raw) * 2"))
    result = load(aio_file).run()
    assert result.step_results["fetch"].cached
    assert result.step_results["total"].reason == "code changed: total"
    assert "+    return sum(raw) * 2" in result.step_results["total"].diff
    assert result["label"] == "total=12"


def test_a_generator_step_is_refused_when_it_is_declared():
    def numbers():
        yield 1

    with pytest.raises(StepDefinitionError, match=r"step 'numbers' is a generator.*return a list"):
        step(numbers)


def test_an_async_generator_step_is_refused_when_it_is_declared():
    async def numbers():
        yield 1

    with pytest.raises(StepDefinitionError, match=r"step 'numbers' is a generator"):
        step(outputs=["n"])(numbers)


def test_a_step_that_returns_a_generator_fails_saying_to_return_a_list(write_file, load):
    path = write_file(
        "gen.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["squares"])
        def squares():
            return (x * x for x in range(3))

        pipeline = Pipeline("gen").add_step(squares)
        """,
    )
    result = load(path).run()
    reason = result.step_results["squares"].reason
    assert result.failed_steps == ["squares"]
    assert "returned a generator" in reason and "return a list" in reason
