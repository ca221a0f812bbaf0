"""How a run proceeds: deciding each step (`decide`), walking ready steps (`scheduler`) and
calling the ones that execute somewhere (`runner`). The run's orchestration is `executor`."""

from __future__ import annotations

from .runner import InlineRunner, StepOutcome, StepRunner, StepTask, run_task

__all__ = ["InlineRunner", "StepOutcome", "StepRunner", "StepTask", "run_task"]
