"""Shared fixtures: the real data the tests read (a mirror, never written, or the cache)."""

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from official_server import pinned_relpaths
from tiny_study import run_snakemake, tiny_config, write_config

from csft.data import cache as data_cache

# benchmarks/ is outside the package (speed scripts, run as `python benchmarks/bench.py`); its
# measuring functions are tested from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _local_mirror() -> Path | None:
    """CSFT_DATA_MIRROR (which must exist), else shared/data beside the checkout if present."""
    value = os.environ.get("CSFT_DATA_MIRROR", "").strip()
    if value:
        path = Path(value).expanduser()
        if not path.is_dir():
            pytest.fail(f"CSFT_DATA_MIRROR={value!r} is not a directory", pytrace=False)
        return path
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return default if default.is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real data: a local mirror (CI, offline), else the user cache filled once from the
    official sources. Every pinned file, since the catalogue and checksum tests list them all;
    the UCR zip is one download however many datasets are extracted from it."""
    local = _local_mirror()
    if local is not None:
        return local
    try:
        return data_cache.ensure(pinned_relpaths())
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        pytest.fail(
            f"no data mirror and the download into {data_cache.cache_dir()} failed: {exc}",
            pytrace=False,
        )


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
