"""The hit path digests keys without a `Recipe`: its keys must be `Recipe.key()` byte for byte."""

from __future__ import annotations

import msgspec

from flowyml_tui.engine.events import StepFinished
from flowyml_tui.engine.step import CachePolicy

SHAPES = """
from flowyml_tui import Pipeline, step

@step(outputs=["a", "b"])
def source(size=3):
    return list(range(size)), "label"

@step(inputs=["b", "a", "rate"], outputs=["scaled"], cache="input_hash")
def scale(label, values, factor, offset=0):
    return [v * factor + offset for v in values], label

@step(inputs=["scaled"], outputs=["total"], cache=lambda step, inputs, context: "fixed")
def total(scaled):
    return len(scaled)

@step(inputs=["scaled", "total"], outputs=["report"])
def report(scaled, total, offset):
    return f"{total}: {scaled} +{offset}"

pipeline = Pipeline("shapes")
for s in (source, scale, total, report):
    pipeline.add_step(s)
"""

CONTEXT = {"rate": 2.5, "offset": 7, "size": 4}


def _executor(pipeline):
    return pipeline.executor(CONTEXT)


def test_the_fast_key_is_the_recipe_key_for_inputs_context_and_several_outputs(write_file, load):
    pipeline = load(write_file("shapes.py", SHAPES))
    pipeline.run(context=CONTEXT)
    executor = _executor(pipeline)
    result = executor.run()  # fills the output fingerprints the keys are made from
    checked = 0
    for step in executor.graph.order:
        keys = executor.keys
        expected = keys.recipe(step, keys.code(step)).key()
        if step.policy is not CachePolicy.KEY_FN:
            assert keys.key(step) == expected
            assert keys.key_from(keys.key_plan(step)) == expected
            checked += 1
        assert result.step_results[step.name].key == expected
    assert checked == 3


def test_a_second_run_hits_every_step_under_the_keys_its_misses_stored(write_file, load):
    pipeline = load(write_file("shapes.py", SHAPES))
    first = pipeline.run(context=CONTEXT)
    second = pipeline.run(context=CONTEXT)
    assert all(r.cached for r in second.step_results.values())
    for name, result in second.step_results.items():
        assert result.key == first.step_results[name].key
    finished = {e.step: e for e in second.events if isinstance(e, StepFinished)}
    assert finished["scale"].input_fingerprints == {
        "b": finished["source"].output_fingerprints["b"],
        "a": finished["source"].output_fingerprints["a"],
    }
    assert finished["report"].output_sizes and finished["report"].output_previews
    assert second["report"] == first["report"]


def test_the_prefix_kept_across_runs_follows_a_changed_context_key(write_file, load):
    pipeline = load(write_file("shapes.py", SHAPES))
    pipeline.run(context=CONTEXT)
    changed = pipeline.run(context={**CONTEXT, "offset": 8})
    assert not changed.step_results["scale"].cached
    assert not changed.step_results["report"].cached
    assert changed.step_results["total"].cached


def test_the_lean_hit_reports_exactly_what_the_full_decision_reports(write_file, load):
    """`_cached_hit` builds its event and result by position (keywords cost ~0.5 µs a Struct
    on Python 3.11): every field must still be the one the full decision path sets."""
    pipeline = load(write_file("shapes.py", SHAPES))
    pipeline.run(context=CONTEXT)
    lean, full = _executor(pipeline), _executor(pipeline)
    full.lean_hits = False
    lean_run, full_run = lean.run(), full.run()
    assert all(r.cached for r in lean_run.step_results.values())
    assert lean_run.step_results == full_run.step_results
    lean_events = [e for e in lean.events if isinstance(e, StepFinished)]
    full_events = [e for e in full.events if isinstance(e, StepFinished)]
    assert [msgspec.structs.replace(e, run_id="") for e in lean_events] == [
        msgspec.structs.replace(e, run_id="") for e in full_events
    ]
    assert {e.step for e in lean_events} == {s.name for s in lean.graph.order}


def test_a_key_kept_from_the_last_run_is_digested_again_when_an_input_changes(write_file, load):
    """The hit path keeps each step's last key beside its parts: new parts, a new digest."""
    pipeline = load(write_file("shapes.py", SHAPES))
    for size in (4, 4, 5, 4, 5):
        context = {**CONTEXT, "size": size}
        pipeline.run(context=context)
        executor = pipeline.executor(context)
        result = executor.run()
        assert all(r.cached for r in result.step_results.values())
        for step in executor.graph.order:
            keys = executor.keys
            expected = keys.recipe(step, keys.code(step)).key()
            assert result.step_results[step.name].key == expected
            if step.policy is not CachePolicy.KEY_FN:
                assert keys.key_from(keys.key_plan(step)) == expected
