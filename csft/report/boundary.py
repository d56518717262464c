"""The boundary-lengths study's numbers as a reader sees them: T x T similarity matrices and
their heatmap (csft.jobs.lengths computes the similarities)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from csft.report.plots import plt


def similarity_matrix(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """T x T mean over seeds and series of `kind`, symmetric, NaN on the diagonal (a vector
    with itself is not measured)."""
    means = table.groupby(["T_i", "T_j"])[kind].mean().unstack()
    lengths = sorted({*means.index, *means.columns})
    matrix = means.reindex(index=lengths, columns=lengths)
    return matrix.combine_first(matrix.T).rename_axis(index="T_i", columns="T_j")


def _heatmap(ax, matrix: pd.DataFrame, depth: np.ndarray, title: str, label: str) -> None:
    """One T x T panel: values written in the cells, the blank diagonal left blank, red lines
    where the depth changes (a log2 interval boundary)."""
    lengths, n = list(matrix.index), len(matrix)
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="viridis", origin="upper")
    ax.set_xticks(range(n), [str(t) for t in lengths], rotation=45)
    ax.set_yticks(range(n), [str(t) for t in lengths])
    for i in np.flatnonzero(np.diff(depth)):  # between index i and i + 1 the depth changes
        ax.axhline(i + 0.5, color="red", lw=1.5)
        ax.axvline(i + 0.5, color="red", lw=1.5)
    for i, j in np.ndindex(n, n):
        value = matrix.iat[i, j]
        if np.isfinite(value):
            color = "black" if image.norm(value) > 0.5 else "white"  # readable on viridis
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("T_j")
    ax.set_ylabel("T_i")
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, label=label)


def similarity_figure(table: pd.DataFrame, active_ctls: pd.Series, title: str) -> plt.Figure:
    """Centered same-series cosine of H_L (the evidence) beside the raw cosine, T x T, mean over
    seeds and series, diagonal blank, lines at the log2 interval boundaries."""
    centered, raw = similarity_matrix(table, "centered"), similarity_matrix(table, "raw")
    n = len(centered)
    depth = active_ctls[list(centered.index)].to_numpy()
    size = max(5.0, 2.0 + 0.7 * n)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size, max(4.5, 1.0 + 0.6 * n)))
    _heatmap(
        axes[0],
        centered,
        depth,
        "centered: same series at T_i and T_j",
        "mean cosine of centered H_L (same series)",
    )
    _heatmap(axes[1], raw, depth, "raw (uncentered) cosine", "mean raw cosine of H_L")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
