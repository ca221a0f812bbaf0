"""How long a running step will likely take: the median of its recent executed durations.

Read from the run records (`<cache_dir>/runs/*.json`, newest first), decoding only the few
fields needed, so a run start costs a few milliseconds in a thread worker. Cached and failed
runs of a step say nothing about how long it takes, so only executed ones count.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from statistics import median

import msgspec

from flowyml_tui.engine.history.records import runs_dir

RECORDS_READ = 20
"""Newest records looked at: enough for a few executions of each step."""
DURATIONS_USED = 5
"""Executed durations per step the median is taken over: recent enough to follow a change."""


class _Step(msgspec.Struct):
    name: str
    status: str = ""
    duration_seconds: float = 0.0


class _Record(msgspec.Struct):
    pipeline: str = ""
    steps: list[_Step] = []


_DECODER = msgspec.json.Decoder(_Record)
_READ: dict[str, tuple[tuple[int, int], str, list[tuple[str, float]]]] = {}
"""Path -> (mtime_ns, size), pipeline and executed durations of a record already decoded: a
record never changes once written, and a 1000-step pipeline's 20 records took ~57 ms of the
GIL to decode at every run start."""
_READ_LOCK = threading.Lock()


def expected_durations(cache_dir: str | Path, pipeline: str) -> dict[str, float]:
    """Step -> its expected duration in seconds, for steps executed in recent recorded runs."""
    directory = runs_dir(cache_dir)
    try:
        with os.scandir(directory) as entries:
            files = []
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    st = entry.stat()
                    files.append((st.st_mtime_ns, st.st_size, entry.path))
    except OSError:
        return {}
    files.sort(reverse=True)
    durations: dict[str, list[float]] = {}
    for mtime_ns, size, path in files[:RECORDS_READ]:
        read = _executed(path, (mtime_ns, size))
        if read is None or read[0] != pipeline:
            continue
        for name, seconds in read[1]:
            seen = durations.setdefault(name, [])
            if len(seen) < DURATIONS_USED:
                seen.append(seconds)
    return {name: median(seen) for name, seen in durations.items()}


def _executed(path: str, stamp: tuple[int, int]) -> tuple[str, list[tuple[str, float]]] | None:
    """A record's pipeline and its executed steps' durations, decoded once per version."""
    with _READ_LOCK:
        known = _READ.get(path)
    if known is not None and known[0] == stamp:
        return known[1], known[2]
    try:
        record = _DECODER.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None  # a bad record says nothing; `runs` reports it
    executed = [
        (step.name, step.duration_seconds)
        for step in record.steps
        if step.status == "executed" and step.duration_seconds > 0
    ]
    with _READ_LOCK:
        if len(_READ) >= 4 * RECORDS_READ:  # records pruned from disk: forget them too
            _READ.clear()
        _READ[path] = (stamp, record.pipeline, executed)
    return record.pipeline, executed


def coarse(seconds: float) -> str:
    """ "9s", "45s", "3m", "2h": a remaining time is a guess, shown as one."""
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))}s"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)}m"
    return f"{math.ceil(seconds / 3600)}h"


def remaining_text(elapsed: float, expected: float | None) -> str:
    """What a running step's row says about its end: "~9s left", or "over 12s" once it has
    run longer than it usually takes; empty without an estimate. At most 8 characters."""
    if expected is None:
        return ""
    left = expected - elapsed
    if left <= 0:
        return f"over {coarse(expected)}"
    text = coarse(left)
    return f"~{text} left" if len(text) < 3 else f"{text} left"
