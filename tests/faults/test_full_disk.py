"""A full disk: the partial write is removed, the run goes on uncached, and `cache clear` and
`cache gc` work while the disk is still full.

As root (CI) the disk is a real 4 MiB tmpfs, unmounted afterwards; otherwise diskcache's file
write is patched to fail half-way with ENOSPC, and the tests that need a really full disk
are skipped.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from flowyml_tui.engine.cache import open_store
from flowyml_tui.engine.cache.safedisk import SafeDisk
from flowyml_tui.engine.events import RunWarning
from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline

from . import harness


@pytest.fixture
def small_disk(tmp_path):
    """(directory, real): a 4 MiB tmpfs when we may mount one, else a plain directory."""
    mount = tmp_path / "disk"
    mount.mkdir()
    real = False
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"):
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
            capture_output=True,
        )
        real = done.returncode == 0
    try:
        yield mount, real
    finally:
        if real:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def _pipeline(tmp_path: Path, cache: Path, size: int):
    path = harness.write_pipeline(tmp_path, size=size)
    pipeline = pick_pipeline(load_pipelines(path), None, path)
    pipeline.cache_dir = cache
    return pipeline


def _check(result, n: int, size: int) -> None:
    expected = harness.payload(n, size)
    assert result["made"] == (n, expected)
    assert result["flipped"] == (n, expected[::-1])


def _fill(directory: Path) -> None:
    with open(directory / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    assert os.statvfs(directory).f_bavail == 0


def _half_write_then_enospc(monkeypatch) -> None:
    """Where no small tmpfs can be mounted: the store's value-file write lands half its bytes,
    then fails as a full disk would."""

    def write(self, full_path, data):
        os.makedirs(os.path.dirname(full_path), exist_ok=True)
        with open(full_path, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", full_path)

    monkeypatch.setattr(SafeDisk, "_write_private", write)


def test_a_value_the_disk_cannot_hold_leaves_no_partial_file_and_the_run_goes_on(
    tmp_path, small_disk, monkeypatch
):
    disk, real = small_disk
    size = 3 << 20 if real else 1 << 20  # one value fits a 4 MiB disk, two do not
    if not real:
        _half_write_then_enospc(monkeypatch)
    cache = disk / "cache"
    pipeline = _pipeline(tmp_path, cache, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run record may not fit either
        result = pipeline.run(context={"n": 1})
    _check(result, 1, size)
    notes = [w for r in result.step_results.values() for w in r.warnings]
    assert any("full" in note for note in notes), notes
    assert sum("full" in note and "without caching" in note for note in notes) == 1
    told = [e for e in result.events if isinstance(e, RunWarning) and "full" in e.message]
    assert len(told) == 1, [e.message for e in told]  # warned once, not once per step
    store = open_store(cache)
    usage = store.disk_usage()
    assert usage["orphans"] == 0, usage
    assert list((cache / "store").rglob("*.val")) == [] or usage["values"] > 0


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowyml_tui", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_on_a_full_disk_runs_go_on_and_clear_and_gc_still_work(tmp_path, small_disk):
    disk, real = small_disk
    if not real:
        pytest.skip("needs a real full disk: a tmpfs, mounted as root (CI runs as root)")
    size = 1 << 20
    cache = disk / "cache"
    pipeline_file = harness.write_pipeline(tmp_path, size=size)
    assert _cli("run", pipeline_file, "--cache-dir", cache).returncode == 0
    orphan = cache / "store" / "ab" / "cd" / "0123456789abcdef0123456789ab.val"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 300_000)  # what a writer killed mid-write leaves
    _fill(disk)

    for args in (["run"], ["run", "--no-cache"]):
        done = _cli(*args, pipeline_file, "--cache-dir", cache)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    done = _cli("cache", "gc", "--cache-dir", cache)
    assert done.returncode == 0, done.stderr
    assert not orphan.exists()

    _fill(disk)
    done = _cli("cache", "clear", "--yes", "--cache-dir", cache)
    assert done.returncode == 0, done.stderr
    assert list((cache / "store").rglob("*.val")) == []
    (disk / "filler").unlink()
    assert _cli("run", pipeline_file, "--cache-dir", cache).returncode == 0
    store = open_store(cache)
    assert len(store.entries()) == 2  # caching again once there is room


def test_a_full_disk_is_told_once_per_run_not_once_per_step(tmp_path, monkeypatch):
    from flowyml_tui import Pipeline, step

    @step(outputs=["a"])
    def first():
        return b"a" * (1 << 20)

    @step(inputs=["a"], outputs=["b"])
    def second(a):
        return a + b"b"

    @step(inputs=["b"], outputs=["c"])
    def third(b):
        return b + b"c"

    _half_write_then_enospc(monkeypatch)
    pipeline = Pipeline("full", cache_dir=tmp_path / "cache")
    pipeline.add_step(first).add_step(second).add_step(third)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pipeline.run()
    assert len(result["c"]) == (1 << 20) + 2
    told = [e.message for e in result.events if isinstance(e, RunWarning)]
    assert len([m for m in told if "full" in m]) == 1, told
    assert all(r.warnings for r in result.step_results.values())  # each step still says so
