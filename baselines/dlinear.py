"""DLinear: decomposition + two linear maps over time.

Paper: A. Zeng, M. Chen, L. Zhang, Q. Xu, "Are Transformers Effective for Time Series
Forecasting?", AAAI 2023. Official code: github.com/cure-lab/LTSF-Linear (models/DLinear.py).

Same function as the official model: edge-padded moving average (kernel 25) splits the input
into trend and seasonal parts; one Linear(lookback -> horizon) per part, shared across channels
(`individual=False`) or one per channel; weights start at 1/lookback (a plain average), biases
at PyTorch's default. Deviations: none in the function; the per-channel variant uses one
batched weight tensor instead of a Python loop over nn.Linear modules (same initialisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from csft.models.layers import SeriesDecomposition
from csft.models.settings import setting, supplied


@dataclass(frozen=True)
class DLinearConfig:
    """Shape and options of DLinear."""

    lookback: int = supplied("Input length L (the job's look-back).")
    horizon: int = supplied("Forecast length H (the job's horizon).")
    n_channels: int = supplied("Channels C of the data (only used when individual).")
    kernel_size: int = setting(
        25, "Moving-average window (odd).", minimum=1, not_={"multipleOf": 2}
    )
    individual: bool = setting(False, "One linear map per channel.")


class TimeLinear(nn.Module):
    """Linear map over the time axis, shared by all channels or one per channel."""

    def __init__(self, lookback: int, horizon: int, n_channels: int, individual: bool):
        super().__init__()
        groups = n_channels if individual else 1
        self.weight = nn.Parameter(torch.full((groups, horizon, lookback), 1.0 / lookback))
        bound = 1.0 / math.sqrt(lookback)  # nn.Linear's default bias initialisation
        self.bias = nn.Parameter(torch.empty(groups, horizon).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, L) -> (B, C, H)."""
        return torch.einsum("bcl,chl->bch", x, self.weight.expand(x.shape[1], -1, -1)) + self.bias


class DLinear(nn.Module):
    """Forecaster: (B, L, C) look-back -> (B, H, C) forecast."""

    Config = DLinearConfig

    def __init__(self, config: DLinearConfig):
        super().__init__()
        self.config = config
        self.decomposition = SeriesDecomposition(config.kernel_size)
        args = (config.lookback, config.horizon, config.n_channels, config.individual)
        self.seasonal = TimeLinear(*args)
        self.trend = TimeLinear(*args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, C) -> (B, H, C)."""
        seasonal, trend = self.decomposition(x)  # (B, L, C) each
        out = self.seasonal(seasonal.transpose(1, 2)) + self.trend(
            trend.transpose(1, 2)
        )  # (B, C, H)
        return out.transpose(1, 2)  # (B, H, C)
