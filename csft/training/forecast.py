"""Forecasting: train with early stopping on validation, then score every test window once.

The loop owns the splits' loaders and all model selection; models only map (B, L, C) look-back
windows to (B, H, C) forecasts. Validation loss is the mean over every validation value (no
window dropped), which is also the early-stopping criterion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from csft import metrics
from csft.device import device_of
from csft.training.checkpoint import Checkpoint
from csft.training.loop import Loop

log = logging.getLogger(__name__)

LR_SCHEDULES = ("constant", "halve_every_epoch", "cosine", "patchtst_type3", "onecycle")
OPTIMIZERS = ("adam", "adamw")


@dataclass(frozen=True)
class TrainingConfig:
    """The training recipe; every field is a config value logged to MLflow."""

    batch_size: int = 32
    learning_rate: float = 0.005
    epochs: int = 10
    patience: int = 3  # epochs without a strictly better validation loss before stopping
    lr_schedule: str = "halve_every_epoch"  # LTSF-Linear's "type1": lr * 0.5 ** (epoch - 1)
    eval_batch_size: int = 256  # batch size of validation / test passes (no effect on results)
    optimizer: str = "adam"  # or "adamw" (decoupled weight decay)
    weight_decay: float = 0.0
    max_batches_per_epoch: int = 0  # 0: every training batch; > 0: a seeded random subset
    pct_start: float = 0.3  # onecycle: fraction of the steps spent increasing the lr
    official_test_batch: int = 0  # > 0: also score the official way (drop_last, this batch)
    val_stride: int = 1  # validate on every n-th window (cost control); test scores every one
    fast_dropout: bool = True  # CPU dropout masks from 16-bit draws (csft.models.dropout)
    precision: str = "fp32"  # "bf16": bfloat16 autocast of training forward passes

    def __post_init__(self) -> None:
        if self.val_stride < 1:
            raise ValueError(f"val_stride must be >= 1, got {self.val_stride}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")


@dataclass(frozen=True)
class Forecasts:
    """Every window of one split: predictions and targets, (N, H, C), normalized scale."""

    pred: np.ndarray
    true: np.ndarray


def predict(model: nn.Module, windows: Dataset, batch_size: int) -> Forecasts:
    """Forecast every window in order; nothing dropped, so every window is scored."""
    if len(windows) == 0:
        raise ValueError("no windows to forecast: the split is shorter than look-back + horizon")
    loader = DataLoader(windows, batch_size=batch_size, shuffle=False, drop_last=False)
    preds, trues = [], []
    device = device_of(model)
    model.eval()
    with torch.no_grad():
        for x, y in loader:  # x: (B, L, C), y: (B, H, C)
            preds.append(model(x.to(device)).cpu().numpy())
            trues.append(y.numpy())
    return Forecasts(np.concatenate(preds), np.concatenate(trues))


def validation_mse(
    model: nn.Module, windows: Dataset | Sequence[Dataset], batch_size: int
) -> float:
    """MSE over every window of `windows`; given several sets (the uf track: the same windows
    at each evaluated look-back), the mean of their MSEs, so no look-back alone selects."""
    sets = [windows] if isinstance(windows, Dataset) else list(windows)
    scores = []
    for dataset in sets:
        val = predict(model, dataset, batch_size)
        scores.append(metrics.mse(val.pred, val.true))
    return float(np.mean(scores))


def patchtst_type3(epoch: int) -> float:
    """Learning-rate factor of epoch `epoch` (from 1) in the official PatchTST code, lradj type3.

    Epoch 1 runs at 1/25 of the lr: the official loop builds a OneCycleLR (which sets the lr to
    max_lr / 25) before training and only overwrites the lr after the first epoch. Then the lr
    holds for three epochs and decays by 0.9 per epoch.
    """
    return 1 / 25 if epoch == 1 else 0.9 ** max(0, epoch - 4)


def make_optimizer(parameters, config: TrainingConfig, steps_per_epoch: int = 1):
    """Optimizer and learning-rate scheduler of a recipe (frozen parameters skipped).

    Every scheduler steps once per epoch except "onecycle" (PatchTST's "TST"), which steps per
    batch.
    """
    trainable = [p for p in parameters if p.requires_grad]
    if config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(
            trainable, config.learning_rate, weight_decay=config.weight_decay
        )
    else:
        optimizer = torch.optim.Adam(
            trainable, config.learning_rate, weight_decay=config.weight_decay
        )
    if config.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    elif config.lr_schedule == "patchtst_type3":
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: patchtst_type3(i + 1))
    elif config.lr_schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.learning_rate,
            epochs=config.epochs,
            steps_per_epoch=steps_per_epoch,
            pct_start=config.pct_start,
        )
    else:
        gamma = 0.5 if config.lr_schedule == "halve_every_epoch" else 1.0
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    return optimizer, scheduler


def train(
    model: nn.Module,
    train_windows: Dataset,
    val_windows: Dataset | Sequence[Dataset],
    config: TrainingConfig,
    generator: torch.Generator,
    on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, row: None,
    collate_fn: Callable | None = None,
    checkpoint: Checkpoint | None = None,
) -> list[dict[str, float]]:
    """Adam + MSE, early stopping on validation MSE; the best epoch's weights are restored.

    Returns one row per epoch (train_loss, val_loss, lr); `on_epoch(epoch, row)` sees each
    row as it is made (epoch counts from 1), e.g. to log it; `collate_fn` shapes training
    batches (validation always sees every window as given; several validation sets: the mean
    of their MSEs, see validation_mse). With a `checkpoint`, the loop's
    whole state is saved after every epoch and a saved state is resumed (its rows replayed
    through `on_epoch`), giving the uninterrupted run's result (csft.training.loop).
    """
    train_loader = DataLoader(
        train_windows,
        config.batch_size,
        shuffle=True,
        generator=generator,
        collate_fn=collate_fn,  # e.g. the uf track's random look-back per batch
        drop_last=True,  # training only, as the official recipes; predict() scores every window
    )
    if len(train_loader) == 0:
        raise ValueError(
            f"{len(train_windows)} training windows is fewer than one batch of {config.batch_size}"
        )
    steps = len(train_loader)
    if config.max_batches_per_epoch:
        steps = min(steps, config.max_batches_per_epoch)
    optimizer, scheduler = make_optimizer(model.parameters(), config, steps)
    loop = Loop(
        name="train",
        modules={"model": model},
        optimizer=optimizer,
        generator=generator,
        epochs=config.epochs,
        patience=config.patience,
        scheduler=scheduler,
        per_step_schedule=config.lr_schedule == "onecycle",
        checkpoint=checkpoint,
        on_epoch=on_epoch,
        fast_dropout=config.fast_dropout,
        precision=config.precision,
    )
    device = device_of(model)
    loss_fn = nn.MSELoss()

    def train_epoch(epoch: int) -> dict[str, float]:
        losses = []
        for step, (x, y) in enumerate(train_loader):  # x: (B, L, C), y: (B, H, C)
            if step == config.max_batches_per_epoch > 0:
                break
            optimizer.zero_grad()
            x, y = x.to(device), y.to(device)
            with loop.autocast():
                loss = loss_fn(model(x), y)
            losses.append(loop.step(loss))
        return {"train_loss": float(np.mean(losses))}

    def validate(epoch: int) -> dict[str, float]:
        return {"val_loss": validation_mse(model, val_windows, config.eval_batch_size)}

    return loop.run(train_epoch, validate)
