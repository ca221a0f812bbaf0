"""A flowyml file opens with `from flowyml import ...` unchanged when flowyml is not installed.

flowyml==2.2.1 is in the test extra, so these run in processes that cannot see it: a
`sitecustomize` hides it from the path finder, as if it were not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import run_cli

from .test_flowyml_template import TEMPLATE

REPO = Path(__file__).resolve().parents[2]
UNCHANGED = TEMPLATE.replace("from flowyml_tui import", "from flowyml import")
HIDE_FLOWYML = """
import importlib.machinery as _machinery

_find = _machinery.PathFinder.find_spec.__func__


def _find_spec(cls, name, path=None, target=None):
    if name == "flowyml" or name.startswith("flowyml."):
        return None
    return _find(cls, name, path, target)


_machinery.PathFinder.find_spec = classmethod(_find_spec)
"""


@pytest.fixture
def without_flowyml(tmp_path: Path) -> dict[str, str]:
    """Environment for a process in which `import flowyml` finds no real package."""
    hide = tmp_path / "hide-flowyml"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_FLOWYML)
    path = [str(hide), os.environ.get("PYTHONPATH", ""), str(REPO)]
    return {"PYTHONPATH": os.pathsep.join(p for p in path if p)}


def _python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
        timeout=60,
    )


def test_the_flowyml_init_template_loads_and_runs_unchanged(
    write_file, without_flowyml, tmp_path: Path
) -> None:
    path = write_file("training_pipeline.py", UNCHANGED)
    assert "from flowyml import Pipeline, step, context" in path.read_text()
    code = (
        "from flowyml_tui.engine.compat.shim import real_flowyml_installed\n"
        "from flowyml_tui.engine.load.loader import load_pipelines\n"
        "assert not real_flowyml_installed()\n"
        f"p = load_pipelines({str(path)!r})['training_pipeline']\n"
        f"p.cache_dir = {str(tmp_path / 'cache')!r}\n"
        "r = p.run()\n"
        "assert r.success\n"
        "print(r['metrics/evaluation'])\n"
    )
    done = _python(code, without_flowyml, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "{'test_accuracy': 0.93, 'test_loss': 0.07}" in done.stdout


def test_flowyml_tui_run_opens_it(write_file, without_flowyml, tmp_path: Path) -> None:
    path = write_file("training_pipeline.py", UNCHANGED)
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path, env=without_flowyml)
    assert done.returncode == 0, done.stderr
    assert "evaluate_model" in done.stdout


def test_what_the_stand_in_lacks_is_named(write_file, without_flowyml, tmp_path: Path) -> None:
    path = write_file(
        "assets.py",
        "from flowyml import Pipeline, Dataset\n\npipeline = Pipeline('p')\n",
    )
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path, env=without_flowyml)
    assert done.returncode != 0
    assert "flowyml.Dataset is not available" in done.stderr
    assert "flowyml-tui[flowyml]" in done.stderr
