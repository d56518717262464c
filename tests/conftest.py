"""Shared fixtures: the real data mirror the tests read (never written)."""

import os
from pathlib import Path

import pytest


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
