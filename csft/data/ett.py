"""ETT loading, train-only scaling and stride-1 forecasting windows.

Features follow the standard protocol: "M" uses all seven columns as input and target,
"S" uses the oil temperature OT alone. The scaler is fit on the training segment only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from csft.data.custom import CustomDataset
from csft.data.splits import Segment, ett_segments

ETT_COLUMNS = ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
TARGET = "OT"


def read_ett_csv(path: str | Path, features: str = "M") -> np.ndarray:
    """Values of an ETT CSV as float32 (rows, channels); clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ETT file not found: {path}")
    frame = pd.read_csv(path)
    if list(frame.columns) != ETT_COLUMNS:
        raise ValueError(f"{path}: expected columns {ETT_COLUMNS}, found {list(frame.columns)}")
    columns = ETT_COLUMNS[1:] if features == "M" else [TARGET]
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' or 'S', got {features!r}")
    values = frame[columns].to_numpy(dtype=np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{path}: non-finite value in column {columns[col]!r} at data row {row}")
    return values


@dataclass(frozen=True)
class TrainScaler:
    """Per-channel standardization with statistics of the training rows: the arithmetic of
    scikit-learn's StandardScaler (float64 statistics, population std, a constant channel
    scaled by 1, updates in the data's precision), so the values are bit-identical to the official
    loaders'. Written out because importing scikit-learn cost every forecasting job ~0.5 s
    before its first step, for a few lines of NumPy (a test compares it with scikit-learn's)."""

    mean: np.ndarray  # (channels,) float64
    scale: np.ndarray  # (channels,) float64

    @classmethod
    def fit(cls, train: np.ndarray) -> TrainScaler:
        mean = train.mean(axis=0, dtype=np.float64)
        var = train.var(axis=0, dtype=np.float64)
        # scikit-learn's test for a constant feature (its variance is rounding error only)
        eps, rows = np.finfo(np.float64).eps, train.shape[0]
        constant = var <= rows * eps * var + (rows * mean * eps) ** 2
        return cls(mean, np.where(constant, 1.0, np.sqrt(var)))

    def transform(self, raw: np.ndarray) -> np.ndarray:
        scaled = np.array(raw, dtype=np.result_type(raw, np.float32))
        scaled -= self.mean.astype(scaled.dtype)
        scaled /= self.scale.astype(scaled.dtype)
        return scaled

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        raw = np.array(scaled, dtype=np.result_type(scaled, np.float32))
        raw *= self.scale.astype(raw.dtype)
        raw += self.mean.astype(raw.dtype)
        return raw


@dataclass
class ETTSeries:
    """One forecasting dataset (an ETT set, or a custom CSV: csft.data.custom), scaled with
    train statistics, cut into split segments."""

    name: str
    values: np.ndarray  # (rows, channels), scaled
    scaler: TrainScaler
    lookback: int
    segments: dict[str, Segment] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        path: str | Path,
        name: str,
        lookback: int,
        features: str = "M",
        custom: CustomDataset | None = None,
    ) -> ETTSeries:
        """`path` read and split by the ETT protocol for `name`, or by `custom`'s split rule
        (its own file, date column and ratios or borders) when given."""
        if custom is not None:
            raw = custom.read(features)
            segments = custom.segments(raw.shape[0], lookback)
        else:
            raw = read_ett_csv(path, features)
            segments = ett_segments(name, lookback)
        if raw.shape[0] < segments["test"].stop:
            raise ValueError(
                f"{path}: {raw.shape[0]} rows, the {name} protocol needs {segments['test'].stop}"
            )
        scaler = TrainScaler.fit(raw[: segments["train"].stop])
        return cls(name, scaler.transform(raw).astype(np.float32), scaler, lookback, segments)

    @property
    def n_channels(self) -> int:
        return self.values.shape[1]

    def windows(self, split: str, horizon: int) -> ForecastWindows:
        """Every stride-1 window of `split`."""
        segment = (self.segments or ett_segments(self.name, self.lookback))[split]
        return ForecastWindows(
            self.values, segment.window_starts(self.lookback, horizon), self.lookback, horizon
        )

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Back to the raw scale; `scaled` has channels last."""
        shape = scaled.shape
        return self.scaler.inverse_transform(scaled.reshape(-1, shape[-1])).reshape(shape)


class ForecastWindows(Dataset):
    """(look-back, horizon) pairs starting at `starts`; x: (L, C), y: (H, C)."""

    def __init__(self, values: np.ndarray, starts: np.ndarray, lookback: int, horizon: int):
        self.values = torch.from_numpy(values)
        self.starts = starts
        self.lookback = lookback
        self.horizon = horizon

    def __len__(self) -> int:
        return len(self.starts)

    def every(self, stride: int) -> ForecastWindows:
        """Every `stride`-th window, from the first: validation's cost control (a config value);
        the test split is always scored on every window."""
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        thinned = copy.copy(self)
        thinned.starts = self.starts[::stride]
        return thinned

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = int(self.starts[i])
        split = s + self.lookback
        return self.values[s:split], self.values[split : split + self.horizon]


class CroppedWindows(Dataset):
    """The same windows, keeping only the last `lookback` rows of each look-back.

    Built on windows of the longest look-back, so every look-back is scored on exactly the same
    forecast targets (the uf track's MSE-vs-look-back table compares like with like).
    """

    def __init__(self, windows: ForecastWindows, lookback: int):
        if not 1 <= lookback <= windows.lookback:
            raise ValueError(f"look-back {lookback} must be in [1, {windows.lookback}]")
        self.windows = windows
        self.lookback = lookback

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.windows[i]  # (L_max, C), (H, C)
        return x[-self.lookback :], y  # (lookback, C), (H, C)


class RandomLookbackCollate:
    """Batch collation that crops a whole batch to one look-back drawn from [low, high).

    The uf track trains one model per log2 interval on every length inside it: each batch
    draws its own look-back from a seeded generator, so a seed fixes the sequence of lengths.
    """

    def __init__(self, low: int, high: int, generator: torch.Generator):
        if not 1 <= low < high:
            raise ValueError(f"look-back interval [{low}, {high}) is empty")
        self.low, self.high, self.generator = low, high, generator

    def __call__(
        self, batch: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lookback = int(torch.randint(self.low, self.high, (1,), generator=self.generator))
        x = torch.stack([item[0][-lookback:] for item in batch])  # (B, lookback, C)
        y = torch.stack([item[1] for item in batch])  # (B, H, C)
        return x, y
