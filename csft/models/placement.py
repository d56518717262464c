"""How a look-back of any length T in [2^k, 2^(k+1)) is put onto CSFT's fixed token grid.

The variable-length (uf) track serves every T of an interval with one model; these are the
ways of doing it that it compares (config `forecast_uf.placement`, model field `placement`):

- `resample`: the paper's length rule: T points resampled (anti-aliased) onto 2^k
  (csft.models.csft.place_on_grid);
- `length_aware`: `resample`, plus what it removes: log2(T / 2^k) in [0, 1), embedded by the
  encoder and added to every input token;
- `pad_mask`: the series kept as is, zero-padded at its END to 2^(k+1), and every attention told
  which tokens are padding (key padding masks), so padded tokens are never attended to and hold
  zeros; the grid is twice as long, so the encoder runs one CTL more than `resample`;
- `crop`: the last 2^k points only: the control that uses nothing beyond 2^k.

Each function is small on purpose: what differs between placements is visible here at once.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PLACEMENTS = ("resample", "length_aware", "pad_mask", "crop")


def grid_length(placement: str, interval_low: int) -> int:
    """The grid the encoder sees for an interval [2^k, 2^(k+1)): 2^(k+1) for `pad_mask`,
    2^k for every other placement."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    return 2 * interval_low if placement == "pad_mask" else interval_low


def crop_to_grid(x: torch.Tensor, grid: int) -> torch.Tensor:
    """x: (N, T), T >= grid -> (N, grid): the last `grid` points (the most recent ones)."""
    if x.shape[-1] < grid:
        raise ValueError(f"cannot crop T={x.shape[-1]} points to a grid of {grid}")
    return x[..., -grid:]


def pad_to_grid(x: torch.Tensor, grid: int) -> torch.Tensor:
    """x: (N, T), T <= grid -> (N, grid): zeros appended at the END (real points first)."""
    if x.shape[-1] > grid:
        raise ValueError(f"cannot pad T={x.shape[-1]} points to a grid of {grid}")
    return F.pad(x, (0, grid - x.shape[-1]))


def place_observed(x: torch.Tensor, grid: int) -> torch.Tensor:
    """x: (T,) with NaN at unobserved points -> (grid,): each observed point at its timestamp,
    t * grid / T rounded down (several in one slot: their mean), NaN where none falls: CSFT's
    time-aware input (`missing_mask`) on a grid, never a value made up for a missing point."""
    length = x.shape[-1]
    observed = ~torch.isnan(x)
    slots = (torch.arange(length, device=x.device) * grid) // length  # (T,)
    sums = torch.zeros(grid, dtype=x.dtype, device=x.device)
    counts = torch.zeros(grid, dtype=x.dtype, device=x.device)
    sums.index_add_(0, slots[observed], x[observed])
    counts.index_add_(0, slots[observed], torch.ones_like(x[observed]))
    return torch.where(counts > 0, sums / counts.clamp(min=1), torch.nan)  # (grid,)


def length_offset(length: int, interval_low: int) -> float:
    """log2(T / 2^k) in [0, 1): where T sits inside its interval, the fact `resample` hides."""
    return math.log2(length / interval_low)


def real_tokens(real_length: int, patch_len: int, n_scales: int, group: int = 2) -> list[int]:
    """Tokens holding at least one real point, per scale: [ceil(T / l_p), then halving up]."""
    counts = [math.ceil(real_length / patch_len)]
    for _ in range(n_scales - 1):
        counts.append(math.ceil(counts[-1] / group))
    return counts


def padding_mask(n_tokens: int, n_real: int, device: torch.device | None = None) -> torch.Tensor:
    """(n_tokens,) bool, True where a token is padding: PyTorch's key_padding_mask convention."""
    return torch.arange(n_tokens, device=device) >= n_real


def masked_instance_norm(grid: torch.Tensor, real_length: int, eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit variance over the first `real_length` points of each row of (N, G); the
    padding after them is set to 0, whatever it held."""
    real = grid[:, :real_length]  # (N, T)
    mean = real.mean(dim=1, keepdim=True)
    var = real.var(dim=1, unbiased=False, keepdim=True)
    normed = (real - mean) / torch.sqrt(var + eps)  # (N, T)
    return F.pad(normed, (0, grid.shape[1] - real_length))  # (N, G)
