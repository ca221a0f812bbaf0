"""The savings ledger in run records: what each step's caches saved and spent, on real runs of
a real pipeline file in fresh processes (issue 28)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from flowyml_tui.engine.history.records import list_runs, load_run
from tests.cli_process import run_cli

pytestmark = pytest.mark.timeout(120)

PIPELINE = """
import time
from pathlib import Path
from flowyml_tui import CachePrimitive, Pipeline, step

def ask_llm(prompt, context):
    time.sleep(0.05)
    return {"text": prompt.upper(), "cost": PRICES[prompt]}

llm = CachePrimitive(ask_llm, name="priced-llm", cost_fn=lambda result: result["cost"])

@step(outputs=["answers"])
def ask():
    return [llm.call(prompt)["text"] for prompt in PROMPTS]

@step(outputs=["total"])
def slow():
    time.sleep(0.2)
    return 1

pipeline = Pipeline("ledger", cache_dir=str(Path(__file__).with_name("cache")), RATE)
pipeline.add_step(ask)
pipeline.add_step(slow)
"""

PRICES = {"a": 0.5, "b": 0.25, "c": 2.0}


def write(folder: Path, prompts: list[str], rate: str = "cost_per_hour=3600") -> Path:
    path = folder / "ledger_pipeline.py"
    text = textwrap.dedent(PIPELINE).replace("PROMPTS", repr(prompts))
    text = text.replace("PRICES", repr(PRICES)).replace(", RATE", f", {rate}" if rate else "")
    path.write_text(text)
    return path


def latest(folder: Path) -> dict:
    return load_run(folder / "cache")


def step_of(record: dict, name: str) -> dict:
    return next(s for s in record["steps"] if s["name"] == name)


def run(path: Path, env: dict[str, str]) -> dict:
    done = run_cli("run", path, env=env)
    assert done.returncode == 0, done.stderr
    return latest(path.parent)


@pytest.fixture
def no_config(tmp_path: Path) -> dict[str, str]:
    """An empty user config dir, so the user's own config.toml plays no part."""
    home = tmp_path / "config-home"
    home.mkdir()
    return {"XDG_CONFIG_HOME": str(home)}


def test_a_rate_prices_compute_spent_and_a_hit_saves_what_the_step_took(
    tmp_path: Path, no_config: dict[str, str]
) -> None:
    path = write(tmp_path, ["a"])  # 3600 an hour: one unit of money a second
    first = run(path, no_config)
    slow = step_of(first, "slow")
    assert slow["duration_seconds"] >= 0.2
    assert slow["savings"] == {
        "time_saved_s": 0.0,
        "calls_saved": 0,
        "cost_saved": 0.0,
        "cost_spent": pytest.approx(slow["duration_seconds"]),
    }
    assert (first["cost_per_hour"], first["currency"]) == (3600.0, "USD")

    second = run(path, no_config)  # nothing changed: every step a hit
    hit = step_of(second, "slow")
    assert hit["cached"]
    assert hit["savings"] == {
        "time_saved_s": pytest.approx(slow["duration_seconds"]),
        "calls_saved": 0,
        "cost_saved": pytest.approx(slow["duration_seconds"]),
        "cost_spent": 0.0,
    }
    steps = [s["savings"] for s in second["steps"]]
    assert second["savings"]["cost_saved"] == pytest.approx(sum(s["cost_saved"] for s in steps))


def test_cost_fn_money_and_a_cached_steps_calls_are_counted_once(
    tmp_path: Path, no_config: dict[str, str]
) -> None:
    path = write(tmp_path, ["a", "b"], rate="")  # no rate: money from cost_fn only
    first = step_of(run(path, no_config), "ask")
    assert first["savings"]["cost_spent"] == pytest.approx(0.75)  # a and b were paid for
    assert first["savings"]["cost_saved"] == 0.0
    [calls] = first["calls"]
    assert (calls["saved_cost"], calls["spent_cost"]) == (0.0, pytest.approx(0.75))

    write(tmp_path, ["a", "b", "c"], rate="")  # the step's code changed: it runs again
    second_record = run(path, no_config)
    assert second_record["cost_per_hour"] is None
    second = step_of(second_record, "ask")
    assert not second["cached"]
    assert second["savings"]["calls_saved"] == 2  # a and b from the call cache
    assert second["savings"]["cost_saved"] == pytest.approx(0.75)
    assert second["savings"]["cost_spent"] == pytest.approx(2.0)  # c
    assert second["savings"]["time_saved_s"] >= 0.1  # what a and b took in the first run

    third = step_of(run(path, no_config), "ask")  # the whole step is a hit now
    assert third["cached"]
    # It saves what the second run of the step took (its calls a and b were hits then), not
    # that plus the calls again: the calls' savings were counted in the second run.
    assert third["savings"] == {
        "time_saved_s": pytest.approx(second["duration_seconds"]),
        "calls_saved": 0,
        "cost_saved": 0.0,
        "cost_spent": 0.0,
    }
    assert len(list_runs(tmp_path / "cache")) == 3


def test_the_user_config_gives_the_rate_and_currency(
    tmp_path: Path, no_config: dict[str, str]
) -> None:
    folder = Path(no_config["XDG_CONFIG_HOME"]) / "flowyml-tui"
    folder.mkdir()
    (folder / "config.toml").write_text('cost_per_hour = 7200\ncurrency = "EUR"\n')
    path = write(tmp_path, ["a"], rate="")
    slow = step_of(record := run(path, no_config), "slow")
    assert (record["cost_per_hour"], record["currency"]) == (7200.0, "EUR")
    assert slow["savings"]["cost_spent"] == pytest.approx(2 * slow["duration_seconds"])

    (folder / "config.toml").write_text('cost_per_hour = "lots"\n')
    done = run_cli("run", path, env=no_config)
    assert done.returncode == 0  # a broken config warns; it never fails a run
    assert "cost_per_hour must be a number" in done.stderr
    assert latest(tmp_path)["cost_per_hour"] is None


def test_the_json_run_report_carries_the_ledger(tmp_path: Path, no_config: dict[str, str]) -> None:
    path = write(tmp_path, ["a"])
    assert run_cli("run", path, env=no_config).returncode == 0
    done = run_cli("run", "--json", path, env=no_config)  # every step a hit
    report = json.loads(done.stdout)
    record = latest(tmp_path)
    assert report["currency"] == "USD"
    for step in report["steps"]:
        assert step["savings"] == step_of(record, step["name"])["savings"]
    assert report["savings"] == record["savings"]
    assert report["savings"]["cost_saved"] > 0.2  # slow's 0.2 s at one unit a second


def test_a_wrong_rate_in_the_pipeline_file_is_one_clear_line(
    tmp_path: Path, no_config: dict[str, str]
) -> None:
    path = write(tmp_path, ["a"], rate="cost_per_hour=-5")
    done = run_cli("run", path, env=no_config)
    assert done.returncode == 2, done.stderr
    assert "cost_per_hour must be a finite number >= 0, not -5" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_rate_follows_the_config_dir_the_environment_names_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config file's path is kept between runs, but never past a change of
    XDG_CONFIG_HOME: a process (a test, a TUI session) that points it elsewhere gets that
    folder's rate."""
    from flowyml_tui.engine.history.rates import read_rate_config

    for name, rate in (("one", 10), ("two", 20)):
        folder = tmp_path / name / "flowyml-tui"
        folder.mkdir(parents=True)
        (folder / "config.toml").write_text(f"cost_per_hour = {rate}\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "one"))
    first = read_rate_config()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "two"))
    second = read_rate_config()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))

    assert (first.cost_per_hour, second.cost_per_hour) == (10.0, 20.0)
    assert read_rate_config().cost_per_hour is None
