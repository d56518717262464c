"""Where training runs: the config's `device` resolved against what this process can see.

`auto` (the default) takes the first visible GPU and falls back to the CPU, so nothing requires
a GPU; `cpu` never touches one (bit-for-bit reproducible runs); `cuda` insists on one and fails
with a clear error where none is visible (a cluster job that lost its GPU should not silently
run 50x slower). Loops take the device from their model's parameters, so a job moves its model
once and every batch follows it.
"""

from __future__ import annotations

import os

import torch
from torch import nn

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str) -> torch.device:
    """The torch.device a job trains on for the config value `requested`."""
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {requested!r}")
    visible = torch.cuda.is_available()
    if requested == "cuda" and not visible:
        raise RuntimeError(
            "config device is 'cuda' but this job sees no GPU "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); "
            "request one from the scheduler, or set device: auto to fall back to the CPU"
        )
    return torch.device("cuda" if requested != "cpu" and visible else "cpu")


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's parameters (the CPU for a module without any)."""
    return next(module.parameters(), torch.empty(0)).device


def describe(device: torch.device) -> str:
    """What MLflow records: 'cpu' or 'cuda:0 (NVIDIA H100 ...)'."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
