"""Fitted scikit-learn and aeon estimators inside a saved model file that `torch.load` reads
with weights_only=True: skops' format (no pickle) as a byte tensor, loaded back only when every
type it holds comes from a library the suite already runs."""

from __future__ import annotations

import torch

# Modules whose classes a saved estimator may hold; anything else is refused, never imported.
TRUSTED_MODULES = ("sklearn.", "aeon.", "numpy.", "scipy.")


def pack(estimator) -> torch.Tensor:
    """The fitted estimator as a uint8 tensor (skops' bytes)."""
    import skops.io

    return torch.frombuffer(bytearray(skops.io.dumps(estimator)), dtype=torch.uint8)


def unpack(data: torch.Tensor, where: str):
    """The estimator `pack` stored; `where` names the file in the error for an untrusted type."""
    import skops.io

    raw = data.numpy().tobytes()
    types = skops.io.get_untrusted_types(data=raw)
    refused = [name for name in types if not name.startswith(TRUSTED_MODULES)]
    if refused:
        raise ValueError(
            f"{where}: holds types outside {', '.join(m.rstrip('.') for m in TRUSTED_MODULES)} "
            f"({', '.join(refused)}); refusing to load them"
        )
    return skops.io.loads(raw, trusted=types)
