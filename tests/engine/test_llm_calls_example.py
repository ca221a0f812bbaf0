"""pipelines/llm_calls.py does what its docstring promises: after a question is added, the
step runs again but only the new prompt reaches the slow fake model."""

from __future__ import annotations

from pathlib import Path

from ..conftest import REPO


def test_adding_a_question_sends_only_the_new_prompt(tmp_path: Path, load) -> None:
    source = (REPO / "pipelines" / "llm_calls.py").read_text()
    assert "time.sleep(1.0)" in source
    copy = tmp_path / "llm_calls.py"
    copy.write_text(source.replace("time.sleep(1.0)", "time.sleep(0.01)"))

    first = load(copy).run()
    assert not first.failed_steps, first.step_results
    [calls] = first.step_results["answer"].calls
    assert (calls.name, calls.hits, calls.misses) == ("fake-llm", 0, 4)

    copy.write_text(
        copy.read_text().replace("QUESTIONS = [\n", 'QUESTIONS = [\n    "Is this new?",\n')
    )
    second = load(copy).run()
    assert second.step_results["answer"].status == "executed"
    [calls] = second.step_results["answer"].calls
    assert (calls.hits, calls.misses) == (4, 1)
    assert len(second.outputs["answers"]) == 5
