"""Per-step rates: `@step(cost_per_hour=)`, the pipeline's, the config's per runner and per
resource, priced on real runs into the savings ledger of the run record (issue 28)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flowyml_tui import Pipeline, step
from flowyml_tui.engine.errors import StepDefinitionError
from flowyml_tui.engine.history.rates import RateConfig, read_rate_config, run_rates
from flowyml_tui.engine.history.records import load_run
from flowyml_tui.engine.history.savings import RateError
from tests.needs import need


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's config.toml, in a config dir of the test's own."""
    home = tmp_path / "config-home"
    (home / "flowyml-tui").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home / "flowyml-tui" / "config.toml"


def pipeline_of(tmp_path: Path, *steps, **options) -> Pipeline:
    pipeline = Pipeline("rated", cache_dir=str(tmp_path / "cache"), **options)
    for one in steps:
        pipeline.add_step(one)
    return pipeline


def record_step(tmp_path: Path, name: str) -> dict:
    """The step's record, with the rate it was priced at (the run's, unless it has its own)."""
    record = load_run(tmp_path / "cache")
    step = next(s for s in record["steps"] if s["name"] == name)
    return {**step, "cost_per_hour": record["step_rates"].get(name, record["cost_per_hour"])}


@step(outputs=["slow_out"], cost_per_hour=3600)  # one unit of money a second
def priced_slow():
    time.sleep(0.2)
    return 1


@step(outputs=["plain_out"])
def unpriced():
    return 2


def test_a_steps_own_rate_prices_what_it_spent_and_what_its_hit_saved(
    tmp_path: Path, config: Path
) -> None:
    pipeline = pipeline_of(tmp_path, priced_slow, unpriced)
    pipeline.run()
    slow = record_step(tmp_path, "priced_slow")
    assert slow["cost_per_hour"] == 3600
    assert slow["savings"]["cost_spent"] == pytest.approx(slow["duration_seconds"])
    assert slow["duration_seconds"] >= 0.2
    plain = record_step(tmp_path, "unpriced")
    assert plain["cost_per_hour"] is None
    assert plain["savings"]["cost_spent"] == 0
    assert load_run(tmp_path / "cache")["currency"] == "USD"  # priced: money is shown

    result = pipeline.run()
    hit = record_step(tmp_path, "priced_slow")
    assert hit["status"] == "cached"
    assert hit["savings"]["cost_saved"] == pytest.approx(slow["duration_seconds"])
    lines, _ = result.savings()
    assert lines["priced_slow"].cost_saved == pytest.approx(slow["duration_seconds"])


def test_the_steps_rate_wins_over_the_pipelines_which_wins_over_the_runners(
    tmp_path: Path, config: Path
) -> None:
    config.write_text('cost_per_hour = 1\ncurrency = "EUR"\n[runner_cost_per_hour]\nlocal = 7200\n')
    pipeline_of(tmp_path, priced_slow, unpriced).run()
    record = load_run(tmp_path / "cache")
    assert record["cost_per_hour"] == 7200  # the local runner's rate, over the default
    assert record["currency"] == "EUR"
    assert record_step(tmp_path, "priced_slow")["cost_per_hour"] == 3600
    plain = record_step(tmp_path, "unpriced")
    assert plain["cost_per_hour"] == 7200
    assert plain["savings"]["cost_spent"] == pytest.approx(plain["duration_seconds"] * 2)

    pipeline_of(tmp_path / "again", priced_slow, unpriced, cost_per_hour=360).run()
    assert load_run(tmp_path / "again" / "cache")["cost_per_hour"] == 360


@step(outputs=["trained"], resources={"gpu": 2, "memory": "8Gi"})
def on_two_gpus():
    time.sleep(0.1)
    return 3


def test_resources_are_priced_through_the_configs_table_on_top_of_the_base_rate(
    tmp_path: Path, config: Path
) -> None:
    config.write_text("cost_per_hour = 3600\n[resource_cost_per_hour]\ngpu = 1800\n")
    pipeline_of(tmp_path, on_two_gpus, unpriced).run()
    gpu = record_step(tmp_path, "on_two_gpus")
    assert gpu["cost_per_hour"] == 3600 + 2 * 1800
    assert gpu["savings"]["cost_spent"] == pytest.approx(gpu["duration_seconds"] * 2)
    assert record_step(tmp_path, "unpriced")["cost_per_hour"] == 3600


def test_a_dask_run_takes_the_dask_rate() -> None:
    config = RateConfig(cost_per_hour=1.0, runners={"local": 2.0, "dask": 5.0})
    steps = [unpriced, on_two_gpus]
    rates = run_rates(steps, config, pipeline_rate=None, pipeline_currency=None, runner="dask")
    assert rates.of("unpriced").cost_per_hour == 5.0
    rates = run_rates(steps, config, pipeline_rate=None, pipeline_currency=None, runner="local")
    assert rates.of("unpriced").cost_per_hour == 2.0


def test_without_any_rate_nothing_is_priced(tmp_path: Path, config: Path) -> None:
    pipeline_of(tmp_path, unpriced).run()
    record = load_run(tmp_path / "cache")
    assert record["currency"] is None
    assert record["cost_per_hour"] is None
    assert record_step(tmp_path, "unpriced")["cost_per_hour"] is None


def test_a_wrong_rate_table_is_one_clear_error(config: Path) -> None:
    config.write_text("[runner_cost_per_hour]\ngpu_box = 3\n")
    with pytest.raises(RateError, match=r"names \['gpu_box'\]; the runners are"):
        read_rate_config()
    config.write_text('[resource_cost_per_hour]\ngpu = "lots"\n')
    with pytest.raises(RateError, match=r"\[resource_cost_per_hour\]: cost_per_hour must be"):
        read_rate_config()


def test_a_broken_config_warns_and_the_steps_own_rate_still_prices(
    tmp_path: Path, config: Path
) -> None:
    config.write_text("[runner_cost_per_hour]\nlocal = -1\n")
    with pytest.warns(UserWarning, match="savings use no rate from it"):
        pipeline_of(tmp_path, priced_slow).run()
    assert record_step(tmp_path, "priced_slow")["cost_per_hour"] == 3600


def test_a_step_rate_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(StepDefinitionError, match="cost_per_hour must be a number >= 0"):
        step(lambda: 1, name="bad", cost_per_hour="cheap")


DASK_PIPELINE = """
from pathlib import Path
from flowyml_tui import Pipeline, step

@step(outputs=["one"])
def one():
    return 1

@step(outputs=["two"], cost_per_hour=1.0)
def two():
    return 2

pipeline = Pipeline("on_dask", cache_dir=str(Path(__file__).with_name("cache")))
pipeline.add_step(one).add_step(two)
"""


def test_a_run_on_a_dask_cluster_is_priced_at_the_dask_rate(tmp_path: Path, config: Path) -> None:
    need("distributed")
    from flowyml_tui.engine.load.loader import load_pipelines
    from flowyml_tui.engine.run.dask import DaskRunner

    config.write_text("cost_per_hour = 5\n[runner_cost_per_hour]\nlocal = 10\ndask = 7200\n")
    path = tmp_path / "on_dask.py"
    path.write_text(DASK_PIPELINE)
    pipeline = load_pipelines(path)["on_dask"]
    runner = DaskRunner.local(1)
    try:
        pipeline.run(runner=runner)
    finally:
        runner.close()
    record = load_run(tmp_path / "cache")
    assert record["cost_per_hour"] == 7200
    assert record_step(tmp_path, "one")["cost_per_hour"] == 7200
    assert record_step(tmp_path, "two")["cost_per_hour"] == 1.0  # its own, wherever it runs
    pipeline.run()  # this process: the local rate (every step a hit, priced at what it saved)
    assert load_run(tmp_path / "cache")["cost_per_hour"] == 10
