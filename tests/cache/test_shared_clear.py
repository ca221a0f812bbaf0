"""`cache clear` and the shared tier: only with --shared does it delete the project's keys."""

from __future__ import annotations

import redis

from flowyml_tui.engine.cache.redis_tier import namespace
from tests.cli_process import run_cli

from .test_shared_tier import project_keys


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    done = run_cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cache_clear_touches_the_shared_tier_only_with_shared(
    teammate, team, redis_server, tmp_path
):
    teammate("alice", redis_server.url).run()
    client = redis.Redis.from_url(redis_server.url)
    theirs = namespace(f"{team}:e") + "e:1:k"  # a project whose name starts like ours
    client.set(theirs, b"theirs")  # another project's key stays
    cache = str(tmp_path / "alice")
    shared_keys = len(project_keys(redis_server.url, team, "*"))
    assert shared_keys > 3

    out = cli(
        "cache",
        "clear",
        "--yes",
        "--cache-dir",
        cache,
        env={"FLOWYML_TUI_SHARED": redis_server.url},
    )
    assert f"the shared cache at {redis_server.url} was not touched" in out
    assert f"--shared {redis_server.url}" in out
    assert len(project_keys(redis_server.url, team, "*")) == shared_keys

    teammate("alice", redis_server.url).run()  # the local entries back
    out = cli("cache", "clear", "--shared", redis_server.url, "--yes", "--cache-dir", cache)
    assert f"and {shared_keys} keys of project {team} from the shared cache" in out
    assert project_keys(redis_server.url, team, "*") == []
    assert client.get(theirs) == b"theirs"
    assert "no cached entries" in cli("cache", "ls", "--cache-dir", cache)
