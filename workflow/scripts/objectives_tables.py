# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The objectives question's table, verdicts and figure (csft.report.objectives)."""

import logging

from csft import atomic, joblog
from csft.report import objectives, plots

joblog.log_to(snakemake.log[0])
baseline, sweeps = snakemake.params.baseline, snakemake.params.sweeps
scores = objectives.read_scores(snakemake.input)
table = objectives.objectives_table(scores, baseline)
atomic.write_text(snakemake.output.csv, table.to_csv(index=False, float_format="%.6f"))
markdown = objectives.table_markdown(table, scores, snakemake.params.budget, baseline, sweeps)
atomic.write_text(snakemake.output.md, markdown)
figure = objectives.figure(scores, baseline)
for path in snakemake.output.figures:
    plots.save(figure, path)
logging.info("%d arms x tasks", len(table))
