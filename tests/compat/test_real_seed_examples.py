"""The caching seed's examples 1-3, written for the real flowyml 2.2.1, run unchanged here.

Each file imports from `flowyml` itself (the real package, translated by the loader). What
the seed leaves to the reader (pandas, a database, a model class) is stdlib stand-ins; the
pipelines, decorators and cache settings are the seed's. Each runs twice, then after an edit,
and says per step what our engine would.
"""

from __future__ import annotations

import pytest

from .test_flowyml_template import statuses

pytestmark = pytest.mark.usefixtures("real_flowyml")

EXAMPLE_1 = """
import csv
from flowyml import Pipeline, step, Context

UPLOADED = []

@step(cache="code_hash", outputs=["raw"])
def load_data(file_path: str):
    \"\"\"Cache invalidated if code OR file_path changes.\"\"\"
    with open(file_path) as handle:
        return list(csv.DictReader(handle))

@step(inputs=["raw"], cache="input_hash", outputs=["clean"])
def clean_data(raw):
    \"\"\"Cache invalidated only if raw data changes.\"\"\"
    return [row for row in raw if row["value"]]

@step(inputs=["clean"], cache=False, outputs=["result"])
def upload_to_db(clean):
    \"\"\"Never cached - always uploads.\"\"\"
    UPLOADED.append(clean)
    return {"uploaded": len(clean)}

pipeline = Pipeline("etl", enable_cache=True, context=Context(file_path=FILE))
pipeline.add_step(load_data)
pipeline.add_step(clean_data)
pipeline.add_step(upload_to_db)
"""


def test_example_1_mixed_caching(write_file, load, tmp_path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("name,value\na,1\nb,\nc,3\n")
    path = write_file("etl.py", EXAMPLE_1.replace("FILE", repr(str(data))))

    first = load(path).run()
    assert first["result"] == {"uploaded": 2}
    assert set(statuses(first).values()) == {"executed"}
    again = load(path).run()
    assert statuses(again) == {
        "load_data": "cached",
        "clean_data": "cached",
        "upload_to_db": "executed",  # cache=False: always uploads
    }
    assert again.step_results["upload_to_db"].reason == "cache disabled"

    # An edit of clean_data's code: input_hash keys the inputs only, so it stays cached.
    path.write_text(path.read_text().replace('if row["value"]]', "if row['value']]"))
    edited = load(path).run()
    assert statuses(edited)["clean_data"] == "cached"
    # New data: load_data's input (the file path) is the same, its code too: cached, as in
    # flowyml; changing the path re-runs it and, with new rows, clean_data after it.
    other = tmp_path / "other.csv"
    other.write_text("name,value\na,1\nb,2\nc,3\n")
    moved = load(path).run(context={"file_path": str(other)})
    assert statuses(moved) == {
        "load_data": "executed",
        "clean_data": "executed",
        "upload_to_db": "executed",
    }
    assert "file_path" in moved.step_results["load_data"].reason
    assert moved["result"] == {"uploaded": 3}


EXAMPLE_2 = """
from flowyml import Pipeline, step, Context

class Model:
    def __init__(self):
        self.weights = None

    def fit(self, dataset, lr, epochs):
        self.weights = sum(dataset["train"]) * lr * epochs

    def evaluate(self, test_data):
        return {"score": self.weights + sum(test_data)}

def load_and_split(data_path, test_split):
    values = list(range(int(data_path.rsplit("/", 1)[-1])))
    cut = int(len(values) * (1 - test_split))
    return {"train": values[:cut], "test": values[cut:]}

test_data = [1, 2]

@step(cache="code_hash", outputs=["dataset"])
def prepare_dataset(data_path: str, test_split: float):
    \"\"\"Recompute if code or parameters change.\"\"\"
    return load_and_split(data_path, test_split)

@step(inputs=["dataset"], cache="input_hash", outputs=["model"])
def train_model(dataset, learning_rate: float, epochs: int):
    \"\"\"Expensive training - cache based on inputs only.\"\"\"
    model = Model()
    model.fit(dataset, lr=learning_rate, epochs=epochs)
    return model

@step(inputs=["model"], cache=False, outputs=["metrics"])
def evaluate_fresh(model):
    \"\"\"Always evaluate to get latest metrics.\"\"\"
    return model.evaluate(test_data)

pipeline = Pipeline("training", context=Context(
    data_path="data/10", test_split=0.2, learning_rate=0.5, epochs=2))
pipeline.add_step(prepare_dataset)
pipeline.add_step(train_model)
pipeline.add_step(evaluate_fresh)
"""


def test_example_2_ml_training_reruns_only_for_new_hyperparameters(write_file, load) -> None:
    path = write_file("training.py", EXAMPLE_2)
    first = load(path).run()
    assert first["metrics"] == {"score": 28 * 0.5 * 2 + 3}
    again = load(path).run()
    assert statuses(again) == {
        "prepare_dataset": "cached",
        "train_model": "cached",
        "evaluate_fresh": "executed",
    }
    tuned = load(path).run(context={"learning_rate": 0.25})
    assert statuses(tuned) == {
        "prepare_dataset": "cached",
        "train_model": "executed",
        "evaluate_fresh": "executed",
    }
    assert "learning_rate" in tuned.step_results["train_model"].reason
    assert tuned["metrics"] == {"score": 28 * 0.25 * 2 + 3}

    # An edit of the training code: input_hash ignores it (the seed's "doesn't change
    # often"); an edit of prepare_dataset (code_hash) re-runs it.
    path.write_text(path.read_text().replace("model = Model()", "model = Model()  # v2"))
    assert statuses(load(path).run())["train_model"] == "cached"
    path.write_text(path.read_text().replace("(1 - test_split)", "(1.0 - test_split)"))
    edited = load(path).run()
    assert edited.step_results["prepare_dataset"].status.value == "executed"
    assert edited.step_results["prepare_dataset"].reason.startswith("code changed")
    assert edited.step_results["train_model"].status.value == "cached"  # same dataset


EXAMPLE_3 = """
import time
from flowyml import Pipeline, step

@step(cache="code_hash", outputs=["result"])
def expensive_step():
    time.sleep(0.2)  # Simulate expensive computation
    return "result"

# During development
debug = Pipeline("debug_pipeline", enable_cache=False)
debug.add_step(expensive_step)

# After development
pipeline = Pipeline("prod_pipeline", enable_cache=True)
pipeline.add_step(expensive_step)
"""


def test_example_3_debugging_without_the_cache_then_with_it(write_file, load) -> None:
    path = write_file("debugging.py", EXAMPLE_3)
    for _ in range(2):  # all steps run fresh every time
        debug = load(path, "debug_pipeline").run()
        assert statuses(debug) == {"expensive_step": "executed"}
        assert debug.step_results["expensive_step"].reason == "cache disabled"
    load(path, "prod_pipeline").run()
    prod = load(path, "prod_pipeline").run()
    assert statuses(prod) == {"expensive_step": "cached"}  # benefit from caching
    assert prod.step_results["expensive_step"].saved_seconds >= 0.2
