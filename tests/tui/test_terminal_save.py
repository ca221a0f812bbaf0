"""In a real terminal (tmux): a save of a pandas + scikit-learn pipeline shows the edited step
running, then its new code; the status line shows the spare's memory before the save; and an
edited local module is imported fresh. Prints save -> running; the figure is a benchmark's
(`benchmarks/bench_save_in_terminal.py`), never a test's threshold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..needs import need, need_program

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parents[2]
STEPS = ("load", "featurize", "split", "train", "evaluate")


class Terminal:
    """The workbench in a tmux session of its own server (its own socket)."""

    def __init__(self, tmux: str, folder: Path, config: Path) -> None:
        self.tmux = tmux
        self.socket = f"flowyml-test-{os.getpid()}"
        unset = "-u PYTHONDONTWRITEBYTECODE -u COLUMNS -u LINES"  # as a user runs it
        env = f"env {unset} XDG_CONFIG_HOME={config}"
        command = f"{env} {sys.executable} -m flowyml_tui churn.py"
        self.run(
            "new-session", "-d", "-s", "w", "-x", "120", "-y", "36", "-c", str(folder), command
        )

    def run(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True)
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "w")

    def wait_for(self, what: str, ready: Callable[[str], bool], timeout: float = 90) -> float:
        deadline = time.monotonic() + timeout
        while not ready(screen := self.screen()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never showed {what}:\n{screen}")
        return time.monotonic()

    def close(self) -> None:
        self.run("kill-server")


def row(screen: str, step: str) -> str:
    found = [ln for ln in screen.splitlines() if ln.startswith("│") and f" {step} " in ln]
    return found[0] if found else ""


def idle_after(run: int) -> Callable[[str], bool]:
    return lambda screen: f"run #{run} " in screen and "● watching" in screen


@pytest.fixture
def project(tmp_path: Path) -> Path:
    need("pandas")
    need("sklearn")
    folder = tmp_path / "churn"
    shutil.copytree(REPO / "examples" / "sklearn_churn", folder)
    path = folder / "churn.py"
    docstring = '    """Synthetic customers: fewer visits and less spend make churn likelier."""\n'
    text = path.read_text()
    assert docstring in text
    # long enough on screen to read `running` (a frame is 1/30 s)
    path.write_text(text.replace(docstring, docstring + "    _edit = 0\n    time.sleep(1)\n"))
    path.write_text("import time\n" + path.read_text())
    return folder


def test_a_save_shows_the_step_running_then_its_new_code(project: Path, tmp_path: Path) -> None:
    terminal = Terminal(need_program("tmux"), project, tmp_path / "config")
    try:
        terminal.wait_for("the first run", idle_after(1))
        # The spare has imported pandas and scikit-learn: the status line says what it holds.
        terminal.wait_for("the spare's memory", lambda s: re.search(r"warm \+\d+\.\d MB", s))

        path = project / "churn.py"
        saved = time.monotonic()
        path.write_text(path.read_text().replace("_edit = 0", "_edit = 1"))
        shown = terminal.wait_for("load running", lambda s: "running" in row(s, "load"))
        print(f"save -> load shown running: {(shown - saved) * 1000:.0f} ms")
        terminal.wait_for("the second run", idle_after(2))
        screen = terminal.screen()
        assert "code changed: load" in row(screen, "load")
        assert "+    _edit = 1" in screen  # the detail shows the new code against the cached
        assert all("cached" in row(screen, step) for step in STEPS[1:])  # same data: cached

        helper = project / "features.py"
        helper.write_text(helper.read_text().replace("/ 365.25", "/ 365.0"))
        terminal.wait_for("the third run", idle_after(3))
        screen = terminal.screen()
        assert "code changed" in row(screen, "featurize")  # the edited helper, imported afresh
        assert "cached" in row(screen, "load")
    finally:
        terminal.close()
