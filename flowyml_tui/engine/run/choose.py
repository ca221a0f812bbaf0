"""The runner a command line asks for: `--jobs N` and `--dask ADDRESS|local`.

Dask is imported only when `--dask` is given, so start-up of the CLI, TUI and workers does
not grow.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import SettingError

if TYPE_CHECKING:
    from .runner import StepRunner


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run up to N independent steps at once in local worker processes "
        "(default 1: one at a time, in this process)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run steps on the dask.distributed scheduler at ADDRESS, or 'local' for a "
        "LocalCluster started for this session (with --jobs N worker processes)",
    )


def runner_argv(jobs: int, dask: str | None) -> list[str]:
    """The same choice as arguments for a worker process."""
    argv = ["--jobs", str(jobs)] if jobs != 1 else []
    return argv + (["--dask", dask] if dask else [])


def check_jobs(jobs: int) -> None:
    """Refuse a `--jobs` that cannot mean a number of worker processes."""
    if jobs < 1:
        raise SettingError(
            f"--jobs must be at least 1, got {jobs}; pass --jobs 1 to run steps one at a time "
            "in this process, or --jobs N for N worker processes"
        )


def make_runner(jobs: int, dask: str | None) -> StepRunner | None:
    """The runner for these options, or None for the default (inline). Yours to close."""
    check_jobs(jobs)
    if dask:
        from .dask import DaskRunner

        if dask == "local":
            return DaskRunner.local(n_workers=jobs if jobs > 1 else None)
        return DaskRunner(address=dask)
    if jobs > 1:
        from .process import ProcessRunner

        return ProcessRunner(jobs)
    return None
