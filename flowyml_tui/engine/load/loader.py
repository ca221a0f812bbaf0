"""Find the pipelines in an ordinary Python file by running it, as its author would.

The file is imported fresh with its `if __name__ == "__main__":` blocks run (`main_block`),
and every `run()` it makes goes to the caller's handler (`script_runs`), so a script that
builds its pipeline in `main()` and reads `result.outputs[...]` after `run()` works unchanged.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

from ..compat import translate
from ..compat.shim import install_flowyml_shim
from ..errors import PipelineLoadError
from ..hashing import code_cache as codecache
from ..hashing import is_user_file
from ..pipeline import Pipeline
from . import main_block, script_runs
from .script_runs import RunHandler, ScriptRun

_PIPELINE_FOLDERS: set[Path] = set()
"""Folders pipelines were loaded from in this process: their modules are re-imported."""
_FOLDER_PREFIXES: tuple[str, ...] = ()
"""The same folders as strings ending in a separator: every import asks whether its module
lies under one, and a process that loaded hundreds of pipelines (a test suite, a long
notebook) spent seconds per load comparing Paths one by one."""


class LoadedFile:
    """What running a pipeline file gave: its pipelines by name, and the runs it made."""

    __slots__ = ("pipelines", "runs")

    def __init__(self, pipelines: dict[str, Pipeline], runs: list[ScriptRun]) -> None:
        self.pipelines = pipelines
        self.runs = runs


def load_pipelines(path: str | Path, on_run: RunHandler | None = None) -> dict[str, Pipeline]:
    """Run `path` and return its pipelines by name (see `load_file`)."""
    return load_file(path, on_run).pipelines


def load_file(path: str | Path, on_run: RunHandler | None = None) -> LoadedFile:
    """Run `path` as a script and return the pipelines it defines or runs, and its runs.

    Each `run()` the file makes goes to `on_run` (default: run on our engine, cached and
    recorded); the pipeline keeps the context that run was given. Pipelines defined at module
    level (or by `create_pipeline()`) and never run are returned too, first the ones run.

    The module is named after the file (as `python -c "import quickstart"` would) with its
    folder on `sys.path`, so sibling helper modules import and pickled values of classes
    defined in the file load again in a later process. A re-load replaces the old module.
    """
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise PipelineLoadError(f"{path}: no such file")
    if path.is_dir():
        raise PipelineLoadError(f"{path} is a folder; pass a pipeline .py file")
    if path.suffix != ".py":
        raise PipelineLoadError(f"{path}: not a Python file (expected .py)")
    module_name = path.stem if path.stem.isidentifier() else "flowyml_pipeline"
    folder = str(path.parent)
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    _remember_folder(path.parent)
    _forget_local_modules()
    _install_fresh_finder()
    shim_on = install_flowyml_shim()
    loader = _FreshSourceLoader(module_name, str(path), as_script=True)
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    real_flowyml = not shim_on and translate.uses_flowyml(path)
    try:
        with (
            script_runs.collecting(on_run or script_runs.run_plainly) as made,
            _flowyml_loading(real_flowyml, path),
            _script_argv(path),
        ):
            _run_script(loader, module, path)
            found = _module_pipelines(module, path, ran_some=bool(made.runs))
    except PipelineLoadError:  # create_pipeline() returned something else: already clear
        _restore(module_name, previous)
        raise
    except SyntaxError as exc:
        _restore(module_name, previous)
        file = exc.filename or str(path)
        raise PipelineLoadError(
            f"{file}:{exc.lineno}: syntax error: {exc.msg}", file=file, line=exc.lineno
        ) from exc
    except BaseException as exc:
        _restore(module_name, previous)
        if isinstance(exc, KeyboardInterrupt):
            raise
        file, line = _user_frame(exc, path)
        raise PipelineLoadError(
            f"{file}:{line}: {type(exc).__name__} while importing the pipeline: {exc}",
            file=file,
            line=line,
            traceback="".join(traceback.format_exception(exc)),
        ) from exc
    pipelines: dict[str, Pipeline] = {}
    for run in made.runs:  # the latest run of a name wins: its context is the one to re-run
        run.pipeline.context = dict(run.context)
        pipelines[run.pipeline.name] = run.pipeline
    for value in found:
        if value.name not in pipelines:
            pipelines[value.name] = value
    for value in pipelines.values():
        value.source_file = str(path)
    if not pipelines:
        raise PipelineLoadError(
            f"{path}: defines no Pipeline and runs none; create one at module level, e.g. "
            "`pipeline = Pipeline('name').add_step(my_step)`, a `create_pipeline()` "
            "function that returns one (flowyml's convention), or call `pipeline.run()` "
            '(in `main()` under `if __name__ == "__main__":` too)'
        )
    return LoadedFile(pipelines, list(made.runs))


def _run_script(loader: _FreshSourceLoader, module: ModuleType, path: Path) -> None:
    """Execute the module; `sys.exit(0)` (or `sys.exit()`) from its main block ends it cleanly."""
    try:
        loader.exec_module(module)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise PipelineLoadError(
                f"{path}: the script called sys.exit({exc.code!r}); it must end normally "
                "(or with exit code 0) for its pipelines to be used"
            ) from exc


@contextlib.contextmanager
def _script_argv(path: Path) -> Iterator[None]:
    """`sys.argv` is `[FILE]` while the file runs, as under `python FILE`, not the tool's own."""
    saved = sys.argv
    sys.argv = [str(path)]
    try:
        yield
    finally:
        sys.argv = saved


@contextlib.contextmanager
def _flowyml_loading(real_flowyml: bool, path: Path) -> Iterator[None]:
    """For a file using the real flowyml: its step registry emptied, its `run()` on our engine."""
    if not real_flowyml:
        yield
        return
    with translate.flowyml_runs_diverted(path):
        translate.reset_step_registry()
        yield


def _module_pipelines(module: ModuleType, path: Path, *, ran_some: bool) -> list[Pipeline]:
    """Module-level Pipeline objects, else what a `create_pipeline()` returns (`flowyml run`)
    when the script ran no pipeline itself.

    Pipelines built with the real flowyml package are translated to ours.
    """
    found = [_ours(value, path) for value in vars(module).values() if _is_pipeline(value)]
    factory = getattr(module, "create_pipeline", None)
    if not found and not ran_some and callable(factory):
        made = factory()
        if translate.is_flowyml_pipeline(made):
            made = translate.translate(made, path)
        if not isinstance(made, Pipeline):
            raise PipelineLoadError(
                f"{module.__file__}: create_pipeline() returned {type(made).__name__}, not a "
                "Pipeline; return the Pipeline it builds"
            )
        found.append(made)
    return found


def _is_pipeline(value: object) -> bool:
    return isinstance(value, Pipeline) or translate.is_flowyml_pipeline(value)


def _ours(value: object, path: Path) -> Pipeline:
    if isinstance(value, Pipeline):
        return value
    return translate.translate(value, path)


def pick_pipeline(pipelines: dict[str, Pipeline], name: str | None, path: str | Path) -> Pipeline:
    """The one pipeline a command should use, or a clear error listing the choices."""
    if name is not None:
        if name not in pipelines:
            raise PipelineLoadError(
                f"{path}: no pipeline named {name!r}; it has: {', '.join(sorted(pipelines))}"
            )
        return pipelines[name]
    if len(pipelines) > 1:
        raise PipelineLoadError(
            f"{path} defines several pipelines ({', '.join(sorted(pipelines))}); "
            "choose one with --pipeline NAME"
        )
    return next(iter(pipelines.values()))


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compile from source, never from `__pycache__`; reuse code compiled from the same bytes.

    A .pyc is trusted when the source's mtime (in whole seconds) and size match, so an edit
    that keeps the size and lands within a second of the last import would run the old code
    while the cache key is made from the new source. The code cache is keyed by a hash of the
    source bytes themselves (and the path, which compiled code names), so it cannot.
    """

    def __init__(self, fullname: str, path: str, *, as_script: bool = False) -> None:
        super().__init__(fullname, path)
        self.as_script = as_script
        """The pipeline file itself: its `if __name__ == "__main__":` blocks run."""

    def get_code(self, fullname: str) -> object:
        path = self.get_filename(fullname)
        data = self.get_data(path)
        script = self.as_script and main_block.GUARD_TEXT in data
        key = codecache.source_key(data, path, *(("script",) if script else ()))
        cached = codecache.load("code", key)
        if cached is not None:
            try:
                return marshal.loads(cached)
            except (EOFError, ValueError, TypeError):
                pass  # checksummed, so only a bug writes this; compile it again
        if script:
            code = main_block.compile_as_script(data, path)
        else:
            code = self.source_to_code(data, path)
        codecache.store("code", key, marshal.dumps(code))
        return code


class _FreshFinder:
    """Gives modules under pipeline folders the `_FreshSourceLoader`; others are untouched.

    A meta path finder needs only `find_spec`; not deriving from `importlib.abc.MetaPathFinder`
    spares every `flowyml-tui run` importing `importlib.abc` and `importlib.resources`.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        origin = Path(spec.origin or "")
        # The folder test first: it is a path comparison, `is_user_file` resolves symlinks.
        if not _in_pipeline_folder(origin.parent) or not is_user_file(spec.origin):
            return None
        spec.loader = _FreshSourceLoader(fullname, str(origin))
        return spec


def _install_fresh_finder() -> None:
    if not any(isinstance(finder, _FreshFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FreshFinder())


def _remember_folder(folder: Path) -> None:
    global _FOLDER_PREFIXES
    if folder not in _PIPELINE_FOLDERS:
        _PIPELINE_FOLDERS.add(folder)
        _FOLDER_PREFIXES = tuple(os.path.join(str(f), "") for f in _PIPELINE_FOLDERS)


def _in_pipeline_folder(folder: Path) -> bool:
    return os.path.join(str(folder), "").startswith(_FOLDER_PREFIXES)


def _forget_local_modules() -> None:
    """Drop modules loaded from pipeline folders, so edited helpers are imported anew.

    Every folder a pipeline was loaded from counts, not just this one: a `helpers` module
    imported for another pipeline must not stand in for this folder's `helpers`.
    """
    prefixes = _FOLDER_PREFIXES
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        # The folder test first, on strings: a spare worker that imported pandas and
        # scikit-learn holds ~1500 modules, and a `Path` each was ~40 ms of every save.
        if (
            isinstance(file, str)
            and os.path.join(os.path.normpath(os.path.dirname(file)), "").startswith(prefixes)
            and is_user_file(file)
        ):
            del sys.modules[name]


def _restore(name: str, previous: object) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous  # type: ignore[assignment]


def _user_frame(exc: BaseException, path: Path) -> tuple[str, int | None]:
    """The deepest frame in the pipeline file, else the deepest frame at all."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if Path(f.filename) == path]
    chosen = (mine or frames or [None])[-1]
    if chosen is None:
        return str(path), None
    return chosen.filename, chosen.lineno
