# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Tune one forecaster on one dataset and look-back (an Optuna study, validation only); write
its best settings for the tuned recipe. csft.jobs.tune.execute runs it."""

import torch

from csft import joblog
from csft.jobs import tune

joblog.log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
tune.execute(
    tune.TuneSettings.from_dict(snakemake.params.settings),
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.config,
    snakemake.params.journal,
)
