"""Feature engineering for churn.py: a local module, imported fresh by every run."""

import pandas as pd


def add_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Spend per visit and tenure in years: the features the model leans on."""
    out = frame.copy()
    out["spend_per_visit"] = out["spend"] / out["visits"].clip(lower=1)
    out["tenure_years"] = out["tenure_days"] / 365.25
    return out
