"""`flowyml-tui run FILE`: one run, headless, a line per step as it finishes; for scripts and CI."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ..engine.cache.sharing import check_shared_settings
from ..engine.display import STATUS_SYMBOLS, format_calls, format_duration, plural
from ..engine.events import (
    Event,
    RunFinished,
    RunStarted,
    RunWarning,
    StepFinished,
    StepLog,
    StepStarted,
    StepStatus,
)
from ..engine.executor import StepPlan
from ..engine.loader import load_pipelines, pick_pipeline
from ..engine.result import RunResult
from ..engine.run.choose import add_runner_arguments, check_jobs, make_runner
from ..engine.totals import format_rate
from ..startup import paused_gc
from .common import add_cache_dir, add_shared, parse_context
from .processes import RunProcesses

WORDS = {StepStatus.EXECUTED: "ran"}
"""How a status reads in the run log, where it differs from its name."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a Python file that defines a Pipeline")
    parser.add_argument(
        "--pipeline", metavar="NAME", help="which pipeline, if the file has several"
    )
    add_cache_dir(parser, default=None)
    add_shared(parser)
    parser.add_argument("--no-cache", action="store_true", help="run every step, cache nothing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would run and why; run nothing"
    )
    parser.add_argument(
        "-c",
        "--context",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a run context value (repeatable); VALUE is parsed as JSON when it can be",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="echo each step's output as it runs"
    )
    add_runner_arguments(parser)


def main(args: argparse.Namespace) -> int:
    check_jobs(args.jobs)  # settings first: a mistake costs no import of the user's file
    if not args.no_cache:
        check_shared_settings(args.shared)
    with paused_gc():  # importing the user's file is start-up too
        pipeline = pick_pipeline(load_pipelines(args.file), args.pipeline, args.file)
    if args.cache_dir is not None:  # "" too: refused as an empty path, not the cwd
        pipeline.cache_dir = args.cache_dir
    if args.shared:
        pipeline.shared = args.shared
    if args.no_cache:
        pipeline.enable_cache = False
    context = parse_context(args.context)
    if args.dry_run:
        plans = pipeline.plan(context)
        if args.json:
            print(json.dumps([vars_of(p) for p in plans], indent=2))
        else:
            print_plan(pipeline.name, plans, sys.stdout)
        return 0
    header = f"pipeline {pipeline.name} · {args.file}"
    printer = None if args.json else LivePrinter(sys.stdout, verbose=args.verbose, header=header)
    keepers = [s.name for s in pipeline.steps if s.keep_children]
    with RunProcesses() as processes:
        runner = make_runner(args.jobs, args.dask)
        watch = processes.watch(keepers)
        sinks = watch if printer is None else _both(watch, printer)
        try:  # Ctrl-C, SIGTERM: the executor kills the steps still running, then this closes
            result = pipeline.run(context, on_event=sinks, runner=runner)
        finally:
            if runner is not None:
                runner.close()
    if args.json:
        print(json.dumps(result_to_json(result), indent=2))
    else:
        print_summary(result, sys.stdout)
    return 1 if result.failed_steps else 0


def _both(first: Callable[[Event], None], second: Callable[[Event], None]):
    def both(event: Event) -> None:
        first(event)
        second(event)

    return both


class LivePrinter:
    """Prints a line per step as it finishes, so a long CI run shows progress.

    Output is flushed when a step starts executing and when the run ends, not after every
    line: everything finished shows before any wait, and a burst of cached steps costs one
    write instead of one per step.
    """

    def __init__(self, out: TextIO, *, verbose: bool, header: str = "") -> None:
        self.out = out
        self.verbose = verbose
        self.header = header

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            # Only once the run has really started: a definition error (a missing parameter)
            # is raised before, and must reach stderr without a stray header on stdout.
            if self.header:
                self.out.write(self.header + "\n")
                self.out.flush()
        elif isinstance(event, StepFinished):
            status = f"{STATUS_SYMBOLS[event.status]} {WORDS.get(event.status, event.status)}"
            reason = event.reason
            if event.tier:
                reason += f" from the {event.tier} cache"
            if event.saved_seconds and event.cached:
                reason += f" (saved {format_duration(event.saved_seconds)})"
            if event.calls:
                reason += f" · {format_calls(event.calls)}"
            did_not_run = event.cached or event.status == StepStatus.SKIPPED
            duration = "-" if did_not_run else format_duration(event.duration_seconds)
            self.out.write(f"  {status:<10} {event.step:<24} {duration:>8}  {reason}\n")
        elif isinstance(event, (StepStarted, RunFinished)):
            self.out.flush()
        elif isinstance(event, StepLog) and self.verbose:
            for line in event.text.splitlines():
                self.out.write(f"    {event.step} | {line}\n")
            self.out.flush()
        elif isinstance(event, RunWarning):
            self.out.flush()
            print(f"  warning: {event.message}", file=sys.stderr, flush=True)


def print_summary(result: RunResult, out: TextIO) -> None:
    for name in result.failed_steps:
        error = result.step_results[name].error or ""
        print(f"\n{name} failed:\n" + _indent(error), file=out)
    totals = result.totals
    parts = [
        plural(totals.steps, "step"),
        f"{totals.executed} executed",
        f"{totals.cached} cached",
    ]
    if totals.failed:
        parts.append(f"{totals.failed} failed")
    if totals.skipped:
        parts.append(f"{totals.skipped} skipped")
    print(
        f"{', '.join(parts)} · hit rate {format_rate(totals.hit_rate)} · "
        f"saved {format_duration(totals.saved_seconds)} · "
        f"took {format_duration(result.duration_seconds)} · run {result.run_id}",
        file=out,
    )


def print_plan(name: str, plans: list[StepPlan], out: TextIO) -> None:
    print(f"pipeline {name} (dry run: nothing is executed)", file=out)
    for plan in plans:
        print(f"  {plan.action:<7} {plan.step:<24} {plan.reason}", file=out)
    runs = sum(p.action == "run" for p in plans)
    cached = len(plans) - runs
    print(f"{plural(len(plans), 'step')}: {runs} would run, {cached} from the cache", file=out)


def result_to_json(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "pipeline": result.pipeline,
        "status": result.status,
        "duration_seconds": result.duration_seconds,
        "hit_rate": result.hit_rate,
        "totals": result.totals.to_dict(),
        "steps": [
            {
                "name": r.name,
                "status": r.status.value,
                "cached": r.cached,
                "duration_seconds": r.duration_seconds,
                "saved_seconds": r.saved_seconds,
                "reason": r.reason,
                "reason_kind": r.reason_kind.value if r.reason_kind else None,
                "code_hash": r.code_hash,
                "error": r.error,
                "calls": [
                    {
                        "name": c.name,
                        "hits": c.hits,
                        "misses": c.misses,
                        "saved_seconds": c.saved_seconds,
                    }
                    for c in r.calls
                ],
            }
            for r in result.step_results.values()
        ],
    }


def vars_of(plan: StepPlan) -> dict[str, str]:
    return {
        "step": plan.step,
        "action": plan.action,
        "reason": plan.reason,
        "reason_kind": plan.reason_kind.value,
    }


def _indent(text: str) -> str:
    return "".join("    " + line + "\n" for line in text.rstrip().splitlines())
