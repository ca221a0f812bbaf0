"""Regenerate screenshots/*.svg: the workbench in its main states, from real runs.

Copies pipelines/diamond.py to a temp dir, runs it in the real app (worker processes, a real
cache), edits it the way a user would, and saves an SVG at each state with App.save_screenshot.

    PYTHONPATH=. .venv/bin/python scripts/make_screenshots.py [--output DIR] [--theme NAME]

Durations are real, so they differ by a few ms from one run to the next.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from flowyml_tui.tui.app import FlowymlApp, make_app  # noqa: E402
from flowyml_tui.tui.widgets.step_table import StepTable  # noqa: E402

SIZE = (112, 34)
SHOTS = (
    "first-run.svg",
    "cached-rerun.svg",
    "code-change.svg",
    "pinned-step.svg",
    "dag-view.svg",
    "failed-step.svg",
    "load-error.svg",
    "data-change.svg",
)


async def until(pilot: Pilot[int], condition: Callable[[], object], what: str) -> None:
    for _ in range(600):
        if condition():
            await pilot.pause(0.1)
            return
        await pilot.pause(0.05)
    raise SystemExit(f"make_screenshots: timed out waiting for {what}")


async def run_done(pilot: Pilot[int], app: FlowymlApp, number: int) -> None:
    await until(
        pilot,
        lambda: (
            app.model.run_number >= number and app.model.finished is not None and not app.run_active
        ),
        f"run #{number}",
    )


async def select(pilot: Pilot[int], app: FlowymlApp, step: str, tab: str = "tab-why") -> None:
    table = app.query_one(StepTable)
    table.move_cursor(row=table.get_row_index(step), animate=False)
    app.query_one("#detail-tabs").active = tab  # type: ignore[attr-defined]
    await pilot.pause(0.2)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"make_screenshots: {old!r} not found in {path}; update the script")
    path.write_text(text.replace(old, new))


async def shoot(app: FlowymlApp, pilot: Pilot[int], output: Path, name: str) -> None:
    app.clear_notifications()
    await pilot.pause(0.2)
    app.save_screenshot(name, path=str(output))
    print(f"wrote {output / name}")


async def make(output: Path, theme: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="flowyml-shots-"))
    try:
        pipeline = work / "diamond.py"
        shutil.copy(ROOT / "pipelines" / "diamond.py", pipeline)
        app = make_app([pipeline], cache_dir=str(work / "cache"), theme=theme, watch=False)
        async with app.run_test(size=SIZE) as pilot:
            await until(
                pilot,
                lambda: (
                    app.model.rows.get("squares") is not None
                    and app.model.rows["squares"].status == "running"
                ),
                "squares to start",
            )
            await pilot.pause(0.25)
            await select(pilot, app, "squares")
            await shoot(app, pilot, output, "first-run.svg")
            await run_done(pilot, app, 1)

            await pilot.press("r")
            await run_done(pilot, app, 2)
            await select(pilot, app, "squares")
            await shoot(app, pilot, output, "cached-rerun.svg")

            edit(pipeline, "return [n**3 for n in numbers]", "return [n**3 + 1 for n in numbers]")
            await pilot.press("r")
            await run_done(pilot, app, 3)
            await select(pilot, app, "cubes")
            await shoot(app, pilot, output, "code-change.svg")

            await pilot.press("p")
            await run_done(pilot, app, 4)
            edit(pipeline, "n**3 + 1 for n", "n**3 - 1 for n")
            await pilot.press("r")
            await run_done(pilot, app, 5)
            await select(pilot, app, "cubes")
            await shoot(app, pilot, output, "pinned-step.svg")

            await pilot.press("d")
            await pilot.pause(0.3)
            await shoot(app, pilot, output, "dag-view.svg")
            await pilot.press("d")

            await pilot.press("p")  # unpin
            await run_done(pilot, app, 6)
            edit(
                pipeline,
                "return round(sum(cubes) / sum(squares), 3)",
                'print("combining", len(squares), "values")\n'
                "    return round(sum(cubes) / (sum(squares) - sum(squares)), 3)",
            )
            await pilot.press("r")
            await run_done(pilot, app, 7)
            await select(pilot, app, "combine", tab="tab-logs")
            await shoot(app, pilot, output, "failed-step.svg")

            edit(pipeline, "def cubes(numbers):", "def cubes(numbers)")
            await pilot.press("r")
            await until(
                pilot,
                lambda: app.model.problem is not None and not app.run_active,
                "the load error",
            )
            await select(pilot, app, "combine", tab="tab-logs")
            await shoot(app, pilot, output, "load-error.svg")
            await app.action_quit()
        await data_change(work, output, theme)
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def data_change(work: Path, output: Path, theme: str) -> None:
    """The ETL example after its CSV was edited: the step that read it re-ran, with the diff."""
    (work / "data").mkdir()
    shutil.copy(ROOT / "pipelines" / "data" / "sales.csv", work / "data" / "sales.csv")
    pipeline = work / "etl.py"
    shutil.copy(ROOT / "pipelines" / "etl.py", pipeline)
    app = make_app([pipeline], cache_dir=str(work / "etl-cache"), theme=theme, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await run_done(pilot, app, 1)
        data = work / "data" / "sales.csv"
        lines = data.read_text().splitlines(keepends=True)
        lines[1] = lines[1].rsplit(",", 1)[0] + ",999.00\n"
        data.write_text("".join(lines))
        await pilot.press("r")
        await run_done(pilot, app, 2)
        await select(pilot, app, "load_data")
        await shoot(app, pilot, output, "data-change.svg")
        await app.action_quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--theme", default="flowyml")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    asyncio.run(make(args.output, args.theme))
    return 0


if __name__ == "__main__":
    sys.exit(main())
