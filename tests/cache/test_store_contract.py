"""The contract every store implementation passes, unchanged (Hamilton's shape for its stores).

Each test takes its store from a factory parametrised over implementations. The entry tests
(`EntryStore`) run over every store alone: the local diskcache store, the Redis tier by itself
and the tiered store. The workspace tests (pins, marks, counters: never shared) run over the
stores a run opens, which are both protocols.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flowyml_tui.engine.cache import (
    CorruptEntry,
    Entry,
    EntryStore,
    StoredRecipe,
    Workspace,
    checksum,
    open_store,
)
from flowyml_tui.engine.cache.redis_tier import RedisTier
from flowyml_tui.engine.cache.tables import CacheVerdicts
from flowyml_tui.engine.errors import AmbiguousStepError, UnknownStepError
from tests.needs import need

Factory = Callable[[Path], object]
FACTORIES: dict[str, Factory] = {
    "local": lambda path: open_store(path),
    # memory -> disk -> a real redis-server: the URL comes from the `team` and `redis_server`
    # fixtures through FLOWYML_TUI_SHARED, the project name from the test's name
    "tiered": lambda path: open_store(path),
}
ENTRY_FACTORIES: dict[str, Factory] = {
    **FACTORIES,
    # the team's tier alone, as TieredStore holds it: a real redis-server, signed records
    "redis": lambda path: RedisTier(
        os.environ["FLOWYML_TUI_SHARED"],
        project=os.environ["FLOWYML_TUI_PROJECT"],
        secret=b"contract-secret",
    ),
    # the team's tier a bucket alone makes (here a folder): signed records beside the blobs
    "bucket": lambda path: _bucket_tier(path.parent / "bucket"),
}
NEEDS_REDIS = {"tiered", "redis"}


def _bucket_tier(folder: Path):
    from flowyml_tui.engine.cache.blobs.breaker import Breaker
    from flowyml_tui.engine.cache.blobs.index import BucketIndex
    from flowyml_tui.engine.cache.blobs.store import BlobStore
    from flowyml_tui.engine.cache.blobs.tier import BucketTier
    from flowyml_tui.engine.cache.blobs.values import BlobValues
    from flowyml_tui.engine.cache.notices import Notices
    from flowyml_tui.engine.cache.signed import Signer

    need("fsspec")
    url = folder.as_uri()
    store = BlobStore(url, Breaker(url, Notices()))
    index = BucketIndex(store.fs, store.root, "contract", Signer(b"contract-secret"), store.breaker)
    return BucketTier(index, BlobValues(store), project="contract")


def _maker(name: str, factories: dict[str, Factory], request, tmp_path, monkeypatch):
    factory = factories[name]
    if name in NEEDS_REDIS:
        request.getfixturevalue("team")
        monkeypatch.setenv("FLOWYML_TUI_SHARED", request.getfixturevalue("redis_server").url)
    return lambda: factory(tmp_path / "cache")


@pytest.fixture(params=sorted(FACTORIES))
def make(request, tmp_path, monkeypatch):
    """A whole store (`EntryStore` and `Workspace`), opened afresh on each call."""
    return _maker(request.param, FACTORIES, request, tmp_path, monkeypatch)


@pytest.fixture
def store(make):
    return make()


@pytest.fixture(params=sorted(ENTRY_FACTORIES))
def make_entries(request, tmp_path, monkeypatch):
    """Any `EntryStore`, a tier alone included, opened afresh on each call."""
    return _maker(request.param, ENTRY_FACTORIES, request, tmp_path, monkeypatch)


@pytest.fixture
def entries(make_entries):
    return make_entries()


def put(store, pipeline: str, step: str, value: object, *, tag: str = "") -> Entry:
    """Write one entry whose key is made from its coordinates and value (as a run would)."""
    blob = pickle.dumps(value)
    now = time.time_ns()
    entry = Entry(
        key=f"{step}-{pipeline}-{tag or checksum(blob)}",
        pipeline=pipeline,
        step=step,
        created=now / 1e9,
        created_ns=now,
        duration=0.25,
        policy="code_hash",
        code_hash="c0de",
        functions={f"m:{step}": "f" + tag},
        recipe=StoredRecipe(policy="code_hash", code_hash="c0de"),
        outputs=("out",),
        output_fps=("fp-" + checksum(blob),),
        sizes=(len(blob),),
        checksums=(checksum(blob),),
        formats=("pickle",),
        previews=(repr(value)[:20],),
    )
    store.put_entry(entry, [blob], {"f" + tag: f"def {step}():\n    return {value!r}\n"})
    return entry


def test_every_tier_is_an_entry_store(entries):
    assert isinstance(entries, EntryStore)


def test_a_store_is_both_protocols(store, request):
    if request.node.callspec.params["make"] == "tiered":
        assert type(store).__name__ == "TieredStore"
    assert isinstance(store, EntryStore)
    assert isinstance(store, Workspace)


def test_an_entry_reads_back_equal_and_its_value_loads(entries):
    entry = put(entries, "p", "s", {"a": [1, 2]})
    assert entries.get_entry(entry.key) == entry
    assert entries.load_value(entry, 0) == {"a": [1, 2]}
    assert entries.source("f") == "def s():\n    return {'a': [1, 2]}\n"


def test_a_missing_key_is_none(entries):
    assert entries.get_entry("nope-123") is None
    assert entries.newest_entry("p", "nope") is None


def test_an_entry_survives_reopening(make_entries):
    entry = put(make_entries(), "p", "s", 7)
    again = make_entries()
    assert again.load_value(again.get_entry(entry.key), 0) == 7


def test_newest_entry_is_per_pipeline_and_step(entries):
    put(entries, "p", "s", 1, tag="1")
    second = put(entries, "p", "s", 2, tag="2")
    other = put(entries, "q", "s", 3, tag="3")
    assert entries.newest_entry("p", "s") == second
    assert entries.newest_entry("q", "s") == other


def test_a_value_is_verified_before_it_is_unpickled(entries):
    entry = put(entries, "p", "s", "precious")
    flipped = Entry(**{**_fields(entry), "checksums": ("0" * 16,)})
    with pytest.raises(CorruptEntry):  # its checksum, or its signed header, says no
        entries.load_value(flipped, 0)


def test_a_deleted_entry_is_gone_with_its_value(entries):
    entry = put(entries, "p", "s", 1)
    entries.delete_entry(entry.key)
    assert entries.get_entry(entry.key) is None
    with pytest.raises(CorruptEntry):
        entries.load_value(entry, 0)
    entries.delete_entry(entry.key)  # twice is fine


def test_a_deletion_in_another_handle_is_seen_after_refresh(make_entries):
    mine, theirs = make_entries(), make_entries()
    entry = put(mine, "p", "s", 1)
    assert mine.get_entry(entry.key) is not None
    theirs.delete_entry(entry.key)
    mine.refresh()
    assert mine.get_entry(entry.key) is None


def test_workspace_tables_another_handle_writes_are_read_at_once(make):
    """Readers keep a decoded copy of each meta row (`_meta_view`), never a stale one."""
    mine, theirs = make(), make()
    first, second = put(mine, "p", "s", 1), put(mine, "p", "s", 2, tag="two")
    mine.record_run("p", {"s": first.key}, ["s"], [])
    assert (mine.current("p"), mine.pins("p"), mine.invalidations("p")) == (
        {"s": first.key},
        {},
        {},
    )
    theirs.record_run("p", {"s": second.key}, [], ["s"])
    theirs.pin("s", second.key, pipeline="p")
    theirs.invalidate(["s"], pipeline="p")
    assert mine.current("p") == {"s": second.key}
    assert mine.pins("p") == {}  # invalidating a step unpins it
    assert set(mine.invalidations("p")) == {"s"}
    theirs.pin("s", second.key, pipeline="p")
    assert mine.pins() == {"s": second.key}
    assert mine.scopes() == [("p", "s")]


def test_a_run_starts_from_what_another_handle_wrote_last(make):
    """`begin_run` reads pins, invalidations and current entries as of one write mark: what
    the three readers give, another handle's writes included, and a deletion refreshed."""
    mine, theirs = make(), make()
    first, second = put(mine, "p", "s", 1), put(mine, "p", "t", 2)
    mine.record_run("p", {"s": first.key, "t": second.key}, ["s"], ["t"])
    none = CacheVerdicts()
    assert mine.begin_run("p") == ({}, {}, {"s": first.key, "t": second.key}, none)
    theirs.pin("t", second.key, pipeline="p")
    theirs.invalidate(["s"], pipeline="p")
    theirs.record_run("p", {"s": second.key}, [], ["s"])
    verdicts = CacheVerdicts(0.001, {"s": "a hit costs more than recomputing"})
    theirs.record_cache_costs("p", {}, verdicts)
    theirs.delete_entry(first.key)

    start = mine.begin_run("p")

    assert start == (
        mine.pins("p"),
        mine.invalidations("p"),
        mine.current("p"),
        mine.cache_verdicts("p"),
    )
    assert start.pins == {"t": second.key}
    assert set(start.invalidations) == {"s"}
    assert start.current == {"s": second.key, "t": second.key}
    assert start.verdicts == verdicts
    assert mine.get_entry(first.key) is None  # refreshed: the deletion is seen
    assert mine.begin_run("q") == ({}, {}, {}, none)


def test_counters_count_every_handles_runs(make):
    """Each handle reuses the counters it last wrote (`record_run`), never over another's."""
    mine, theirs = make(), make()
    entry = put(mine, "p", "s", 1)
    for store in (mine, theirs, mine, mine, theirs):
        store.record_run("p", {"s": entry.key}, ["s"], [])
    mine.record_run("p", {"s": entry.key}, [], ["s"])
    for store in (mine, theirs):
        (row,) = store.stats()["steps"]
        assert (row["hits"], row["misses"]) == (5, 1)


def test_pins_belong_to_a_pipeline(store):
    a = put(store, "a", "train", 1)
    put(store, "b", "train", 2)
    assert store.pin("train", a.key, pipeline="a") == a.key
    assert store.pins("a") == {"train": a.key}
    assert store.pins("b") == {}
    with pytest.raises(AmbiguousStepError, match="a, b"):
        store.unpin("train")
    assert store.unpin("train", pipeline="a")
    assert not store.unpin("train", pipeline="a")


def test_pinning_an_unknown_step_is_a_clear_error(store):
    with pytest.raises(UnknownStepError, match="run the pipeline once first"):
        store.pin("ghost")


def test_invalidation_marks_and_drops_the_pin(store):
    entry = put(store, "p", "s", 1)
    store.pin("s", entry.key, pipeline="p")
    before = time.time_ns()
    store.invalidate(["s"], pipeline="p")
    assert store.invalidations("p")["s"] >= before
    assert store.invalidations("q") == {}
    assert store.pins("p") == {}


def test_record_run_sets_current_and_counts(store):
    entry = put(store, "p", "s", 1)
    store.record_run("p", {"s": entry.key}, hits=["s"], misses=[])
    store.record_run("p", {"s": entry.key}, hits=[], misses=["s"])
    assert store.current("p") == {"s": entry.key}
    assert store.current("q") == {}
    (row,) = store.stats()["steps"]
    assert (row["pipeline"], row["step"], row["hits"], row["misses"]) == ("p", "s", 1, 1)


def test_cache_cost_history_is_per_pipeline_and_goes_with_a_cleared_step(store):
    entry = put(store, "p", "s", 1)
    store.record_run("p", {"s": entry.key}, hits=[], misses=["s"])
    verdicts = CacheVerdicts(1e-5, {"s": "why"})
    store.record_cache_costs("p", {"s": {"compute_s": 0.5}, "t": {"load_s": 0.1}}, verdicts)
    store.record_cache_costs("p", {"s": {"compute_s": 0.7}}, None)  # verdicts kept
    store.record_cache_costs("q", {}, CacheVerdicts(2e-5))
    assert store.cache_costs("p") == {"s": {"compute_s": 0.7}, "t": {"load_s": 0.1}}
    assert store.cache_verdicts("p") == verdicts
    assert store.cache_verdicts("q") == CacheVerdicts(2e-5)
    assert store.cache_costs("r") == {} and store.cache_verdicts("r") == CacheVerdicts()
    store.clear_step("s", pipeline="p")
    assert store.cache_costs("p") == {"t": {"load_s": 0.1}}
    assert store.cache_verdicts("p") == CacheVerdicts(1e-5, {})


def test_eviction_keeps_pinned_and_newest_entries(store):
    old = put(store, "p", "s", "x" * 1000, tag="old")
    middle = put(store, "p", "s", "y" * 1000, tag="mid")
    newest = put(store, "p", "s", "z" * 1000, tag="new")
    store.pin("s", old.key, pipeline="p")
    evicted = store.evict(size_limit=0)
    assert evicted == [middle.key]
    assert {i.key for i in store.entries("s", pipeline="p")} == {old.key, newest.key}


def _fields(entry: Entry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in entry.__struct_fields__}
