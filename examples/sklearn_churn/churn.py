"""A pandas + scikit-learn pipeline: five steps, the libraries a real training script imports.

    flowyml-tui examples/sklearn_churn/churn.py

Edit `C` in `train` and save: only `train` and what follows re-run, and the step shows running
about as fast as for a stdlib pipeline, because the workbench's spare worker has pandas and
scikit-learn imported before the save (README, "Instant re-runs"). Needs pandas and
scikit-learn (`pip install pandas scikit-learn`).
"""

import pandas as pd
from features import add_ratios
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from flowyml_tui import Pipeline, step

FEATURES = ["visits", "spend", "tenure_days", "spend_per_visit", "tenure_years"]


@step(outputs=["customers"])
def load(n: int = 4000, seed: int = 7):
    """Synthetic customers: fewer visits and less spend make churn likelier."""
    rng = pd.Series(range(n)).sample(frac=1.0, random_state=seed).to_numpy()
    visits = (rng % 40) + 1
    spend = (rng * 37 % 900) / 3 + visits * 2.5
    tenure = rng * 11 % 2000
    churned = ((visits < 12) & (spend < 150)) | (tenure < 90)
    return pd.DataFrame(
        {"visits": visits, "spend": spend, "tenure_days": tenure, "churned": churned.astype(int)}
    )


@step(inputs=["customers"], outputs=["table"])
def featurize(customers):
    return add_ratios(customers)


@step(inputs=["table"], outputs=["split"])
def split(table, seed: int = 7):
    train, test = train_test_split(table, test_size=0.25, random_state=seed)
    return {"train": train, "test": test}


@step(inputs=["split"], outputs=["model"])
def train(split):
    scaler = StandardScaler().fit(split["train"][FEATURES])
    model = LogisticRegression(C=1.0, max_iter=500)
    model.fit(scaler.transform(split["train"][FEATURES]), split["train"]["churned"])
    return {"scaler": scaler, "model": model}


@step(inputs=["model", "split"], outputs=["metrics"])
def evaluate(model, split):
    features = model["scaler"].transform(split["test"][FEATURES])
    truth = split["test"]["churned"]
    return {
        "accuracy": round(float(accuracy_score(truth, model["model"].predict(features))), 4),
        "auc": round(float(roc_auc_score(truth, model["model"].predict_proba(features)[:, 1])), 4),
    }


pipeline = Pipeline("churn", cache_dir=".flowyml/cache")
pipeline.add_step(load).add_step(featurize).add_step(split).add_step(train).add_step(evaluate)
