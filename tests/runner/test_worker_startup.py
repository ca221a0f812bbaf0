"""The worker starts on every save: it must not drag in the TUI or heavy libraries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("textual", "rich", "numpy", "pandas", "watchfiles", "anyio")


@pytest.mark.timeout(30)
def test_the_worker_imports_no_tui_or_heavy_library():
    code = (
        "import sys, flowyml_tui.runner.worker, flowyml_tui.engine.load.loader\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )

    assert out.stdout.strip() == "[]"
