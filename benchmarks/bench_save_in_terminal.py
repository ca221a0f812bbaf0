"""Save -> the edited step's row shows running, in a real terminal, as a user sees it.

Opens the workbench in tmux (120x36) on copies of three pipelines, in one interleaved run:
the pandas + scikit-learn example (`examples/sklearn_churn`, five steps) with the spare
worker warm (the default) and with `--no-warm` (the spare has only the engine imported: what
main did before), and the stdlib quickstart (`pipelines/quickstart.py`). Each round edits the
first step's code (its output stays the same, so the other steps stay cached), writes the
file (the first step of the scikit-learn copy sleeps 0.5 s, as reading a real data file would,
so that its row is on screen long enough to read `running`), and polls `tmux capture-pane`
until that row reads `running`; then waits for the run to end and for the next spare to
finish warming up before the next workbench's save (a spare importing scikit-learn is
seconds of CPU, which the save measured next would otherwise share). A last pass saves a
comment-only change and times save -> every row cached (the run number moved on). Whole
processes as users run them: bytecode written (PYTHONDONTWRITEBYTECODE unset), the user's own
config, no daemon.

    python benchmarks/bench_save_in_terminal.py [--rounds 7]

Prints medians and the spread; the resolution is one `capture-pane` (~3-5 ms here). Beside
them, as a gauge of the machine's load in the same minutes, `python -c pass` timed once a
round (about 12 ms on this machine when it is quiet).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOCKET = f"flowyml-bench-{os.getpid()}"
EDIT = re.compile(r"^    _edit = \d+\n", re.M)
SPARE_READY_SECONDS = 6.0
"""After a run ends, the next spare imports pandas and scikit-learn: 1.5-5 s here, by load."""


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True)
    return done.stdout


def cli() -> str:
    script = Path(sys.executable).with_name("flowyml-tui")
    return str(script) if script.exists() else shutil.which("flowyml-tui") or "flowyml-tui"


@dataclass
class Workbench:
    """One pipeline copy open in one tmux session."""

    label: str
    folder: Path
    file: str
    first_step: str
    steps: tuple[str, ...]
    flags: tuple[str, ...] = ()
    version: int = 0
    running: list[float] = field(default_factory=list)
    all_cached: list[float] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.folder / self.file

    def open(self) -> None:
        unset = "env -u PYTHONDONTWRITEBYTECODE -u COLUMNS -u LINES"  # as a user runs it
        command = " ".join([unset, cli(), self.file, *self.flags])
        size = ("-x", "120", "-y", "36")
        tmux("new-session", "-d", "-s", self.label, *size, "-c", str(self.folder), command)

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.label)

    def wait_for(self, ready, timeout: float = 60.0) -> float:
        started = time.perf_counter()
        while not ready(self.screen()):
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{self.label}: screen never got there:\n{self.screen()}")
        return time.perf_counter()

    def idle(self, screen: str) -> bool:
        return "● watching" in screen and f"{self.steps[-1]}" in screen

    def run_number(self) -> int:
        found = re.search(r"run #(\d+)", self.screen())
        return int(found.group(1)) if found else 0

    def edit_code(self) -> float:
        """Change the first step's code, not its output; seconds until its row runs."""
        self.version += 1
        text = EDIT.sub(f"    _edit = {self.version}\n", self.path.read_text(), count=1)
        row = re.compile(rf"running\s+{re.escape(self.first_step)}\b")
        saved = time.perf_counter()
        self.path.write_text(text)
        shown = self.wait_for(lambda screen: row.search(screen) is not None)
        return shown - saved

    def edit_comment(self) -> float:
        """Change a comment only; seconds until a new run shows every row cached."""
        number = self.run_number()
        text = self.path.read_text() + f"# saved again {time.time()}\n"
        saved = time.perf_counter()
        self.path.write_text(text)

        def all_cached(screen: str) -> bool:
            rows = [ln for ln in screen.splitlines() if ln.startswith("│ ")][1:]  # no heading
            done = [r for r in rows if any(f" {s} " in r for s in self.steps)]
            return f"run #{number + 1}" in screen and all("cached" in r for r in done)

        return self.wait_for(all_cached) - saved


def copy_pipelines(root: Path) -> list[Workbench]:
    benches = []
    for label, flags in (("sklearn-warm", ()), ("sklearn-no-warm", ("--no-warm",))):
        folder = root / label
        shutil.copytree(REPO / "examples" / "sklearn_churn", folder)
        _mark_first_step(folder / "churn.py", '    """Synthetic customers', slow=True)
        steps = ("load", "featurize", "split", "train", "evaluate")
        benches.append(Workbench(label, folder, "churn.py", "load", steps, flags))
    folder = root / "quickstart"
    folder.mkdir()
    shutil.copy(REPO / "pipelines" / "quickstart.py", folder / "quickstart.py")
    _mark_first_step(folder / "quickstart.py", '    """Pretend to read')
    steps = ("load", "clean", "summarize", "report")
    benches.append(Workbench("stdlib-quickstart", folder, "quickstart.py", "load", steps))
    return benches


def _mark_first_step(path: Path, docstring: str, *, slow: bool = False) -> None:
    """Put an `_edit = 0` line after the first step's docstring: the line each round edits.
    `slow`: the step also sleeps 0.5 s (as reading a real data file would take), or it ends
    within one frame of the workbench (1/30 s) and its row never reads `running`."""
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(docstring))
    lines.insert(at + 1, "    _edit = 0\n")
    if slow:
        lines.insert(at + 2, '    __import__("time").sleep(0.5)\n')
    path.write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    if shutil.which("tmux") is None:
        sys.exit("bench_save_in_terminal: needs tmux")
    root = Path(tempfile.mkdtemp(prefix="flowyml-bench-terminal-"))
    benches = copy_pipelines(root)
    gauge: list[float] = []
    try:
        for bench in benches:
            bench.open()
        for bench in benches:
            bench.wait_for(bench.idle, timeout=120)
        time.sleep(SPARE_READY_SECONDS)
        for _ in range(rounds):
            for bench in benches:  # interleaved: all see the same machine load
                bench.running.append(bench.edit_code())
                bench.wait_for(bench.idle)
                # Its next spare imports pandas and scikit-learn now (seconds of CPU): the
                # next save, of another workbench, must not be measured against that.
                time.sleep(SPARE_READY_SECONDS)
            gauge.append(python_pass())
        for _ in range(max(3, rounds // 2)):
            for bench in benches[:2]:  # the quickstart's `report` is cache=False: never cached
                bench.all_cached.append(bench.edit_comment())
                time.sleep(SPARE_READY_SECONDS)
    finally:
        tmux("kill-server")
        shutil.rmtree(root, ignore_errors=True)
    print(f"{rounds} saves each, interleaved; ms: median (min-max)")
    print(f"  {'python -c pass':<18} (load gauge)      {_figure(gauge)}")
    for bench in benches:
        print(f"  {bench.label:<18} save -> running     {_figure(bench.running)}")
        if bench.all_cached:
            print(f"  {'':<18} save -> all cached  {_figure(bench.all_cached)}")


def python_pass() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def _figure(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{statistics.median(ms):7.1f} ({min(ms):.0f}-{max(ms):.0f})"


if __name__ == "__main__":
    main()
