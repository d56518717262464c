"""Put a series on another number of points without aliasing: the one resampler of the suite.

Lengthening is linear interpolation (end points kept). Shortening T -> n points first low-pass
filters below the new Nyquist frequency (a windowed-sinc FIR from `scipy.signal.firwin`, cutoff
n / T of the old Nyquist, applied with point-reflected edges, so a straight line passes
unchanged, end points included), then interpolates: without the filter a
component above n / 2 cycles per series folds back as a false slow one (HouseTwenty's 2000
points onto a 1024 grid, the uf track's [512, 1024) onto 512).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

TAPS_PER_RATIO = 16  # filter half-length per unit of the shortening ratio T / n


@functools.lru_cache(maxsize=256)
def lowpass_taps(length: int, target: int) -> np.ndarray:
    """FIR taps (odd count, unit DC gain) passing what a `target`-point grid can hold."""
    from scipy.signal import firwin

    half = TAPS_PER_RATIO * int(np.ceil(length / target))
    return firwin(2 * half + 1, target / length, window="hamming").astype(np.float32)


def lowpass(x: torch.Tensor, target: int) -> torch.Tensor:
    """x: (N, T) -> (N, T) with what lies above `target` / 2 cycles per series removed."""
    length = x.shape[-1]
    taps = torch.as_tensor(lowpass_taps(length, target), dtype=x.dtype, device=x.device)
    half = len(taps) // 2
    padded = x.unsqueeze(1)  # (N, 1, T)
    while half > 0:  # reflection needs pad < T: pad in steps for filters longer than x
        step = min(half, padded.shape[-1] - 1)
        first, last = padded[..., :1], padded[..., -1:]
        mirrored = F.pad(padded, (step, step), mode="reflect")  # (N, 1, T + 2 step)
        left = 2 * first - mirrored[..., :step]  # point reflection about the end values
        right = 2 * last - mirrored[..., -step:]
        padded = torch.cat([left, padded, right], dim=-1)
        half -= step
    return F.conv1d(padded, taps.view(1, 1, -1)).squeeze(1)  # (N, T)


def resample(x: torch.Tensor, length: int) -> torch.Tensor:
    """x: (N, T) -> (N, length): anti-aliased when shortening, linear, end points kept."""
    if length < 2:
        raise ValueError(f"target length must be >= 2, got {length}")
    if x.shape[-1] == length:
        return x
    if x.shape[-1] == 1:
        return x.expand(*x.shape[:-1], length).clone()
    if length < x.shape[-1]:
        x = lowpass(x, length)
    return F.interpolate(x.unsqueeze(1), size=length, mode="linear", align_corners=True).squeeze(1)
