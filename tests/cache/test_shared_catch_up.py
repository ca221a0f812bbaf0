"""After an outage the shared tier catches up, and the outage itself is one line per run.

Against a real redis-server, with the CLI as a user runs it: machine A runs while Redis is
down (one warning line, no Python warning), Redis comes back, A runs again (every step a local
hit: the entries the shared tier lacks are found at the run's end by one EXISTS of them all,
then named and uploaded), and then machine B, with its own cache dir, executes nothing."""

from __future__ import annotations

import redis

from flowyml_tui.engine.cache import open_store
from tests.cli_process import run_cli

from .test_shared_tier import PIPELINE, executed, project_keys


def _commands(client: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in client.info("commandstats").items()
    }


def test_redis_down_is_one_line_and_afterwards_a_teammate_executes_nothing(
    write_file, team, own_redis, tmp_path, monkeypatch
):
    path = write_file("team.py", PIPELINE)
    monkeypatch.setenv("RAN_LOG", str(tmp_path / "ran.log"))

    def run(machine: str):
        done = run_cli("run", path, "--cache-dir", tmp_path / machine, "--shared", own_redis.url)
        assert done.returncode == 0, done.stderr
        return done

    own_redis.stop()
    down = run("alice")
    told = (down.stdout + down.stderr).splitlines()
    assert len([line for line in told if "unreachable" in line]) == 1, told
    assert "UserWarning" not in down.stderr and "Warning:" not in down.stderr
    assert executed(tmp_path) == ["load", "total", "report"]

    own_redis.start()
    client = redis.Redis.from_url(own_redis.url)
    assert project_keys(own_redis.url, team, "e") == []  # written while Redis was down
    client.config_resetstat()
    back = run("alice")
    assert executed(tmp_path) == []  # every step a local hit...
    assert "unreachable" not in back.stdout + back.stderr
    assert len(project_keys(own_redis.url, team, "e")) == 3  # ...and uploaded at its end
    calls = _commands(client)
    assert calls.get("exists") == 1 + 3 and calls.get("exec") == 1  # who lacks, one upload

    bob = run("bob")
    assert executed(tmp_path) == []  # the teammate computes nothing
    assert bob.stdout.count("cached from the shared cache") == 3

    client.config_resetstat()
    run("alice")  # nothing lacking now: one EXISTS of all three, no upload
    calls = _commands(client)
    assert calls.get("exists") == 1 and "exec" not in calls and "set" not in calls


def test_catch_up_leaves_out_values_over_the_size_cap(team, own_redis, tmp_path, monkeypatch):
    from .test_store_contract import put

    monkeypatch.setenv("FLOWYML_TUI_SHARED_MAX_VALUE", "100")
    local = open_store(tmp_path / "alice")
    small = put(local, "p", "small", "x")
    big = put(local, "p", "big", "y" * 500)
    local.close()
    alice = open_store(tmp_path / "alice", shared=own_redis.url)
    assert alice.catch_up([small.key, big.key]) == 1
    assert alice.shared.lacking([small.key, big.key]) == [big.key]
    bob = open_store(tmp_path / "bob", shared=own_redis.url)
    assert bob.load_value(bob.get_entry(small.key), 0) == "x"
    assert alice.catch_up([small.key, big.key]) == 0  # small is known to be there, big never goes


def test_a_long_outage_is_uploaded_in_bounded_batches(team, own_redis, tmp_path, monkeypatch):
    from flowyml_tui.engine.cache import tiered

    from .test_store_contract import put

    monkeypatch.setenv("FLOWYML_TUI_SHARED_MAX_VALUE", "100")
    monkeypatch.setattr(tiered, "UPLOAD_BATCH", 100)
    local = open_store(tmp_path / "alice")
    entries = [put(local, "p", f"s{i}", "v" * 40) for i in range(5)]  # ~55 bytes each
    local.close()
    client = redis.Redis.from_url(own_redis.url)
    client.config_resetstat()
    alice = open_store(tmp_path / "alice", shared=own_redis.url)
    assert alice.catch_up([e.key for e in entries]) == 5
    assert _commands(client)["exec"] == 5  # one entry a batch under a 100-byte bound
    assert alice.shared.lacking([e.key for e in entries]) == []
