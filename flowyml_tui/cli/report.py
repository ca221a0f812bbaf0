"""`flowyml-tui runs` and `flowyml-tui report`: run history and reports from the command line.

`flowyml_tui.cli.main` dispatches here: `add_*_arguments(parser)` then `*_main(args)`.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ..engine.cache import DEFAULT_CACHE_DIR
from ..engine.errors import FlowymlError
from ..engine.history.records import RunRecordWarning, list_runs, load_run
from ..report import (
    default_report_path,
    fmt_seconds,
    fmt_when,
    normalise_format,
    pipeline_history,
    render,
    render_comparison,
    write_report,
)
from .common import add_cache_dir

EXIT_USAGE = 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit", type=_positive, default=20, metavar="N", help="show the N newest runs"
    )
    add_cache_dir(parser)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_id",
        nargs="?",
        default="latest",
        metavar="RUN_ID",
        help="a run id (or a unique prefix of one) from `flowyml-tui runs`; default: latest",
    )
    parser.add_argument(
        "--format",
        "-f",
        default="html",
        choices=["html", "md", "markdown", "json"],
        help="html (a self-contained page), md (a pull-request comment) or json (the record)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="where to write; md and json go to stdout without it, html to "
        "./flowyml-report-<run id>.html",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("RUN_A", "RUN_B"),
        help="compare run B against run A (status changes, duration deltas, context, code diffs)",
    )
    add_cache_dir(parser)


def _error(message: str) -> int:
    print(f"flowyml-tui: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        print(f"flowyml-tui: warning: {warning.message}", file=sys.stderr)


def runs_main(args: argparse.Namespace) -> int:
    """Print the newest runs as a table; an empty history is not an error."""
    cache_dir = Path(getattr(args, "cache_dir", DEFAULT_CACHE_DIR))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RunRecordWarning)
        try:
            runs = list_runs(cache_dir, getattr(args, "limit", 20))
        except FlowymlError as exc:
            return _error(str(exc))
        except OSError as exc:
            return _error(f"cannot read {cache_dir}: {exc}")
    _show_warnings(caught)
    if not runs:
        print(f"No runs recorded in {cache_dir} yet: run a pipeline (flowyml-tui run FILE).")
        return 0
    header = ("RUN ID", "WHEN", "PIPELINE", "STATUS", "EXEC", "CACHED", "FAILED", "DURATION")
    rows = [
        (
            run.run_id,
            fmt_when(run.finished_at),
            run.pipeline,
            run.status,
            str(run.executed),
            str(run.cached),
            str(run.failed),
            fmt_seconds(run.duration_seconds),
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {4, 5, 6, 7}
    for row in [header, *rows]:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  ".join(cells).rstrip())
    return 0


def report_main(args: argparse.Namespace) -> int:
    """Render a run (or a comparison of two) to stdout or a file; errors are one line, exit 2."""
    cache_dir = Path(getattr(args, "cache_dir", DEFAULT_CACHE_DIR))
    output: Path | None = getattr(args, "output", None)
    compare = getattr(args, "compare", None)
    run_id = getattr(args, "run_id", "latest") or "latest"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RunRecordWarning)
        try:
            fmt = normalise_format(getattr(args, "format", "html"))
            if compare and run_id != "latest":
                return _error("give either RUN_ID or --compare RUN_A RUN_B, not both")
            if compare:
                record_a = load_run(cache_dir, compare[0])
                record_b = load_run(cache_dir, compare[1])
                text = render_comparison(record_a, record_b, fmt)
                name = f"{record_a['run_id']}-vs-{record_b['run_id']}"
                default = default_report_path({"run_id": name}, fmt)
            else:
                record = load_run(cache_dir, run_id)
                saved = pipeline_history(cache_dir, record) if fmt == "html" else None
                text = render(record, fmt, saved)
                default = default_report_path(record, fmt)
            if output is None and fmt != "html":
                sys.stdout.write(text)
                return 0
            path = write_report(text, output or default)
        except FlowymlError as exc:
            return _error(str(exc))
        finally:
            _show_warnings(caught)
    print(f"Report written to {path}")
    return 0
