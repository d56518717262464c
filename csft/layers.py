"""Blocks shared by CSFT and the baselines; each lives here once and is imported, never copied."""

from __future__ import annotations

import torch
from torch import nn


class MovingAverage(nn.Module):
    """Moving average over time that keeps the length by repeating the edge values.

    The edge padding (rather than zeros) is what Autoformer and DLinear use, so the trend does
    not dip towards zero at the ends of the window.
    """

    def __init__(self, kernel_size: int):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        self.kernel_size = kernel_size
        self.pool = nn.AvgPool1d(kernel_size=kernel_size, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, C) -> (B, L, C)."""
        half = (self.kernel_size - 1) // 2
        padded = torch.cat(
            [x[:, :1].expand(-1, half, -1), x, x[:, -1:].expand(-1, half, -1)], dim=1
        )
        return self.pool(padded.transpose(1, 2)).transpose(1, 2)  # (B, L, C)


class SeriesDecomposition(nn.Module):
    """Split a series into trend (moving average) and seasonal remainder."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.moving_average = MovingAverage(kernel_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, L, C) -> (seasonal (B, L, C), trend (B, L, C))."""
        trend = self.moving_average(x)
        return x - trend, trend
