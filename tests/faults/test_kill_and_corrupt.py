"""Faults a real cache meets: SIGKILL mid-write, other processes clearing and pinning, and a
bad byte in every kind of file and row the store keeps.

Each corruption is followed by a run and `stats`/`ls` (which between them read every row):
no traceback, at least one warning, the right values; then another run and `stats` with no
warning at all, because the store healed itself.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from flowyml_tui.engine.cache import open_store
from flowyml_tui.engine.events import RunWarning
from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline

from . import harness

SMALL = 64 * 1024  # still a file per value (diskcache inlines values under 32 KiB)


def test_sigkill_at_random_points_never_serves_a_wrong_value_nor_leaves_orphans(tmp_path):
    pipeline_file = harness.write_pipeline(tmp_path)
    report = harness.kill_writers(tmp_path / "cache", pipeline_file, kills=30, seed=9)
    assert report.kills == 30
    assert report.wrong_values == []
    assert report.loads_checked > 30  # the check loaded what the killed writers left
    assert report.dead_writer_markers >= 1  # the writers were killed after writing
    assert report.orphan_bytes_after_gc == 0
    assert _unreferenced_files(tmp_path / "cache") == []


def test_writers_racing_clear_pin_and_gc_from_other_processes_get_right_values(tmp_path):
    pipeline_file = harness.write_pipeline(tmp_path, size=SMALL)
    report = harness.race(tmp_path / "cache", pipeline_file, seconds=4, size=SMALL)
    assert report.failures == []
    assert report.writer_runs > 10 and report.meddler_actions > 10


def test_a_dead_writers_orphans_are_removed_at_the_next_open(tmp_path):
    cache = tmp_path / "cache"
    open_store(cache).close()
    orphan = cache / "store" / "ab" / "cd" / "0123456789abcdef0123456789ab.val"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 100_000)
    (cache / "store" / ".writing-999999999").touch()  # no such process: it died writing
    store = open_store(cache)
    assert not orphan.exists()
    assert not (cache / "store" / ".writing-999999999").exists()
    assert store.disk_usage()["orphans"] == 0


def test_orphans_are_counted_by_stats_and_removed_by_gc_and_clear(tmp_path):
    cache = tmp_path / "cache"
    store = _run(tmp_path, cache, 1)[1]
    orphan = cache / "store" / "ab" / "cd" / "0123456789abcdef0123456789ab.val"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 100_000)
    stats = store.stats()
    assert stats["disk"]["orphans"] == 100_000
    assert stats["disk"]["total"] == sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    assert store.gc()["bytes"] == 100_000
    assert not orphan.exists() and store.stats()["disk"]["orphans"] == 0
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 100_000)
    store.clear()
    assert [p for p in (cache / "store").rglob("*.val")] == []


def test_eviction_counts_every_byte_of_the_dir(tmp_path):
    cache = tmp_path / "cache"
    store = _run(tmp_path, cache, 1)[1]
    _run(tmp_path, cache, 2)
    _run(tmp_path, cache, 3)
    used = store.disk_usage()["total"]
    evicted = store.evict(size_limit=used - 1)
    assert evicted  # entry bytes alone were under the limit only counting values
    assert store.disk_usage()["total"] <= used - 1 or len(store.entries()) == 2


# -- a bad byte in every kind of file and row ------------------------------------------------


def _db(cache: Path) -> sqlite3.Connection:
    return sqlite3.connect(cache / "store" / "cache.db")


def _set_row(cache: Path, key: str, value: object, mode: int = 1) -> None:
    """Put `value` in row `key` as diskcache would read it back (mode 1 raw, 4 pickle)."""
    with _db(cache) as db:
        db.execute("DELETE FROM Cache WHERE key = ?", (key,))
        db.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
            " tag, size, mode, filename, value) VALUES (?, 1, 0, NULL, 0, 0, NULL, 0, ?, NULL, ?)",
            (key, mode, value),
        )
    db.close()


def _key_like(cache: Path, prefix: str) -> str:
    db = _db(cache)
    (key,) = db.execute(
        "SELECT key FROM Cache WHERE key LIKE ? ORDER BY key LIMIT 1", (prefix + "%",)
    ).fetchone()
    db.close()
    return key


def _value_file(cache: Path) -> Path:
    db = _db(cache)
    (name,) = db.execute(
        "SELECT filename FROM Cache WHERE key LIKE 'v:%' AND filename IS NOT NULL LIMIT 1"
    ).fetchone()
    db.close()
    return cache / "store" / name


def _entry_row(cache: Path, make: Callable[[str], object], mode: int = 1) -> None:
    key = _key_like(cache, "e:")
    _set_row(cache, key, make(key), mode)


def _versions_row(cache: Path, value: object, mode: int = 1) -> None:
    _set_row(cache, _key_like(cache, "versions:"), value, mode)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "cache.db is not a database": lambda c: (c / "store" / "cache.db").write_bytes(
        b"this is not sqlite" * 500
    ),
    "cache.db truncated": lambda c: os.truncate(c / "store" / "cache.db", 2000),
    "meta:format garbage": lambda c: _set_row(c, "meta:format", "garbage"),
    "entry bad JSON": lambda c: _entry_row(c, lambda k: "{not json"),
    "entry JSON null": lambda c: _entry_row(c, lambda k: "null"),
    "entry without sizes": lambda c: _entry_row(c, lambda k: json.dumps({"key": k[2:]})),
    "entry in pickle mode": lambda c: _entry_row(c, lambda k: pickle.dumps({"key": k}), 4),
    "value file truncated": lambda c: os.truncate(_value_file(c), 100),
    "value file byte flipped": lambda c: _flip_byte(_value_file(c)),
    "value file deleted": lambda c: _value_file(c).unlink(),
    "value file emptied": lambda c: _value_file(c).write_bytes(b""),
    "value row in pickle mode": lambda c: _set_row(
        c, _key_like(c, "v:"), pickle.dumps(pickle.dumps(("x", b"y"))), 4
    ),
    "versions null": lambda c: _versions_row(c, "null"),
    "versions bad JSON": lambda c: _versions_row(c, "[oops"),
    "versions a table": lambda c: _versions_row(c, '{"a": 1}'),
    "versions of numbers": lambda c: _versions_row(c, "[1, 2]"),
    "versions in pickle mode": lambda c: _versions_row(c, pickle.dumps(["k"]), 4),
    "meta:pins bad JSON": lambda c: _set_row(c, "meta:pins", "{{"),
    "meta:pins wrong shape": lambda c: _set_row(c, "meta:pins", '{"faults": {"make": 5}}'),
    "meta:stats wrong shape": lambda c: _set_row(c, "meta:stats", '{"faults": {"make": "x"}}'),
    "meta:stats a list": lambda c: _set_row(c, "meta:stats", "[1, 2, 3]"),
    "meta:invalidated wrong type": lambda c: _set_row(
        c, "meta:invalidated", '{"faults": {"make": "later"}}'
    ),
    "meta:current wrong shape": lambda c: _set_row(c, "meta:current", '{"faults": ["a"]}'),
    "meta:used wrong type": lambda c: _set_row(c, "meta:used", '{"k": "yesterday"}'),
    "meta:generation garbage": lambda c: _set_row(c, "meta:generation", "x"),
}


def _run(tmp_path: Path, cache: Path, n: int):
    """Run the fault pipeline fresh (a new store: no memory of the last one) and check it."""
    path = tmp_path / "faults_pipeline.py"
    if not path.exists():
        harness.write_pipeline(tmp_path, size=SMALL)
    pipeline = pick_pipeline(load_pipelines(path), None, path)
    pipeline.cache_dir = cache
    result = pipeline.run(context={"n": n})
    expected = harness.payload(n, SMALL)
    assert result["made"] == (n, expected)
    assert result["flipped"] == (n, expected[::-1])
    return result, pipeline.store


def _run_and_look(tmp_path: Path, cache: Path) -> list[str]:
    """A run, then `stats` and `ls` of the store: every warning, Python's and the run's."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, store = _run(tmp_path, cache, 1)
        store.stats()
        store.entries()
        store.pins()
        store.close()
    run_warnings = [e.message for e in result.events if isinstance(e, RunWarning)]
    run_warnings += [w for r in result.step_results.values() for w in r.warnings]
    return [str(w.message) for w in caught] + run_warnings


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_a_bad_byte_is_a_miss_with_a_warning_and_the_store_heals(tmp_path, kind):
    cache = tmp_path / "cache"
    _run(tmp_path, cache, 1)[1].close()
    CORRUPTIONS[kind](cache)
    assert _run_and_look(tmp_path, cache), f"{kind}: no warning"
    assert _run_and_look(tmp_path, cache) == [], f"{kind}: not healed"


def test_twenty_kinds_at_least():
    assert len(CORRUPTIONS) >= 20


def test_a_database_moved_aside_is_kept_for_a_post_mortem(tmp_path):
    cache = tmp_path / "cache"
    _run(tmp_path, cache, 1)[1].close()
    CORRUPTIONS["cache.db is not a database"](cache)
    _run_and_look(tmp_path, cache)
    kept = list((cache / "store").glob("cache.db.corrupt-*"))
    assert kept and kept[0].read_bytes().startswith(b"this is not sqlite")


def _unreferenced_files(cache: Path) -> list[str]:
    db = _db(cache)
    named = {os.path.normpath(n) for (n,) in db.execute("SELECT filename FROM Cache") if n}
    db.close()
    store = cache / "store"
    return [
        str(p.relative_to(store))
        for p in store.rglob("*")
        if p.is_file() and p.parent != store and str(p.relative_to(store)) not in named
    ]
