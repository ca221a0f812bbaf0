"""A finished run is freed when its result is dropped, without waiting for the garbage collector.

Each step result reaches the executor back through `output` (a lazy load); if the executor
also held the results strongly, every run would be a reference cycle and a cached run's
thousand results would wait for a full collection.
"""

from __future__ import annotations

import gc
import weakref

CHAIN = """
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def first():
    return [1, 2, 3]

@step(inputs=["a"], outputs=["b"])
def second(a):
    return sum(a)

pipeline = Pipeline("lifetime")
pipeline.add_step(first).add_step(second)
"""


def test_dropping_a_run_result_frees_its_step_results_without_a_collection(write_file, load):
    pipeline = load(write_file("lifetime.py", CHAIN))
    pipeline.run()
    gc.collect()
    gc.disable()
    try:
        result = pipeline.run()  # cached: the common case
        watched = weakref.ref(result.step_results["second"])
        del result
        assert watched() is None, "the step results outlived their run (a reference cycle)"
    finally:
        gc.enable()


def test_a_step_result_kept_alone_still_loads_its_output(write_file, load):
    pipeline = load(write_file("lifetime.py", CHAIN))
    pipeline.run()
    second = pipeline.run().step_results["second"]  # the RunResult is dropped at once
    gc.collect()
    assert second.output == 6
    assert second.cached
