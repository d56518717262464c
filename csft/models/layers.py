"""Blocks shared by CSFT and the baselines; each lives here once and is imported, never copied."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
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

    def normalize(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: (B, L, C) -> (normalized (B, L, C), statistics for `denormalize`).

        `observed` (B, L, C) bool: statistics over the observed points only; the others (any
        value, NaN included) are never read and come back as NaN (irregular sampling)."""
        if observed is not None:
            weight = observed.to(x.dtype)
            count = weight.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1, C)
            values = x.masked_fill(~observed, 0.0)
            mean = (values.sum(dim=1, keepdim=True) / count).detach()  # (B, 1, C)
            var = ((values - mean) * weight).pow(2).sum(dim=1, keepdim=True) / count
            std = torch.sqrt(var + self.eps).detach()  # (B, 1, C)
            z = ((values - mean) / std).masked_fill(~observed, float("nan"))
            if self.affine:
                z = z * self.weight + self.bias
            return z, (mean, std)
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


# TS2Vec's hierarchical contrastive loss (official code: models/losses.py); TS2Vec trains with
# it, and CSFT's optional contrastive pretraining term applies it to every scale's tokens.


def _contrast(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a, b: (G, M, C), M items per group in two views -> mean over the 2M anchors of every
    group of -log softmax of the anchor's other view, against the other 2M - 2 items of its
    group (itself excluded); 0 when M = 1 (no negatives)."""
    g, m, _ = a.shape
    if m == 1:
        return a.new_zeros(())
    z = torch.cat([a, b], dim=1)  # (G, 2M, C)
    sim = z @ z.transpose(1, 2)  # (G, 2M, 2M)
    self_pairs = torch.eye(2 * m, dtype=torch.bool, device=z.device)
    log_p = F.log_softmax(sim.masked_fill(self_pairs, float("-inf")), dim=-1)  # (G, 2M, 2M)
    anchors = torch.arange(2 * m, device=z.device)
    return -log_p[:, anchors, (anchors + m) % (2 * m)].mean()


def instance_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """z1, z2: (B, T, C): at each step, the same series' other view against the batch."""
    return _contrast(z1.transpose(0, 1), z2.transpose(0, 1))


def temporal_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """z1, z2: (B, T, C): within each series, the same step's other view against other steps."""
    return _contrast(z1, z2)


def hierarchical_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5, temporal_unit: int = 0
) -> torch.Tensor:
    """z1, z2: (B, T, C) the two views' overlap -> scalar: the mean over pooling levels (max-pool
    by 2 along time until one step) of alpha * instance + (1 - alpha) * temporal contrast (the
    temporal term from level temporal_unit on, none at length 1)."""
    loss = z1.new_zeros(())
    levels = 0
    while True:
        if alpha != 0:
            loss = loss + alpha * instance_contrastive_loss(z1, z2)
        if z1.size(1) == 1:
            return loss / (levels + 1)
        if levels >= temporal_unit and alpha != 1:
            loss = loss + (1 - alpha) * temporal_contrastive_loss(z1, z2)
        levels += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
