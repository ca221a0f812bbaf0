"""Run records rendered for people and tools: JSON, Markdown (a PR comment) and one HTML file.

A consumer of run records, like the CLI and the TUI: it lives beside the engine, not inside it.

Everything that came from user code (step names, reasons, diffs, tracebacks, logs) is escaped:
a report is opened in a browser by someone who did not write the pipeline.

One job per module: `common` (formatting, escaping, the error), `markdown`, `html` (page and
CSS), `timeline` (its SVG), `compare` (two runs) and `export` (format dispatch, files). The
names below are the public surface; import them from here.
"""

from __future__ import annotations

from .common import (
    EXTENSIONS,
    NONE,
    STATUS_COLOURS,
    TRACEBACK_TAIL_LINES,
    Record,
    ReportError,
    error_summary,
    fmt_delta,
    fmt_rate,
    fmt_seconds,
    fmt_when,
    normalise_format,
    short_hash,
)
from .compare import compare_runs, render_comparison
from .export import (
    default_report_path,
    export_latest,
    export_run,
    pipeline_history,
    render,
    render_json,
    write_report,
)
from .html import render_html
from .markdown import render_markdown
from .timeline import timeline_svg

__all__ = [
    "EXTENSIONS",
    "NONE",
    "STATUS_COLOURS",
    "TRACEBACK_TAIL_LINES",
    "Record",
    "ReportError",
    "compare_runs",
    "default_report_path",
    "error_summary",
    "export_latest",
    "export_run",
    "fmt_delta",
    "fmt_rate",
    "fmt_seconds",
    "fmt_when",
    "normalise_format",
    "pipeline_history",
    "render",
    "render_comparison",
    "render_html",
    "render_json",
    "render_markdown",
    "short_hash",
    "timeline_svg",
    "write_report",
]
