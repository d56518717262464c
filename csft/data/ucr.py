"""Load UCR 2018 archive datasets: TRAIN/TEST as written, labels re-encoded 0..K-1.

File layout (2018 archive .tsv): no header, tab-separated, one series per row; the first column
is the class label as written in the archive (it may be negative or not start at 0), the rest are
the values. NaN means two different things, and the two are kept apart:

- in the archive's variable-length datasets (as its catalogue csft/data/ucr_archive.csv lists
  them), trailing NaN are end-padding up to the longest series; they are stripped, so each
  series keeps its own length;
- anywhere else, NaN is a missing value, handled by an explicit policy (MISSING_VALUE_POLICIES).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from csft.data.ucr_catalog import archive

logger = logging.getLogger(__name__)


def is_variable_length_dataset(name: str) -> bool:
    """Whether the archive's catalogue lists `name` as variable length ("Vary")."""
    catalogue = archive()
    return name in catalogue.index and bool(catalogue.at[name, "variable_length"])


MISSING_VALUE_POLICIES = ("error", "interpolate")
SPLITS = ("train", "test")


@dataclass
class UCRSplit:
    """One archive split: float32 1-D series (lengths may differ) and int64 codes 0..K-1."""

    series: list[np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.series)


@dataclass
class UCRDataset:
    """A UCR dataset; `classes[code]` is the label as written in the archive."""

    name: str
    classes: np.ndarray
    train: UCRSplit
    test: UCRSplit

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def lengths(self, split: str) -> np.ndarray:
        """Length of every series of `split` ('train' or 'test')."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        series = getattr(self, split).series
        return np.array([len(s) for s in series], dtype=np.int64)

    @property
    def is_variable_length(self) -> bool:
        """True when the series (TRAIN and TEST together) do not all have one length."""
        lengths = np.concatenate([self.lengths(split) for split in SPLITS])
        return bool(lengths.size) and bool(lengths.min() != lengths.max())


def _read_frame(path: Path) -> pd.DataFrame:
    """Parse the file as floats; on failure say which file, row and column are at fault."""
    if not path.is_file():
        raise FileNotFoundError(f"UCR file not found: {path}")
    try:
        return pd.read_csv(path, sep="\t", header=None, dtype=np.float64)
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path}: empty file, expected one series per row") from exc
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: cannot parse as a tab-separated table: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: {_first_non_numeric(path) or exc}") from exc


def _first_non_numeric(path: Path) -> str | None:
    """Locate the first cell that is not a number (only called after a parse failure)."""
    frame = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False)
    for column in frame.columns:
        cells = frame[column]
        numeric = pd.to_numeric(cells.replace("", "nan"), errors="coerce")
        bad = numeric.isna() & ~cells.str.strip().str.lower().isin(["", "nan"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return f"non-numeric value {cells.iloc[row]!r} at row {row}, column {column}"
    return None


def _labels(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """The first column; integral labels become int64 so they print as the archive writes them."""
    labels = frame.iloc[:, 0].to_numpy()
    missing = np.flatnonzero(np.isnan(labels))
    if missing.size:
        raise ValueError(f"{path}: missing (NaN) class label at row {missing[0]}")
    if np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    return labels


def _strip_padding(values: np.ndarray) -> np.ndarray:
    """Drop trailing NaN (end-padding of a variable-length series)."""
    finite = np.flatnonzero(~np.isnan(values))
    return values[: finite[-1] + 1] if finite.size else values[:0]


def _interpolate(values: np.ndarray) -> np.ndarray:
    """Linear interpolation in time; leading/trailing gaps take the nearest observed value."""
    return pd.Series(values).interpolate(limit_direction="both").to_numpy()


def clean_row(
    values: np.ndarray, row: int, path: Path, dataset: str, policy: str, padded: bool
) -> np.ndarray:
    """One series: padding removed (where trailing NaN are padding), missing values handled."""
    if padded:
        values = _strip_padding(values)
    n_missing = int(np.isnan(values).sum())
    if values.size == 0 or n_missing == values.size:
        raise ValueError(f"{path}: dataset {dataset}, series at row {row} has no values (all NaN)")
    if n_missing and policy == "error":
        raise ValueError(
            f"{path}: dataset {dataset}, series at row {row} has {n_missing} missing values "
            "(NaN); pass missing_values='interpolate' to fill them"
        )
    if n_missing:
        values = _interpolate(values)
    if np.isinf(values).any():
        raise ValueError(f"{path}: dataset {dataset}, series at row {row} has infinite values")
    return values.astype(np.float32)


def read_ucr_file(
    path: str | Path, dataset: str, missing_values: str, padded: bool | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Series (float32, 1-D each) and raw labels of one archive .tsv file.

    missing_values: "error" raises on any missing value (naming file, dataset, row and count);
    "interpolate" fills missing values by linear interpolation in time (pandas
    `interpolate(limit_direction="both")`, so a gap at either end takes the nearest observed
    value). A series with no values at all (all NaN once padding is removed) is an error under
    both policies. `padded`: whether trailing NaN are end-padding (None: as the archive's
    catalogue lists `dataset`).
    """
    if padded is None:
        padded = is_variable_length_dataset(dataset)
    if missing_values not in MISSING_VALUE_POLICIES:
        raise ValueError(
            f"missing_values must be one of {MISSING_VALUE_POLICIES}, got {missing_values!r}"
        )
    path = Path(path)
    frame = _read_frame(path)
    if frame.shape[1] < 2:
        raise ValueError(
            f"{path}: rows have fewer than 2 columns (a label and values); is it tab-separated?"
        )
    labels = _labels(frame, path)
    values = frame.iloc[:, 1:].to_numpy(dtype=np.float64)
    series = [
        clean_row(row_values, row, path, dataset, missing_values, padded)
        for row, row_values in enumerate(values)
    ]
    n_padding = sum(values.shape[1] - len(s) for s in series)
    n_filled = int(np.isnan(values).sum()) - n_padding
    if n_filled:
        logger.info("%s: interpolated %d missing values", path, n_filled)
    return series, labels


def load_ucr(data_dir: Path, name: str, missing_values: str = "interpolate") -> UCRDataset:
    """Read data_dir/UCR/NAME/NAME_{TRAIN,TEST}.tsv; codes 0..K-1 come from TRAIN's labels."""
    folder = Path(data_dir) / "UCR" / name
    train = read_ucr_file(folder / f"{name}_TRAIN.tsv", name, missing_values)
    test = read_ucr_file(folder / f"{name}_TEST.tsv", name, missing_values)
    return encode_labels(name, train, test)


def encode_labels(name: str, train: tuple, test: tuple, where: str = "") -> UCRDataset:
    """The dataset from (series, raw labels) of TRAIN and TEST: codes 0..K-1 from TRAIN's
    labels; a TEST label TRAIN lacks is an error (`where` names the files)."""
    (train_series, train_raw), (test_series, test_raw) = train, test
    from sklearn.preprocessing import LabelEncoder

    encoder = LabelEncoder().fit(train_raw)
    unseen = sorted(set(np.unique(test_raw).tolist()) - set(encoder.classes_.tolist()))
    if unseen:
        counts = {str(label): int(np.sum(test_raw == label)) for label in unseen}
        raise ValueError(
            f"dataset {name}: TEST label(s) {unseen} do not occur in TRAIN "
            f"(TRAIN labels: {encoder.classes_.tolist()}; TEST series per unseen label: "
            f"{counts}){where}"
        )
    dataset = UCRDataset(
        name=name,
        classes=encoder.classes_,
        train=UCRSplit(train_series, encoder.transform(train_raw).astype(np.int64)),
        test=UCRSplit(test_series, encoder.transform(test_raw).astype(np.int64)),
    )
    logger.info(
        "loaded UCR %s: %d train, %d test, %d classes",
        name,
        len(dataset.train),
        len(dataset.test),
        dataset.n_classes,
    )
    return dataset


SCALING_POLICIES = ("archive", "per_series")


def is_archive_normalized(name: str) -> bool:
    """Whether the archive publishes `name` z-normalised per series (its catalogue's
    `z_normalized`: False for the 34 sets added unnormalised in 2018, as TS2Vec lists them)."""
    catalogue = archive()
    if name not in catalogue.index:
        raise ValueError(f"dataset {name}: not in the UCR 2018 archive catalogue")
    return bool(catalogue.at[name, "z_normalized"])


def scale(dataset: UCRDataset, policy: str, normalized: bool | None = None) -> UCRDataset:
    """The same input scaling for every model (the data policy `ucr.scaling`).

    "archive": the archive's z-normalised sets as published; its unnormalised ones z-normalised
    with TRAIN's global mean and sd (every TRAIN value, TEST scaled alike), so level and scale
    still tell series apart, as in TS2Vec's loader. "per_series": every series z-normalised on
    its own (a constant series becomes 0). Returns a new dataset; the input is left as it was.
    `normalized`: whether the data comes z-normalised (None: as the archive's catalogue says;
    a dataset of your own is taken as unnormalised).
    """
    if policy not in SCALING_POLICIES:
        raise ValueError(f"ucr.scaling must be one of {SCALING_POLICIES}, got {policy!r}")
    if policy == "archive":
        if is_archive_normalized(dataset.name) if normalized is None else normalized:
            return dataset
        values = np.concatenate(dataset.train.series).astype(np.float64)
        mean, sd = values.mean(), values.std()
        if not sd > 0:
            raise ValueError(f"dataset {dataset.name}: TRAIN is constant, cannot z-normalise")

        def rescale(series: np.ndarray) -> np.ndarray:
            return ((series - mean) / sd).astype(np.float32)

    else:

        def rescale(series: np.ndarray) -> np.ndarray:
            sd = series.std()
            centred = series - series.mean()
            return (centred / sd if sd > 0 else centred * 0).astype(np.float32)

    def split(part: UCRSplit) -> UCRSplit:
        return UCRSplit([rescale(s) for s in part.series], part.labels)

    return UCRDataset(dataset.name, dataset.classes, split(dataset.train), split(dataset.test))
