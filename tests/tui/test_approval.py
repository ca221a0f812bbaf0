"""An approval step (flowyml's `approval(...)`, real flowyml 2.2.1) asks in the workbench.

The run stops at the step with a prompt naming the key; pressing it approves the step and
runs again, and the approved value is cached, so the next run does not ask.
"""

from __future__ import annotations

import os

import pytest
from textual.widgets import Footer

from flowyml_tui.engine.compat.shim import real_flowyml_installed

from .helpers import drive, statuses, wait_for_run, wait_until

pytestmark = pytest.mark.timeout(90)

RELEASE = """
from flowyml import Pipeline, step, approval

@step(outputs=["model"])
def train():
    return {"accuracy": 0.91}

ship_it = approval("ship_it", approver="lead", inputs=["model"], outputs=["approved_model"])

@step(inputs=["approved_model"], outputs=["url"])
def deploy(approved_model):
    return f"deployed {approved_model['accuracy']}"

pipeline = Pipeline("release")
pipeline.add_step(train).add_step(ship_it).add_step(deploy)
"""


@pytest.fixture(autouse=True)
def _needs_flowyml(tmp_path, monkeypatch) -> None:
    if not real_flowyml_installed():
        message = "needs the real flowyml==2.2.1: pip install -e '.[test]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    monkeypatch.setenv("FLOWYML_HOME", str(tmp_path / "flowyml-home"))


def footer_keys(app) -> str:
    return " ".join(str(k.description) for k in app.query_one(Footer).query("FooterKey"))


def test_the_approve_key_approves_the_waiting_step_and_runs_again(tmp_path, new_app) -> None:
    path = tmp_path / "release.py"
    path.write_text(RELEASE, encoding="utf-8")
    app = new_app(path)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1, timeout=40)
        assert statuses(app) == {"train": "executed", "ship_it": "failed", "deploy": "skipped"}
        assert app.waiting_approvals == ["ship_it"]
        await wait_until(pilot, lambda: "Approve" in footer_keys(app), what="the approve key")
        await pilot.press("A")
        await wait_for_run(pilot, app, 2, timeout=40)
        assert statuses(app) == {"train": "cached", "ship_it": "executed", "deploy": "executed"}
        assert "Approve" not in footer_keys(app)
        await pilot.press("r")  # approved once: the value is cached, nothing asks again
        await wait_for_run(pilot, app, 3, timeout=40)
        assert set(statuses(app).values()) == {"cached"}

    drive(app, scenario)
