"""The cache never returns a wrong value: pipeline scopes, the right baseline, mid-run reloads.

Each test here failed on the version before scopes and re-decisions existed (issue 7).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowyml_tui import CacheStore, Pipeline, step
from flowyml_tui.engine.cache.keys import Recipe
from flowyml_tui.engine.errors import AmbiguousStepError
from flowyml_tui.engine.events import ReasonKind, StepStatus
from flowyml_tui.engine.hashing import fingerprint

TWO_PIPELINES = """
from flowyml_tui import Pipeline, step

@step(outputs=["model"])
def train(rate: float = {rate_a}):
    return "A:" + str(rate)

@step(outputs=["model"], name="train")
def train_b(rate: float = {rate_b}):
    return "B:" + str(rate)

a = Pipeline("a", cache_dir={cache!r}).add_step(train)
b = Pipeline("b", cache_dir={cache!r}).add_step(train_b)
"""


def _two_pipelines(write_file, load, tmp_path, rate_a=1.0, rate_b=2.0):
    path = write_file(
        "two.py",
        TWO_PIPELINES.format(rate_a=rate_a, rate_b=rate_b, cache=str(tmp_path / "cache")),
    )
    return load(path, "a"), load(path, "b"), path


def test_a_pin_in_one_pipeline_does_not_leak_into_another(write_file, load, tmp_path):
    a, b, _ = _two_pipelines(write_file, load, tmp_path)
    assert a.run()["model"] == "A:1.0"
    assert b.run()["model"] == "B:2.0"
    a.pin("train")
    b_again = b.run()
    assert b_again["model"] == "B:2.0"
    assert b_again.step_results["train"].status is StepStatus.CACHED
    assert a.run().step_results["train"].status is StepStatus.PINNED


def test_same_step_name_in_two_pipelines_keeps_two_entries(write_file, load, tmp_path):
    a, b, _ = _two_pipelines(write_file, load, tmp_path)
    a.run()
    b.run()
    store = CacheStore(tmp_path / "cache")
    assert {(i.pipeline, i.step) for i in store.entries()} == {("a", "train"), ("b", "train")}
    assert [r["pipeline"] for r in store.stats()["steps"]] == ["a", "b"]


def test_clearing_an_ambiguous_step_asks_which_pipeline(write_file, load, tmp_path):
    a, b, _ = _two_pipelines(write_file, load, tmp_path)
    a.run()
    b.run()
    store = CacheStore(tmp_path / "cache")
    with pytest.raises(AmbiguousStepError, match="a, b"):
        store.clear_step("train")
    assert store.clear_step("train", pipeline="a") == 1
    assert a.run().step_results["train"].status is StepStatus.EXECUTED
    assert b.run().step_results["train"].status is StepStatus.CACHED


def test_the_reason_compares_with_this_pipelines_own_entries(write_file, load, tmp_path):
    a, b, _ = _two_pipelines(write_file, load, tmp_path)
    a.run()
    b.run()
    a2, b2, _ = _two_pipelines(write_file, load, tmp_path, rate_b=3.0)
    assert a2.run().step_results["train"].status is StepStatus.CACHED
    result = b2.run().step_results["train"]
    assert result.reason == "code changed: train_b"
    assert "B:" in (result.diff or "") or "3.0" in (result.diff or "")
    assert "A:" not in (result.diff or "")


def test_cli_cache_commands_take_pipeline_and_list_it(write_file, load, tmp_path):
    a, b, _ = _two_pipelines(write_file, load, tmp_path)
    a.run()
    b.run()
    cache = str(tmp_path / "cache")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "flowyml_tui", "cache", *args, "--cache-dir", cache],
            capture_output=True,
            text=True,
        )

    listing = cli("ls")
    assert listing.returncode == 0
    rows = [line.split()[:2] for line in listing.stdout.splitlines()]
    assert sorted(rows) == [["train", "a"], ["train", "b"]]
    ambiguous = cli("clear", "--step", "train", "--yes")
    assert ambiguous.returncode == 2
    assert "--pipeline" in ambiguous.stderr
    assert cli("clear", "--step", "train", "--pipeline", "b", "--yes").returncode == 0
    assert [line.split()[1] for line in cli("ls").stdout.splitlines()] == ["a"]
    assert cli("pin", "train").returncode == 0  # unambiguous now
    assert "pinned" in cli("ls", "--pipeline", "a").stdout


THRESHOLD_FILE = """
from flowyml_tui import Pipeline, step

THRESHOLD = {threshold}

@step(outputs=["numbers"])
def load():
    return list(range(20))

@step(inputs=["numbers"], outputs=["clean"])
def clean(numbers):
    return [n for n in numbers if n > THRESHOLD{extra}]

pipeline = Pipeline("quick").add_step(load).add_step(clean)
"""


def test_the_reason_compares_with_the_entry_the_previous_run_used(write_file, load):
    """10 -> 12 -> 10 (a hit), then a one-line edit of the step: only the step changed."""

    def run(threshold, extra=""):
        path = write_file("quick.py", THRESHOLD_FILE.format(threshold=threshold, extra=extra))
        return load(path).run().step_results["clean"]

    run(10)
    assert run(12).reason == "code changed: THRESHOLD"
    assert run(10).status is StepStatus.CACHED
    edited = run(10, extra=" and n < 100")
    assert edited.reason == "code changed: clean"
    assert "THRESHOLD = 12" not in (edited.diff or "")
    assert "n < 100" in (edited.diff or "")


# -- a value that fails to load mid-run ------------------------------------------------------

COUNTER = """
from pathlib import Path
from flowyml_tui import Pipeline, step

COUNTS = Path({counts!r})

@step(outputs=["raw"], cache="input_hash")
def produce():
    # not deterministic on purpose: each execution returns a new value
    n = int(COUNTS.read_text()) + 1 if COUNTS.exists() else 1
    COUNTS.write_text(str(n))
    return [n] * 3

@step(inputs=["raw"], outputs=["sibling"])
def sibling(raw):
    return sum(raw)

@step(inputs=["raw"], outputs=["consumer"])
def consumer(raw, salt: int = 0):
    return {{"got": list(raw), "salt": salt}}

@step(inputs=["sibling", "consumer"], outputs=["joined"])
def joined(sibling, consumer):
    return (sibling, consumer["got"])

pipeline = Pipeline("counter")
pipeline.add_step(produce).add_step(sibling).add_step(consumer).add_step(joined)
"""


def _corrupt_value(store: CacheStore, pipeline: str, step_name: str) -> None:
    (info,) = [i for i in store.entries(step_name, pipeline=pipeline)][-1:]
    store.database.set(f"v:{info.key}:0", b"not the pickle that was stored")


def _assert_every_entry_matches_what_it_consumed(store: CacheStore, pipeline) -> None:
    """The invariant: each entry's key is the key of the values its step actually received.

    Each step of COUNTER returns what it received (or a function of it we can invert), so the
    stored value says what was consumed and can be checked against the entry's recipe.
    """
    entries = [store.get_entry(info.key) for info in store.entries(pipeline=pipeline.name)]
    for entry in entries:
        recipe = entry.recipe
        rebuilt = Recipe(
            pipeline=pipeline.name,
            step=entry.step,
            policy=recipe.policy,
            outputs=tuple(entry.outputs),
            code_hash=recipe.code_hash,
            inputs=recipe.inputs,
            context=recipe.context,
            custom_key=recipe.custom_key,
        )
        assert rebuilt.key() == entry.key
        value = store.load_value(entry, 0)
        received = recipe.inputs
        if entry.step == "consumer":
            assert fingerprint(value["got"]) == received["raw"], "consumer keyed by another raw"
        elif entry.step == "sibling":
            assert fingerprint([value // 3] * 3) == received["raw"], "sibling keyed by another raw"
        elif entry.step == "joined":
            assert fingerprint(value[0]) == received["sibling"]
            (consumed,) = [
                e
                for e in entries
                if e.step == "consumer" and e.output_fps == (received["consumer"],)
            ]
            assert store.load_value(consumed, 0)["got"] == value[1]


@pytest.fixture
def counter(write_file, load, tmp_path):
    path = write_file("counter.py", COUNTER.format(counts=str(tmp_path / "counts")))
    return lambda: load(path)


def test_a_consumer_is_keyed_by_the_value_it_received_after_a_reload(counter):
    pipeline = counter()
    first = pipeline.run()
    assert first["consumer"]["got"] == [1, 1, 1]
    store = pipeline.store
    _corrupt_value(store, "counter", "produce")
    second = pipeline.run(salt=1)  # consumer must run; loading raw re-runs produce -> [2, 2, 2]
    assert second.step_results["produce"].reason_kind is ReasonKind.CORRUPT_ENTRY
    assert second["consumer"]["got"] == [2, 2, 2]
    _assert_every_entry_matches_what_it_consumed(store, pipeline)
    third = pipeline.run(salt=1)
    assert third["consumer"]["got"] == [2, 2, 2]
    assert all(r.cached for r in third.step_results.values())


def test_steps_decided_from_the_old_value_are_decided_again(counter):
    pipeline = counter()
    pipeline.run()
    _corrupt_value(pipeline.store, "counter", "produce")
    result = pipeline.run(salt=1)
    sibling = result.step_results["sibling"]
    assert sibling.status is StepStatus.EXECUTED, "sibling hit on [1,1,1] must be re-decided"
    assert sibling.reason == "upstream produce changed (raw)"
    assert result["joined"] == (6, [2, 2, 2])
    _assert_every_entry_matches_what_it_consumed(pipeline.store, pipeline)


def test_a_pinned_value_that_cannot_load_reruns_and_redecides_downstream(counter):
    pipeline = counter()
    pipeline.run()
    pipeline.pin("produce")
    _corrupt_value(pipeline.store, "counter", "produce")
    result = pipeline.run(salt=2)
    assert any("corrupt" in w.message for w in result.events if hasattr(w, "message"))
    assert result["consumer"]["got"] == [2, 2, 2]
    assert result["joined"] == (6, [2, 2, 2])
    _assert_every_entry_matches_what_it_consumed(pipeline.store, pipeline)


# -- no cache means no store -----------------------------------------------------------------


def test_enable_cache_false_never_opens_the_store(tmp_path):
    cache = tmp_path / "cache"
    (cache / "store").mkdir(parents=True, mode=0o700)
    (cache / "store" / "cache.db").write_bytes(b"this is not a database" * 100)

    @step(outputs=["x"])
    def x():
        return 41

    pipeline = Pipeline("nocache", enable_cache=False, cache_dir=cache).add_step(x)
    result = pipeline.run()
    assert result["x"] == 41
    assert result.step_results["x"].reason == "cache disabled"
    assert (cache / "store" / "cache.db").read_bytes().startswith(b"this is not a database")


def test_no_cache_on_the_cli_runs_beside_a_broken_cache(write_file, tmp_path):
    cache = tmp_path / "cache"
    (cache / "store").mkdir(parents=True, mode=0o700)
    (cache / "store" / "cache.db").write_bytes(b"garbage" * 100)
    path = write_file(
        "p.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["x"])
        def x():
            return 1

        pipeline = Pipeline("p").add_step(x)
        """,
    )
    command = [sys.executable, "-m", "flowyml_tui", "run", str(path), "--no-cache"]
    out = subprocess.run(
        [*command, "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "cache disabled" in out.stdout


# -- entry metadata is validated when read ---------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda meta: meta.pop("sizes"),
        lambda meta: meta.pop("output_fps"),
        lambda meta: meta.update(sizes=[1, 2, 3]),
        lambda meta: meta.update(created="yesterday"),
        lambda meta: meta.update(recipe=None),
    ],
    ids=["no sizes", "no output_fps", "sizes of another length", "string time", "null recipe"],
)
def test_malformed_entry_metadata_is_a_miss_not_a_crash(damage, tmp_path):
    import json

    @step(outputs=["x"])
    def x():
        return [1, 2, 3]

    pipeline = Pipeline("meta", cache_dir=tmp_path / "cache").add_step(x)
    key = pipeline.run().step_results["x"].key
    store = CacheStore(tmp_path / "cache")
    meta = json.loads(store.database.get("e:" + key))
    damage(meta)
    store.database.set("e:" + key, json.dumps(meta).encode())
    again = Pipeline("meta", cache_dir=tmp_path / "cache").add_step(x).run()
    assert again.step_results["x"].reason_kind is ReasonKind.CORRUPT_ENTRY
    assert again["x"] == [1, 2, 3]
    healed = Pipeline("meta", cache_dir=tmp_path / "cache").add_step(x).run()
    assert healed.step_results["x"].status is StepStatus.CACHED


# -- the hit rate, counted the same way by the store -----------------------------------------


def test_cache_stats_count_a_failed_step_as_a_miss(tmp_path):
    @step(outputs=["ok"])
    def ok():
        return 1

    @step(outputs=["bad"])
    def bad():
        raise ValueError("no")

    pipeline = Pipeline("rate", cache_dir=tmp_path / "cache").add_step(ok).add_step(bad)
    pipeline.run()
    result = pipeline.run()
    stats = pipeline.store.stats()
    assert (stats["hits"], stats["misses"]) == (1, 3)
    assert result.hit_rate == pytest.approx(1 / 2)


def test_a_run_without_a_cache_has_no_hit_rate_even_with_a_failure(tmp_path):
    @step(outputs=["bad"])
    def bad():
        raise ValueError("no")

    result = Pipeline("nocache", enable_cache=False, cache_dir=tmp_path / "c").add_step(bad).run()
    assert result.hit_rate is None
