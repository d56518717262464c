"""Your own classification data (config `custom_classification`): a folder holding
NAME_TRAIN.tsv and NAME_TEST.tsv (the UCR 2018 layout: no header, tab-separated, the label
first) or NAME_TRAIN.ts and NAME_TEST.ts (the aeon/sktime .ts format), univariate.

Listed in `ucr.datasets` like an archive set, it runs under the same protocol: TRAIN and TEST as
the files split them, labels coded from TRAIN, `ucr.missing_values`, `ucr.scaling` (taken as
unnormalised: z-normalised with TRAIN's statistics under "archive"), `ucr.short_series`, the
sealed TEST. The files are hashed on use and the hashes go into every run's MLflow tags. A bad
file is an error naming the file, the row (or column) and the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csft.data.ucr import UCRDataset, clean_row, encode_labels, read_ucr_file

FORMATS = {"ucr": ".tsv", "ts": ".ts"}
SPLITS = ("TRAIN", "TEST")


@dataclass(frozen=True)
class CustomClassification:
    """One `custom_classification` entry: where the files are and how they are read."""

    name: str
    path: str  # the folder
    format: str = "ucr"  # "ucr" (NAME_TRAIN.tsv) or "ts" (NAME_TRAIN.ts)
    variable_length: bool = False  # series of their own lengths (trailing NaN: end-padding)

    @classmethod
    def from_config(cls, name: str, entry: Mapping) -> CustomClassification:
        return cls(
            name=name,
            path=str(entry["path"]),
            format=entry.get("format", "ucr"),
            variable_length=bool(entry.get("variable_length", False)),
        )

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(
                f"custom_classification.{self.name}.format must be one of {list(FORMATS)}, "
                f"got {self.format!r}"
            )

    def files(self) -> dict[str, Path]:
        """The TRAIN and TEST files, by split."""
        suffix = FORMATS[self.format]
        return {split: Path(self.path) / f"{self.name}_{split}{suffix}" for split in SPLITS}

    def relpaths(self) -> dict[str, str]:
        """How runs name the files in their data tags (hashed on use, not pinned)."""
        return {
            f"custom_classification/{self.name}/{path.name}": str(path)
            for path in self.files().values()
        }

    def read(self, split: str, missing_values: str) -> tuple[list[np.ndarray], np.ndarray]:
        """Series (float32, 1-D) and raw labels of one split's file."""
        path = self.files()[split]
        if not path.is_file():
            expected = ", ".join(p.name for p in self.files().values())
            raise FileNotFoundError(
                f"custom classification dataset {self.name}: file not found: {path} (the folder "
                f"must hold {expected}; format: {self.format})"
            )
        if self.format == "ucr":
            series, labels = read_ucr_file(path, self.name, missing_values, padded=True)
        else:
            series, labels = self._read_ts(path, missing_values)
        self._check_lengths(path, series)
        return series, labels

    def _read_ts(self, path: Path, missing_values: str) -> tuple[list[np.ndarray], np.ndarray]:
        from aeon.datasets import load_from_ts_file

        try:
            data, labels = load_from_ts_file(str(path))
        except Exception as error:  # aeon raises IOError, ValueError, ... naming no file
            raise ValueError(f"{path}: cannot read as a .ts file: {error}") from None
        channels = {np.asarray(x).shape[0] for x in data}
        if channels != {1}:
            raise ValueError(
                f"{path}: {sorted(channels)} channels per series; classification here takes "
                "univariate series (one channel)"
            )
        series = [
            clean_row(np.asarray(x[0], np.float64), row, path, self.name, missing_values, False)
            for row, x in enumerate(data)
        ]
        return series, np.asarray(labels)

    def _check_lengths(self, path: Path, series: list[np.ndarray]) -> None:
        """Ragged rows are an error unless the dataset says its series differ in length."""
        lengths = np.array([len(s) for s in series])
        if self.variable_length or len(set(lengths)) <= 1:
            return
        common = int(np.bincount(lengths).argmax())
        odd = np.flatnonzero(lengths != common)
        raise ValueError(
            f"{path}: rows of different lengths: row {odd[0]} has {lengths[odd[0]]} values, "
            f"{len(lengths) - len(odd)} rows have {common} ({len(odd)} rows differ; trailing "
            f"empty or NaN cells shorten a row); set custom_classification.{self.name}."
            "variable_length: true if the series have their own lengths"
        )

    def load(self, missing_values: str) -> UCRDataset:
        """TRAIN and TEST, labels coded 0..K-1 from TRAIN's."""
        train, test = (self.read(split, missing_values) for split in SPLITS)
        files = self.files()
        return encode_labels(self.name, train, test, f" [{files['TRAIN']}, {files['TEST']}]")


def custom_classification(config: Mapping) -> dict[str, CustomClassification]:
    """Every `custom_classification` entry of a config, by name."""
    return {
        name: CustomClassification.from_config(name, entry)
        for name, entry in (config.get("custom_classification") or {}).items()
    }
