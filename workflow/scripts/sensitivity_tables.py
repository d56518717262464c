# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The sensitivity stage's table, paragraph and tornado figure (csft.report.sensitivity)."""

import logging

from csft import atomic, joblog
from csft.config import DEFAULT_READING
from csft.report import plots, sensitivity

joblog.log_to(snakemake.log[0])
scores = sensitivity.read_scores(snakemake.input)
table = sensitivity.sensitivity_table(scores, DEFAULT_READING)
atomic.write_text(snakemake.output.csv, table.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.md, sensitivity.table_markdown(table, snakemake.params.budget))
figure = sensitivity.tornado(table)
for path in snakemake.output.figures:
    plots.save(figure, path)
logging.info("%d readings x tasks", len(table))
