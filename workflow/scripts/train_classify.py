# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Train one classifier on one UCR (or custom_classification) dataset and seed, score TEST
once, log every method's run to MLflow (CSFT's job gives two: the fine-tuned head and the SVM
on frozen H_L). The rule resolves the job's settings (csft.jobs.classify_run.resolve) into its
one `settings` param; csft.jobs.classify_run.execute runs it."""

import torch

from csft import joblog
from csft.jobs import classify_run
from csft.models.registry import register_config_classifiers

joblog.log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
register_config_classifiers(snakemake.config)  # before the settings name a classifier
classify_run.execute(
    classify_run.ClassifySettings.from_dict(snakemake.params.settings),
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.config,
)
