"""What recording a step's file reads costs (issue: a step's result follows the files it reads).

Each figure is printed beside the same pipeline with recording off (`track_reads=False`), in
the same run, interleaved, medians:

1. Deciding a cached step that read N small files (default 2,000): one `stat` per file, no
   hashing. Printed: µs per recorded file more than with recording off. Target: <= 10 µs.
2. A step that reads M files of 10 KB (default 1,000) executing, fresh cache each time:
   whole `run()` with recording on vs off. Target: at most 10% slower. Its floor: each file
   is read once more after the step to digest the bytes it saw (`digest pass` is printed:
   opening, reading and hashing the same files, alone), so a step that does nothing but read
   files pays about that pass again.
3. The same files parsed as CSV by the step (what a real loader does with what it reads).

The fully cached 1000-step chain (no reads) is `bench_cached_chain.py` and, counted in
instructions, `bench_instructions.py`.

    python benchmarks/bench_reads.py [--files 2000] [--big 1000] [--repeat 9]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from flowyml_tui.engine.load.loader import load_pipelines

PIPELINE = """
import os
from flowyml_tui import Pipeline, step

FOLDER = {folder!r}

@step(outputs=["total"], track_reads={track})
def read_all():
    total = 0
    for name in sorted(os.listdir(FOLDER)):
        with open(os.path.join(FOLDER, name), "rb") as f:
            total += {body}
    return total

pipeline = Pipeline("reads_{track}").add_step(read_all)
"""


def make_files(folder: Path, count: int, size: int, csv: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    row = b"2026-12-06,widget,17,3.25\n"
    for i in range(count):
        data = (row * (size // len(row) + 1))[:size] if csv else bytes([i % 251]) * size
        (folder / f"f{i:05d}.dat").write_bytes(data)


READ = "len(f.read())"
PARSE = "sum(len(row) for row in csv.reader(io.TextIOWrapper(f)))"


def pipeline_for(root: Path, folder: Path, track: bool, body: str = READ):
    path = root / f"pipe_{track}_{len(body)}.py"
    source = PIPELINE.format(folder=str(folder), track=track, body=body)
    path.write_text(source.replace("import os\n", "import csv, io, os\n", 1))
    (pipeline,) = load_pipelines(path).values()
    pipeline.cache_dir = root / f"cache_{track}"
    return pipeline


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def cached_decision(root: Path, files: int, repeat: int) -> None:
    folder = root / "small"
    make_files(folder, files, 100)
    on, off = pipeline_for(root, folder, True), pipeline_for(root, folder, False)
    assert on.run()["total"] == off.run()["total"] == files * 100
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeat):
        for track, pipeline in ((True, on), (False, off)):
            result = None

            def run(pipeline=pipeline):
                nonlocal result
                result = pipeline.run()

            times[track].append(timed(run))
            assert result is not None and result.step_results["read_all"].cached
    with_reads, without = statistics.median(times[True]), statistics.median(times[False])
    per_file = (with_reads - without) / files * 1e6
    print(
        f"cached step that read {files} files: recording on {with_reads * 1e3:.2f} ms, "
        f"off {without * 1e3:.2f} ms  ->  {per_file:.2f} µs per recorded file (target <= 10)"
    )


def digest_pass(folder: Path, repeat: int) -> float:
    """Opening, reading and hashing the files once, alone: what recording adds at the least."""
    from flowyml_tui.engine.reads.snapshot import file_digest

    paths = [str(p) for p in sorted(folder.iterdir())]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for path in paths:
            file_digest(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def executing(root: Path, count: int, repeat: int, body: str, what: str) -> None:
    folder = root / "big"
    if not folder.exists():
        make_files(folder, count, 10 * 1024, csv=True)
    times: dict[bool, list[float]] = {True: [], False: []}
    for attempt in range(repeat):
        for track in (True, False):
            pipeline = pipeline_for(root, folder, track, body)
            pipeline.cache_dir = root / f"cache_{track}_{attempt}_{len(body)}"  # never opened
            result = None

            def run(pipeline=pipeline):
                nonlocal result
                result = pipeline.run()

            times[track].append(timed(run))
            assert result is not None and not result.step_results["read_all"].cached
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"step {what} {count} files of 10 KB, executed: recording on {on * 1e3:.1f} ms, "
        f"off {off * 1e3:.1f} ms  ->  {on / off:.3f}x (target <= 1.10x); "
        f"digest pass alone {digest_pass(folder, repeat) * 1e3:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-reads-"))
    try:
        cached_decision(root, args.files, args.repeat)
        executing(root, args.big, args.repeat, READ, "reading")
        executing(root, args.big, args.repeat, PARSE, "parsing as CSV")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
