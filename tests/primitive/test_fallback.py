"""A backend that fails warns once and calls the primitive directly; strict=True raises."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from flowyml_tui import CachePrimitive
from flowyml_tui.engine.primitive import CallCacheError


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.fixture
def blocked_dir(tmp_path: Path) -> Path:
    """A cache dir that cannot be created: a regular file sits where its parent should be
    (chmod cannot make a dir unwritable for root, which these tests may run as)."""
    (tmp_path / "not-a-dir").write_text("in the way")
    return tmp_path / "not-a-dir" / "calls"


def test_an_unusable_disk_dir_warns_once_and_calls_directly(
    blocked_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []
    cache = CachePrimitive(lambda d, c: calls.append(d) or "fresh", backend="disk",
                           directory=blocked_dir, name="blocked")  # fmt: skip
    assert [cache.call("q") for _ in range(3)] == ["fresh"] * 3
    assert len(calls) == 3
    (message,) = warnings_of(caplog)
    assert "'blocked' (disk backend) could not read" in message
    assert "calling the primitive directly" in message
    assert cache.get_stats()["size"] == 0


def test_a_symlinked_disk_dir_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    cache = CachePrimitive(lambda d, c: d, backend="disk", directory=tmp_path / "link")
    assert cache.call(5) == 5
    assert "is a symbolic link" in warnings_of(caplog)[0]
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_strict_raises_on_an_unusable_disk_dir(blocked_dir: Path) -> None:
    cache = CachePrimitive(lambda d, c: d, backend="disk", directory=blocked_dir, strict=True)
    with pytest.raises(CallCacheError, match=r"disk backend.*could not read"):
        cache.call("q")


def unpicklable(data: Any, context: Any) -> Any:
    unpicklable.calls += 1  # type: ignore[attr-defined]
    return {"handle": threading.Lock(), "data": data}


unpicklable.calls = 0  # type: ignore[attr-defined]


def test_an_unpicklable_result_is_returned_uncached_on_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unpicklable.calls = 0  # type: ignore[attr-defined]
    cache = CachePrimitive(unpicklable, backend="disk", directory=tmp_path)
    first, second = cache.call(1), cache.call(1)
    assert first["data"] == second["data"] == 1
    assert unpicklable.calls == 2
    (message,) = warnings_of(caplog)
    assert "could not store" in message and "lock" in message


def test_memory_tier_still_caches_what_the_disk_tier_cannot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unpicklable.calls = 0  # type: ignore[attr-defined]
    disk = CachePrimitive(unpicklable, backend="disk", directory=tmp_path)
    memory = CachePrimitive(disk)
    assert memory.call(1) is memory.call(1)
    assert unpicklable.calls == 1
    assert len(warnings_of(caplog)) == 1


def test_strict_raises_on_an_unpicklable_result(tmp_path: Path) -> None:
    cache = CachePrimitive(unpicklable, backend="disk", directory=tmp_path, strict=True)
    with pytest.raises(CallCacheError, match="could not store"):
        cache.call(1)
