"""UCR loading on real archive files (padding vs missing values) and the validation split."""

from pathlib import Path

import numpy as np
import pytest

from csft.data.splits import ucr_validation_split
from csft.data.ucr import is_variable_length_dataset, load_ucr, read_ucr_file


def write_dataset(root: Path, name: str, train: str, test: str) -> Path:
    """A synthetic dataset in archive layout under root/UCR/NAME/."""
    folder = root / "UCR" / name
    folder.mkdir(parents=True)
    (folder / f"{name}_TRAIN.tsv").write_text(train)
    (folder / f"{name}_TEST.tsv").write_text(test)
    return root


def test_chinatown(mirror):
    dataset = load_ucr(mirror, "Chinatown")
    assert (len(dataset.train.series), len(dataset.test.series)) == (20, 343)
    assert dataset.n_classes == 2
    assert dataset.classes.tolist() == [1, 2]
    assert set(dataset.train.labels.tolist()) == {0, 1}
    assert set(dataset.test.labels.tolist()) == {0, 1}
    assert dataset.train.labels.dtype == np.int64
    assert set(dataset.lengths("train")) == {24} and set(dataset.lengths("test")) == {24}
    assert all(s.dtype == np.float32 and s.ndim == 1 for s in dataset.train.series)
    assert not dataset.is_variable_length


def test_variable_length_keeps_own_lengths(mirror):
    dataset = load_ucr(mirror, "PickupGestureWiimoteZ", missing_values="error")
    assert is_variable_length_dataset("PickupGestureWiimoteZ")
    assert not is_variable_length_dataset("GunPoint")
    lengths = np.concatenate([dataset.lengths("train"), dataset.lengths("test")])
    assert (lengths.min(), lengths.max()) == (29, 361)  # the README's "Vary (29-361)"
    assert dataset.is_variable_length
    assert all(np.isfinite(s).all() for s in dataset.train.series + dataset.test.series)
    assert (len(dataset.train.series), len(dataset.test.series)) == (50, 50)


def test_missing_values_error_policy_names_file_and_row(mirror):
    with pytest.raises(ValueError) as info:
        load_ucr(mirror, "DodgerLoopGame", missing_values="error")
    message = str(info.value)
    assert "DodgerLoopGame_TRAIN.tsv" in message
    assert "dataset DodgerLoopGame" in message
    assert "row 7" in message and "2 missing values" in message


def test_missing_values_interpolate(mirror):
    dataset = load_ucr(mirror, "DodgerLoopGame", missing_values="interpolate")
    series = dataset.train.series + dataset.test.series
    assert all(np.isfinite(s).all() for s in series)
    assert {len(s) for s in series} == {288}
    assert not dataset.is_variable_length


def test_interpolation_is_linear_in_time(tmp_path):
    path = tmp_path / "X_TRAIN.tsv"
    path.write_text("1\tNaN\t1\tNaN\tNaN\t4\tNaN\n")
    series, labels = read_ucr_file(path, "X", "interpolate")
    np.testing.assert_allclose(series[0], [1, 1, 2, 3, 4, 4])
    assert labels.tolist() == [1]


def test_padding_only_stripped_for_variable_length(tmp_path):
    path = tmp_path / "f.tsv"
    path.write_text("1\t1\t2\t3\n2\t1\tNaN\tNaN\n")
    padded, _ = read_ucr_file(path, "PLAID", "error")
    assert [len(s) for s in padded] == [3, 1]
    with pytest.raises(ValueError, match="row 1 has 2 missing values"):
        read_ucr_file(path, "Chinatown", "error")


def test_all_nan_series_raises_under_both_policies(tmp_path):
    path = tmp_path / "f.tsv"
    path.write_text("1\t1\t2\n2\tNaN\tNaN\n")
    for policy in ("error", "interpolate"):
        for dataset in ("PLAID", "Chinatown"):
            with pytest.raises(ValueError, match="row 1 has no values") as info:
                read_ucr_file(path, dataset, policy)
            assert str(path) in str(info.value)


def test_labels_encoded_in_sorted_order(tmp_path):
    train = "-1\t0.1\t0.2\n5\t0.3\t0.4\n0\t0.5\t0.6\n-1\t0.7\t0.8\n"
    test = "5\t1\t2\n-1\t3\t4\n0\t5\t6\n"
    dataset = load_ucr(write_dataset(tmp_path, "Syn", train, test), "Syn")
    assert dataset.classes.tolist() == [-1, 0, 5]
    assert dataset.train.labels.tolist() == [0, 2, 1, 0]
    assert dataset.test.labels.tolist() == [2, 0, 1]


def test_unseen_test_label_raises(tmp_path):
    root = write_dataset(tmp_path, "Syn", "1\t0\t1\n2\t1\t0\n", "3\t0\t1\n")
    with pytest.raises(ValueError, match=r"dataset Syn.*\[3\]"):
        load_ucr(root, "Syn")


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("1\t0.5\tabc\n", "non-numeric value 'abc' at row 0, column 2"),
        ("", "empty file"),
        ("1\n2\n", "fewer than 2 columns"),
        ("1\t0.5\t0.3\n\t0.1\t0.2\n", "missing .*label at row 1"),
        ("1\t0.5\n2\t0.1\t0.2\n", "cannot parse"),
        ("NaN\t0.5\t0.2\n", "missing .*label at row 0"),
    ],
)
def test_malformed_files_raise_naming_the_file(tmp_path, content, pattern):
    path = tmp_path / "Bad_TRAIN.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=pattern) as info:
        read_ucr_file(path, "Bad", "interpolate")
    assert str(path) in str(info.value)


def test_missing_file_and_bad_policy(tmp_path):
    with pytest.raises(FileNotFoundError, match="Nope_TRAIN.tsv"):
        load_ucr(tmp_path, "Nope")
    with pytest.raises(ValueError, match="missing_values"):
        read_ucr_file(tmp_path / "x.tsv", "X", "drop")


def test_validation_split_stratified_disjoint_complete():
    labels = np.repeat([0, 1, 2, 3], [40, 25, 10, 1])
    fraction = 0.2
    train, val = ucr_validation_split(labels, fraction, seed=0)
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(labels.size))
    for label, count in zip(*np.unique(labels[labels != 3], return_counts=True), strict=True):
        assert abs(np.sum(labels[val] == label) - fraction * count) <= 1
    assert np.flatnonzero(labels == 3)[0] in train  # singleton class stays in train
    again_train, again_val = ucr_validation_split(labels, fraction, seed=0)
    assert np.array_equal(val, again_val) and np.array_equal(train, again_train)
    _, other_val = ucr_validation_split(labels, fraction, seed=1)
    assert not np.array_equal(val, other_val)


def test_validation_split_on_real_labels(mirror):
    labels = load_ucr(mirror, "Fungi").train.labels  # one example per class
    train, val = ucr_validation_split(labels, 0.2, seed=0)
    assert val.size == 0 and np.array_equal(train, np.arange(labels.size))


def test_archive_scaling_z_normalises_only_the_unnormalised_sets_with_train_statistics(mirror):
    from csft.data.ucr import is_archive_normalized, scale

    chinatown = load_ucr(mirror, "Chinatown")  # pedestrian counts, published unnormalised
    assert not is_archive_normalized("Chinatown") and is_archive_normalized("GunPoint")
    scaled = scale(chinatown, "archive")
    train = np.concatenate(scaled.train.series)
    assert abs(train.mean()) < 1e-5 and abs(train.std() - 1) < 1e-4  # TRAIN's global statistics
    raw = np.concatenate(chinatown.train.series)
    expected = (chinatown.test.series[0] - raw.mean()) / raw.std()
    assert np.allclose(scaled.test.series[0], expected, atol=1e-5)  # TEST scaled alike
    levels = [s.mean() for s in scaled.train.series]
    assert np.std(levels) > 0.1  # level still tells series apart (per-series would erase it)
    assert chinatown.train.series[0].max() > 100  # the input dataset is left as it was
    gunpoint = load_ucr(mirror, "GunPoint")
    assert scale(gunpoint, "archive") is gunpoint  # published z-normalised: as it is


def test_per_series_scaling_and_bad_policy(mirror):
    from csft.data.ucr import scale

    chinatown = load_ucr(mirror, "Chinatown")
    scaled = scale(chinatown, "per_series")
    for series in scaled.train.series + scaled.test.series:
        assert abs(series.mean()) < 1e-4 and abs(series.std() - 1) < 1e-3
    with pytest.raises(ValueError, match="ucr.scaling must be one of"):
        scale(chinatown, "minmax")
