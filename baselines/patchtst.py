"""PatchTST, supervised: channel-independent patches through a Transformer encoder.

Paper: Y. Nie, N. H. Nguyen, P. Sinthong, J. Kalagnanam, "A Time Series is Worth 64 Words:
Long-term Forecasting with Transformers", ICLR 2023. Official code: github.com/yuqinie98/PatchTST,
PatchTST_supervised/ (models/PatchTST.py, layers/PatchTST_backbone.py, layers/RevIN.py).

The same function as the official supervised model, written shorter: RevIN (affine off,
subtract the mean, statistics detached), end padding by repeating the last value `stride`
times, patches of `patch_len` every `stride`, a linear patch embedding plus a learned positional
table (uniform(-0.02, 0.02)) with dropout, post-norm encoder layers with BatchNorm over the model
width, residual attention (each layer adds the previous layer's pre-softmax scores, as
Realformer), a fixed 1/sqrt(d_head) scale kept as a non-trainable parameter (the official "lsa"
switch off), GELU FFN, and the flatten head (dropout after the linear map). Dropout placements
follow the official code: after the embedding, on the attention output projection, inside the
FFN, and on both residual branches. Deviations: none in the function; the series
decomposition variant and the individual head are not implemented (the official scripts use
neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from csft.models.layers import RevIN
from csft.models.settings import setting, supplied

Representation = Literal["mean", "flatten"]
REPRESENTATIONS = get_args(Representation)


@dataclass(frozen=True)
class PatchTSTConfig:
    """Shape and options of PatchTST. Defaults: the official scripts' 3-layer, d_model 128, 16-head,
    d_ff 256 architecture with run_longExp.py's dropout 0.05; per-dataset settings come from the
    config presets."""

    lookback: int = supplied("Input length L (the job's look-back).")
    horizon: int = supplied("Forecast length H (the job's horizon).")
    n_channels: int = supplied("Channels C (RevIN only; the model is channel independent).")
    patch_len: int = setting(16, "Patch length.", minimum=1)
    stride: int = setting(8, "Patch stride.", minimum=1)
    pad_end: bool = setting(
        True,
        "Pad the end by repeating the last value `stride` times (official padding_patch: end).",
    )
    n_layers: int = setting(3, "Encoder layers (e_layers).", minimum=1)
    d_model: int = setting(128, "Model width.", minimum=1)
    n_heads: int = setting(16, "Attention heads.", minimum=1)
    d_ff: int = setting(256, "FFN width.", minimum=1)
    dropout: float = setting(
        0.05,
        "Dropout (embedding, attention output, FFN, residual branches).",
        minimum=0,
        maximum=1,
    )
    attn_dropout: float = setting(0.0, "Dropout on attention weights.", minimum=0, maximum=1)
    head_dropout: float = setting(0.0, "Dropout after the flatten head.", minimum=0, maximum=1)
    revin: bool = setting(True, "RevIN on the input.")
    affine: bool = setting(False, "Learnable RevIN affine map.")
    residual_attention: bool = setting(
        True, "Add the previous layer's attention scores (official res_attention)."
    )
    representation: Representation = setting(
        "mean",
        "Frozen features for the analyses: mean over patches of the last layer, or all patches "
        "flattened.",
    )

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}")
        if self.lookback < self.patch_len:
            raise ValueError(
                f"lookback {self.lookback} is shorter than one patch ({self.patch_len})"
            )

    @property
    def n_patches(self) -> int:
        return (self.lookback - self.patch_len) // self.stride + 1 + int(self.pad_end)


class BatchNormTokens(nn.Module):
    """BatchNorm1d over the model width of (N, P, d) tokens."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, P, d) -> (N, P, d)."""
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class ResidualAttention(nn.Module):
    """Multi-head self-attention that adds the previous layer's pre-softmax scores."""

    def __init__(self, config: PatchTSTConfig):
        super().__init__()
        d, heads = config.d_model, config.n_heads
        self.heads = heads
        self.W_Q, self.W_K, self.W_V = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.scale = nn.Parameter(torch.tensor((d // heads) ** -0.5), requires_grad=False)
        self.attn_dropout = nn.Dropout(config.attn_dropout)
        self.to_out = nn.Sequential(nn.Linear(d, d), nn.Dropout(config.dropout))
        self.residual = config.residual_attention

    def forward(
        self, x: torch.Tensor, prev: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, P, d), prev: (N, heads, P, P) or None -> (out (N, P, d), scores (N, heads, P, P))."""  # noqa: E501
        n, p, d = x.shape
        q = self.W_Q(x).view(n, p, self.heads, -1).transpose(1, 2)  # (N, heads, P, d_head)
        k = self.W_K(x).view(n, p, self.heads, -1).transpose(1, 2)  # (N, heads, P, d_head)
        v = self.W_V(x).view(n, p, self.heads, -1).transpose(1, 2)  # (N, heads, P, d_head)
        scores = q @ k.transpose(-2, -1) * self.scale  # (N, heads, P, P)
        if prev is not None and self.residual:
            scores = scores + prev
        weights = self.attn_dropout(F.softmax(scores, dim=-1))  # (N, heads, P, P)
        out = (weights @ v).transpose(1, 2).reshape(n, p, d)  # (N, P, d)
        return self.to_out(out), scores


class EncoderLayer(nn.Module):
    """Post-norm layer: x + attention -> BatchNorm -> x + FFN -> BatchNorm."""

    def __init__(self, config: PatchTSTConfig):
        super().__init__()
        d = config.d_model
        self.self_attn = ResidualAttention(config)
        self.dropout_attn = nn.Dropout(config.dropout)
        self.norm_attn = BatchNormTokens(d)
        self.ff = nn.Sequential(
            nn.Linear(d, config.d_ff),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.d_ff, d),
        )
        self.dropout_ffn = nn.Dropout(config.dropout)
        self.norm_ffn = BatchNormTokens(d)

    def forward(
        self, x: torch.Tensor, prev: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, P, d) -> ((N, P, d), attention scores (N, heads, P, P))."""
        attended, scores = self.self_attn(x, prev)
        x = self.norm_attn(x + self.dropout_attn(attended))
        x = self.norm_ffn(x + self.dropout_ffn(self.ff(x)))
        return x, scores


class PatchTST(nn.Module):
    """Forecaster: (B, L, C) look-back -> (B, H, C); channels share every weight."""

    Config = PatchTSTConfig

    def __init__(self, config: PatchTSTConfig):
        super().__init__()
        self.config = config
        self.revin = RevIN(config.n_channels, affine=config.affine) if config.revin else None
        self.W_P = nn.Linear(config.patch_len, config.d_model)
        self.W_pos = nn.Parameter(
            torch.empty(config.n_patches, config.d_model).uniform_(-0.02, 0.02)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layers))
        self.head = nn.Sequential(
            nn.Flatten(start_dim=-2),
            nn.Linear(config.d_model * config.n_patches, config.horizon),
            nn.Dropout(config.head_dropout),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized series x: (N, L) -> the last encoder layer's patches (N, P, d)."""
        if self.config.pad_end:
            x = torch.cat([x, x[:, -1:].expand(-1, self.config.stride)], dim=1)  # (N, L + stride)
        patches = x.unfold(-1, self.config.patch_len, self.config.stride)  # (N, P, patch_len)
        z = self.dropout(self.W_P(patches) + self.W_pos)  # (N, P, d)
        scores = None
        for layer in self.layers:
            z, scores = layer(z, scores)
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, C) -> (B, H, C)."""
        b, _, c = x.shape
        stats = None
        if self.revin is not None:
            x, stats = self.revin.normalize(x)  # (B, L, C)
        z = self.encode(x.transpose(1, 2).reshape(b * c, -1))  # (B*C, P, d)
        # The official head flattens (d, P) with d outermost: keep that order for equal weights.
        y = self.head(z.transpose(1, 2)).reshape(b, c, -1).transpose(1, 2)  # (B, H, C)
        return self.revin.denormalize(y, stats) if self.revin is not None else y

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        """Frozen features of univariate series x: (N, L) -> (N, D).

        "mean": the last layer's patches averaged over patches (D = d_model); "flatten": all
        patches flattened as the forecasting head sees them (D = d_model * P). Each series is
        instance-normalised first, as RevIN does in forecasting.
        """
        x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(
            x.var(dim=1, keepdim=True, unbiased=False) + 1e-5
        )
        z = self.encode(x)  # (N, P, d)
        return (
            z.mean(dim=1) if self.config.representation == "mean" else z.transpose(1, 2).flatten(1)
        )


class PatchTSTClassifier(nn.Module):
    """Supervised classifier: the PatchTST encoder and a linear head on the last patch.

    The head follows the official self-supervised code's ClassificationHead (the last patch's
    embedding, dropout, linear); `config.horizon` is unused. Input series are
    instance-normalised as RevIN does in forecasting.
    """

    def __init__(self, config: PatchTSTConfig, n_classes: int):
        super().__init__()
        self.backbone = PatchTST(config)
        del self.backbone.head  # the forecasting head is replaced by the classification head
        self.head = nn.Sequential(
            nn.Dropout(config.head_dropout), nn.Linear(config.d_model, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L) univariate series -> (B, n_classes) logits."""
        x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(
            x.var(dim=1, keepdim=True, unbiased=False) + 1e-5
        )
        z = self.backbone.encode(x)  # (B, P, d)
        return self.head(z[:, -1])  # (B, n_classes)
