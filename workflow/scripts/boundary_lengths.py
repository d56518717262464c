# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The boundary-lengths experiment on one ETT dataset and every seed: does crossing a log2
boundary change CSFT's representation more than moving inside one interval? The rule resolves
the study's settings (csft.jobs.lengths.resolve) into its one `settings` param;
csft.jobs.lengths.execute runs it (one MLflow run, the tables, the verdict, the figure)."""

import torch

from csft import joblog
from csft.jobs import lengths

joblog.log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
lengths.execute(
    lengths.LengthsSettings.from_dict(snakemake.params.settings),
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
)
