"""The status line shows the memory the spare worker holds for the libraries it imported;
`--no-warm` and `warm = false` in config.toml turn the warm-up off."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowyml_tui.cli.tui import add_arguments, build_app
from flowyml_tui.tui.widgets.status_line import StatusLine

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(90)
REPO = Path(__file__).resolve().parents[2]

PIPELINE = """
import ballast


@step(outputs=["x"])
def value():
    return len(ballast.BALLAST)


pipeline = Pipeline("ballasted", cache_dir=".flowyml/cache")
pipeline.add_step(value)
"""


@pytest.fixture
def library(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed library (a site-packages folder on PYTHONPATH, outside the project folder)
    that holds 32 MB."""
    site = tmp_path_factory.mktemp("env") / "site-packages"
    site.mkdir(parents=True)
    (site / "ballast.py").write_text("BALLAST = b'x' * (32 << 20)\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(site))


def status_text(app) -> str:
    return widget_text(app.query_one(StatusLine))


@pytest.mark.usefixtures("library")
def test_the_status_line_shows_the_spares_extra_memory(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(PIPELINE))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await wait_until(pilot, lambda: "warm +" in status_text(app), 60, "the spare's memory")
        shown = re.search(r"warm \+(\d+\.\d) MB", status_text(app))
        assert shown is not None, status_text(app)
        assert 32 <= float(shown.group(1)) < 64  # the library's 32 MB, and what it imported

    drive(app, scenario, size=(160, 36))


@pytest.mark.usefixtures("library")
def test_without_warm_imports_the_status_line_shows_no_warm_up(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(PIPELINE), warm_imports=False)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.pause(3.0)  # long enough for a warm-up of 32 MB to be reported
        assert "warm +" not in status_text(app)
        assert app._session is not None and app._session.spare_warmed is None

    drive(app, scenario, size=(160, 36))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_no_warm_and_the_config_setting_turn_the_warm_up_off(
    write_pipeline, tmp_path: Path
) -> None:
    path = str(write_pipeline())
    assert build_app(parse(path)).warm_imports is True
    assert build_app(parse(path, "--no-warm")).warm_imports is False
    config = tmp_path / "config" / "flowyml-tui" / "config.toml"  # XDG_CONFIG_HOME: conftest
    config.parent.mkdir(parents=True)
    config.write_text("warm = false\n", encoding="utf-8")
    assert build_app(parse(path)).warm_imports is False


def test_a_bad_warm_setting_is_one_clear_line_and_exit_2(write_pipeline, tmp_path: Path) -> None:
    config = tmp_path / "config" / "flowyml-tui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('warm = "sometimes"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "flowyml_tui", str(write_pipeline())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": str(REPO),
            "PATH": "/usr/bin:/bin",
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        },
        timeout=50,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"flowyml-tui: error: {config}: warm must be true or false, not 'sometimes'"
    ]
