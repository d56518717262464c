"""Anti-aliased resampling: what a shorter grid cannot hold is removed, not folded back."""

import numpy as np
import pytest
import torch

from csft.data.resampling import resample
from csft.models.csft import place_on_grid
from csft.training.classify import to_length


def sine(cycles: float, length: int) -> torch.Tensor:
    t = np.arange(length)
    return torch.tensor(np.sin(2 * np.pi * cycles * t / length), dtype=torch.float32).view(1, -1)


def amplitude(x: torch.Tensor) -> float:
    return float(x[0, 50:-50].abs().max())  # away from the edges


def test_a_sine_above_the_new_nyquist_is_attenuated_not_folded_back():
    # HouseTwenty's case: 2000 points onto a 1024 grid (Nyquist: 512 cycles per series).
    high = sine(800, 2000)
    naive = torch.nn.functional.interpolate(
        high.unsqueeze(1), size=1024, mode="linear", align_corners=True
    ).squeeze(1)
    assert amplitude(naive) > 0.5  # plain interpolation folds it back to a false slow wave
    assert amplitude(resample(high, 1024)) < 0.01
    assert amplitude(place_on_grid(high, 1024)) < 0.01
    assert np.abs(to_length([high[0].numpy()], 1024)[0][50:-50]).max() < 0.01


@pytest.mark.parametrize(("length", "target"), [(2000, 1024), (1023, 512), (300, 256)])
def test_what_the_shorter_grid_can_hold_passes(length, target):
    low = sine(0.05 * target, length)  # a tenth of the new Nyquist frequency
    out = resample(low, target)
    t = np.linspace(0, length - 1, target)
    expected = np.sin(2 * np.pi * 0.05 * target * t / length)
    assert out.shape == (1, target)
    assert np.abs(out[0].numpy() - expected)[20:-20].max() < 0.02


def test_lengthening_and_equal_lengths_are_plain_linear_interpolation():
    ramp = torch.arange(10, dtype=torch.float32).view(1, -1)
    assert torch.equal(resample(ramp, 10), ramp)
    longer = resample(ramp, 19)
    assert torch.allclose(longer[0], torch.arange(19) * 0.5)
    assert torch.equal(resample(torch.ones(2, 1) * 3, 4), torch.full((2, 4), 3.0))
    with pytest.raises(ValueError, match="target length"):
        resample(ramp, 1)


def test_a_filter_longer_than_the_series_still_works():
    short = torch.randn(3, 20)
    out = resample(short, 2)  # 10x shortening: the filter is longer than the series
    assert out.shape == (3, 2) and torch.isfinite(out).all()
