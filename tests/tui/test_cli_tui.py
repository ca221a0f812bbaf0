"""`flowyml-tui [FILE_OR_DIR ...]`: a mistake on the command line is one line on stderr, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]


def flowyml_tui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowyml_tui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
        timeout=50,
    )


def test_a_missing_file_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    result = flowyml_tui("nope.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "flowyml-tui: error: nope.py does not exist: pass a pipeline file or directory"
    ]


def test_an_unknown_theme_is_one_clear_line_and_exit_2(write_pipeline, tmp_path: Path) -> None:
    path = write_pipeline()
    result = flowyml_tui(str(path), "--theme", "nah", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown theme 'nah'" in lines[0] and "flowyml-dusk" in lines[0]


def test_no_argument_and_no_pipeline_here_says_what_to_do(tmp_path: Path) -> None:
    result = flowyml_tui(cwd=tmp_path)
    assert result.returncode == 2
    assert "no pipeline file" in result.stderr and "pass a file or directory" in result.stderr


def test_the_arguments_parse(tmp_path: Path) -> None:
    import argparse

    from flowyml_tui.cli.tui import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["a.py", "b", "--pipeline", "etl", "--cache-dir", "c", "--theme", "nord", "--no-watch"]
    )
    assert (args.paths, args.pipeline, args.cache_dir, args.theme, args.no_watch) == (
        ["a.py", "b"],
        "etl",
        "c",
        "nord",
        True,
    )


@pytest.mark.parametrize("stdin", ["devnull", "pipe"])
def test_without_a_terminal_it_says_so_and_exits_2_at_once(
    stdin: str, write_pipeline, tmp_path: Path
) -> None:
    path = write_pipeline()
    result = subprocess.run(
        [sys.executable, "-m", "flowyml_tui", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        input="" if stdin == "pipe" else None,
        stdin=subprocess.DEVNULL if stdin == "devnull" else None,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=20,  # today's bug: it spins forever
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "flowyml-tui: error: the workbench needs a terminal (stdin is not one); in scripts "
        "and CI use `flowyml-tui run FILE`"
    ]


def test_a_theme_file_that_is_not_utf8_does_not_stop_the_start(
    write_pipeline, tmp_path: Path
) -> None:
    themes = tmp_path / "config" / "flowyml-tui" / "themes"
    themes.mkdir(parents=True)
    (themes / "latin1.toml").write_bytes('name = "café"\nprimary = "#336699"\n'.encode("latin-1"))
    path = write_pipeline()
    result = subprocess.run(
        [sys.executable, "-m", "flowyml_tui", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={
            "PYTHONPATH": str(REPO),
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        },
        timeout=50,
    )
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "flowyml-tui: error: the workbench needs a terminal (stdin is not one); in scripts "
        "and CI use `flowyml-tui run FILE`"
    ]


FRAME_RATE = """
import argparse, sys
from flowyml_tui.cli import tui
parser = argparse.ArgumentParser()
tui.add_arguments(parser)
tui.build_app(parser.parse_args(sys.argv[1:]))
import textual.constants
print(textual.constants.MAX_FPS)
"""


def frame_rate(path: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", FRAME_RATE, str(path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(path.parent), **env},
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_workbench_draws_up_to_120_frames_a_second(write_pipeline) -> None:
    """A step that starts is drawn within 1/120 s of the change, not Textual's 1/60 s."""
    assert frame_rate(write_pipeline(), {}) == "120"


def test_a_frame_rate_the_user_set_wins(write_pipeline) -> None:
    assert frame_rate(write_pipeline(), {"TEXTUAL_FPS": "30"}) == "30"


def test_the_frame_rate_is_not_handed_on_to_the_pipelines_workers(write_pipeline) -> None:
    """Textual reads it once; the workers inherit the environment, and the user's code in
    them never sees our setting."""
    script = FRAME_RATE.replace(
        "print(textual.constants.MAX_FPS)", "import os; print(os.environ.get('TEXTUAL_FPS'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(write_pipeline())],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"
