"""Kill the workflow (SIGKILL to Snakemake's process group) during a download, in the middle of
training and while tables are written; `--rerun-incomplete` must then finish with the tables of
an uninterrupted run, exactly one finished MLflow run per job, a killed job resumed from its
checkpoint, and no truncated or temporary file anywhere.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from processes import living_members
from tiny_study import (
    MAIN_JOBS,
    REPO,
    SEEDS,
    SNAKEMAKE,
    UF_PLACEMENTS,
    run_snakemake,
    tiny_config,
    write_config,
)

pytestmark = pytest.mark.e2e
TIMING = ("train_seconds", "mlflow_run_id")


def forecast_only(root: Path) -> dict:
    """The tiny study's forecasting part (same jobs and seeds as the `study` fixture's)."""
    config = tiny_config(root)
    config["ucr"]["datasets"] = []
    config["analysis"]["enabled"] = False
    return config


def start(configfile: Path, mirror: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["CSFT_DATA_MIRROR"] = str(mirror)
    return subprocess.Popen(
        [str(SNAKEMAKE), "--cores", "2", "--nolock", "--rerun-incomplete"]
        + ["--configfile", str(configfile)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the jobs it starts are in it too
    )


def kill_when(process: subprocess.Popen, ready, timeout: float = 600) -> bool:
    """SIGKILL the whole group as soon as `ready()`; False if the run ended first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while living_members(process.pid):
        assert time.monotonic() < deadline, (
            f"killed group still alive: {living_members(process.pid)}"
        )
        time.sleep(0.1)
    return True


def assert_nothing_truncated(root: Path, killed: bool = False) -> None:
    """Every file under results/ and data/ reads whole; no temporary file is left, except,
    right after a kill, hidden `.NAME.*.part` files of writes the kill cut short (a SIGKILLed
    process cannot remove them; the next write of NAME does)."""
    for path in [*root.glob("results/**/*"), *root.glob("data/**/*")]:
        if not path.is_file():
            continue
        if killed and path.name.startswith(".") and path.name.endswith(".part"):
            continue
        assert not path.name.endswith(".part"), path
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            pd.read_csv(path)
        elif path.suffix == ".npz":
            with np.load(path) as arrays:
                [arrays[key] for key in arrays.files]
        elif path.suffix == ".png":
            data = path.read_bytes()
            assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82"), path


def test_killed_study_resumes_to_the_uninterrupted_tables(tmp_path, mirror, study):
    configfile = write_config(tmp_path, forecast_only(tmp_path))
    results = tmp_path / "results"
    checkpoints = results / "checkpoints"
    points = {
        "download": lambda: (tmp_path / "data" / "ETT-small").exists(),
        "training": lambda: any(checkpoints.glob("**/*.pt")),
        "tables": lambda: (results / "logs" / "forecast_table.log").exists(),
    }
    killed, resumable = [], False
    for point, ready in points.items():
        if kill_when(start(configfile, mirror), ready):
            killed.append(point)
            assert_nothing_truncated(tmp_path, killed=True)
            resumable |= point == "training" and any(checkpoints.glob("**/*.pt"))
    assert killed == list(points) and resumable, killed  # every point hit, a job resumable

    final = run_snakemake("--rerun-incomplete", "--configfile", str(configfile), mirror=mirror)
    assert final.returncode == 0, final.stderr[-4000:]

    table = pd.read_csv(results / "tables" / "forecast.csv")
    reference = study[2]
    pd.testing.assert_frame_equal(table, reference)  # no timing column in this table
    logs = [p.read_text() for p in (results / "logs").glob("*/*.log")]
    assert any("resuming from" in log for log in logs)  # a killed job went on, not over
    assert not any(checkpoints.glob("**/*.pt"))  # removed once each job's outputs exist
    assert_nothing_truncated(tmp_path)

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("tiny/forecast")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    names = sorted(run.info.run_name for run in runs)
    assert len(names) == len(set(names)) == (len(MAIN_JOBS) + len(UF_PLACEMENTS)) * len(SEEDS)
    assert {run.info.status for run in runs} == {"FINISHED"}
    for path in results.glob("forecast*/**/metrics.json"):  # tables come from these runs
        for record in json.loads(path.read_text()):
            assert client.get_run(record["mlflow_run_id"]).info.status == "FINISHED"
