# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Write one synthetic set of the channels question (csft.data.synthetic) as a CSV in the ETT
layout, atomically; seeded, so a rerun writes the same file."""

import logging

from csft import joblog
from csft.data import synthetic

joblog.log_to(snakemake.log[0])
spec = synthetic.SyntheticSpec.from_config(snakemake.params.spec)
synthetic.write(snakemake.output.csv, snakemake.wildcards.synthetic, spec)
logging.info("%s: %d rows x %d channels, lags %s", snakemake.wildcards.synthetic, spec.rows,
             spec.n_channels, list(spec.lags))  # fmt: skip
