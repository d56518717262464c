"""Result tables: mean +- sd over seeds, with the published numbers beside ours (never instead).

Published numbers live in one file, csft/report/paper_numbers.csv, with their source.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from csft.report import uf_track

FORECAST_KEYS = ["track", "placement", "model", "dataset", "horizon", "lookback"]
PAPER_KEYS = ["model", "dataset", "horizon", "lookback"]
FORECAST_METRICS = ["test_mse", "test_mae", "test_mse_raw", "test_mae_raw"]
OFFICIAL_METRICS = ["test_mse_official", "test_mae_official"]  # drop_last, as official loaders


def paper_numbers() -> pd.DataFrame:
    """Every published number the suite compares against, one row per value (low = high)."""
    with resources.files("csft.report").joinpath("paper_numbers.csv").open() as handle:
        return pd.read_csv(handle, dtype={"horizon": "Int64", "lookback": "Int64"})


def read_jobs(paths: list[str | Path]) -> pd.DataFrame:
    """One row per job and tested look-back, from the jobs' metrics.json (a list of records)."""
    return pd.DataFrame([record for p in paths for record in json.loads(Path(p).read_text())])


def still_improving(history: pd.DataFrame) -> bool:
    """Whether a job's fine-tuning was still improving when it ended: its best validation loss
    at its last epoch (early stopping ends a job only after `patience` epochs without a better
    one, so this also means every epoch ran)."""
    losses = history.val_loss.to_numpy()
    return bool(len(losses)) and int(losses.argmin()) == len(losses) - 1


def read_forecast_jobs(paths: list[str | Path]) -> pd.DataFrame:
    """The forecasting jobs' records (`read_jobs` of their metrics.json), each with whether
    the job was still improving, from the history.csv the job wrote beside it."""
    records = []
    for path in map(Path, paths):
        improving = still_improving(pd.read_csv(path.with_name("history.csv")))
        records += [{**r, "still_improving": improving} for r in json.loads(path.read_text())]
    return pd.DataFrame(records)


def summarize_forecast(jobs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd (ddof 1) and count over seeds per track x model x dataset x horizon x look-back."""
    if "track" not in jobs:
        jobs = jobs.assign(track="main")
    # CSFT's placement (records from before the uf track's placement axis: resample); "" else
    placement = jobs.get("placement", pd.Series("resample", index=jobs.index)).fillna("resample")
    jobs = jobs.assign(placement=placement.where(jobs.model == "csft", ""))
    grouped = jobs.groupby(FORECAST_KEYS, sort=True, dropna=False)
    metrics = FORECAST_METRICS + [m for m in OFFICIAL_METRICS if m in jobs]
    table = grouped[metrics].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table["n_seeds"] = grouped["seed"].nunique()
    table["n_test_windows"] = grouped["n_test_windows"].first()
    if "still_improving" in jobs:  # runs from before it was recorded leave it out
        table["n_still_improving"] = grouped["still_improving"].sum().astype(int)
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


def forecast_markdown(table: pd.DataFrame, jobs: pd.DataFrame | None = None) -> str:
    """The human-readable forecast tables: ours (mean ± sd over seeds) beside the paper's; with
    the per-seed `jobs`, the uf track's section (csft.report.uf_track) after the main track's."""
    ranges = paper_numbers()
    ranges = ranges[ranges.horizon.isna() & (ranges.dataset == "ETT")]
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
    return text + (uf_track.uf_markdown(jobs, table) if jobs is not None else "")


# --- UCR classification track ------------------------------------------------------------------

CLASSIFY_KEYS = ["dataset", "method"]
CLASSIFY_DESCRIPTORS = ["model", "protocol", "length_policy", "selection", "variable_length"]
WILCOXON_COLUMNS = [
    "reference", "other", "n_datasets", "wins", "ties", "losses", "statistic", "p_value", "note",
]  # fmt: skip
POLICY_MEANINGS = {
    "per_interval": "each series on its own log2 interval's grid, shared weights, one head "
    "(or SVM) per interval reached.",
    "common": "every series resampled onto the grid of the longest series' interval.",
    "resample": "resampling (anti-aliased when shortening) to the dataset's longest length.",
    "native": "the model takes unequal lengths as they are (DTW; TS2Vec NaN-pads inside).",
}
SELECTION_MEANINGS = {
    "fixed_budget": "all of TRAIN, a fixed budget of optimizer steps, the final weights (or "
    "the method's own CV on TRAIN).",
    "validation": "early stopping on a stratified validation split of TRAIN drawn with the "
    "run's seed; fitted on the rest.",
}
MISSING = "–"
# Statistics of a method's TEST representation (the frozen H_L, TS2Vec's, the heads' inputs).
FEATURE_COLUMNS = {  # column -> its heading in classify.md
    "feature_pearson": "mean abs Pearson",
    "feature_spearman": "mean abs Spearman",
    "pca_fraction_80": "PCs for 80% (fraction of dims)",
    "feature_effective_rank": "effective rank",
    "feature_between_cosine": "between-series cosine",
}


def summarize_classify(jobs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd (ddof 1) and timings over seeds per dataset x method, the unit every test pairs.

    A method must be described (model, protocol, length policy) the same way on all its seeds,
    and a seed may be reported once only: either slip would silently skew the mean.
    """
    jobs = jobs.reindex(columns=jobs.columns.union(CLASSIFY_DESCRIPTORS, sort=False))
    repeated = jobs[jobs.duplicated(CLASSIFY_KEYS + ["seed"], keep=False)]
    if len(repeated):
        raise ValueError(f"seeds reported twice:\n{repeated[CLASSIFY_KEYS + ['seed']]}")
    grouped = jobs.groupby(CLASSIFY_KEYS + CLASSIFY_DESCRIPTORS, sort=True, dropna=False)
    features = {f"{column}_mean": (column, "mean") for column in FEATURE_COLUMNS if column in jobs}
    table = grouped.agg(
        n_seeds=("seed", "nunique"),
        accuracy_mean=("test_accuracy", "mean"),
        accuracy_sd=("test_accuracy", "std"),
        train_seconds_mean=("train_seconds", "mean"),
        test_seconds_mean=("test_seconds", "mean"),
        **features,
    ).reset_index()
    clashes = table[table.duplicated(CLASSIFY_KEYS, keep=False)]
    if len(clashes):
        raise ValueError(f"a method described two ways on one dataset:\n{clashes}")
    return table.sort_values(CLASSIFY_KEYS, ignore_index=True)


def _accuracy_matrix(summary: pd.DataFrame) -> pd.DataFrame:
    """Dataset x method mean accuracies; NaN where a method was not run."""
    return summary.pivot(index="dataset", columns="method", values="accuracy_mean")


def _complete_methods(matrix: pd.DataFrame) -> pd.DataFrame:
    """The columns present on every dataset: ranks are only comparable on a common set."""
    return matrix.dropna(axis="columns", how="any")


def classify_ranks(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy, dataset count and mean rank (1 = best, ties averaged) per method.

    Ranks use only the methods present on every dataset; the others keep their own mean and
    count but get a NaN rank, since a rank among fewer rivals is not comparable.
    """
    matrix = _accuracy_matrix(summary)
    ranks = _complete_methods(matrix).rank(axis="columns", ascending=False, method="average")
    table = pd.DataFrame(
        {
            "mean_accuracy": matrix.mean(),
            "n_datasets": matrix.notna().sum(),
            "mean_rank": ranks.mean().reindex(matrix.columns),
        }
    )
    table = table.rename_axis("method").reset_index()
    return table.sort_values(["mean_rank", "method"], na_position="last", ignore_index=True)


def _wilcoxon_pairs(summary: pd.DataFrame, references: tuple[str, ...]) -> list[tuple[str, str]]:
    """References vs every baseline, then CSFT per_interval vs common of the same protocol,
    classifier and selection."""
    methods = summary.drop_duplicates("method").set_index("method")
    baselines = sorted(methods.index[methods.model != "csft"])
    pairs = [(ref, other) for ref in references if ref in methods.index for other in baselines]
    common = sorted(methods.index[(methods.model == "csft") & (methods.length_policy == "common")])
    for method in common:  # its per_interval twin: the same name without "/common"
        twin = method.replace("/common", "", 1)
        if twin in methods.index and methods.at[twin, "length_policy"] == "per_interval":
            pairs.append((twin, method))
    return pairs


def _wilcoxon_row(reference: pd.Series, other: pd.Series) -> dict:
    """Paired two-sided Wilcoxon on the datasets both methods have; NaN and a note if undefined.

    Differences are rounded to 1e-12 so that float noise in the seed means is not counted as a
    win or a loss (accuracies differ by at least 1/n_test when they really differ).
    """
    from scipy.stats import wilcoxon

    both = pd.concat([reference, other], axis="columns").dropna()
    diff = (both.iloc[:, 0] - both.iloc[:, 1]).round(12).to_numpy()
    row = {
        "n_datasets": len(diff),
        "wins": int((diff > 0).sum()),
        "ties": int((diff == 0).sum()),
        "losses": int((diff < 0).sum()),
        "statistic": np.nan,
        "p_value": np.nan,
        "note": "",
    }
    if len(diff) < 2:
        return row | {"note": f"{len(diff)} shared dataset(s); the test needs at least 2"}
    if not diff.any():
        return row | {"note": "every difference is zero; the test is undefined"}
    try:
        result = wilcoxon(diff)
    except ValueError as error:  # scipy's own refusal, reported rather than raised
        return row | {"note": str(error)}
    return row | {"statistic": float(result.statistic), "p_value": float(result.pvalue)}


def classify_wilcoxon(
    summary: pd.DataFrame, references: tuple[str, ...] = ("csft/finetune", "csft/svm")
) -> pd.DataFrame:
    """Wins/ties/losses and a paired Wilcoxon signed-rank test per (reference, other) pair.

    Paired over the datasets both methods have, on per-dataset mean accuracy; never raises.
    """
    matrix = _accuracy_matrix(summary)
    rows = [
        {"reference": ref, "other": other} | _wilcoxon_row(matrix[ref], matrix[other])
        for ref, other in _wilcoxon_pairs(summary, tuple(references))
    ]
    return pd.DataFrame(rows, columns=WILCOXON_COLUMNS)


def _ordered_methods(summary: pd.DataFrame) -> list[str]:
    """CSFT's methods first, then the baselines, each alphabetically: a stable column order."""
    models = summary.drop_duplicates("method").set_index("method").model
    return sorted(models.index, key=lambda m: (models[m] != "csft", m))


def _paper_accuracy() -> tuple[str, str]:
    """The paper's UCR accuracy claim for CSFT, formatted as a range, and its source."""
    paper = paper_numbers()
    rows = paper[(paper.model == "csft") & (paper.metric == "accuracy")]
    if rows.empty:
        return "", ""
    row = rows.iloc[0]
    return f"{row.low:.3f}-{row.high:.3f}", row.source


def _number(value: float, spec: str) -> str:
    return MISSING if pd.isna(value) else format(value, spec)


def _grid(summary: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """Dataset x method table of preformatted cells, a dash where a method was not run."""
    table = summary.assign(cell=cells).pivot(index="dataset", columns="method", values="cell")
    table = table.reindex(columns=_ordered_methods(summary)).fillna(MISSING)
    return table.rename_axis(None, axis="columns")


def _markdown(table: pd.DataFrame) -> str:
    """Markdown of a dataset-indexed table, cells kept as formatted (no re-parsing)."""
    return table.reset_index().to_markdown(index=False, disable_numparse=True)


def _accuracy_section(summary: pd.DataFrame, ranks: pd.DataFrame) -> str:
    """Dataset x method accuracy, then per-method summary rows and the paper's range for CSFT."""
    table = _grid(summary, _cells(summary.accuracy_mean, summary.accuracy_sd))
    per_method = ranks.set_index("method").reindex(table.columns)
    is_csft = summary.drop_duplicates("method").set_index("method").model.eq("csft")
    paper_range, source = _paper_accuracy()
    table.loc["mean over datasets"] = per_method.mean_accuracy.map(lambda v: _number(v, ".3f"))
    table.loc["n datasets"] = per_method.n_datasets.map(str)
    table.loc["mean rank"] = per_method.mean_rank.map(lambda v: _number(v, ".2f"))
    table.loc["paper (CSFT)"] = [paper_range if is_csft[m] else "" for m in table.columns]
    n_ranked = int(per_method.mean_rank.notna().sum())
    return (
        "## Test accuracy per dataset\n\n"
        f"Ours: mean ± sd over seeds (no ± with one seed); {MISSING} where a method was not run. "
        f"Mean rank: 1 = best, ties averaged, among the {n_ranked} methods run on every dataset "
        f"({MISSING} for the others, whose mean is over their own datasets only). "
        "Paper: as published, for comparison only"
        + (f" ({source})" if source else "")
        + ".\n\n"
        + _markdown(table)
        + "\n"
    )


def _speed_section(summary: pd.DataFrame) -> str:
    """Train and test seconds per dataset x method: the cost beside the accuracy."""
    seconds = zip(summary.train_seconds_mean, summary.test_seconds_mean, strict=True)
    table = _grid(summary, [f"{train:.2f} + {test:.2f}" for train, test in seconds])
    return (
        "## Time per dataset (seconds, train + test, mean over seeds)\n\n" + _markdown(table) + "\n"
    )


def _wilcoxon_section(wilcoxon: pd.DataFrame) -> str:
    """Paired tests of CSFT against each baseline and of its two interval policies."""
    table = pd.DataFrame(
        {
            "reference": wilcoxon.reference,
            "other": wilcoxon.other,
            "datasets": wilcoxon.n_datasets.map(str),
            "wins / ties / losses": [
                f"{w} / {t} / {lo}"
                for w, t, lo in zip(wilcoxon.wins, wilcoxon.ties, wilcoxon.losses, strict=True)
            ],
            "statistic": wilcoxon.statistic.map(lambda v: _number(v, ".1f")),
            "p-value": wilcoxon.p_value.map(lambda v: _number(v, ".3g")),
            "note": wilcoxon.note,
        }
    )
    return (
        "## Paired Wilcoxon signed-rank tests (two-sided)\n\n"
        "Over the datasets both methods have, on per-dataset mean accuracy; wins, ties and "
        "losses are the reference's.\n\n"
        + (table.to_markdown(index=False, disable_numparse=True) if len(table) else "No pairs.")
        + "\n"
    )


def _length_policy_section(summary: pd.DataFrame) -> str:
    """What each method did with series of unequal length and how it selected its model, so
    the accuracies can be read."""
    lines = []
    for method in _ordered_methods(summary):
        rows = summary[summary.method == method]
        for policy in sorted(rows.length_policy.dropna().unique()):
            meaning = POLICY_MEANINGS.get(policy, "(no description)")
            lines.append(f"- {method}: {policy}: {meaning}")
        for selection in sorted(rows.selection.dropna().unique()):
            meaning = SELECTION_MEANINGS.get(selection, "(no description)")
            lines.append(f"  selection {selection}: {meaning}")
    return (
        "## Length and selection policies\n\n"
        + "\n".join(lines or ["- (none recorded)"])
        + "\n\nSeries shorter than CSFT's minimum length are resampled up or refused, per the "
        "config's ucr short_series.\n"
    )


def _feature_section(summary: pd.DataFrame) -> str:
    """Per method, the mean over datasets of its TEST representation's feature statistics."""
    columns = [f"{c}_mean" for c in FEATURE_COLUMNS if f"{c}_mean" in summary]
    if not columns:
        return ""
    means = summary.groupby("method")[columns].mean().dropna(how="all")
    if means.empty:
        return ""
    means = means.reindex([m for m in _ordered_methods(summary) if m in means.index])
    table = means.map(lambda v: _number(v, ".3f"))
    table.columns = [FEATURE_COLUMNS[c.removesuffix("_mean")] for c in columns]
    return (
        "## Feature statistics of the representations (TEST)\n\n"
        "Mean over datasets of the statistics of each method's TEST representation (CSFT: H_L, "
        "frozen for svm, fine-tuned for finetune; TS2Vec: its max-pooled representation; "
        "PatchTST: its head's input). Lower correlation and a higher PCA fraction mean less "
        "redundant features; neither says the features are useful (see the accuracy). Effective "
        "rank (of the centered features) and the mean cosine between different series show "
        "collapse (rank near 1, cosine near 1), which the other two cannot.\n\n"
        + _markdown(table.rename_axis("method"))
        + "\n"
    )


def classify_markdown(summary: pd.DataFrame, ranks: pd.DataFrame, wilcoxon: pd.DataFrame) -> str:
    """The human-readable UCR classification report: accuracy, time, tests, length policies."""
    sections = [
        "# Classification (UCR)\n",
        _accuracy_section(summary, ranks),
        _speed_section(summary),
        _wilcoxon_section(wilcoxon),
        _feature_section(summary),
        _length_policy_section(summary),
    ]
    return "\n".join(sections)
