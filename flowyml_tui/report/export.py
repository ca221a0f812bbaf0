"""Choosing a renderer by format name and writing the report to a file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..engine.history.records import load_run, load_runs, safe_run_id
from ..engine.history.savings_history import History, history
from .common import EXTENSIONS, Record, ReportError, normalise_format
from .html import render_html
from .markdown import render_markdown
from .savings import history_upto

# -- JSON --------------------------------------------------------------------------------------


def render_json(record: Record) -> str:
    """The record itself, pretty-printed: the stable shape tools read."""
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


# -- entry points ------------------------------------------------------------------------------

_RENDERERS: dict[str, Callable[[Record], str]] = {
    "json": render_json,
    "md": render_markdown,
    "html": render_html,
}


def render(record: Record, fmt: str, history: History | None = None) -> str:
    """`history` (`pipeline_history`): the HTML page's cumulative savings chart."""
    fmt = normalise_format(fmt)
    if fmt == "html":
        return render_html(record, history)
    return _RENDERERS[fmt](record)


def pipeline_history(cache_dir: Path | str, record: Record) -> History:
    """The savings of `record`'s pipeline over its recorded runs, up to and with it."""
    return history(history_upto(load_runs(cache_dir), record))


def default_report_path(record: Record, fmt: str, directory: Path | None = None) -> Path:
    ext = EXTENSIONS[normalise_format(fmt)]
    return (directory or Path.cwd()) / f"flowyml-report-{safe_run_id(record['run_id'])}.{ext}"


def write_report(text: str, output: Path) -> Path:
    """Write a report, with a clear error when the place cannot be written."""
    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write the report to {output}: {exc.strerror or exc}") from exc
    return output


def export_run(
    cache_dir: Path | str,
    run_id: str = "latest",
    fmt: str = "html",
    output: Path | None = None,
    *,
    directory: Path | None = None,
) -> Path:
    """Render one recorded run to a file; the default name is flowyml-report-<run id>.<ext>
    in `directory` (default: the current folder)."""
    record = load_run(cache_dir, run_id)
    text = render(record, fmt, pipeline_history(cache_dir, record) if fmt == "html" else None)
    return write_report(text, output or default_report_path(record, fmt, directory))


def export_latest(
    cache_dir: Path | str,
    fmt: str = "html",
    output: Path | None = None,
    *,
    directory: Path | None = None,
) -> Path:
    """The newest run, written to a file, its path returned (the TUI's `e` key)."""
    return export_run(cache_dir, "latest", fmt, output, directory=directory)
