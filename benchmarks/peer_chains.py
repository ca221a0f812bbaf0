"""The same chain of trivial steps written for each system a user would pick instead of ours.

Each `*_source(steps)` returns the text of a module that defines `_make(cache_dir)`
(underscored: Hamilton takes every public function for a node): it builds the pipeline over
that cache folder and returns a call that runs the whole chain and returns its last value
(`steps - 1`). The same file is imported in-process by `bench_peers.py` and run by a fresh
interpreter (`python peer_chains.py FILE CACHE_DIR`), so both ways run exactly the same code.
Each step is its own function, as in a real pipeline.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType


def ours_source(steps: int) -> str:
    lines = [
        "from flowyml_tui import Pipeline, step",
        'pipeline = Pipeline("chain")',
        "@step(outputs=['v0'])",
        "def s0():",
        "    return 0",
        "pipeline.add_step(s0)",
    ]
    for i in range(1, steps):
        lines += [
            f"@step(inputs=['v{i - 1}'], outputs=['v{i}'])",
            f"def s{i}(x):",
            "    return x + 1",
            f"pipeline.add_step(s{i})",
        ]
    lines += [
        "def _make(cache_dir):",  # a pipeline of its own per cache dir, as the peers make
        "    made = Pipeline('chain')",
        "    for each in pipeline.steps:",
        "        made.add_step(each)",
        "    made.cache_dir = cache_dir",
        f"    return lambda: made.run().outputs['v{steps - 1}']",
    ]
    return "\n".join(lines) + "\n"


def joblib_source(steps: int) -> str:
    lines = ["import joblib", "def _make(cache_dir):"]
    lines += ["    memory = joblib.Memory(cache_dir, verbose=0)"]
    lines += ["    @memory.cache", "    def s0():", "        return 0"]
    for i in range(1, steps):
        lines += ["    @memory.cache", f"    def s{i}(x):", "        return x + 1"]
    lines += ["    def run():", "        x = s0()"]
    lines += [f"        x = s{i}(x)" for i in range(1, steps)]
    lines += ["        return x", "    return run"]
    return "\n".join(lines) + "\n"


def hamilton_source(steps: int) -> str:
    lines = ["import sys", "from hamilton import driver", "def v0() -> int:", "    return 0"]
    lines.insert(1, f"sys.setrecursionlimit(max(sys.getrecursionlimit(), {4 * steps}))")
    for i in range(1, steps):
        lines += [f"def v{i}(v{i - 1}: int) -> int:", f"    return v{i - 1} + 1"]
    lines += [
        "def _make(cache_dir):",
        "    dr = (",
        "        driver.Builder()",
        "        .with_modules(sys.modules[__name__])",
        "        .with_cache(path=cache_dir)",
        "        .build()",
        "    )",
        f"    return lambda: dr.execute(['v{steps - 1}'])['v{steps - 1}']",
    ]
    return "\n".join(lines) + "\n"


def pipefunc_source(steps: int) -> str:
    lines = [
        "import sys",
        "from pipefunc import Pipeline, pipefunc",
        "sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * STEPS))".replace(
            "STEPS", str(steps)
        ),  # pipefunc and Hamilton walk the graph recursively: 1000 steps exceed the default
        "funcs = []",
        "@pipefunc(output_name='v0', cache=True)",
        "def s0():",
        "    return 0",
        "funcs.append(s0)",
    ]
    for i in range(1, steps):
        lines += [
            f"@pipefunc(output_name='v{i}', cache=True)",
            f"def s{i}(v{i - 1}):",
            f"    return v{i - 1} + 1",
            f"funcs.append(s{i})",
        ]
    lines += [
        "def _make(cache_dir):",
        "    pipeline = Pipeline(funcs, cache_type='disk', cache_kwargs={'cache_dir': cache_dir})",
        f"    return lambda: pipeline('v{steps - 1}')",
    ]
    return "\n".join(lines) + "\n"


SOURCES: dict[str, Callable[[int], str]] = {
    "flowyml-tui": ours_source,
    "joblib.Memory": joblib_source,
    "Hamilton": hamilton_source,
    "pipefunc": pipefunc_source,
}
PEER_PACKAGES = {"joblib.Memory": "joblib", "Hamilton": "hamilton", "pipefunc": "pipefunc"}


def load(path: Path) -> ModuleType:
    """Import a generated chain file under a name of its own (Hamilton reads the module)."""
    name = f"peer_chain_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """A fresh process's fully cached run: import, build, run; prints its seconds and the value."""
    started = time.perf_counter()
    value = load(Path(sys.argv[1]))._make(sys.argv[2])()
    print(time.perf_counter() - started, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
