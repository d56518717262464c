"""The channels question's result (docs/open_questions.md): CSFT with channel mixing against the
channel-independent default, per dataset, paired over seeds, as a table, a verdict per dataset
computed from the numbers (csft.report.verdicts), a paragraph and a figure with sd bars.

The synthetic sets are the test of the test: on `synthetic_coupled` a channel's future lies in
another channel's past, so a mixing arm that learns anything must win there; on its control
`synthetic_independent` there is nothing to mix, so it should not lose much.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from csft.report import verdicts

METRICS = ("test_mse", "test_mae")
EXPECTED = {  # the synthetic sets' known answer, shown beside the verdict
    "synthetic_coupled": "mixing can use the planted coupling: a mixing arm that learns should win",
    "synthetic_independent": "nothing to mix: a mixing arm should not lose much",
}


def read_scores(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per (arm, dataset, horizon, seed) with its test MSE and MAE, from the stage's
    metrics files (.../questions/channels/<arm>/<dataset>/H<h>/seed<n>/metrics.json)."""
    rows = []
    for path in map(Path, paths):
        arm = path.parts[-5]
        for record in json.loads(path.read_text()):
            rows.append(
                {
                    "arm": arm,
                    "dataset": record["dataset"],
                    "horizon": int(record["horizon"]),
                    "seed": int(record["seed"]),
                    **{m: float(record[m]) for m in METRICS},
                }
            )
    return pd.DataFrame(rows, columns=["arm", "dataset", "horizon", "seed", *METRICS])


def mixes(changes: Mapping) -> bool:
    """Whether an arm's settings turn channel mixing on."""
    return bool(changes.get("architecture.channel_mixing", False))


def channels_table(scores: pd.DataFrame, arms: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per dataset and pair of arms (every later arm against every earlier one, the first
    arm being the baseline): both arms' mean and sd of test MSE (and mean MAE) over seeds, the
    paired difference arm - versus over the same seeds with its 95% bootstrap interval and
    Wilcoxon p, and the verdict: "<arm> better", "<arm> worse", "no detectable difference",
    or "insufficient evidence" with fewer than MIN_SEEDS seeds. `arms`: name -> settings."""
    names, rows = list(arms), []
    for dataset, part in scores.groupby("dataset", sort=False):
        by_arm = {a: part[part.arm == a].set_index(["horizon", "seed"]) for a in names}
        for i, versus in enumerate(names):
            for arm in names[i + 1 :]:
                ours, base = by_arm[arm], by_arm[versus]
                pairs = ours.index.intersection(base.index).sort_values()
                a, b = ours.test_mse.loc[pairs].to_numpy(), base.test_mse.loc[pairs].to_numpy()
                result = verdicts.compare(a, b, below="lower", above="higher")
                verdict = {"lower": f"{arm} better", "higher": f"{arm} worse"}.get(
                    result["verdict"], result["verdict"]
                )
                seeds = len(pairs)
                if seeds < verdicts.MIN_SEEDS:
                    verdict = (
                        f"insufficient evidence ({seeds} seed{'s' if seeds != 1 else ''}, "
                        f"fewer than {verdicts.MIN_SEEDS})"
                    )
                rows.append(
                    {
                        "dataset": dataset,
                        "versus": versus,
                        "arm": arm,
                        "mixing": mixes(arms[arm]) and not mixes(arms[versus]),
                        "seeds": seeds,
                        "versus_mse": float(b.mean()) if seeds else float("nan"),
                        "versus_mse_sd": _sd(b),
                        "arm_mse": float(a.mean()) if seeds else float("nan"),
                        "arm_mse_sd": _sd(a),
                        "versus_mae": float(base.test_mae.loc[pairs].mean()),
                        "arm_mae": float(ours.test_mae.loc[pairs].mean()),
                        "difference": result["mean"],
                        "low": result["low"],
                        "high": result["high"],
                        "relative": result["relative"],
                        "p": result["p"],
                        "verdict": verdict,
                    }
                )
    return pd.DataFrame(rows)


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def table_markdown(table: pd.DataFrame, budget: str) -> str:
    """The table, then a paragraph computed from it."""

    def mean_sd(mean, sd):
        return f"{mean:.4f}" if not np.isfinite(sd) else f"{mean:.4f} ± {sd:.4f}"

    shown = pd.DataFrame(
        {
            "dataset": table.dataset,
            "seeds": table.seeds.astype(str),
            "arm": table.arm,
            "versus": table.versus,
            "MSE arm": [
                mean_sd(m, s) for m, s in zip(table.arm_mse, table.arm_mse_sd, strict=True)
            ],  # fmt: skip
            "MSE versus": [
                mean_sd(m, s) for m, s in zip(table.versus_mse, table.versus_mse_sd, strict=True)
            ],  # fmt: skip
            "MAE arm / versus": [
                f"{a:.4f} / {b:.4f}" for a, b in zip(table.arm_mae, table.versus_mae, strict=True)
            ],  # fmt: skip
            "arm - versus (MSE)": [
                verdicts.interval_text({"mean": m, "low": lo, "high": hi, "n": n})
                for m, lo, hi, n in zip(
                    table.difference, table.low, table.high, table.seeds, strict=True
                )  # fmt: skip
            ],
            "relative": table.relative.map("{:+.1%}".format),
            "Wilcoxon p": table.p.map("{:.3g}".format),
            "verdict": table.verdict,
        }
    )
    baseline = table.versus.iloc[0] if len(table) else "the baseline"
    return (
        "# Channel-independent vs channel-mixing CSFT\n\n"
        f"Test MSE on the normalized scale, every test window, mean ± sd over seeds (budget "
        f"{budget}); every arm against every earlier one ({baseline}: the paper's channel-"
        "independent CSFT); difference = arm - versus paired over the same seeds (95% bootstrap "
        "interval, Wilcoxon p). A direction is named only when the interval excludes zero and "
        f"p < {verdicts.ALPHA}; fewer than {verdicts.MIN_SEEDS} seeds is insufficient evidence "
        "(with one cell per dataset, fewer than 6 seeds can never reach p < 0.05).\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n\n"
        + paragraph(table)
        + "\n"
    )


def paragraph(table: pd.DataFrame) -> str:
    """One line per dataset and pair: the verdict in words, and where the pair adds channel
    mixing on a synthetic set, whether it matches what the set's construction makes the
    right answer."""
    lines = []
    for row in table.itertuples():
        line = (
            f"- **{row.dataset}**, {row.arm} vs {row.versus}: test MSE {row.relative:+.1%} "
            f"({row.arm_mse:.4f} vs {row.versus_mse:.4f}, {row.seeds} "
            f"seed{'s' if row.seeds != 1 else ''}): {row.verdict}."
        )
        if row.mixing and row.dataset in EXPECTED:
            if row.dataset == "synthetic_coupled":
                met = row.verdict == f"{row.arm} better"
            else:
                met = row.verdict != f"{row.arm} worse"
            line += f" Expected: {EXPECTED[row.dataset]}; {'met' if met else 'not shown'}."
        lines.append(line)
    return "\n".join(lines)


def figure(scores: pd.DataFrame, arms: Sequence[str]):
    """Test MSE per dataset (a panel each, own scale), one bar per arm: mean over seeds, sd bar,
    each seed a dot."""
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(scores.dataset))
    fig, axes = plt.subplots(
        1, max(len(datasets), 1), figsize=(3.2 * max(len(datasets), 1), 3.4), squeeze=False
    )
    for ax, dataset in zip(axes[0], datasets, strict=False):
        part = scores[scores.dataset == dataset]
        for i, arm in enumerate(arms):
            values = part[part.arm == arm].test_mse.to_numpy()
            if not len(values):
                continue
            sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            ax.bar(i, values.mean(), yerr=sd, capsize=4, color=f"C{i}", alpha=0.7, label=arm)
            ax.plot(np.full(len(values), i), values, "k.", markersize=4)
        ax.set_xticks(range(len(arms)), arms)
        ax.set_title(dataset)
        ax.set_ylabel("test MSE (normalized)")
    fig.suptitle("Channel-independent vs channel-mixing CSFT (mean ± sd over seeds)")
    fig.tight_layout()
    return fig
