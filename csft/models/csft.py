"""CSFT: Conv-like ScaleFusion Transformer (Zhang, Sun, Fan, Yang, Jiang, 2025, arXiv 2509.17845).

No official code is public. This module follows the paper as docs/csft.md states it; every point
the paper leaves open is a CSFTConfig field with the default named there ("Assumptions" in
docs/csft.md):

- patching: non-overlapping patches of `patch_len` (16) -> Linear to d_0 -> LayerNorm ->
  sinusoidal positions -> Transformer encoder = H_0;
- CTL l = 1..L: re-patch `repatch` (2) neighbouring tokens into one (zero-padding at the END of
  the token sequence when the count is odd), normalise each new token over its features
  (our reading of "InstanceNorm over the new tokens": a per-token norm stays defined when a scale
  has a single token), Linear to d_l = min(2 d_{l-1}, d_max), encoder = H*_l;
- fusion: cross-scale multi-head attention, queries from H*_l, keys/values from H_{l-1}
  (learned projections across the differing widths), then residual + LayerNorm on the H*_l side;
  or, for the ablation, a residual H*_l + Linear(re-patched H_{l-1});
- length rule: L = floor(log2(T / patch_len)); a series of length T in [2^k, 2^(k+1)) is
  resampled (anti-aliased, csft.data.resampling) to the grid length 2^k, so H_L is exactly one
  token. The other placements of the uf track (csft.models.placement: length_aware, pad_mask,
  crop) are the config field `placement`; pad_mask's grid is 2^(k+1), so it runs one CTL more.
- missing values (`missing_mask`, open question 2, docs/open_questions.md): NaN in the input
  marks a time point that was not observed; the patch embedding sees [values * mask, mask] per
  patch (2 l_p inputs), RevIN and the input norm use observed points only, and a token whose
  patch (or, at coarser scales, every patch it covers) is unobserved is a key padding token in
  every attention and holds zeros, as pad_mask's padding. A value at a removed point is never
  read (tests/test_irregular.py changes it and checks that no output moves).
Forecasting (channel independent): RevIN -> each channel through the encoder -> a linear head
over the flattened {H_0..H_L} -> horizon, then RevIN inverted. `channel_mixing` (off by default;
the open question of docs/open_questions.md) adds, between the encoder and the head, attention
across the channels of one sample at each token position of every scale (residual + LayerNorm),
so each channel's tokens can read the others'; the encoder itself stays channel independent.
`individual_head` (off) gives each channel its own linear head (PatchTST's `individual`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from csft.data.resampling import resample
from csft.models import placement as placements
from csft.models.layers import RevIN, sinusoidal_positions, transformer_encoder
from csft.models.settings import fixed, setting, supplied

Fusion = Literal["cross_attention", "residual"]
InputNorm = Literal["instance", "none"]
FUSIONS = get_args(Fusion)
INPUT_NORMS = get_args(InputNorm)


# ----------------------------------------------------------------------------- length rule


@dataclass(frozen=True)
class LengthPlan:
    """Where a series of length T sits in log2 space and what the model does with it."""

    length: int  # T
    interval: tuple[int, int]  # [2^k, 2^(k+1)), the lengths sharing this plan's depth and width
    grid_length: int  # 2^k: the series is resampled to this many points
    n_ctl: int  # L: number of Conv-like Transformer Layers


def length_plan(
    length: int, patch_len: int = 16, min_length: int = 64, max_length: int = 8192
) -> LengthPlan:
    """T -> (interval, grid length, L); lengths outside [min_length, max_length) are errors.

    L = floor(log2(T / patch_len)) = k - log2(patch_len) for T in [2^k, 2^(k+1)), so
    T = 512 and 1023 give 5, 1024 and 2047 give 6, 2048 gives 7 (patch_len 16).
    """
    if not min_length <= length < max_length:
        raise ValueError(
            f"series length T={length} is outside the supported range "
            f"[{min_length}, {max_length}); set csft.min_length / max_length to change it"
        )
    k = int(math.floor(math.log2(length)))
    grid = 2**k
    if grid < patch_len:
        raise ValueError(f"series length T={length} is shorter than one patch ({patch_len})")
    return LengthPlan(length, (grid, 2 * grid), grid, int(math.log2(grid // patch_len)))


def place_on_grid(x: torch.Tensor, grid_length: int) -> torch.Tensor:
    """Resample x: (N, T) -> (N, grid_length): low-pass first when shortening (no aliasing),
    then linear interpolation with end points kept (csft.data.resampling)."""
    return resample(x, grid_length)


# ----------------------------------------------------------------------------- blocks


def repatch(tokens: torch.Tensor, group: int) -> torch.Tensor:
    """Concatenate `group` neighbouring tokens: (N, P, d) -> (N, ceil(P / group), group * d).

    When P is not a multiple of `group`, zero tokens are appended at the END, so the first
    coarse token always covers the first time steps and never sees padding.
    """
    n, p, d = tokens.shape
    pad = (-p) % group
    if pad:
        tokens = torch.cat([tokens, tokens.new_zeros(n, pad, d)], dim=1)  # (N, P + pad, d)
    return tokens.reshape(n, (p + pad) // group, group * d)  # (N, P', group * d)


class CrossScaleFusion(nn.Module):
    """H_l = LayerNorm(H*_l + MultiHeadAttention(Q = H*_l, K = V = H_{l-1}))."""

    def __init__(self, width: int, finer_width: int, n_heads: int, dropout: float, residual: bool):
        super().__init__()
        self.attention = nn.MultiheadAttention(
            width, n_heads, dropout=dropout, kdim=finer_width, vdim=finer_width, batch_first=True
        )
        self.residual = residual
        self.norm = nn.LayerNorm(width) if residual else None

    def forward(
        self, coarse: torch.Tensor, fine: torch.Tensor, fine_padding: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """coarse: (N, P_l, d_l), fine: (N, P_{l-1}, d_{l-1}), fine_padding: (P_{l-1},) True at
        padding tokens (never attended to) -> ((N, P_l, d_l), weights (N, heads, P_l, P_{l-1}))."""
        mask = None if fine_padding is None else fine_padding.expand(fine.shape[0], -1)
        fused, weights = self.attention(
            coarse, fine, fine, key_padding_mask=mask, average_attn_weights=False
        )
        return self.norm(coarse + fused) if self.residual else fused, weights


class ResidualFusion(nn.Module):
    """The ablation: H_l = H*_l + Linear(re-patched H_{l-1})."""

    def __init__(self, width: int, finer_width: int, group: int):
        super().__init__()
        self.group = group
        self.project = nn.Linear(group * finer_width, width)

    def forward(
        self, coarse: torch.Tensor, fine: torch.Tensor, fine_padding: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, None]:
        """coarse: (N, P_l, d_l), fine: (N, P_{l-1}, d_{l-1}) -> ((N, P_l, d_l), None).
        Padding tokens of `fine` hold zeros (CSFTEncoder), so they add nothing here."""
        return coarse + self.project(repatch(fine, self.group)), None


class ConvLikeTransformerLayer(nn.Module):
    """One CTL: halve the tokens, widen the features, encode, fuse with the finer scale."""

    def __init__(self, config: CSFTConfig, finer_width: int, width: int):
        super().__init__()
        self.group = config.repatch
        self.widen = nn.Linear(config.repatch * finer_width, width)
        self.encoder = transformer_encoder(
            width, config.n_heads, config.n_layers, config.ffn_ratio, config.dropout
        )
        if config.fusion == "cross_attention":
            self.fusion = CrossScaleFusion(
                width, finer_width, config.n_heads, config.dropout, config.attention_residual
            )
        else:
            self.fusion = ResidualFusion(width, finer_width, config.repatch)

    def forward(
        self,
        fine: torch.Tensor,
        fine_padding: torch.Tensor | None = None,
        padding: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """fine: H_{l-1} (N, P_{l-1}, d_{l-1}) -> (H_l (N, P_l, d_l), attention or None).

        `fine_padding` (P_{l-1},) and `padding` (P_l,) mark padding tokens (pad_mask placement):
        no attention reads them and this layer's padding tokens leave it as zeros.
        """
        grouped = repatch(fine, self.group)  # (N, P_l, group * d_{l-1})
        grouped = F.layer_norm(grouped, grouped.shape[-1:])  # per-token instance norm
        mask = None if padding is None else padding.expand(fine.shape[0], -1)
        coarse = self.encoder(self.widen(grouped), src_key_padding_mask=mask)  # H*_l
        fused, weights = self.fusion(coarse, fine, fine_padding)  # (N, P_l, d_l)
        return zero_padding(fused, padding), weights


class ChannelMixing(nn.Module):
    """Cross-channel attention on one scale: at each token position, every channel's token
    attends to the tokens of all C channels of its sample at that position, then residual +
    LayerNorm (as the cross-scale fusion). Queries and keys carry a learned embedding of the
    channel's identity, so a channel can pick which others it reads; values are the tokens."""

    def __init__(self, width: int, n_channels: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_channels = n_channels
        self.identity = nn.Parameter(0.02 * torch.randn(n_channels, width))  # (C, d)
        self.attention = nn.MultiheadAttention(width, n_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B*C, P, d), the C channels of a sample consecutive -> (B*C, P, d)."""
        n, p, d = tokens.shape
        c = self.n_channels
        if n % c:
            raise ValueError(f"{n} series are not a whole number of samples of {c} channels")
        x = tokens.reshape(n // c, c, p, d).transpose(1, 2).reshape(-1, c, d)  # (B*P, C, d)
        keyed = x + self.identity  # (B*P, C, d)
        mixed, _ = self.attention(keyed, keyed, x, need_weights=False)  # (B*P, C, d)
        x = self.norm(x + mixed)
        return x.reshape(n // c, p, c, d).transpose(1, 2).reshape(n, p, d)  # (B*C, P, d)


def random_patch_mask(n: int, n_patches: int, n_real: int, ratio: float) -> torch.Tensor:
    """(n, n_patches) bool: per series, round(ratio * n_real) of its first n_real patches (at
    least one), drawn uniformly from torch's global generator; padding patches never."""
    count = max(1, round(ratio * n_real))
    order = torch.rand(n, n_real).argsort(dim=1)[:, :count]  # (n, count)
    mask = torch.zeros(n, n_patches, dtype=torch.bool)
    return mask.scatter_(1, order, True)


def zero_padding(tokens: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
    """tokens (N, P, d) with the padding tokens ((P,) or, per series, (N, P) True) set to
    zero; None: unchanged."""
    if padding is None:
        return tokens
    return tokens.masked_fill((padding if padding.dim() == 2 else padding[None])[..., None], 0.0)


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class CSFTConfig:
    """Every architectural choice of CSFT; defaults are the resolutions in docs/csft.md."""

    lookback: int = supplied(
        "T of the forecasting input (the job's look-back; any T of its log2 interval is accepted)."
    )
    horizon: int = supplied("Forecast length H (the job's horizon).")
    n_channels: int = supplied("Channels C (only RevIN and channel_mixing see it).")
    patch_len: int = setting(16, "Patch length = stride (l_p = s_p).", minimum=1)
    repatch: int = fixed(2, "l_rp, tokens merged per CTL (the log2 length rule assumes 2).")
    d_model: int = setting(16, "Width d_0 of the finest scale.", minimum=1)
    d_max: int = setting(0, "Cap on d_l (0: none, the paper's doubling).", minimum=0)
    n_heads: int = setting(4, "Attention heads (self and cross-scale).", minimum=1)
    n_layers: int = setting(1, "Encoder layers per scale.", minimum=1)
    ffn_ratio: int = setting(2, "FFN width as a multiple of d.", minimum=1)
    dropout: float = setting(0.1, "Dropout in encoders and attention.", minimum=0, maximum=1)
    embed_norm: bool = setting(
        True, "LayerNorm after the patch embedding (our reading; the paper does not say)."
    )
    fusion: Fusion = setting(
        "cross_attention", "Cross-scale attention, or the ablation's residual."
    )
    attention_residual: bool = setting(True, "Residual + LayerNorm around cross-scale attention.")
    head_dropout: float = setting(0.0, "Dropout before the forecasting head.", minimum=0, maximum=1)
    revin: bool = setting(True, "Reversible instance normalization of the input.")
    channel_mixing: bool = setting(
        False,
        "Forecasting: attention across channels at each token position of every scale, "
        "between the encoder and the head (off: channel independent, as the paper).",
    )
    individual_head: bool = setting(
        False,
        "Forecasting: one linear head per channel (off: one head shared by every channel).",
    )
    input_norm: InputNorm = setting(
        "instance",
        "instance: each series z-normalised on its grid before patching (level and scale "
        "removed); none: the values as the data policy (ucr.scaling) left them.",
    )
    min_length: int = setting(64, "Shortest supported series length.", minimum=16)
    max_length: int = setting(8192, "Supported lengths are below this.", minimum=32)
    placement: str = supplied(
        "How a look-back of any T in the interval meets the grid (csft.models.placement): the "
        "paper's resample, or length_aware, pad_mask, crop; the uf track's axis, set by the job.",
        "resample",
    )
    missing_mask: bool = setting(
        False,
        "Time-aware input (irregular sampling): NaN marks an unobserved time point; patches "
        "are embedded as [values * mask, mask] and fully unobserved tokens are key padding in "
        "every attention. Needs T = 2^k (no resampling) and placement resample.",
    )

    def __post_init__(self) -> None:
        if self.placement not in placements.PLACEMENTS:
            raise ValueError(
                f"placement must be one of {placements.PLACEMENTS}, got {self.placement!r}"
            )
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {self.input_norm!r}")
        if self.patch_len < 1 or self.patch_len & (self.patch_len - 1):
            raise ValueError(
                f"patch_len={self.patch_len} must be a power of two, so patches tile the 2^k grid"
            )
        if self.repatch != 2:
            raise ValueError("repatch must be 2: the log2 length rule assumes halving per CTL")
        if self.d_max and self.d_max < self.d_model:
            raise ValueError(f"d_max={self.d_max} is below d_model={self.d_model}")
        if self.missing_mask and self.placement != "resample":
            raise ValueError(
                "missing_mask works on the regular grid (placement resample), "
                f"not {self.placement!r}"
            )

    @property
    def plan(self) -> LengthPlan:
        return length_plan(self.lookback, self.patch_len, self.min_length, self.max_length)

    @property
    def grid_length(self) -> int:
        """Points of the grid the encoder sees: 2^k, or 2^(k+1) for pad_mask."""
        return placements.grid_length(self.placement, self.plan.grid_length)

    @property
    def n_ctl(self) -> int:
        """CTLs the encoder runs on its grid: the length rule's L (one more for pad_mask)."""
        return int(math.log2(self.grid_length // self.patch_len))

    def widths(self) -> list[int]:
        """d_0..d_L: doubling per scale, capped at d_max when set."""
        widths = [self.d_model * 2**level for level in range(self.n_ctl + 1)]
        return [min(w, self.d_max) for w in widths] if self.d_max else widths

    def tokens(self) -> list[int]:
        """P_0..P_L: tokens per scale on the grid."""
        tokens = [self.grid_length // self.patch_len]
        for _ in range(self.n_ctl):
            tokens.append(math.ceil(tokens[-1] / self.repatch))
        return tokens


@dataclass
class Scales:
    """The encoder's output for N series: H_0..H_L and the cross-scale attention weights."""

    hidden: list[torch.Tensor]  # H_l: (N, P_l, d_l)
    attention: list[torch.Tensor | None]  # per CTL: (N, heads, P_l, P_{l-1}) or None (residual)
    grid: torch.Tensor  # the input on its grid, after input_norm: (N, grid_length)
    real_length: int | None = None  # pad_mask: grid points before the padding (None: all)
    masked: torch.Tensor | None = None  # masked reconstruction: (N, P_0) True at zeroed patches
    observed: torch.Tensor | None = None  # missing_mask: (N, grid_length) True where observed


class CSFTEncoder(nn.Module):
    """Univariate series (N, T) -> the multi-scale representation {H_0..H_L}."""

    def __init__(self, config: CSFTConfig):
        super().__init__()
        self.config = config
        widths = config.widths()
        # missing_mask: each patch's values and its observation mask, side by side
        self.embed = nn.Linear(config.patch_len * (2 if config.missing_mask else 1), widths[0])
        self.embed_norm = nn.LayerNorm(widths[0]) if config.embed_norm else nn.Identity()
        self.register_buffer(
            "positions", sinusoidal_positions(config.tokens()[0], widths[0]), persistent=False
        )
        self.encoder = transformer_encoder(
            widths[0], config.n_heads, config.n_layers, config.ffn_ratio, config.dropout
        )
        self.layers = nn.ModuleList(
            ConvLikeTransformerLayer(config, widths[level - 1], widths[level])
            for level in range(1, len(widths))
        )
        # length_aware: log2(T / 2^k) -> a vector added to every input token
        self.length_embed = nn.Linear(1, widths[0]) if config.placement == "length_aware" else None

    def check_input(self, x: torch.Tensor) -> None:
        if self.config.missing_mask:  # NaN = not observed; infinities are still errors
            if torch.isinf(x).any():
                raise ValueError("CSFT input contains infinite values")
            if torch.isnan(x).all(dim=-1).any():
                raise ValueError("a series with no observed time point (all NaN)")
        elif not torch.isfinite(x).all():
            raise ValueError(
                "CSFT input contains NaN or infinite values; clean or impute them first "
                "(or set missing_mask: true, which reads NaN as not observed)"
            )
        plan = length_plan(
            x.shape[-1], self.config.patch_len, self.config.min_length, self.config.max_length
        )  # the interval rule holds for every placement
        if plan.grid_length != self.config.plan.grid_length:
            lo, hi = self.config.plan.interval
            raise ValueError(
                f"series length T={x.shape[-1]} is outside this model's interval [{lo}, {hi}); "
                "a model serves one log2 interval (its depth and width depend on it)"
            )

    def forward(self, x: torch.Tensor, mask_ratio: float = 0.0) -> Scales:
        """x: (N, T), T in the model's interval -> Scales with H_l: (N, P_l, d_l).
        `mask_ratio` > 0: that fraction of H_0's patches zeroed (masked reconstruction)."""
        self.check_input(x)
        config, length = self.config, x.shape[-1]
        if config.missing_mask:
            if length != config.grid_length:
                raise ValueError(
                    f"missing_mask needs series of exactly {config.grid_length} points (no "
                    f"resampling of unobserved points), got T={length}"
                )
            observed = ~torch.isnan(x)  # (N, T)
            return self.encode_grid(x.masked_fill(~observed, 0.0), observed=observed)
        if config.placement == "crop":
            grid = placements.crop_to_grid(x, config.grid_length)
            return self.encode_grid(grid, mask_ratio=mask_ratio)
        if config.placement == "pad_mask":
            grid = placements.pad_to_grid(x, config.grid_length)
            return self.encode_grid(grid, length, mask_ratio=mask_ratio)
        grid = place_on_grid(x, config.grid_length)  # (N, 2^k)
        offset = placements.length_offset(length, config.plan.grid_length)
        offset = offset if self.length_embed is not None else None
        return self.encode_grid(grid, offset=offset, mask_ratio=mask_ratio)

    def encode_grid(
        self,
        grid: torch.Tensor,
        real_length: int | None = None,
        offset: float | None = None,
        mask_ratio: float = 0.0,
        observed: torch.Tensor | None = None,
    ) -> Scales:
        """Series already on a grid of 2^j points, 2^j <= this model's grid -> {H_0..H_Lj}.

        A shorter grid runs the first L_j = log2(2^j / l_p) CTLs only: the scales every
        interval shares use the same weights (the classification track's per-interval policy).
        `real_length` (pad_mask): only the first points are the series; what follows is padding,
        never read (its values do not matter). `offset` (length_aware): log2(T / 2^k).
        `mask_ratio` > 0 (masked reconstruction, as PatchTST's self-supervised mode): that
        fraction of each series' real patches, drawn from torch's generator, zeroed before the
        embedding; Scales.masked marks them, Scales.grid keeps their values (the targets).
        `observed` (missing_mask): (N, 2^j) True at observed points; the values elsewhere are
        never read, and tokens covering no observed point are key padding at every scale.
        """
        config, length = self.config, grid.shape[-1]
        depth = math.log2(length / config.patch_len)
        if not depth.is_integer() or not 0 <= depth <= config.n_ctl:
            raise ValueError(
                f"grid length {length} is not patch_len * 2^L with L <= {config.n_ctl}"
            )
        if config.missing_mask:
            if real_length is not None or mask_ratio > 0:
                raise ValueError("missing_mask encodes a grid with its `observed` mask only")
            if observed is None:  # a grid placed elsewhere (classification): NaN = unobserved
                observed = ~torch.isnan(grid)
            return self.encode_observed(grid, observed, int(depth))
        if real_length is not None and not 0 < real_length <= length:
            raise ValueError(f"real_length {real_length} must be in [1, {length}]")
        if real_length is not None:
            if config.input_norm == "instance":
                grid = placements.masked_instance_norm(grid, real_length)  # padding -> 0
            else:
                grid = placements.pad_to_grid(grid[:, :real_length], length)
        elif config.input_norm == "instance":
            grid = F.instance_norm(grid.unsqueeze(1)).squeeze(1)  # (N, 2^j): zero mean, unit var
        patches = grid.unfold(-1, config.patch_len, config.patch_len)  # (N, P_0, l_p)
        masked = None
        if mask_ratio > 0:
            real = patches.shape[1] if real_length is None else -(-real_length // config.patch_len)
            masked = random_patch_mask(patches.shape[0], patches.shape[1], real, mask_ratio)
            patches = patches.masked_fill(masked.to(patches.device)[..., None], 0.0)
        positions = self.positions[: patches.shape[1]]  # (P_0, d_0)
        tokens = self.embed_norm(self.embed(patches)) + positions  # (N, P_0, d_0)
        if self.length_embed is not None:
            if offset is None:
                raise ValueError("placement length_aware needs the look-back's offset log2(T/2^k)")
            tokens = tokens + self.length_embed(tokens.new_full((1, 1), offset))  # (1, d_0)
        padding = [None] * (int(depth) + 1)
        if real_length is not None:
            counts = placements.real_tokens(real_length, config.patch_len, int(depth) + 1)
            padding = [
                placements.padding_mask(n, real, grid.device)
                for n, real in zip(config.tokens(), counts, strict=False)
            ]
        mask = None if padding[0] is None else padding[0].expand(grid.shape[0], -1)
        hidden = [zero_padding(self.encoder(tokens, src_key_padding_mask=mask), padding[0])]
        attention = []  # H_0: (N, P_0, d_0)
        for level, layer in enumerate(self.layers[: int(depth)], start=1):
            h, weights = layer(hidden[-1], padding[level - 1], padding[level])  # (N, P_l, d_l)
            hidden.append(h)
            attention.append(weights)
        return Scales(hidden, attention, grid, real_length, masked)

    def encode_observed(self, grid: torch.Tensor, observed: torch.Tensor, depth: int) -> Scales:
        """missing_mask: grid (N, 2^j) whose values count only where `observed` (N, 2^j) is
        True -> {H_0..H_L}. Input norm over observed points; patches embedded as [values * mask,
        mask]; a token that covers no observed point is key padding (per series) at its scale.
        """
        config, weight = self.config, observed.to(grid.dtype)  # (N, 2^j)
        values = grid.masked_fill(~observed, 0.0)  # never read beyond this line where unobserved
        if config.input_norm == "instance":
            count = weight.sum(dim=1, keepdim=True).clamp(min=1)  # (N, 1)
            mean = values.sum(dim=1, keepdim=True) / count
            var = ((values - mean) * weight).pow(2).sum(dim=1, keepdim=True) / count
            values = (values - mean) / torch.sqrt(var + 1e-5) * weight  # (N, 2^j), 0 unobserved
        patches = values.unfold(-1, config.patch_len, config.patch_len)  # (N, P_0, l_p)
        masks = weight.unfold(-1, config.patch_len, config.patch_len)  # (N, P_0, l_p)
        tokens = self.embed_norm(self.embed(torch.cat([patches, masks], dim=-1)))  # (N, P_0, d_0)
        tokens = tokens + self.positions[: patches.shape[1]]
        padding = [masks.sum(dim=-1) == 0]  # (N, P_0): True where no point is observed
        for _ in range(depth):
            missing = padding[-1]
            if missing.shape[1] % config.repatch:  # repatch pads at the END: padding is missing
                missing = F.pad(missing, (0, config.repatch - missing.shape[1] % config.repatch),
                                value=True)  # fmt: skip
            padding.append(missing.reshape(missing.shape[0], -1, config.repatch).all(dim=-1))
        hidden = [zero_padding(self.encoder(tokens, src_key_padding_mask=padding[0]), padding[0])]
        attention = []  # H_0: (N, P_0, d_0)
        for level, layer in enumerate(self.layers[:depth], start=1):
            h, weights = layer(hidden[-1], padding[level - 1], padding[level])  # (N, P_l, d_l)
            hidden.append(h)
            attention.append(weights)
        return Scales(hidden, attention, values, None, None, observed)

    def encode(self, x: torch.Tensor, mask_ratio: float = 0.0) -> Scales:
        """x: (N, T) in this model's interval, or (N, 2^j) already on a shallower interval's
        grid (the per-interval policy) -> Scales; the one entry point for both."""
        if x.shape[-1] < self.config.plan.interval[0]:
            return self.encode_grid(x, mask_ratio=mask_ratio)
        return self.forward(x, mask_ratio)

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        """The fixed-size representation H_L of each series: (N, T) -> (N, d_L).

        H_L has one token on every placement's grid (pad_mask: 2^(k+1) points, one CTL more),
        and that token always covers real points, so it pools real tokens only."""
        return self.encode(x).hidden[-1][:, 0]  # (N, d_L)


class CSFT(nn.Module):
    """Forecaster: (B, T, C) look-back -> (B, H, C), channel independent unless
    `channel_mixing`."""

    Config = CSFTConfig
    pretrains = True  # its `encoder` is pretrained self-supervised (csft.jobs.pretrain)
    reports_diagnostics = True  # gradient-norm ratios and cross-scale attention entropy

    def __init__(self, config: CSFTConfig):
        super().__init__()
        self.config = config
        self.revin = RevIN(config.n_channels) if config.revin else None
        self.encoder = CSFTEncoder(config)
        features = sum(p * d for p, d in zip(config.tokens(), config.widths(), strict=True))
        self.mixing = None
        if config.channel_mixing:
            if config.placement == "pad_mask":
                raise ValueError("channel_mixing is not defined for placement pad_mask")
            self.mixing = nn.ModuleList(
                ChannelMixing(width, config.n_channels, config.n_heads, config.dropout)
                for width in config.widths()
            )
        self.head = None
        if config.individual_head and config.n_channels > 1:  # one map per channel: (C, F, H)
            bound = 1 / math.sqrt(features)  # nn.Linear's initialisation, per channel
            self.channel_heads = nn.Parameter(
                torch.empty(config.n_channels, features, config.horizon).uniform_(-bound, bound)
            )
            self.channel_bias = nn.Parameter(
                torch.empty(config.n_channels, config.horizon).uniform_(-bound, bound)
            )
            self.channel_dropout = nn.Dropout(config.head_dropout)
        else:
            self.head = nn.Sequential(
                nn.Flatten(), nn.Dropout(config.head_dropout), nn.Linear(features, config.horizon)
            )

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        """Frozen features of univariate series x: (N, T) -> H_L, (N, d_L) (shared analysis API)."""
        return self.encoder.represent(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, C) -> (B, H, C)."""
        b, _, c = x.shape
        stats = None
        if self.config.placement == "crop":  # before RevIN: its statistics see what the model sees
            x = x[:, -self.config.grid_length :]  # (B, 2^k, C)
        if self.revin is not None:
            observed = ~torch.isnan(x) if self.config.missing_mask else None  # (B, T, C)
            x, stats = self.revin.normalize(x, observed)  # (B, T, C), NaN stays NaN
        series = x.transpose(1, 2).reshape(b * c, -1)  # (B*C, T)
        hidden = self.encoder(series).hidden  # H_l: (B*C, P_l, d_l)
        if self.mixing is not None:
            hidden = [mix(h) for mix, h in zip(self.mixing, hidden, strict=True)]
        flat = torch.cat([h.flatten(1) for h in hidden], dim=1)  # (B*C, sum P_l d_l)
        if self.head is None:  # individual heads
            flat = self.channel_dropout(flat).reshape(b, c, -1)  # (B, C, features)
            y = torch.einsum("bcf,cfh->bhc", flat, self.channel_heads)  # (B, H, C)
            y = y + self.channel_bias.T  # (H, C)
        else:
            y = self.head(flat).reshape(b, c, -1).transpose(1, 2)  # (B, H, C)
        return self.revin.denormalize(y, stats) if self.revin is not None else y


class CSFTClassifier(nn.Module):
    """Classifier: a linear head on H_L, the fixed-size representation of a whole series.

    `depths` lists the CTL counts of the intervals the data reach. With the per-interval
    policy each series sits on its own interval's grid: the scales all intervals share use the
    same weights, and intervals whose H_L has the same width d_L (d_max caps it) share one
    head, so every head sees as many series, and classes, as possible. The default is this
    config's interval alone (the common policy: every series on the longest one's grid).
    """

    def __init__(self, config: CSFTConfig, n_classes: int, depths: list[int] | None = None):
        super().__init__()
        if config.placement != "resample":
            raise ValueError(
                f"classification places series by its length policies; placement "
                f"{config.placement!r} is for the forecasting uf track only"
            )
        depths = sorted(set(depths or [config.plan.n_ctl]))
        if depths[0] < 0 or depths[-1] > config.plan.n_ctl:
            raise ValueError(f"depths {depths} must lie in [0, {config.plan.n_ctl}]")
        self.encoder = CSFTEncoder(config)
        widths = sorted({config.widths()[d] for d in depths})
        self.heads = nn.ModuleDict({str(w): nn.Linear(w, n_classes) for w in widths})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T) series in the model's interval, or already on a shallower interval's grid
        (2^j points) -> (B, n_classes) logits."""
        features = self.encoder.encode(x).hidden[-1][:, 0]  # H_L: (B, d_L)
        width = str(features.shape[-1])
        if width not in self.heads:
            raise ValueError(f"no head for width d_L={width}; this model has {sorted(self.heads)}")
        return self.heads[width](features)  # (B, K)
