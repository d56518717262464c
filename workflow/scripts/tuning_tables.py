# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The tuning stage's table: official and tuned recipes side by side (csft.report.tuning)."""

import logging

from csft import atomic, joblog
from csft.report import tuning

joblog.log_to(snakemake.log[0])
studies = tuning.read_studies(snakemake.input.best)
table = tuning.tuning_table(
    studies, tuning.read_scores(snakemake.input.official), tuning.read_scores(snakemake.input.tuned)
)
atomic.write_text(snakemake.output.csv, table.to_csv(index=False, float_format="%.6f"))
atomic.write_text(
    snakemake.output.md, tuning.table_markdown(table, studies, snakemake.config["tuning"])
)
logging.info("%d studies, %d cells", len(studies), len(table))
