"""A cached run's bookkeeping in the database: one read of the write mark as it starts; a
replay's counts wait up to a second for the handle's next commit, one transaction that
rewrites the counters row in place (issue 26)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from flowyml_tui.engine.cache import CacheStore, open_store
from flowyml_tui.engine.cache.local import workspace
from flowyml_tui.engine.cache.local.database import STATS, USED
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run.breakeven import CostMeter
from tests.cache.test_prefetch import chain_file
from tests.cache.test_store_contract import put


@pytest.fixture(autouse=True)
def steady_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost history is rewritten when a run's timings moved enough (`breakeven.py`): on
    a loaded machine any run may write it. Kept out of these counts of statements."""
    monkeypatch.setattr(CostMeter, "record", lambda self, warn: {})


def statements(store: CacheStore) -> list[str]:
    """Every statement the store's SQLite connection runs from now on."""
    seen: list[str] = []
    store.database._con.set_trace_callback(seen.append)  # diskcache keeps its connection private
    return seen


def cached_chain(tmp_path: Path, steps: int = 20):
    """A chain pipeline run cold, cached, then replayed: its counters say 2 hits, 1 miss."""
    pipeline = load_pipelines(chain_file(tmp_path, steps))["chain"]
    pipeline.cache_dir = tmp_path / "cache"
    for _ in range(3):  # cold, cached, replayed
        pipeline.run()
    return pipeline


def stored_counts(cache: Path) -> dict[str, list[int]]:
    """The counters row as another process would read it, without committing anything."""
    row = open_store(cache).database.get(STATS)
    return json.loads(row)["chain"] if row else {}


def test_a_replay_right_after_a_commit_only_reads_the_write_mark(tmp_path: Path) -> None:
    pipeline = cached_chain(tmp_path)
    pipeline.store.commit_counts()
    seen = statements(pipeline.store)

    result = pipeline.run()

    assert all(r.cached for r in result.step_results.values())
    assert seen == ["PRAGMA data_version"]  # as it starts; its counts wait
    assert stored_counts(tmp_path / "cache")["s0"] == [2, 1]
    stats = {row["step"]: row for row in pipeline.store.stats()["steps"]}
    assert (stats["s0"]["hits"], stats["s0"]["misses"]) == (3, 1)  # committed first
    assert stored_counts(tmp_path / "cache")["s0"] == [3, 1]


def test_a_replay_a_second_after_the_last_commit_commits_with_one_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = cached_chain(tmp_path)
    monkeypatch.setattr(workspace, "COUNT_EVERY_SECONDS", 0.0)
    seen = statements(pipeline.store)

    pipeline.run()

    # the counters row read only if something else was written since this handle wrote it
    assert [sql for sql in seen if "SELECT" in sql and "'meta:stats'" not in sql] == []
    assert not [sql for sql in seen if sql.startswith("SELECT rowid, filename")]  # set's lookup
    assert seen.count("BEGIN IMMEDIATE") == 1
    assert len({sql for sql in seen if sql.startswith("UPDATE Cache")}) == 1
    # the write mark read once as the run starts and once inside its transaction
    assert seen.count("PRAGMA data_version") == 2, seen
    assert stored_counts(tmp_path / "cache")["s0"] == [3, 1]  # both replays: none lost


def test_counts_waiting_when_the_process_exits_are_committed(tmp_path: Path) -> None:
    """A script that re-runs a cached pipeline in a loop and ends: every run is counted."""
    chain_file(tmp_path, 5)
    script = tmp_path / "loop.py"
    script.write_text(
        "import sys\n"
        "from flowyml_tui.engine.load.loader import load_pipelines\n"
        f"pipeline = load_pipelines({str(tmp_path / 'chain.py')!r})['chain']\n"
        f"pipeline.cache_dir = {str(tmp_path / 'cache')!r}\n"
        "for _ in range(6):\n"
        "    pipeline.run()\n"
        "print(len(pipeline.store._waiting))\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    )

    assert out.stdout.split() == ["1"]  # replays were waiting as it ended
    assert stored_counts(tmp_path / "cache") == {f"s{i}": [5, 1] for i in range(5)}


def test_a_handle_dropped_with_counts_waiting_still_commits_them_at_exit(
    tmp_path: Path,
) -> None:
    script = tmp_path / "drop.py"
    script.write_text(
        "import gc\n"
        "from flowyml_tui.engine.cache import open_store\n"
        f"store = open_store({str(tmp_path / 'cache')!r})\n"
        "store.record_run('p', {'s': 'k'}, [], ['s'])\n"
        "store.count_replay('p', {'s': 'k'}, ['s'])\n"
        "print(len(store._waiting))\n"
        "del store\n"
        "gc.collect()\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    )

    assert out.stdout.split() == ["1"]
    row = open_store(tmp_path / "cache").database.get(STATS)
    assert json.loads(row)["p"]["s"] == [1, 1]


def test_another_handle_in_the_process_reads_counts_still_waiting(tmp_path: Path) -> None:
    pipeline = cached_chain(tmp_path)
    pipeline.store.commit_counts()
    pipeline.run()

    stats = open_store(tmp_path / "cache").stats()

    hits = {row["step"]: row["hits"] for row in stats["steps"]}
    assert hits["s0"] == 3


def test_a_cleared_step_does_not_get_back_the_counts_that_waited(tmp_path: Path) -> None:
    pipeline = cached_chain(tmp_path)
    pipeline.store.commit_counts()
    pipeline.run()  # its counts wait

    pipeline.store.clear_step("s0", pipeline="chain")
    pipeline.store.commit_counts()

    assert "s0" not in stored_counts(tmp_path / "cache")
    assert stored_counts(tmp_path / "cache")["s1"] == [3, 1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_never_commits_its_parents_waiting_counts(tmp_path: Path) -> None:
    pipeline = cached_chain(tmp_path)
    pipeline.store.commit_counts()
    pipeline.run()  # waits in the parent
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's own exit code is the assertion
        try:
            pipeline.store.commit_counts()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert stored_counts(tmp_path / "cache")["s0"] == [2, 1]

    pipeline.store.commit_counts()

    assert stored_counts(tmp_path / "cache")["s0"] == [3, 1]


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


def test_a_commit_applies_waiting_replays_then_its_run_in_order(tmp_path: Path) -> None:
    """Entries a replay used and the run after it changed are stamped as last used when
    they stop being current; the one current at the end is not (it counts as used now)."""
    store = open_store(tmp_path / "cache")
    store.record_run("p", {"s": "k0"}, [], ["s"])
    store.count_replay("p", {"s": "k1"}, ["s"])  # a second has not passed: it waits

    store.record_run("p", {"s": "k2"}, ["s"], [])

    assert store.current("p") == {"s": "k2"}
    stamps = store._meta(USED)
    assert {"k0", "k1"} <= stamps.keys() and "k2" not in stamps
    assert json.loads(store.database.get(STATS))["p"]["s"] == [2, 1]


def test_counts_that_could_not_be_committed_wait_for_the_next_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "cache")
    store.record_run("p", {"s": "k0"}, [], ["s"])
    store.count_replay("p", {"s": "k0"}, ["s"])
    real = store._set_text

    def disk_error(name: str, text: str) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_set_text", disk_error)
    with pytest.raises(sqlite3.OperationalError):
        store.record_run("p", {"s": "k0"}, ["s"], [])
    monkeypatch.setattr(store, "_set_text", real)

    store.commit_counts()

    assert json.loads(store.database.get(STATS))["p"]["s"] == [1, 1]  # the replay's hit kept


def test_a_cold_steps_entry_is_written_without_lookups_or_culls(tmp_path: Path) -> None:
    """Entry, value, source and version-list rows are INSERTed (`_add_row`): no `set`
    looking each key up first, and no cull looking for expired rows (the store sets no
    expiry). The entry is asked for once, and the version list read in one query each time
    (`_small_row`), not a second one to tell a missing row from a refused one, and only by
    the miss's explanation: the write INSERTs a new step's first list without reading it."""
    pipeline = load_pipelines(chain_file(tmp_path, 3))["chain"]
    pipeline.cache_dir = tmp_path / "cache"
    seen = statements(pipeline.store)

    pipeline.run()

    assert not [sql for sql in seen if "expire_time IS NOT NULL" in sql]
    lookups = [
        sql for sql in seen if sql.startswith(("SELECT rowid, filename", "SELECT rowid FROM"))
    ]
    looked_up = [sql.split("key = '")[1][:2] for sql in lookups]
    assert not {"e:", "v:", "s:", "ve"} & set(looked_up)  # `set`'s look-up, or `in`
    entry_reads = [sql for sql in seen if sql.startswith("SELECT") and "key = 'e:" in sql]
    assert len(entry_reads) == 3  # once a step: the full decision asks nothing again
    version_reads = [sql for sql in seen if "key = 'versions:" in sql and "SELECT" in sql]
    assert len(version_reads) == 3  # the miss's explanation; the write does not read again
    # one INSERT per row (traced again for each trigger diskcache's counts run)
    assert len({sql for sql in seen if sql.startswith("INSERT OR IGNORE")}) == 3 * 4


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*.val")}


def test_a_row_written_again_replaces_the_old_one_and_its_file(tmp_path: Path) -> None:
    store = open_store(tmp_path / "cache")
    big = store.database.disk.min_file_size + 1
    with store.database.transact():
        store._add_row("v:k:0", b"a" * big)
    first = files_under(tmp_path / "cache" / "store")
    assert len(first) == 1

    with store.database.transact():
        store._add_row("v:k:0", b"b" * big)  # a value written again: replaced
        store._add_row("s:h", "def f(): pass")
        store._add_row("s:h", "another text", replace=False)  # a source: kept as it was

    assert store.database.get("v:k:0") == b"b" * big
    assert store.database.get("s:h") == "def f(): pass"
    second = files_under(tmp_path / "cache" / "store")
    assert len(second) == 1 and not (first & second)  # the old file gone, no orphan


def test_an_entry_another_handle_wrote_after_a_miss_is_found_from_the_next_run_on(
    tmp_path: Path,
) -> None:
    """A miss is remembered for the step's second question within a run only: once a run
    starts, the entry another process wrote meanwhile is found."""
    ours, theirs = open_store(tmp_path / "cache"), open_store(tmp_path / "cache")
    assert ours.get_entry("s-p-t1") is None

    put(theirs, "p", "s", 1, tag="t1")

    assert ours.get_entry("s-p-t1") is None  # the same step's second question
    ours.begin_run("p")
    found = ours.get_entry("s-p-t1")
    assert found is not None and found.key == "s-p-t1"
    assert ours.get_entry("s-p-t2") is None
    put(ours, "p", "s", 2, tag="t2")  # this handle's own write is seen at once
    assert ours.get_entry("s-p-t2") is not None


def test_a_new_steps_first_version_keeps_one_another_handle_wrote_meanwhile(
    tmp_path: Path,
) -> None:
    """A new step's version list is INSERTed without reading it again (its miss was just
    explained): a list another writer added in between is found by that INSERT and merged,
    never replaced."""
    ours, theirs = open_store(tmp_path / "cache"), open_store(tmp_path / "cache")
    assert ours.newest_entry("p", "s") is None  # the miss's explanation: no list yet

    put(theirs, "p", "s", 1, tag="t1")
    put(ours, "p", "s", 2, tag="t2")

    reader = open_store(tmp_path / "cache")
    assert reader.newest_entry("p", "s").key == "s-p-t2"
    reader.delete_entry("s-p-t2")
    newest = reader.newest_entry("p", "s")
    assert newest is not None and newest.key == "s-p-t1"  # theirs is still listed
