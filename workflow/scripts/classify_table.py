# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Aggregate every classification job into the UCR summary, its report and Wilcoxon tests."""

import logging

from csft import atomic, joblog
from csft.report import tables

joblog.log_to(snakemake.log[0])
summary = tables.summarize_classify(tables.read_jobs(snakemake.input))
ranks = tables.classify_ranks(summary)
wilcoxon = tables.classify_wilcoxon(summary)
atomic.write_text(snakemake.output.csv, summary.to_csv(index=False, float_format="%.6f"))
# %g keeps small p-values that a fixed 6 decimals would print as 0.
atomic.write_text(snakemake.output.wilcoxon, wilcoxon.to_csv(index=False, float_format="%.6g"))
atomic.write_text(snakemake.output.md, tables.classify_markdown(summary, ranks, wilcoxon))
logging.info("wrote %d dataset x method rows, %d paired tests", len(summary), len(wilcoxon))
