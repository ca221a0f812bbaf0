"""Fixed event streams for snapshot tests: the same screen every time, whatever the machine."""

from __future__ import annotations

from textual.pilot import Pilot

from flowyml_tui.engine.events import (
    RunFinished,
    RunStarted,
    StepFinished,
    StepInfo,
    StepLog,
    StepStarted,
)
from flowyml_tui.runner.protocol import LoadFailed
from flowyml_tui.tui.app import FlowymlApp
from flowyml_tui.tui.messages import RunnerUpdate
from flowyml_tui.tui.widgets.step_table import StepTable

RUN = "20260101-120000-abcdef"
FILE = "pipelines/diamond.py"
CACHE = "/tmp/flowyml-snapshots/cache"

STEPS = (
    StepInfo("source", (), ("numbers",), (), "code_hash", None, FILE, 18),
    StepInfo("squares", ("numbers",), ("squares",), ("source",), "code_hash", None, FILE, 24),
    StepInfo("cubes", ("numbers",), ("cubes",), ("source",), "input_hash", None, FILE, 30),
    StepInfo(
        "combine",
        ("squares", "cubes"),
        ("ratio",),
        ("squares", "cubes"),
        "off",
        None,
        FILE,
        36,
    ),
)

CUBES_DIFF = """\
--- cubes (cached)
+++ cubes (now)
@@ -1,4 +1,4 @@
 @step(inputs=["numbers"], outputs=["cubes"])
 def cubes(numbers):
     time.sleep(0.4)
-    return [n**3 for n in numbers]
+    return [n**3 + 1 for n in numbers]
"""

TRACEBACK = """\
Traceback (most recent call last):
  File "pipelines/diamond.py", line 38, in combine
    return round(sum(cubes) / sum(squares), 3)
                 ~~~~~~~~~~~^~~~~~~~~~~~~~
ZeroDivisionError: division by zero
"""


def started() -> RunStarted:
    return RunStarted(RUN, "diamond", 0.0, STEPS, FILE, CACHE)


def done(step: str, status: str, reason: str, kind: str, seconds: float, **kw: object):
    return StepFinished(
        RUN, step, status, reason, kind, status in ("cached", "pinned"), seconds, **kw
    )  # type: ignore[arg-type]


def finished(**kw: object) -> RunFinished:
    return RunFinished(RUN, "diamond", "succeeded", 0.0, 1.0, 1.1, **kw)  # type: ignore[arg-type]


def first_run_in_progress():
    return [
        started(),
        StepStarted(RUN, "source", 0.0, "new step", "new_step"),
        done(
            "source",
            "executed",
            "new step",
            "new_step",
            0.301,
            output_previews={"numbers": "list[int] len=50  [1, 2, 3, 4, 5, …]"},
            output_sizes={"numbers": 412},
        ),
        StepStarted(RUN, "squares", 0.3, "new step", "new_step"),
    ]


def cached_rerun():
    return [
        started(),
        done("source", "cached", "cached", "cached", 0.0004, saved_seconds=0.301),
        done("squares", "cached", "cached", "cached", 0.0003, saved_seconds=0.402),
        done("cubes", "cached", "cached", "cached", 0.0003, saved_seconds=0.404),
        StepStarted(RUN, "combine", 0.0, "cache disabled", "cache_disabled"),
        done(
            "combine",
            "executed",
            "cache disabled",
            "cache_disabled",
            0.0021,
            output_previews={"ratio": "float  38.25"},
        ),
        finished(executed=1, cached=3, saved_seconds=1.107),
    ]


def code_change():
    return [
        started(),
        done("source", "cached", "cached", "cached", 0.0004, saved_seconds=0.301),
        done("squares", "cached", "cached", "cached", 0.0003, saved_seconds=0.402),
        StepStarted(RUN, "cubes", 0.0, "code changed: cubes", "code_changed"),
        done(
            "cubes",
            "executed",
            "code changed: cubes",
            "code_changed",
            0.402,
            changed=("cubes",),
            diff=CUBES_DIFF,
        ),
        done(
            "combine",
            "executed",
            "upstream cubes changed",
            "upstream_changed",
            0.0021,
            changed=("cubes",),
        ),
        finished(executed=2, cached=2, saved_seconds=0.703),
    ]


def failed_step():
    return [
        started(),
        done("source", "cached", "cached", "cached", 0.0004, saved_seconds=0.301),
        done("squares", "cached", "cached", "cached", 0.0003, saved_seconds=0.402),
        done("cubes", "cached", "cached", "cached", 0.0003, saved_seconds=0.404),
        StepStarted(RUN, "combine", 0.0, "cache disabled", "cache_disabled"),
        StepLog(RUN, "combine", "stdout", "combining 50 squares and 50 cubes\n"),
        done(
            "combine",
            "failed",
            "ZeroDivisionError: division by zero",
            "failed",
            0.0012,
            error=TRACEBACK,
        ),
        finished(executed=0, cached=3, failed=1, saved_seconds=1.107),
    ]


def pinned_step():
    return [
        started(),
        done("source", "cached", "cached", "cached", 0.0004, saved_seconds=0.301),
        done("squares", "cached", "cached", "cached", 0.0003, saved_seconds=0.402),
        done(
            "cubes",
            "pinned",
            "pinned; since the pin: code changed: cubes",
            "pinned",
            0.0003,
            saved_seconds=0.404,
            changed=("cubes",),
            diff=CUBES_DIFF,
        ),
        done("combine", "executed", "cache disabled", "cache_disabled", 0.0021),
        finished(executed=1, cached=3, saved_seconds=1.107),
    ]


def load_error():
    return [
        *cached_rerun(),
        LoadFailed(
            FILE,
            31,
            "SyntaxError: expected ':'",
            '  File "pipelines/diamond.py", line 31\n    def cubes(numbers)\n'
            "                      ^\nSyntaxError: expected ':'\n",
        ),
    ]


CHURN_FILE = "pipelines/churn.py"
CHURN_STEPS = (
    StepInfo("load_transactions", (), ("raw",), (), "code_hash", None, CHURN_FILE, 10),
    StepInfo(
        "engineer_features",
        ("raw",),
        ("features",),
        ("load_transactions",),
        "code_hash",
        None,
        CHURN_FILE,
        20,
    ),
    StepInfo(
        "train_gradient_boosting",
        ("features",),
        ("model",),
        ("engineer_features",),
        "input_hash",
        None,
        CHURN_FILE,
        30,
    ),
    StepInfo(
        "evaluate_on_holdout",
        ("model",),
        ("metrics",),
        ("train_gradient_boosting",),
        "code_hash",
        None,
        CHURN_FILE,
        40,
    ),
)
LONG_REASON = (
    "ValueError: Input X contains NaN. GradientBoostingClassifier does not accept missing "
    "values encoded as NaN natively; impute them first"
)


def long_failure():
    """A real-looking ML run with long step names whose training step failed wordily."""
    return [
        RunStarted(RUN, "churn", 0.0, CHURN_STEPS, CHURN_FILE, CACHE),
        done("load_transactions", "cached", "cached", "cached", 0.0004, saved_seconds=12.301),
        done(
            "engineer_features",
            "executed",
            "code changed: engineer_features",
            "code_changed",
            3.2,
        ),
        StepStarted(RUN, "train_gradient_boosting", 0.0, "upstream changed", "upstream_changed"),
        done("train_gradient_boosting", "failed", LONG_REASON, "failed", 41.5, error=TRACEBACK),
        done(
            "evaluate_on_holdout",
            "skipped",
            "upstream train_gradient_boosting failed",
            "skipped",
            0.0,
        ),
        RunFinished(RUN, "churn", "failed", 0.0, 1.0, 44.8, 1, 1, 1, 1, 12.301),
    ]


async def play(pilot: Pilot[int], events: list[object], select: str | None = None) -> None:
    """Feed events as the run worker would, then let the widgets catch up."""
    app = pilot.app
    assert isinstance(app, FlowymlApp)
    app.post_message(RunnerUpdate(tuple(events), app.run_token))  # read in one go, as the worker
    await pilot.pause()
    app.catch_up()
    if select is not None:
        table = app.query_one(StepTable)
        table.move_cursor(row=table.get_row_index(select), animate=False)
        await pilot.pause()
        app.catch_up()
    await pilot.pause()


def past_run_records() -> list[dict[str, object]]:
    """Three runs of the diamond, 2001-01-01 12:00 UTC on (a past year: shown in full
    whenever the tests run): a first run, a code change, then n=80 (what `R` lists)."""
    start = 978350400.0  # 2001-01-01 12:00:00 UTC

    def record(number: int, steps: list[tuple[str, str, str, float]], n: int) -> dict:
        began = start + 600 * (number - 1)
        took = sum(seconds for *_, seconds in steps) + 0.05
        counts = {status: sum(s[1] == status for s in steps) for status in ("executed", "cached")}
        return {
            "schema_version": 1,
            "run_id": f"20010101-12{(number - 1) * 10:02d}00-run00{number}",
            "pipeline": "diamond",
            "source_file": FILE,
            "cache_dir": CACHE,
            "status": "succeeded",
            "started_at": began,
            "finished_at": began + took,
            "duration_seconds": took,
            "error": None,
            "recorded_at": began + took,
            "context": {"n": str(n), "mode": "'fast'"},
            "totals": {
                "steps": len(steps),
                "executed": counts["executed"],
                "cached": counts["cached"],
                "pinned": 0,
                "failed": 0,
                "skipped": 0,
                "hit_rate": counts["cached"] / len(steps),
                "saved_seconds": 0.0,
            },
            "steps": [
                {"name": name, "status": status, "reason": reason, "cached": status == "cached",
                 "duration_seconds": seconds}
                for name, status, reason, seconds in steps
            ],
            "warnings": [],
        }  # fmt: skip

    new = "new step"
    return [
        record(
            1,
            [
                ("source", "executed", new, 0.301),
                ("squares", "executed", new, 0.402),
                ("cubes", "executed", new, 0.404),
                ("combine", "executed", "cache disabled", 0.002),
            ],
            50,
        ),
        record(
            2,
            [
                ("source", "cached", "cached", 0.0),
                ("squares", "cached", "cached", 0.0),
                ("cubes", "executed", "code changed: cubes", 0.41),
                ("combine", "executed", "cache disabled", 0.002),
            ],
            50,
        ),
        record(
            3,
            [
                ("source", "executed", "context changed: n 50 -> 80", 0.33),
                ("squares", "executed", "upstream source changed (numbers)", 0.45),
                ("cubes", "executed", "upstream source changed (numbers)", 0.43),
                ("combine", "executed", "cache disabled", 0.002),
            ],
            80,
        ),
    ]


def savings_records() -> list[dict[str, object]]:
    """The three past runs with a savings ledger priced in EUR: what `$` shows. Run 2 hit
    source and squares (saving their first run's time) and its cubes hit 40 priced calls."""
    ledger = {
        1: {"source": (0.0, 0, 0.0, 0.30), "squares": (0.0, 0, 0.0, 0.40),
            "cubes": (0.0, 0, 0.0, 1.65), "combine": (0.0, 0, 0.0, 0.0)},
        2: {"source": (0.301, 0, 0.30, 0.0), "squares": (0.402, 0, 0.40, 0.0),
            "cubes": (12.5, 40, 3.25, 0.41), "combine": (0.0, 0, 0.0, 0.0)},
        3: {"source": (0.0, 0, 0.0, 0.33), "squares": (0.0, 0, 0.0, 0.45),
            "cubes": (6.0, 20, 1.60, 0.43), "combine": (0.0, 0, 0.0, 0.0)},
    }  # fmt: skip
    fields = ("time_saved_s", "calls_saved", "cost_saved", "cost_spent")
    records = past_run_records()
    for number, record in enumerate(records, start=1):
        total = [0.0, 0, 0.0, 0.0]
        for step in record["steps"]:  # type: ignore[union-attr]
            line = ledger[number][step["name"]]
            step["savings"] = dict(zip(fields, line, strict=True))
            total = [a + b for a, b in zip(total, line, strict=True)]
        record["savings"] = dict(zip(fields, total, strict=True))
        record["cost_per_hour"], record["currency"] = 3600.0, "EUR"
    return records
