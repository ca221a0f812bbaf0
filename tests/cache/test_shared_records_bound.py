"""Every record the shared tier writes is bound to its key: a record moved to another key (two
steps' sources swapped, one entry's header copied over another's, a call's value copied to
another call) is refused, against a real redis-server. And call-cache key names are made of
length-prefixed parts, so two primitives' names and keys can never spell the same Redis key."""

from __future__ import annotations

import pickle
import warnings

import pytest
import redis

from flowyml_tui import CachePrimitive
from flowyml_tui.engine.cache import open_store
from flowyml_tui.engine.cache.redis_tier import namespace
from flowyml_tui.engine.cache.signed import CALL, ENTRY, SOURCE, Refused, Signer, parts

from .test_shared_tier import executed

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_swapping_two_steps_sources_is_refused(teammate, team, redis_server, tmp_path):
    alice = teammate("alice", redis_server.url)
    alice.run()
    executed(tmp_path)
    load_entry = alice.store.newest_entry("team", "load")
    total_entry = alice.store.newest_entry("team", "total")
    load_fn = next(h for name, h in load_entry.functions.items() if name.endswith("load"))
    total_fn = next(h for name, h in total_entry.functions.items() if name.endswith("total"))
    client = redis.Redis.from_url(redis_server.url)
    load_name = namespace(team) + "s:" + parts(load_fn)
    total_name = namespace(team) + "s:" + parts(total_fn)
    load_record, total_record = client.get(load_name), client.get(total_name)
    assert load_record and total_record
    client.set(load_name, total_record)
    client.set(total_name, load_record)

    bob = open_store(tmp_path / "bob", shared=redis_server.url)
    assert bob.source(load_fn) is None  # not `total`'s code shown as `load`'s
    assert bob.source(total_fn) is None
    assert bob.shared.counts["refused"] == 2
    client.set(load_name, load_record)  # put back where it was written: read again
    assert "def load" in bob.source(load_fn)


def test_an_entry_header_copied_over_another_is_refused(teammate, team, redis_server, tmp_path):
    teammate("alice", redis_server.url).run()
    executed(tmp_path)
    alice = open_store(tmp_path / "alice")
    load_key = alice.newest_entry("team", "load").key
    report_key = alice.newest_entry("team", "report").key
    client = redis.Redis.from_url(redis_server.url)
    client.set(
        namespace(team) + "e:" + parts(report_key),
        client.get(namespace(team) + "e:" + parts(load_key)),
    )
    bob = open_store(tmp_path / "bob", shared=redis_server.url)
    assert bob.get_entry(report_key) is None
    assert bob.get_entry(load_key) is not None
    assert bob.shared.counts["refused"] == 1


def test_one_signed_format_binds_key_and_kind() -> None:
    signer = Signer(b"team-secret")
    record = signer.sign("k1", SOURCE, b"def f(): ...")
    assert bytes(signer.verify("k1", SOURCE, record)) == b"def f(): ..."
    with pytest.raises(Refused, match="another key"):
        signer.verify("k2", SOURCE, record)
    with pytest.raises(Refused, match="another key"):
        signer.verify("k1", ENTRY, record)  # a source read as an entry header
    with pytest.raises(Refused, match="another secret"):
        Signer(b"not-the-secret").verify("k1", SOURCE, record)
    with pytest.raises(Refused, match="SHA-256"):
        signer.verify("k1", SOURCE, record + b"more")


@pytest.fixture
def calls_team(monkeypatch, request):
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", request.node.name)
    return request.node.name


def test_call_cache_names_and_keys_never_collide(redis_server, calls_team):
    def price(region: str):
        return lambda data, context: f"{region} price of {data}"

    eu = CachePrimitive(price("eu"), backend="redis", redis_url=redis_server.url,
                        name="pricing", key_fn=lambda d, c: f"eu:{d}")  # fmt: skip
    other = CachePrimitive(price("other"), backend="redis", redis_url=redis_server.url,
                           name="pricing:eu", key_fn=lambda d, c: d)  # fmt: skip
    assert eu.call("widget") == "eu price of widget"
    assert other.call("widget") == "other price of widget"  # not eu's value
    assert eu.call("widget") == "eu price of widget"
    assert other.get_stats()["hits"] == 0
    assert len(eu.keys()) == 1 and len(other.keys()) == 1


def test_a_call_record_copied_to_another_key_is_refused(redis_server, calls_team):
    calls: list[str] = []

    def shout(data: str, context: object) -> str:
        calls.append(data)
        return data.upper()

    cache = CachePrimitive(shout, backend="redis", redis_url=redis_server.url, name="shout",
                           key_fn=lambda d, c: d)  # fmt: skip
    cache.call("yes")
    cache.call("no")
    client = redis.Redis.from_url(redis_server.url)
    names = {name.decode(): name for name in client.scan_iter(f"*{calls_team}*")}
    (yes,) = [n for n in names if n.endswith("3:yes")]
    (no,) = [n for n in names if n.endswith("2:no")]
    client.set(no, client.get(yes))
    fresh = CachePrimitive(shout, backend="redis", redis_url=redis_server.url, name="shout",
                           key_fn=lambda d, c: d)  # fmt: skip
    with warnings.catch_warnings():
        assert fresh.call("no") == "NO"  # recomputed, not "YES"
    assert calls == ["yes", "no", "no"]
    record = client.get(yes)
    assert pickle.loads(bytes(Signer(b"team-secret").verify(yes, CALL, record))[17:]) == "YES"


def test_names_planted_under_our_prefixes_are_not_listed(team, redis_server, tmp_path, calls_team):
    client = redis.Redis.from_url(redis_server.url)
    cache = CachePrimitive(lambda d, c: d, backend="redis", redis_url=redis_server.url,
                           name="listed", key_fn=lambda d, c: d)  # fmt: skip
    cache.call("real")
    client.set(cache.tier.prefix + "not-a-part", b"planted")
    client.set(cache.tier.prefix + "3:abc4:more", b"planted")
    assert cache.keys() == ["real"]
    client.set(namespace(team) + "big:nonsense", b"planted")
    stats = open_store(tmp_path / "carol", shared=redis_server.url).stats()
    assert stats["tiers"]["shared"]["not_shared"] == []
