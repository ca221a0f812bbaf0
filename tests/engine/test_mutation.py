"""A step that changes its input in place is reported, and its siblings still get the original."""

from __future__ import annotations

import pytest

from flowyml_tui.engine.events import RunWarning

SIBLINGS = """
from flowyml_tui import Pipeline, step

@step(outputs=["raw"], cache={producer_cache})
def load():
    return [1, 2, 3]

@step(inputs=["raw"], outputs=["grown"], cache={consumer_cache})
def grow(raw):
    raw.append(99)
    return len(raw)

@step(inputs=["raw"], outputs=["total"], cache={consumer_cache})
def total(raw):
    return sum(raw)

pipeline = Pipeline("siblings").add_step(load)
for consumer in {order}:
    pipeline.add_step(consumer)
"""


def _pipeline(write_file, load, *, order, producer_cache="True", consumer_cache="True"):
    source = SIBLINGS.format(
        order=order, producer_cache=producer_cache, consumer_cache=consumer_cache
    )
    return load(write_file("siblings.py", source))


def _mutation_warnings(result):
    return [e.message for e in result.events if isinstance(e, RunWarning) and e.step == "grow"]


@pytest.mark.parametrize("order", ["(grow, total)", "(total, grow)"])
def test_the_sibling_sees_the_value_as_produced_whatever_the_order(write_file, load, order):
    result = _pipeline(write_file, load, order=order).run()
    assert result["total"] == 6
    assert result["grown"] == 4
    assert result["raw"] == [1, 2, 3]
    warning = result.step_results["grow"].warnings[0]
    assert "step grow changed its input 'raw' (output of load) in place" in warning
    assert _mutation_warnings(result) == [warning]
    assert result.step_results["total"].warnings == []


@pytest.mark.parametrize("order", ["(grow, total)", "(total, grow)"])
def test_the_sibling_sees_the_value_as_produced_when_the_producer_is_cached(
    write_file, load, order
):
    pipeline = _pipeline(write_file, load, order=order, consumer_cache="False")
    pipeline.run()
    result = pipeline.run()
    assert result.step_results["load"].cached
    assert result.step_results["total"].warnings == []  # a reloaded value is not "changed"
    assert result["total"] == 6
    assert result["raw"] == [1, 2, 3]
    assert _mutation_warnings(result)


@pytest.mark.parametrize("order", ["(grow, total)", "(total, grow)"])
@pytest.mark.parametrize("no_copy_in_the_cache", ["producer cache=False", "enable_cache=False"])
def test_the_sibling_sees_the_value_as_produced_when_the_cache_holds_no_copy(
    write_file, load, order, no_copy_in_the_cache
):
    pipeline = _pipeline(write_file, load, order=order, producer_cache="False")
    pipeline.enable_cache = no_copy_in_the_cache == "producer cache=False"
    result = pipeline.run()
    assert result["total"] == 6
    assert result["raw"] == [1, 2, 3]
    assert _mutation_warnings(result)


def test_the_siblings_cache_entry_is_keyed_by_the_value_it_received(write_file, load):
    """Run in either order, the sibling's entry is the same one: a hit, not a second version."""
    _pipeline(write_file, load, order="(grow, total)").run()
    result = _pipeline(write_file, load, order="(total, grow)").run()
    assert result.step_results["total"].cached
    assert result["total"] == 6


def test_a_step_that_changes_a_context_value_in_place_is_reported(write_file, load):
    path = write_file(
        "config.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["a"])
        def tweak(config):
            config["rate"] = 2
            return 1

        @step(inputs=["a"], outputs=["b"])
        def use(a, config):
            return a * config["rate"]

        pipeline = Pipeline("config").add_step(tweak).add_step(use)
        """,
    )
    result = load(path).run(context={"config": {"rate": 1}})
    warning = result.step_results["tweak"].warnings[0]
    assert "step tweak changed the context value 'config' in place" in warning
    again = load(path).run(context={"config": {"rate": 2}})
    assert again.step_results["use"].cached  # its key said what it received: rate 2
