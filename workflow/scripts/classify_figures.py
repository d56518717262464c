# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The UCR rank figure: a critical-difference diagram of the methods run on every dataset."""

import logging

from csft import joblog
from csft.report import plots, tables

joblog.log_to(snakemake.log[0])
summary = tables.summarize_classify(tables.read_jobs(snakemake.input))
figure = plots.classify_ranks_figure(summary)
plots.save(figure, snakemake.output.png)
plots.save(figure, snakemake.output.pdf)
logging.info("rank figure over %d datasets", summary.dataset.nunique())
