"""Series that are odd but valid, and series CSFT cannot take.

Constant series are data, not errors: normalisation maps them to 0 and every model stays finite
(the documented policy; a NaN is an error, tested with the loaders). A series longer than
CSFT's max_length is an error naming the series and its length."""

import numpy as np
import pandas as pd
import pytest
import torch

from csft.data.ett import ETTSeries
from csft.models.csft import CSFTConfig, CSFTEncoder
from csft.models.registry import build_model
from csft.training.classify import csft_groups


def test_constant_ett_channel_is_scaled_to_zero(tmp_path, mirror):
    frame = pd.read_csv(mirror / "ETT-small" / "ETTh1.csv")
    frame["HUFL"] = 3.0
    path = tmp_path / "ETTh1.csv"
    frame.to_csv(path, index=False)
    series = ETTSeries.load(path, "ETTh1", 96)
    assert np.isfinite(series.values).all()
    assert np.all(series.values[:, 0] == 0.0)


def test_models_stay_finite_on_a_constant_window():
    x = torch.full((2, 64, 3), 5.0)
    for name in ("dlinear", "patchtst", "csft"):
        model = build_model(name, {}, lookback=64, horizon=8, n_channels=3).eval()
        with torch.no_grad():
            assert torch.isfinite(model(x)).all(), name
    encoder = CSFTEncoder(CSFTConfig(lookback=64, horizon=1, n_channels=1)).eval()
    with torch.no_grad():
        assert torch.isfinite(encoder.represent(torch.full((2, 64), -1.5))).all()


def test_a_series_longer_than_the_maximum_is_refused_naming_it():
    config = CSFTConfig(lookback=128, horizon=1, n_channels=1)
    series = [np.zeros(100, np.float32), np.zeros(9000, np.float32)]
    with pytest.raises(ValueError, match=r"series 1: .*9000.*\[64, 8192\)"):
        csft_groups(series, np.array([0, 1]), config)
