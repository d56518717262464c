"""The tuning stage's table: per study cell, the official recipe and the tuned one side by side
(test MSE over the same seeds, their paired difference with a bootstrap interval and Wilcoxon
p), the validation losses that chose it, the settings tuning changed and the budget it had.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from csft.report import verdicts


def read_studies(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per study from its best-settings file."""
    rows = []
    for path in map(Path, paths):
        best = json.loads(path.read_text())
        changed = {
            k: v for k, v in best["best_params"].items() if best["official_params"].get(k) != v
        }
        rows.append(
            {
                "model": best["model"],
                "dataset": best["dataset"],
                "lookback": int(best["lookback"]),
                "trials": int(best["n_trials"]),
                "failed": int(best["n_failed"]),
                "best_trial": int(best["best_trial"]),
                "val_official": best["official_value"],
                "val_tuned": best["best_value"],
                "changed": ", ".join(f"{k}={_short(v)}" for k, v in changed.items()) or "none",
                "budget": json.dumps(best["budget"], sort_keys=True),
            }  # fmt: skip
        )
    return pd.DataFrame(rows)


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def read_scores(paths: Iterable[str | Path]) -> pd.DataFrame:
    """(model, dataset, lookback, horizon, seed, test_mse) per main-track metrics file."""
    rows = []
    for path in map(Path, paths):
        for record in json.loads(path.read_text()):
            rows.append(
                {k: record[k] for k in ("model", "dataset", "lookback", "horizon", "seed")}
                | {"test_mse": float(record["test_mse"])}
            )
    return pd.DataFrame(
        rows, columns=["model", "dataset", "lookback", "horizon", "seed", "test_mse"]
    )


def tuning_table(
    studies: pd.DataFrame, official: pd.DataFrame, tuned: pd.DataFrame
) -> pd.DataFrame:
    """Per study and horizon: official and tuned test MSE (mean over the same seeds), the
    paired difference tuned - official, and whether tuning helped detectably."""
    keys = ["model", "dataset", "lookback", "horizon", "seed"]
    both = official.merge(tuned, on=keys, suffixes=("_official", "_tuned"), validate="1:1")
    rows = []
    for (model, dataset, lookback, horizon), part in both.groupby(keys[:4], sort=True):
        a, b = part.test_mse_tuned.to_numpy(), part.test_mse_official.to_numpy()
        result = verdicts.compare(a, b, below="lower", above="higher")
        study = studies.query("model == @model and dataset == @dataset and lookback == @lookback")
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "lookback": lookback,
                "horizon": horizon,
                "seeds": len(part),
                "test_mse_official": float(b.mean()),
                "test_mse_tuned": float(a.mean()),
                "difference": result["mean"],
                "low": result["low"],
                "high": result["high"],
                "p": result["p"],
                "effect": {"lower": "tuned better", "higher": "tuned worse"}.get(
                    result["verdict"], result["verdict"]
                ),
                **study.iloc[0][
                    ["trials", "failed", "best_trial", "val_official", "val_tuned", "changed"]
                ].to_dict(),
            }  # fmt: skip
        )
    return pd.DataFrame(rows)


def table_markdown(table: pd.DataFrame, studies: pd.DataFrame, block: dict) -> str:
    """The table with the budget it was tuned under stated above it."""
    shown = table.assign(
        difference=[
            verdicts.interval_text({"mean": m, "low": lo, "high": hi, "n": n})
            for m, lo, hi, n in zip(
                table.difference, table.low, table.high, table.seeds, strict=True
            )
        ],
        test_mse_official=table.test_mse_official.map("{:.4f}".format),
        test_mse_tuned=table.test_mse_tuned.map("{:.4f}".format),
        val_official=table.val_official.map("{:.4f}".format),
        val_tuned=table.val_tuned.map("{:.4f}".format),
        p=table.p.map(lambda p: "n/a" if np.isnan(p) else f"{p:.3g}"),
    ).drop(columns=["low", "high"])
    budgets = sorted(set(studies.budget))
    return (
        "# Official and tuned recipes side by side\n\n"
        f"Every method: {block['trials']} trials per study (trial 0 = the official recipe), "
        f"TPE sampler seed {block.get('sampler_seed', 0)}, each trial trained under "
        f"{' / '.join(budgets)} and scored on the validation split only (the mean best "
        f"validation MSE over horizons {block['forecast']['horizons']}); the best trial's "
        "settings then train every seed with the model's own recipe budget. difference = tuned "
        "- official test MSE over the same seeds (95% bootstrap interval, Wilcoxon p); an "
        "effect is named only when the interval excludes zero and p < 0.05.\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n"
    )
