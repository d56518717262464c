"""Sealed TEST and equal-length conversion for the classification track."""

import numpy as np
import pytest

from csft.data.ucr import load_ucr
from csft.tasks.classify import SealedTestError, seal, to_length


@pytest.fixture(scope="module")
def chinatown(mirror):
    return load_ucr(mirror, "Chinatown")


def test_test_split_is_sealed_until_the_final_evaluation(chinatown):
    splits = seal(chinatown, 0.2, seed=0)
    with pytest.raises(SealedTestError, match="sealed"):
        splits.test()
    test = splits.unseal()
    assert len(test) == 343 and splits.test() is test
    with pytest.raises(SealedTestError, match="already"):
        splits.unseal()


def test_validation_is_a_stratified_part_of_train(chinatown):
    splits = seal(chinatown, 0.2, seed=0)
    assert len(splits.train) + len(splits.val) == 20
    assert set(np.unique(splits.val.labels)) == {0, 1}
    again = seal(chinatown, 0.2, seed=0)
    assert np.array_equal(again.val.labels, splits.val.labels)
    assert all(
        np.array_equal(a, b) for a, b in zip(again.val.series, splits.val.series, strict=True)
    )


def test_to_length_resamples_keeping_end_points():
    ramp = np.arange(10, dtype=np.float32)
    short = np.array([1.0, 3.0], dtype=np.float32)
    out = to_length([ramp, short, np.array([5.0], dtype=np.float32)], 19)
    assert out.shape == (3, 19) and out.dtype == np.float32
    assert out[0, 0] == 0 and out[0, -1] == 9 and np.allclose(np.diff(out[0]), 0.5)
    assert out[1, 0] == 1 and out[1, -1] == 3
    assert np.all(out[2] == 5)
    with pytest.raises(ValueError, match="pad"):
        to_length([ramp], 5, policy="pad")
