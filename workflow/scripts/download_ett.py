# ruff: noqa: F821
"""Snakemake script: fetch one ETT csv from CSFT_DATA_MIRROR or GitHub, verified and atomic."""

import logging
from pathlib import Path

from csft.data.download import ETT_URL, fetch, mirror_from_env

logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

dataset = snakemake.wildcards.dataset
fetch(
    f"ETT-small/{dataset}.csv",
    Path(snakemake.output[0]),
    mirror=mirror_from_env(),
    url=ETT_URL.format(name=dataset),
)
