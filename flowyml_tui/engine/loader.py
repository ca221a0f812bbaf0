"""Find the pipelines in an ordinary Python file by importing it fresh."""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import marshal
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

from . import codecache
from .compat import translate
from .compat.shim import install_flowyml_shim
from .errors import PipelineLoadError
from .hashing import is_user_file
from .pipeline import Pipeline, import_time_runs_skipped

_PIPELINE_FOLDERS: set[Path] = set()
"""Folders pipelines were loaded from in this process: their modules are re-imported."""


def load_pipelines(path: str | Path) -> dict[str, Pipeline]:
    """Import `path` and return its module-level `Pipeline` objects by name.

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
    _PIPELINE_FOLDERS.add(path.parent)
    _forget_local_modules()
    _install_fresh_finder()
    shim_on = install_flowyml_shim()
    spec = importlib.util.spec_from_file_location(
        module_name, path, loader=_FreshSourceLoader(module_name, str(path))
    )
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    real_flowyml = not shim_on and translate.uses_flowyml(path)
    try:
        with import_time_runs_skipped(path), _flowyml_loading(real_flowyml, path):
            spec.loader.exec_module(module)
            found = _module_pipelines(module, path)
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
    for value in found:
        if value.name not in pipelines:
            value.source_file = str(path)
            pipelines[value.name] = value
    if not pipelines:
        raise PipelineLoadError(
            f"{path}: defines no Pipeline; create one at module level, e.g. "
            "`pipeline = Pipeline('name').add_step(my_step)`, or a `create_pipeline()` "
            "function that returns one (flowyml's convention)"
        )
    return pipelines


@contextlib.contextmanager
def _flowyml_loading(real_flowyml: bool, path: Path) -> Iterator[None]:
    """For a file using the real flowyml: its step registry emptied, its `run()` skipped."""
    if not real_flowyml:
        yield
        return
    with translate.flowyml_runs_skipped(path):
        translate.reset_step_registry()
        yield


def _module_pipelines(module: ModuleType, path: Path) -> list[Pipeline]:
    """Module-level Pipeline objects, else what a `create_pipeline()` returns (`flowyml run`).

    Pipelines built with the real flowyml package are translated to ours.
    """
    found = [_ours(value, path) for value in vars(module).values() if _is_pipeline(value)]
    factory = getattr(module, "create_pipeline", None)
    if not found and callable(factory):
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

    def get_code(self, fullname: str) -> object:
        path = self.get_filename(fullname)
        data = self.get_data(path)
        key = codecache.source_key(data, path)
        cached = codecache.load("code", key)
        if cached is not None:
            try:
                return marshal.loads(cached)
            except (EOFError, ValueError, TypeError):
                pass  # checksummed, so only a bug writes this; compile it again
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


def _in_pipeline_folder(folder: Path) -> bool:
    return any(folder.is_relative_to(root) for root in _PIPELINE_FOLDERS)


def _forget_local_modules() -> None:
    """Drop modules loaded from pipeline folders, so edited helpers are imported anew.

    Every folder a pipeline was loaded from counts, not just this one: a `helpers` module
    imported for another pipeline must not stand in for this folder's `helpers`.
    """
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        # The folder test first: `is_user_file` resolves each of the ~200 modules' paths.
        if file and _in_pipeline_folder(Path(file).parent) and is_user_file(file):
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
