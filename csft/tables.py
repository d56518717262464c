"""Result tables: mean +- sd over seeds, with the published numbers beside ours (never instead).

Published numbers live in one file, csft/paper_numbers.csv, with their source.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

FORECAST_KEYS = ["track", "model", "dataset", "horizon", "lookback"]
PAPER_KEYS = ["model", "dataset", "horizon", "lookback"]
FORECAST_METRICS = ["test_mse", "test_mae", "test_mse_raw", "test_mae_raw"]
OFFICIAL_METRICS = ["test_mse_official", "test_mae_official"]  # drop_last, as official loaders


def paper_numbers() -> pd.DataFrame:
    """Every published number the suite compares against, one row per value (low = high)."""
    with resources.files("csft").joinpath("paper_numbers.csv").open() as handle:
        return pd.read_csv(handle, dtype={"horizon": "Int64", "lookback": "Int64"})


def read_jobs(paths: list[str | Path]) -> pd.DataFrame:
    """One row per job and tested look-back, from the jobs' metrics.json (a list of records)."""
    return pd.DataFrame([record for p in paths for record in json.loads(Path(p).read_text())])


def summarize_forecast(jobs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd (ddof 1) and count over seeds per track x model x dataset x horizon x look-back."""
    if "track" not in jobs:
        jobs = jobs.assign(track="main")
    grouped = jobs.groupby(FORECAST_KEYS, sort=True, dropna=False)
    metrics = FORECAST_METRICS + [m for m in OFFICIAL_METRICS if m in jobs]
    table = grouped[metrics].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table["n_seeds"] = grouped["seed"].nunique()
    table["n_test_windows"] = grouped["n_test_windows"].first()
    table = table.reset_index()
    published = paper_numbers().dropna(subset=["horizon"])
    for metric in ("mse", "mae"):
        values = published[published.metric == metric].rename(columns={"low": f"paper_{metric}"})
        table = table.merge(values[PAPER_KEYS + [f"paper_{metric}"]], on=PAPER_KEYS, how="left")
    table["mse_vs_paper_pct"] = 100 * (table.test_mse_mean / table.paper_mse - 1)
    if "test_mse_official_mean" in table:
        table["official_mse_vs_paper_pct"] = 100 * (
            table.test_mse_official_mean / table.paper_mse - 1
        )
    return table


def _mean_sd(mean: float, sd: float) -> str:
    return f"{mean:.3f}" if np.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"


def _cells(means: pd.Series, sds: pd.Series) -> list[str]:
    return [_mean_sd(m, s) for m, s in zip(means, sds, strict=True)]


def _published(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "" if pd.isna(v) else f"{v:.3f}")


def forecast_markdown(table: pd.DataFrame) -> str:
    """The human-readable forecast tables: ours (mean ± sd over seeds) beside the paper's."""
    ranges = paper_numbers()
    ranges = ranges[ranges.horizon.isna()]
    mse_range = {
        r.model: f"{r.low:.3f}-{r.high:.3f}" for r in ranges[ranges.metric == "mse"].itertuples()
    }
    main = table[table.track == "main"]
    rows = pd.DataFrame(
        {
            "model": main.model,
            "dataset": main.dataset,
            "H": main.horizon,
            "L": main.lookback,
            "seeds": main.n_seeds,
            "MSE (ours)": _cells(main.test_mse_mean, main.test_mse_std),
            "MSE (paper)": _published(main.paper_mse),
            "Δ MSE %": main.mse_vs_paper_pct.map(lambda v: "" if pd.isna(v) else f"{v:+.1f}"),
            "MSE range (paper)": main.model.map(lambda m: mse_range.get(m, "")),
            "MAE (ours)": _cells(main.test_mae_mean, main.test_mae_std),
            "MAE (paper)": _published(main.paper_mae),
            "MSE raw": _cells(main.test_mse_raw_mean, main.test_mse_raw_std),
            "test windows": main.n_test_windows,
        }
    )
    notes = "\n".join(
        f"- {r.model} {r.metric.upper()} on {r.dataset}: {r.low:.3f}-{r.high:.3f} ({r.source})"
        for r in ranges.itertuples()
    )
    if "test_mse_official_mean" in main:
        official = main.test_mse_official_mean.notna().to_numpy()
        cells = _cells(main.test_mse_official_mean, main.test_mse_official_std)
        rows.insert(
            6,
            "MSE (official eval)",
            [c if keep else "" for c, keep in zip(cells, official, strict=True)],
        )
        rows.insert(
            9,
            "Δ official %",
            main.official_mse_vs_paper_pct.map(
                lambda v: "" if pd.isna(v) else f"{v:+.1f}"
            ).to_numpy(),
        )
    text = (
        "# Forecasting (ETT, normalized scale unless marked raw)\n\n"
        "Ours: mean ± sd over seeds, every test window scored. Paper: as published, for "
        "comparison only. MSE (official eval): the same predictions scored as the official "
        "loaders do (the last incomplete test batch dropped, not scored), shown only "
        "to check that published numbers are reproduced.\n\n"
        "## Main track (one look-back per model)\n\n"
        + rows.to_markdown(index=False, disable_numparse=True)
        + "\n\nPublished ranges (over ETT sets and horizons), shown beside the models they "
        "belong to:\n\n" + notes + "\n"
    )
    uf = table[table.track == "uf"]
    if len(uf):
        cells = uf.assign(mse=_cells(uf.test_mse_mean, uf.test_mse_std))
        pivot = cells.pivot_table(
            index=["model", "dataset", "horizon"], columns="lookback", values="mse", aggfunc="first"
        )
        pivot.columns = [f"MSE at L={c}" for c in pivot.columns]
        text += (
            "\n## Variable-length (uf) track: one model per look-back interval\n\n"
            "Trained with a look-back drawn per batch from the interval; tested at each "
            "look-back on the same forecast targets.\n\n"
            + pivot.reset_index().to_markdown(index=False, disable_numparse=True)
            + "\n"
        )
    return text
