# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Tune one classifier on one set (an Optuna study on a validation split of TRAIN, TEST
sealed); write its best settings for the tuned recipe. csft.jobs.tune_classify runs it."""

import torch

from csft import joblog
from csft.jobs import tune_classify

joblog.log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
tune_classify.execute(
    tune_classify.ClassifyTuneSettings.from_dict(snakemake.params.settings),
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.config,
    snakemake.params.journal,
)
