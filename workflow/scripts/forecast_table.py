# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Aggregate every forecasting job into results/tables/forecast.{csv,md}."""

import logging

from csft import atomic, joblog
from csft.report import tables

joblog.log_to(snakemake.log[0])
# The rule's inputs are every job's metrics.json and history.csv (read beside it).
jobs = tables.read_forecast_jobs([p for p in snakemake.input if p.endswith("metrics.json")])
summary = tables.summarize_forecast(jobs)
atomic.write_text(snakemake.output.csv, summary.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.md, tables.forecast_markdown(summary, jobs))
logging.info("wrote %d rows", len(summary))
