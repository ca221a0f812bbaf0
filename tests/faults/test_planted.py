"""A pickle planted in the cache dir is never executed: not at open, not on a run, not by stats.

`Evil` unpickles by creating a marker file, so "never executed" is checked on disk. Rows are
planted the way another tool (or user) would: with a plain `diskcache.Cache` on our store, or
by editing `cache.db` with sqlite3.
"""

from __future__ import annotations

import pickle
import sqlite3
import warnings
from pathlib import Path

import diskcache
import pytest

from flowyml_tui.cli import main as cli_main
from flowyml_tui.engine.cache import CacheStore
from flowyml_tui.engine.cache.safedisk import CacheSafetyWarning

PIPE = """
from flowyml_tui import Pipeline, step

@step(outputs=["big"])
def big():
    return b"x" * 100_000  # over diskcache's 32 KB: stored in a value file

@step(inputs=["big"], outputs=["n"])
def count(big):
    return len(big)

pipeline = Pipeline("planted").add_step(big).add_step(count)
"""


class Evil:
    """Unpickling this creates `marker`: the proof that a planted pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def ran(write_file, load, tmp_path):
    """A pipeline run once (entries and a value file on disk), and a marker path."""
    pipeline = load(write_file("planted.py", PIPE))
    result = pipeline.run()
    assert not result.failed_steps
    pipeline.close_store()
    return pipeline, tmp_path / "cache", tmp_path / "PWNED"


def _run_and_stats(pipeline, cache: Path):
    """A pipeline run that loads `big` (its reader is invalidated), `CacheStore.stats()` and
    `flowyml-tui cache stats`, warnings caught."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipeline.invalidate("count")
        result = pipeline.run()
        CacheStore(cache).stats()
        code = cli_main(["cache", "stats", "--cache-dir", str(cache)])
    return result, code, [w for w in caught if issubclass(w.category, CacheSafetyWarning)]


def test_a_row_planted_in_pickle_mode_is_never_unpickled(ran):
    pipeline, cache, marker = ran
    planter = diskcache.Cache(str(cache / "store"))
    planter.set("meta:generation", Evil(marker))  # diskcache's own pickle mode
    planter.set("meta:pins", Evil(marker))
    planter.close()
    result, code, caught = _run_and_stats(pipeline, cache)
    assert not marker.exists()
    assert code == 0 and not result.failed_steps
    assert caught and "never writes: ignored, not unpickled" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheSafetyWarning)
        store = CacheStore(cache)
        assert store.clear_step("big", pipeline="planted") == 1  # bumps the planted generation
        assert store.newest_entry("planted", "count") is not None
    assert not marker.exists()


def test_a_key_planted_in_pickle_form_is_never_unpickled(ran):
    pipeline, cache, marker = ran
    planter = diskcache.Cache(str(cache / "store"))
    planter.set(Evil(marker), b"1")  # a non-str key: diskcache pickles the key itself
    planter.close()
    _, code, caught = _run_and_stats(pipeline, cache)
    assert not marker.exists()
    assert code == 0
    assert any("key stored in pickle form" in str(w.message) for w in caught)


def _value_row(cache: Path) -> tuple[int, str]:
    with sqlite3.connect(cache / "store" / "cache.db") as db:
        return db.execute(
            "SELECT rowid, filename FROM Cache WHERE key LIKE 'v:%' AND filename IS NOT NULL"
        ).fetchone()


def test_a_value_file_flipped_to_pickle_mode_is_never_unpickled(ran):
    """diskcache would `pickle.load` the file before the store could check its checksum."""
    pipeline, cache, marker = ran
    rowid, filename = _value_row(cache)
    (cache / "store" / filename).write_bytes(pickle.dumps(Evil(marker)))
    with sqlite3.connect(cache / "store" / "cache.db") as db:
        db.execute("UPDATE Cache SET mode = 4 WHERE rowid = ?", (rowid,))
    result, code, caught = _run_and_stats(pipeline, cache)
    assert not marker.exists()
    assert result.step_results["big"].status == "executed"  # a miss: it ran again
    assert result["n"] == 100_000
    assert code == 0 and caught


def test_a_value_file_replaced_by_a_symlink_is_refused(ran, tmp_path):
    pipeline, cache, marker = ran
    _, filename = _value_row(cache)
    planted = tmp_path / "elsewhere.val"
    planted.write_bytes(pickle.dumps(Evil(marker)))
    value = cache / "store" / filename
    value.unlink()
    value.symlink_to(planted)
    result, _, caught = _run_and_stats(pipeline, cache)
    assert not marker.exists()
    assert result.step_results["big"].status == "executed"
    assert any("cannot be opened safely" in str(w.message) for w in caught)


def test_a_value_row_pointing_outside_the_store_is_refused(ran, tmp_path):
    pipeline, cache, marker = ran
    rowid, _ = _value_row(cache)
    outside = tmp_path / "outside.val"
    outside.write_bytes(pickle.dumps(Evil(marker)))
    with sqlite3.connect(cache / "store" / "cache.db") as db:
        db.execute("UPDATE Cache SET filename = ? WHERE rowid = ?", (str(outside), rowid))
    result, _, caught = _run_and_stats(pipeline, cache)
    assert not marker.exists()
    assert result.step_results["big"].status == "executed"
    assert any("outside the store's value files" in str(w.message) for w in caught)


@pytest.mark.skipif(
    not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() != 0,
    reason="a file owned by another user needs root to make",
)
def test_a_value_file_owned_by_another_user_is_refused(ran):
    import os

    pipeline, cache, _ = ran
    _, filename = _value_row(cache)
    os.chown(cache / "store" / filename, 12345, -1)
    result, _, caught = _run_and_stats(pipeline, cache)
    assert result.step_results["big"].status == "executed"
    assert any("belongs to another user (uid 12345)" in str(w.message) for w in caught)


def test_the_store_writes_nothing_it_would_have_to_unpickle(tmp_path):
    store = CacheStore(tmp_path / "cache")
    with pytest.raises(TypeError, match="writes bytes, str, int or float"):
        store.database.set("meta:x", {"a": 1})
    with pytest.raises(TypeError, match="cache keys are str"):
        store.database.set(("a", 1), b"x")
    with sqlite3.connect(store.path / "store" / "cache.db") as db:
        assert db.execute("SELECT count(*) FROM Cache WHERE mode = 4 OR raw = 0").fetchone() == (0,)
