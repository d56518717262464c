# ruff: noqa: F821
"""Snakemake script: fetch one ETT csv from CSFT_DATA_MIRROR or GitHub, verified and atomic."""

from pathlib import Path

from csft import joblog
from csft.data.download import ETT_URL, fetch, mirror_from_env

joblog.log_to(snakemake.log[0])

dataset = snakemake.wildcards.dataset
fetch(
    f"ETT-small/{dataset}.csv",
    Path(snakemake.output[0]),
    mirror=mirror_from_env(),
    url=ETT_URL.format(name=dataset),
)
