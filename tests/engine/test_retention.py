"""Which run records stay (`retention.py`): the newest `keep`, the folder listed at a
process's first record and every tenth, the oldest known record dropped in between."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowyml_tui.engine.history import retention
from flowyml_tui.engine.history.records import runs_dir, write_record_bytes


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What this process knows of runs folders starts empty, as in a new process."""
    monkeypatch.setattr(retention, "_known", {})
    monkeypatch.setattr(retention, "_record_times", {})


def write(cache: Path, name: str, at: int) -> tuple[str, str]:
    """A record written at time `at` (seconds), as this process's recorder writes one: its
    folder and name, as the recorder tells `after_write`."""
    path = write_record_bytes(cache, name, b"{}")
    os.utime(path, (1_000_000 + at, 1_000_000 + at))
    return str(path.parent), path.name


def written_elsewhere(cache: Path, name: str, at: int) -> None:
    """A record another process wrote: on disk, never passed to this process's pruning."""
    path = runs_dir(cache) / f"{name}.json"
    path.write_bytes(b"{}")
    os.utime(path, (1_000_000 + at, 1_000_000 + at))


def on_disk(cache: Path) -> list[str]:
    return sorted(p.stem for p in runs_dir(cache).glob("*.json"))


def test_one_process_keeps_exactly_the_newest_records_listing_only_every_tenth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    listings = []
    real_listdir = os.listdir
    monkeypatch.setattr(
        retention.os, "listdir", lambda path: listings.append(path) or real_listdir(path)
    )
    for n in range(25):
        retention.after_write(*write(cache, f"run-{n:02d}", n), keep=3)
        assert on_disk(cache) == [f"run-{i:02d}" for i in range(max(0, n - 2), n + 1)]
    assert len(listings) == 3  # the 1st, 11th and 21st record


def test_a_record_another_process_wrote_goes_at_the_next_listing_and_no_newer_one_goes(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    at = 0
    for n in range(retention.LIST_EVERY):  # this process lists at its first record
        retention.after_write(*write(cache, f"mine-{n:02d}", at), keep=4)
        at += 1
        if n % 3 == 0:  # another process writes between this one's runs
            written_elsewhere(cache, f"theirs-{n:02d}", at)
            at += 1
        every = sorted(runs_dir(cache).glob("*.json"), key=lambda p: p.stat().st_mtime)
        newest = {p.stem for p in every[-4:]}
        assert newest <= set(on_disk(cache))  # never one of the newest four dropped
    assert len(on_disk(cache)) > 4  # theirs, not known yet

    retention.after_write(*write(cache, "mine-listed", at), keep=4)  # the tenth: listed

    assert on_disk(cache) == sorted(["theirs-09", "mine-08", "mine-09", "mine-listed"])


def test_a_dropped_record_takes_its_log_folder_with_it(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    first = write(cache, "run-0", 0)
    (runs_dir(cache) / "run-0" / "logs").mkdir(parents=True)
    retention.after_write(*first, keep=2)  # listed: run-0 has a folder
    second = write(cache, "run-1", 1)
    (runs_dir(cache) / "run-1" / "logs").mkdir(parents=True)
    retention.after_write(*second, keep=2, with_folder=True)
    retention.after_write(*write(cache, "run-2", 2), keep=2, with_folder=False)
    assert not (runs_dir(cache) / "run-0").exists()  # went with its record

    removed = retention.after_write(*write(cache, "run-3", 3), keep=2, with_folder=False)

    assert sorted(os.path.basename(p) for p in removed) == ["run-1", "run-1.json"]
    assert on_disk(cache) == ["run-2", "run-3"]
    assert sorted(p.name for p in runs_dir(cache).iterdir()) == ["run-2.json", "run-3.json"]


def test_a_record_removed_by_someone_else_is_not_an_error(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    retention.after_write(*write(cache, "run-0", 0), keep=1)
    (runs_dir(cache) / "run-0.json").unlink()  # `rm`, or another process's pruning

    removed = retention.after_write(*write(cache, "run-1", 1), keep=1)

    assert removed == []
    assert on_disk(cache) == ["run-1"]
