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
    rank says the same thing without the cliques. `summary` is csft.tables.summarize_classify's.
    """
    from csft.tables import classify_ranks

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
