# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Train one classifier on one UCR (or custom_classification) dataset and seed, score TEST
once, log every method's run to MLflow (CSFT's job gives two: the fine-tuned head and the SVM
on frozen H_L)."""

import dataclasses
import json
from pathlib import Path

import mlflow
import torch

from csft import atomic, joblog, tracking
from csft.data.custom_classification import custom_classification
from csft.data.ucr import load_ucr, scale
from csft.device import describe, resolve_device
from csft.jobs import classify as classify_job
from csft.models.registry import classifier_class, register_config_classifiers
from csft.training.classify import lengthen_short, seal

joblog.log_to(snakemake.log[0])
params = snakemake.params
torch.set_num_threads(snakemake.threads)
wildcards = snakemake.wildcards
register_config_classifiers(snakemake.config)  # classifiers of your own (classifiers.<name>)
job = classify_job.ClassifyJob(
    params.model,
    wildcards.name,
    wildcards.policy,
    int(wildcards.seed),
    params.device,
    selection=wildcards.selection,
    name=wildcards.classifier,
)

inputs = {"TRAIN": snakemake.input.train, "TEST": snakemake.input.test}
custom = custom_classification(snakemake.config).get(job.dataset)
if custom is None:
    dataset = load_ucr(Path(inputs["TRAIN"]).parents[2], job.dataset, params.missing_values)
    dataset = scale(dataset, params.scaling)
    where = {split: f"UCR {job.dataset}" for split in inputs}
    files = {f"UCR/{job.dataset}/{job.dataset}_{split}.tsv": path for split, path in inputs.items()}
else:  # your own files: unnormalised, hashed here, not pinned
    dataset = scale(custom.load(params.missing_values), params.scaling, normalized=False)
    where = inputs
    files = custom.relpaths()
for split, part in (("TRAIN", dataset.train), ("TEST", dataset.test)):
    part.series = lengthen_short(part.series, params.min_length, params.short_series, where[split])
splits = seal(dataset, job.selection, params.validation_fraction, job.seed)

uses_torch = classifier_class(job.model).uses_torch
device = describe(resolve_device(job.device)) if uses_torch else "cpu"
data_tags = tracking.data_tags(files)
data_tags["device"] = device
run_params = {
    "job": dataclasses.asdict(job),
    "settings": params.settings,
    "ucr": {
        "short_series": params.short_series,
        "min_length": params.min_length,
        "missing_values": params.missing_values,
        "scaling": params.scaling,
        "validation_fraction": params.validation_fraction,
        "validation_seed": job.seed if job.selection == "validation" else None,
    },
    "custom_classification": dataclasses.asdict(custom) if custom else None,
    "config": snakemake.config,
}
uri = tracking.tracking_uri(params.tracking_uri)
SUMMARY_KEYS = ("test_accuracy", "n_test", "train_seconds", "test_seconds")


def run_name(method):
    return f"{method}/{job.dataset}/{job.seed}"


def log_record(record):
    """The metrics every classification run shares, plus per-epoch histories where they exist."""
    tracking.log_metrics({key: record[key] for key in SUMMARY_KEYS})
    tags = {key: record[key] for key in ("method", "protocol", "length_policy", "selection")}
    if "svm_C" in record:
        tags["svm.C"] = record["svm_C"]  # the chosen C ("inf": a hard margin, no search)
    tracking.set_tags(tags)


primary = classify_job.method_name(job, classify_job.primary_protocol(job.model))
with tracking.job_run(uri, params.experiment, run_name(primary), run_params, data_tags) as run:
    mlflow.log_dict(snakemake.config, "config.yaml")
    pretrain_rows = []

    def log_metrics(values, step):
        tracking.log_metrics(values, step=step)
        if any(key.startswith("pretrain_") for key in values):
            pretrain_rows.append((step, values))

    records = classify_job.run(job, splits, dict(params.settings), log_metrics)
    log_record(records[0])
    records[0]["mlflow_run_id"] = run.info.run_id

for record in records[1:]:  # CSFT's SVM: a run of its own, with the pretraining it shares
    with tracking.job_run(
        uri, params.experiment, run_name(record["method"]), run_params, data_tags
    ) as run:
        for step, values in pretrain_rows:
            tracking.log_metrics(values, step=step)
        log_record(record)
        record["mlflow_run_id"] = run.info.run_id

for record in records:
    record.pop("history", None)  # per-epoch rows live in MLflow
atomic.write_text(snakemake.output.metrics, json.dumps(records, indent=2, sort_keys=True))
