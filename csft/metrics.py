"""Forecast metrics, averaged over every scored value (windows x horizon x channels).

This is the convention of the LTSF papers (Informer, LTSF-Linear, PatchTST), so our numbers are
comparable with theirs when computed on the normalized scale.
"""

from __future__ import annotations

import numpy as np


def _check(pred: np.ndarray, true: np.ndarray) -> None:
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} != target shape {true.shape}")
    if pred.size == 0:
        raise ValueError("no values to score")


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean squared error, in float64 so long test sets do not lose precision."""
    _check(pred, true)
    return float(np.mean((pred.astype(np.float64) - true) ** 2))


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error."""
    _check(pred, true)
    return float(np.mean(np.abs(pred.astype(np.float64) - true)))
