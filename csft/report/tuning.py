"""The tuning stage's table: per studied cell, the official recipe and the tuned one side by
side (test MSE or accuracy over the same seeds, their paired difference with a bootstrap
interval and Wilcoxon p), the validation losses that chose the winner, the settings tuning
changed and the budget it had.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from csft.report import verdicts

# task -> (the study's key fields in best.json, the metric, the direction that is better)
TASKS = {
    "forecast": (("model", "dataset", "lookback"), "test_mse", "lower"),
    "classify": (("classifier", "dataset"), "test_accuracy", "higher"),
}
STUDY_COLUMNS = ["trials", "failed", "best_trial", "val_official", "val_tuned", "changed", "budget"]


def read_studies(paths: Iterable[str | Path], task: str) -> pd.DataFrame:
    """One row per study of `task` from its best-settings file: its key fields and
    STUDY_COLUMNS."""
    keys = TASKS[task][0]
    rows = []
    for path in map(Path, paths):
        best = json.loads(path.read_text())
        changed = {
            k: v for k, v in best["best_params"].items() if best["official_params"].get(k) != v
        }
        rows.append(
            {key: best[key] for key in keys}
            | {
                "trials": int(best["n_trials"]),
                "failed": int(best["n_failed"]),
                "best_trial": int(best["best_trial"]),
                "val_official": best["official_value"],
                "val_tuned": best["best_value"],
                "changed": ", ".join(f"{k}={_short(v)}" for k, v in changed.items()) or "none",
                "budget": json.dumps(best["budget"], sort_keys=True),
            }
        )
    return pd.DataFrame(rows, columns=[*keys, *STUDY_COLUMNS])


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def read_scores(paths: Iterable[str | Path], task: str) -> pd.DataFrame:
    """One row per record of the metrics files: the study's keys, `cell` (what else tells the
    row apart: horizon; or length policy, selection and method), seed and `score`."""
    rows = []
    for path in map(Path, paths):
        for record in json.loads(path.read_text()):
            if task == "forecast":
                keys = {k: record[k] for k in ("model", "dataset", "lookback")}
                cell = f"L{record['lookback']} H{record['horizon']}"
            else:
                keys = {"classifier": record["classifier"], "dataset": record["dataset"]}
                cell = f"{record['method']}"
            rows.append(
                keys
                | {
                    "cell": cell,
                    "seed": int(record["seed"]),
                    "score": float(record[TASKS[task][1]]),
                }  # fmt: skip
            )
    return pd.DataFrame(rows, columns=[*TASKS[task][0], "cell", "seed", "score"])


def tuning_table(
    task: str, studies: pd.DataFrame, official: pd.DataFrame, tuned: pd.DataFrame
) -> pd.DataFrame:
    """Per studied cell of `task`: official and tuned test score (mean over the same seeds),
    the paired difference tuned - official and whether tuning helped detectably."""
    keys, metric, better = TASKS[task]
    on = [*keys, "cell", "seed"]
    both = official.merge(tuned, on=on, suffixes=("_official", "_tuned"), validate="1:1")
    study = studies.set_index(list(keys))
    rows = []
    for key, part in both.groupby([*keys, "cell"], sort=True):
        a, b = part.score_tuned.to_numpy(), part.score_official.to_numpy()
        result = verdicts.compare(a, b, below="lower", above="higher")
        effect = result["verdict"]
        if effect in ("lower", "higher"):
            effect = "tuned better" if effect == better else "tuned worse"
        found = study.loc[tuple(key[: len(keys)])].to_dict()
        if int(found["best_trial"]) == 0:  # the tuned jobs re-ran the official recipe
            effect = "official recipe kept (trial 0 best)"
        rows.append(
            {
                "task": task,
                "model": key[0],
                "dataset": key[1],
                "cell": key[-1],
                "metric": metric,
                "seeds": len(part),
                "official": float(b.mean()),
                "tuned": float(a.mean()),
                "difference": result["mean"],
                "low": result["low"],
                "high": result["high"],
                "p": result["p"],
                "effect": effect,
                **found,
            }  # fmt: skip
        )
    return pd.DataFrame(rows)


def table_markdown(table: pd.DataFrame, block: dict) -> str:
    """The table with the budget it was tuned under stated above it."""
    shown = table.assign(
        difference=[
            verdicts.interval_text({"mean": m, "low": lo, "high": hi, "n": n})
            for m, lo, hi, n in zip(
                table.difference, table.low, table.high, table.seeds, strict=True
            )  # fmt: skip
        ],
        official=table.official.map("{:.4f}".format),
        tuned=table.tuned.map("{:.4f}".format),
        val_official=table.val_official.map("{:.4f}".format),
        val_tuned=table.val_tuned.map("{:.4f}".format),
        p=table.p.map(lambda p: "n/a" if np.isnan(p) else f"{p:.3g}"),
    ).drop(columns=["low", "high"])
    budgets = " / ".join(sorted(set(table.budget)))
    return (
        "# Official and tuned recipes side by side\n\n"
        f"Every method: {block['trials']} trials per study (trial 0 = the official recipe), "
        f"TPE sampler seed {block.get('sampler_seed', 0)}, each trial trained under the same "
        f"budget ({budgets}) and scored on validation only: forecasting the mean best "
        f"validation MSE over horizons {block.get('forecast', {}).get('horizons')}, "
        "classification 1 - accuracy on a stratified validation part of TRAIN (TEST sealed). "
        "The best trial's settings then train every seed with the model's own recipe budget. "
        "difference = tuned - official test score over the same seeds (95% bootstrap "
        "interval, Wilcoxon p); an effect is named only when the interval excludes zero and "
        "p < 0.05.\n\n" + shown.to_markdown(index=False, disable_numparse=True) + "\n"
    )
