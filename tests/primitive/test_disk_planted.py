"""The disk tier's database is never a way in: planted rows are not unpickled, a directory
others can write is refused (never chmodded), and what the tier creates is private."""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path
from typing import Any

import diskcache
import pytest

from flowyml_tui import CachePrimitive
from flowyml_tui.engine.cache.safedisk import CacheSafetyWarning
from flowyml_tui.engine.primitive import CallCacheError


class Evil:
    """Unpickling this creates `marker`: the proof that a planted pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def answer(data: Any, context: Any) -> str:
    return f"honest {data}"


def _cached(root: Path, **options: Any) -> CachePrimitive:
    return CachePrimitive(answer, backend="disk", directory=root, name="planted", **options)


def _plant(slot: Path, key: str, value: Any) -> None:
    """Write a row the way another tool would: a plain diskcache.Cache, its own pickle mode."""
    planter = diskcache.Cache(str(slot))
    planter.set(key, value)
    planter.close()


@pytest.mark.parametrize("size", [10, 100_000], ids=["in-row", "in-value-file"])
def test_a_row_planted_in_pickle_mode_is_never_unpickled(tmp_path: Path, size: int) -> None:
    marker = tmp_path / "PWNED"
    first = _cached(tmp_path / "calls")
    assert first.call("q") == "honest q"
    (key,) = first.keys()
    slot = first.tier.path
    first.close()
    _plant(slot, key, [Evil(marker), b"x" * size])

    again = _cached(tmp_path / "calls")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert again.call("q") == "honest q"  # a miss, recomputed
        assert again.call("q") == "honest q"  # and stored again, ours this time
    assert not marker.exists()
    assert again.get_stats()["hits"] == 1
    assert any(issubclass(w.category, CacheSafetyWarning) for w in caught)


def test_a_key_planted_in_pickle_form_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    first = _cached(tmp_path / "calls")
    first.call("q")
    slot = first.tier.path
    first.close()
    _plant(slot, Evil(marker), b"1")  # type: ignore[arg-type]  # diskcache pickles the key
    again = _cached(tmp_path / "calls")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheSafetyWarning)
        assert again.call("q") == "honest q"
        assert len(again.keys()) == 1  # the planted key is not listed, not unpickled
        again.evict_expired()
    assert not marker.exists()


@pytest.mark.parametrize("which", ["root", "slot"])
def test_a_directory_others_can_write_is_refused_not_chmodded(
    tmp_path: Path, which: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "calls"
    _cached(root).call("q")
    target = root if which == "root" else _cached(root).tier.path
    os.chmod(target, 0o777)
    calls: list[str] = []

    def counted(data: str, context: Any) -> str:
        calls.append(data)
        return data

    cache = CachePrimitive(counted, backend="disk", directory=root, name="planted")
    with caplog.at_level(logging.WARNING):
        assert cache.call("q") == "q"
    assert calls == ["q"]  # not served from the directory others could have written
    assert "writable by other users" in caplog.text
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o777  # left as it was
    strict = CachePrimitive(counted, backend="disk", directory=root, name="planted", strict=True)
    with pytest.raises(CallCacheError, match="writable by other users"):
        strict.call("q")


def test_what_the_disk_tier_creates_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        cache = _cached(tmp_path / "calls")
        cache.call("x" * 100_000)  # a value file too
    finally:
        os.umask(old)
    slot = cache.tier.path
    for directory in (tmp_path / "calls", slot.parent, slot):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, directory
    files = [p for p in slot.rglob("*") if p.is_file()]
    assert any(p.name == "cache.db" for p in files) and any(p.suffix == ".val" for p in files)
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    for path in (p for p in slot.rglob("*") if p.is_dir()):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path


@pytest.mark.skipif(os.geteuid() != 0, reason="a dir owned by another user needs root to make")
def test_a_slot_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "calls"
    _cached(root).call("q")
    slot = _cached(root).tier.path
    os.chown(slot, 12345, -1)
    strict = _cached(root, strict=True)
    with pytest.raises(CallCacheError, match=r"belongs to another user \(uid 12345\)"):
        strict.call("q")
    assert os.stat(slot).st_uid == 12345  # left as it was
