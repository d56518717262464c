# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The tuning stage's table: official and tuned recipes side by side (csft.report.tuning)."""

import logging

import pandas as pd

from csft import atomic, joblog
from csft.report import tuning

joblog.log_to(snakemake.log[0])
inputs = snakemake.input
parts = [
    tuning.tuning_table(
        task,
        tuning.read_studies(inputs[f"{prefix}best"], task),
        tuning.read_scores(inputs[f"{prefix}official"], task),
        tuning.read_scores(inputs[f"{prefix}tuned"], task),
    )
    for task, prefix in (("forecast", ""), ("classify", "classify_"))
    if inputs[f"{prefix}best"]
]
table = pd.concat(parts, ignore_index=True)
atomic.write_text(snakemake.output.csv, table.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.md, tuning.table_markdown(table, snakemake.config["tuning"]))
logging.info("%d tuned cells", len(table))
