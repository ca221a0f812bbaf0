"""Cache semantics from DESIGN.md: what re-runs, what does not, and the reason given."""

from __future__ import annotations

import time

import pytest

from flowyml_tui import CacheStore
from flowyml_tui.engine.events import ReasonKind, StepStatus

CHAIN = """
from flowyml_tui import Pipeline, step
from helpers import scale

OFFSET = 1

@step(outputs=["numbers"])
def source(n: int = 4):
    return list(range(n))

@step(inputs=["numbers"], outputs=["scaled"])
def scaled(numbers):
    return [scale(x) for x in numbers]

@step(inputs=["numbers"], outputs=["shifted"])
def shifted(numbers):
    return [x + OFFSET for x in numbers]

@step(inputs=["scaled", "shifted"], outputs=["total"])
def total(scaled, shifted):
    return sum(scaled) + sum(shifted)

pipeline = Pipeline("chain")
pipeline.add_step(source).add_step(scaled).add_step(shifted).add_step(total)
"""

HELPERS = """
def scale(x):
    return x * 2
"""


@pytest.fixture
def chain(write_file):
    helpers = write_file("helpers.py", HELPERS)
    path = write_file("chain.py", CHAIN)
    return path, helpers


def statuses(result):
    return {name: r.status.value for name, r in result.step_results.items()}


def test_reformatting_and_comments_rerun_nothing(chain, load):
    path, _ = chain
    load(path).run()
    path.write_text(
        CHAIN.replace(
            "return [x + OFFSET for x in numbers]",
            "# keep the offset\n    return [x + OFFSET\n            for x in numbers]",
        ).replace("def source(n: int = 4):", 'def source(n: int = 4):\n    """Numbers."""')
    )
    result = load(path).run()
    assert all(r.cached for r in result.step_results.values()), statuses(result)


def test_a_helper_edit_reruns_exactly_the_steps_that_use_it(chain, load):
    path, helpers = chain
    load(path).run()
    helpers.write_text(HELPERS.replace("x * 2", "x * 3"))
    result = load(path).run()
    assert statuses(result) == {
        "source": "cached",
        "scaled": "executed",
        "shifted": "cached",
        "total": "executed",
    }
    assert result.step_results["scaled"].reason == "code changed: helpers.scale"
    assert "+    return x * 3" in result.step_results["scaled"].diff
    assert result.step_results["total"].reason == "upstream scaled changed (scaled)"


def test_a_module_constant_edit_reruns_the_steps_that_read_it(chain, load):
    path, _ = chain
    load(path).run()
    path.write_text(CHAIN.replace("OFFSET = 1", "OFFSET = 2"))
    result = load(path).run()
    assert result.step_results["shifted"].reason_kind is ReasonKind.CODE_CHANGED
    assert "OFFSET" in result.step_results["shifted"].reason
    assert "-OFFSET = 1\n+OFFSET = 2\n" in result.step_results["shifted"].diff
    assert result.step_results["scaled"].cached


def test_an_upstream_that_returns_the_same_value_keeps_downstream_cached(chain, load):
    path, _ = chain
    load(path).run()
    path.write_text(CHAIN.replace("return list(range(n))", "return [i for i in range(n)]"))
    result = load(path).run()
    assert result.step_results["source"].status is StepStatus.EXECUTED
    assert statuses(result)["scaled"] == "cached"
    assert statuses(result)["total"] == "cached"


def test_undoing_an_edit_is_a_cache_hit(chain, load):
    path, _ = chain
    load(path).run()
    path.write_text(CHAIN.replace("x + OFFSET", "x - OFFSET"))
    load(path).run()
    path.write_text(CHAIN)
    result = load(path).run()
    assert all(r.cached for r in result.step_results.values()), statuses(result)


def test_strict_source_mode_reruns_on_a_comment(write_file, load):
    source = CHAIN.replace('Pipeline("chain")', 'Pipeline("chain", code_hash_mode="source")')
    write_file("helpers.py", HELPERS)
    path = write_file("chain.py", source)
    load(path).run()
    path.write_text(
        source.replace("    return list(range(n))", "    # note\n    return list(range(n))")
    )
    result = load(path).run()
    assert result.step_results["source"].reason_kind is ReasonKind.CODE_CHANGED


def test_invalidate_with_downstream_reruns_the_step_and_its_dependents(chain, load):
    path, _ = chain
    pipeline = load(path)
    pipeline.run()
    assert pipeline.invalidate("scaled") == ["scaled", "total"]
    result = load(path).run()
    assert statuses(result) == {
        "source": "cached",
        "scaled": "executed",
        "shifted": "cached",
        "total": "executed",
    }
    assert result.step_results["scaled"].reason == "invalidated"
    assert load(path).run().step_results["scaled"].cached  # once re-run, cached again


def test_invalidate_without_downstream_lets_an_equal_value_keep_dependents_cached(chain, load):
    path, _ = chain
    pipeline = load(path)
    pipeline.run()
    assert pipeline.invalidate("scaled", downstream=False) == ["scaled"]
    result = load(path).run()
    assert result.step_results["scaled"].reason == "invalidated"
    assert result.step_results["total"].cached


def test_a_pinned_step_keeps_its_output_and_shows_what_changed_since(chain, load):
    path, _ = chain
    pipeline = load(path)
    before = pipeline.run()["shifted"]
    CacheStore(pipeline.cache_dir).pin("shifted")
    path.write_text(CHAIN.replace("x + OFFSET", "x + OFFSET + 100"))
    result = load(path).run()
    pinned = result.step_results["shifted"]
    assert pinned.status is StepStatus.PINNED
    assert result["shifted"] == before
    assert pinned.reason == "pinned; since the pin: code changed: shifted"
    assert "+    return [x + OFFSET + 100 for x in numbers]" in pinned.diff
    assert result.step_results["total"].cached


def test_pins_persist_in_the_cache_dir_until_unpinned(chain, load):
    path, _ = chain
    pipeline = load(path)
    pipeline.run()
    CacheStore(pipeline.cache_dir).pin("source")
    assert "source" in CacheStore(pipeline.cache_dir).pins()
    assert CacheStore(pipeline.cache_dir).unpin("source")
    assert CacheStore(pipeline.cache_dir).pins() == {}


def test_ttl_expiry_reruns_the_step(write_file, load):
    path = write_file(
        "ttl.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["now"], ttl=0.2)
        def fresh():
            return 1

        pipeline = Pipeline("ttl").add_step(fresh)
        """,
    )
    pipeline = load(path)
    pipeline.run()
    time.sleep(0.3)
    result = pipeline.run()
    assert result.step_results["fresh"].reason_kind is ReasonKind.EXPIRED
    assert result.step_results["fresh"].reason.startswith("expired (ttl 0.2s")


def test_none_is_cached_like_any_value(write_file, load):
    path = write_file(
        "none.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["nothing"])
        def nothing():
            return None

        pipeline = Pipeline("none").add_step(nothing)
        """,
    )
    load(path).run()
    result = load(path).run()
    assert result.step_results["nothing"].cached
    assert result["nothing"] is None


def test_key_function_keys_are_namespaced_by_step(write_file, load):
    path = write_file(
        "keyed.py",
        """
        from flowyml_tui import Pipeline, step

        def by_prompt(step, inputs, context):
            return context["prompt"].lower()

        @step(outputs=["a"], cache=by_prompt)
        def first(prompt):
            return "first:" + prompt

        @step(outputs=["b"], cache=by_prompt)
        def second(prompt):
            return "second:" + prompt

        pipeline = Pipeline("keyed").add_step(first).add_step(second)
        """,
    )
    pipeline = load(path)
    first = pipeline.run(prompt="Hello")
    assert first["a"] == "first:Hello" and first["b"] == "second:Hello"
    again = pipeline.run(prompt="HELLO")
    assert again.step_results["first"].cached
    assert again["a"] == "first:Hello"  # same key: the cached value
    changed = pipeline.run(prompt="bye")
    assert changed.step_results["first"].reason == "key function returned a new key"


def test_several_outputs_come_from_a_tuple(write_file, load):
    path = write_file(
        "split.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["train", "test"])
        def split():
            return [1, 2, 3], [4]

        @step(inputs=["test"], outputs=["size"])
        def size(test):
            return len(test)

        pipeline = Pipeline("split").add_step(split).add_step(size)
        """,
    )
    load(path).run()
    result = load(path).run()
    assert result["train"] == [1, 2, 3]
    assert result["size"] == 1


def test_versions_are_kept_and_eviction_spares_pinned_and_newest(chain, load):
    path, _ = chain
    for offset in range(4):
        load(path).run()
        path.write_text(CHAIN.replace("OFFSET = 1", f"OFFSET = {offset + 10}"))
    store = CacheStore(load(path).cache_dir)
    old = store.entries("shifted")
    assert len(old) == 4
    store.pin("shifted", old[0].key)
    evicted = store.evict(size_limit=0)
    left = {info.key for info in store.entries("shifted")}
    assert left == {old[0].key, old[-1].key}
    assert set(evicted) >= {old[1].key, old[2].key}


def test_stats_count_entries_hits_and_misses(chain, load):
    path, _ = chain
    pipeline = load(path)
    pipeline.run()
    pipeline.run()
    stats = CacheStore(pipeline.cache_dir).stats()
    assert stats["entries"] == 4
    (source,) = [row for row in stats["steps"] if row["step"] == "source"]
    assert source["pipeline"] == pipeline.name
    assert source["hits"] == 1
    assert source["misses"] == 1
    assert stats["bytes"] > 0


def test_an_edit_in_the_same_second_with_the_same_size_is_seen(write_file, tmp_path):
    """CPython trusts a .pyc whose source mtime (whole seconds) and size match: not here."""
    import json
    import os
    import subprocess
    import sys

    helpers = write_file("helper.py", "def value():\n    return 2\n")
    path = write_file(
        "p.py",
        """
        from pathlib import Path
        from flowyml_tui import Pipeline, step
        from helper import value

        @step(outputs=["v"])
        def v():
            Path(__file__).with_name("ran.txt").write_text(str(value()))
            return value()

        pipeline = Pipeline("p").add_step(v)
        """,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [
        sys.executable,
        "-m",
        "flowyml_tui",
        "run",
        str(path),
        "--json",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    subprocess.run(command, env=env, check=True, capture_output=True)
    before = os.stat(helpers)
    helpers.write_text("def value():\n    return 3\n")
    os.utime(helpers, ns=(before.st_atime_ns, before.st_mtime_ns))
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    (step_result,) = json.loads(out.stdout)["steps"]
    assert step_result["reason"] == "code changed: helper.value"
    assert (tmp_path / "ran.txt").read_text() == "3"  # the new code ran, not a stale .pyc
