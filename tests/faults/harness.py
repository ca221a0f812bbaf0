"""Fault injection against a real cache: writers killed with SIGKILL at random points, writers
racing `clear`/`pin` from other processes. Used by the CI tests (small counts) and by
`scripts/fault_injection.py` (counts from the command line).

Every value a run produces says what it must be: step `make` returns ``(n, payload(n))`` and
`flip` returns ``(n, payload(n)[::-1])``, so any loaded value can be checked on its own.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

PAYLOAD_BYTES = 1 << 20
"""Big enough that diskcache keeps each value as its own file (the orphan case)."""

PIPELINE = textwrap.dedent(
    """
    import random
    from flowyml_tui import Pipeline, step

    SIZE = {size}

    def payload(n):
        return random.Random(n).randbytes(SIZE)

    @step(outputs=["made"])
    def make(n: int = 0):
        return (n, payload(n))

    @step(inputs=["made"], outputs=["flipped"])
    def flip(made):
        return (made[0], made[1][::-1])

    pipeline = Pipeline("faults")
    pipeline.add_step(make).add_step(flip)
    """
)

WRITER = textwrap.dedent(
    """
    import random, sys, time, warnings
    warnings.simplefilter("ignore")
    from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline
    path, cache_dir, seed, offset, values, seconds = sys.argv[1:7]
    pipeline = pick_pipeline(load_pipelines(path), None, path)
    pipeline.cache_dir = cache_dir
    rng = random.Random(int(seed))
    print("ready", flush=True)
    end = time.monotonic() + float(seconds)
    runs = 0
    while time.monotonic() < end:
        n = int(offset) + rng.randrange(int(values))
        result = pipeline.run(context={{"n": n}})
        made, flipped = result["made"], result["flipped"]
        # A pin serves its entry whatever the inputs; and a pinned entry cleared by another
        # process after the run is re-run from the current inputs when loaded: then only
        # each value's own consistency can be checked, not that it matches n.
        pinned = any(
            r.status.value == "pinned" or r.reason.startswith("corrupt cache entry")
            for r in result.step_results.values()
        )
        ok = made == (made[0], random.Random(made[0]).randbytes({size}))
        ok = ok and flipped == (flipped[0], random.Random(flipped[0]).randbytes({size})[::-1])
        ok = ok and (pinned or made[0] == flipped[0] == n)
        if not ok:
            states = {{k: (r.status.value, r.reason) for k, r in result.step_results.items()}}
            print(
                f"WRONG VALUE for n={{n}}: made n={{made[0]}} ok="
                f"{{made == (made[0], random.Random(made[0]).randbytes({size}))}}, flipped "
                f"n={{flipped[0]}} ok="
                f"{{flipped[1] == random.Random(flipped[0]).randbytes({size})[::-1]}} {{states}}",
                flush=True,
            )
            sys.exit(3)
        runs += 1
    print(f"runs {{runs}}", flush=True)
    """
)

MEDDLER = textwrap.dedent(
    """
    import random, sys, time, warnings
    warnings.simplefilter("ignore")
    from flowyml_tui.engine.cache import open_store
    from flowyml_tui.engine.errors import FlowymlError
    cache_dir, seed, seconds = sys.argv[1:4]
    rng = random.Random(int(seed))
    print("ready", flush=True)
    end = time.monotonic() + float(seconds)
    actions = 0
    while time.monotonic() < end:
        store = open_store(cache_dir)
        try:
            choice = rng.randrange(5)
            if choice == 0:
                store.clear()
            elif choice == 1:
                store.pin(rng.choice(["make", "flip"]), pipeline="faults")
            elif choice == 2:
                store.unpin(rng.choice(["make", "flip"]), pipeline="faults")
            elif choice == 3:
                store.clear_step(rng.choice(["make", "flip"]), pipeline="faults")
            else:
                store.gc()
            actions += 1
        except FlowymlError:
            pass  # nothing to pin yet
        finally:
            store.close()
        time.sleep(rng.uniform(0.0, 0.05))
    print(f"actions {actions}", flush=True)
    """
)


def payload(n: int, size: int = PAYLOAD_BYTES) -> bytes:
    return random.Random(n).randbytes(size)


def write_pipeline(directory: Path, size: int = PAYLOAD_BYTES) -> Path:
    path = directory / "faults_pipeline.py"
    path.write_text(PIPELINE.format(size=size))
    return path


def _python(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() != "ready":
        raise AssertionError(f"helper process did not start: {line!r} {proc.stderr.read()}")


@dataclass
class KillReport:
    kills: int = 0
    loads_checked: int = 0
    wrong_values: list[str] = field(default_factory=list)
    dead_writer_markers: int = 0
    """Kills of a writer that had written (its marker was left behind for the next open)."""
    orphan_bytes_after_gc: int = 0
    problems: list[str] = field(default_factory=list)


def check_store(cache_dir: Path, report: KillReport, size: int = PAYLOAD_BYTES) -> None:
    """Load every value the store holds; each must be exactly what its step computes."""
    from flowyml_tui.engine.cache import CorruptEntry, open_store

    store = open_store(cache_dir)
    try:
        for info in store.entries():
            entry = store.get_entry(info.key)
            if entry is None:
                continue
            try:
                value = store.load_value(entry, 0)
            except CorruptEntry:
                continue  # a miss is fine; a wrong value is not
            report.loads_checked += 1
            n, blob = value
            expected = payload(n, size)
            if blob != (expected if info.step == "make" else expected[::-1]):
                report.wrong_values.append(f"{info.step} n={n} key={info.key}")
    finally:
        store.close()


def kill_writers(
    cache_dir: Path, pipeline_file: Path, kills: int, seed: int, size: int = PAYLOAD_BYTES
) -> KillReport:
    """Start a writer, SIGKILL it at a random point of its runs, check the store; `kills`
    times. Then one `gc`: nothing it can find may be left."""
    from flowyml_tui.engine.cache import open_store

    rng = random.Random(seed)
    report = KillReport()
    store_dir = cache_dir / "store"
    for round_ in range(kills):
        writer = _python(
            WRITER.format(size=size), pipeline_file, cache_dir, round_, round_ * 1000, 50, 60
        )
        _wait_ready(writer)
        time.sleep(rng.uniform(0.01, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        writer.stderr.close()
        report.kills += 1
        if store_dir.is_dir():
            report.dead_writer_markers += sum(
                1 for name in os.listdir(store_dir) if name.startswith(".writing-")
            )
        check_store(cache_dir, report, size)
        if round_ % 8 == 7 and round_ < kills - 8:  # the last rounds' leftovers stay for gc
            store = open_store(cache_dir)
            store.clear()  # keep the disk bounded; the next writer starts from nothing
            store.close()
    store = open_store(cache_dir)
    store.gc()
    report.orphan_bytes_after_gc = store.disk_usage()["orphans"]
    store.close()
    return report


@dataclass
class RaceReport:
    writer_runs: int = 0
    meddler_actions: int = 0
    failures: list[str] = field(default_factory=list)


def race(
    cache_dir: Path,
    pipeline_file: Path,
    seconds: float,
    writers: int = 2,
    meddlers: int = 1,
    size: int = PAYLOAD_BYTES,
) -> RaceReport:
    """Writers running the pipeline (checking every value they get) while other processes
    clear, pin, unpin and gc the same cache."""
    report = RaceReport()
    procs = [
        _python(WRITER.format(size=size), pipeline_file, cache_dir, i, 0, 8, seconds)
        for i in range(writers)
    ]
    procs += [_python(MEDDLER, cache_dir, 100 + i, seconds) for i in range(meddlers)]
    for proc in procs:
        _wait_ready(proc)
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            report.failures.append(f"exit {proc.returncode}: {out[-500:]} {err[-2000:]}")
            continue
        for line in out.splitlines():
            word, _, count = line.partition(" ")
            if word == "runs":
                report.writer_runs += int(count)
            elif word == "actions":
                report.meddler_actions += int(count)
    return report
