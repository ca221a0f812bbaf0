"""Ours beside joblib.Memory, Hamilton (`.with_cache()`) and pipefunc (disk cache): one table.

Chains of trivial steps (each its own function), for each size three figures:
  cold            the first run into an empty cache folder, in-process (pipeline already built)
  cached          a fully cached re-run in the same process (ours writes its run record too)
  fresh process   a fully cached run in a new interpreter: start-up, imports, build and run
Repeats are interleaved (every system once per round, the order rotating), medians printed,
and each peer's ratio to ours (>1: we are faster). Peers missing from the environment are left
out; install them with `pip install -e '.[bench]'`. Prints figures only.

    python benchmarks/bench_peers.py [--steps 100 1000] [--repeat 7] [--fresh 3]
        [--peers pipefunc joblib.Memory] [--figures cached]

`--peers` and `--figures` narrow a run (flowyml-tui is always in it): pipefunc's 1000-step
`Pipeline` takes minutes to build on a loaded machine, and each cold round builds another.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import peer_chains

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return [
        name
        for name in peer_chains.SOURCES
        if name not in peer_chains.PEER_PACKAGES
        or importlib.util.find_spec(peer_chains.PEER_PACKAGES[name]) is not None
    ]


class Subject:
    """One system on one chain: its file, a warm cache for the re-runs, fresh ones for cold."""

    def __init__(self, name: str, steps: int, work: Path) -> None:
        self.name, self.steps, self.work = name, steps, work
        slug = name.split(".")[0].lower().replace("-", "_")
        self.path = work / f"{slug}_{steps}.py"
        self.path.write_text(peer_chains.SOURCES[name](steps))
        old = time.time() - 60  # saved a minute ago, as a pipeline one re-runs usually is
        os.utime(self.path, (old, old))
        self.module = peer_chains.load(self.path)
        self.warm_dir = work / f"{slug}_{steps}_warm"
        self.warm = self.module._make(str(self.warm_dir))
        self._check(self.warm())
        self.colds = 0
        self.times: dict[str, list[float]] = {"cold": [], "cached": [], "fresh process": []}
        self.over: set[str] = set()

    def _check(self, value: object) -> None:
        assert value == self.steps - 1, f"{self.name}: chain returned {value!r}"

    def cold(self) -> None:
        self.colds += 1
        run = self.module._make(str(self.work / f"{self.path.stem}_cold{self.colds}"))
        started = time.perf_counter()
        value = run()
        self.times["cold"].append(time.perf_counter() - started)
        self._check(value)

    def cached(self) -> None:
        started = time.perf_counter()
        value = self.warm()
        self.times["cached"].append(time.perf_counter() - started)
        self._check(value)

    def fresh(self, limit: float) -> None:
        """A new interpreter's cached run; one that takes over `limit` seconds is stopped
        and counted as `limit` (the table then says "over")."""
        command = [sys.executable, str(HERE / "peer_chains.py"), str(self.path), str(self.warm_dir)]
        started = time.perf_counter()
        try:
            out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            self.times["fresh process"].append(limit)
            self.over.add("fresh process")
            return
        self.times["fresh process"].append(time.perf_counter() - started)
        self._check(int(out.stdout.split()[1]))


def measure(
    steps: int,
    repeat: int,
    fresh: int,
    work: Path,
    limit: float,
    names: list[str],
    figures: tuple[str, ...] = ("cold", "cached", "fresh process"),
) -> list[Subject]:
    subjects = [Subject(name, steps, work) for name in names]
    for round_ in range(repeat):
        turn = subjects[round_ % len(subjects) :] + subjects[: round_ % len(subjects)]
        for subject in turn:
            subject.cached()
        if "cold" in figures:
            for subject in turn:
                subject.cold()
        if round_ < fresh and "fresh process" in figures:
            for subject in turn:
                subject.fresh(limit)
    return subjects


def spread(times: list[float]) -> float:
    """How noisy: the interquartile range over the median."""
    if len(times) < 4:
        return (max(times) - min(times)) / statistics.median(times)
    q1, _, q3 = statistics.quantiles(times, n=4)
    return (q3 - q1) / statistics.median(times)


def table(results: dict[int, list[Subject]]) -> str:
    names = [s.name for s in next(iter(results.values()))]
    head = "| steps | figure | " + " | ".join(names) + " |"
    rows = [head, "|" + "---|" * (len(names) + 2)]
    noise = []
    for steps, subjects in results.items():
        for figure in ("cold", "cached", "fresh process"):
            if not subjects[0].times[figure]:  # not measured this run (`--figures`)
                continue
            ours = statistics.median(subjects[0].times[figure])
            cells = [f"{ours * 1e3:.2f} ms"]
            for peer in subjects[1:]:
                theirs = statistics.median(peer.times[figure])
                over = "over " if figure in peer.over else ""
                cells.append(f"{over}{theirs * 1e3:.2f} ms ({over}{theirs / ours:.1f}x)")
            rows.append(f"| {steps} | {figure} | " + " | ".join(cells) + " |")
            noise += [spread(s.times[figure]) for s in subjects]
    rows.append("")
    rows.append(
        f"medians; (Nx) = the peer's time over ours. Noise: interquartile range / median "
        f"{min(noise):.0%} to {max(noise):.0%}"
    )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--fresh", type=int, default=3, help="fresh-process rounds")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a fresh run may take")
    parser.add_argument("--peers", nargs="+", help="only these peers (names as in the table)")
    parser.add_argument(
        "--figures", nargs="+", default=["cold", "cached", "fresh process"], help="cached, ..."
    )
    args = parser.parse_args()
    names = [
        name
        for name in available()
        if args.peers is None or name == "flowyml-tui" or name in args.peers
    ]
    missing = [n for n, pkg in peer_chains.PEER_PACKAGES.items() if n not in available()]
    if missing:
        print(f"not installed, left out: {', '.join(missing)} (pip install -e '.[bench]')")
    results: dict[int, list[Subject]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for steps in args.steps:
            results[steps] = measure(
                steps, args.repeat, args.fresh, Path(tmp), args.limit, names, tuple(args.figures)
            )
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.repeat} rounds")
    print(table(results))
    per_step = {
        steps: statistics.median(s[1].times["cached"]) / statistics.median(s[0].times["cached"])
        for steps, s in results.items()
        if len(s) > 1 and s[1].name == "joblib.Memory"
    }
    for steps, ratio in per_step.items():
        print(f"cached re-run, {steps} steps: joblib's time per step is {ratio:.1f}x ours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
