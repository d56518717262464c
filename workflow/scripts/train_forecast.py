# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Train one forecaster (main or uf track, or an analysis variant) on one dataset, horizon and
seed; test once per look-back; log everything to MLflow. The rule resolves the job's settings
(csft.jobs.forecast.resolve) into its one `settings` param; csft.jobs.forecast.execute runs it."""

import torch

from csft import joblog
from csft.jobs import forecast

joblog.log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
forecast.execute(
    forecast.ForecastSettings.from_dict(snakemake.params.settings),
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.config,
    snakemake.params.checkpoint,
)
