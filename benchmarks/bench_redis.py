"""The shared (Redis) tier: round trips of a fully cached run, and what a shared hit costs.

Targets (issue #11):
- a fully cached N-step run with an empty local store: at most 2 round trips for metadata,
  wall time printed beside the same run from the local store;
- a shared hit that needs its value: one round trip plus the transfer, for 1 MB and 100 MB,
  printed beside a bare GET and GET + SHA-256 + pickle.loads (the fair anchor);
- what catching up costs a fully cached local run in a fresh process (issue #24): one EXISTS
  round trip for all its entries, timed alone (nothing to upload), and after an outage the
  upload of every entry in one more.

    python benchmarks/bench_redis.py [--steps 1000]

Needs `redis-server` on PATH; starts one on a free loopback port and stops it after.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from flowyml_tui.engine.cache import open_store
from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH: apt-get install redis-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            return process, url
        except redis.ConnectionError:
            time.sleep(0.02)
    raise SystemExit("redis-server did not start")


def chain(steps: int) -> str:
    lines = ["from flowyml_tui import Pipeline, step", "pipeline = Pipeline('chain')"]
    for i in range(steps):
        arg = f"v{i - 1}" if i else ""
        inputs = f"inputs=['v{i - 1}'], " if i else ""
        body = f"{arg} + {i}" if i else "0"
        lines += [f"@step({inputs}outputs=['v{i}'])", f"def s{i}({arg}):", f"    return {body}"]
        lines.append(f"pipeline.add_step(s{i})")
    return "\n".join(lines) + "\n"


def cached_runs(root: Path, url: str, steps: int) -> None:
    path = root / "chain.py"
    path.write_text(chain(steps))

    def pipeline(cache: str):
        found = pick_pipeline(load_pipelines(path), None, path)
        found.cache_dir, found.shared = root / cache, url
        return found

    pipeline("alice").run()  # computes and shares every step
    local = pipeline("alice")
    warm = local.run()  # warm the code identity memo, as a second run would be
    start = time.perf_counter()
    local.run()
    local_s = time.perf_counter() - start
    keys = [r.key for r in warm.step_results.values()]
    fresh = open_store(root / "alice", shared=url)  # a new process asks about each entry once
    start = time.perf_counter()
    uploaded = fresh.catch_up(keys)
    check_s = time.perf_counter() - start
    redis.Redis.from_url(url).flushdb()  # as after an outage: Redis holds none of them
    fresh = open_store(root / "alice", shared=url)
    start = time.perf_counter()
    uploaded = fresh.catch_up(keys)
    upload_s = time.perf_counter() - start
    assert uploaded == steps, uploaded

    client = redis.Redis.from_url(url)
    bob = pipeline("bob")
    bob.store  # noqa: B018  # open it (and connect) before timing, as the TUI does
    client.config_resetstat()
    start = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        cProfile.runctx("bob.run()", globals(), locals(), sort="cumtime")
        return
    result = bob.run()
    shared_s = time.perf_counter() - start
    commands = {
        k.removeprefix("cmdstat_"): v["calls"] for k, v in client.info("commandstats").items()
    }
    commands.pop("config|resetstat", None)
    assert all(r.cached for r in result.step_results.values())
    print(f"fully cached {steps}-step run")
    print(f"  local store warm:            {local_s * 1e3:8.1f} ms")
    print(f"  catch-up check, fresh store: {check_s * 1e3:8.1f} ms  (connecting, then one EXISTS)")
    print(f"  catch-up after an outage:    {upload_s * 1e3:8.1f} ms  ({uploaded} entries uploaded)")
    print(
        f"  local store empty, Redis:    {shared_s * 1e3:8.1f} ms  "
        f"round trips {bob.store.shared.counts['round_trips']}  commands {commands}"
    )


def value_hits(root: Path, url: str) -> None:
    from tests.cache.test_store_contract import put  # one entry, written as a run would

    client = redis.Redis.from_url(url)
    for mb in (1, 100):
        value = os.urandom(mb * 2**20)
        alice = open_store(root / f"v{mb}-alice", shared=url)
        entry = put(alice, "p", f"big{mb}", value)
        sha = alice.shared._headers[entry.key].sha256[0]
        name = alice.shared._name("v", sha)
        bob = open_store(root / f"v{mb}-bob", shared=url)
        assert bob.shared.get_entry(entry.key) == entry

        def bare(name: str = name) -> None:
            client.get(name)

        def anchor(name: str = name) -> None:
            blob = client.get(name)
            hashlib.sha256(blob).hexdigest()
            pickle.loads(blob)

        def hit(bob=bob, entry=entry) -> None:
            bob.shared.load_value(entry, 0)

        print(f"a shared hit of a {mb} MB value (median of 7)")
        for label, fn in (("bare GET", bare), ("GET + SHA-256 + loads", anchor), ("hit", hit)):
            times = []
            for _ in range(7):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            print(f"  {label:<24} {statistics.median(times) * 1e3:8.2f} ms")
        trips = bob.shared.counts["round_trips"]
        bob.shared.load_value(entry, 0)
        print(f"  round trips per hit: {bob.shared.counts['round_trips'] - trips}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("FLOWYML_TUI_SECRET", "bench-secret")
    os.environ.setdefault("FLOWYML_TUI_PROJECT", "bench")
    os.environ.setdefault("FLOWYML_TUI_SHARED_MAX_VALUE", str(200 * 2**20))  # for the 100 MB hit
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        process, url = start_server(root)
        try:
            cached_runs(root, url, args.steps)
            value_hits(root, url)
        finally:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
