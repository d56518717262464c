"""The one thin wrapper around MLflow: where runs go, what every run records, no duplicates.

Store: `MLFLOW_TRACKING_URI` if set, else the config's `tracking.uri` (an embedded sqlite file by
default). The store and experiments are created once, before any job (Snakefile `onstart`),
because several processes creating a fresh sqlite store at once corrupt its schema.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import platform
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import mlflow
import pandas as pd
import torch
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

PACKAGES = (
    "torch",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "mlflow",
    "snakemake",
    "csft-bench",
)


def tracking_uri(configured: str) -> str:
    """`MLFLOW_TRACKING_URI` wins over the config, so a cluster can point every job at a server."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def init_store(uri: str, experiments: list[str], artifact_root: str) -> dict[str, str]:
    """Create the store's schema and the experiments once; returns name -> experiment id."""
    client = MlflowClient(tracking_uri=uri)
    ids = {}
    for name in experiments:
        found = client.get_experiment_by_name(name)
        if found is None:
            location = (Path(artifact_root).resolve() / name.replace("/", "_")).as_uri()
            ids[name] = client.create_experiment(name, artifact_location=location)
        else:
            ids[name] = found.experiment_id
    return ids


def flatten(config: Mapping) -> dict[str, str]:
    """Nested config -> {"a.b.c": "value"}, the form MLflow params take."""
    row = pd.json_normalize(dict(config), sep=".").iloc[0].to_dict()
    return {key: str(value) for key, value in row.items()}


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance_tags() -> dict[str, str]:
    """Git commit and dirty flag, package versions, host and hardware of this process."""
    tags = {
        "git.commit": _git("rev-parse", "HEAD"),
        "git.dirty": str(bool(_git("status", "--porcelain", "--untracked-files=no"))).lower(),
        "host": platform.node(),
        "machine.platform": platform.platform(),
        "machine.cpu": platform.processor() or platform.machine(),
        "machine.cpu_count": str(os.cpu_count()),
        "machine.device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
    }
    for package in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            tags[f"version.{package}"] = importlib.metadata.version(package)
    if "SLURM_JOB_ID" in os.environ:
        tags["slurm.job_id"] = os.environ["SLURM_JOB_ID"]
    return tags


@contextlib.contextmanager
def job_run(
    uri: str, experiment: str, run_name: str, params: Mapping, tags: Mapping[str, str]
) -> Iterator[mlflow.ActiveRun]:
    """One MLflow run per Snakemake job.

    Earlier runs of the same job (same experiment and run name: a rerun, or a run killed
    midway) are deleted once this one finishes, so the store never holds duplicates and a
    killed run never outlives its replacement. A run that raises is marked FAILED.
    """
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise LookupError(
            f"MLflow experiment {experiment!r} does not exist in {uri}; "
            "the workflow's onstart creates it"
        )
    with mlflow.start_run(experiment_id=found.experiment_id, run_name=run_name) as run:
        mlflow.log_params(flatten(params))
        mlflow.set_tags({**provenance_tags(), **tags, "job": run_name})
        yield run
    earlier = client.search_runs(
        [found.experiment_id], filter_string=f"tags.job = '{run_name}'", max_results=1000
    )
    for old in earlier:
        if old.info.run_id != run.info.run_id:
            client.delete_run(old.info.run_id)
            log.info("deleted earlier run %s of job %s", old.info.run_id, run_name)
