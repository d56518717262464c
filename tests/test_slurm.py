"""The SLURM profile against a real one-node SLURM (slurm-wlm, installed by `.ci/run`).

The tiny study runs with `--profile workflow/profiles/slurm` and must give the local run's
tables, with every MLflow run tagged by the SLURM job it ran in; a job that raises on the
cluster must stop Snakemake with the job's SLURM log in the message. The cluster's daemons are
started for this module and stopped by PID afterwards; nothing of them may be left running.
"""

import json
import os
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from mlflow_server import serve
from slurm_cluster import SlurmCluster, available
from tiny_study import run_snakemake, tiny_config, write_config

pytestmark = pytest.mark.e2e
PROFILE = "workflow/profiles/slurm"
TIMING = re.compile(r"seconds|run_id")  # differ between any two runs, local or not


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not available():
        if os.environ.get("CSFT_REQUIRE_SLURM"):  # set by .ci/run: no silent skip in CI
            pytest.fail("slurm-wlm and munge are not installed (apt-get install slurm-wlm munge)")
        pytest.skip("slurm-wlm and munge are not installed")
    # A short path: slurmd's spool and munge's socket path must stay under the UNIX limits.
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    with cluster:
        yield cluster
    assert cluster.running() == [], "SLURM daemons left running"
    leftovers = subprocess.run(
        ["pgrep", "-f", str(cluster.root)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == [], f"processes of the test cluster left running: {leftovers}"


def run_on_slurm(cluster, root: Path, config: dict, *args: str, mirror: Path, **env: str):
    """Snakemake with the SLURM profile on the test cluster: `args` (targets, flags) first,
    SLURM logs under `root`, `config` written there; `env` adds variables."""
    return run_snakemake(
        *args,
        "--profile",
        PROFILE,
        "--slurm-logdir",
        str(root / "slurm_logs"),
        "--configfile",
        str(write_config(root, config)),
        mirror=mirror,
        env={**cluster.env, **env},
    )


def dlinear_job(root: Path) -> Path:
    """The output folder of one tiny DLinear job (ETTh1, seed 1)."""
    return root / "results" / "forecast" / "dlinear" / "ETTh1" / "L96" / "H24" / "seed1"


@pytest.fixture(scope="module")
def slurm_study(cluster, tmp_path_factory, mirror):
    root = tmp_path_factory.mktemp("tiny_slurm")
    result = run_on_slurm(cluster, root, tiny_config(root), mirror=mirror)
    assert result.returncode == 0, result.stderr[-6000:]
    return root


def comparable_tables(root: Path) -> dict[str, object]:
    """Every table of a study, minus what differs between any two runs (timings, run ids)."""
    tables = {}
    for path in sorted((root / "results" / "tables").iterdir()):
        if path.suffix == ".csv":
            table = pd.read_csv(path)
            tables[path.name] = table.drop(columns=[c for c in table if TIMING.search(c)])
        elif path.suffix == ".json":
            record = json.loads(path.read_text())
            tables[path.name] = {k: v for k, v in record.items() if not TIMING.search(k)}
    return tables


def test_slurm_run_gives_the_local_tables(slurm_study, study):
    local, on_slurm = comparable_tables(study[0]), comparable_tables(slurm_study)
    assert sorted(on_slurm) == sorted(local)
    assert len(local) >= 8  # forecast, classify, analysis, lengths, claims ...
    for name, table in local.items():
        if isinstance(table, pd.DataFrame):
            pd.testing.assert_frame_equal(on_slurm[name], table, obj=name)
        else:
            assert on_slurm[name] == table, name


def test_training_goes_to_slurm_and_light_rules_stay_local(slurm_study):
    submitted = {path.name for path in (slurm_study / "slurm_logs").iterdir()}
    assert {"rule_train_forecast", "rule_train_classify", "rule_train_analysis"} <= submitted
    local = {"rule_download_ett", "rule_prepare_ucr", "rule_forecast_table", "rule_claims_table"}
    assert submitted.isdisjoint(local)


def test_every_mlflow_run_carries_its_slurm_job_id(slurm_study):
    client = MlflowClient(tracking_uri=f"sqlite:///{slurm_study}/mlflow.db")
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments])
    assert len(runs) > 20
    ids = [run.data.tags.get("slurm.job_id") for run in runs]
    assert all(i and i.isdigit() for i in ids), ids
    assert all(run.info.status == "FINISHED" for run in runs)
    assert all(run.data.tags["device"] in ("cpu",) for run in runs if "device" in run.data.tags)
    # One SLURM job per Snakemake job: only CSFT's classify job logs two runs (finetune + SVM).
    assert len(set(ids)) >= len(ids) - sum("csft/svm" in r.info.run_name for r in runs)


def test_failing_job_stops_snakemake_with_its_slurm_log(cluster, tmp_path, mirror):
    config = tiny_config(tmp_path)
    config["models"]["dlinear"]["training"]["batch_size"] = 10**6  # > the training windows
    target = dlinear_job(tmp_path)
    result = run_on_slurm(
        cluster, tmp_path, config, str(target / "metrics.json"), "--retries", "0", mirror=mirror
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    logs = re.findall(rf"{tmp_path}/slurm_logs/rule_train_forecast/\S+?/\d+\.log", output)
    assert logs, output[-4000:]
    slurm_log = Path(logs[0]).read_text()  # the job's stderr: the traceback and its cause
    assert "Error in rule train_forecast" in slurm_log
    assert "fewer than one batch of 1000000" in slurm_log
    rule_log = tmp_path / "results" / "logs" / "train_forecast" / "dlinear_ETTh1_L96_H24_seed1.log"
    assert str(rule_log) in output and "fewer than one batch" in rule_log.read_text()
    assert not (target / "metrics.json").exists()


def test_jobs_log_to_a_tracking_server_named_in_the_environment(cluster, tmp_path, mirror):
    """The profile's second MLflow mode: MLFLOW_TRACKING_URI=http://... wins over the config."""
    config = tiny_config(tmp_path)
    target = dlinear_job(tmp_path)
    with serve("server", f"sqlite:///{tmp_path}/server.db", tmp_path / "server.log") as (url, _):
        result = run_on_slurm(
            cluster,
            tmp_path,
            config,
            str(target / "metrics.json"),
            mirror=mirror,
            MLFLOW_TRACKING_URI=url,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        client = MlflowClient(tracking_uri=url)
        experiment = client.get_experiment_by_name("tiny/forecast")
        runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_name for r in runs] == ["dlinear/ETTh1/L96/H24/1"]
    assert runs[0].info.status == "FINISHED" and runs[0].data.tags["slurm.job_id"].isdigit()
    record = json.loads((target / "metrics.json").read_text())[0]
    assert record["mlflow_run_id"] == runs[0].info.run_id
    assert not (tmp_path / "mlflow.db").exists()  # the config's sqlite store was never used


def test_the_plugin_does_not_sleep_before_each_submission():
    """Plugin 2.6.0-2.7.0 sleep 5 s before every sbatch, one job at a time in Snakemake's
    scheduler: the smoke study's 1,016 jobs would wait 85 min for their submissions alone
    (docs/cluster.md). pyproject.toml pins the plugin below 2.6."""
    installed = version("snakemake-executor-plugin-slurm")
    release = tuple(int(part) for part in installed.split(".")[:3])
    assert not (2, 6, 0) <= release < (2, 7, 1), installed


def test_the_submission_benchmark_runs_a_toy_workflow(cluster, tmp_path):
    from slurm_submission import run_toy

    seconds = run_toy(cluster, tmp_path / "toy", n_jobs=2)
    assert sorted(p.name for p in (tmp_path / "toy" / "out").iterdir()) == ["0.txt", "1.txt"]
    assert seconds > 1  # two 1-s jobs, each started by a Snakemake inside SLURM
