"""The analysis jobs' results as tables: the fusion ablation and the feature statistics, each
feature statistic beside the representation's health.

Inputs are the analysis jobs' files (results/analysis/VARIANT/DATASET/H*/seed*/); published
numbers come from csft/report/paper_numbers.csv only, shown beside ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from csft import diagnostics
from csft.report import verdicts
from csft.report.tables import paper_numbers

VARIANT_KEYS = ["variant", "model", "fusion", "dataset", "horizon"]
PAIR_KEYS = ["dataset", "horizon", "seed"]  # what pairs two variants' jobs
HEALTH_COLUMNS = ["dead_dimensions", "effective_rank", "between_cosine", "collapsed"]


@dataclass
class AnalysisJobs:
    """Everything the analysis jobs wrote, each job's folder read once."""

    jobs: pd.DataFrame  # one row per job: test metrics, feature statistics and health, diagnostics
    histories: pd.DataFrame  # every epoch row of every job, with its variant and fusion
    curves: pd.DataFrame  # PCA curves: variant, seed, fraction of components, cumulative


def feature_row(features: np.ndarray) -> dict:
    """Feature statistics and representation health of one job's frozen test features."""
    statistics = diagnostics.feature_correlation(features)
    health = diagnostics.representation_health(features)
    return {
        "feature_pearson": statistics["pearson"],
        "feature_spearman": statistics["spearman"],
        "pca_fraction_80": diagnostics.components_for_variance(features),
        "n_features": features.shape[1],
        **{k: health[k] for k in HEALTH_COLUMNS},
    }


def read_analysis_jobs(metrics_paths: list[str | Path], fusions: dict[str, str]) -> AnalysisJobs:
    """The analysis jobs' metrics, histories and frozen features, as tables.

    The variant is the job folder's name (analysis/VARIANT/DATASET/H*/seed*/); `fusions` maps
    a variant to its fusion ("-" for models without one).
    """
    rows, histories, curves = [], [], []
    for path in metrics_paths:
        folder = Path(path).parent
        (record,) = json.loads(Path(path).read_text())
        features = np.load(folder / "features.npz")["features"]
        variant = folder.parents[2].name
        fusion = fusions.get(variant, "-")
        row = {
            "variant": variant,
            "fusion": fusion,
            **{k: record[k] for k in ("model", "dataset", "horizon", "seed")},
            "test_mse": record["test_mse"],
            "test_mae": record["test_mae"],
            **feature_row(features),
        }
        history = pd.read_csv(folder / "history.csv")
        last = history.iloc[-1]
        row.update({k: last[k] for k in history.columns if k.startswith(("grad_ratio_", "attn_"))})
        rows.append(row)
        histories.append(history.assign(variant=variant, fusion=fusion))
        curve = np.concatenate([[0.0], diagnostics.explained_variance_curve(features)])  # 0 at 0
        curves.append(
            pd.DataFrame(
                {
                    "variant": variant,
                    "seed": f"H{record['horizon']}/{record['seed']}",
                    "fraction": np.arange(len(curve)) / (len(curve) - 1),
                    "cumulative": curve,
                }
            )
        )
    return AnalysisJobs(
        pd.DataFrame(rows),
        pd.concat(histories, ignore_index=True),
        pd.concat(curves, ignore_index=True),
    )


def summarize_analysis(jobs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd (ddof 1) over seeds per variant x horizon of every numeric column."""
    values = [c for c in jobs.columns if c not in VARIANT_KEYS + ["seed"]]
    grouped = jobs.astype({c: float for c in values if jobs[c].dtype == bool}).groupby(
        VARIANT_KEYS, sort=True
    )
    table = grouped[values].agg(["mean", "std"])
    table.columns = [f"{name}_{stat}" for name, stat in table.columns]
    table.insert(0, "n_seeds", grouped.seed.nunique())
    return table.reset_index()


def paired(jobs: pd.DataFrame, a: pd.Series, b: pd.Series, column: str) -> pd.DataFrame:
    """The jobs selected by masks `a` and `b`, matched on dataset x horizon x seed: columns
    `a` and `b` hold `column`, one row per pair (unmatched jobs are left out)."""
    left = jobs.loc[a, PAIR_KEYS + [column]].rename(columns={column: "a"})
    right = jobs.loc[b, PAIR_KEYS + [column]].rename(columns={column: "b"})
    return left.merge(right, on=PAIR_KEYS).sort_values(PAIR_KEYS, ignore_index=True)


def ablation_comparison(jobs: pd.DataFrame) -> dict | None:
    """Cross-scale attention vs residual fusion, test MSE paired over seeds x horizons; None
    when either fusion is missing."""
    csft = jobs.model == "csft"
    pairs = paired(
        jobs,
        csft & (jobs.fusion == "cross_attention"),
        csft & (jobs.fusion == "residual"),
        "test_mse",
    )
    if pairs.empty:
        return None
    comparison = verdicts.compare(pairs.a, pairs.b, below="attention lower", above="residual lower")
    return {**comparison, "pairs": pairs}


def ablation_sentence(comparison: dict | None) -> str:
    """The ablation's verdict in words, from the paired comparison."""
    if comparison is None:
        return "Both fusions are needed for a verdict."
    return (
        f"**{comparison['verdict']}.** Test MSE of cross-scale attention minus residual fusion, "
        f"paired over seeds x horizons: {verdicts.interval_text(comparison)} (95% bootstrap "
        f"interval; Wilcoxon p = {comparison['p']:.3g}; mean relative change "
        f"{100 * comparison['relative']:+.1f}%)."
    )


def _cell(mean: float, sd: float, digits: int = 3) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" if pd.isna(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _pm(table: pd.DataFrame, name: str, digits: int = 3) -> list[str]:
    return [
        _cell(m, s, digits)
        for m, s in zip(table[f"{name}_mean"], table[f"{name}_std"], strict=True)
    ]


def ablation_markdown(jobs: pd.DataFrame) -> str:
    """CSFT variants (fusion switch): MSE/MAE per horizon, feature correlation, diagnostics."""
    summary = summarize_analysis(jobs)
    csft = summary[summary.model == "csft"].sort_values(["horizon", "fusion"])
    rows = pd.DataFrame(
        {
            "fusion": csft.fusion,
            "horizon": csft.horizon,
            "seeds": csft.n_seeds,
            "MSE": _pm(csft, "test_mse"),
            "MAE": _pm(csft, "test_mae"),
            "Pearson (mean abs)": _pm(csft, "feature_pearson"),
            "Spearman (mean abs)": _pm(csft, "feature_spearman"),
        }
    )
    ratio_columns = sorted(c for c in csft.columns if c.startswith("grad_ratio_") and "_mean" in c)
    for column in ratio_columns:
        rows[column.removesuffix("_mean")] = csft[column].map(lambda v: _cell(v, np.nan, 3))
    text = (
        f"# Ablation: cross-scale attention vs residual fusion ({', '.join(csft.dataset.unique())})"
        "\n\nOurs: mean ± sd over seeds, every test window, normalized scale; gradient-norm ratios"
        " ||grad H_l|| / ||grad H_0|| on a fixed validation batch at the last epoch (mean over"
        " seeds).\n\n" + rows.to_markdown(index=False, disable_numparse=True) + "\n"
    )
    return text + "\n" + ablation_sentence(ablation_comparison(jobs)) + "\n"


def features_markdown(jobs: pd.DataFrame) -> str:
    """Feature independence and efficiency per model beside its representation's health, and
    the paper's numbers for CSFT."""
    summary = summarize_analysis(jobs)
    paper = paper_features()
    rows = pd.DataFrame(
        {
            "model": summary.variant,
            "horizon": summary.horizon,
            "seeds": summary.n_seeds,
            "Pearson (mean abs)": _pm(summary, "feature_pearson"),
            "Spearman (mean abs)": _pm(summary, "feature_spearman"),
            "PCs for 80% (fraction)": _pm(summary, "pca_fraction_80"),
            "dimensions": summary.n_features_mean.astype(int).astype(str),
            "dead": _pm(summary, "dead_dimensions", 1),
            "effective rank": _pm(summary, "effective_rank", 1),
            "between-series cosine": _pm(summary, "between_cosine"),
            "collapsed (share of seeds)": summary.collapsed_mean.map(lambda v: f"{v:.0%}"),
        }
    )
    published = (
        f"Paper (CSFT): Pearson {paper['pearson']:.2f}, Spearman {paper['spearman']:.2f}, "
        f"{paper['pca_fraction_80']:.0%} of the components for 80% of the variance."
    )
    return (
        "# Feature independence and efficiency\n\n"
        "Frozen features (`represent`) of the same test series for every model: mean absolute "
        "off-diagonal correlation between feature dimensions (lower = more independent) and "
        "the fraction of principal components needed for 80% of the variance (higher = less "
        "redundant). Mean ± sd over seeds.\n\n"
        "Health, beside them because a collapsed representation (every series mapped to nearly "
        "one vector) passes both: dead dimensions (sd across series ~0), effective rank (exp of "
        "the entropy of the centered features' singular values) and the mean raw cosine between "
        f"different series; collapsed = between-series cosine >= {diagnostics.COLLAPSE_COSINE}, "
        "effective rank < 1.5, or every dimension dead.\n\n"
        + rows.to_markdown(index=False, disable_numparse=True)
        + f"\n\n{published}\n"
    )


def paper_features() -> dict[str, float]:
    paper = paper_numbers()
    rows = paper[paper.dataset == "features"]
    return {r.metric: float(r.low) for r in rows.itertuples()}
