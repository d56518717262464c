# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Open question 2 (irregular sampling): the table, verdicts and figure (csft.report.irregular)."""

import logging

from csft import atomic, joblog
from csft.report import irregular, plots

joblog.log_to(snakemake.log[0])
table = irregular.irregular_table(irregular.read_scores(snakemake.input))
atomic.write_text(snakemake.output.csv, table.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.md, irregular.table_markdown(table, snakemake.params.budget))
figure = irregular.figure(table)
for path in snakemake.output.figures:
    plots.save(figure, path)
logging.info("%d task x model+method x p rows", len(table))
