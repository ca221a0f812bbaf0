"""The blob tier against s3fs itself, on one S3 server (moto in server mode, on loopback).

Targets (issue #29):
- a big value (1 GB by default): upload and download at >= 80% of s3fs's own `put_file` /
  `get_file` throughput on the same server, peak memory <= 64 MB above the process's baseline;
  each transfer runs in a fresh child process (so one's heap does not inflate the next's
  baseline), ours and s3fs's interleaved, medians over the repeats;
- a fully cached 100-step DAG with ten big values (200 MB by default), on a fresh second cache
  dir sharing only the bucket: bytes downloaded, and index round trips (calls to the object
  store, each one listing or one concurrent batch) and HTTP requests (counted in the
  server's log).

    python benchmarks/bench_blobs.py [--size-mb 1024] [--repeats 3] [--dag-value-mb 200]

Needs `moto[server]` and `s3fs` (the test extra). Starts moto on a free loopback port and
stops it after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BUCKET = "bench-blobs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.02)
    raise SystemExit("moto server did not start")


def requests_logged(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "HTTP/1.1" in line)


# -- one transfer in a child process ----------------------------------------------------------


class PeakRss:
    """Resident memory sampled every 5 ms: the peak above the baseline taken at start."""

    def __init__(self) -> None:
        self.baseline = self._rss()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        return self.peak - self.baseline


def child(op: str, path: str, key: str) -> None:
    """Run one transfer and print {"seconds", "peak_mb"} as JSON."""
    import s3fs

    from flowyml_tui.engine.cache.blobs.breaker import Breaker
    from flowyml_tui.engine.cache.blobs.settings import S3_OPTIONS
    from flowyml_tui.engine.cache.blobs.store import BlobStore
    from flowyml_tui.engine.cache.notices import Notices

    url = f"s3://{BUCKET}/ours"
    # moto completes a 1 GB multipart upload slower than botocore's default 60 s read
    # timeout on this machine, and a retried CompleteMultipartUpload then collides with the
    # first one inside moto: both clients get a timeout that outlasts it.
    slow_server = {"read_timeout": 900, "retries": {"max_attempts": 1}}
    options = {**S3_OPTIONS, "config_kwargs": {**S3_OPTIONS["config_kwargs"], **slow_server}}
    store = BlobStore(url, Breaker(url, Notices()), **options)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, config_kwargs=slow_server)
    fs.ls(BUCKET)  # both clients connected before the clock starts
    store.fs.ls(BUCKET)
    size = os.path.getsize(path) if op.startswith("up") else int(key.split(":")[1])
    meter = PeakRss()
    start = time.perf_counter()
    if op == "up-ours":
        store.put_file(path)
    elif op == "down-ours":
        store.get_file(key.split(":")[0], size, path)
    elif op == "up-s3fs":
        fs.put_file(path, f"{BUCKET}/theirs/{key}")
    elif op == "down-s3fs":
        fs.get_file(f"{BUCKET}/theirs/{key.split(':')[0]}", path)
    seconds = time.perf_counter() - start
    peak = meter.stop()
    print(json.dumps({"seconds": seconds, "peak_mb": peak / 2**20, "bytes": size}))


def transfer(op: str, path: Path, key: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", op, str(path), key],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{op} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def big_value(root: Path, env: dict[str, str], size_mb: int, repeats: int) -> None:
    from flowyml_tui.engine.cache.blobs.store import sha256_file

    source = root / "value.bin"
    with source.open("wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(2**20))
    digest = sha256_file(source)
    size = source.stat().st_size
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    times: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}
    for repeat in range(repeats):
        pairs = [("ours", "s3fs"), ("s3fs", "ours")][repeat % 2]  # interleaved, order swapped
        for who in pairs:
            up = transfer(f"up-{who}", source, digest, env)
            dest = root / f"down-{who}.bin"
            down = transfer(f"down-{who}", dest, f"{digest}:{size}", env)
            if dest.stat().st_size != size:
                raise SystemExit(f"{who}: downloaded {dest.stat().st_size} bytes, not {size}")
            dest.unlink()
            for direction, found in (("up", up), ("down", down)):
                times.setdefault(f"{direction}-{who}", []).append(found["seconds"])
                peaks.setdefault(f"{direction}-{who}", []).append(found["peak_mb"])
            prefix = "ours/blobs/" if who == "ours" else "theirs/"
            for item in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
                client.delete_object(Bucket=BUCKET, Key=item["Key"])
    source.unlink()
    mb = size / 2**20
    print(f"\n{mb:.0f} MB value, {repeats} interleaved repeats (median; min-max spread):")
    for direction, name in (("up", "upload"), ("down", "download")):
        ours, theirs = times[f"{direction}-ours"], times[f"{direction}-s3fs"]
        rate_ours, rate_theirs = mb / statistics.median(ours), mb / statistics.median(theirs)
        print(
            f"  {name:<8} ours {rate_ours:7.1f} MB/s ({min(ours):.1f}-{max(ours):.1f} s), "
            f"s3fs {rate_theirs:7.1f} MB/s ({min(theirs):.1f}-{max(theirs):.1f} s): "
            f"{rate_ours / rate_theirs:.0%} of s3fs (target >= 80%)"
        )
        print(
            f"           peak memory above baseline: ours "
            f"{statistics.median(peaks[f'{direction}-ours']):.0f} MB (target <= 64), s3fs "
            f"{statistics.median(peaks[f'{direction}-s3fs']):.0f} MB"
        )


# -- the fully cached DAG --------------------------------------------------------------------


def dag_source(steps: int, big_every: int, value_mb: int) -> str:
    lines = [
        "import random",
        "from flowyml_tui import Pipeline, step",
        "pipeline = Pipeline('dag')",
    ]
    for i in range(steps):
        inputs = f"inputs=['v{i - 1}'], " if i else ""
        arg = f"v{i - 1}" if i else ""
        if i % big_every == 0:
            body = f"random.Random({i}).randbytes({value_mb} * 2**20)"
        elif (i - 1) % big_every == 0:
            body = f"len({arg})"  # consumes the big value before it
        else:
            body = f"{arg} + {i}"
        lines += [f"@step({inputs}outputs=['v{i}'])", f"def s{i}({arg}):", f"    return {body}"]
        lines.append(f"pipeline.add_step(s{i})")
    return "\n".join(lines) + "\n"


def fully_cached_dag(root: Path, log: Path, steps: int, value_mb: int) -> None:
    from flowyml_tui.engine.events import StepStatus
    from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline

    path = root / "dag.py"
    path.write_text(dag_source(steps, steps // 10, value_mb))
    url = f"s3://{BUCKET}/dag"

    def pipeline(cache: str):
        found = pick_pipeline(load_pipelines(path), None, path)
        found.cache_dir, found.blobs = root / cache, url
        return found

    start = time.perf_counter()
    pipeline("alice").run()
    shared_in = time.perf_counter() - start
    bob = pipeline("bob")
    store = bob.store
    before = requests_logged(log)
    start = time.perf_counter()
    result = bob.run()
    seconds = time.perf_counter() - start
    time.sleep(0.5)  # the server's log catches up
    requests = requests_logged(log) - before
    statuses = {r.status for r in result.step_results.values()}
    moved = store.shared.blob_values.store.counts
    trips = store.shared.breaker.round_trips
    print(
        f"\nfully cached {steps}-step DAG, ten {value_mb} MB values (alice computed and shared "
        f"it in {shared_in:.1f} s), on a fresh cache dir sharing only the bucket:"
    )
    print(
        f"  steps cached: {statuses == {StepStatus.CACHED}}; bytes downloaded: "
        f"{moved['downloaded_bytes']} (target 0); index round trips: {trips} (target <= 2); "
        f"HTTP requests: {requests}; wall {seconds:.2f} s"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dag-value-mb", type=int, default=200)
    parser.add_argument("--dag-steps", type=int, default=100)
    parser.add_argument("--skip-dag", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-blobs-"))
    log = root / "moto.log"
    process, endpoint = start_moto(log)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FLOWYML_TUI_SECRET": "bench-secret",
        "FLOWYML_TUI_PROJECT": "bench",
    }
    os.environ.update(env)
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        if not args.skip_big:
            big_value(root, env, args.size_mb, args.repeats)
        if not args.skip_dag:
            fully_cached_dag(root, log, args.dag_steps, args.dag_value_mb)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
