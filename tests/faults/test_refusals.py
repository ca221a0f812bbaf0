"""Cache dirs the tool will not use: refused with the path and the fix, nothing written there.

Refused: a symlink, another user's (made with os.chown, so those tests need root, as in CI),
group- or world-writable, a project root, an empty path. Never chmodded.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flowyml_tui.engine.cache import CacheStore, open_store
from flowyml_tui.engine.errors import CacheError
from flowyml_tui.engine.history.records import list_runs
from tests.cli_process import run_cli

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="a file owned by another user needs root")

PIPE = """
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def first():
    return 1

pipeline = Pipeline("demo").add_step(first)
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def cache(tmp_path) -> Path:
    """A cache dir that has been used once."""
    CacheStore(tmp_path / "cache").close()
    return tmp_path / "cache"


def test_a_store_dir_that_is_a_symlink_is_refused(cache, tmp_path):
    (cache / "store").rename(tmp_path / "real-store")
    (cache / "store").symlink_to(tmp_path / "real-store")
    with pytest.raises(
        CacheError, match=r"cache store .*/store is a symbolic link.*remove the link"
    ):
        CacheStore(cache)


def test_a_cache_dir_that_is_a_symlink_is_refused(cache, tmp_path):
    (tmp_path / "link").symlink_to(cache)
    with pytest.raises(CacheError, match=r"cache dir .*/link is a symbolic link"):
        CacheStore(tmp_path / "link")


@needs_root
def test_a_store_dir_owned_by_another_user_is_refused(cache):
    os.chown(cache / "store", 12345, -1)
    with pytest.raises(CacheError, match=r"/store belongs to another user \(uid 12345\).*move it"):
        CacheStore(cache)


@needs_root
def test_a_cache_db_owned_by_another_user_is_refused(cache):
    os.chown(cache / "store" / "cache.db", 12345, -1)
    with pytest.raises(CacheError, match=r"cache database .*cache.db belongs to another user"):
        CacheStore(cache)


def test_a_group_writable_cache_db_is_refused_and_not_chmodded(cache):
    os.chmod(cache / "store" / "cache.db", 0o664)
    with pytest.raises(CacheError, match=r"cache.db is writable by other users \(mode 664\)"):
        CacheStore(cache)
    assert mode(cache / "store" / "cache.db") == 0o664


def test_a_world_writable_value_dir_is_refused_at_open(cache):
    (cache / "store" / "ab").mkdir(mode=0o700)
    os.chmod(cache / "store" / "ab", 0o777)
    with pytest.raises(CacheError, match=r"cache value dir .*/store/ab is writable by other"):
        CacheStore(cache)


def test_what_the_store_creates_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        store = CacheStore(tmp_path / "cache")
        store.database.set("v:big", b"x" * 100_000)  # a value file, in two new subdirs
    finally:
        os.umask(old)
    made = [tmp_path / "cache", tmp_path / "cache" / "store"]
    made += [p for p in (tmp_path / "cache" / "store").rglob("*")]
    assert made and all(mode(p) & 0o077 == 0 for p in made), {str(p): oct(mode(p)) for p in made}
    store.close()
    CacheStore(tmp_path / "cache").close()  # and it opens again


def test_an_existing_dir_readable_by_others_is_used_as_it_is(tmp_path):
    shared = tmp_path / "mine"
    shared.mkdir()
    os.chmod(shared, 0o755)
    CacheStore(shared).close()
    assert mode(shared) == 0o755  # never chmodded: the store did not create it


def test_a_world_writable_dir_is_refused_not_chmodded(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(CacheError):
        CacheStore(shared)
    assert mode(shared) == 0o777 and not (shared / "store").exists()


@pytest.mark.parametrize("marker", [".git", "pyproject.toml", "setup.py", "setup.cfg"])
def test_a_project_root_is_refused(tmp_path, marker):
    (tmp_path / marker).touch()
    before = sorted(os.listdir(tmp_path)), mode(tmp_path)
    with pytest.raises(CacheError, match=rf"looks like a project root \(it holds {marker}\)"):
        open_store(tmp_path)
    assert (sorted(os.listdir(tmp_path)), mode(tmp_path)) == before


def test_an_empty_path_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where "" would have written, had it been taken as the cwd
    with pytest.raises(CacheError, match="empty path"):
        open_store("")
    with pytest.raises(CacheError, match="empty path"):
        CacheStore("")
    assert os.listdir(tmp_path) == []


def test_a_runs_dir_that_is_a_symlink_is_refused(cache, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (cache / "runs").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CacheError, match=r"run records dir .*/runs is a symbolic link"):
        list_runs(cache)


def cli(*args, cwd):
    return run_cli(*args, cwd=cwd)


def test_cli_run_in_a_project_root_with_cache_dir_dot_is_exit_2_and_writes_nothing(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    os.chmod(project, 0o755)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (project / "demo.py").write_text(PIPE)
    before = sorted(os.listdir(project))
    out = cli("run", "demo.py", "--cache-dir", ".", cwd=project)
    assert out.returncode == 2, out.stderr
    assert "looks like a project root (it holds pyproject.toml)" in out.stderr
    assert "--cache-dir" in out.stderr
    assert sorted(p for p in os.listdir(project) if p != "__pycache__") == before
    assert mode(project) == 0o755


def test_cli_run_with_an_empty_cache_dir_is_exit_2(tmp_path):
    (tmp_path / "demo.py").write_text(PIPE)
    out = cli("run", "demo.py", "--cache-dir", "", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "empty path" in out.stderr
    assert not (tmp_path / "store").exists() and not (tmp_path / "runs").exists()


def test_cli_cache_stats_on_a_refused_store_is_exit_2(cache, tmp_path):
    os.chmod(cache / "store", 0o777)
    out = cli("cache", "stats", "--cache-dir", cache, cwd=tmp_path)
    assert out.returncode == 2
    assert f"{cache / 'store'} is writable by other users" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_records_and_step_logs_are_private_whatever_the_umask(write_file, load, tmp_path):
    pipeline = load(write_file("talks.py", PIPE.replace("return 1", 'print("hi")\n    return 1')))
    old = os.umask(0o002)
    try:
        pipeline.run()
    finally:
        os.umask(old)
    runs = tmp_path / "cache" / "runs"
    made = [runs, *runs.rglob("*")]
    assert any(p.name.endswith(".log") for p in made) or len(made) > 1
    assert all(mode(p) & 0o077 == 0 for p in made), {str(p): oct(mode(p)) for p in made}
    assert list_runs(tmp_path / "cache")
