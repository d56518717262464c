"""Per-epoch training checkpoints, so a killed long job resumes where it stopped.

One file per job holds the state of each training phase (pretraining, fitting) at the end of
its last finished epoch: weights, optimizer and scheduler, the best weights so far, the
early-stopping counters, the history and every random generator the loop draws from, so the
resumed run continues exactly as the uninterrupted one would have. Files are written
atomically (a kill mid-write leaves the previous epoch's file) and read with
`torch.load(weights_only=True)`. A checkpoint made for other settings (its fingerprint differs)
is ignored, never silently resumed, and so is one of an older FORMAT.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from csft import atomic

log = logging.getLogger(__name__)

FORMAT = 2  # 2: one loop (csft.training.loop): best weights per module, a step count


def cpu_weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's state dict on the CPU: what a saved model file holds, whatever the device."""
    return {key: value.cpu() for key, value in module.state_dict().items()}


def fingerprint(settings: Any) -> str:
    """A stable hash of everything that decides a job's training (JSON-serialisable)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Checkpoint:
    """The checkpoint file of one job; `phase(name)` / `save(name, state)` per training loop."""

    def __init__(self, path: str | Path, settings: Any):
        self.path = Path(path)
        self.fingerprint = fingerprint(settings)
        self.phases: dict[str, dict] = {}
        if self.path.exists():
            stored = torch.load(self.path, weights_only=True)
            if stored.get("format") != FORMAT:
                log.warning(
                    "ignoring %s: checkpoint format %s, this code resumes format %d only",
                    self.path,
                    stored.get("format", 1),
                    FORMAT,
                )
            elif stored.get("fingerprint") == self.fingerprint:
                self.phases = stored["phases"]
                log.info("resuming from %s: %s", self.path, self.summary())
            else:
                log.warning("ignoring %s: it was made for other settings", self.path)

    def summary(self) -> str:
        return ", ".join(
            f"{name} epoch {state['loop']['epoch']}{' (done)' if state['loop']['done'] else ''}"
            for name, state in self.phases.items()
        )

    def phase(self, name: str) -> dict | None:
        """The saved state of a phase, or None to start it afresh."""
        return self.phases.get(name)

    def save(self, name: str, state: dict) -> None:
        self.phases[name] = state
        with atomic.atomic_path(self.path) as tmp:
            torch.save(
                {"format": FORMAT, "fingerprint": self.fingerprint, "phases": self.phases}, tmp
            )

    def remove(self) -> None:
        """Once the job's outputs are written, the checkpoint has served its purpose."""
        self.path.unlink(missing_ok=True)


def random_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The generators a training loop draws from: the loader's and torch's global one."""
    return {"generator": generator.get_state(), "torch": torch.get_rng_state()}


def restore_random_state(generator: torch.Generator, state: dict[str, torch.Tensor]) -> None:
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])


@dataclass
class LoopState:
    """What an early-stopping loop carries from epoch to epoch; saved whole each epoch."""

    best_loss: float = float("inf")
    best_state: Any = None  # the best epoch's weights per module, restored at the end
    stale: int = 0  # epochs since the best one
    history: list = field(default_factory=list)  # one row per finished epoch
    epoch: int = 0  # the last finished epoch
    steps: int = 0  # optimizer steps so far
    done: bool = False  # stopped early, or the epoch or step budget is spent
