"""Self-supervised pretraining of the CSFT encoder, with early stopping on validation.

The loop owns the loaders and model selection; the objective lives in csft.models.objectives. Each
window's C channels become C univariate series (channel independent, as in forecasting); the
horizon part of a window is never used. Validation covers every window (nothing dropped) and
its total loss is the early-stopping criterion.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from csft.device import device_of
from csft.models.csft import CSFTEncoder
from csft.models.objectives import ReconstructionDecoders, SSLConfig, ssl_loss
from csft.training.checkpoint import Checkpoint
from csft.training.classify import step_budget
from csft.training.loop import Loop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainConfig:
    """The pretraining recipe; every field is a config value logged to MLflow."""

    epochs: int = 10
    batch_size: int = 64  # windows per batch; each window gives C series
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 3  # epochs without a strictly better validation total before stopping
    max_batches_per_epoch: int = 0  # 0 = every batch; > 0 = the first n of the shuffled loader
    ssl: SSLConfig = field(default_factory=SSLConfig)
    val_stride: int = 1  # validate on every n-th window (cost control)
    fast_dropout: bool = True  # CPU dropout masks from 16-bit draws (csft.models.dropout)
    precision: str = "fp32"  # "bf16": bfloat16 autocast of training forward passes

    def __post_init__(self) -> None:
        if isinstance(self.ssl, dict):  # from YAML
            object.__setattr__(self, "ssl", SSLConfig(**self.ssl))
        if self.val_stride < 1:
            raise ValueError(f"val_stride must be >= 1, got {self.val_stride}")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError(
                f"epochs, batch_size and patience must be >= 1, got {self.epochs}, "
                f"{self.batch_size}, {self.patience}"
            )
        if self.max_batches_per_epoch < 0:
            raise ValueError(
                f"max_batches_per_epoch must be >= 0, got {self.max_batches_per_epoch}"
            )


Batches = Callable[[Any, int, bool, torch.Generator | None], Iterable]


def window_batches(
    windows: Dataset, batch_size: int, training: bool, generator: torch.Generator | None
) -> DataLoader:
    """(x (B, T, C), y) batches of forecasting windows: shuffled with the last partial batch
    dropped for training; in order and complete for evaluation."""
    return DataLoader(
        windows,
        batch_size,
        shuffle=training,
        generator=generator if training else None,
        drop_last=training,
    )


def as_series(x: torch.Tensor) -> torch.Tensor:
    """Windows (B, T, C) -> channel-independent univariate series (B*C, T)."""
    return x.transpose(1, 2).reshape(-1, x.shape[1])  # (B*C, T)


def evaluate(
    encoder: CSFTEncoder,
    decoders: ReconstructionDecoders,
    windows: Dataset,
    batch_size: int,
    ssl: SSLConfig,
    batches: Batches = window_batches,
) -> dict[str, float]:
    """Every SSL term over every window (eval mode, no grad), weighted by series per batch.

    The independence penalty is a batch statistic, so its "mean" is the series-weighted mean of
    the per-batch penalties.
    """
    loader = batches(windows, batch_size, False, None)
    if len(loader) == 0:
        raise ValueError("no windows to evaluate: the split is shorter than one window")
    encoder.eval()
    decoders.eval()
    device = device_of(encoder)
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}  # per term: grouped series of shallower grids lack deep levels
    with torch.no_grad():
        for x, _ in loader:  # x: (B, T, C)
            series = as_series(x.to(device))  # (B*C, T)
            _, terms, _ = ssl_loss(encoder, decoders, series, ssl)
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value * len(series)
                counts[key] = counts.get(key, 0) + len(series)
    return {key: value / counts[key] for key, value in sums.items()}


def ssl_step(
    loop: Loop,
    encoder: CSFTEncoder,
    decoders: ReconstructionDecoders,
    x: torch.Tensor,
    ssl: SSLConfig,
) -> dict[str, float]:
    """One optimizer step of the SSL loss on a batch x: (B, T, C) through `loop` (which refuses
    a non-finite loss); its terms."""
    loop.optimizer.zero_grad()
    with loop.autocast():
        loss, terms, _ = ssl_loss(encoder, decoders, as_series(x.to(device_of(encoder))), ssl)
    loop.step(loss)
    return terms


def ssl_optimizer(
    encoder: CSFTEncoder, decoders: ReconstructionDecoders, lr: float, weight_decay: float
) -> torch.optim.AdamW:
    """AdamW over the encoder and its decoders, which train together."""
    parameters = list(encoder.parameters()) + list(decoders.parameters())
    return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)


def train_means(rows: list[dict[str, float]]) -> dict[str, float]:
    """`train_<term>`: each term's mean over the batches (a term missing from some batches,
    e.g. a level shallower grids lack: over the rest)."""
    return {f"train_{key}": float(value) for key, value in pd.DataFrame(rows).mean().items()}


def pretrain(
    encoder: CSFTEncoder,
    train_windows: Dataset,
    val_windows: Dataset,
    config: PretrainConfig,
    generator: torch.Generator,
    on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, row: None,
    *,
    decoders: ReconstructionDecoders | None = None,
    batches: Batches = window_batches,
    checkpoint: Checkpoint | None = None,
) -> list[dict[str, float]]:
    """AdamW + cosine schedule on the SSL loss; the best epoch's weights are restored.

    Returns one row per epoch: `train_<term>` (mean over batches), `val_<term>` (every
    validation window) and `lr`; `on_epoch(epoch, row)` sees each row as it is made (epoch
    counts from 1). Pass `decoders` to keep them (e.g. for diagnostics): they are trained and
    restored to the best epoch with the encoder; otherwise fresh ones are built and discarded.
    `batches(data, batch_size, training, generator)` cuts the data into (x (B, T, C), y)
    batches (default: forecasting windows); with no validation data at all (`val_windows`
    None) every epoch runs and the last weights are kept: nothing else may stand in for it.
    A `checkpoint` saves the loop's state after every epoch and resumes a saved one
    (csft.training.loop).
    """
    device = device_of(encoder)
    if decoders is None:
        decoders = ReconstructionDecoders(encoder.config)
    decoders.to(device)
    train_loader = batches(train_windows, config.batch_size, True, generator)
    if len(train_loader) == 0:
        raise ValueError(
            f"{len(train_windows)} training windows is fewer than one batch of {config.batch_size}"
        )
    optimizer = ssl_optimizer(encoder, decoders, config.learning_rate, config.weight_decay)
    loop = Loop(
        name="pretrain",
        modules={"encoder": encoder, "decoders": decoders},
        optimizer=optimizer,
        generator=generator,
        epochs=config.epochs,
        patience=config.patience,
        monitor="val_total",
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs),
        checkpoint=checkpoint,
        on_epoch=on_epoch,
        fast_dropout=config.fast_dropout,
        precision=config.precision,
    )

    def train_epoch(epoch: int) -> dict[str, float]:
        epoch_batches = train_loader
        if config.max_batches_per_epoch:  # the shuffled loader stops early: a seeded subset
            epoch_batches = itertools.islice(train_loader, config.max_batches_per_epoch)
        return train_means(
            [ssl_step(loop, encoder, decoders, x, config.ssl) for x, _ in epoch_batches]
        )

    def validate(epoch: int) -> dict[str, float]:
        if val_windows is None:
            return {}
        val = evaluate(encoder, decoders, val_windows, config.batch_size, config.ssl, batches)
        return {f"val_{key}": value for key, value in val.items()}

    return loop.run(train_epoch, validate)


@dataclass(frozen=True)
class StepPretraining:
    """Self-supervised pretraining for a budget of optimizer steps (the classification track).

    `steps` "auto" means TS2Vec's rule for the TRAIN set (csft.training.classify.default_steps).
    AdamW at a constant learning rate, as TS2Vec trains; no validation: the labels-free loss
    says nothing about classification, and the budget is fixed in advance.
    """

    steps: int | str = "auto"
    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    ssl: SSLConfig = field(default_factory=SSLConfig)
    fast_dropout: bool = True  # CPU dropout masks from 16-bit draws (csft.models.dropout)
    precision: str = "fp32"  # "bf16": bfloat16 autocast of training forward passes

    def __post_init__(self) -> None:
        if isinstance(self.ssl, dict):  # from YAML
            object.__setattr__(self, "ssl", SSLConfig(**self.ssl))
        step_budget(self.steps, 0, "pretraining")
        if self.batch_size < 1:
            raise ValueError(f"pretraining.batch_size must be >= 1, got {self.batch_size}")

    def budget(self, n_values: int) -> int:
        return step_budget(self.steps, n_values, "pretraining")


def pretrain_steps(
    encoder: CSFTEncoder,
    data: Any,
    config: StepPretraining,
    steps: int,
    generator: torch.Generator,
    batches: Batches,
    on_pass: Callable[[int, dict[str, float]], None] = lambda n, row: None,
) -> list[dict[str, float]]:
    """`steps` optimizer steps of the SSL loss over shuffled passes of `data`; the final weights
    are kept. One history row per pass (mean of each term, `steps` so far)."""
    device = device_of(encoder)
    decoders = ReconstructionDecoders(encoder.config).to(device)
    optimizer = ssl_optimizer(encoder, decoders, config.learning_rate, config.weight_decay)
    loop = Loop(
        name="pretrain_steps",
        modules={"encoder": encoder, "decoders": decoders},
        optimizer=optimizer,
        generator=generator,
        max_steps=steps,
        on_epoch=on_pass,
        fast_dropout=config.fast_dropout,
        precision=config.precision,
    )

    def train_pass(n: int) -> dict[str, float]:
        rows = []
        for x, _ in batches(data, config.batch_size, True, generator):  # x: (B, T, C)
            if loop.spent():
                break
            rows.append(ssl_step(loop, encoder, decoders, x, config.ssl))
        if not rows:
            raise ValueError("pretraining data gave no batch")
        return {**train_means(rows), "steps": loop.state.steps}

    return loop.run(train_pass)
