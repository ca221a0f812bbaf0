"""The scheduler hands out ready steps: all of them at once if asked, else in `graph.order`."""

from __future__ import annotations

from flowyml_tui import step
from flowyml_tui.engine.define.graph import build_graph
from flowyml_tui.engine.run.scheduler import Scheduler


@step(outputs=["a"])
def a():
    return 1


@step(inputs=["a"], outputs=["b"])
def b(a):
    return a


@step(inputs=["a"], outputs=["c"])
def c(a):
    return a


@step(inputs=["b", "c"], outputs=["d"])
def d(b, c):
    return b + c


@step(outputs=["e"])
def e():
    return 2


def _names(steps):
    return [s.name for s in steps]


def test_independent_branches_are_ready_together_and_a_join_waits_for_both():
    scheduler = Scheduler(build_graph([a, b, c, d]))
    assert _names(scheduler.take()) == ["a"]
    assert scheduler.take() == []  # nothing else until a finishes
    scheduler.finish("a")
    assert _names(scheduler.take()) == ["b", "c"]
    scheduler.finish("b")
    assert scheduler.take() == []
    assert scheduler.pending()
    scheduler.finish("c")
    assert _names(scheduler.take()) == ["d"]
    scheduler.finish("d")
    assert not scheduler.pending()


def test_taking_one_at_a_time_walks_the_topological_order():
    graph = build_graph([a, b, e, c, d])
    scheduler = Scheduler(graph)
    walked = []
    while ready := scheduler.take(1):
        walked.append(ready[0].name)
        scheduler.finish(ready[0].name)
    assert walked == [s.name for s in graph.order]
    assert _names(Scheduler(graph).one_at_a_time()) == walked


def test_a_step_downstream_of_a_broken_one_names_it():
    graph = build_graph([a, b, c, d])
    scheduler = Scheduler(graph)
    assert scheduler.broken_upstream(graph.step("d")) is None
    scheduler.broken.add("c")
    assert scheduler.broken_upstream(graph.step("d")) == "c"
    assert scheduler.broken_upstream(graph.step("b")) is None


def test_starting_with_steps_already_done_hands_out_only_the_rest():
    scheduler = Scheduler(build_graph([a, b, c, d, e]))
    scheduler.start(done={"a", "b", "e"})  # e.g. cache hits decided before scheduling
    assert _names(scheduler.take()) == ["c"]
    scheduler.finish("c")
    assert _names(scheduler.take()) == ["d"]
    scheduler.finish("d")
    assert not scheduler.pending()
