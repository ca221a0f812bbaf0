"""`flowyml-tui ...` as a user types it: a fresh process, no terminal on stdin, bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: object,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m flowyml_tui ARGS` and return what it printed (`env` adds to os.environ)."""
    return subprocess.run(
        [sys.executable, "-m", "flowyml_tui", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env} if env else None,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
