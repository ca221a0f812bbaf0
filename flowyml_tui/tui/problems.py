"""A file that gives no pipeline to run, told as the user's mistake, not as our traceback.

The worker reports what it caught (`LoadFailed`); this turns it into what the error panel says:
what is wrong, where in the user's code, what to do, and only the user's own frames.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import flowyml_tui
from flowyml_tui.runner.protocol import LoadFailed

OUR_DIR = os.path.dirname(os.path.abspath(flowyml_tui.__file__)) + os.sep
FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
ERROR_PREFIX = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit)): ")
STEP_NAME = re.compile(r"step '(?P<name>[^']+)'|both '[^']+' and '(?P<second>[^']+)'")
LOADER = re.compile(r"(?P<type>\w+) while importing the pipeline: ")
CYCLE = re.compile(r"cycle: (?P<first>[^ ]+) ->")


@dataclass(frozen=True, slots=True)
class Explained:
    """What the panel says about a load failure."""

    title: str
    message: str
    hint: str
    file: str
    line: int | None
    frames: str


def explain_load_failure(failed: LoadFailed) -> Explained:
    """Title, message, hint and location for one `LoadFailed`; pure, so tests call it directly."""
    file = failed.file
    name = Path(file).name
    kind, message = _split_type(failed.message)
    message = _strip_location(message, file)
    line = failed.line
    if kind == "CycleError":
        title = "The steps form a cycle"
        message = message.removeprefix("the steps form a cycle: ").replace("; a step", ": a step")
        hint = "Make one of these steps stop reading what the others produce, then save."
        line = line or _step_line(file, _cycle_start(message))
    elif kind == "DuplicateOutputError":
        title = "Two steps produce the same output"
        message = message.split("; rename one", 1)[0] + "."
        hint = "Rename one of the outputs (and the inputs that read it), then save."
        line = line or _step_line(file, _named_step(message))
    elif kind == "MissingInputError":
        title = "A step parameter has no value"
        message = message.split("; pass pipeline.run", 1)[0]
        hint = (
            "Press C to set it (KEY=VALUE), start with -c KEY=VALUE, give the parameter a "
            "default, or add it to inputs=[...]; then save."
        )
        line = line or _step_line(file, _named_step(message))
    elif kind == "SettingError":
        title = "A setting is wrong"
        hint = (
            "Fix the option, environment variable or Pipeline argument it names; a command-line "
            "option or variable needs a restart, a Pipeline argument only a save."
        )
    elif "defines no Pipeline" in message:
        title = f"No pipeline in {name}"
        message = f"{name} defines no Pipeline at module level."
        hint = "Create one, e.g. pipeline = Pipeline('name').add_step(my_step), and save."
    elif kind in ("ModuleNotFoundError", "ImportError"):
        missing = re.search(r"No module named '([^']+)'", message)
        title = f"Could not import {missing.group(1)}" if missing else "Could not import a module"
        message = message.replace(" while importing the pipeline", "")
        hint = (
            "Install it into the Python that runs flowyml-tui, or fix the import; then save."
            if missing
            else "Fix the import, then save."
        )
    else:
        title = "Could not load the pipeline"
        hint = "Fix it and save; the workbench runs it again."
    return Explained(title, message, hint, file, line, user_frames(failed.traceback))


def user_frames(traceback_text: str) -> str:
    """The traceback's frames in the user's own code, as `file:line in func` and its source line.

    Frames of flowyml-tui and of the import machinery (`<frozen importlib...>`) are dropped; so
    are the header and the final exception line, which the message already says.
    """
    kept: list[str] = []
    keep = syntax = False
    for text in traceback_text.splitlines():
        match = FRAME.match(text)
        if match:
            file = match.group("file")
            keep = not (file.startswith("<") or os.path.abspath(file).startswith(OUR_DIR))
            func = match.group("func")
            syntax = func is None  # a SyntaxError's frame: its caret points at the mistake
            if keep:
                where = f"{_shown(file)}:{match.group('line')}"
                kept.append(f"{where} in {func}" if func else where)
        elif keep and text.startswith("    ") and (syntax or text.strip(" ^~") != ""):
            kept.append(text.rstrip())
        elif not text.startswith(" "):
            keep = False
    return "\n".join(kept)


def _split_type(message: str) -> tuple[str, str]:
    """`CycleError: the steps...` -> ("CycleError", "the steps..."): our class names are no help
    to the user, theirs (`ValueError: ...`) are, so only ours are dropped from the text."""
    text = message.strip()
    loader = LOADER.search(text)
    if loader:
        return loader.group("type"), text
    match = ERROR_PREFIX.match(text)
    if not match:
        return "", text
    kind = match.group("type").rsplit(".", 1)[-1]
    if not _ours(kind):
        return kind, text
    rest = text[match.end() :]
    inner, inner_text = _split_type(rest)
    return (inner, inner_text) if inner else (kind, rest)


def _ours(kind: str) -> bool:
    from flowyml_tui.engine import errors

    return isinstance(getattr(errors, kind, None), type)


def _strip_location(message: str, file: str) -> str:
    """The panel's head already shows file:line: drop a leading `path:` or `path:line:`."""
    for prefix in (file, Path(file).name):
        match = re.match(re.escape(prefix) + r"(?::\d+)?: ", message)
        if match:
            return message[match.end() :]
    return message


def _named_step(message: str) -> str | None:
    match = STEP_NAME.search(message)
    return (match.group("name") or match.group("second")) if match else None


def _cycle_start(message: str) -> str | None:
    match = re.match(r"(?P<first>[^ ]+) ->", message) or CYCLE.search(message)
    return match.group("first") if match else None


def _step_line(file: str, step: str | None) -> int | None:
    """The line of `def step` in the user's file: where to look, when the engine cannot say."""
    if not step:
        return None
    try:
        source = Path(file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    pattern = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(step)}\s*\(")
    for number, text in enumerate(source.splitlines(), 1):
        if pattern.match(text):
            return number
    return None


def _shown(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return file
