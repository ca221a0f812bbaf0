"""Choose which pipeline runs when the files hold more than one."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select

SEPARATOR = "\x1f"


def target_value(file: Path, pipeline: str | None) -> str:
    return f"{file}{SEPARATOR}{pipeline or ''}"


def parse_target(value: str) -> tuple[Path, str | None]:
    file, _, pipeline = value.partition(SEPARATOR)
    return Path(file), pipeline or None


class PipelineSelector(Select[str]):
    """A Select over (file, pipeline) pairs; hidden when there is only one choice."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__([], allow_blank=True, prompt="Pipeline", id=id)
        self._option_pairs: list[tuple[str, str]] | None = None

    def set_targets(
        self, files: list[Path], pipelines: dict[Path, tuple[str, ...]], selected: str
    ) -> None:
        options: list[tuple[str, str]] = []
        many_files = len(files) > 1
        for file in files:
            names = pipelines.get(file, ())
            prefix = f"{file.name} · " if many_files or len(names) <= 1 else ""
            if len(names) > 1:
                options += [(f"{prefix}{name}", target_value(file, name)) for name in names]
            else:
                label = f"{file.name} · {names[0]}" if names else file.name
                options.append((label, target_value(file, names[0] if names else None)))
        values = [value for _, value in options]
        with self.prevent(Select.Changed):
            # Each run reports its pipelines, mostly the same ones; new options cost a layout.
            if options != self._option_pairs:
                self._option_pairs = options
                self.set_options(options)
            if selected in values and self.value != selected:
                self.value = selected
        self.display = len(options) > 1
