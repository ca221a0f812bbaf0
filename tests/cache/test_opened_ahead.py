"""A store opened ahead (what a spare worker does while it waits) is the one the run's
`open_store` gets, only while its database is still the file on disk; one opened for another
cache dir is closed, never used."""

from __future__ import annotations

import shutil
from pathlib import Path

from flowyml_tui.engine import Pipeline, step
from flowyml_tui.engine.cache.ahead import open_ahead
from flowyml_tui.engine.cache.open import open_store


def test_open_store_gets_the_store_opened_ahead_at_that_path(tmp_path: Path) -> None:
    open_store(tmp_path / "cache").close()  # the last run's cache
    ahead = open_ahead(tmp_path / "cache")
    store = open_store(tmp_path / "cache")
    again = open_store(tmp_path / "cache")  # handed over once: the next open is a fresh one
    try:
        assert ahead is not None and store is ahead and again is not ahead
    finally:
        store.close()
        again.close()


def test_a_cache_removed_since_it_was_opened_ahead_is_opened_afresh(tmp_path: Path) -> None:
    runs: list[str] = []

    @step(outputs=["x"])
    def value():
        runs.append("value")
        return 1

    pipeline = Pipeline("p", cache_dir=str(tmp_path / "cache")).add_step(value)
    pipeline.run()
    pipeline.close_store()
    assert open_ahead(tmp_path / "cache")
    shutil.rmtree(tmp_path / "cache")  # while the spare waited

    pipeline.run()  # its cache is gone, so `value` runs again, into the new cache
    pipeline.close_store()
    assert runs == ["value", "value"]
    pipeline.run()
    pipeline.close_store()
    assert runs == ["value", "value"]  # from the new cache


def test_a_store_opened_ahead_for_another_cache_dir_is_dropped(tmp_path: Path) -> None:
    open_store(tmp_path / "old").close()
    ahead = open_ahead(tmp_path / "old")
    store = open_store(tmp_path / "new")  # the file names another cache dir now
    later = open_store(tmp_path / "old")
    try:
        assert ahead is not None and store is not ahead and later is not ahead
        assert store.path == (tmp_path / "new").absolute()
    finally:
        store.close()
        later.close()
