"""`flowyml-tui` entry point: the TUI by default, `run`/`cache`/`runs`/`report`/`savings` headless.

Each subcommand lives in its own module and is imported only when used, so `flowyml-tui run`
in CI never imports Textual.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from ..engine.errors import FlowymlError
from ..startup import paused_gc

# name -> (module, add-arguments function, main function, help)
SUBCOMMANDS: dict[str, tuple[str, str, str, str]] = {
    "run": ("run", "add_arguments", "main", "run a pipeline once, headless (for scripts and CI)"),
    "cache": ("cache", "add_arguments", "main", "inspect, clear, pin and unpin cached steps"),
    "runs": ("report", "add_runs_arguments", "runs_main", "list recent runs"),
    "report": ("report", "add_report_arguments", "report_main", "export a run report"),
    "savings": ("savings", "add_arguments", "main", "what the caches saved, in time and money"),
}
TUI = ("tui", "add_arguments", "main")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        command = argv.pop(0)
        module_name, add_name, main_name, help_text = SUBCOMMANDS[command]
        prog = f"flowyml-tui {command}"
    else:
        module_name, add_name, main_name = TUI
        help_text, prog = _tui_description(), "flowyml-tui"
    with paused_gc():  # start-up: see flowyml_tui/startup.py
        module = import_module(f".{module_name}", __name__)
        parser = argparse.ArgumentParser(
            prog=prog, description=help_text, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
        getattr(module, add_name)(parser)
        args = parser.parse_args(argv)
    _warnings_in_one_line()
    try:
        return int(getattr(module, main_name)(args) or 0)
    except FlowymlError as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"flowyml-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _closed_pipe()


def _warnings_in_one_line() -> None:
    """Our own warnings read `flowyml-tui: warning: ...`, one line; not Python's two, the
    second a line of our source the user cannot act on. Warnings from user code keep theirs."""
    import os
    import warnings

    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    python_format = warnings.formatwarning

    def one_line(message, category, filename, lineno, line=None):  # type: ignore[no-untyped-def]
        if os.path.abspath(filename).startswith(ours):
            return f"flowyml-tui: warning: {message}\n"
        return python_format(message, category, filename, lineno, line)

    warnings.formatwarning = one_line


def _closed_pipe() -> int:
    """`flowyml-tui runs | head -3`: the reader left, which is not an error of ours.

    Point stdout at /dev/null so the interpreter's final flush does not raise again, and exit
    as a process killed by SIGPIPE would (128 + 13), which is what shells expect.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


def _tui_description() -> str:
    commands = "\n".join(f"  {name:<8} {entry[3]}" for name, entry in SUBCOMMANDS.items())
    return (
        "Open the workbench: run the pipeline, then re-run it on every save.\n\n"
        f"headless commands (flowyml-tui COMMAND --help):\n{commands}"
    )
