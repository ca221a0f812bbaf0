"""The output of the run that produced a cached entry, found in the run records.

A cached step printed nothing in this run, but the run that wrote its entry did, and its record
kept the tail (and the path of the whole log). Reading records is disk work: the app calls this
from a thread worker.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

from flowyml_tui.engine.history.records import RunRecordError, RunRecordWarning, list_runs, load_run

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
            summaries = list_runs(cache_dir, limit=MAX_RECORDS)
        except (RunRecordError, OSError):
            return found
        for summary in summaries:
            if not wanted:
                break
            if summary.pipeline != pipeline:
                continue
            try:
                record = load_run(cache_dir, summary.run_id)
            except (RunRecordError, OSError):
                continue
            for step in record.get("steps", []):
                name = step.get("name")
                if name not in wanted or step.get("cached") or step.get("key") != wanted[name]:
                    continue
                log = step.get("log") or {}
                found[name] = OriginLog(
                    summary.run_id,
                    tuple(log.get("lines") or ()),
                    int(log.get("total_lines") or 0),
                    log.get("file"),
                )
                del wanted[name]
    return found
