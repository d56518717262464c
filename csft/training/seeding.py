"""One seed fixes a run: Python, NumPy and PyTorch generators all start from it."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed every generator and return a torch.Generator for data-loader shuffling."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    # cuBLAS is only deterministic with a fixed workspace (no effect on the CPU).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global generator some libraries use)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
