"""The team's shared cache, against a real redis-server: hits across machines, trust, failure.

Two cache dirs stand for two teammates' machines; one Redis is the team's shared tier.
"""

from __future__ import annotations

import getpass
import os
import pickle
import signal
import socket
import warnings
from pathlib import Path

import pytest
import redis

from flowyml_tui.engine.cache import CacheStore, open_store
from flowyml_tui.engine.cache.redis_tier import namespace
from flowyml_tui.engine.cache.signed import Signer, glob_escape, parts
from flowyml_tui.engine.events import RunWarning, StepFinished, StepStatus
from flowyml_tui.engine.history.records import load_run
from flowyml_tui.tui.state import RunModel

PIPELINE = """
import os
from flowyml_tui import Pipeline, step

def ran(name):
    with open(os.environ["RAN_LOG"], "a") as log:
        log.write(name + "\\n")

@step(outputs=["raw"])
def load():
    ran("load")
    if os.environ.get("KILL_REDIS"):
        os.kill(int(os.environ["KILL_REDIS"]), 9)
    return list(range(10))

@step(inputs=["raw"], outputs=["total"])
def total(raw):
    ran("total")
    return sum(raw)

@step(inputs=["total"], outputs=["report"])
def report(total):
    ran("report")
    return f"total={total}"

pipeline = Pipeline("team").add_step(load).add_step(total).add_step(report)
"""


def executed(tmp_path: Path) -> list[str]:
    log = tmp_path / "ran.log"
    names = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return names


def tiers(result) -> dict[str, str | None]:
    return {e.step: e.tier for e in result.events if isinstance(e, StepFinished)}


def project_keys(url: str, project: str, kind: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    pattern = glob_escape(namespace(project)) + (f"{kind}:*" if kind != "*" else "*")
    return sorted(client.scan_iter(pattern))


def test_what_one_teammate_computed_the_other_gets_as_a_hit(teammate, team, redis_server, tmp_path):
    first = teammate("alice", redis_server.url).run()
    assert first["report"] == "total=45"
    assert executed(tmp_path) == ["load", "total", "report"]

    second = teammate("bob", redis_server.url).run()
    assert executed(tmp_path) == []
    assert {r.status for r in second.step_results.values()} == {StepStatus.CACHED}
    assert tiers(second) == {"load": "shared", "total": "shared", "report": "shared"}
    assert second["report"] == "total=45"  # the value comes from Redis, verified
    record = load_run(tmp_path / "bob")
    assert record["shared_hits"] == 3
    assert {s["name"]: s["tier"] for s in record["steps"]} == tiers(second)
    model = RunModel()  # the TUI's Why pane says where the hit came from
    for event in second.events:
        model.apply(event, 0.0)
    writer = f"{getpass.getuser()}@{socket.gethostname()}"
    assert model.rows["report"].reason == f"cached from the shared cache (written by {writer})"
    assert model.shared_hits() == 3  # the status line: "shared ✓ 3 hits"

    again = teammate("bob", redis_server.url).run()  # now backfilled: a local hit
    assert tiers(again) == {"load": None, "total": None, "report": None}
    assert again["report"] == "total=45"
    assert executed(tmp_path) == []


def _evil(marker: Path) -> bytes:
    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps(Boom())


def test_a_tampered_value_is_refused_never_unpickled_and_the_step_reruns(
    teammate, team, redis_server, tmp_path
):
    teammate("alice", redis_server.url).run()
    executed(tmp_path)
    client = redis.Redis.from_url(redis_server.url)
    marker = tmp_path / "pwned"
    for name in project_keys(redis_server.url, team, "v"):
        client.set(name, _evil(marker))

    bob = teammate("bob", redis_server.url)
    with pytest.warns(UserWarning, match="fails its SHA-256"):
        result = bob.run()
        assert result["report"] == "total=45"
    assert not marker.exists()
    assert "report" in executed(tmp_path)
    assert bob.store.shared.counts["refused"] >= 1


def test_a_tampered_entry_is_refused_and_the_steps_run(teammate, team, redis_server, tmp_path):
    teammate("alice", redis_server.url).run()
    executed(tmp_path)
    client = redis.Redis.from_url(redis_server.url)
    marker = tmp_path / "pwned"
    evil = _evil(marker)
    import hashlib

    evil_sha = hashlib.sha256(evil).hexdigest()
    client.set(namespace(team) + "v:" + parts(evil_sha), evil)
    for name in project_keys(redis_server.url, team, "e"):
        record = client.get(name)  # magic | sha256(payload) | hmac | payload
        header = record[68:]
        start = header.index(b'"sha256":["') + len(b'"sha256":["')
        forged = header[:start] + evil_sha.encode() + header[start + 64 :]
        # the forger fixes the payload's digest, but cannot make the HMAC without the secret
        client.set(name, record[:4] + hashlib.sha256(forged).digest() + record[36:68] + forged)

    bob = teammate("bob", redis_server.url)
    with pytest.warns(UserWarning, match="unsigned or signed with another secret"):
        result = bob.run()
    assert result["report"] == "total=45"
    assert not marker.exists()
    assert executed(tmp_path) == ["load", "total", "report"]
    assert bob.store.shared.counts["refused"] == 3


def test_an_entry_signed_with_another_secret_is_refused(
    teammate, team, redis_server, tmp_path, monkeypatch
):
    teammate("alice", redis_server.url).run()
    executed(tmp_path)
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "not-the-team-secret")
    bob = teammate("bob", redis_server.url)
    with pytest.warns(UserWarning, match="signed with another secret"):
        result = bob.run()
    assert result["report"] == "total=45"
    assert executed(tmp_path) == ["load", "total", "report"]
    assert tiers(result) == {"load": None, "total": None, "report": None}


def test_without_a_secret_the_shared_tier_is_not_used_and_the_user_is_told(
    teammate, redis_server, tmp_path, monkeypatch
):
    monkeypatch.delenv("FLOWYML_TUI_SECRET", raising=False)
    monkeypatch.delenv("FLOWYML_TUI_SECRET_FILE", raising=False)
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", "unsigned")
    with pytest.warns(UserWarning, match="SHARED CACHE NOT USED.*FLOWYML_TUI_SECRET"):
        store = open_store(tmp_path / "c", shared=redis_server.url + "?nosecret")
    assert type(store) is CacheStore
    with pytest.warns(UserWarning, match="SHARED CACHE NOT USED"):
        teammate("alice", redis_server.url).run()
    assert project_keys(redis_server.url, "unsigned", "*") == []


def test_a_secret_can_come_from_a_key_file(redis_server, tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWYML_TUI_SECRET", raising=False)
    key = tmp_path / "team.key"
    key.write_text("from-a-file\n")
    monkeypatch.setenv("FLOWYML_TUI_SECRET_FILE", str(key))
    store = open_store(tmp_path / "c", shared=redis_server.url)
    record = store.shared.signer.sign("a-key", "entry", b"payload")
    assert bytes(Signer(b"from-a-file").verify("a-key", "entry", record)) == b"payload"


def test_redis_killed_mid_run_warns_once_and_the_run_completes_locally(
    teammate, team, own_redis, tmp_path, monkeypatch
):
    monkeypatch.setenv("KILL_REDIS", str(own_redis.process.pid))
    monkeypatch.setenv("FLOWYML_TUI_SHARED_RETRY", "0.3")
    alice = teammate("alice", own_redis.url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = alice.run()
    assert not [w for w in caught if "unreachable" in str(w.message)]  # no Python warning...
    down = [e for e in result.events if isinstance(e, RunWarning) and "unreachable" in e.message]
    assert len(down) == 1  # ...one line in the run's own stream
    assert result["report"] == "total=45"
    assert executed(tmp_path) == ["load", "total", "report"]
    shared = alice.store.shared
    trips = shared.counts["round_trips"]
    alice.store.local.clear()  # nothing local: the run would ask Redis, but the breaker is open
    again = alice.run()
    assert again["report"] == "total=45"
    assert shared.counts["round_trips"] == trips
    assert executed(tmp_path) == ["load", "total", "report"]

    monkeypatch.delenv("KILL_REDIS")
    own_redis.start()  # Redis is back: once the retry time has passed, sharing resumes
    import time

    time.sleep(0.35)
    teammate("carol", own_redis.url).run()
    assert len(project_keys(own_redis.url, team, "e")) == 3


CHAIN = 20


def _chain_source() -> str:
    lines = ["from flowyml_tui import Pipeline, step", "", "pipeline = Pipeline('chain')"]
    for i in range(CHAIN):
        arg = f"v{i - 1}" if i else ""
        inputs = f"inputs=['v{i - 1}'], " if i else ""
        lines += [
            f"@step({inputs}outputs=['v{i}'])",
            f"def s{i}({arg}):",
            f"    return {arg + ' + ' if i else ''}{i}",
            f"pipeline.add_step(s{i})",
        ]
    return "\n".join(lines) + "\n"


def test_a_fully_cached_run_from_an_empty_local_store_costs_two_round_trips(
    write_file, load, team, own_redis, tmp_path
):
    path = write_file("chain.py", _chain_source())
    alice = load(path)
    alice.shared = own_redis.url
    alice.run()
    client = redis.Redis.from_url(own_redis.url)
    client.config_resetstat()

    bob = load(path)
    bob.cache_dir, bob.shared = tmp_path / "bob", own_redis.url
    result = bob.run()
    assert {r.status for r in result.step_results.values()} == {StepStatus.CACHED}
    calls = {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in client.info("commandstats").items()
    }
    for ours in ("config|resetstat", "info"):  # this test's own commands
        calls.pop(ours, None)
    calls.pop("hello", None)  # redis-py's handshake when it connects: once per process
    assert calls == {"zrevrange": CHAIN, "mget": 1}  # no GET: no value blob loaded
    assert bob.store.shared.counts["round_trips"] == 2


def test_a_value_over_the_size_cap_stays_local_and_stats_say_so(
    teammate, team, redis_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLOWYML_TUI_SHARED_MAX_VALUE", "30")
    alice = teammate("alice", redis_server.url)
    alice.run()
    load_key = alice.store.newest_entry("team", "load").key
    # `cache stats` in another process (a fresh handle) still says what was not shared
    shared = open_store(tmp_path / "alice", shared=redis_server.url).stats()["tiers"]["shared"]
    assert shared["not_shared"] == [load_key]  # `load`'s pickled list is 36 bytes
    assert shared["entries"] == 2


def test_clearing_a_step_removes_its_shared_entries(teammate, team, redis_server, tmp_path):
    alice = teammate("alice", redis_server.url)
    alice.run()
    assert alice.store.clear_step("report", pipeline="team") == 1
    assert len(project_keys(redis_server.url, team, "e")) == 2
    assert alice.store.clear_pipeline("team") == 2
    assert project_keys(redis_server.url, team, "e") == []
    alice.run()
    assert alice.store.clear_shared() > 0
    assert project_keys(redis_server.url, team, "*") == []


def test_every_shared_key_has_a_ttl(teammate, team, redis_server, monkeypatch):
    monkeypatch.setenv("FLOWYML_TUI_SHARED_TTL", "1234")
    teammate("alice", redis_server.url).run()
    client = redis.Redis.from_url(redis_server.url)
    names = project_keys(redis_server.url, team, "*")
    assert names and all(0 < client.ttl(n) <= 1234 for n in names)


def test_a_hung_redis_costs_one_bounded_timeout_then_the_run_goes_on(
    teammate, team, own_redis, tmp_path
):
    teammate("alice", own_redis.url).run()
    executed(tmp_path)
    os.kill(own_redis.process.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        bob = teammate("bob", own_redis.url)
        result = bob.run()
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
    assert result["report"] == "total=45"
    assert executed(tmp_path) == ["load", "total", "report"]
    assert bob.store.shared.counts["round_trips"] == 1  # one timeout, then the breaker
    (told,) = [e.message for e in result.events if isinstance(e, RunWarning)]
    assert "unreachable" in told and "Timeout" in told


def test_a_miss_locally_reads_through_and_backfills_the_entry_at_once(team, redis_server, tmp_path):
    from .test_store_contract import put

    alice = open_store(tmp_path / "alice", shared=redis_server.url)
    entry = put(alice, "p", "s", {"big": "result"})
    bob = open_store(tmp_path / "bob", shared=redis_server.url)
    assert bob.get_entry(entry.key) == entry
    assert bob.tier_of(entry.key) == "shared"
    assert bob.local.get_entry(entry.key) == entry  # the entry is local now; the value not yet
    assert bob.load_value(entry, 0) == {"big": "result"}
    assert open_store(tmp_path / "bob").load_value(entry, 0) == {"big": "result"}  # now local


def test_the_cli_shares_with_shared_and_cache_stats_reports_the_tier(
    write_file, team, redis_server, tmp_path, monkeypatch
):
    import subprocess
    import sys

    path = write_file("team.py", PIPELINE)
    monkeypatch.setenv("RAN_LOG", str(tmp_path / "ran.log"))

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flowyml_tui", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("run", str(path), "--cache-dir", str(tmp_path / "a"), "--shared", redis_server.url)
    out = cli("run", str(path), "--cache-dir", str(tmp_path / "b"), "--shared", redis_server.url)
    assert out.count("cached from the shared cache") == 3
    stats = cli("cache", "stats", "--cache-dir", str(tmp_path / "b"), "--shared", redis_server.url)
    assert f"shared {redis_server.url} (project {team}): 3 entries" in stats
