"""Blocks shared by CSFT and the baselines; each lives here once and is imported, never copied."""

from __future__ import annotations

import math

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


class RevIN(nn.Module):
    """Reversible instance normalization (Kim et al., ICLR 2022) over the time axis.

    Each series in the batch is standardised by its own mean and std before the model and the
    forecast is mapped back after it, which removes level shifts between train and test. The
    statistics are detached, as in the reference implementation (ts-kim/RevIN, PatchTST).
    """

    def __init__(self, n_channels: int, affine: bool = False, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(n_channels))
            self.bias = nn.Parameter(torch.zeros(n_channels))

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: (B, L, C) -> (normalized (B, L, C), statistics for `denormalize`)."""
        mean = x.mean(dim=1, keepdim=True).detach()  # (B, 1, C)
        std = torch.sqrt(
            x.var(dim=1, keepdim=True, unbiased=False) + self.eps
        ).detach()  # (B, 1, C)
        z = (x - mean) / std
        if self.affine:
            z = z * self.weight + self.bias
        return z, (mean, std)

    def denormalize(
        self, y: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """y: (B, H, C) on the normalized scale -> (B, H, C) on the input's scale."""
        mean, std = stats
        if self.affine:
            y = (y - self.bias) / (self.weight + self.eps**2)
        return y * std + mean


def sinusoidal_positions(n_positions: int, width: int) -> torch.Tensor:
    """Fixed sine/cosine position codes (Vaswani et al., 2017): (n_positions, width)."""
    position = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)  # (P, 1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(1e4) / width))
    codes = torch.zeros(n_positions, width)
    codes[:, 0::2] = torch.sin(position * frequency)
    codes[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return codes


def transformer_encoder(
    width: int, n_heads: int, n_layers: int, ffn_ratio: int, dropout: float
) -> nn.TransformerEncoder:
    """A standard post-norm Transformer encoder over (B, P, width) tokens."""
    layer = nn.TransformerEncoderLayer(
        width, n_heads, dim_feedforward=ffn_ratio * width, dropout=dropout, batch_first=True
    )
    return nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
