"""The disk tier: persists across processes, private, verified before unpickling, bounded."""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import diskcache
import pytest

from flowyml_tui import CachePrimitive
from flowyml_tui.engine.primitive.backends.disk import decode, encode

from .conftest import Clock

REPO = Path(__file__).resolve().parents[2]


def slow_square(data: int, context: Any) -> int:
    slow_square.calls += 1  # type: ignore[attr-defined]
    return data * data


slow_square.calls = 0  # type: ignore[attr-defined]


def test_a_disk_hit_in_a_new_process_skips_the_call(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(REPO)!r})
            from flowyml_tui import CachePrimitive

            def embed(data, context):
                print("CALLED", flush=True)
                return {{"vector": [len(data)] * 3}}

            cached = CachePrimitive(embed, backend="disk", directory={str(tmp_path / "c")!r})
            print(cached.call("some text"), cached.get_stats()["hits"])
            """
        )
    )
    runs = [
        subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.splitlines() == ["CALLED", "{'vector': [9, 9, 9]} 0"]
    assert runs[1].stdout.splitlines() == ["{'vector': [9, 9, 9]} 1"]


def test_disk_dirs_are_private(tmp_path: Path) -> None:
    root = tmp_path / "calls"
    cache = CachePrimitive(slow_square, backend="disk", directory=root)
    cache.call(3)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache.tier.path).st_mode) == 0o700


def test_default_dir_is_under_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = CachePrimitive(slow_square, backend="disk")
    cache.call(4)
    assert cache.tier.path.is_relative_to(tmp_path / "xdg" / "flowyml-tui" / "calls")


def test_names_keep_key_fn_strings_apart(tmp_path: Path) -> None:
    a = CachePrimitive(lambda d, c: "from a", key_fn=lambda d, c: "k", backend="disk",
                       directory=tmp_path, name="a")  # fmt: skip
    b = CachePrimitive(lambda d, c: "from b", key_fn=lambda d, c: "k", backend="disk",
                       directory=tmp_path, name="b")  # fmt: skip
    assert (a.call(1), b.call(1)) == ("from a", "from b")
    assert (a.call(1), b.call(1)) == ("from a", "from b")


class Boom:
    """Unpickling this runs code: exactly what a tampered record must never reach."""

    ran = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (Boom._mark, ())

    @staticmethod
    def _mark() -> Boom:
        Boom.ran = True
        return Boom()


def test_a_record_that_fails_its_checksum_is_never_unpickled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = CachePrimitive(lambda d, c: "honest", backend="disk", directory=tmp_path)
    cache.call("q")
    (key,) = cache.keys()
    honest = encode("honest", float("inf"))
    header = honest[: len(honest) - len(pickle.dumps("honest", protocol=5))]
    store = diskcache.Cache(str(cache.tier.path))
    store.set(key, header + pickle.dumps(Boom()))  # the old checksum, another payload
    store.close()

    assert cache.call("q") == "honest"  # a miss: recomputed, not the tampered value
    assert Boom.ran is False
    assert "could not read" in caplog.text
    assert decode(encode(["round", "trip"], 0.0)) == ["round", "trip"]


def test_disk_ttl_uses_the_stored_deadline(tmp_path: Path, clock: Clock) -> None:
    def cached() -> CachePrimitive:
        return CachePrimitive(lambda d, c: clock.now, ttl_seconds=60, backend="disk",
                              directory=tmp_path, name="ttl", clock=clock)  # fmt: skip

    first = cached().call("k")
    clock.advance(59)
    assert cached().call("k") == first
    clock.advance(1)
    later = cached()
    assert later.call("k") != first
    assert later.get_stats()["expirations"] == 1
    clock.advance(60)
    assert later.evict_expired() == 1 and later.keys() == []


def test_disk_max_size_evicts_the_first_stored(tmp_path: Path) -> None:
    """Approximate LRU: reads never write, so the oldest-stored entry goes first."""
    cache = CachePrimitive(lambda d, c: d, max_size=3, key_fn=lambda d, c: d, backend="disk",
                           directory=tmp_path)  # fmt: skip
    for key in ("a", "b", "c", "d"):
        cache.call(key)
    assert sorted(cache.keys()) == ["b", "c", "d"]
    assert cache.get_stats()["size"] == 3


def test_clear_empties_the_disk_and_keeps_counters(tmp_path: Path) -> None:
    cache = CachePrimitive(lambda d, c: d, backend="disk", directory=tmp_path)
    cache.call(1)
    cache.call(1)
    cache.clear()
    assert cache.keys() == []
    assert cache.get_stats()["hits"] == 1 and cache.get_stats()["size"] == 0
