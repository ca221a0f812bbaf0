"""The output of the run that produced a cached entry, found in the run records.

A cached step printed nothing in this run, but the run that wrote its entry did, and its record
kept the tail (and the path of the whole log). Reading records is disk work: the app calls this
from a thread worker.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

from flowyml_tui.engine.history.records import RunRecordError, RunRecordWarning, load_runs

from .state import OriginLog

MAX_RECORDS = 50
"""Records searched, newest first: as many as are kept by default."""


def producing_logs(
    cache_dir: str | Path, pipeline: str, keys: Mapping[str, str]
) -> dict[str, OriginLog]:
    """Step -> the log of the newest run that executed it with that entry key (step -> key)."""
    wanted = dict(keys)
    found: dict[str, OriginLog] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunRecordWarning)  # an unreadable record: look on
        try:
            records = load_runs(cache_dir)[:MAX_RECORDS]  # each read once, newest first
        except (RunRecordError, OSError):
            return found
        for record in records:
            if not wanted:
                break
            if record.get("pipeline") != pipeline:
                continue
            for step in record.get("steps", []):
                name = step.get("name")
                if name not in wanted or step.get("cached") or step.get("key") != wanted[name]:
                    continue
                log = step.get("log") or {}
                found[name] = OriginLog(
                    record["run_id"],
                    tuple(log.get("lines") or ()),
                    int(log.get("total_lines") or 0),
                    log.get("file"),
                )
                del wanted[name]
    return found
