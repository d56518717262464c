# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The channels question's table, verdicts and figure (csft.report.channels)."""

import logging

from csft import atomic, joblog
from csft.report import channels, plots

joblog.log_to(snakemake.log[0])
arms = dict(snakemake.params.arms)  # name -> settings, the first the baseline
scores = channels.read_scores(snakemake.input)
table = channels.channels_table(scores, arms)
atomic.write_text(snakemake.output.csv, table.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.md, channels.table_markdown(table, snakemake.params.budget))
figure = channels.figure(scores, list(arms))
for path in (snakemake.output.png, snakemake.output.pdf):
    plots.save(figure, path)
logging.info("%d datasets x pairs of arms", len(table))
