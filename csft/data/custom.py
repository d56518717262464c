"""Your own forecasting data: any CSV with a date column and numeric channels (config
`custom_datasets`), under the same protocol as ETT.

Splits follow the long-term-forecasting convention for non-ETT sets (Autoformer's custom loader,
used by PatchTST and DLinear): train = the first 70% of rows, test = the last 20%, validation the
rest, or explicit row borders; validation and test segments start one look-back before their
border, the scaler is fit on the training rows only, every test window is scored. A bad file
is an error naming the file, the column and the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from csft.data.splits import Segment

MISSING_POLICIES = ("error", "interpolate")


@dataclass(frozen=True)
class CustomDataset:
    """One `custom_datasets` entry: where the CSV is and how it is read and split."""

    name: str
    path: str
    date_column: str = "date"
    target: str = ""  # features "S": this column alone ("" = the last column)
    ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)  # train / val / test fractions
    borders: tuple[int, int, int] | None = None  # row ends of train, val, test (overrides)
    missing_values: str = "error"  # or "interpolate" (linear, in time, then edge values)

    @classmethod
    def from_config(cls, name: str, entry: Mapping) -> CustomDataset:
        split = entry.get("split", {})
        return cls(
            name=name,
            path=str(entry["path"]),
            date_column=entry.get("date_column", "date"),
            target=entry.get("target", ""),
            ratios=tuple(split.get("ratios", (0.7, 0.1, 0.2))),
            borders=tuple(split["borders"]) if "borders" in split else None,
            missing_values=entry.get("missing_values", "error"),
        )

    def __post_init__(self) -> None:
        if self.missing_values not in MISSING_POLICIES:
            raise ValueError(
                f"custom_datasets.{self.name}.missing_values must be one of {MISSING_POLICIES}, "
                f"got {self.missing_values!r}"
            )
        if len(self.ratios) != 3 or min(self.ratios) <= 0 or abs(sum(self.ratios) - 1) > 1e-6:
            raise ValueError(
                f"custom_datasets.{self.name}.split.ratios must be three positive fractions "
                f"summing to 1 (train, val, test), got {list(self.ratios)}"
            )
        if self.borders is not None and not 0 < self.borders[0] < self.borders[1] < self.borders[2]:
            raise ValueError(
                f"custom_datasets.{self.name}.split.borders must increase (train end < val end "
                f"< test end), got {list(self.borders)}"
            )

    def read(self, features: str = "M") -> np.ndarray:
        """The channels as float32 (rows, channels), rows in file order; "S": the target only."""
        path = Path(self.path)
        if not path.is_file():
            raise FileNotFoundError(f"custom dataset {self.name}: file not found: {path}")
        frame = pd.read_csv(path)
        if self.date_column not in frame:
            raise ValueError(
                f"{path}: no date column {self.date_column!r} (columns: {list(frame.columns)}); "
                f"set custom_datasets.{self.name}.date_column"
            )
        channels = frame.drop(columns=self.date_column)
        if channels.shape[1] == 0:
            raise ValueError(f"{path}: no channel besides the date column")
        for column in channels:
            numeric = pd.to_numeric(channels[column], errors="coerce")
            bad = numeric.isna() & channels[column].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(
                    f"{path}: column {column!r} is not numeric (data row {row}: "
                    f"{channels[column].iloc[row]!r})"
                )
            channels[column] = numeric
        if features == "S":
            target = self.target or channels.columns[-1]
            if target not in channels:
                raise ValueError(f"{path}: no target column {target!r}")
            channels = channels[[target]]
        elif features != "M":
            raise ValueError(f"features must be 'M' or 'S', got {features!r}")
        missing = channels.isna()
        if missing.any().any():
            if self.missing_values == "error":
                row, col = np.argwhere(missing.to_numpy())[0]
                raise ValueError(
                    f"{path}: {int(missing.sum().sum())} missing values, the first in column "
                    f"{channels.columns[col]!r} at data row {row}; set "
                    f"custom_datasets.{self.name}.missing_values: interpolate to fill them"
                )
            channels = channels.interpolate(limit_direction="both")
        values = channels.to_numpy(dtype=np.float32)
        if not np.isfinite(values).all():
            raise ValueError(f"{path}: infinite values (or a column with no value at all)")
        return values

    def segments(self, n_rows: int, lookback: int) -> dict[str, Segment]:
        """Row segments per split; val/test start `lookback` rows before their border."""
        if self.borders is not None:
            train_end, val_end, test_end = self.borders
            if test_end > n_rows:
                raise ValueError(
                    f"custom dataset {self.name}: split.borders end at row {test_end}, the file "
                    f"has {n_rows} rows"
                )
        else:
            train_end = int(n_rows * self.ratios[0])
            test_rows = int(n_rows * self.ratios[2])
            val_end, test_end = n_rows - test_rows, n_rows
        if lookback > train_end:
            raise ValueError(
                f"look-back {lookback} is longer than custom dataset {self.name}'s training "
                f"segment ({train_end} rows of {n_rows})"
            )
        return {
            "train": Segment(0, train_end),
            "val": Segment(train_end - lookback, val_end),
            "test": Segment(val_end - lookback, test_end),
        }


def custom_datasets(config: Mapping) -> dict[str, CustomDataset]:
    """Every `custom_datasets` entry of a config, by name."""
    return {
        name: CustomDataset.from_config(name, entry)
        for name, entry in (config.get("custom_datasets") or {}).items()
    }


def data_relpath(name: str, custom: CustomDataset | None) -> str:
    """How runs name the file in their data tags: ETT-small/NAME.csv (pinned checksums) or
    custom/NAME/FILE (hashed on use, not pinned)."""
    return f"ETT-small/{name}.csv" if custom is None else f"custom/{name}/{Path(custom.path).name}"
