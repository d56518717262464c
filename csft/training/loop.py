"""The one training loop: epochs, early stopping, the finite-loss guard and checkpoints.

Forecasting, pretraining and classification differ only in what an epoch (one pass over their
training data) and a validation are, so they say just that and this loop does the rest the same
way for all of them: a non-finite loss is an error naming the phase and the epoch before any
weight changes, the learning rate follows its schedule, the best epoch's weights are kept and
restored, training stops after `patience` epochs without a strictly better validation value or
when the epoch or step budget is spent, and after every epoch the whole state is checkpointed
so a killed job resumes to the uninterrupted result (csft.training.checkpoint).
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from csft import joblog
from csft.models.dropout import use_fast_dropout
from csft.training.checkpoint import (
    Checkpoint,
    LoopState,
    random_state,
    restore_random_state,
)

log = logging.getLogger(__name__)
_stepped = False  # whether this process has taken an optimizer step yet (its job's overhead)

Row = dict[str, float]
PRECISIONS = ("fp32", "bf16")


def _ignore(epoch: int, row: Row) -> None:
    pass


def _log_first_step() -> None:
    """Log, once per process, how long after its start the first optimizer step finished:
    the job's overhead (interpreter, imports, data, model) before any training."""
    global _stepped
    if not _stepped:
        _stepped = True
        seconds = joblog.seconds_since_start()
        if seconds is not None:
            log.info(joblog.FIRST_STEP, seconds)


@dataclass(kw_only=True)
class Loop:
    """One training phase. Trainers call `step(loss)` for every batch and `run(...)` once.

    The phase ends after `epochs` epochs, after `max_steps` optimizer steps (check `spent()`
    before each batch), or `patience` epochs after the best `monitor` value of the rows;
    rows without `monitor` (no validation data) never stop it and the last weights are kept.
    With a `scheduler`, each row records the epoch's learning rate and the scheduler steps
    after every epoch (after every step if `per_step_schedule`), except the one that stops.
    """

    name: str  # the checkpoint phase, and what errors and logs call it
    modules: dict[str, nn.Module]  # trained, checkpointed and restored together
    optimizer: torch.optim.Optimizer
    generator: torch.Generator  # the loader's generator, checkpointed with torch's global one
    epochs: int | None = None
    max_steps: int | None = None
    patience: int | None = None
    monitor: str = "val_loss"
    scheduler: Any = None
    per_step_schedule: bool = False
    checkpoint: Checkpoint | None = None
    on_epoch: Callable[[int, Row], None] = _ignore  # sees each row (also replayed on resume)
    fast_dropout: bool = False  # swap the modules' nn.Dropout for csft.models.dropout's
    precision: str = "fp32"  # or "bf16": autocast() runs forward passes in bfloat16
    state: LoopState = field(default_factory=LoopState)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"{self.name}: precision must be one of {PRECISIONS}, got {self.precision!r}"
            )
        if self.fast_dropout:
            for module in self.modules.values():
                use_fast_dropout(module)

    def step(self, loss: torch.Tensor) -> float:
        """Backpropagate a batch's loss and step the optimizer; a non-finite loss is an error
        before any weight changes (the caller zeroes the gradients before its forward pass)."""
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{self.name}: training loss became {loss.item()} in epoch "
                f"{self.state.epoch + 1} (optimizer step {self.state.steps + 1})"
            )
        loss.backward()
        self.optimizer.step()
        if self.per_step_schedule:
            self.scheduler.step()
        self.state.steps += 1
        _log_first_step()
        return loss.item()

    def autocast(self):
        """The context of a training forward pass: bfloat16 autocast on the modules' device
        with precision bf16 (meant for CUDA; losses are computed in fp32 as autocast does),
        else nothing. Validation and test always run in fp32."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        device = next(p for m in self.modules.values() for p in m.parameters()).device
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def spent(self) -> bool:
        """Whether the step budget is used up (an epoch stops at its next batch)."""
        return self.max_steps is not None and self.state.steps >= self.max_steps

    def run(
        self, train_epoch: Callable[[int], Row], validate: Callable[[int], Row] | None = None
    ) -> list[Row]:
        """Epochs of `train_epoch(epoch)` (its row's training part) then `validate(epoch)`
        (its validation part) until the phase ends; the history, one row per epoch."""
        self._resume()
        while not (self.state.done or self._budget_spent()):
            stopped = self._epoch(self.state.epoch + 1, train_epoch, validate)
            self.state.epoch += 1
            self.state.done = stopped or self._budget_spent()
            self._save()
        if self.state.best_state is not None:
            for name, module in self.modules.items():
                module.load_state_dict(self.state.best_state[name])
        return self.state.history

    def _resume(self) -> None:
        """Start afresh, or load the checkpoint's phase back into the modules, optimizer,
        scheduler and generators and replay its rows through `on_epoch`."""
        saved = self.checkpoint.phase(self.name) if self.checkpoint else None
        if not saved:
            self.state = LoopState()
            return
        for name, module in self.modules.items():
            module.load_state_dict(saved[name])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(saved["scheduler"])
        restore_random_state(self.generator, saved["random"])
        self.state = LoopState(**saved["loop"])
        for epoch, row in enumerate(self.state.history, start=1):
            self.on_epoch(epoch, row)

    def _save(self) -> None:
        """Everything `_resume` needs to go on after the last finished epoch."""
        if self.checkpoint is None:
            return
        scheduler = self.scheduler.state_dict() if self.scheduler is not None else None
        self.checkpoint.save(
            self.name,
            {
                **{name: module.state_dict() for name, module in self.modules.items()},
                "optimizer": self.optimizer.state_dict(),
                "scheduler": scheduler,
                "random": random_state(self.generator),
                "loop": dict(vars(self.state)),
            },
        )

    def _budget_spent(self) -> bool:
        return self.spent() or (self.epochs is not None and self.state.epoch >= self.epochs)

    def _epoch(self, epoch: int, train_epoch, validate) -> bool:
        """Train, validate, record and judge one epoch; whether it stops the phase early."""
        for module in self.modules.values():
            module.train()
        lr = self.optimizer.param_groups[0]["lr"]
        row = train_epoch(epoch)
        row.update(validate(epoch) if validate else {})
        if self.monitor in row and not np.isfinite(row[self.monitor]):
            raise FloatingPointError(
                f"{self.name}: validation {self.monitor} became {row[self.monitor]} in epoch "
                f"{epoch}"
            )
        if self.scheduler is not None:
            row["lr"] = lr
        self.state.history.append(row)
        self.on_epoch(epoch, row)
        log.info(
            "%s epoch %d: %s", self.name, epoch, ", ".join(f"{k} {v:.6g}" for k, v in row.items())
        )
        stopped = self._judge(epoch, row)
        if self.scheduler is not None and not self.per_step_schedule and not stopped:
            self.scheduler.step()
        return stopped

    def _judge(self, epoch: int, row: Row) -> bool:
        """Keep the weights of a strictly better epoch; whether patience has run out."""
        if self.monitor not in row:
            return False
        state = self.state
        if row[self.monitor] < state.best_loss:
            state.best_loss, state.stale = row[self.monitor], 0
            state.best_state = {
                name: copy.deepcopy(module.state_dict()) for name, module in self.modules.items()
            }
            return False
        state.stale += 1
        stopped = self.patience is not None and state.stale >= self.patience
        if stopped:
            log.info("%s: early stop after epoch %d (best %.6g)", self.name, epoch, state.best_loss)
        return stopped
