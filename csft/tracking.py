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
import random
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from csft.data.download import pinned_sha256, sha256_of

if TYPE_CHECKING:
    import mlflow

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


LOCK_RETRY_SECONDS = 300.0  # give up on a locked store only after this long


def is_locked(error: BaseException) -> bool:
    """Whether an error is sqlite's "database is locked" (however MLflow wraps it)."""
    while error is not None:
        if "database is locked" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def retry_locked(call: Callable, *args, **kwargs):
    """call(*args, **kwargs), retried with jittered backoff while the sqlite store is locked by
    another job: concurrent jobs share one file, and a dropped metric is a lost result."""
    deadline, wait = time.monotonic() + LOCK_RETRY_SECONDS, 0.05
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as error:
            if not is_locked(error) or time.monotonic() > deadline:
                raise
            log.warning("MLflow store locked; retrying %s in %.2f s", call.__name__, wait)
            time.sleep(wait * (1 + random.random()))  # noqa: S311 (jitter, not crypto)
            wait = min(wait * 2, 5.0)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    import mlflow

    retry_locked(mlflow.log_metrics, dict(metrics), step=step)


def log_params(params: Mapping[str, object]) -> None:
    import mlflow

    retry_locked(mlflow.log_params, dict(params))


def set_tags(tags: Mapping[str, str]) -> None:
    import mlflow

    retry_locked(mlflow.set_tags, dict(tags))


def log_dict(content: Mapping, artifact_file: str) -> None:
    """Store a dict as a JSON/YAML artifact of the active run (the format follows the name)."""
    import mlflow

    retry_locked(mlflow.log_dict, dict(content), artifact_file)


def log_artifact(path: str | os.PathLike) -> None:
    """Copy a file into the active run's artifacts."""
    import mlflow

    retry_locked(mlflow.log_artifact, str(path))


def tracking_uri(configured: str) -> str:
    """`MLFLOW_TRACKING_URI` wins over the config, so a cluster can point every job at a server."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def init_store(uri: str, experiments: list[str], artifact_root: str) -> dict[str, str]:
    """Create the store's schema and the experiments once; returns name -> experiment id."""
    from mlflow.tracking import MlflowClient

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
    import pandas as pd

    row = pd.json_normalize(dict(config), sep=".").iloc[0].to_dict()
    return {key: str(value) for key, value in row.items()}


def git(*args: str, cwd: str | os.PathLike | None = None) -> str:
    """`git ARGS` in `cwd` (default: this process's), its output; "unknown" without git."""
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance_tags() -> dict[str, str]:
    """Git commit and dirty flag, package versions, host and hardware of this process."""
    tags = {
        "git.commit": git("rev-parse", "HEAD"),
        "git.dirty": str(bool(git("status", "--porcelain", "--untracked-files=no"))).lower(),
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


def data_tags(files: Mapping[str, str | os.PathLike]) -> dict[str, str]:
    """Tags naming the data a run read: `data.sha256.<relpath>` per file ({relpath: path},
    relpath as in checksums.tsv) and `data.pinned` ("true" when every hash is the pinned one)."""
    tags, pinned = {}, True
    for relpath, path in files.items():
        digest = sha256_of(path)
        tags[f"data.sha256.{relpath}"] = digest
        pinned &= pinned_sha256(relpath) == digest
    return {**tags, "data.pinned": str(pinned).lower()}


@contextlib.contextmanager
def job_run(
    uri: str, experiment: str, run_name: str, params: Mapping, tags: Mapping[str, str]
) -> Iterator[mlflow.ActiveRun]:
    """One MLflow run per Snakemake job.

    Earlier runs of the same job (same experiment and run name: a rerun, or a run killed
    midway) are deleted once this one finishes, so the store never holds duplicates and a
    killed run never outlives its replacement. A run that raises is marked FAILED.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    found = retry_locked(client.get_experiment_by_name, experiment)
    if found is None:
        raise LookupError(
            f"MLflow experiment {experiment!r} does not exist in {uri}; "
            "the workflow's onstart creates it"
        )
    run = retry_locked(mlflow.start_run, experiment_id=found.experiment_id, run_name=run_name)
    try:
        log_params(flatten(params))
        set_tags({**provenance_tags(), **tags, "job": run_name})
        yield run
    except BaseException:
        retry_locked(mlflow.end_run, "FAILED")
        raise
    retry_locked(mlflow.end_run)
    earlier = retry_locked(
        client.search_runs,
        [found.experiment_id],
        filter_string=f"tags.job = '{run_name}'",
        max_results=1000,
    )
    for old in earlier:
        if old.info.run_id != run.info.run_id:
            retry_locked(client.delete_run, old.info.run_id)
            log.info("deleted earlier run %s of job %s", old.info.run_id, run_name)
