"""A damaged page inside `store/cache.db` (its header valid, so it opens) and a version list cut
short: every command warns once, sets the database aside, and goes on; nothing is half done.

The damage is real: random bytes written over the leaf pages of diskcache's `Cache` table,
found with SQLite's own `dbstat`, in a database a real run wrote.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from tests.cli_process import run_cli

pytestmark = pytest.mark.timeout(120)

PIPE = """
from flowyml_tui import Pipeline, step

pipeline = Pipeline("many")
for i in range(24):
    def make(i=i):
        @step(outputs=[f"o{i}"], name=f"s{i}")
        def s():
            print(f"ran s{i}")
            return ("x" * (70_000 if i % 4 == 0 else 300)) + str(i)
        return s
    pipeline.add_step(make())
"""
"""24 steps: each fourth value is a file of its own (diskcache keeps values over 32 KiB in
files), the rest are rows; enough rows to spread the table over a dozen pages."""

COMMANDS = {
    "run": ("run", "{pipe}"),
    "stats": ("cache", "stats"),
    "ls": ("cache", "ls"),
    "gc": ("cache", "gc"),
    "clear": ("cache", "clear", "--yes"),
}


@pytest.fixture
def filled(write_file, tmp_path) -> tuple[Path, Path]:
    pipe = write_file("many.py", PIPE)
    cache = tmp_path / "cache"
    first = run_cli("run", pipe, "--cache-dir", cache)
    assert first.returncode == 0, first.stderr
    return pipe, cache


def damage_pages(db_path: Path, seed: int) -> list[int]:
    """Write random bytes over half the `Cache` table's leaf pages; the header page is kept."""
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.execute("PRAGMA page_size").fetchone()[0]
    leaves = [
        p
        for (p,) in db.execute(
            "SELECT pageno FROM dbstat WHERE name = 'Cache' AND pagetype = 'leaf'"
        )
    ]
    db.close()
    assert len(leaves) >= 4, leaves
    rng = random.Random(seed)
    hit = rng.sample(leaves, len(leaves) // 2)
    with open(db_path, "r+b") as handle:
        for page in hit:
            handle.seek((page - 1) * size)
            handle.write(rng.randbytes(size))
    return hit


def command(name: str, pipe: Path, cache: Path, *extra: str):
    args = [a.format(pipe=pipe) for a in COMMANDS[name]]
    return run_cli(*args, "--cache-dir", cache, *extra)


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("name", COMMANDS, ids=list(COMMANDS))
def test_a_damaged_page_is_set_aside_with_one_warning_and_the_command_goes_on(name, filled) -> None:
    pipe, cache = filled
    damage_pages(cache / "store" / "cache.db", seed=len(name))
    done = command(name, pipe, cache)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = warnings_of(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("flowyml-tui: warning: "), done.stderr
    assert "damaged" in lines[0] and "cache.db.corrupt-" in lines[0]
    # Healed: the next commands are clean, and a run recomputes what was lost.
    again = command("run", pipe, cache)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    stats = run_cli("cache", "stats", "--json", "--cache-dir", cache)
    assert stats.returncode == 0 and stats.stderr == "", stats.stderr
    assert json.loads(stats.stdout)["entries"] == 24


def test_clear_on_a_damaged_database_leaves_nothing_half_done(filled) -> None:
    pipe, cache = filled
    damage_pages(cache / "store" / "cache.db", seed=7)
    done = command("clear", pipe, cache)
    assert done.returncode == 0 and "cleared the cache" in done.stdout, done.stderr
    stats = json.loads(run_cli("cache", "stats", "--json", "--cache-dir", cache).stdout)
    assert stats["entries"] == 0 and stats["disk"]["values"] == 0
    assert stats["disk"]["orphans"] == 0
    value_files = [p for p in (cache / "store").rglob("*.val")]
    assert value_files == []
    rerun = command("run", pipe, cache)
    assert "24 steps, 24 executed" in rerun.stdout


def test_set_aside_copies_are_counted_by_stats_and_reclaimed_by_gc(filled) -> None:
    pipe, cache = filled
    for seed in (1, 2):  # two damaged databases in turn: copies must not pile up unseen
        damage_pages(cache / "store" / "cache.db", seed=seed)
        assert command("run", pipe, cache).returncode == 0
    store = cache / "store"
    copies = [p for p in store.iterdir() if p.name.startswith("cache.db.corrupt-")]
    assert len([p for p in copies if "-wal" not in p.name and "-shm" not in p.name]) == 2
    size = sum(p.stat().st_size for p in copies)
    stats = run_cli("cache", "stats", "--cache-dir", cache)
    assert "damaged databases set aside" in stats.stdout
    data = json.loads(run_cli("cache", "stats", "--json", "--cache-dir", cache).stdout)
    assert data["disk"]["set_aside"] == size and data["disk"]["other"] == 0
    gc = run_cli("cache", "gc", "--cache-dir", cache)
    assert gc.returncode == 0 and "damaged database" in gc.stdout, gc.stderr
    assert not [p for p in store.iterdir() if p.name.startswith("cache.db.corrupt-")]
    after = json.loads(run_cli("cache", "stats", "--json", "--cache-dir", cache).stdout)
    assert after["disk"]["set_aside"] == 0


def test_a_healthy_database_never_pays_for_a_check(filled, monkeypatch) -> None:
    """`PRAGMA quick_check` reads every page: it runs after an SQLite error, not at open."""
    from flowyml_tui.engine.cache import CacheStore, files

    _pipe, cache = filled
    checks: list[Path] = []
    real = files.passes_quick_check
    monkeypatch.setattr(files, "passes_quick_check", lambda p: checks.append(p) or real(p))
    store = CacheStore(cache)
    store.stats()
    store.entries()
    store.close()
    assert checks == []


@pytest.mark.parametrize("row", ["[1, 2", '["s1-', "[1, 2] trailing", "\x00\xff"])
def test_a_version_list_that_is_not_json_is_a_warning_and_rebuilt(row, filled) -> None:
    _pipe, cache = filled
    db = sqlite3.connect(cache / "store" / "cache.db")
    db.execute("UPDATE Cache SET value = ? WHERE key = ?", (row, 'versions:["many","s1"]'))
    db.commit()
    db.close()
    for action in ("stats", "ls"):
        done = run_cli("cache", action, "--cache-dir", cache)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    listing = run_cli("cache", "ls", "--cache-dir", cache)
    assert sum(line.startswith("s1 ") for line in listing.stdout.splitlines()) == 1
    assert os.path.exists(cache / "store" / "cache.db")


def test_random_damaged_pages_never_give_a_wrong_value_nor_an_exception(filled, tmp_path) -> None:
    """50 rounds: random pages (never the header page) overwritten with garbage or zeros;
    the run still returns every right value, and stats, ls, gc and clear raise nothing."""
    import shutil
    import warnings

    from flowyml_tui.engine.load.loader import load_pipelines

    pipe, cache = filled
    db = sqlite3.connect(cache / "store" / "cache.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    for seed in range(50):
        copy = tmp_path / f"round-{seed}"
        shutil.copytree(cache, copy)
        rng = random.Random(seed)
        with open(copy / "store" / "cache.db", "r+b") as handle:
            for page in rng.sample(range(2, pages + 1), rng.randint(1, max(1, pages // 3))):
                handle.seek((page - 1) * size)
                handle.write(rng.randbytes(size) if rng.random() < 0.7 else bytes(size))
        pipeline = load_pipelines(pipe)["many"]
        pipeline.cache_dir = copy
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = pipeline.run()
            for i in range(24):
                expected = ("x" * (70_000 if i % 4 == 0 else 300)) + str(i)
                assert result[f"o{i}"] == expected, (seed, i)
            store = pipeline.store
            store.stats()
            store.entries()
            store.gc()
            store.clear()
            assert store.stats()["entries"] == 0
            store.close()
        shutil.rmtree(copy)
