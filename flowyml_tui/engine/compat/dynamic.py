"""flowyml's `@dynamic` steps: the function returns a pipeline, which then runs on our engine.

The step calls the function; a pipeline it returns (flowyml's, translated, or ours) runs as
a nested run on our engine with the parent run's cache dir, so each of its steps is cached
and the nested run is recorded as its own run. The step's value is the nested run's outputs:
the one declared output's value, a dict of the declared ones, or (none declared, or not all
made) a dict of every output. A failed nested step fails the dynamic step. A function that
returns anything else returns it as the step's value, as flowyml does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..callscope import current_directory
from ..pipeline import Pipeline


def expanding(
    func: Callable[..., Any], declared: tuple[str, ...], path: Path
) -> Callable[..., Any]:
    @functools.wraps(func)  # the step's code identity and signature stay `func`'s
    def expand(*args: Any, **kwargs: Any) -> Any:
        from .translate import is_flowyml_pipeline, translate

        made = func(*args, **kwargs)
        if is_flowyml_pipeline(made):
            made = translate(made, path)
        if not isinstance(made, Pipeline):
            return made
        calls = current_directory()
        if calls is not None:  # the running step's `<cache_dir>/calls`
            made.cache_dir = calls.parent
        result = made.run()
        result.raise_for_failures()
        outputs = list(result.outputs)
        if declared and all(name in outputs for name in declared):
            if len(declared) == 1:
                return result[declared[0]]
            return {name: result[name] for name in declared}
        return {name: result[name] for name in outputs}

    return expand
