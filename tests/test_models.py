"""DLinear / moving-average known answers and the registry's errors (the contract of every
registered model: test_contract.py)."""

import numpy as np
import pytest
import torch

from baselines.dlinear import DLinear, DLinearConfig
from csft.models.layers import MovingAverage, SeriesDecomposition
from csft.models.registry import MODELS, build_model

SHAPE = {"lookback": 96, "horizon": 24, "n_channels": 3}


def zero_biases(model: DLinear) -> None:
    with torch.no_grad():
        model.seasonal.bias.zero_()
        model.trend.bias.zero_()


@pytest.mark.parametrize("individual", [False, True])
@pytest.mark.parametrize("kernel_size", [5, 25])
def test_dlinear_at_init_forecasts_the_mean(individual, kernel_size):
    lookback, horizon, channels = 48, 12, 4
    torch.manual_seed(0)
    model = DLinear(DLinearConfig(lookback, horizon, channels, kernel_size, individual))
    x = torch.randn(3, lookback, channels, dtype=torch.float32) * 2 + 1
    mean = x.double().mean(dim=1, keepdim=True)  # (B, 1, C)
    with torch.no_grad():
        # Weights 1/L: each part maps to its mean, and seasonal + trend = x.
        biases = (model.seasonal.bias + model.trend.bias).double()  # (groups, H)
        expected = mean + biases.T.unsqueeze(0)  # (B, H, C) broadcast
        np.testing.assert_allclose(model(x).double(), expected, atol=1e-5)
        zero_biases(model)
        out = model(x).double()
    np.testing.assert_allclose(out, mean.expand(-1, horizon, -1), atol=1e-5)


def test_dlinear_individual_has_one_map_per_channel():
    shared = DLinear(DLinearConfig(48, 12, 5, individual=False))
    separate = DLinear(DLinearConfig(48, 12, 5, individual=True))
    weights = {n: p.numel() for n, p in shared.named_parameters() if n.endswith("weight")}
    weights_ind = {n: p.numel() for n, p in separate.named_parameters() if n.endswith("weight")}
    assert weights.keys() == weights_ind.keys() and len(weights) == 2
    for key in weights:
        assert weights_ind[key] == 5 * weights[key] == 5 * 48 * 12
    total = sum(p.numel() for p in shared.parameters())
    assert sum(p.numel() for p in separate.parameters()) == 5 * total


def test_dlinear_individual_channels_are_independent():
    torch.manual_seed(0)
    model = DLinear(DLinearConfig(32, 8, 3, kernel_size=5, individual=True))
    with torch.no_grad():
        model.seasonal.weight[1].normal_()
        model.trend.weight[1].normal_()
    x = torch.randn(2, 32, 3)
    x2 = x.clone()
    x2[:, :, 1] += 5.0  # only channel 1 changes
    with torch.no_grad():
        a, b = model(x), model(x2)
    assert torch.equal(a[:, :, 0], b[:, :, 0]) and torch.equal(a[:, :, 2], b[:, :, 2])
    assert not torch.allclose(a[:, :, 1], b[:, :, 1])


def numpy_moving_average(x: np.ndarray, kernel: int) -> np.ndarray:
    """Centred mean over time with edge-value padding; x: (B, L, C)."""
    half = kernel // 2
    padded = np.pad(x, ((0, 0), (half, half), (0, 0)), mode="edge")
    out = np.empty_like(x, dtype=np.float64)
    for t in range(x.shape[1]):
        out[:, t] = padded[:, t : t + kernel].mean(axis=1)
    return out


@pytest.mark.parametrize("kernel", [1, 5, 25])
@pytest.mark.parametrize("length", [10, 40])
def test_moving_average_matches_numpy(kernel, length):
    rng = np.random.default_rng(kernel * 100 + length)
    x = rng.normal(size=(2, length, 3)).astype(np.float32)
    out = MovingAverage(kernel)(torch.from_numpy(x)).numpy()
    assert out.shape == x.shape
    np.testing.assert_allclose(out, numpy_moving_average(x.astype(np.float64), kernel), atol=1e-5)


def test_moving_average_of_a_constant_is_the_constant():
    x = torch.full((1, 30, 2), 3.5)
    assert torch.allclose(MovingAverage(25)(x), x)


def test_decomposition_sums_back_to_the_input():
    x = torch.randn(2, 50, 3)
    seasonal, trend = SeriesDecomposition(25)(x)
    assert torch.allclose(seasonal + trend, x, atol=1e-6)
    assert torch.allclose(trend, MovingAverage(25)(x))


@pytest.mark.parametrize("kernel", [0, 2, 4, 24, -3])
def test_even_or_nonpositive_kernel_raises(kernel):
    with pytest.raises(ValueError, match=str(kernel)):
        MovingAverage(kernel)


def test_unknown_model_raises_listing_registered_names():
    with pytest.raises(KeyError, match="no_such_model") as info:
        build_model("no_such_model", {}, **SHAPE)
    for name in MODELS:
        assert name in str(info.value)


def test_unknown_architecture_key_raises_naming_it():
    with pytest.raises(TypeError, match="kernal_size"):
        build_model("dlinear", {"kernal_size": 5}, **SHAPE)
    with pytest.raises(TypeError, match="n_chanels"):
        build_model("dlinear", {}, lookback=96, horizon=24, n_chanels=3)


def test_architecture_settings_reach_the_model():
    model = build_model("dlinear", {"kernel_size": 5, "individual": True}, **SHAPE)
    assert model.config == DLinearConfig(96, 24, 3, kernel_size=5, individual=True)
    assert model.decomposition.moving_average.kernel_size == 5
