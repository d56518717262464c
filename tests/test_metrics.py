"""Forecast metrics: hand-computed values, float64 accumulation, shape checks."""

import numpy as np
import pytest

from csft.metrics import mae, mse


def test_hand_computed_values():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    true = np.array([[1.0, 0.0], [5.0, 1.0]])
    # errors: 0, 2, -2, 3 -> squares 0, 4, 4, 9; absolutes 0, 2, 2, 3
    assert mse(pred, true) == pytest.approx(17 / 4)
    assert mae(pred, true) == pytest.approx(7 / 4)


def test_averages_over_every_value_of_a_3d_array():
    pred = np.zeros((2, 3, 2), dtype=np.float32)
    true = np.zeros((2, 3, 2), dtype=np.float32)
    true[1, 2, 0] = 6.0  # one error of 6 among 12 values
    assert mse(pred, true) == pytest.approx(36 / 12)
    assert mae(pred, true) == pytest.approx(6 / 12)


def test_perfect_prediction_scores_zero():
    values = np.linspace(-3, 3, 10).reshape(2, 5)
    assert mse(values, values) == 0.0
    assert mae(values, values) == 0.0


def test_returns_python_float_and_is_symmetric():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    assert isinstance(mse(a, b), float) and isinstance(mae(a, b), float)
    assert mse(a, b) == pytest.approx(mse(b, a))
    assert mae(a, b) == pytest.approx(mae(b, a))
    assert mse(a, b) == pytest.approx(
        float(np.mean([(x - y) ** 2 for x, y in zip(a.flat, b.flat, strict=True)]))
    )


def test_float32_inputs_are_accumulated_in_float64():
    # A float32 mean of a million values is off by ~1e-7 relative; float64 is exact here.
    n = 1_000_000
    pred = np.full(n, 1.0, dtype=np.float32)
    true = np.zeros(n, dtype=np.float32)
    true[0] = 3.0  # errors: one -2, the rest 1
    assert mse(pred, true) == pytest.approx((n - 1 + 4) / n, rel=1e-12)
    assert mae(pred, true) == pytest.approx((n - 1 + 2) / n, rel=1e-12)


@pytest.mark.parametrize("metric", [mse, mae])
def test_shape_mismatch_raises(metric):
    with pytest.raises(ValueError, match="shape"):
        metric(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        metric(np.zeros((4, 1)), np.zeros(4))  # no silent broadcasting


@pytest.mark.parametrize("metric", [mse, mae])
@pytest.mark.parametrize("shape", [(0,), (0, 96, 7)])
def test_empty_arrays_raise(metric, shape):
    with pytest.raises(ValueError, match="no values"):
        metric(np.zeros(shape), np.zeros(shape))
