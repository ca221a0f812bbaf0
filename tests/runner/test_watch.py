"""Saves become one change set per burst; only the pipeline and its local modules count."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from flowyml_tui.runner.watch import (
    PipelineDiscoveryError,
    discover_pipeline_files,
    watch_pipeline_files,
)

pytestmark = pytest.mark.timeout(30)

QUIET_SECONDS = 0.6  # how long "no further change set" is observed for


class Watcher:
    """Drives watch_pipeline_files from a test: wait until it sees us, then collect sets."""

    def __init__(self, paths: list[Path], extra: Callable[[], Iterable[Path]] = tuple) -> None:
        self.stop = asyncio.Event()
        self.sets: asyncio.Queue[set[Path]] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(paths, extra))

    async def _pump(self, paths: list[Path], extra: Callable[[], Iterable[Path]]) -> None:
        async for changed in watch_pipeline_files(paths, extra=extra, stop_event=self.stop):
            await self.sets.put(changed)

    async def ready(self, probe: Path) -> None:
        """Touch `probe` until the watcher reports it: from then on it sees every save."""
        for _ in range(100):
            probe.write_text(probe.read_text())
            try:
                await asyncio.wait_for(self.sets.get(), 0.2)
            except TimeoutError:
                continue
            await self.quiet()
            return
        raise AssertionError("the watcher never reported the probe file")

    async def next(self, seconds: float = 5.0) -> set[Path]:
        return await asyncio.wait_for(self.sets.get(), seconds)

    async def quiet(self) -> list[set[Path]]:
        """Whatever else arrives in a short while (should be nothing)."""
        await asyncio.sleep(QUIET_SECONDS)
        extra = []
        while not self.sets.empty():
            extra.append(self.sets.get_nowait())
        return extra

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self._task, 10)


@pytest.fixture
def pipe(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.py"
    path.write_text("import helpers\n", encoding="utf-8")
    return path


def test_a_burst_of_saves_is_one_change_set(pipe: Path):
    async def main() -> tuple[set[Path], list[set[Path]]]:
        watcher = Watcher([pipe])
        try:
            await watcher.ready(pipe)
            for n in range(5):
                pipe.write_text(f"import helpers\nVERSION = {n}\n", encoding="utf-8")
            return await watcher.next(), await watcher.quiet()
        finally:
            await watcher.close()

    first, more = asyncio.run(main())

    assert first == {pipe.resolve()}
    assert more == []


def test_the_events_a_save_makes_after_the_one_reported_are_not_another_run(pipe: Path):
    """An editor's save is a write, then a chmod, a touch or a rewrite of the same bytes a
    little later: the first event is reported at once, and what follows is dropped while the
    file reads the same, so the save is one run (and the spare worker is not spent on a
    restart). A real change after them is reported."""

    async def main() -> tuple[set[Path], list[set[Path]], set[Path]]:
        watcher = Watcher([pipe])
        try:
            await watcher.ready(pipe)
            pipe.write_text("import helpers\nVERSION = 2\n", encoding="utf-8")
            first = await watcher.next()
            await asyncio.sleep(0.05)  # later than the watcher's look: events of their own
            os.chmod(pipe, 0o640)
            pipe.write_text(pipe.read_text(encoding="utf-8"), encoding="utf-8")
            os.utime(pipe)
            more = await watcher.quiet()
            pipe.write_text("import helpers\nVERSION = 3\n", encoding="utf-8")
            return first, more, await watcher.next()
        finally:
            await watcher.close()

    first, more, changed = asyncio.run(main())

    assert first == {pipe.resolve()}
    assert more == []
    assert changed == {pipe.resolve()}


def test_editing_a_local_module_the_pipeline_imports_is_a_change(tmp_path: Path, pipe: Path):
    helper = tmp_path / "helpers.py"
    helper.write_text("def f():\n    return 1\n", encoding="utf-8")

    async def main() -> set[Path]:
        watcher = Watcher([pipe], extra=lambda: [helper])
        try:
            await watcher.ready(pipe)
            helper.write_text("def f():\n    return 2\n", encoding="utf-8")
            return await watcher.next()
        finally:
            await watcher.close()

    assert asyncio.run(main()) == {helper.resolve()}


def test_a_local_module_in_another_folder_is_watched_once_reported(tmp_path: Path, pipe: Path):
    helper = tmp_path / "lib" / "helpers.py"
    helper.parent.mkdir()
    helper.write_text("X = 1\n", encoding="utf-8")
    reported: list[Path] = []

    async def main() -> set[Path]:
        watcher = Watcher([pipe], extra=lambda: reported)
        try:
            await watcher.ready(pipe)
            reported.append(helper)  # what the next PipelinesFound would say
            await asyncio.sleep(QUIET_SECONDS)
            helper.write_text("X = 2\n", encoding="utf-8")
            return await watcher.next()
        finally:
            await watcher.close()

    assert asyncio.run(main()) == {helper.resolve()}


def test_writes_into_the_cache_dir_and_other_files_are_not_changes(tmp_path: Path, pipe: Path):
    cache = tmp_path / ".flowyml" / "cache"
    cache.mkdir(parents=True)

    async def main() -> set[Path]:
        watcher = Watcher([pipe])
        try:
            await watcher.ready(pipe)
            (cache / "cache.db").write_bytes(b"entry")
            (tmp_path / "notes.txt").write_text("not code", encoding="utf-8")
            (tmp_path / "unrelated.py").write_text("x = 1\n", encoding="utf-8")
            assert await watcher.quiet() == []
            pipe.write_text("import helpers\n# edited\n", encoding="utf-8")
            return await watcher.next()
        finally:
            await watcher.close()

    assert asyncio.run(main()) == {pipe.resolve()}


def test_the_stop_event_ends_the_watch(pipe: Path):
    async def main() -> None:
        watcher = Watcher([pipe])
        await watcher.close()

    asyncio.run(main())


def test_discover_finds_pipeline_files_in_the_current_folder(tmp_path: Path, monkeypatch):
    (tmp_path / "etl.py").write_text('p = Pipeline("etl")\n', encoding="utf-8")
    (tmp_path / "helpers.py").write_text("def f(): ...\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert discover_pipeline_files([]) == [(tmp_path / "etl.py").resolve()]


def test_discover_falls_back_to_the_pipelines_folder(tmp_path: Path, monkeypatch):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "a.py").write_text('p = Pipeline("a")\n', encoding="utf-8")
    (tmp_path / "setup.py").write_text("setup()\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert discover_pipeline_files([]) == [(tmp_path / "pipelines" / "a.py").resolve()]


def test_discover_takes_files_and_folders(tmp_path: Path):
    (tmp_path / "one.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "two.py").write_text('p = Pipeline("two")\n', encoding="utf-8")

    found = discover_pipeline_files([tmp_path / "one.py", tmp_path / "more"])

    assert found == [(tmp_path / "one.py").resolve(), (tmp_path / "more" / "two.py").resolve()]


def test_discover_says_what_to_do_when_nothing_is_found(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(PipelineDiscoveryError, match="pass a file or directory"):
        discover_pipeline_files([])
    with pytest.raises(PipelineDiscoveryError, match="does not exist"):
        discover_pipeline_files([tmp_path / "missing.py"])
    (tmp_path / "data.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(PipelineDiscoveryError, match="not a Python file"):
        discover_pipeline_files([tmp_path / "data.csv"])


def test_paths_are_compared_after_resolving_symlinks(tmp_path: Path, pipe: Path):
    link = tmp_path / "link.py"
    os.symlink(pipe, link)

    assert discover_pipeline_files([link]) == [pipe.resolve()]


def test_a_file_a_run_has_just_read_counts_from_its_first_save(pipe: Path, tmp_path: Path):
    """A read file becomes relevant when the run records reading it; the watcher used to learn
    so only at its next quiet tick (up to 300 ms later), and dropped a save in between."""
    data = tmp_path / "data.csv"
    data.write_text("a\n", encoding="utf-8")
    read: list[Path] = []

    async def main() -> set[Path]:
        watcher = Watcher([pipe], extra=lambda: read)
        try:
            await watcher.ready(pipe)
            read.append(data)  # the run has just read it: no quiet tick since
            data.write_text("a\nb\n", encoding="utf-8")
            return await watcher.next()
        finally:
            await watcher.close()

    assert asyncio.run(main()) == {data.resolve()}
