"""The spare worker imports the last run's third-party libraries while it waits, never the
user's own modules, and a library it cannot import is left for the run.

The libraries here are real packages in a `site-packages` folder on PYTHONPATH (installed
code, as far as the worker can tell); the pipeline file prints, before its own imports, which
of them were already in `sys.modules`: what the spare had imported before the go.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from flowyml_tui.engine.events import RunFinished, StepLog
from flowyml_tui.runner.protocol import ChildOutput, LoadFailed, WarmedUp
from flowyml_tui.runner.session import RunMessage, RunSession

from ..needs import need

pytestmark = pytest.mark.timeout(90)

PIPELINE = """
import sys

WATCHED = ("fakelib", "fakelib.extra", "fakelib.flaky", "helper", "shadowme")
print("preloaded:", sorted(n for n in WATCHED if n in sys.modules))

import fakelib.extra
import fakelib.flaky
import helper
import shadowme

from flowyml_tui import Pipeline, step


@step(outputs=["x"])
def value():
    print("value:", helper.VALUE + fakelib.extra.OFFSET, "from", shadowme.WHERE)
    return helper.VALUE


pipeline = Pipeline("warm").add_step(value)
"""

LIBRARY = {
    "fakelib/__init__.py": "BALLAST = b'x' * (24 << 20)  # resident: the spare's memory shows\n",
    "fakelib/extra.py": "OFFSET = 100\n",
    "fakelib/flaky.py": """
        import sys

        if "--wait-for-go" in sys.argv:  # still the spare's command line: before the go
            raise ImportError("this library refuses to be imported ahead")
    """,
    "shadowme.py": "WHERE = 'installed'\n",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "env" / "site-packages"
    for name, text in LIBRARY.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(site))  # the workers inherit it
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipe.py").write_text(PIPELINE, encoding="utf-8")
    (folder / "helper.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    return folder


def runs_with_a_spare(
    folder: Path, between, *, warm_imports: bool = True
) -> tuple[list[RunMessage], WarmedUp | None, list[RunMessage]]:
    """Run once, wait for the spare to finish warming up, call `between()`, run again."""
    session = RunSession(
        folder / "pipe.py", cache_dir=str(folder / "cache"), warm_imports=warm_imports
    )

    async def main():
        try:
            first = [m async for m in session.run()]
            warmed = await asyncio.wait_for(session.spare_ready(), 60)
            between()
            second = [m async for m in session.run()]
            return first, warmed, second
        finally:
            await session.aclose()

    return asyncio.run(main())


def printed(messages: list[RunMessage], prefix: str) -> str:
    lines = "".join(m.text for m in messages if isinstance(m, ChildOutput | StepLog))
    found = [line for line in lines.splitlines() if line.startswith(prefix)]
    assert found, f"nothing printed starting with {prefix!r}: {messages}"
    return found[-1]


def test_the_spare_imports_the_libraries_but_never_the_users_modules(project: Path):
    def edit_helper() -> None:
        (project / "helper.py").write_text("VALUE = 2\n", encoding="utf-8")

    first, warmed, second = runs_with_a_spare(project, edit_helper)

    assert printed(first, "preloaded:") == "preloaded: []"  # a cold worker
    assert isinstance(second[-1], RunFinished)
    assert printed(second, "preloaded:") == "preloaded: ['fakelib', 'fakelib.extra', 'shadowme']"
    assert printed(second, "value:") == "value: 102 from installed"  # the edited helper ran
    assert warmed is not None and warmed.complete
    assert {"fakelib", "shadowme"} <= set(warmed.packages) and "helper" not in warmed.packages
    assert warmed.extra_bytes is not None and warmed.extra_bytes > 20 << 20


def test_a_library_that_fails_in_the_spare_is_imported_by_the_run(project: Path):
    first, warmed, second = runs_with_a_spare(project, lambda: None)

    assert isinstance(first[-1], RunFinished)
    assert warmed is not None and warmed.complete  # the warm-up went on past the failure
    preloaded = printed(second, "preloaded:")
    assert "'fakelib.extra'" in preloaded and "fakelib.flaky" not in preloaded
    assert not [m for m in second if isinstance(m, LoadFailed)]
    assert "ImportError" not in "".join(m.text for m in second if isinstance(m, ChildOutput))
    assert isinstance(second[-1], RunFinished)


def test_a_project_file_named_like_a_warmed_library_wins(project: Path):
    """Created while the spare waited: the run imports the file, as a cold worker would."""

    def shadow() -> None:
        (project / "shadowme.py").write_text("WHERE = 'the project'\n", encoding="utf-8")

    _, warmed, second = runs_with_a_spare(project, shadow)

    assert warmed is not None and "shadowme" in warmed.packages
    assert printed(second, "value:") == "value: 101 from the project"
    assert "shadowme" not in printed(second, "preloaded:")


def test_no_warm_leaves_the_spare_with_the_engine_only(project: Path):
    _, warmed, second = runs_with_a_spare(project, lambda: None, warm_imports=False)

    assert warmed is None
    assert printed(second, "preloaded:") == "preloaded: []"
    assert isinstance(second[-1], RunFinished)


def test_the_spare_imports_pandas_and_scikit_learn(tmp_path: Path, monkeypatch):
    need("sklearn")
    need("pandas")
    (tmp_path / "pipe.py").write_text(
        textwrap.dedent("""
            import sys

            print("preloaded:", [m for m in ("pandas", "sklearn.linear_model") if m in sys.modules])

            import pandas as pd
            from sklearn.linear_model import LogisticRegression

            from flowyml_tui import Pipeline, step


            @step(outputs=["model"])
            def fit():
                frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
                return LogisticRegression().fit(frame[["x"]], frame["y"]).coef_.tolist()


            pipeline = Pipeline("sk").add_step(fit)
        """),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    first, warmed, second = runs_with_a_spare(tmp_path, lambda: None)

    assert printed(first, "preloaded:") == "preloaded: []"
    assert printed(second, "preloaded:") == "preloaded: ['pandas', 'sklearn.linear_model']"
    assert warmed is not None and {"pandas", "sklearn", "numpy"} <= set(warmed.packages)


STANDARD = """
import sys

print("preloaded:", [m for m in ("wave",) if m in sys.modules])

import wave

from flowyml_tui import Pipeline, step

print("imported: wave from", getattr(wave, "WHERE", "the standard library"))


@step(outputs=["x"])
def value():
    return 1


pipeline = Pipeline("standard").add_step(value)
"""


def test_the_spare_imports_the_standard_modules_the_run_imported(tmp_path: Path, monkeypatch):
    (tmp_path / "pipe.py").write_text(STANDARD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    first, warmed, second = runs_with_a_spare(tmp_path, lambda: None)

    assert printed(first, "preloaded:") == "preloaded: []"
    assert printed(second, "preloaded:") == "preloaded: ['wave']"
    assert printed(second, "imported:") == "imported: wave from the standard library"
    assert warmed is not None and "wave" in warmed.packages


def test_a_project_file_named_like_a_standard_module_wins(tmp_path: Path, monkeypatch):
    """Created while the spare waited: the run imports the file, as a cold worker would."""
    (tmp_path / "pipe.py").write_text(STANDARD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    def shadow() -> None:
        (tmp_path / "wave.py").write_text("WHERE = 'the project'\n", encoding="utf-8")

    _, warmed, second = runs_with_a_spare(tmp_path, shadow)

    assert warmed is not None and "wave" in warmed.packages
    assert printed(second, "imported:") == "imported: wave from the project"
    assert printed(second, "preloaded:") == "preloaded: []"
