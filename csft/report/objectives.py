"""The objectives question's result (docs/open_questions.md, "Richer self-supervised
objectives"): every arm (CSFT pretrained under another objective) against the paper's
reconstruction + independence objective, paired over the same cells x seeds, per task (ETT
test MSE fine-tuned and with the encoder frozen, UCR accuracy of the SVM probe and of the
fine-tuned head), with the representation's health and feature statistics beside it; a table,
a figure with sd bars, and verdicts and sentences computed from the numbers (csft.report.verdicts:
>= 3 seeds, a paired bootstrap interval and Wilcoxon test, "no detectable difference" an answer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from csft.diagnostics import COLLAPSE_COSINE
from csft.report import verdicts

# task -> the direction that is better
TASKS = {
    "ETT MSE, fine-tuned": "lower",
    "ETT MSE, frozen probe": "lower",
    "UCR accuracy, SVM probe": "higher",
    "UCR accuracy, fine-tuned head": "higher",
}
FORECAST_TASKS = {"finetune": "ETT MSE, fine-tuned", "probe": "ETT MSE, frozen probe"}
CLASSIFY_TASKS = {"svm": "UCR accuracy, SVM probe", "finetune": "UCR accuracy, fine-tuned head"}
# the SVM probe's TEST representation (the pretrained encoder, frozen): record key -> column
HEALTH = {
    "feature_effective_rank": "effective_rank",
    "feature_between_cosine": "between_cosine",
    "feature_pearson": "pearson",
    "feature_spearman": "spearman",
}
COLUMNS = ["task", "arm", "cell", "seed", "score", *HEALTH.values()]


def read_scores(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per (task, arm, cell, seed) from the question's metrics files
    (.../objectives/forecast/<arm>/<mode>/<dataset>/H<h>/seed<n>/metrics.json and
    .../objectives/classify/<arm>/<set>/<policy>/seed<n>/metrics.json); the health columns are
    filled for the SVM probe's rows (the representation the objective learned)."""
    rows = []
    for path in map(Path, paths):
        for record in json.loads(path.read_text()):
            if "protocol" in record:  # a classification record, one per protocol
                arm, cell = path.parts[-5], record["dataset"]
                task, score = CLASSIFY_TASKS[record["protocol"]], record["test_accuracy"]
            else:
                arm, mode = path.parts[-6], path.parts[-5]
                task, cell = FORECAST_TASKS[mode], f"{record['dataset']} H{record['horizon']}"
                score = record["test_mse"]
            health = {
                column: float(record.get(key, np.nan)) if task.endswith("SVM probe") else np.nan
                for key, column in HEALTH.items()
            }
            rows.append(
                {
                    "task": task,
                    "arm": arm,
                    "cell": cell,
                    "seed": int(record["seed"]),
                    "score": float(score),
                    **health,
                }  # fmt: skip
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def objectives_table(scores: pd.DataFrame, baseline: str = "reconstruction") -> pd.DataFrame:
    """Per task and arm: mean and sd over cells x seeds, the health columns' means (SVM probe
    rows), and against `baseline` the paired difference arm - baseline with its 95% bootstrap
    interval, Wilcoxon p and the verdict: better / worse / no detectable difference, or
    insufficient evidence when the arm or the baseline lacks a cell or has < 3 seeds in one."""
    rows = []
    for task, part in scores.groupby("task", sort=False):
        better = TASKS[task]
        base = part[part.arm == baseline].set_index(["cell", "seed"]).score
        for arm, of in part.groupby("arm", sort=False):
            ours = of.set_index(["cell", "seed"]).score
            pairs = ours.index.intersection(base.index).sort_values()
            a, b = ours.loc[pairs].to_numpy(), base.loc[pairs].to_numpy()
            seeds = pd.Series(1, index=pairs).groupby(level="cell").sum()
            cells = set(of.cell) | set(part[part.arm == baseline].cell)
            row = {
                "task": task,
                "arm": arm,
                "mean": float(of.score.mean()),
                "sd": float(of.score.std(ddof=1)) if len(of) > 1 else float("nan"),
                "n": len(of),
                **{c: float(of[c].mean()) for c in HEALTH.values()},
                "collapsed": collapsed(of),
                "difference": float("nan"),
                "low": float("nan"),
                "high": float("nan"),
                "p": float("nan"),
                "n_pairs": len(pairs),
                "verdict": "baseline" if arm == baseline else "",
            }
            if arm != baseline:
                fewest = int(seeds.reindex(sorted(cells), fill_value=0).min()) if cells else 0
                if fewest < verdicts.MIN_SEEDS:
                    row["verdict"] = (
                        f"insufficient evidence ({len(seeds)} of {len(cells)} cells paired, "
                        f"{fewest} seed{'s' if fewest != 1 else ''} in the fewest; "
                        f"{verdicts.MIN_SEEDS} needed)"
                    )
                result = verdicts.compare(a, b, below="lower", above="higher")
                row.update(difference=result["mean"], low=result["low"], high=result["high"])
                row["p"] = result["p"]
                if not row["verdict"]:
                    effect = result["verdict"]
                    if effect in ("lower", "higher"):
                        effect = "better" if effect == better else "worse"
                    row["verdict"] = effect
            rows.append(row)
    return pd.DataFrame(rows)


def collapsed(part: pd.DataFrame) -> bool | None:
    """Whether the arm's mean SVM-probe representation reads as collapsed (csft.diagnostics:
    between-series cosine >= COLLAPSE_COSINE or effective rank < 1.5); None without one."""
    rank, cosine = part.effective_rank.mean(), part.between_cosine.mean()
    if not (np.isfinite(rank) and np.isfinite(cosine)):
        return None
    return bool(cosine >= COLLAPSE_COSINE or rank < 1.5)


def sweep_lines(table: pd.DataFrame, sweeps: Mapping[str, tuple[str, str]]) -> list[str]:
    """Per swept arm and task: the best of the arm's own value and its sweep values (by mean),
    and whether the default differs detectably from it (the same paired test), so the
    default is kept only while no sweep value beats it detectably."""
    lines = []
    by_arm: dict[tuple[str, str], list[str]] = {}
    for name, (arm, path) in sweeps.items():
        by_arm.setdefault((arm, path), []).append(name)
    for (arm, path), names in by_arm.items():
        for task, part in table.groupby("task", sort=False):
            tried = part[part.arm.isin([arm, *names])]
            if tried.empty or arm not in set(tried.arm):
                continue
            lower = TASKS[task] == "lower"
            best = tried.sort_values("mean", ascending=lower).iloc[0]
            if best.arm == arm:
                verdict = f"the default ({arm}) has the best mean, {best['mean']:.4f}"
            else:
                verdict = (
                    f"{best.arm} has the best mean, {best['mean']:.4f} against the default's "
                    f"{float(tried[tried.arm == arm]['mean'].iloc[0]):.4f}"
                )
            lines.append(f"- Sweep of {path} in {arm}, {task}: {verdict}.")
    return lines


def sweep_verdicts(scores: pd.DataFrame, sweeps: Mapping[str, tuple[str, str]]) -> list[str]:
    """Each sweep value paired with its arm's default value over the same cells x seeds."""
    lines = []
    for name, (arm, path) in sweeps.items():
        for task, part in scores.groupby("task", sort=False):
            compared = objectives_table(part[part.arm.isin([arm, name])], baseline=arm)
            row = compared[compared.arm == name]
            if row.empty:
                continue
            row = row.iloc[0]
            lines.append(
                f"- {name} against {arm} ({path}), {task}: {row.verdict} ({_interval(row)})."
            )
    return lines


def _interval(row) -> str:
    return verdicts.interval_text(
        {"mean": row.difference, "low": row.low, "high": row.high, "n": row.n_pairs}, 4
    )


def sentences(table: pd.DataFrame, baseline: str) -> list[str]:
    """One sentence per arm and task, computed from the table."""
    lines = []
    for row in table[table.arm != baseline].itertuples():
        health = ""
        if np.isfinite(row.effective_rank):
            health = (
                f"; its representation: effective rank {row.effective_rank:.1f}, "
                f"between-series cosine {row.between_cosine:.2f}"
                + (" (collapsed)" if row.collapsed else "")
            )  # fmt: skip
        lines.append(
            f"- {row.arm}, {row.task}: {row.verdict} against {baseline} "
            f"({row.mean:.4f} vs {row.mean - row.difference:.4f}; difference "
            f"{_interval(row)}, Wilcoxon p {row.p:.3g}){health}."
        )
    return lines


def table_markdown(
    table: pd.DataFrame,
    scores: pd.DataFrame,
    budget: str,
    baseline: str = "reconstruction",
    sweeps: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """The table, the verdict sentences and the sweep behind the defaults."""
    shown = table.assign(
        score=[f"{m:.4f} ± {s:.4f}" for m, s in zip(table["mean"], table.sd, strict=True)],
        difference=[
            "" if a == baseline else _interval(r)
            for a, r in zip(table.arm, table.itertuples(), strict=True)
        ],
        p=table.p.map(lambda p: "" if not np.isfinite(p) else f"{p:.3g}"),
        effective_rank=table.effective_rank.map(lambda v: "" if np.isnan(v) else f"{v:.1f}"),
        between_cosine=table.between_cosine.map(lambda v: "" if np.isnan(v) else f"{v:.2f}"),
        pearson=table.pearson.map(lambda v: "" if np.isnan(v) else f"{v:.2f}"),
        spearman=table.spearman.map(lambda v: "" if np.isnan(v) else f"{v:.2f}"),
        collapsed=table.collapsed.map({True: "yes", False: "no"}).fillna(""),
    )[["task", "arm", "score", "n", "difference", "p", "verdict", *HEALTH.values(), "collapsed"]]
    text = (
        "# Richer self-supervised objectives\n\n"
        f"Each arm is CSFT pretrained under another objective, same seeds and budget ({budget}); "
        f"score = mean ± sd over cells x seeds; difference = arm - {baseline} over the same "
        "cells x seeds (95% bootstrap interval, Wilcoxon p); a verdict needs every cell with "
        f">= {verdicts.MIN_SEEDS} seeds, and an effect is named only when the interval excludes "
        "zero and p < 0.05. Health and feature statistics (effective rank, between-series "
        "cosine, mean |Pearson| and |Spearman| between dimensions) are of the pretrained "
        "encoder's TEST representation under the SVM probe, mean over sets x seeds; collapsed: "
        f"between-series cosine >= {COLLAPSE_COSINE} or effective rank < 1.5.\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n\n## Verdicts\n\n"
        + "\n".join(sentences(table, baseline))
        + "\n"
    )
    if sweeps:
        text += (
            "\n## The sweep behind the defaults\n\n"
            + "\n".join(sweep_lines(table, sweeps) + sweep_verdicts(scores, sweeps))
            + "\n"
        )
    return text


def figure(scores: pd.DataFrame, baseline: str = "reconstruction"):
    """A panel per task (score per arm: mean over cells x seeds with sd bars, the baseline's
    mean dashed) and two health panels (effective rank, between-series cosine of the SVM
    probe's representation, sd bars)."""
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if t in set(scores.task)]
    panels = [(t, "score") for t in tasks]
    svm = scores[scores.task == "UCR accuracy, SVM probe"]
    if not svm.empty:
        panels += [("effective rank (SVM probe)", "effective_rank"),
                   ("between-series cosine (SVM probe)", "between_cosine")]  # fmt: skip
    arms = list(dict.fromkeys(scores.arm))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, (title, column) in zip(axes[0], panels, strict=True):
        part = scores[scores.task == title] if column == "score" else svm
        stats = part.groupby("arm")[column].agg(["mean", "std"]).reindex(arms)
        ax.bar(
            range(len(arms)), stats["mean"], yerr=stats["std"].fillna(0), capsize=3,
            color=[colours(i % 10) for i in range(len(arms))],
        )  # fmt: skip
        if baseline in stats.index and np.isfinite(stats.loc[baseline, "mean"]):
            ax.axhline(stats.loc[baseline, "mean"], color="black", linestyle="--", linewidth=0.8)
        values = (stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0))
        low, high = np.nanmin(values[0]), np.nanmax(values[1])
        if np.isfinite(low) and np.isfinite(high) and high > low:
            pad = 0.15 * (high - low)
            ax.set_ylim(low - pad, high + pad)
        ax.set_xticks(range(len(arms)), arms, rotation=45, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
    fig.suptitle("CSFT's objective arms: mean over cells x seeds, sd bars (dashed: "
                 f"{baseline})", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig
