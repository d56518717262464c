"""Irregular sampling (open question 2, docs/open_questions.md): a fraction p of a series' time
points removed at random, and the two ways a regular-grid model copes with it.

- The removal is per time step, across every channel at once (a "time point" is a row of the
  series), drawn once per (seed, dataset, p) over the whole series, so every model, method and
  split sees the same removals, and a window sees the removals of the rows it covers.
- Only the INPUT window is affected; forecast targets stay complete and are scored as usual.
- `interpolate`: the removed points of each input window are filled by linear interpolation
  between the window's own observed points (edges: the nearest observed value), so nothing
  after the window's end is read; any model can take it.
- `time_aware`: the removed points are NaN in the input window; a model that understands it
  (CSFT with `architecture.missing_mask: true`) reads NaN as "not observed" and never sees a
  value there (csft.models.csft). Other models refuse NaN.
- `none`: the series as it is (p must be 0).
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from csft.data.ett import ETTSeries, ForecastWindows

METHODS = ("none", "interpolate", "time_aware")


@dataclass(frozen=True)
class Irregular:
    """One irregular-sampling setting: the fraction `p` of time points removed and the
    `method` a model copes with it by; `seed` (the job's) fixes which points go."""

    p: float
    method: str
    seed: int

    def __post_init__(self) -> None:
        if not 0 <= self.p < 1:
            raise ValueError(f"irregular p must be in [0, 1), got {self.p!r}")
        if self.method not in METHODS:
            raise ValueError(f"irregular method must be one of {METHODS}, got {self.method!r}")
        if self.method == "none" and self.p > 0:
            raise ValueError("irregular method 'none' keeps every point; p must be 0")


def keep_mask(n_steps: int, p: float, seed: int, dataset: str) -> np.ndarray:
    """(n_steps,) bool, False at the round(p * n_steps) removed time points, drawn from a
    generator seeded by (seed, dataset, p) alone: the same removals for every model."""
    key = [int(seed), zlib.crc32(dataset.encode()), int(round(p * 1_000_000))]
    order = np.random.default_rng(key).permutation(n_steps)
    keep = np.ones(n_steps, dtype=bool)
    keep[order[: int(round(p * n_steps))]] = False
    return keep


def interpolate(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """x: (T, C) with `keep` (T,) -> (T, C): removed rows linearly interpolated between the
    observed rows of x itself; before the first / after the last observed row, its value."""
    observed = np.flatnonzero(keep)
    if observed.size == 0:
        raise ValueError("a window with no observed time point cannot be interpolated")
    if observed.size == len(keep):
        return x
    steps = np.arange(len(keep))
    filled = np.empty_like(x)
    for c in range(x.shape[1]):
        filled[:, c] = np.interp(steps, observed, x[observed, c])  # clamps at the edges
    return filled


class IrregularWindows(ForecastWindows):
    """ForecastWindows whose input window (not the target) has the series' removed time points
    interpolated (`interpolate`) or set to NaN (`time_aware`)."""

    def __init__(self, windows: ForecastWindows, keep: np.ndarray, method: str):
        self.__dict__.update(copy.copy(windows).__dict__)
        self.keep, self.method = keep, method

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super().__getitem__(i)  # (L, C), (H, C): views of the complete series
        s = int(self.starts[i])
        keep = self.keep[s : s + self.lookback]  # (L,)
        if self.method == "none" or keep.all():
            return x, y
        if self.method == "interpolate":
            return torch.from_numpy(interpolate(x.numpy(), keep)), y
        return x.masked_fill(torch.from_numpy(~keep)[:, None], float("nan")), y  # time_aware


@dataclass
class IrregularSeries(ETTSeries):
    """An ETTSeries whose windows are IrregularWindows: the one place the forecasting job
    applies the removal (csft.jobs.forecast.execute), so fitting and scoring are unchanged."""

    irregular: Irregular | None = None
    keep: np.ndarray | None = None

    @classmethod
    def of(cls, series: ETTSeries, irregular: Irregular) -> IrregularSeries:
        keep = keep_mask(len(series.values), irregular.p, irregular.seed, series.name)
        return cls(**series.__dict__, irregular=irregular, keep=keep)

    def windows(self, split: str, horizon: int) -> ForecastWindows:
        return IrregularWindows(super().windows(split, horizon), self.keep, self.irregular.method)


def remove_from_series(
    series: list[np.ndarray], irregular: Irregular, dataset: str, split: str
) -> list[np.ndarray]:
    """Classification: the same removal on each series of a split (series i of `split` of
    `dataset` seeded by (seed, "dataset/split/i", p)), interpolated or NaN by the method."""
    out = []
    for i, values in enumerate(series):
        values = np.asarray(values, dtype=np.float32)
        keep = keep_mask(len(values), irregular.p, irregular.seed, f"{dataset}/{split}/{i}")
        if irregular.method == "interpolate":
            values = interpolate(values[:, None], keep)[:, 0]
        elif irregular.method == "time_aware":
            values = np.where(keep, values, np.float32(np.nan))
        out.append(values)
    return out
