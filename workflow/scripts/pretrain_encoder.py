# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Pretrain one CSFT encoder on one ETT dataset, look-back (or uf interval) and seed
(self-supervised), for every horizon's fine-tuning; log it to MLflow's `pretrain` experiment."""

import dataclasses
import time

import mlflow
import pandas as pd
import torch

from csft import atomic, joblog, tracking
from csft.data.custom import custom_datasets, data_relpath
from csft.data.ett import ETTSeries
from csft.device import describe, resolve_device
from csft.jobs import pretrain as pretrain_job
from csft.training.checkpoint import Checkpoint

joblog.log_to(snakemake.log[0])
params = snakemake.params
torch.set_num_threads(snakemake.threads)
job = pretrain_job.PretrainJob(
    dataset=snakemake.wildcards.dataset,
    lookback=params.lookback,
    seed=int(snakemake.wildcards.seed),
    features=params.features,
    device=params.device,
    interval=tuple(params.interval) if params.interval else None,  # the uf track's
    eval_lookbacks=tuple(params.eval_lookbacks),
)
custom = custom_datasets(snakemake.config).get(job.dataset)  # None: an ETT set
series = ETTSeries.load(
    snakemake.input.csv, job.dataset, job.max_lookback, job.features, custom=custom
)
relpath = data_relpath(job.dataset, custom)
data_tags = tracking.data_tags({relpath: snakemake.input.csv})
data_sha = data_tags[f"data.sha256.{relpath}"]
settings = pretrain_job.encoder_settings(job, params.architecture, series.n_channels)

# Per-epoch state of this job: a killed job resumes from it (same settings only).
checkpoint = Checkpoint(
    params.checkpoint,
    {"settings": settings, "pretraining": params.pretraining, "data": data_sha},
)

with tracking.job_run(
    tracking.tracking_uri(params.tracking_uri),
    params.experiment,
    params.run_name,
    params={
        "job": dataclasses.asdict(job),
        "architecture": params.architecture,
        "pretraining": params.pretraining,
        "config": snakemake.config,
    },
    tags={
        "device": describe(resolve_device(job.device)),
        **data_tags,
    },
) as run:
    mlflow.log_dict(snakemake.config, "config.yaml")
    started = time.perf_counter()
    encoder, history = pretrain_job.run(
        job,
        series,
        dict(params.architecture),
        dict(params.pretraining),
        on_epoch=lambda epoch, row: tracking.log_metrics(
            {f"pretrain_{k}": v for k, v in row.items()}, step=epoch
        ),
        checkpoint=checkpoint,
    )
    seconds = time.perf_counter() - started
    tracking.log_metrics(
        {
            "pretrain_seconds": seconds,
            "pretrain_epochs": len(history),
            "n_parameters": sum(p.numel() for p in encoder.parameters()),
        }
    )
    table = pd.DataFrame(history).rename_axis("epoch").reset_index()
    table["epoch"] += 1
    atomic.write_text(snakemake.output.history, table.to_csv(index=False))
    pretrain_job.save_encoder(
        snakemake.output.encoder, encoder, settings, history, run.info.run_id, seconds
    )
checkpoint.remove()  # every output is written
