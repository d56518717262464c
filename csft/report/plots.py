"""Figures, written as PNG and PDF atomically (a killed job leaves no half figure)."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from csft.atomic import atomic_path

log = logging.getLogger(__name__)


def save(figure: plt.Figure, path: str | Path) -> None:
    """Save `figure` to `path` (format from its suffix) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip("."), bbox_inches="tight", dpi=150)


def learning_curves(history: pd.DataFrame) -> plt.Figure:
    """Train (dashed) and validation (solid) MSE per epoch; a panel per dataset x horizon.

    `history` has columns model, dataset, horizon, seed, epoch, train_loss, val_loss.
    """
    panels = history[["dataset", "horizon"]].drop_duplicates().sort_values(["dataset", "horizon"])
    datasets, horizons = sorted(panels.dataset.unique()), sorted(panels.horizon.unique())
    fig, axes = plt.subplots(
        len(datasets), len(horizons), figsize=(3.6 * len(horizons), 2.8 * len(datasets)),
        squeeze=False, sharex=True,
    )  # fmt: skip
    runs_ids = sorted(history[["model", "seed"]].drop_duplicates().itertuples(index=False))
    colors = dict(zip(runs_ids, plt.cm.tab10.colors * 10, strict=False))
    for (dataset, horizon), runs in history.groupby(["dataset", "horizon"]):
        ax = axes[datasets.index(dataset)][horizons.index(horizon)]
        for (model, seed), run in runs.groupby(["model", "seed"]):
            color = colors[(model, seed)]
            ax.plot(run.epoch, run.val_loss, color=color, label=f"{model} seed {seed}")
            ax.plot(run.epoch, run.train_loss, color=color, alpha=0.6, ls="--")
        ax.set_title(f"{dataset}, H = {horizon}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MSE (normalized)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, title="solid: val, dashed: train", title_fontsize=7)
    fig.tight_layout()
    return fig


def forecast_examples(examples: list[dict]) -> plt.Figure:
    """Look-back and truth of the last channel (OT) with the forecast, a panel per example.

    Each example: title, x (L, C), y (H, C), pred (H, C) on the normalized scale.
    """
    fig, axes = plt.subplots(len(examples), 1, figsize=(8, 2.6 * len(examples)), squeeze=False)
    for ax, example in zip(axes[:, 0], examples, strict=True):
        lookback, horizon = len(example["x"]), len(example["y"])
        past = np.arange(-lookback, 0)
        future = np.arange(horizon)
        ax.plot(past, example["x"][:, -1], color="0.4", lw=1, label="look-back")
        ax.plot(future, example["y"][:, -1], color="black", lw=1.2, label="truth")
        ax.plot(future, example["pred"][:, -1], color="tab:red", lw=1.2, label="forecast")
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_title(example["title"])
        ax.set_xlabel("time step relative to forecast start")
        ax.set_ylabel("OT (normalized)")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def classify_ranks_figure(summary: pd.DataFrame) -> plt.Figure:
    """Critical-difference diagram of the methods run on every dataset, by mean accuracy rank.

    aeon's diagram needs at least 3 methods (its Friedman test); with fewer, a bar chart of mean
    rank says the same thing without the cliques. `summary` is
    csft.report.tables.summarize_classify's.
    """
    from csft.report.tables import classify_ranks

    scores = summary.pivot(index="dataset", columns="method", values="accuracy_mean")
    scores = scores.dropna(axis="columns", how="any")
    if scores.empty:
        raise ValueError("no method was run on every dataset; nothing to rank")
    n_datasets = len(scores)
    try:
        from aeon.visualisation import plot_critical_difference

        figure, ax = plot_critical_difference(
            scores.to_numpy(), list(scores.columns), test="wilcoxon", correction="holm", alpha=0.1
        )
        ax.set_title(
            f"Mean accuracy rank over {n_datasets} UCR datasets (1 = best; bars join methods "
            "not significantly different, Wilcoxon-Holm, α = 0.1)",
            fontsize=9,
        )
        return figure
    except ValueError as error:
        log.info("critical-difference diagram not drawn (%s); plotting mean ranks", error)
    ranks = classify_ranks(summary).dropna(subset=["mean_rank"])
    figure, ax = plt.subplots(figsize=(6, 1 + 0.5 * len(ranks)))
    bars = ax.barh(ranks.method, ranks.mean_rank, color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", padding=3)
    ax.invert_yaxis()  # best (lowest rank) on top
    ax.set_xlim(0, len(ranks) + 0.5)
    ax.set_xlabel("mean rank (1 = best)")
    ax.set_ylabel("method")
    ax.set_title(
        f"Mean accuracy rank over {n_datasets} UCR datasets "
        "(too few methods for a critical-difference diagram)",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


def ablation_mse(summary: pd.DataFrame) -> plt.Figure:
    """Test MSE per horizon, one bar per CSFT fusion, sd over seeds as error bars."""
    csft = summary[summary.model == "csft"]
    horizons = sorted(csft.horizon.unique())
    fusions = sorted(csft.fusion.unique())
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(horizons), 3.2))
    width = 0.8 / len(fusions)
    for i, fusion in enumerate(fusions):
        rows = csft[csft.fusion == fusion].set_index("horizon").reindex(horizons)
        positions = np.arange(len(horizons)) + (i - (len(fusions) - 1) / 2) * width
        ax.bar(positions, rows.test_mse_mean, width, yerr=rows.test_mse_std.fillna(0), capsize=3,
               label=fusion.replace("_", " "))  # fmt: skip
    ax.set_xticks(np.arange(len(horizons)), [f"H = {h}" for h in horizons])
    ax.set_ylabel("test MSE (normalized)")
    ax.set_title(f"CSFT fusion ablation, {', '.join(csft.dataset.unique())} (mean ± sd)")
    ax.legend(title="fusion")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def gradient_ratios(histories: pd.DataFrame) -> plt.Figure:
    """||grad H_l|| / ||grad H_0|| per epoch, a panel per layer l, a line per fusion (mean over
    seeds and horizons, sd band)."""
    columns = sorted(c for c in histories.columns if c.startswith("grad_ratio_l"))
    fig, axes = plt.subplots(1, len(columns), figsize=(3.0 * len(columns), 2.8), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        for fusion, runs in histories.groupby("fusion"):
            curve = runs.groupby("epoch")[column].agg(["mean", "std"])
            ax.plot(curve.index, curve["mean"], label=fusion.replace("_", " "))
            ax.fill_between(curve.index, curve["mean"] - curve["std"].fillna(0),
                            curve["mean"] + curve["std"].fillna(0), alpha=0.2)  # fmt: skip
        ax.set_title(f"layer {column.removeprefix('grad_ratio_l')}")
        ax.set_xlabel("fine-tuning epoch")
        ax.set_ylabel("||grad H_l|| / ||grad H_0||")
        ax.grid(alpha=0.3)
    axes[0][0].legend(title="fusion", fontsize=7)
    fig.tight_layout()
    return fig


def attention_entropy(jobs: pd.DataFrame) -> plt.Figure:
    """Last-epoch cross-scale attention entropy per head as a fraction of the uniform limit
    log(P_{l-1}) (1 = plain averaging), a group per layer; mean over seeds and horizons."""
    columns = sorted(c for c in jobs.columns if c.startswith("attn_entropy_frac_"))
    means = jobs[columns].mean()
    sds = jobs[columns].std().fillna(0)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(columns) + 1.5), 3.0))
    ax.bar(np.arange(len(columns)), means, yerr=sds, capsize=2)
    labels = [c.removeprefix("attn_entropy_frac_").replace("_", " ") for c in columns]
    ax.set_xticks(np.arange(len(columns)), labels, rotation=90, fontsize=7)
    ax.axhline(1.0, color="black", ls="--", lw=1, label="uniform attention (log P_{l-1})")
    ax.set_ylabel("entropy / log(P_{l-1})")
    ax.set_title("Cross-scale attention entropy per layer and head (mean ± sd)")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def pca_curves(curves: pd.DataFrame, paper_fraction: float | None = None) -> plt.Figure:
    """Cumulative explained variance against the fraction of components, a line per model
    (mean over seeds, sd band), with the 80% level and the paper's CSFT fraction marked.

    `curves` has columns variant, seed, fraction (component k / D), cumulative.
    """
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    for variant, runs in curves.groupby("variant"):
        grid = np.linspace(0, 1, 101)
        lines = np.stack([np.interp(grid, run.fraction, run.cumulative)
                          for _, run in runs.groupby("seed")])  # fmt: skip
        mean, sd = lines.mean(axis=0), lines.std(axis=0)
        ax.plot(grid, mean, label=variant)
        ax.fill_between(grid, mean - sd, mean + sd, alpha=0.2)
    ax.axhline(0.8, color="grey", ls=":", lw=1, label="80% of the variance")
    if paper_fraction is not None:
        ax.axvline(
            paper_fraction,
            color="black",
            ls="--",
            lw=1,
            label=f"paper: CSFT needs {paper_fraction:.0%}",
        )
    ax.set_xlabel("fraction of principal components")
    ax.set_ylabel("cumulative explained variance")
    ax.set_title("PCA of frozen test features")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def uf_lookbacks(summary: pd.DataFrame) -> plt.Figure:
    """The uf track: test MSE and MAE against look-back, a line per placement with an sd band
    over seeds, the main track's fixed look-back as a dashed reference line; a row of panels
    per dataset x horizon. `summary` is tables.summarize_forecast's table."""
    uf = summary[summary.track == "uf"]
    panels = uf[["dataset", "horizon"]].drop_duplicates().sort_values(["dataset", "horizon"])
    fig, axes = plt.subplots(
        len(panels), 2, figsize=(9, 2.9 * len(panels)), squeeze=False, sharex=True
    )
    placements = sorted(uf.placement.unique())
    colors = dict(zip(placements, plt.cm.tab10.colors, strict=False))
    for row, (dataset, horizon) in enumerate(panels.itertuples(index=False)):
        cell = uf[(uf.dataset == dataset) & (uf.horizon == horizon)]
        main = summary[(summary.track == "main") & (summary.dataset == dataset)
                       & (summary.horizon == horizon) & summary.model.isin(cell.model.unique())
                       & (summary.lookback == cell.lookback.min())]  # fmt: skip
        for col, metric in enumerate(("mse", "mae")):
            ax = axes[row][col]
            for placement, line in cell.groupby("placement"):
                line = line.sort_values("lookback")
                mean, sd = line[f"test_{metric}_mean"], line[f"test_{metric}_std"].fillna(0)
                ax.plot(line.lookback, mean, marker="o", color=colors[placement], label=placement)
                ax.fill_between(line.lookback, mean - sd, mean + sd, color=colors[placement],
                                alpha=0.2)  # fmt: skip
            for reference in main.itertuples():
                ax.axhline(getattr(reference, f"test_{metric}_mean"), color="black", ls="--",
                           lw=1, label=f"main track, L = {reference.lookback}")  # fmt: skip
            ax.set_title(f"{dataset}, H = {horizon}: {metric.upper()}")
            ax.set_xlabel("look-back T")
            ax.set_ylabel(f"test {metric.upper()} (normalized)")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, title="placement (band: ± sd)", title_fontsize=7)
    fig.tight_layout()
    return fig
