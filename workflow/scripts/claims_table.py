# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Every claim of the paper beside ours: what each spans, and a verdict only where our numbers
cover it (csft.report.claims)."""

import json
import logging

import pandas as pd

from csft import atomic, joblog
from csft.report import claims

joblog.log_to(snakemake.log[0])
inputs = snakemake.input
table = claims.claims_table(
    pd.read_csv(inputs.forecast) if "forecast" in inputs.keys() else None,
    pd.read_csv(inputs.classify) if "classify" in inputs.keys() else None,
    pd.read_csv(inputs.analysis) if "analysis" in inputs.keys() else None,
    json.loads(open(inputs.lengths).read()) if "lengths" in inputs.keys() else None,
    budget=snakemake.params.budget,
    tuning=pd.read_csv(inputs.tuning) if "tuning" in inputs.keys() else None,
)
atomic.write_text(snakemake.output.csv, table.to_csv(index=False))
atomic.write_text(snakemake.output.md, claims.claims_markdown(table))
logging.info("%d claims", len(table))
