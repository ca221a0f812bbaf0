"""Helpers shared by the TUI tests: drive the app headless and wait on real conditions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.pilot import Pilot

from flowyml_tui.tui.app import FlowymlApp


class FakeClock:
    """A clock tests move by hand, so elapsed times on screen are fixed."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def drive(
    app: FlowymlApp,
    scenario: Callable[[Pilot[int]], Awaitable[None]],
    size: tuple[int, int] = (120, 36),
) -> None:
    """Run the app headless and play `scenario` against it."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await scenario(pilot)

    asyncio.run(main())


async def wait_until(
    pilot: Pilot[int],
    condition: Callable[[], object],
    timeout: float = 15.0,
    what: str = "condition",
) -> None:
    """Poll the app until `condition()` holds; fail with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            notes = [f"{n.title}: {n.message}" for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting for {what}; notifications: {notes}")
        await pilot.pause(0.05)
    await pilot.pause()


def statuses(app: FlowymlApp) -> dict[str, str]:
    return {name: str(row.status) for name, row in app.model.rows.items()}


async def wait_for_run(
    pilot: Pilot[int], app: FlowymlApp, number: int, timeout: float = 15.0
) -> None:
    """Until run `number` has finished (or failed to load) and the worker is done."""
    await wait_until(
        pilot,
        lambda: (
            app.model.run_number >= number
            and not app.run_active
            and (app.model.finished is not None or app.model.problem is not None)
        ),
        timeout,
        f"run #{number} to finish",
    )


def table_cell(app: FlowymlApp, step: str, column: str) -> str:
    from flowyml_tui.tui.widgets.step_table import StepTable

    value = app.query_one(StepTable).get_cell(step, column)
    return getattr(value, "plain", str(value))


def widget_text(widget) -> str:
    """The characters a widget shows on screen right now (what a user would read)."""
    from textual.geometry import Region

    width, height = widget.outer_size  # render_lines draws the border and padding too
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))
