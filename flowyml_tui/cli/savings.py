"""`flowyml-tui savings`: what the caches saved over the run history, per step, in time and money.

Reads the run records only (never the store); `--format json` is the shape scripts rely on.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from ..engine.describe.display import format_duration
from ..engine.errors import FlowymlError
from ..engine.history.records import RunRecordWarning, load_runs
from ..engine.history.savings import Savings
from ..engine.history.savings_history import History, chosen, history, mixed_currencies, parse_since
from .common import add_cache_dir

FORMATS = ("table", "json", "csv")
FIELDS = ("time_saved_s", "calls_saved", "cost_saved", "cost_spent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", metavar="SPAN", help="only runs that finished within SPAN: 30m, 12h, 7d, 2w"
    )
    parser.add_argument("--pipeline", metavar="NAME", help="only this pipeline's runs")
    parser.add_argument(
        "--format", "-f", default="table", choices=FORMATS, help="table (default), json or csv"
    )
    add_cache_dir(parser)


def main(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since is not None else None
    cache_dir = Path(args.cache_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RunRecordWarning)
        try:
            records = load_runs(cache_dir)
        except OSError as exc:
            raise FlowymlError(f"cannot read the run records in {cache_dir}: {exc}") from None
    for warning in caught:
        print(f"flowyml-tui: warning: {warning.message}", file=sys.stderr)
    picked = chosen(records, since_seconds=since, pipeline=args.pipeline, now=time.time())
    currencies = mixed_currencies(picked)
    if len(currencies) > 1:
        raise FlowymlError(
            f"these runs were priced in {' and '.join(sorted(currencies))}, which cannot be "
            "added up; narrow them with --since or --pipeline"
        )
    ledger = history(picked)
    if args.format == "json":
        print(json.dumps(as_json(ledger), indent=2))
    elif args.format == "csv":
        write_csv(ledger)
    else:
        print_table(ledger, cache_dir, args)
    return 0


def _fields(line: Savings) -> dict[str, Any]:
    return {name: getattr(line, name) for name in FIELDS}


def as_json(ledger: History) -> dict[str, Any]:
    """The documented shape: currency, runs, steps (pipeline, step, the four fields), total."""
    return {
        "currency": ledger.currency,
        "runs": ledger.runs,
        "steps": [
            {
                "pipeline": s.pipeline,
                "step": s.step,
                **_fields(s.savings),
                "cache_flag": s.cache_flag,
            }
            for s in ledger.steps
        ],
        "total": _fields(ledger.total),
    }


def write_csv(ledger: History) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(("pipeline", "step", *FIELDS, "currency"))
    for line in ledger.steps:
        values = _fields(line.savings).values()
        writer.writerow((line.pipeline, line.step, *values, ledger.currency or ""))


def money(amount: float, currency: str | None) -> str:
    """Cents, or four figures for amounts below a cent (a token-priced call's cost)."""
    shown = f"{amount:,.2f}" if amount == 0 or abs(amount) >= 0.01 else f"{amount:.2g}"
    return f"{shown} {currency}" if currency else shown


def print_table(ledger: History, cache_dir: Path, args: argparse.Namespace) -> None:
    if not ledger.runs:
        which = f" of pipeline {args.pipeline!r}" if args.pipeline else ""
        span = f" in the last {args.since}" if args.since else ""
        print(f"No runs{which}{span} recorded in {cache_dir}: nothing saved yet.")
        return
    header = ["PIPELINE", "STEP", "TIME SAVED", "CALLS SAVED"]
    if ledger.priced:  # without a rate or a cost_fn, money columns are hidden
        header += ["COST SAVED", "COST SPENT"]
    rows = []
    for line in [*ledger.steps, None]:
        pipeline, step, values = (
            ("total", "", ledger.total)
            if line is None
            else (line.pipeline, line.step, line.savings)
        )
        row = [pipeline, step, format_duration(values.time_saved_s), str(values.calls_saved)]
        if ledger.priced:
            row += [
                money(values.cost_saved, ledger.currency),
                money(values.cost_spent, ledger.currency),
            ]
        rows.append(row)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.ljust(width) if index < 2 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    runs = "run" if ledger.runs == 1 else "runs"
    print(f"\nover {ledger.runs} {runs}" + ("" if ledger.priced else "; no rate set, so no money"))
    flagged = [line for line in ledger.steps if line.cache_flag]
    if flagged:
        print("\nCaches that cost more than recomputing (measured):")
        for line in flagged:
            print(f"  {line.pipeline}: {line.cache_flag}")
