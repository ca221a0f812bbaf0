"""A non-editable install is complete: the themes ship inside the wheel, not beside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(120)

SHOW = """
import sys
sys.path.insert(0, sys.argv[1])
import flowyml_tui
from flowyml_tui.cli import main
assert flowyml_tui.__file__.startswith(sys.argv[1]), flowyml_tui.__file__
sys.exit(main(["--theme", "no-such-theme", sys.argv[2]]))
"""


def test_pip_install_of_the_checkout_ships_the_bundled_themes(tmp_path: Path) -> None:
    """`pip install .` builds a wheel and installs it (here into a target dir, without deps:
    the shared venv already has them); the installed copy must list the bundled themes."""
    target = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-cache-dir",
            "--target",
            str(target),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert build.returncode == 0, build.stderr
    pipeline = tmp_path / "p.py"
    pipeline.write_text("from flowyml_tui import Pipeline\npipeline = Pipeline('p')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the installed copy
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user themes either
    shown = subprocess.run(
        [sys.executable, "-c", SHOW, str(target), str(pipeline)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert shown.returncode == 2, shown.stderr
    assert "unknown theme 'no-such-theme'; choose one of:" in shown.stderr
    assert "flowyml-dusk" in shown.stderr and "flowyml-paper" in shown.stderr
