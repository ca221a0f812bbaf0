"""The cache dir's checks are remembered between runs only while the dir is provably the same."""

from __future__ import annotations

import os
import time

import pytest

from flowyml_tui.engine.cache.private import ensure_cache_dir
from flowyml_tui.engine.errors import CacheError


def settled_dir(path):
    """A private cache dir last changed a minute ago, checked once (so it is remembered)."""
    path.mkdir(mode=0o700)
    old = time.time() - 60
    os.utime(path, (old, old))
    ensure_cache_dir(path)
    return path


def test_a_project_marker_added_after_a_pass_is_refused_at_the_next_check(tmp_path):
    cache = settled_dir(tmp_path / "cache")
    (cache / "pyproject.toml").touch()

    with pytest.raises(CacheError, match=r"looks like a project root"):
        ensure_cache_dir(cache)


def test_a_dir_made_writable_by_others_after_a_pass_is_refused(tmp_path):
    cache = settled_dir(tmp_path / "cache")
    os.chmod(cache, 0o777)  # changes the mode (and ctime), not the mtime

    with pytest.raises(CacheError, match="writable by other users"):
        ensure_cache_dir(cache)


def test_a_dir_changed_within_the_last_second_is_checked_in_full_every_time(tmp_path):
    """Its mtime may not move for a change in the same tick: it is never taken as known."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    ensure_cache_dir(cache)
    stamp = os.lstat(cache).st_mtime_ns
    (cache / ".git").mkdir()
    os.utime(cache, ns=(stamp, stamp))  # as if the marker came within the same tick

    with pytest.raises(CacheError, match=r"it holds \.git"):
        ensure_cache_dir(cache)
