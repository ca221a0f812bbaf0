"""Start-up pauses the garbage collector (flowyml_tui/startup.py): steps must find it on."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

from flowyml_tui.runner.session import RunSession
from tests.cli_process import run_cli

PIPELINE = textwrap.dedent("""
    import gc
    import json
    from flowyml_tui import Pipeline, step

    LOADED_WITH = gc.isenabled()  # while the file is imported: paused

    @step(outputs=["state"], cache=False)
    def look(out):
        state = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count() > 0,
                 "at_import": LOADED_WITH}
        with open(out, "w") as handle:
            json.dump(state, handle)
        return state

    pipeline = Pipeline("gcstate").add_step(look)
""")


def test_a_step_run_by_the_cli_finds_the_collector_on(tmp_path: Path) -> None:
    path = tmp_path / "gcstate.py"
    path.write_text(PIPELINE)
    state = tmp_path / "state.json"
    out = run_cli("run", path, "--cache-dir", tmp_path / "cache", "-c", f"out={state}")
    assert out.returncode == 0, out.stderr
    assert json.loads(state.read_text()) == {"enabled": True, "frozen": True, "at_import": False}


def test_a_step_run_by_the_tui_worker_finds_the_collector_on(tmp_path: Path) -> None:
    path = tmp_path / "gcstate.py"
    path.write_text(PIPELINE)

    state = tmp_path / "state.json"

    async def run_once() -> None:
        session = RunSession(path, cache_dir=str(tmp_path / "cache"))
        session.context = {"out": str(state)}
        try:
            [m async for m in session.run()]
        finally:
            await session.aclose()

    asyncio.run(run_once())
    assert json.loads(state.read_text()) == {"enabled": True, "frozen": True, "at_import": False}
