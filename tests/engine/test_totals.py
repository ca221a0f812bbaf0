"""The one definition of a run's totals: what counts as a hit, a miss, and what is left out."""

from __future__ import annotations

from flowyml_tui.engine.history.totals import StepTally, format_rate, run_totals


def test_pinned_steps_are_hits_and_pending_steps_count_only_as_steps() -> None:
    totals = run_totals(
        [
            StepTally("pinned", "code_hash", "pinned", 2.0),
            StepTally("cached", "code_hash", "cached", 1.0),
            StepTally("executed", "input_hash", "input_changed"),
            StepTally("running", "code_hash"),
            StepTally("pending", "code_hash"),
        ]
    )
    assert (totals.steps, totals.cached, totals.pinned, totals.executed) == (5, 2, 1, 1)
    assert totals.hit_rate == 2 / 3
    assert totals.saved_seconds == 3.0


def test_a_step_without_a_cache_is_left_out_whether_it_ran_or_failed() -> None:
    totals = run_totals(
        [
            StepTally("executed", "off", "cache_disabled"),
            StepTally("failed", "off", "failed"),
            StepTally("executed", "code_hash", "cache_disabled"),  # a run with no cache at all
            StepTally("skipped", "code_hash", "skipped"),
        ]
    )
    assert (totals.executed, totals.failed, totals.skipped) == (2, 1, 1)
    assert totals.hit_rate is None
    assert format_rate(totals.hit_rate) == "\u2013"
