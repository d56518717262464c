"""Every train / validation / test split in the suite is made here, and only here.

ETT follows the standard long-term-forecasting protocol (Informer, LTSF-Linear, PatchTST):
12/4/4 months of the first 20 months for train/val/test; the validation and test segments start
one look-back before their border so their first window predicts the first row after it.
UCR keeps the archive's TRAIN/TEST; validation is a stratified split of TRAIN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOURS_PER_MONTH = 30 * 24
ETT_ROWS_PER_HOUR = {"ETTh1": 1, "ETTh2": 1, "ETTm1": 4, "ETTm2": 4}
ETT_MONTHS = {"train": 12, "val": 4, "test": 4}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Segment:
    """Rows [start, stop) of the file that one split reads (look-back context included)."""

    start: int
    stop: int

    def n_windows(self, lookback: int, horizon: int) -> int:
        """Stride-1 windows of lookback + horizon rows inside the segment."""
        return max(0, self.stop - self.start - lookback - horizon + 1)

    def window_starts(self, lookback: int, horizon: int) -> np.ndarray:
        """First row of every window, stride 1."""
        return self.start + np.arange(self.n_windows(lookback, horizon))


def ett_segments(dataset: str, lookback: int) -> dict[str, Segment]:
    """Row segments of ETT `dataset` per split; val/test start `lookback` rows before the border."""
    if dataset not in ETT_ROWS_PER_HOUR:
        raise ValueError(
            f"unknown ETT dataset {dataset!r}; expected one of {sorted(ETT_ROWS_PER_HOUR)}"
        )
    if lookback < 1:
        raise ValueError(f"lookback must be >= 1, got {lookback}")
    month = HOURS_PER_MONTH * ETT_ROWS_PER_HOUR[dataset]
    train_end = ETT_MONTHS["train"] * month
    val_end = train_end + ETT_MONTHS["val"] * month
    test_end = val_end + ETT_MONTHS["test"] * month
    if lookback > train_end:
        raise ValueError(
            f"lookback {lookback} is longer than the {dataset} training segment ({train_end} rows)"
        )
    return {
        "train": Segment(0, train_end),
        "val": Segment(train_end - lookback, val_end),
        "test": Segment(val_end - lookback, test_end),
    }


def ucr_validation_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) of a stratified split of the archive's TRAIN set.

    Classes with a single TRAIN example cannot be stratified; they stay in train (documented
    policy), so a dataset like Fungi (one example per class) gets an empty validation set.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    splittable = np.isin(labels, classes[counts >= 2])
    candidates = np.flatnonzero(splittable)
    singletons = np.flatnonzero(~splittable)
    n_classes = len(classes[counts >= 2])
    n_val = min(max(round(fraction * candidates.size), n_classes), candidates.size - n_classes)
    if n_val < 1:
        return np.arange(labels.size), np.array([], dtype=int)
    from sklearn.model_selection import train_test_split

    train_idx, val_idx = train_test_split(
        candidates, test_size=n_val, stratify=labels[candidates], random_state=seed
    )
    return np.sort(np.concatenate([train_idx, singletons])), np.sort(val_idx)
