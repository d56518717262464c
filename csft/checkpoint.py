"""Per-epoch training checkpoints, so a killed long job resumes where it stopped.

One file per job holds the state of each training phase (pretraining, fitting) at the end of
its last finished epoch: weights, optimizer and scheduler, the best weights so far, the
early-stopping counters, the history and every random generator the loop draws from, so the
resumed run continues exactly as the uninterrupted one would have. Files are written
atomically (a kill mid-write leaves the previous epoch's file) and read with
`torch.load(weights_only=True)`. A checkpoint made for other settings (its fingerprint differs)
is ignored, never silently resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch

from csft import atomic

log = logging.getLogger(__name__)


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
            if stored.get("fingerprint") == self.fingerprint:
                self.phases = stored["phases"]
                log.info("resuming from %s: %s", self.path, self.summary())
            else:
                log.warning("ignoring %s: it was made for other settings", self.path)

    def summary(self) -> str:
        return ", ".join(
            f"{name} epoch {state['epoch']}{' (done)' if state['done'] else ''}"
            for name, state in self.phases.items()
        )

    def phase(self, name: str) -> dict | None:
        """The saved state of a phase, or None to start it afresh."""
        return self.phases.get(name)

    def save(self, name: str, state: dict) -> None:
        self.phases[name] = state
        with atomic.atomic_path(self.path) as tmp:
            torch.save({"fingerprint": self.fingerprint, "phases": self.phases}, tmp)

    def remove(self) -> None:
        """Once the job's outputs are written, the checkpoint has served its purpose."""
        self.path.unlink(missing_ok=True)


def random_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The generators a training loop draws from: the loader's and torch's global one."""
    return {"generator": generator.get_state(), "torch": torch.get_rng_state()}


def restore_random_state(generator: torch.Generator, state: dict[str, torch.Tensor]) -> None:
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
