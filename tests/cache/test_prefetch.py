"""A fresh process reads a DAG's entry metadata in one query, not one per step (issue 7)."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import diskcache
import pytest

from flowyml_tui.engine.cache import CacheStore
from flowyml_tui.engine.cache.multiget import get_many
from flowyml_tui.engine.cache.safedisk import CacheSafetyWarning, SafeDisk
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run.breakeven import CostMeter


def chain_file(tmp_path: Path, steps: int) -> Path:
    lines = ["from flowyml_tui import Pipeline, step", 'pipeline = Pipeline("chain")']
    lines.append("@step(outputs=['v0'])\ndef s0():\n    return 0\npipeline.add_step(s0)")
    for i in range(1, steps):
        lines.append(
            textwrap.dedent(f"""
            @step(inputs=["v{i - 1}"], outputs=["v{i}"])
            def s{i}(x):
                return x + {i}
            pipeline.add_step(s{i})
            """)
        )
    path = tmp_path / "chain.py"
    path.write_text("\n".join(lines))
    return path


def count_selects(store: CacheStore) -> list[str]:
    """Every SELECT the store's SQLite connection runs from now on."""
    seen: list[str] = []
    connection: sqlite3.Connection = store.database._con  # diskcache keeps its connection private
    connection.set_trace_callback(lambda sql: seen.append(sql) if "SELECT" in sql else None)
    return seen


def test_a_fresh_store_reads_a_cached_dags_entries_in_one_query(tmp_path: Path) -> None:
    path = chain_file(tmp_path, 600)  # more than one chunk of keys
    cache = tmp_path / "cache"
    pipeline = load_pipelines(path)["chain"]
    pipeline.cache_dir = cache
    pipeline.run()

    again = load_pipelines(path)["chain"]  # as a new process would: nothing in memory
    again.cache_dir = cache
    store = again.store
    selects = count_selects(store)
    result = again.run()

    assert all(r.cached for r in result.step_results.values())
    entry_reads = [sql for sql in selects if "FROM Cache" in sql]
    assert len(entry_reads) < 20, f"{len(entry_reads)} queries for 600 cached steps"


def test_get_many_matches_get_for_present_absent_expired_and_refused_rows(
    tmp_path: Path,
) -> None:
    cache = diskcache.Cache(
        str(tmp_path / "c"), disk=SafeDisk, eviction_policy="none", statistics=False
    )
    cache.set("a", b"bytes")
    cache.set("b", "text")
    cache.set("big", b"x" * 100_000)  # a value file, not a column
    cache.set("gone", b"old", expire=-1)  # already expired
    with diskcache.Cache(str(tmp_path / "c")) as plain:  # a pickled row, as another tool
        plain.set("pickled", ["a", "list"])
    keys = ["a", "b", "big", "gone", "pickled", "absent"] + [f"k{i}" for i in range(1200)]
    for i in range(1200):
        cache.set(f"k{i}", i)

    with pytest.warns(CacheSafetyWarning, match="pickle"):
        found = get_many(cache, keys)

    expected = {k: v for k in keys if (v := cache.get(k)) is not None}
    assert found == expected
    assert "pickled" not in found and "gone" not in found and found["big"] == b"x" * 100_000
    cache.close()


def test_prefetch_leaves_out_nothing_get_entry_would_find(tmp_path: Path) -> None:
    path = chain_file(tmp_path, 5)
    pipeline = load_pipelines(path)["chain"]
    pipeline.cache_dir = tmp_path / "cache"
    pipeline.run()
    store = CacheStore(tmp_path / "cache")
    read = store.prefetch("chain", [f"s{i}" for i in range(5)])
    assert read == 5
    assert store.prefetch("chain", ["s0", "s1"]) == 0  # already in memory: no query


def test_a_replayed_run_reads_again_only_the_row_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was written since the last run but its own counters: the deletion counter,
    pins, marks and current entries are not read again (`write_mark`). The cost history,
    rewritten when a run's timings moved enough (load decides), is kept out."""
    monkeypatch.setattr(CostMeter, "record", lambda self, warn: {})
    pipeline = load_pipelines(chain_file(tmp_path, 20))["chain"]
    pipeline.cache_dir = tmp_path / "cache"
    for _ in range(3):  # cold, cached, replayed
        pipeline.run()
    selects = count_selects(pipeline.store)

    result = pipeline.run()

    assert all(r.cached for r in result.step_results.values())
    row_reads = [sql for sql in selects if "FROM Cache WHERE key =" in sql]
    assert [sql for sql in row_reads if "'meta:stats'" not in sql] == []
