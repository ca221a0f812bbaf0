"""The blob tier: big values shared through a bucket (moto, a real S3 server on loopback) or
a shared folder. Two cache dirs stand for two teammates' machines."""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
import time
from pathlib import Path

import pytest
import redis

from flowyml_tui.engine.cache.redis_tier import namespace
from flowyml_tui.engine.cache.signed import glob_escape
from flowyml_tui.engine.events import RunWarning, StepFinished, StepStatus
from tests.cli_process import run_cli

BIG = 3 * 2**20

PIPELINE = """
import os
from flowyml_tui import Pipeline, step

def ran(name):
    with open(os.environ["RAN_LOG"], "a") as log:
        log.write(name + "\\n")

SIZE = int(os.environ.get("BIG_SIZE", str(3 * 2**20)))

@step(outputs=["raw"])
def load():
    ran("load")
    return bytes(range(256)) * (SIZE // 256)

@step(outputs=["copy"])
def same():
    ran("same")
    return bytes(range(256)) * (SIZE // 256)

@step(inputs=["raw"], outputs=["total"])
def total(raw):
    ran("total")
    return sum(raw[:1000]) + len(raw)

@step(inputs=["total", "copy"], outputs=["report"])
def report(total, copy):
    ran("report")
    return f"total={total} copy={len(copy)}"

pipeline = Pipeline("team").add_step(load).add_step(same).add_step(total).add_step(report)
"""

EXPECTED = f"total={sum((bytes(range(256)) * (BIG // 256))[:1000]) + BIG} copy={BIG}"


def executed(tmp_path: Path) -> list[str]:
    log = tmp_path / "ran.log"
    names = sorted(log.read_text().split()) if log.exists() else []
    log.unlink(missing_ok=True)
    return names


def tiers(result) -> dict[str, str | None]:
    return {e.step: e.tier for e in result.events if isinstance(e, StepFinished)}


def warnings_of(result, code: str) -> list[str]:
    return [e.message for e in result.events if isinstance(e, RunWarning) and e.code == code]


def blob_store(pipeline):
    """The `BlobStore` a pipeline's store writes to (to count what it moved)."""
    return pipeline.store.shared.blob_values.store


@pytest.fixture
def machine(write_file, load, tmp_path, monkeypatch, request):
    """`machine(name, blobs, shared=None)`: the pipeline on one teammate's machine."""
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", request.node.name)  # tests share one Redis
    monkeypatch.setenv("RAN_LOG", str(tmp_path / "ran.log"))
    path = write_file("team.py", PIPELINE)

    def make(name: str, blobs: str, shared: str | None = None):
        pipeline = load(path)
        pipeline.cache_dir = tmp_path / name
        pipeline.blobs = blobs
        pipeline.shared = shared
        return pipeline

    return make


def test_two_machines_sharing_only_a_bucket_hand_each_other_big_values(
    machine, bucket, moto_server, tmp_path
):
    url = f"s3://{bucket}/team-cache"
    first = machine("alice", url).run()
    assert first["report"] == EXPECTED
    assert executed(tmp_path) == ["load", "report", "same", "total"]
    keys = moto_server.keys(bucket, "team-cache/")
    assert any(k.startswith("team-cache/index/") for k in keys)
    assert any(k.startswith("team-cache/blobs/") for k in keys)

    bob = machine("bob", url)
    second = bob.run()
    assert executed(tmp_path) == []
    assert {r.status for r in second.step_results.values()} == {StepStatus.CACHED}
    assert set(tiers(second).values()) == {"shared"}
    assert blob_store(bob).counts["downloaded"] == 0  # lazy: nothing was needed
    assert bob.store.shared.breaker.round_trips == 2  # one listing, one batch of records
    assert second["report"] == EXPECTED  # fetched now, verified


def test_the_same_value_from_two_steps_is_stored_once(machine, bucket, moto_server, tmp_path):
    url = f"s3://{bucket}/team-cache"
    machine("alice", url).run()
    big = [
        k
        for k in moto_server.keys(bucket, "team-cache/blobs/")
        if moto_server.client.head_object(Bucket=bucket, Key=k)["ContentLength"] > BIG
    ]
    digest = hashlib.sha256(pickle.dumps(bytes(range(256)) * (BIG // 256), 5)).hexdigest()
    assert big == [f"team-cache/blobs/{digest[:2]}/{digest}"]  # `load` and `same`: one blob


def _big_digest() -> str:
    return hashlib.sha256(pickle.dumps(bytes(range(256)) * (BIG // 256), 5)).hexdigest()


def test_a_value_is_fetched_only_when_an_executing_step_needs_it_then_kept_locally(
    machine, bucket, tmp_path
):
    url = f"s3://{bucket}/team-cache"
    machine("alice", url).run()
    executed(tmp_path)

    bob = machine("bob", url)
    bob.invalidate("total", downstream=False)  # bob's `total` must run: it needs `raw`
    result = bob.run()
    assert executed(tmp_path) == ["total"]
    moved = blob_store(bob).counts
    assert moved["downloaded"] == 1  # `raw` alone; `copy` and the rest stay in the bucket
    assert moved["downloaded_bytes"] > BIG
    assert result["report"] == EXPECTED

    again = machine("bob", url)
    again.invalidate("total", downstream=False)
    again.run()
    assert executed(tmp_path) == ["total"]
    assert blob_store(again).counts["downloaded"] == 0  # kept in bob's local store


def test_two_cache_dirs_sharing_a_folder_hand_each_other_big_values(machine, tmp_path):
    folder = tmp_path / "team-folder"
    url = folder.as_uri()
    machine("alice", url).run()
    executed(tmp_path)

    bob = machine("bob", url)
    result = bob.run()
    assert executed(tmp_path) == []
    assert set(tiers(result).values()) == {"shared"}
    assert bob.store.shared.breaker.round_trips == 2  # one listing, one batch of records
    assert result["raw"] == bytes(range(256)) * (BIG // 256)  # from the folder, verified
    digest = _big_digest()
    assert (folder / "blobs" / digest[:2] / digest).stat().st_size > BIG
    assert not list((folder / "blobs" / "tmp").iterdir())  # temp names all renamed or gone


def _evil(marker: Path) -> bytes:
    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps(Boom())


def test_a_tampered_blob_is_refused_never_unpickled_and_the_step_reruns(
    machine, bucket, moto_server, tmp_path
):
    url = f"s3://{bucket}/team-cache"
    machine("alice", url).run()
    executed(tmp_path)
    digest = _big_digest()
    key = f"team-cache/blobs/{digest[:2]}/{digest}"
    size = moto_server.client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    marker = tmp_path / "pwned"
    evil = _evil(marker)  # same size: pickle stops at its STOP opcode, so padding is ignored
    moto_server.client.put_object(Bucket=bucket, Key=key, Body=evil + b"\0" * (size - len(evil)))

    bob = machine("bob", url)
    bob.invalidate("total", downstream=False)
    with pytest.warns(UserWarning, match="fails its SHA-256"):
        result = bob.run()
    assert not marker.exists()
    assert "load" in executed(tmp_path)  # its value could not be trusted: computed again
    assert result["report"] == EXPECTED
    assert warnings_of(result, "shared_refused")


def test_a_blob_deleted_behind_the_index_is_a_miss_with_a_warning(
    machine, bucket, moto_server, tmp_path
):
    url = f"s3://{bucket}/team-cache"
    machine("alice", url).run()
    executed(tmp_path)
    digest = _big_digest()
    moto_server.client.delete_object(Bucket=bucket, Key=f"team-cache/blobs/{digest[:2]}/{digest}")

    bob = machine("bob", url)
    bob.invalidate("total", downstream=False)
    with pytest.warns(UserWarning, match="is missing"):
        result = bob.run()
    assert "load" in executed(tmp_path)
    assert result["report"] == EXPECTED


def test_the_server_stopped_mid_upload_leaves_nothing_visible_and_the_run_goes_on(
    machine, bucket, moto_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("BIG_SIZE", str(96 * 2**20))  # 12 parts of 8 MiB, 3 at a time
    url = f"s3://{bucket}/team-cache"
    stopped_mid_upload = threading.Event()

    def stop_once_an_upload_is_under_way() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = moto_server.client.list_multipart_uploads(Bucket=bucket)
            if found.get("Uploads"):
                moto_server.stop()
                stopped_mid_upload.set()
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=stop_once_an_upload_is_under_way, daemon=True)
    watcher.start()
    try:
        result = machine("alice", url).run()
        watcher.join(60)
        assert stopped_mid_upload.is_set()
        raw = bytes(range(256)) * (96 * 2**20 // 256)
        assert result["total"] == sum(raw[:1000]) + len(raw)
        assert executed(tmp_path) == ["load", "report", "same", "total"]
        assert len(warnings_of(result, "shared_offline")) == 1  # one line for the run
    finally:
        moto_server.start()
    assert moto_server.keys(bucket) == []  # no blob, no record: nothing half-visible


def test_a_bucket_that_refuses_writes_is_one_warning_and_the_run_goes_on_locally(
    machine, bucket, moto_server, tmp_path
):
    url = f"s3://{bucket}-missing/team-cache"  # no such bucket: every write is refused
    result = machine("alice", url).run()
    assert executed(tmp_path) == ["load", "report", "same", "total"]
    assert result["report"] == EXPECTED
    (warning,) = warnings_of(result, "shared_offline")
    assert "unreachable or refused" in warning and "does not exist" in warning
    again = machine("alice", url).run()  # the local cache still serves every step
    assert executed(tmp_path) == []
    assert again["report"] == EXPECTED


def test_with_redis_the_index_lives_there_and_only_big_values_go_to_the_bucket(
    machine, bucket, moto_server, redis_server, tmp_path
):
    url = f"s3://{bucket}/team-cache"
    machine("alice", url, redis_server.url).run()
    executed(tmp_path)
    keys = moto_server.keys(bucket)
    assert keys and all(k.startswith("team-cache/blobs/") for k in keys)  # no index/ here
    client = redis.Redis.from_url(redis_server.url)
    project = os.environ["FLOWYML_TUI_PROJECT"]
    values = list(client.scan_iter(glob_escape(namespace(project)) + "v:*"))
    assert values and all(client.strlen(name) < 2**20 for name in values)  # small ones only

    bob = machine("bob", url, redis_server.url)
    result = bob.run()
    assert executed(tmp_path) == []
    assert set(tiers(result).values()) == {"shared"}
    assert result["raw"] == bytes(range(256)) * (BIG // 256)  # from the bucket, verified
    assert blob_store(bob).counts["downloaded"] == 1


def test_with_redis_a_refusing_bucket_keeps_big_entries_local_and_shares_the_rest(
    machine, bucket, redis_server, tmp_path
):
    url = f"s3://{bucket}-missing/team-cache"
    first = machine("alice", url, redis_server.url).run()
    executed(tmp_path)
    (warning,) = warnings_of(first, "shared_offline")
    assert f"the blob store at {url}" in warning

    second = machine("bob", url, redis_server.url).run()
    assert executed(tmp_path) == ["load", "same"]  # their values never left alice's machine
    assert tiers(second)["total"] == "shared" and tiers(second)["report"] == "shared"
    assert second["report"] == EXPECTED


def cli(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cache_gc_blobs_removes_unreferenced_blobs_only_after_the_grace_period(
    machine, bucket, moto_server, tmp_path
):
    url = f"s3://{bucket}/team-cache"
    machine("alice", url).run()
    executed(tmp_path)
    orphan = "ab" + "0" * 62
    moto_server.client.put_object(
        Bucket=bucket, Key=f"team-cache/blobs/ab/{orphan}", Body=b"an upload whose entry never came"
    )
    before = moto_server.keys(bucket, "team-cache/blobs/")
    cache = str(tmp_path / "alice")
    leftover = tmp_path / "alice" / "blobs-tmp" / "blob-killed.partial"  # a killed download
    leftover.parent.mkdir(exist_ok=True)
    leftover.write_bytes(b"half a value")

    out = cli("cache", "gc", "--cache-dir", cache, "--blobs", url)
    assert "removed 0 unreferenced blobs" in out and "kept 1 unreferenced blob" in out
    assert moto_server.keys(bucket, "team-cache/blobs/") == before

    assert leftover.exists()
    out = cli("cache", "gc", "--cache-dir", cache, "--blobs", url, "--grace", "0")
    assert "removed 1 unreferenced blob " in out
    assert not leftover.exists()
    assert moto_server.keys(bucket, "team-cache/blobs/") == [k for k in before if orphan not in k]
    bob = machine("bob", url)  # every referenced blob is still there
    result = bob.run()
    assert executed(tmp_path) == []
    assert result["raw"] == bytes(range(256)) * (BIG // 256)


def test_cache_stats_shows_the_blob_tier(machine, bucket, tmp_path):
    url = f"s3://{bucket}/team-cache"
    machine("alice", url).run()
    machine("bob", url).run()
    out = cli("cache", "stats", "--cache-dir", str(tmp_path / "bob"), "--blobs", url)
    project = os.environ["FLOWYML_TUI_PROJECT"]
    assert f"shared {url} (project {project}): 4 entries" in out
    assert "hit rate 100% over this cache's runs" in out
    assert f"blob store {url}: 3 blobs" in out  # raw and copy are one blob; total; report
