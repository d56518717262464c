"""The sensitivity stage's result: how far each reading of the paper moves CSFT from the default
recipe, paired over the same seeds and cells, as a table, a tornado figure per task and a
paragraph computed from the table (which readings matter, and whether any reaches the paper's
numbers). Published numbers come from csft/report/paper_numbers.csv only, shown beside ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from csft.report import verdicts
from csft.report.tables import paper_numbers

# task -> (record field, metric, the direction that is better, the paper's row)
TASKS = {
    "ETT MSE": ("test_mse", "lower", ("ETT", "mse")),
    "UCR accuracy, fine-tuned head": ("test_accuracy", "higher", ("UCR", "accuracy")),
    "UCR accuracy, SVM probe": ("test_accuracy", "higher", ("UCR", "accuracy")),
}
# A reading whose every score equals the default's: the protocol never sees the setting (the
# SVM probe reads the default's pretrained encoder, so a `training.*` reading cannot reach it).
NOT_APPLICABLE = "not applicable: identical to the default in every pair"
CLASSIFY_TASKS = {"finetune": "UCR accuracy, fine-tuned head", "svm": "UCR accuracy, SVM probe"}


def read_scores(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per (task, reading, cell, seed) with its score, from the stage's metrics files
    (.../sensitivity/<forecast|classify>/<reading>/<cell...>/seed<n>/metrics.json)."""
    rows = []
    for path in map(Path, paths):
        kind, reading = path.parts[-6], path.parts[-5]
        for record in json.loads(path.read_text()):
            if kind == "forecast":
                task, cell = "ETT MSE", f"{record['dataset']} H{record['horizon']}"
                score = record["test_mse"]
            else:
                task, cell = CLASSIFY_TASKS[record["protocol"]], record["dataset"]
                score = record["test_accuracy"]
            rows.append(
                {
                    "task": task,
                    "reading": reading,
                    "cell": cell,
                    "seed": int(record["seed"]),
                    "score": float(score),
                }  # fmt: skip
            )
    return pd.DataFrame(rows, columns=["task", "reading", "cell", "seed", "score"])


def sensitivity_table(scores: pd.DataFrame, default: str = "default") -> pd.DataFrame:
    """Per task and reading: the default's and the reading's mean, the paired difference
    (reading - default over the same cells x seeds) with its bootstrap interval, sd and
    Wilcoxon p, and whether the reading is better, worse or not detectably different.
    `default`: the default recipe's reading (csft.config.DEFAULT_READING)."""
    rows = []
    for task, part in scores.groupby("task", sort=False):
        better = TASKS[task][1]
        baseline = part[part.reading == default].set_index(["cell", "seed"]).score
        for reading, of in part[part.reading != default].groupby("reading", sort=False):
            ours = of.set_index(["cell", "seed"]).score
            pairs = ours.index.intersection(baseline.index).sort_values()
            a, b = ours.loc[pairs].to_numpy(), baseline.loc[pairs].to_numpy()
            result = verdicts.compare(a, b, below="lower", above="higher")
            effect = result["verdict"]
            if effect in ("lower", "higher"):
                effect = "better" if effect == better else "worse"
            if len(pairs) and np.array_equal(a, b):  # e.g. a fine-tuning setting, SVM probe
                effect = NOT_APPLICABLE
            rows.append(
                {
                    "task": task,
                    "reading": reading,
                    "default_mean": float(b.mean()),
                    "reading_mean": float(a.mean()),
                    "difference": result["mean"],
                    "low": result["low"],
                    "high": result["high"],
                    "sd": float(np.std(a - b, ddof=1)) if len(a) > 1 else float("nan"),
                    "p": result["p"],
                    "n_pairs": len(pairs),
                    "effect": effect,
                }  # fmt: skip
            )
    return pd.DataFrame(rows)


def table_markdown(table: pd.DataFrame, budget: str) -> str:
    """The table, then the paragraph."""
    shown = table.assign(
        difference=[
            verdicts.interval_text({"mean": m, "low": lo, "high": hi, "n": n})
            for m, lo, hi, n in zip(
                table.difference, table.low, table.high, table.n_pairs, strict=True
            )  # fmt: skip
        ],
        default_mean=table.default_mean.map("{:.4f}".format),
        reading_mean=table.reading_mean.map("{:.4f}".format),
        sd=table.sd.map("{:.4f}".format),
        p=table.p.map("{:.3g}".format),
    ).drop(columns=["low", "high", "n_pairs"])
    return (
        "# How much each reading of the paper moves CSFT\n\n"
        f"One setting at a time from the default recipe, same seeds and budget ({budget}); "
        "difference = reading - default over the same cells x seeds (95% bootstrap interval, "
        "Wilcoxon p); an effect is named only when the interval excludes zero and p < 0.05.\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n\n"
        + paragraph(table)
        + "\n"
    )


def paragraph(table: pd.DataFrame) -> str:
    """Which readings matter per task, and whether any reaches the paper's numbers."""
    paper = paper_numbers().query("model == 'csft'").set_index(["dataset", "metric"])
    lines = []
    for task, part in table.groupby("task", sort=False):
        part = part[part.effect != NOT_APPLICABLE]
        moving = part[part.effect.isin(["better", "worse"])]
        if moving.empty:
            matter = f"no reading moves {task} detectably ({len(part)} tried)"
        else:
            named = ", ".join(
                f"{r.reading} ({r.effect}, {r.difference:+.4f})" for r in moving.itertuples()
            )
            matter = f"{task} moves with {named} ({len(part)} tried)"
        row = paper.loc[TASKS[task][2]]
        low, high = float(row.low), float(row.high)
        lower = TASKS[task][1] == "lower"
        default = table[table.task == task].default_mean.iloc[0]
        means = pd.Series([*part.reading_mean, default], index=[*part.reading, "the default"])
        reading = means.idxmin() if lower else means.idxmax()
        best = means[reading]
        beyond, within = (best < low, best <= high) if lower else (best > high, best >= low)
        where = "beyond" if beyond else "within" if within else "short of"
        lines.append(
            f"- {matter}. The best mean of any reading or the default, {best:.4f} ({reading}), "
            f"is {where} the paper's {low:.3f}-{high:.3f} (the paper's range spans its own "
            "cells, these are the stage's: a matter of scale, not a verdict)."
        )
    return "\n".join(lines)


def tornado(table: pd.DataFrame):
    """A panel per task: each reading's mean difference from the default (bars, sorted by
    size) with the sd of the paired differences; green where better, red where worse."""
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(table.task))
    figure, axes = plt.subplots(
        1, len(tasks), figsize=(5 * len(tasks), 0.5 * table.reading.nunique() + 2), squeeze=False
    )
    colours = {"better": "tab:green", "worse": "tab:red"}
    for ax, task in zip(axes[0], tasks, strict=True):
        part = table[(table.task == task) & (table.effect != NOT_APPLICABLE)]
        part = part.sort_values("difference", key=np.abs)
        ax.barh(
            part.reading, part.difference, xerr=part.sd.fillna(0), capsize=3,
            color=[colours.get(e, "tab:gray") for e in part.effect],
        )  # fmt: skip
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(task)
        ax.set_xlabel("reading - default (sd bars over paired seeds x cells)")
    figure.tight_layout()
    return figure
