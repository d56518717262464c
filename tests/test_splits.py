"""ETT splits: window counts from the protocol's borders, train-only scaling, window contents."""

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from csft.data.ett import ETT_COLUMNS, ETTSeries, TrainScaler, read_ett_csv
from csft.data.splits import ett_segments

# The protocol, written out independently of csft: 12/4/4 months of 30 days; ETTm is 15-minute.
HOURS_PER_MONTH = 30 * 24
ROWS_PER_HOUR = {"ETTh1": 1, "ETTh2": 1, "ETTm1": 4, "ETTm2": 4}
PAIRS = [(336, 96), (336, 192), (336, 336), (336, 720), (96, 24), (512, 96), (1, 1)]


def borders(dataset: str) -> tuple[int, int, int]:
    """(train end, val end, test end) rows: ETTh 8640 / 11520 / 14400, ETTm four times that."""
    month = HOURS_PER_MONTH * ROWS_PER_HOUR[dataset]
    return 12 * month, 16 * month, 20 * month


def expected_counts(dataset: str, lookback: int, horizon: int) -> dict[str, int]:
    """Windows whose targets lie inside each split: every target row after the first L rows."""
    train_end, val_end, test_end = borders(dataset)
    return {
        "train": train_end - lookback - horizon + 1,  # inputs and targets inside [0, train_end)
        "val": (val_end - train_end) - horizon + 1,  # first target row is the border row
        "test": (test_end - val_end) - horizon + 1,
    }


@pytest.mark.parametrize("dataset", sorted(ROWS_PER_HOUR))
@pytest.mark.parametrize(("lookback", "horizon"), PAIRS)
def test_window_counts_follow_the_borders(dataset, lookback, horizon):
    segments = ett_segments(dataset, lookback)
    counts = {split: seg.n_windows(lookback, horizon) for split, seg in segments.items()}
    assert counts == expected_counts(dataset, lookback, horizon)


def test_published_ltsf_linear_counts():
    assert borders("ETTh1") == (8640, 11520, 14400)
    assert expected_counts("ETTh1", 336, 96) == {"train": 8209, "val": 2785, "test": 2785}
    assert expected_counts("ETTm1", 336, 96) == {"train": 34129, "val": 11425, "test": 11425}
    # The test-set size published with LTSF-Linear for ETTh1, L=336, H=96.
    assert ett_segments("ETTh1", 336)["test"].n_windows(336, 96) == 2785
    assert ett_segments("ETTm1", 336)["train"].n_windows(336, 96) == 34129


@pytest.mark.parametrize("dataset", sorted(ROWS_PER_HOUR))
@pytest.mark.parametrize(("lookback", "horizon"), PAIRS)
def test_segments_start_one_lookback_before_the_border(dataset, lookback, horizon):
    train_end, val_end, test_end = borders(dataset)
    segments = ett_segments(dataset, lookback)
    assert (segments["train"].start, segments["train"].stop) == (0, train_end)
    assert (segments["val"].start, segments["val"].stop) == (train_end - lookback, val_end)
    assert (segments["test"].start, segments["test"].stop) == (val_end - lookback, test_end)
    for split, border in (("val", train_end), ("test", val_end)):
        starts = segments[split].window_starts(lookback, horizon)
        assert starts[0] + lookback == border  # first target row is the border row


@pytest.mark.parametrize("dataset", ["ETTh1", "ETTm2"])
@pytest.mark.parametrize(("lookback", "horizon"), [(336, 96), (96, 720), (7, 3)])
def test_window_starts_are_stride_one_and_end_at_the_segment_end(dataset, lookback, horizon):
    for segment in ett_segments(dataset, lookback).values():
        starts = segment.window_starts(lookback, horizon)
        assert starts[0] == segment.start
        assert np.array_equal(np.diff(starts), np.ones(len(starts) - 1, dtype=starts.dtype))
        assert starts[-1] + lookback + horizon == segment.stop  # last window ends at the end


def test_window_starts_empty_when_window_longer_than_segment():
    segment = ett_segments("ETTh1", 8000)["val"]  # 8000 + 2880 rows
    assert segment.n_windows(8000, 2881) == 0
    assert segment.window_starts(8000, 2881).size == 0
    assert segment.n_windows(8000, 2880) == 1


@pytest.mark.parametrize(("dataset", "too_long"), [("ETTh1", 8641), ("ETTm1", 34561)])
def test_lookback_longer_than_train_raises(dataset, too_long):
    with pytest.raises(ValueError, match=str(too_long)):
        ett_segments(dataset, too_long)
    ett_segments(dataset, too_long - 1)  # the whole training segment is allowed


@pytest.mark.parametrize("lookback", [0, -5])
def test_nonpositive_lookback_raises(lookback):
    with pytest.raises(ValueError, match=str(lookback)):
        ett_segments("ETTh1", lookback)


def test_unknown_dataset_raises_naming_it():
    with pytest.raises(ValueError, match="ETTh3"):
        ett_segments("ETTh3", 96)


# ---------------------------------------------------------------- loading the real ETTh1


@pytest.fixture(scope="module")
def etth1_path(mirror) -> Path:
    return mirror / "ETT-small" / "ETTh1.csv"


@pytest.fixture(scope="module")
def etth1_raw(etth1_path) -> np.ndarray:
    """The raw values read with the csv module, independently of csft (float64)."""
    with etth1_path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ETT_COLUMNS
    return np.array([[float(v) for v in row[1:]] for row in rows[1:]])


@pytest.fixture(scope="module")
def etth1(etth1_path) -> ETTSeries:
    return ETTSeries.load(etth1_path, "ETTh1", lookback=336)


def test_scaler_is_fit_on_train_rows_only(etth1, etth1_raw):
    train_end, val_end, test_end = borders("ETTh1")
    values = etth1.values.astype(np.float64)
    assert values.shape == etth1_raw.shape and etth1.n_channels == 7
    train = values[:train_end]
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0, ddof=0), 1.0, atol=1e-5)
    # The test segment is scaled with train statistics, so it is not centred itself.
    assert np.abs(values[val_end:test_end].mean(axis=0)).max() > 0.05
    # Known answer: (raw - train mean) / train std, statistics from train rows only.
    raw_train = etth1_raw[:train_end].astype(np.float32).astype(np.float64)
    expected = (etth1_raw - raw_train.mean(axis=0)) / raw_train.std(axis=0, ddof=0)
    np.testing.assert_allclose(values, expected, rtol=1e-4, atol=1e-4)
    full_fit = (etth1_raw - etth1_raw.mean(axis=0)) / etth1_raw.std(axis=0)
    assert not np.allclose(values, full_fit, atol=1e-3)  # not fit on the whole file


def test_inverse_round_trips_raw_values(etth1, etth1_raw):
    back = etth1.inverse(etth1.values)
    np.testing.assert_allclose(back, etth1_raw, rtol=1e-5, atol=1e-4)
    windows = etth1.values[:24].reshape(2, 12, 7)  # (N, H, C): channels last, any leading shape
    np.testing.assert_allclose(etth1.inverse(windows), etth1_raw[:24].reshape(2, 12, 7), atol=1e-4)


def random_columns(dtype) -> np.ndarray:
    """Columns of different scales, one constant and one constant up to float rounding."""
    generator = np.random.default_rng(0)
    columns = generator.normal([0.0, 5e3, -3e-4], [1.0, 2e2, 1e-6], size=(4001, 3))
    constant = np.full((4001, 1), 7.25)
    nearly = 1 / 3 + np.finfo(np.float64).eps * generator.integers(0, 2, size=(4001, 1))
    return np.hstack([columns, constant, nearly]).astype(dtype)


@pytest.mark.parametrize("source", ["ETTh1", "ETTm2", "float32", "float64"])
def test_train_scaler_is_bit_identical_to_scikit_learns(mirror, source):
    """Same statistics and the same bits out as StandardScaler, both ways, constant columns
    included, so dropping the scikit-learn import changed no number of any study."""
    from sklearn.preprocessing import StandardScaler

    if source.startswith("ETT"):
        raw = read_ett_csv(mirror / "ETT-small" / f"{source}.csv")
        train = raw[: ett_segments(source, 96)["train"].stop]
    else:
        raw = random_columns(np.dtype(source))
        train = raw[:3000]
    ours, theirs = TrainScaler.fit(train), StandardScaler().fit(train)
    np.testing.assert_array_equal(ours.mean, theirs.mean_)
    np.testing.assert_array_equal(ours.scale, theirs.scale_)
    scaled = ours.transform(raw)
    assert scaled.dtype == raw.dtype
    np.testing.assert_array_equal(scaled, theirs.transform(raw))
    np.testing.assert_array_equal(ours.inverse_transform(scaled), theirs.inverse_transform(scaled))
    if not source.startswith("ETT"):  # constant columns keep scale 1 instead of a division by ~0
        assert ours.scale[3] == 1.0 and ours.scale[4] == 1.0
        assert source == "float32" or train[:, 4].var() > 0  # float64: rounding-level spread


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_windows_are_contiguous_slices(etth1, split):
    lookback, horizon = 336, 96
    windows = etth1.windows(split, horizon)
    assert len(windows) == expected_counts("ETTh1", lookback, horizon)[split]
    segment_start = ett_segments("ETTh1", lookback)[split].start
    for i in [0, 1, len(windows) // 2, len(windows) - 1]:
        x, y = windows[i]
        assert tuple(x.shape) == (lookback, 7) and tuple(y.shape) == (horizon, 7)
        start = segment_start + i
        np.testing.assert_array_equal(x.numpy(), etth1.values[start : start + lookback])
        np.testing.assert_array_equal(
            y.numpy(), etth1.values[start + lookback : start + lookback + horizon]
        )


def test_first_test_target_is_the_border_row(etth1):
    _, val_end, test_end = borders("ETTh1")
    windows = etth1.windows("test", 96)
    _, y_first = windows[0]
    _, y_last = windows[len(windows) - 1]
    np.testing.assert_array_equal(y_first[0].numpy(), etth1.values[val_end])
    np.testing.assert_array_equal(y_last[-1].numpy(), etth1.values[test_end - 1])


def test_features_s_is_oil_temperature_only(etth1_path, etth1_raw):
    series = ETTSeries.load(etth1_path, "ETTh1", lookback=96, features="S")
    assert series.n_channels == 1
    x, y = series.windows("train", 24)[0]
    assert tuple(x.shape) == (96, 1) and tuple(y.shape) == (24, 1)
    ot = etth1_raw[:, [ETT_COLUMNS.index("OT") - 1]]
    np.testing.assert_allclose(series.inverse(series.values), ot, rtol=1e-5, atol=1e-4)


def test_unknown_features_raise(etth1_path):
    with pytest.raises(ValueError, match="'X'"):
        read_ett_csv(etth1_path, features="X")


# ---------------------------------------------------------------- bad files


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def good_rows(n: int) -> list[list[str]]:
    return [
        [f"2016-07-01 {i:02d}:00:00"] + [f"{i + c * 0.5:.2f}" for c in range(7)] for i in range(n)
    ]


def test_tiny_valid_csv_reads(tmp_path):
    path = write_csv(tmp_path / "tiny.csv", ETT_COLUMNS, good_rows(3))
    values = read_ett_csv(path)
    assert values.dtype == np.float32 and values.shape == (3, 7)
    assert values[2, 1] == pytest.approx(2.5)


def test_nan_value_raises_naming_the_file(tmp_path):
    rows = good_rows(3)
    rows[1][3] = "NaN"
    path = write_csv(tmp_path / "with_nan.csv", ETT_COLUMNS, rows)
    with pytest.raises(ValueError, match=re.escape(str(path))) as info:
        read_ett_csv(path)
    assert "MUFL" in str(info.value)  # the column of the bad value


def test_empty_value_raises_naming_the_file(tmp_path):
    rows = good_rows(3)
    rows[2][7] = ""
    path = write_csv(tmp_path / "with_gap.csv", ETT_COLUMNS, rows)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_ett_csv(path)


def test_wrong_header_raises_naming_the_file(tmp_path):
    header = ETT_COLUMNS[:-1] + ["oil_temp"]
    path = write_csv(tmp_path / "bad_header.csv", header, good_rows(3))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_ett_csv(path)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        ETTSeries.load(path, "ETTh1", lookback=4)


def test_too_short_file_raises(tmp_path):
    path = write_csv(tmp_path / "short.csv", ETT_COLUMNS, good_rows(20))
    with pytest.raises(ValueError, match="14400"):
        ETTSeries.load(path, "ETTh1", lookback=4)


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        read_ett_csv(tmp_path / "nowhere.csv")
