"""`flowyml-tui run FILE`: one run, headless, a line per step as it finishes; for scripts and CI."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

import msgspec

from ..engine.cache.blobs.settings import check_blob_settings
from ..engine.cache.sharing import check_shared_settings
from ..engine.describe.display import STATUS_SYMBOLS, format_calls, format_duration, plural
from ..engine.errors import PipelineLoadError
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
from ..engine.history.totals import format_rate
from ..engine.load.loader import load_file, pick_pipeline
from ..engine.pipeline import Pipeline
from ..engine.result import RunResult, empty_result
from ..engine.run.choose import add_runner_arguments, check_jobs, make_runner
from ..engine.run.planning import StepPlan
from ..engine.run.runner import StepRunner
from ..runner.context_args import parse_context
from ..startup import paused_gc
from .common import add_cache_dir, add_shared
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
    parser.add_argument(
        "--approve",
        metavar="NAME",
        action="append",
        default=[],
        help="approve the approval step NAME for this run (repeatable)",
    )
    add_runner_arguments(parser)


def main(args: argparse.Namespace) -> int:
    check_jobs(args.jobs)  # settings first: a mistake costs no import of the user's file
    if not args.no_cache:
        check_shared_settings(args.shared)
        check_blob_settings(args.blobs)
    overrides = parse_context(args.context)
    if args.approve:
        from ..engine.define.approval import grant

        grant(args.approve)
    with RunProcesses() as processes:  # Ctrl-C, SIGTERM: the run's processes end with it
        runner = None if args.dry_run else make_runner(args.jobs, args.dask)
        runs = ScriptRunsShown(args, overrides, runner, processes)
        try:
            with paused_gc():  # importing (and running) the user's file is start-up too
                try:
                    loaded = load_file(args.file, runs)
                except PipelineLoadError as exc:
                    if not (args.dry_run and runs.shown):
                        raise
                    print(f"flowyml-tui: dry run stopped the script: {exc}", file=sys.stderr)
                    return 0  # its code after run() needs outputs a dry run does not make
            if runs.shown or (loaded.runs and args.pipeline is None):  # a script's own runs
                if args.json and not args.dry_run:
                    shown = [result_to_json(r) for r in runs.shown]
                    print(json.dumps(shown[0] if len(shown) == 1 else shown, indent=2))
                return 1 if any(r.failed_steps for r in runs.shown) else 0
            pipeline = pick_pipeline(loaded.pipelines, args.pipeline, args.file)
            configure(pipeline, args)
            if args.dry_run:
                runs.plan(pipeline, overrides)
                return 0
            result = runs.run_shown(pipeline, overrides)
        finally:
            if runner is not None:
                runner.close()
    if args.json:
        print(json.dumps(result_to_json(result), indent=2))
    return 1 if result.failed_steps else 0


def configure(pipeline: Pipeline, args: argparse.Namespace) -> None:
    """The command line's cache settings on a pipeline about to run."""
    if args.cache_dir is not None:  # "" too: refused as an empty path, not the cwd
        pipeline.cache_dir = args.cache_dir
    if args.shared:
        pipeline.shared = args.shared
    if args.blobs:
        pipeline.blobs = args.blobs
    if args.no_cache:
        pipeline.enable_cache = False


class ScriptRunsShown:
    """The `RunHandler` of `flowyml-tui run`: each run the script makes, shown as ours are.

    `-c` values override the context the script passed; `--pipeline NAME` shows only that
    pipeline's runs (the others still run, quietly: the script needs their results).
    """

    def __init__(
        self,
        args: argparse.Namespace,
        overrides: dict[str, Any],
        runner: StepRunner | None,
        processes: RunProcesses,
    ) -> None:
        self.args = args
        self.overrides = overrides
        self.runner = runner
        self.processes = processes
        self.shown: list[RunResult] = []

    def __call__(self, pipeline: Pipeline, context: dict[str, Any]) -> RunResult:
        configure(pipeline, self.args)
        merged = {**context, **self.overrides}
        if self.args.pipeline is not None and pipeline.name != self.args.pipeline:
            if self.args.dry_run:
                return empty_result(pipeline.name)
            return pipeline.run(merged, runner=self.runner)
        if self.args.dry_run:
            self.plan(pipeline, merged)
            self.shown.append(empty_result(pipeline.name))
            return self.shown[-1]
        result = self.run_shown(pipeline, merged)
        self.shown.append(result)
        return result

    def run_shown(self, pipeline: Pipeline, context: dict[str, Any]) -> RunResult:
        header = f"pipeline {pipeline.name} · {self.args.file}"
        printer = (
            None
            if self.args.json
            else LivePrinter(sys.stdout, verbose=self.args.verbose, header=header)
        )
        keepers = [s.name for s in pipeline.steps if s.keep_children]
        watch = self.processes.watch(keepers)  # what its keep_children steps start stays
        sinks = watch if printer is None else _both(watch, printer)
        result = pipeline.run(context, on_event=sinks, runner=self.runner)
        if not self.args.json:
            print_summary(result, sys.stdout)
            sys.stdout.flush()
        return result

    def plan(self, pipeline: Pipeline, context: dict[str, Any]) -> None:
        plans = pipeline.plan(context)
        if self.args.json:
            print(json.dumps([vars_of(p) for p in plans], indent=2))
        else:
            print_plan(pipeline.name, plans, sys.stdout)
        sys.stdout.flush()


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
    lines, run_total = result.savings()
    return {
        "run_id": result.run_id,
        "pipeline": result.pipeline,
        "status": result.status,
        "duration_seconds": result.duration_seconds,
        "hit_rate": result.hit_rate,
        "totals": result.totals.to_dict(),
        "currency": result.rate.currency if result.rate else None,
        "savings": msgspec.to_builtins(run_total),
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
                        "saved_cost": c.saved_cost,
                        "spent_cost": c.spent_cost,
                    }
                    for c in r.calls
                ],
                "savings": msgspec.to_builtins(lines[r.name]),
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
