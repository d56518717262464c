# ruff: noqa: F821
"""Snakemake script: download the official UCR 2018 archive zip (not pinned; its hash is logged).

The zip itself has no pinned hash (the archive is re-issued in place); the files extracted from it
are verified one by one against checksums.tsv.
"""

import logging
from pathlib import Path

from csft import joblog
from csft.data.download import UCR_ARCHIVE_URL, download

joblog.log_to(snakemake.log[0])

sha256 = download(UCR_ARCHIVE_URL, Path(snakemake.output[0]))
logging.getLogger(__name__).info("UCR archive zip sha256 %s", sha256)
