"""The boundary-lengths experiment: does crossing a log2 boundary change CSFT's representation
more than moving inside one interval?

CSFT gives every T in [2^k, 2^(k+1)) the same grid, depth and feature space, and one more CTL
from 2^(k+1) on. So H_L of the same most-recent data cut at lengths inside one interval (512 and
1023) should be closer than at lengths across a boundary (1023 and 1024, 2047 and 2048). One
encoder serves every length (the classification track's per-interval policy: each series on its
own interval's grid, shared scales share weights), and similarity is the mean over series of the
cosine similarity of H_L, which needs one width d_L for every depth used (d_max).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.metrics.pairwise import paired_cosine_distances

from csft.device import resolve_device
from csft.model import CSFTConfig, CSFTEncoder, length_plan
from csft.seeding import seed_everything
from csft.tasks.classify import GroupBatches, csft_groups, represent_groups
from csft.tasks.pretrain import PretrainConfig, pretrain

log = logging.getLogger(__name__)

BOUNDARIES = (1024, 2048)
BATCH_SIZE = 256  # series per forward pass when representing (memory only, not results)


def active_ctls(lengths: list[int], config: CSFTConfig) -> pd.Series:
    """L = length_plan(T).n_ctl of every T (indexed by T): the depth CSFT gives that length."""
    return length_table(lengths, config).set_index("T").active_ctls


def length_table(lengths: list[int], config: CSFTConfig) -> pd.DataFrame:
    """T (each once), active_ctls and the log2 interval [interval_low, interval_high) of T."""
    plans = [
        length_plan(int(t), config.patch_len, config.min_length, config.max_length)
        for t in sorted({int(t) for t in lengths})
    ]
    return pd.DataFrame(
        {
            "T": [plan.length for plan in plans],
            "active_ctls": [plan.n_ctl for plan in plans],
            "interval_low": [plan.interval[0] for plan in plans],
            "interval_high": [plan.interval[1] for plan in plans],
        }
    )


def common_width(config: CSFTConfig, lengths: list[int]) -> int:
    """The one d_L of every depth the lengths reach; an error naming the widths otherwise,
    since cosine similarity between vectors of different widths is undefined."""
    widths, table = config.widths(), length_table(lengths, config)
    too_long = table.loc[table.active_ctls >= len(widths), "T"].tolist()
    if too_long:
        low, high = config.plan.interval
        raise ValueError(
            f"lengths {too_long} are beyond this encoder's interval [{low}, {high}): build it "
            "for the longest length"
        )
    by_depth = {int(depth): widths[depth] for depth in set(table.active_ctls)}
    if len(set(by_depth.values())) > 1:
        named = ", ".join(f"L={depth}: d_L={width}" for depth, width in sorted(by_depth.items()))
        raise ValueError(
            f"H_L widths differ across the depths these lengths use ({named}; d_model="
            f"{config.d_model}, d_max={config.d_max}): cosine similarity between vectors of "
            f"different widths is undefined; set architecture d_max <= {min(by_depth.values())} "
            "so every depth has the same width"
        )
    return next(iter(by_depth.values()))


def _series_groups(by_length: dict[int, np.ndarray], config: CSFTConfig, grids=None) -> list:
    """Every row of every length as a univariate series, on its own interval's grid."""
    series = [np.asarray(row, dtype=np.float32) for t in sorted(by_length) for row in by_length[t]]
    grid_map = {g: g for g in grids} if grids else None
    return csft_groups(series, np.zeros(len(series), np.int64), config, "per_interval", grid_map)


def pretrain_multi_length(
    series_by_length: dict[int, np.ndarray],
    val_by_length: dict[int, np.ndarray] | None,
    architecture: dict,
    pretraining: dict,
    seed: int,
    *,
    on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, row: None,
    device: str = "cpu",
) -> CSFTEncoder:
    """One encoder for the longest length's interval, SSL-pretrained on every length at once.

    `series_by_length[T]` is (n, T); each series sits on its own interval's grid and batches
    stay inside one grid, so a shorter interval trains the scales it shares with longer ones.
    `val_by_length` (same layout, or None) is the early-stopping split; `device` is the
    config's (auto | cpu | cuda).
    """
    if not series_by_length:
        raise ValueError("series_by_length is empty: pretraining needs series of some length")
    generator = seed_everything(seed)
    config = CSFTConfig(lookback=max(series_by_length), horizon=1, n_channels=1, **architecture)
    width = common_width(config, [*series_by_length, *(val_by_length or {})])
    train = _series_groups(series_by_length, config)
    grids = sorted(g.x.shape[1] for g in train)
    val = _series_groups(val_by_length, config, grids) if val_by_length else None
    log.info(
        "pretraining on grids %s, model interval %s, d_L %d", grids, config.plan.interval, width
    )
    encoder = CSFTEncoder(config).to(resolve_device(device))
    pretrain(
        encoder,
        train,
        val,
        PretrainConfig(**pretraining),
        generator,
        on_epoch,
        batches=GroupBatches,
    )
    return encoder.eval()


def end_points(n_values: int, n_series: int, stride: int) -> np.ndarray:
    """Exclusive end indices of n_series windows, `stride` apart, the last at the array's end
    (so every window ends inside the stretch given, e.g. the test split after its history)."""
    if n_series < 1 or stride < 1:
        raise ValueError(f"n_series and stride must be >= 1, got {n_series} and {stride}")
    return n_values - stride * np.arange(n_series)[::-1]


def max_series(n_values: int, longest: int, stride: int) -> int:
    """How many windows of `longest` values with ends `stride` apart fit in n_values."""
    return max(0, (n_values - longest) // stride + 1)


def cut_lengths(
    values: np.ndarray, lengths: list[int], n_series: int, stride: int, where: str = "values"
) -> dict[int, np.ndarray]:
    """T -> (n_series, T) float32: the last T values before each shared end point.

    Every length sees the same most-recent data, so lengths differ only in how far back they
    reach. `where` names the array in the error raised when it is too short.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D array, got shape {values.shape}")
    if not lengths or min(lengths) < 1:
        raise ValueError(f"lengths must be a non-empty list of positive ints, got {lengths}")
    ends = end_points(len(values), n_series, stride)
    longest = max(lengths)
    if ends[0] < longest:
        raise ValueError(
            f"{where} has {len(values)} values; {n_series} windows of the longest length "
            f"T={longest} with end points {stride} apart need {longest + (n_series - 1) * stride}"
            f" (at most {max_series(len(values), longest, stride)} windows fit)"
        )
    cuts = {}
    for t in sorted({int(t) for t in lengths}):
        windows = np.lib.stride_tricks.sliding_window_view(values, t)  # (len - t + 1, t)
        cuts[t] = np.ascontiguousarray(windows[ends - t])  # (n_series, t)
    return cuts


def boundary_similarity(
    encoder: CSFTEncoder, cuts: dict[int, np.ndarray]
) -> tuple[pd.Series, pd.DataFrame]:
    """(active CTLs per T, T x T mean over series of the cosine similarity of H_L).

    Each cut sits on its own interval's grid (eval mode, no grad); cuts[T] must hold the same
    series in the same order for every T.
    """
    config = encoder.config
    counts = {t: len(x) for t, x in cuts.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"every length needs the same series; series per length: {counts}")
    common_width(config, list(cuts))
    features = {}
    for t in sorted(cuts):
        groups = _series_groups({t: cuts[t]}, config)  # one group: one length, one grid
        features[t] = represent_groups(encoder, groups, BATCH_SIZE)[0]  # (n, d_L)
    lengths = sorted(features)
    similarity = pd.DataFrame(np.nan, index=lengths, columns=lengths)
    for a, b in combinations(lengths, 2):
        value = 1.0 - paired_cosine_distances(features[a], features[b]).mean()
        similarity.loc[a, b] = similarity.loc[b, a] = value
    for t in lengths:
        similarity.loc[t, t] = 1.0 - paired_cosine_distances(features[t], features[t]).mean()
    similarity = similarity.rename_axis(index="T_i", columns="T_j")
    return active_ctls(lengths, config), similarity


def _boundary_row(similarity: pd.DataFrame, depth: pd.Series, boundary: int) -> dict | None:
    """(b-1, b) against the closest within-interval pair ending at b-1 (the same span where
    that length is present, else the widest the lengths offer), or None when absent."""
    lengths = list(similarity.index)
    below = boundary - 1
    if below not in lengths or boundary not in lengths:
        return None
    partners = [t for t in lengths if t < below and depth[t] == depth[below]]
    if not partners:
        return None
    partner = max(partners)
    across = float(similarity.loc[below, boundary])
    within = float(similarity.loc[partner, below])
    return {
        "boundary": boundary,
        "across_pair": [below, boundary],
        "across": across,
        "within_pair": [partner, below],
        "within": within,
        "difference": within - across,
        "within_higher": within > across,
    }


def boundary_verdict(
    similarity: pd.DataFrame, active_ctls: pd.Series, boundaries: tuple[int, ...] = BOUNDARIES
) -> dict:
    """Within-interval vs across-interval similarity overall and at each boundary present.

    "supported": within > across overall and at every boundary present; "not supported":
    within <= across overall; "mixed": otherwise. JSON-ready.
    """
    lengths = [int(t) for t in similarity.index]
    missing = sorted(set(lengths) - set(active_ctls.index))
    if missing:
        raise ValueError(f"active_ctls lacks the lengths {missing} of the similarity matrix")
    pairs = pd.DataFrame(combinations(sorted(lengths), 2), columns=["T_i", "T_j"])
    pairs["similarity"] = [similarity.loc[a, b] for a, b in pairs.itertuples(index=False)]
    pairs["same_interval"] = active_ctls[pairs.T_i].to_numpy() == active_ctls[pairs.T_j].to_numpy()
    kinds = pairs.groupby("same_interval").similarity.agg(["mean", "size"])
    if len(kinds) < 2:
        raise ValueError(
            f"lengths {lengths} need at least two lengths in one interval and lengths in two "
            "intervals to compare within- and across-interval similarity"
        )
    within, across = kinds.loc[True, "mean"], kinds.loc[False, "mean"]
    rows = [_boundary_row(similarity, active_ctls, b) for b in boundaries]
    rows = [row for row in rows if row is not None]
    if within <= across:
        status = "not supported"
    elif all(row["within_higher"] for row in rows):
        status = "supported"
    else:
        status = "mixed"
    parts = [
        f"{status}: within-interval mean {within:.4f} vs across-interval mean {across:.4f} "
        f"(difference {within - across:+.4f}; {int(kinds.loc[True, 'size'])} vs "
        f"{int(kinds.loc[False, 'size'])} pairs)"
    ]
    parts += [
        f"boundary {r['boundary']}: {r['within_pair']} {r['within']:.4f} vs "
        f"{r['across_pair']} {r['across']:.4f}"
        for r in rows
    ]
    return {
        "within_mean": float(within),
        "across_mean": float(across),
        "difference": float(within - across),
        "n_within_pairs": int(kinds.loc[True, "size"]),
        "n_across_pairs": int(kinds.loc[False, "size"]),
        "boundaries": rows,
        "status": status,
        "verdict": "; ".join(parts),
    }


def similarity_figure(similarity: pd.DataFrame, active_ctls: pd.Series, title: str):
    """Heatmap of the T x T similarity with lines at the log2 interval boundaries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = list(similarity.index)
    n = len(lengths)
    fig, ax = plt.subplots(figsize=(max(6.0, 2.0 + 0.7 * n), max(4.5, 1.0 + 0.6 * n)))
    image = ax.imshow(similarity.to_numpy(), cmap="viridis", origin="upper")
    ax.set_xticks(range(n), [str(t) for t in lengths], rotation=45)
    ax.set_yticks(range(n), [str(t) for t in lengths])
    depth = active_ctls[lengths].to_numpy()
    for i in np.flatnonzero(np.diff(depth)):  # between index i and i + 1 the depth changes
        ax.axhline(i + 0.5, color="red", lw=1.5)
        ax.axvline(i + 0.5, color="red", lw=1.5)
    for i, j in np.ndindex(n, n):
        value = similarity.iat[i, j]
        color = "black" if image.norm(value) > 0.5 else "white"  # readable on viridis
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("T_j")
    ax.set_ylabel("T_i")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="mean cosine similarity of H_L")
    fig.tight_layout()
    return fig
