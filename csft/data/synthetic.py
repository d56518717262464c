"""Synthetic multivariate forecasting data with known cross-channel structure (the open question
"channel-independent vs channel-mixing", docs/open_questions.md), written as a CSV in the ETT
layout (a `date` column, then numeric channels) so the forecasting pipeline reads it as any
custom dataset (csft/data/custom.py).

Every channel is the same stationary AR(1) process x_t = phi x_{t-1} + e_t, e_t ~ N(0, 1),
plus observation noise. Two kinds:

- `synthetic_coupled`: channel 0 (the driver) is AR(1) + noise; channel k >= 1 is the driver
  delayed by `lags[k-1]` steps plus its own noise. With horizon <= lag <= look-back, channel
  k's next `horizon` values are (noisy) driver values already inside the look-back, while its
  own past holds only the driver up to t - lag, which an AR(1) with phi^lag near 0 forgets: the
  future is predictable from another channel's past, not from the channel's own.
- `synthetic_independent`: the control, every channel built the same way from its own
  independent driver, so each channel has exactly the coupled set's marginal law and no
  channel says anything about another.

Seeded and deterministic: the same settings give the same file, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from csft import atomic

KINDS = {"synthetic_coupled": True, "synthetic_independent": False}  # name -> coupled
BURN_IN = 1000  # AR steps discarded so the series starts in its stationary law


@dataclass(frozen=True)
class SyntheticSpec:
    """How a synthetic set is drawn (config `questions.channels.synthetic`)."""

    rows: int = 10000
    lags: tuple[int, ...] = (96, 192, 384)  # channel k >= 1 follows the driver by lags[k-1]
    phi: float = 0.95  # AR(1) coefficient of every driver
    noise: float = 0.3  # observation noise sd, as a fraction of the AR process' sd
    seed: int = 0

    @classmethod
    def from_config(cls, block: Mapping) -> SyntheticSpec:
        return cls(**{**block, "lags": tuple(block.get("lags", cls.lags))})

    def __post_init__(self) -> None:
        if not self.lags or min(self.lags) < 1:
            raise ValueError(f"synthetic lags must be positive steps, got {list(self.lags)}")
        if not 0 < self.phi < 1:
            raise ValueError(f"synthetic phi must lie in (0, 1), got {self.phi}")
        if self.noise < 0:
            raise ValueError(f"synthetic noise must be >= 0, got {self.noise}")
        if self.rows <= 2 * max(self.lags):
            raise ValueError(f"synthetic rows ({self.rows}) must exceed twice the longest lag")

    @property
    def n_channels(self) -> int:
        return 1 + len(self.lags)


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A stationary AR(1) path of `n` steps with unit innovations (burn-in discarded)."""
    innovations = rng.standard_normal(n + BURN_IN)
    x = np.empty_like(innovations)
    x[0] = innovations[0] / np.sqrt(1 - phi**2)
    for t in range(1, len(x)):
        x[t] = phi * x[t - 1] + innovations[t]
    return x[BURN_IN:]


def generate(kind: str, spec: SyntheticSpec) -> np.ndarray:
    """The channels of set `kind` (a KINDS name): (rows, 1 + len(lags)), float64."""
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic set {kind!r}; expected one of {sorted(KINDS)}")
    rng = np.random.default_rng([spec.seed, list(KINDS).index(kind)])
    longest = max(spec.lags)
    n = spec.rows + longest  # every channel needs `longest` driver steps before row 0
    scale = spec.noise / np.sqrt(1 - spec.phi**2)  # noise sd relative to the AR sd
    shared = ar1(rng, n, spec.phi)
    channels = [shared[longest:]]
    for lag in spec.lags:
        driver = shared if KINDS[kind] else ar1(rng, n, spec.phi)
        channels.append(driver[longest - lag : n - lag])
    values = np.stack(channels, axis=1)  # (rows, C)
    return values + scale * rng.standard_normal(values.shape)


def frame(kind: str, spec: SyntheticSpec) -> pd.DataFrame:
    """The set in the ETT layout: hourly `date` stamps, then channels c0 (driver), c1, ..."""
    values = generate(kind, spec)
    dates = pd.date_range("2016-07-01", periods=len(values), freq="h")
    columns = {f"c{k}": values[:, k] for k in range(values.shape[1])}
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d %H:%M:%S"), **columns})


def write(path: str | Path, kind: str, spec: SyntheticSpec) -> None:
    """Write set `kind` as a CSV, atomically."""
    atomic.write_text(path, frame(kind, spec).to_csv(index=False, float_format="%.6f"))


def lagged_correlation(x: np.ndarray, y: np.ndarray, lag: int) -> float:
    """Pearson correlation of x_{t - lag} with y_t."""
    return float(np.corrcoef(x[: len(x) - lag], y[lag:])[0, 1])


def synthetic_datasets(config: Mapping) -> dict[str, dict]:
    """The `custom_datasets` entries of the synthetic sets the channels question lists (none
    while it is off): each read from `{data_dir}/synthetic/<name>.csv`, split 0.7/0.1/0.2."""
    block = (config.get("questions") or {}).get("channels") or {}
    if not block.get("enabled"):
        return {}
    return {
        name: {"path": f"{config['data_dir']}/synthetic/{name}.csv"}
        for name in block.get("datasets", [])
        if name in KINDS
    }
