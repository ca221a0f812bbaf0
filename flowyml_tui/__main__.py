"""`python -m flowyml_tui` is the `flowyml-tui` command (the console script calls `main` here).

The command's own imports are inside `main`, so a Ctrl-C that comes while they load (the
first few hundred milliseconds, found by the randomised signal rounds in tests/faults) is the
same quiet exit 130 as one during a run, not a KeyboardInterrupt traceback through importlib.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    try:
        from .cli import main as command

        return command(argv)
    except KeyboardInterrupt:  # while the command's modules load, before it handles its own
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
