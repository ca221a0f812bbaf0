"""Shared-tier trouble reaches the run's event stream: one `RunWarning` per kind per run.

The TUI, the CLI and the run record read events, not Python warnings; against a real
redis-server (the `teammate` pipeline of test_shared_tier)."""

from __future__ import annotations

import pytest
import redis

from flowyml_tui.engine.events import RunWarning
from flowyml_tui.engine.history.records import load_run

from .test_shared_tier import executed, project_keys

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the Python warnings stay


def told(result, code: str) -> list[str]:
    return [e.message for e in result.events if isinstance(e, RunWarning) and e.code == code]


def quiet(pipeline):
    return pipeline.run()


def test_redis_down_is_one_run_warning_per_run_and_in_the_record(
    teammate, team, own_redis, tmp_path, monkeypatch
):
    monkeypatch.setenv("KILL_REDIS", str(own_redis.process.pid))
    alice = teammate("alice", own_redis.url)
    first = quiet(alice)
    assert first["report"] == "total=45"
    assert len(told(first, "shared_offline")) == 1
    assert "unreachable" in told(first, "shared_offline")[0]
    record = load_run(tmp_path / "alice")
    assert any("unreachable" in w["message"] for w in record["warnings"])
    alice.store.local.clear()  # the breaker is still open: the next run is told again, once
    second = quiet(alice)
    assert len(told(second, "shared_offline")) == 1
    executed(tmp_path)


def test_refused_entries_are_one_run_warning(teammate, team, redis_server, tmp_path, monkeypatch):
    teammate("alice", redis_server.url).run()
    executed(tmp_path)
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "not-the-team-secret")
    result = quiet(teammate("bob", redis_server.url))
    assert result["report"] == "total=45"
    refused = told(result, "shared_refused")
    assert len(refused) == 1  # three entries refused, one warning
    assert "signed with another secret" in refused[0]


def test_a_tampered_value_is_a_run_warning(teammate, team, redis_server, tmp_path):
    teammate("alice", redis_server.url).run()
    client = redis.Redis.from_url(redis_server.url)
    for name in project_keys(redis_server.url, team, "v"):
        client.set(name, b"not the pickle its header names")
    result = quiet(teammate("bob", redis_server.url))
    assert result["report"] == "total=45"
    assert ["SHA-256" in m for m in told(result, "shared_refused")] == [True]


def test_without_a_secret_every_run_is_told_the_shared_cache_is_not_used(
    teammate, redis_server, tmp_path, monkeypatch
):
    monkeypatch.delenv("FLOWYML_TUI_SECRET", raising=False)
    monkeypatch.delenv("FLOWYML_TUI_SECRET_FILE", raising=False)
    alice = teammate("alice", redis_server.url)
    for _ in range(2):
        result = quiet(alice)
        assert len(told(result, "shared_not_used")) == 1
        assert "SHARED CACHE NOT USED" in told(result, "shared_not_used")[0]


def test_a_value_over_the_size_cap_is_a_run_warning(
    teammate, team, redis_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLOWYML_TUI_SHARED_MAX_VALUE", "30")
    result = quiet(teammate("alice", redis_server.url))
    (message,) = told(result, "shared_not_shared")
    assert "step load" in message and "size cap" in message
