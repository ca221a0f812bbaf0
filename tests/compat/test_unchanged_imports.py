"""A flowyml file opens with `from flowyml import ...` unchanged when flowyml is not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml_tui.engine.compat.shim import real_flowyml_installed
from flowyml_tui.engine.errors import PipelineLoadError
from flowyml_tui.engine.loader import load_pipelines
from tests.cli_process import run_cli

from .test_flowyml_template import TEMPLATE

pytestmark = pytest.mark.skipif(
    real_flowyml_installed(), reason="the shim stands in only where flowyml is not installed"
)

UNCHANGED = TEMPLATE.replace("from flowyml_tui import", "from flowyml import")


def test_the_flowyml_init_template_loads_and_runs_unchanged(write_file, load) -> None:
    path = write_file("training_pipeline.py", UNCHANGED)
    assert "from flowyml import Pipeline, step, context" in path.read_text()
    result = load(path).run()
    assert result.success
    assert result["metrics/evaluation"] == {"test_accuracy": 0.93, "test_loss": 0.07}


def test_flowyml_tui_run_opens_it(write_file, tmp_path: Path) -> None:
    path = write_file("training_pipeline.py", UNCHANGED)
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_what_the_stand_in_lacks_is_named(write_file) -> None:
    path = write_file(
        "assets.py",
        "from flowyml import Pipeline, Dataset\n\npipeline = Pipeline('p')\n",
    )
    with pytest.raises(PipelineLoadError, match=r"flowyml\.Dataset is not available"):
        load_pipelines(path)
