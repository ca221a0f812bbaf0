"""Randomised planted records in the call cache, on disk and in a real redis-server.

Each round plants one fault of a random kind under a random key, then reads every key: the
answer is always the honest one (a fault is a miss and the call is made again), and `Evil`
never runs. Seeded, so a failure replays.
"""

from __future__ import annotations

import random
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest
import redis

from flowyml_tui import CachePrimitive
from flowyml_tui.engine.cache.signed import CALL, Signer
from tests.cache.redis_server import RedisServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

KEYS = [f"k{i}" for i in range(8)]


class Evil:
    """Unpickling this creates `marker`: the proof that a planted pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def honest(data: str, context: Any) -> str:
    return f"answer to {data}" + ("!" * 40_000 if data.endswith(("3", "7")) else "")


def _check_every_key(cache: CachePrimitive, marker: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in KEYS:
            assert cache.call(key) == honest(key, None), key
    assert not marker.exists()


def _disk_faults(slot: Path, marker: Path) -> list[Callable[[random.Random, str], None]]:
    """Ways to plant a record in one disk slot, each given a random source and a key."""

    def with_planter(fn: Callable[[diskcache.Cache], None]) -> None:
        planter = diskcache.Cache(str(slot))  # diskcache's defaults: its own pickle mode
        try:
            fn(planter)
        finally:
            planter.close()

    def pickled_row(rng: random.Random, key: str) -> None:
        with_planter(lambda c: c.set(key, [Evil(marker), b"x" * rng.choice([10, 50_000])]))

    def pickled_key(rng: random.Random, key: str) -> None:
        with_planter(lambda c: c.set((key, Evil(marker)), b"1"))

    def flipped_byte(rng: random.Random, key: str) -> None:
        def flip(c: diskcache.Cache) -> None:
            record = c.get(key)
            if isinstance(record, bytes):
                at = rng.randrange(len(record))
                c.set(key, record[:at] + bytes([record[at] ^ 0xFF]) + record[at + 1 :])

        with_planter(flip)

    def row_to_pickle_mode(rng: random.Random, key: str) -> None:
        with sqlite3.connect(slot / "cache.db") as db:
            db.execute("UPDATE Cache SET mode = 4 WHERE key = ?", (key,))

    def value_file_replaced(rng: random.Random, key: str) -> None:
        import pickle

        with sqlite3.connect(slot / "cache.db") as db:
            row = db.execute("SELECT filename FROM Cache WHERE key = ?", (key,)).fetchone()
        if row and row[0]:
            (slot / row[0]).write_bytes(pickle.dumps(Evil(marker)))

    return [pickled_row, pickled_key, flipped_byte, row_to_pickle_mode, value_file_replaced]


def test_two_hundred_planted_disk_records_never_run_nor_answer_wrong(tmp_path: Path) -> None:
    rng = random.Random(24)
    marker = tmp_path / "PWNED"
    cache = CachePrimitive(honest, backend="disk", directory=tmp_path / "calls", name="planted",
                           key_fn=lambda d, c: d)  # fmt: skip
    _check_every_key(cache, marker)
    slot = cache.tier.path
    faults = _disk_faults(slot, marker)
    seen = set()
    for _ in range(200):
        fault = rng.choice(faults)
        seen.add(fault.__name__)
        cache.close()  # as another process would find it
        fault(rng, rng.choice(KEYS))
        _check_every_key(cache, marker)
    assert len(seen) == len(faults)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path_factory.mktemp("redis-planted"))
    yield running
    running.stop()


def _redis_cache(url: str, name: str) -> CachePrimitive:
    return CachePrimitive(honest, backend="redis", redis_url=url, name=name, key_fn=lambda d, c: d)


def test_two_hundred_planted_redis_records_never_run_nor_answer_wrong(
    server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", "planted")
    rng = random.Random(24)
    marker = tmp_path / "PWNED"
    client = redis.Redis.from_url(server.url)
    caches = {name: _redis_cache(server.url, name) for name in ("planted", "planted:k1", "x")}
    for cache in caches.values():
        _check_every_key(cache, marker)
    names = sorted(client.scan_iter("flowyml:calls:*"))
    assert len(names) == len(caches) * len(KEYS)  # no two names and keys share a Redis key
    evil = pickle.dumps(Evil(marker))

    def swapped(a: bytes, b: bytes) -> None:
        first, second = client.get(a), client.get(b)
        client.set(a, second or b"")
        client.set(b, first or b"")

    def copied(a: bytes, b: bytes) -> None:
        client.set(b, client.get(a) or b"")

    def flipped(a: bytes, b: bytes) -> None:
        record = client.get(a) or b"x"
        at = rng.randrange(len(record))
        client.set(a, record[:at] + bytes([record[at] ^ 0xFF]) + record[at + 1 :])

    def raw_pickle(a: bytes, b: bytes) -> None:
        client.set(a, evil)

    def other_secret(a: bytes, b: bytes) -> None:
        client.set(a, Signer(b"not-the-team-secret").sign(a.decode(), CALL, evil))

    def evil_under_its_signed_record(a: bytes, b: bytes) -> None:
        record = client.get(a) or b""
        client.set(a, record[:68] + evil)  # the header of an honest record, another payload

    faults = [swapped, copied, flipped, raw_pickle, other_secret, evil_under_its_signed_record]
    for _ in range(200):
        a, b = rng.sample(names, 2)
        rng.choice(faults)(a, b)
        for cache in caches.values():
            _check_every_key(cache, marker)
