# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Pretrain one CSFT encoder on one dataset, look-back (or uf interval) and seed
(self-supervised), for every horizon's fine-tuning; log it to MLflow's `pretrain` experiment.
The rule resolves the job's settings (csft.jobs.pretrain.resolve) into its one `settings`
param; csft.jobs.pretrain.execute runs it."""

import torch

from csft import joblog
from csft.jobs import pretrain

joblog.log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
pretrain.execute(
    pretrain.PretrainSettings.from_dict(snakemake.params.settings),
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.config,
    snakemake.params.checkpoint,
)
