"""`flowyml-tui savings` over real run records of a real pipeline file (issue 28)."""

from __future__ import annotations

import csv
import io
import json
import textwrap
import time
from pathlib import Path

import pytest

from flowyml_tui.engine.history.records import load_runs, runs_dir
from tests.cli_process import run_cli

pytestmark = pytest.mark.timeout(120)

PIPELINES = """
import time
from pathlib import Path
from flowyml_tui import CachePrimitive, Pipeline, step

llm = CachePrimitive(
    lambda prompt, context: {"text": prompt.upper(), "cost": 0.25},
    name="ledger-llm",
    cost_fn=lambda result: result["cost"],
)

@step(outputs=["answers"])
def ask():
    return [llm.call(p)["text"] for p in PROMPTS]

@step(outputs=["total"])
def slow():
    time.sleep(0.1)
    return 1

cache = str(Path(__file__).with_name("cache"))
priced = Pipeline("priced", cache_dir=cache, cost_per_hour=3600, currency="EUR")
priced.add_step(ask)
priced.add_step(slow)
plain = Pipeline("plain", cache_dir=cache)
plain.add_step(slow)
"""


def write(folder: Path, prompts: list[str]) -> Path:
    path = folder / "two_pipelines.py"
    path.write_text(textwrap.dedent(PIPELINES).replace("PROMPTS", repr(prompts)))
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "config-home"
    home.mkdir()
    return {"XDG_CONFIG_HOME": str(home)}


@pytest.fixture
def history(tmp_path: Path, env: dict[str, str]) -> Path:
    """Four priced runs (the last two with `ask` changed and then a hit) and two plain ones."""
    path = write(tmp_path, ["a", "b"])
    for prompts in (["a", "b"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c"]):
        write(tmp_path, prompts)
        done = run_cli("run", path, "--pipeline", "priced", env=env)
        assert done.returncode == 0, done.stderr
    for _ in range(2):
        assert run_cli("run", path, "--pipeline", "plain", env=env).returncode == 0
    return tmp_path / "cache"


def savings(cache: Path, *args: str) -> str:
    done = run_cli("savings", "--cache-dir", cache, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_json_adds_up_the_run_records_per_step(history: Path) -> None:
    ledger = json.loads(savings(history, "--pipeline", "priced", "--format", "json"))
    records = [r for r in load_runs(history) if r["pipeline"] == "priced"]
    assert (ledger["currency"], ledger["runs"]) == ("EUR", 4)
    by_step = {(s["pipeline"], s["step"]): s for s in ledger["steps"]}
    assert set(by_step) == {("priced", "ask"), ("priced", "slow")}
    for (_, name), line in by_step.items():
        steps = [next(s for s in r["steps"] if s["name"] == name) for r in records]
        for field in ("time_saved_s", "cost_saved", "cost_spent"):
            assert line[field] == pytest.approx(sum(s["savings"][field] for s in steps))
    ask = by_step[("priced", "ask")]
    assert ask["calls_saved"] == 2  # a and b, when the third prompt was added
    ran = [s for r in records for s in r["steps"] if s["name"] == "ask" and not s["cached"]]
    # a, b, then c at 0.25 each, and the two runs' compute at one EUR a second
    assert ask["cost_spent"] == pytest.approx(0.75 + sum(s["duration_seconds"] for s in ran))
    assert by_step[("priced", "slow")]["time_saved_s"] >= 3 * 0.1  # three hits of 0.1 s
    for field in ledger["total"]:
        assert ledger["total"][field] == pytest.approx(sum(s[field] for s in ledger["steps"]))


def test_csv_has_a_row_per_step_and_the_table_hides_money_without_a_rate(history: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(savings(history, "--format", "csv"))))
    assert [(r["pipeline"], r["step"]) for r in rows] == [
        ("priced", "ask"),
        ("priced", "slow"),
        ("plain", "slow"),
    ]
    plain = rows[2]
    assert float(plain["time_saved_s"]) >= 0.1 and float(plain["cost_saved"]) == 0.0

    table = savings(history, "--pipeline", "plain")
    assert "TIME SAVED" in table and "COST SAVED" not in table
    assert "no rate set, so no money" in table
    priced = savings(history, "--pipeline", "priced")
    assert "COST SAVED" in priced and " EUR" in priced


def test_since_leaves_out_older_runs(history: Path) -> None:
    oldest = min(
        runs_dir(history).glob("*.json"), key=lambda p: json.loads(p.read_text())["finished_at"]
    )
    record = json.loads(oldest.read_text())
    record["finished_at"] = time.time() - 10 * 86400  # ten days ago
    oldest.write_text(json.dumps(record))
    assert json.loads(savings(history, "--format", "json"))["runs"] == 6
    assert json.loads(savings(history, "--since", "7d", "--format", "json"))["runs"] == 5


def test_a_bad_span_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_cli("savings", "--cache-dir", tmp_path, "--since", "a week")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "flowyml-tui: error: --since 'a week' is not a span of time; give a number and a "
        "unit, such as 30m, 12h, 7d or 2w"
    ]


def test_an_empty_history_says_so(tmp_path: Path) -> None:
    assert "nothing saved yet" in savings(tmp_path / "cache")
    empty = json.loads(savings(tmp_path / "cache", "--format", "json"))
    assert empty == {
        "currency": None,
        "runs": 0,
        "steps": [],
        "total": {"time_saved_s": 0.0, "calls_saved": 0, "cost_saved": 0.0, "cost_spent": 0.0},
    }
