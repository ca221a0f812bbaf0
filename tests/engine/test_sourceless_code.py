"""Code without source (eval, exec, REPL, notebooks) is keyed by its code object and the values
it captures: a changed constant, closure or global is a miss, never a stale hit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from flowyml_tui import Pipeline, step

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]


def generated(source: str, name: str, **globals_: Any) -> Any:
    """A function made by `exec` in a bare namespace, as generated code or a REPL makes it."""
    namespace: dict[str, Any] = dict(globals_)
    exec(textwrap.dedent(source), namespace)
    return namespace[name]


@step(outputs=["y"])
def apply(fn, x):
    return fn(x)


def run_apply(cache_dir: Path, fn: Any, x: int = 2) -> tuple[str, Any]:
    result = Pipeline("values", cache_dir=cache_dir).add_step(apply).run(context={"fn": fn, "x": x})
    result.raise_for_failures()
    return result.step_results["apply"].status.value, result["y"]


# -- a function passed as a context value ---------------------------------------------------------


def test_an_eval_lambda_with_another_global_is_a_miss(tmp_path: Path) -> None:
    three = eval("lambda x: x * mult", {"mult": 3})
    five = eval("lambda x: x * mult", {"mult": 5})
    assert run_apply(tmp_path, three) == ("executed", 6)
    assert run_apply(tmp_path, five) == ("executed", 10)
    assert run_apply(tmp_path, eval("lambda x: x * mult", {"mult": 3})) == ("cached", 6)


def test_an_exec_closure_over_a_generated_function_is_a_miss(tmp_path: Path) -> None:
    source = """
    def make(inner):
        def scale(x):
            return inner(x) + 1
        return scale
    """
    make = generated(source, "make")
    three = eval("lambda x: x * mult", {"mult": 3})
    assert run_apply(tmp_path, make(three)) == ("executed", 7)
    assert run_apply(tmp_path, make(eval("lambda x: x * mult", {"mult": 5}))) == ("executed", 11)
    assert run_apply(tmp_path, generated(source, "make")(three)) == ("cached", 7)


def test_an_eval_lambda_with_another_constant_is_a_miss(tmp_path: Path) -> None:
    assert run_apply(tmp_path, eval("lambda x: x * 3")) == ("executed", 6)
    assert run_apply(tmp_path, eval("lambda x: x * 5")) == ("executed", 10)


def test_a_generated_helper_of_a_generated_function_counts(tmp_path: Path) -> None:
    def outer(mult: int) -> Any:
        inner = eval("lambda x: x * mult", {"mult": mult})
        return eval("lambda x: inner(x) + 1", {"inner": inner})

    assert run_apply(tmp_path, outer(3)) == ("executed", 7)
    assert run_apply(tmp_path, outer(5)) == ("executed", 11)
    assert run_apply(tmp_path, outer(3)) == ("cached", 7)


def test_a_global_reassigned_in_the_same_process_is_a_miss(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"mult": 3}
    fn = eval("lambda x: x * mult", namespace)
    assert run_apply(tmp_path, fn) == ("executed", 6)
    namespace["mult"] = 5  # a notebook cell re-binding the global the lambda reads
    assert run_apply(tmp_path, fn) == ("executed", 10)


# -- a step, or a helper it calls, made by exec ---------------------------------------------------

STEP_SOURCE = """
def scaled(x):
    return helper(x) + OFFSET
"""


def generated_step(helper: Any, offset: int = 0) -> Any:
    return step(outputs=["y"])(generated(STEP_SOURCE, "scaled", helper=helper, OFFSET=offset))


def run_step(cache_dir: Path, made: Any, x: int = 2) -> tuple[str, Any]:
    result = Pipeline("generated", cache_dir=cache_dir).add_step(made).run(context={"x": x})
    result.raise_for_failures()
    return result.step_results["scaled"].status.value, result["y"]


def test_a_generated_helper_with_another_global_is_a_miss(tmp_path: Path) -> None:
    three = eval("lambda x: x * mult", {"mult": 3})
    five = eval("lambda x: x * mult", {"mult": 5})
    assert run_step(tmp_path, generated_step(three)) == ("executed", 6)
    assert run_step(tmp_path, generated_step(five)) == ("executed", 10)
    assert run_step(tmp_path, generated_step(three)) == ("cached", 6)


def test_a_generated_helper_with_another_closure_is_a_miss(tmp_path: Path) -> None:
    make = generated("def make(k):\n    return lambda x: x * k\n", "make")
    assert run_step(tmp_path, generated_step(make(3))) == ("executed", 6)
    assert run_step(tmp_path, generated_step(make(5))) == ("executed", 10)


def test_a_generated_class_a_step_uses_counts_with_its_globals(tmp_path: Path) -> None:
    source = """
    class Scaler:
        def apply(self, x):
            return x * mult
    """

    def made(mult: int) -> Any:
        scaler = generated(source, "Scaler", mult=mult)
        uses = "def scaled(x):\n    return Scaler().apply(x)\n"
        return step(outputs=["y"])(generated(uses, "scaled", Scaler=scaler))

    assert run_step(tmp_path, made(3)) == ("executed", 6)
    assert run_step(tmp_path, made(5)) == ("executed", 10)
    assert run_step(tmp_path, made(3)) == ("cached", 6)


def test_a_generated_step_whose_global_is_rebound_is_a_miss(tmp_path: Path) -> None:
    made = generated_step(eval("lambda x: x"), offset=1)
    assert run_step(tmp_path, made) == ("executed", 3)
    made.func.__globals__["OFFSET"] = 4  # the same function object, a new global value
    assert run_step(tmp_path, made) == ("executed", 6)


def test_a_file_step_calling_a_generated_helper_sees_its_values(write_file, load) -> None:
    source = """
    from flowyml_tui import Pipeline, step

    MULT = 3
    scale = eval("lambda x: x * mult", {"mult": MULT})

    @step(outputs=["y"])
    def scaled(x: int = 2):
        return scale(x)

    pipeline = Pipeline("file").add_step(scaled)
    """
    path = write_file("gen_pipeline.py", source)
    first = load(path).run()
    assert first["y"] == 6
    write_file("gen_pipeline.py", source.replace("MULT = 3", "MULT = 5"))
    second = load(path).run()
    assert second.step_results["scaled"].status.value == "executed"
    assert second["y"] == 10


# -- across processes ---------------------------------------------------------------------------

SCRIPT = """
import json, sys
from flowyml_tui import Pipeline, step

cache_dir, mult = sys.argv[1], int(sys.argv[2])
helper = eval("lambda x: x * mult", {"mult": mult})
namespace = {"helper": helper, "OFFSET": 1}
exec("def scaled(x):\\n    return helper(x) + OFFSET\\n", namespace)
pipeline = Pipeline("fresh", cache_dir=cache_dir).add_step(step(outputs=["y"])(namespace["scaled"]))
with_fn = Pipeline("fresh-value", cache_dir=cache_dir).add_step(
    step(outputs=["z"])(eval("lambda fn, x: fn(x)"))
)
first = pipeline.run(context={"x": 2})
second = with_fn.run(context={"fn": eval("lambda x: x - mult", {"mult": mult}), "x": 2})
print(json.dumps([
    [first.step_results["scaled"].status.value, first["y"]],
    [second.step_results["<lambda>"].status.value, second["z"]],
]))
"""


def run_script(tmp_path: Path, mult: int, seed: str) -> list[list[Any]]:
    script = tmp_path / "generated_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "cache"), str(mult)],
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_generated_code_is_keyed_alike_in_a_fresh_process(tmp_path: Path) -> None:
    assert run_script(tmp_path, 3, seed="1") == [["executed", 7], ["executed", -1]]
    assert run_script(tmp_path, 3, seed="2") == [["cached", 7], ["cached", -1]]
    assert run_script(tmp_path, 5, seed="3") == [["executed", 11], ["executed", -3]]
