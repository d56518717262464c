# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Train one forecaster on one ETT dataset, horizon and seed; test once; log to MLflow."""

import dataclasses
import json
import logging
import time

import mlflow
import numpy as np
import pandas as pd
import torch

from csft import atomic, metrics, tracking
from csft.data.download import pinned_sha256, sha256_of
from csft.data.ett import ETTSeries
from csft.registry import build_model
from csft.seeding import seed_everything
from csft.tasks import forecast

logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)
log = logging.getLogger("train_forecast")

wildcards, params = snakemake.wildcards, snakemake.params
dataset, model_name = wildcards.dataset, wildcards.model
horizon, seed = int(wildcards.horizon), int(wildcards.seed)
torch.set_num_threads(snakemake.threads)
generator = seed_everything(seed)

series = ETTSeries.load(snakemake.input.csv, dataset, params.lookback, params.features)
model = build_model(
    model_name,
    dict(params.architecture),
    lookback=params.lookback,
    horizon=horizon,
    n_channels=series.n_channels,
)
training = forecast.TrainingConfig(**params.training)
windows = {split: series.windows(split, horizon) for split in ("train", "val", "test")}
relpath = f"ETT-small/{dataset}.csv"
data_sha = sha256_of(snakemake.input.csv)
run_name = f"{model_name}/{dataset}/{horizon}/{seed}"
job = {"model": model_name, "dataset": dataset, "horizon": horizon, "seed": seed}
log.info("%s: %s", run_name, {k: len(v) for k, v in windows.items()})

with tracking.job_run(
    tracking.tracking_uri(params.tracking_uri),
    params.experiment,
    run_name,
    params={
        "job": job,
        "model": dataclasses.asdict(model.config),
        "training": dataclasses.asdict(training),
        "config": snakemake.config,
    },
    tags={
        f"data.sha256.{relpath}": data_sha,
        "data.pinned": str(pinned_sha256(relpath) == data_sha),
    },
) as run:
    mlflow.log_dict(snakemake.config, "config.yaml")
    started = time.perf_counter()
    history = forecast.train(
        model,
        windows["train"],
        windows["val"],
        training,
        generator,
        on_epoch=lambda epoch, row: mlflow.log_metrics(row, step=epoch),
    )
    train_seconds = time.perf_counter() - started
    test = forecast.predict(model, windows["test"], training.eval_batch_size)
    raw_pred, raw_true = series.inverse(test.pred), series.inverse(test.true)
    results = {
        "test_mse": metrics.mse(test.pred, test.true),
        "test_mae": metrics.mae(test.pred, test.true),
        "test_mse_raw": metrics.mse(raw_pred, raw_true),
        "test_mae_raw": metrics.mae(raw_pred, raw_true),
        "n_test_windows": len(windows["test"]),
        "best_val_loss": min(row["val_loss"] for row in history),
        "epochs_run": len(history),
        "train_seconds": train_seconds,
    }
    mlflow.log_metrics(results)
    log.info("test: %s", results)

    n = len(windows["test"])
    picks = [0, n // 2, n - 1]
    with atomic.atomic_path(snakemake.output.examples) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            index=np.array(picks),
            x=np.stack([windows["test"][i][0].numpy() for i in picks]),
            y=test.true[picks],
            pred=test.pred[picks],
        )
    history_frame = pd.DataFrame(history).rename_axis("epoch").reset_index()
    history_frame["epoch"] += 1
    atomic.write_text(snakemake.output.history, history_frame.to_csv(index=False))
    record = {**job, "lookback": params.lookback, **results, "mlflow_run_id": run.info.run_id}
    atomic.write_text(snakemake.output.metrics, json.dumps(record, indent=2, sort_keys=True))
