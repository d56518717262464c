"""Figures, written as PNG and PDF atomically (a killed job leaves no half figure)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from csft.atomic import atomic_path


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
