"""ML-style pipeline (flowyml's "Machine Learning Training" example), stdlib only.

- prepare_dataset  code_hash: a synthetic two-class dataset, split by `test_split`
- train_model      input_hash: the expensive step (a few seconds of gradient descent); re-runs
                   only when the data or a hyper-parameter from the context changes
- evaluate         cache=False: always re-evaluates

Try: change `learning_rate` in the context below and save: only train_model and evaluate run.
"""

import math
import random

from flowyml_tui import Pipeline, step


@step(outputs=["dataset"])
def prepare_dataset(n_samples: int, test_split: float, seed: int = 42):
    rng = random.Random(seed)
    rows = []
    for _ in range(n_samples):
        label = rng.random() < 0.5
        centre = 1.0 if label else -1.0
        rows.append(([rng.gauss(centre, 1.2), rng.gauss(centre * 0.5, 1.0)], int(label)))
    cut = int(len(rows) * (1 - test_split))
    return {"train": rows[:cut], "test": rows[cut:]}


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(min(z, 30), -30)))


def _predict(weights: list[float], bias: float, features: list[float]) -> float:
    return _sigmoid(sum(w * x for w, x in zip(weights, features, strict=True)) + bias)


@step(inputs=["dataset"], outputs=["model"], cache="input_hash")
def train_model(dataset, learning_rate: float, epochs: int):
    weights, bias = [0.0, 0.0], 0.0
    for epoch in range(epochs):
        for features, label in dataset["train"]:
            error = _predict(weights, bias, features) - label
            step_size = learning_rate * error
            weights = [w - step_size * x for w, x in zip(weights, features, strict=True)]
            bias -= learning_rate * error
        if epoch % 50 == 0:
            print(f"epoch {epoch}: weights {[round(w, 3) for w in weights]}")
    return {"weights": weights, "bias": bias}


@step(inputs=["model", "dataset"], outputs=["metrics"], cache=False)
def evaluate(model, dataset):
    correct = 0
    for features, label in dataset["test"]:
        predicted = _predict(model["weights"], model["bias"], features) > 0.5
        correct += int(predicted == bool(label))
    return {"accuracy": round(correct / len(dataset["test"]), 4)}


pipeline = Pipeline(
    "ml",
    context={"n_samples": 4000, "test_split": 0.2, "learning_rate": 0.05, "epochs": 300},
)
pipeline.add_step(prepare_dataset).add_step(train_model).add_step(evaluate)
