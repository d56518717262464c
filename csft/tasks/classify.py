"""Classification splits with a sealed TEST: no decision can be taken on TEST by accident.

The task loop gets TRAIN (minus validation) and the stratified validation split freely; TEST is
sealed and `SealedSplits.test()` raises until `unseal()` is called, once, for the single final
evaluation after every model-selection step (early stopping, hyperparameters) is done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from csft.data.splits import ucr_validation_split
from csft.data.ucr import UCRDataset, UCRSplit

log = logging.getLogger(__name__)

LENGTH_POLICIES = ("resample",)


class SealedTestError(RuntimeError):
    """TEST was asked for before the final evaluation."""


@dataclass
class SealedSplits:
    """TRAIN/validation in the open, TEST sealed until `unseal()`."""

    name: str
    n_classes: int
    train: UCRSplit
    val: UCRSplit
    _test: UCRSplit = field(repr=False)
    _sealed: bool = field(default=True, repr=False)

    def test(self) -> UCRSplit:
        if self._sealed:
            raise SealedTestError(
                f"{self.name}: TEST is sealed until the final evaluation; model selection "
                "uses the validation split of TRAIN only"
            )
        return self._test

    def unseal(self) -> UCRSplit:
        """Open TEST for the single final evaluation; a second call is an error."""
        if not self._sealed:
            raise SealedTestError(f"{self.name}: TEST was already opened once")
        self._sealed = False
        log.info("%s: TEST unsealed for the final evaluation", self.name)
        return self._test


def seal(dataset: UCRDataset, validation_fraction: float, seed: int) -> SealedSplits:
    """Split a stratified validation set off TRAIN and seal TEST."""
    train_idx, val_idx = ucr_validation_split(dataset.train.labels, validation_fraction, seed)

    def subset(indices: np.ndarray) -> UCRSplit:
        return UCRSplit([dataset.train.series[i] for i in indices], dataset.train.labels[indices])

    return SealedSplits(
        dataset.name, dataset.n_classes, subset(train_idx), subset(val_idx), dataset.test
    )


def to_length(series: list[np.ndarray], length: int, policy: str = "resample") -> np.ndarray:
    """Series of any lengths -> (N, length) float32 for models that need equal lengths.

    "resample": linear interpolation onto `length` points with both end points kept (the
    same resampling CSFT's length rule uses), so a series keeps its whole shape.
    """
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"length policy must be one of {LENGTH_POLICIES}, got {policy!r}")
    if length < 2:
        raise ValueError(f"target length must be >= 2, got {length}")
    out = np.empty((len(series), length), dtype=np.float32)
    for i, values in enumerate(series):
        x = torch.as_tensor(np.asarray(values, dtype=np.float32)).view(1, 1, -1)  # (1, 1, T)
        if x.shape[-1] == 1:
            x = x.expand(1, 1, 2)
        resampled = F.interpolate(x, size=length, mode="linear", align_corners=True)
        out[i] = resampled.view(-1).numpy()  # (length,)
    return out
