"""Shared fixtures: the real data mirror the tests read (never written)."""

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_study import run_snakemake, tiny_config, write_config

# benchmarks/ is outside the package (speed scripts, run as `python benchmarks/bench.py`); its
# measuring functions are tested from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The read-only data mirror: CSFT_DATA_MIRROR, else shared/data beside the checkout."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    path = Path(os.environ.get("CSFT_DATA_MIRROR", default))
    if not path.is_dir():
        pytest.fail(
            f"data mirror not found at {path}; set CSFT_DATA_MIRROR to a copy of shared/data",
            pytrace=False,
        )
    return path


def _noisy_sines(rows: int, seed: int = 0) -> np.ndarray:
    """Two noisy sines with different periods, float32 (rows, 2)."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    clean = np.stack([np.sin(2 * np.pi * t / 24), 0.5 * np.cos(2 * np.pi * t / 17)], axis=1)
    return (clean + 0.1 * rng.normal(size=clean.shape)).astype(np.float32)


@pytest.fixture(scope="session")
def noisy_sines():
    """Synthetic two-channel series for the training-loop tests: noisy_sines(rows, seed)."""
    return _noisy_sines


@pytest.fixture(scope="session")
def study(tmp_path_factory, mirror):
    """The tiny study run locally once per session: (root, config file, forecast table)."""
    root = tmp_path_factory.mktemp("tiny")
    configfile = write_config(root, tiny_config(root))
    first = run_snakemake("--configfile", str(configfile), mirror=mirror)
    assert first.returncode == 0, first.stderr[-4000:]
    table = pd.read_csv(root / "results" / "tables" / "forecast.csv")
    return root, configfile, table
