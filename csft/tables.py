"""Result tables: mean +- sd over seeds, with the published numbers beside ours (never instead).

Published numbers live in one file, csft/paper_numbers.csv, with their source.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

FORECAST_KEYS = ["model", "dataset", "horizon", "lookback"]
FORECAST_METRICS = ["test_mse", "test_mae", "test_mse_raw", "test_mae_raw"]


def paper_numbers() -> pd.DataFrame:
    """Every published number the suite compares against, one row per value (low = high)."""
    with resources.files("csft").joinpath("paper_numbers.csv").open() as handle:
        return pd.read_csv(handle, dtype={"horizon": "Int64", "lookback": "Int64"})


def read_jobs(paths: list[str | Path]) -> pd.DataFrame:
    """One row per job from its metrics.json."""
    return pd.DataFrame([json.loads(Path(p).read_text()) for p in paths])


def summarize_forecast(jobs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd (ddof 1) and count over seeds per model x dataset x horizon x look-back."""
    grouped = jobs.groupby(FORECAST_KEYS, sort=True)
    table = grouped[FORECAST_METRICS].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table["n_seeds"] = grouped["seed"].nunique()
    table["n_test_windows"] = grouped["n_test_windows"].first()
    table = table.reset_index()
    published = paper_numbers().dropna(subset=["horizon"])
    for metric in ("mse", "mae"):
        values = published[published.metric == metric].rename(columns={"low": f"paper_{metric}"})
        table = table.merge(
            values[FORECAST_KEYS + [f"paper_{metric}"]], on=FORECAST_KEYS, how="left"
        )
    table["mse_vs_paper_pct"] = 100 * (table.test_mse_mean / table.paper_mse - 1)
    return table


def _mean_sd(mean: float, sd: float) -> str:
    return f"{mean:.3f}" if np.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"


def forecast_markdown(table: pd.DataFrame) -> str:
    """The human-readable forecast table: ours (mean ± sd over seeds) beside the paper's."""
    rows = pd.DataFrame(
        {
            "model": table.model,
            "dataset": table.dataset,
            "H": table.horizon,
            "L": table.lookback,
            "seeds": table.n_seeds,
            "MSE (ours)": [
                _mean_sd(m, s) for m, s in zip(table.test_mse_mean, table.test_mse_std, strict=True)
            ],
            "MSE (paper)": table.paper_mse.map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
            "Δ MSE %": table.mse_vs_paper_pct.map(lambda v: "" if pd.isna(v) else f"{v:+.1f}"),
            "MAE (ours)": [
                _mean_sd(m, s) for m, s in zip(table.test_mae_mean, table.test_mae_std, strict=True)
            ],
            "MAE (paper)": table.paper_mae.map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
            "MSE raw": [
                _mean_sd(m, s)
                for m, s in zip(table.test_mse_raw_mean, table.test_mse_raw_std, strict=True)
            ],
            "test windows": table.n_test_windows,
        }
    )
    ranges = paper_numbers()
    ranges = ranges[ranges.horizon.isna()]
    notes = "\n".join(
        f"- {r.model} {r.metric.upper()} on {r.dataset}: {r.low:.3f}-{r.high:.3f} ({r.source})"
        for r in ranges.itertuples()
    )
    return (
        "# Forecasting (ETT, normalized scale unless marked raw)\n\n"
        "Ours: mean ± sd over seeds, every test window scored. Paper: as published, for "
        "comparison only.\n\n"
        + rows.to_markdown(index=False, disable_numparse=True)
        + "\n\nPublished ranges shown beside the models they belong to:\n\n"
        + notes
        + "\n"
    )
