# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Train one forecaster (main or uf track) on one ETT dataset, horizon and seed; test once per
look-back; log everything to MLflow. CSFT fine-tunes the encoder of its pretraining job, whose
per-epoch history this run repeats (pretrain_*), so every run shows its whole training."""

import dataclasses
import json
import time

import mlflow
import numpy as np
import pandas as pd
import torch

from csft import atomic, diagnostics, joblog, tracking
from csft.data.custom import custom_datasets, data_relpath
from csft.data.download import sha256_of
from csft.data.ett import ETTSeries
from csft.device import describe, resolve_device
from csft.jobs import forecast as forecast_job
from csft.jobs import pretrain as pretrain_job
from csft.models import registry
from csft.training.checkpoint import Checkpoint

joblog.log_to(snakemake.log[0])
registry.register_config_models(snakemake.config)  # models of your own (models.<name>.class)
params = snakemake.params
torch.set_num_threads(snakemake.threads)
job = forecast_job.ForecastJob(
    model=params.model,
    dataset=snakemake.wildcards.dataset,
    horizon=int(snakemake.wildcards.horizon),
    seed=int(snakemake.wildcards.seed),
    train_lookbacks=tuple(params.train_lookbacks),
    eval_lookbacks=tuple(params.eval_lookbacks),
    features=params.features,
    device=params.device,
)
custom = custom_datasets(snakemake.config).get(job.dataset)  # None: an ETT set
series = ETTSeries.load(
    snakemake.input.csv, job.dataset, job.max_lookback, job.features, custom=custom
)
relpath = data_relpath(job.dataset, custom)
data_tags = tracking.data_tags({relpath: snakemake.input.csv})
data_sha = data_tags[f"data.sha256.{relpath}"]
pretrained, pretrained_tags = None, {}
if "encoder" in snakemake.input.keys():
    settings = pretrain_job.encoder_settings(
        pretrain_job.PretrainJob(
            job.dataset,
            job.train_lookbacks[0],
            job.seed,
            job.features,
            interval=job.train_lookbacks if job.track == "uf" else None,
            eval_lookbacks=job.eval_lookbacks if job.track == "uf" else (),
        ),
        params.architecture,
        series.n_channels,
    )
    pretrained = pretrain_job.load_encoder(snakemake.input.encoder, settings)
    pretrained_tags = {
        "pretrained.encoder": snakemake.input.encoder,
        "pretrained.sha256": sha256_of(snakemake.input.encoder),
        "pretrained.mlflow_run_id": pretrained["mlflow_run_id"],
    }


# Per-epoch state of this job: a killed job resumes from it (same settings only).
checkpoint = Checkpoint(
    params.checkpoint,
    {
        "job": dataclasses.asdict(job),
        "architecture": params.architecture,
        "training": params.training,
        "pretrained": pretrained_tags.get("pretrained.sha256"),
        "mode": params.mode,
        "data": data_sha,
    },
)


def log_metrics(values, step):
    tracking.log_metrics(values, step=step)


with tracking.job_run(
    tracking.tracking_uri(params.tracking_uri),
    params.experiment,
    params.run_name,
    params={
        "job": dataclasses.asdict(job),
        "architecture": params.architecture,
        "training": params.training,
        "pretraining": params.pretraining or {},
        "mode": params.mode,
        "config": snakemake.config,
    },
    tags={
        "track": job.track,
        "device": describe(resolve_device(job.device)),
        **data_tags,
        **pretrained_tags,
    },
) as run:
    mlflow.log_dict(snakemake.config, "config.yaml")
    for epoch, row in enumerate(pretrained["history"] if pretrained else [], start=1):
        log_metrics({f"pretrain_{k}": v for k, v in row.items()}, epoch)
    started = time.perf_counter()
    result = forecast_job.run(
        job,
        series,
        dict(params.architecture),
        dict(params.training),
        pretrained["state"] if pretrained else None,
        params.mode,
        log_metrics,
        checkpoint,
    )
    seconds = time.perf_counter() - started
    tracking.log_params(
        {f"resolved_model.{k}": v for k, v in dataclasses.asdict(result.model.config).items()}
    )
    n_parameters = sum(p.numel() for p in result.model.parameters())
    summary = {"train_seconds": seconds, "n_parameters": n_parameters}
    if pretrained:  # the shared pretraining's time, apart: train_seconds is this job's own
        summary["pretrain_seconds"] = pretrained["seconds"]
    for record in result.records:
        suffix = "" if job.track == "main" else f"_L{record['lookback']}"
        summary.update(
            {
                f"{key}{suffix}": value
                for key, value in record.items()
                if key.startswith(("test_", "n_test"))
            }
        )
    summary.update(best_val_loss=result.records[0]["best_val_loss"], epochs_run=len(result.history))
    tracking.log_metrics(summary)

    # The fitted weights, to rescore later (python -m csft.evaluate --run-id / --path).
    forecast_job.save_model(
        snakemake.output.model, result.model, job, dict(params.training), data_sha, custom
    )
    mlflow.log_artifact(snakemake.output.model)
    with atomic.atomic_path(snakemake.output.examples) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **result.examples)
    if "features" in snakemake.output.keys():  # the analyses' frozen test features
        if result.features is None:
            raise ValueError(f"{job.model} has no represent(): no features to analyse")
        statistics = diagnostics.feature_correlation(result.features)
        statistics["pca_fraction_80"] = diagnostics.components_for_variance(result.features)
        tracking.log_metrics({f"feature_{k}": v for k, v in statistics.items()})
        with atomic.atomic_path(snakemake.output.features) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, features=result.features)
    history = pd.DataFrame(result.history).rename_axis("epoch").reset_index()
    history["epoch"] += 1
    atomic.write_text(snakemake.output.history, history.to_csv(index=False))
    records = [
        {
            **r,
            "train_seconds": seconds,
            "n_parameters": n_parameters,
            "mlflow_run_id": run.info.run_id,
        }
        for r in result.records
    ]
    atomic.write_text(snakemake.output.metrics, json.dumps(records, indent=2, sort_keys=True))
checkpoint.remove()  # every output is written
