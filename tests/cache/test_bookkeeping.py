"""A cached run's bookkeeping in the database: one read of the write mark as it starts, and
one transaction that rewrites its counters row in place as it ends (issue 26)."""

from __future__ import annotations

import json
from pathlib import Path

from flowyml_tui.engine.cache import CacheStore, open_store
from flowyml_tui.engine.cache.local.database import STATS
from flowyml_tui.engine.load.loader import load_pipelines
from tests.cache.test_prefetch import chain_file


def statements(store: CacheStore) -> list[str]:
    """Every statement the store's SQLite connection runs from now on."""
    seen: list[str] = []
    store.database._con.set_trace_callback(seen.append)  # diskcache keeps its connection private
    return seen


def test_a_replayed_run_reads_nothing_and_writes_its_counters_with_one_update(
    tmp_path: Path,
) -> None:
    pipeline = load_pipelines(chain_file(tmp_path, 20))["chain"]
    pipeline.cache_dir = tmp_path / "cache"
    for _ in range(3):  # cold, cached, replayed
        pipeline.run()
    seen = statements(pipeline.store)

    result = pipeline.run()

    assert all(r.cached for r in result.step_results.values())
    assert [sql for sql in seen if "SELECT" in sql] == []
    assert seen.count("BEGIN IMMEDIATE") == 1
    assert len({sql for sql in seen if sql.startswith("UPDATE Cache")}) == 1
    # the write mark read once as the run starts and once inside its transaction
    assert seen.count("PRAGMA data_version") == 2, seen
    counters = json.loads(pipeline.store.database.get(STATS))["chain"]
    assert counters["s0"] == [3, 1]  # a miss, then three hits


def test_a_counters_row_too_long_for_the_database_goes_to_a_file_and_back(
    tmp_path: Path,
) -> None:
    """The in-place update is only for a row that stays in the database; diskcache's own
    `set` moves a long one to a value file, and the short one after it back (its file gone)."""
    store = open_store(tmp_path / "cache")
    database = store.database
    long = "x" * (database.disk.min_file_size + 10)
    store._set_text(STATS, "short")
    store._set_text(STATS, long)
    (filename,) = database._con.execute(
        "SELECT filename FROM Cache WHERE key = ?", (STATS,)
    ).fetchone()
    assert filename is not None
    assert database.get(STATS) == long

    store._set_text(STATS, "short again")

    assert database.get(STATS) == "short again"
    assert database._con.execute(
        "SELECT filename FROM Cache WHERE key = ?", (STATS,)
    ).fetchone() == (None,)
    assert not (tmp_path / "cache" / "store" / filename).exists()
