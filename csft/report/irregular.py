"""Open question 2, irregular sampling (docs/open_questions.md): test error against the fraction p
of removed time points, one line per model + method, per task (ETT: test MSE, normalized
scale; UCR: test error rate, 1 - accuracy), and the verdicts computed from it:

- per task and p > 0, CSFT time-aware (values + mask) against CSFT with interpolation, paired
  over the stage's cells x seeds (csft.report.verdicts.compare);
- per model + method and p > 0, how far it degrades from p = 0 (same cells x seeds, paired).

A verdict needs >= verdicts.MIN_SEEDS seeds; fewer give "insufficient evidence".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from csft.report import verdicts

TASKS = {"forecast": "ETT MSE", "classify": "UCR error rate"}
TIME_AWARE, INTERPOLATE = "time_aware", "interpolate"
COLUMNS = ["task", "model", "method", "p", "cell", "seed", "error"]


def fraction_name(p: float) -> str:
    """p as it appears in paths and run names: 0, 0.1, 0.3, 0.5."""
    return f"{float(p):g}"


def read_scores(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per task, model, method, p, cell and seed with its error (ETT: test MSE; UCR:
    1 - test accuracy, one row per protocol, e.g. csft/finetune and csft/svm), from the
    stage's metrics files (.../questions/irregular/<forecast|classify>/...)."""
    rows = []
    for path in map(Path, paths):
        kind = path.parts[path.parts.index("irregular") + 1]
        for record in json.loads(Path(path).read_text()):
            if kind == "forecast":
                model, cell = record["model"], f"{record['dataset']} H{record['horizon']}"
                error = float(record["test_mse"])
            else:
                model, cell = record["method"], record["dataset"]
                error = 1.0 - float(record["test_accuracy"])
            rows.append(
                {
                    "task": TASKS[kind],
                    "model": model,
                    "method": record["missing_method"],
                    "p": float(record["missing_p"]),
                    "cell": cell,
                    "seed": int(record["seed"]),
                    "error": error,
                }  # fmt: skip
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _paired(scores: pd.DataFrame, a: dict, b: dict, metric: str = "error") -> tuple:
    """(the (cell, seed) pairs both row filters have, a's values, b's values), in one order."""
    key = ["cell", "seed"]
    left = scores.loc[(scores[list(a)] == pd.Series(a)).all(axis=1)].set_index(key)[metric]
    right = scores.loc[(scores[list(b)] == pd.Series(b)).all(axis=1)].set_index(key)[metric]
    both = left.index.intersection(right.index).sort_values()
    return both, left.loc[both].to_numpy(), right.loc[both].to_numpy()


def judge(scores: pd.DataFrame, a: dict, b: dict, below: str, above: str) -> dict:
    """Error of `a` minus `b` (row filters), paired over cells x seeds, with its verdict; with
    fewer than MIN_SEEDS seeds, insufficient evidence."""
    pairs, left, right = _paired(scores, a, b)
    result = verdicts.compare(left, right, below, above)
    n_seeds = len({seed for _, seed in pairs})
    if n_seeds < verdicts.MIN_SEEDS:
        result["verdict"] = (
            f"insufficient evidence ({n_seeds} seed{'s' if n_seeds != 1 else ''}; "
            f"{verdicts.MIN_SEEDS} needed)"
        )
    return result


def _has(scores: pd.DataFrame, where: dict) -> bool:
    """Whether any row matches every column = value of `where`."""
    return bool((scores[list(where)] == pd.Series(where)).all(axis=1).any())


def irregular_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per task, model + method and p: the error's mean and sd over seeds (of the mean over
    cells); the paired change from p = 0 with its verdict; for a time-aware model, the paired
    difference from the same model with interpolation at the same p, with its verdict."""
    rows = []
    groups = scores.groupby(["task", "model", "method", "p"], sort=True)
    for (task, model, method, p), part in groups:
        per_seed = part.groupby("seed")["error"].mean()  # (seeds,)
        row = {
            "task": task, "model": model, "method": method, "p": p,
            "cells": part.cell.nunique(), "seeds": len(per_seed), "error": per_seed.mean(),
            "error_sd": per_seed.std(ddof=1) if len(per_seed) > 1 else np.nan,
        }  # fmt: skip
        this = {"task": task, "model": model, "method": method, "p": p}
        for prefix, other, below, above in (
            ("vs_p0", {**this, "p": 0.0}, "better than at p = 0", "degrades"),
            ("vs_interpolate", {**this, "method": INTERPOLATE},
             "time-aware better", "interpolation better"),
        ):  # fmt: skip
            judged = (prefix == "vs_p0" and p > 0 and _has(scores, {**this, "p": 0.0})) or (
                prefix == "vs_interpolate" and method == TIME_AWARE and _has(scores, other)
            )
            result = judge(scores, this, other, below, above) if judged else {}
            for field in ("mean", "low", "high", "n", "p", "verdict"):
                column = {"mean": "", "p": "_wilcoxon_p"}.get(field, f"_{field}")
                row[f"{prefix}{column}"] = result.get(field, np.nan if field != "verdict" else "")
        rows.append(row)
    return pd.DataFrame(rows)


def _interval(row, prefix: str) -> str:
    if not row[f"{prefix}_verdict"]:
        return ""
    interval = {k: row[f"{prefix}{s}"] for k, s in
                (("mean", ""), ("low", "_low"), ("high", "_high"), ("n", "_n"))}  # fmt: skip
    interval["n"] = int(interval["n"])
    return f"{verdicts.interval_text(interval)}: {row[f'{prefix}_verdict']}"


def table_markdown(table: pd.DataFrame, budget: str) -> str:
    """The table, then the verdicts in words."""
    shown = pd.DataFrame(
        {
            "task": table.task,
            "model": table.model,
            "method": table.method,
            "p": table.p.map(fraction_name),
            "cells x seeds": [f"{c} x {s}" for c, s in zip(table.cells, table.seeds, strict=True)],
            "error": [_mean_sd(m, s) for m, s in zip(table.error, table.error_sd, strict=True)],
            "change from p = 0": [_interval(r, "vs_p0") for _, r in table.iterrows()],
            "time-aware - interpolate": [
                _interval(r, "vs_interpolate") for _, r in table.iterrows()
            ],
        }
    )
    return (
        "# Irregular sampling: error against the fraction of removed time points\n\n"
        "A fraction p of time points removed at random from every input window (per time step, "
        "every channel; seeded by seed x dataset x p, the same for every model; targets "
        "complete); `interpolate`: linear interpolation back onto the grid, `time_aware`: CSFT "
        "with values and mask per patch and unobserved tokens masked in attention. Error: ETT "
        "test MSE (normalized scale), UCR test error rate (1 - accuracy; the same removal on "
        f"every series), mean ± sd over seeds (budget {budget}). Differences are "
        "paired over the same cells x seeds (95% bootstrap interval of the mean; a direction "
        "only when it excludes zero and Wilcoxon p < 0.05).\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n\n"
        + paragraph(table)
        + "\n"
    )


def _mean_sd(mean: float, sd: float) -> str:
    return f"{mean:.4f}" if not np.isfinite(sd) else f"{mean:.4f} ± {sd:.4f}"


def paragraph(table: pd.DataFrame) -> str:
    """The verdicts in words, computed from the table."""
    lines = []
    aware = table[table.vs_interpolate_verdict != ""]
    for row in aware.itertuples():
        lines.append(
            f"- {row.task}, p = {fraction_name(row.p)}: {row.model} time-aware minus "
            f"{row.model} with interpolation: {row.vs_interpolate:+.4f} over "
            f"{int(row.vs_interpolate_n)} pairs: {row.vs_interpolate_verdict}."
        )
    if aware.empty:
        lines.append("- No time-aware variant beside an interpolated one: no comparison.")
    top = table[table.p == table.p.max()]
    for row in top[top.vs_p0_verdict != ""].itertuples():
        base = row.error - row.vs_p0
        relative = f" ({100 * row.vs_p0 / base:+.1f}%)" if base else ""
        lines.append(
            f"- {row.task}, {row.model} + {row.method} at p = {fraction_name(row.p)}: "
            f"{row.vs_p0:+.4f} from p = 0{relative}: {row.vs_p0_verdict}."
        )
    return "\n".join(lines)


def figure(table: pd.DataFrame):
    """A panel per task: error against p, one line per model + method, sd band over seeds."""
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(table.task))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for (model, method), part in table[table.task == task].groupby(["model", "method"]):
            part = part.sort_values("p")
            line = ax.plot(part.p, part.error, marker="o", label=f"{model} + {method}")[0]
            sd = part.error_sd.fillna(0)
            ax.fill_between(part.p, part.error - sd, part.error + sd,
                            color=line.get_color(), alpha=0.2)  # fmt: skip
        ax.set_title(task)
        ax.set_xlabel("fraction p of time points removed")
        ax.set_ylabel(f"test {task.split(' ', 1)[1]} (band: ± sd over seeds)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
