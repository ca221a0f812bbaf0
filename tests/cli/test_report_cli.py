"""`flowyml-tui runs` and `flowyml-tui report`, run as real processes over real run records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowyml_tui.engine.load.loader import load_pipelines

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]

PIPELINE = """
from flowyml_tui import Pipeline, step


@step(outputs=["raw"])
def load_data(n):
    return list(range(n))


@step(inputs=["raw"], outputs=["clean"])
def clean_data(raw):
    return [x * FACTOR for x in raw]


pipeline = Pipeline("cli_example")
pipeline.add_step(load_data).add_step(clean_data)
"""


def run_version(folder: Path, factor: str) -> str:
    path = folder / "cli_example.py"
    path.write_text(PIPELINE.replace("FACTOR", factor))
    (pipeline,) = load_pipelines(path).values()
    pipeline.cache_dir = folder / ".flowyml" / "cache"
    return pipeline.run(context={"n": 3}).run_id


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str, str]:
    """A folder with two recorded runs and an edit between them, in the default cache dir."""
    return tmp_path, run_version(tmp_path, "2"), run_version(tmp_path, "3")


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "flowyml_tui", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )


def test_runs_lists_the_newest_run_first(project: tuple[Path, str, str]) -> None:
    folder, first, second = project
    done = cli(folder, "runs")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "RUN", "ID", "WHEN", "PIPELINE", "STATUS", "EXEC", "CACHED", "FAILED", "DURATION",
    ]  # fmt: skip
    assert lines[1].startswith(second) and lines[2].startswith(first)
    assert "cli_example" in lines[1] and "succeeded" in lines[1]
    assert lines[1].split()[-5:-2] == ["1", "1", "0"]  # executed, cached, failed
    assert len(cli(folder, "runs", "--limit", "1").stdout.splitlines()) == 2


def test_runs_in_an_empty_cache_says_how_to_make_one(tmp_path: Path) -> None:
    done = cli(tmp_path, "runs", "--cache-dir", str(tmp_path / "nothing"))

    assert done.returncode == 0
    assert "No runs recorded" in done.stdout and "flowyml-tui run" in done.stdout


def test_report_latest_as_markdown_goes_to_stdout(project: tuple[Path, str, str]) -> None:
    folder, _, second = project
    done = cli(folder, "report", "latest", "--format", "md")

    assert done.returncode == 0, done.stderr
    assert f"run `{second}`" in done.stdout
    assert "```diff" in done.stdout and "+    return [x * 3 for x in raw]" in done.stdout


def test_report_as_json_to_a_file_says_where(project: tuple[Path, str, str]) -> None:
    folder, first, _ = project
    done = cli(folder, "report", first, "--format", "json", "-o", "out/run.json")

    assert done.returncode == 0, done.stderr
    assert "out/run.json" in done.stdout
    assert json.loads((folder / "out" / "run.json").read_text())["run_id"] == first


def test_report_as_html_without_a_file_writes_the_default_name(
    project: tuple[Path, str, str],
) -> None:
    folder, _, second = project
    done = cli(folder, "report", "--format", "html")

    expected = folder / f"flowyml-report-{second}.html"
    assert done.returncode == 0, done.stderr
    assert str(expected) in done.stdout
    assert "<svg" in expected.read_text()


def test_report_compare_shows_what_changed_between_two_runs(
    project: tuple[Path, str, str],
) -> None:
    folder, first, second = project
    done = cli(folder, "report", "--compare", first, second, "--format", "md")

    assert done.returncode == 0, done.stderr
    assert "| `load_data` | **executed → cached** |" in done.stdout
    assert "+    return [x * 3 for x in raw]" in done.stdout


def test_report_compare_shows_the_code_diff_of_runs_far_apart(
    project: tuple[Path, str, str],
) -> None:
    """Run B's step came from the cache (no diff in its record): the diff from A's code to
    B's is rebuilt from the stored sources, not "No diff recorded"."""
    folder, first, _ = project
    third = run_version(folder, "3")  # clean_data is a hit now: its record has no diff
    page = folder / "cmp.html"
    done = cli(folder, "report", "--compare", first, third, "--format", "html", "-o", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "No diff recorded" not in html
    assert "x * 3" in html and "x * 2" in html
    md = cli(folder, "report", "--compare", first, third, "--format", "md").stdout
    assert "+    return [x * 3 for x in raw]" in md
    assert "-    return [x * 2 for x in raw]" in md


def test_an_unknown_run_is_one_clear_line_and_exit_2(project: tuple[Path, str, str]) -> None:
    folder, first, second = project
    done = cli(folder, "report", "nope", "--format", "md")

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("flowyml-tui: error: no run 'nope'")
    assert first in line and second in line


def test_a_run_id_and_compare_together_are_refused(project: tuple[Path, str, str]) -> None:
    folder, first, second = project
    done = cli(folder, "report", first, "--compare", first, second)

    assert done.returncode == 2
    assert "either RUN_ID or --compare" in done.stderr


def test_no_runs_yet_is_an_error_for_report(tmp_path: Path) -> None:
    done = cli(tmp_path, "report", "--format", "md")

    assert done.returncode == 2
    assert "run a pipeline first" in done.stderr


def test_a_limit_below_one_is_a_usage_error(tmp_path: Path) -> None:
    done = cli(tmp_path, "runs", "--limit", "0")

    assert done.returncode == 2
    assert "expected 1 or more, got 0" in done.stderr


def test_report_compare_lists_the_context_that_changed(tmp_path: Path) -> None:
    path = tmp_path / "cli_example.py"
    path.write_text(PIPELINE.replace("FACTOR", "2"))
    (pipeline,) = load_pipelines(path).values()
    pipeline.cache_dir = tmp_path / ".flowyml" / "cache"
    first = pipeline.run(context={"n": 3, "seed": 1}).run_id
    second = pipeline.run(context={"n": 5, "mode": "fast", "seed": 1}).run_id

    md = cli(tmp_path, "report", "--compare", first, second, "--format", "md")
    assert md.returncode == 0, md.stderr
    assert "#### Context changes" in md.stdout
    assert "- `mode`: `(absent)` → `'fast'`" in md.stdout
    assert "- `n`: `3` → `5`" in md.stdout
    assert "`seed`" not in md.stdout  # unchanged keys are not listed

    done = cli(tmp_path, "report", "--compare", first, second, "--format", "json")
    data = json.loads(done.stdout)
    assert data["context"] == [
        {"key": "mode", "a": None, "b": "'fast'"},
        {"key": "n", "a": "3", "b": "5"},
    ]
    assert data["a"]["context"] == {"n": "3", "seed": "1"}

    out = tmp_path / "cmp.html"
    cli(tmp_path, "report", "--compare", first, second, "--format", "html", "-o", str(out))
    html = out.read_text()
    assert "<h2>Context changes</h2>" in html and "<code>&#x27;fast&#x27;</code>" in html
