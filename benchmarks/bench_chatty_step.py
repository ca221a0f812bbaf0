"""A step that prints 100k lines: the TUI run against the headless run (issue 14, "chatty steps").

Both run the same file, each in a fresh cache dir, so the step executes every time:

- headless: `flowyml-tui run FILE` as a subprocess (what CI sees, process start included);
- runner only: the worker process and its event stream, consumed with no UI;
- TUI: the real app (`App.run_test` at 160x48) with the real worker process, timed from the
  start of the run until the status line has seen `RunFinished` and the table shows it.

Prints both wall times and their ratio (the target is at most 1.5x). Figures only, no asserts.

    python benchmarks/bench_chatty_step.py [--lines 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = """
from flowyml_tui import Pipeline, step


@step(outputs=["n"])
def chatty():
    for i in range({lines}):
        print("line", i, "of some chatty output")
    return {lines}


pipeline = Pipeline("chatty").add_step(chatty)
"""


def headless(path: Path, cache: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flowyml_tui", "run", str(path), "--cache-dir", str(cache)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


async def runner_only(path: Path, cache: Path) -> float:
    """The worker process and its event stream with no UI: what the TUI cannot go below."""
    from flowyml_tui.runner.session import RunSession

    session = RunSession(path, cache_dir=str(cache))
    started = time.perf_counter()
    async for _message in session.run():
        pass
    took = time.perf_counter() - started
    await session.aclose()
    return took


async def in_tui(path: Path, cache: Path) -> float:
    from flowyml_tui.tui.app import make_app

    app = make_app([path], cache_dir=str(cache), watch=False, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        started = time.perf_counter()
        app.start_run("benchmark")
        while app.model.finished is None or app.run_active:
            await asyncio.sleep(0.005)
        await pilot.pause()  # the frame that shows it
        took = time.perf_counter() - started
        await app.shutdown_runs()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chatty.py"
        path.write_text(SOURCE.format(lines=args.lines))
        heads, runners, tuis = [], [], []
        for i in range(args.repeat):
            heads.append(headless(path, Path(tmp) / f"h{i}"))
            runners.append(asyncio.run(runner_only(path, Path(tmp) / f"r{i}")))
            tuis.append(asyncio.run(in_tui(path, Path(tmp) / f"t{i}")))
        head, tui = statistics.median(heads), statistics.median(tuis)
        print(f"{args.lines} lines, median of {args.repeat}:")
        print(f"  headless run  {head:6.2f} s   ({', '.join(f'{t:.2f}' for t in heads)})")
        runner = statistics.median(runners)
        print(f"  runner only   {runner:6.2f} s   ({', '.join(f'{t:.2f}' for t in runners)})")
        print(f"  TUI run       {tui:6.2f} s   ({', '.join(f'{t:.2f}' for t in tuis)})")
        print(f"  TUI / headless  {tui / head:.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
