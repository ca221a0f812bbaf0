"""Deciding hit or run is a function of the clock it is given: TTLs are tested without sleeping."""

from __future__ import annotations

from flowyml_tui.engine.events import ReasonKind, StepStatus
from flowyml_tui.engine.run import decide
from flowyml_tui.engine.run.executor import Executor

TTL_PIPELINE = """
from flowyml_tui import Pipeline, step

@step(outputs=["value"], ttl=60)
def fresh():
    return 1

@step(inputs=["value"], outputs=["doubled"])
def doubled(value):
    return value * 2

pipeline = Pipeline("ttl").add_step(fresh).add_step(doubled)
"""


def _cached(write_file, load):
    pipeline = load(write_file("ttl.py", TTL_PIPELINE))
    first = pipeline.run()
    entry = pipeline.store.get_entry(first.step_results["fresh"].key)
    assert entry is not None
    return pipeline, entry


def _executor(pipeline, now: float) -> Executor:
    return Executor(
        pipeline=pipeline.name,
        graph=pipeline.graph(),
        store=pipeline.store,
        context=pipeline.context,
        clock=lambda: now,
    )


def test_an_entry_older_than_its_ttl_is_expired_by_the_given_clock(write_file, load):
    pipeline, entry = _cached(write_file, load)
    result = _executor(pipeline, entry.created + 61).run()
    fresh = result.step_results["fresh"]
    assert fresh.status is StepStatus.EXECUTED
    assert fresh.reason_kind is ReasonKind.EXPIRED
    assert fresh.reason == "expired (ttl 60s, age 61s)"
    assert result.step_results["doubled"].status is StepStatus.CACHED  # same value came back


def test_an_entry_within_its_ttl_is_a_hit_by_the_given_clock(write_file, load):
    pipeline, entry = _cached(write_file, load)
    plans = {p.step: p for p in _executor(pipeline, entry.created + 59).plan()}
    assert plans["fresh"].action == "hit"
    result = _executor(pipeline, entry.created + 59).run()
    assert result.step_results["fresh"].status is StepStatus.CACHED


def test_plan_reports_expiry_from_the_clock_too(write_file, load):
    pipeline, entry = _cached(write_file, load)
    plans = {p.step: p for p in _executor(pipeline, entry.created + 3600).plan()}
    assert plans["fresh"].action == "run"
    assert plans["fresh"].reason == "expired (ttl 60s, age 3600s)"


def test_stale_reads_the_clock_only_for_a_step_with_a_ttl(write_file, load):
    pipeline, entry = _cached(write_file, load)
    graph = pipeline.graph()

    def clock() -> float:
        raise AssertionError("a step without a TTL must not read the clock")

    doubled = graph.step("doubled")
    doubled_entry = pipeline.store.newest_entry("ttl", "doubled")
    assert decide.stale(doubled, doubled_entry, None, clock, None) is None
    expired = decide.stale(graph.step("fresh"), entry, None, lambda: entry.created + 61, None)
    assert expired is not None and expired.kind is ReasonKind.EXPIRED


def test_an_invalidation_mark_after_the_entry_makes_it_stale(write_file, load):
    pipeline, entry = _cached(write_file, load)
    step = pipeline.graph().step("fresh")
    now = lambda: entry.created  # noqa: E731 - within the TTL
    assert decide.stale(step, entry, entry.created_ns - 1, now, None) is None
    marked = decide.stale(step, entry, entry.created_ns + 1, now, None)
    assert marked is not None and marked.kind is ReasonKind.INVALIDATED
