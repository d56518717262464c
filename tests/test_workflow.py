"""The whole DAG on a tiny config against the real data mirror: tables, figures, MLflow runs.

Also the workflow's failure modes a user meets first: a corrupted data file and an unknown
config key, both stopped with an error that names the culprit.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DATASETS = ["ETTh1", "ETTh2"]
LOOKBACK, HORIZON, SEEDS, EPOCHS = 96, 24, [1, 2], 2


def run_snakemake(*args: str, mirror: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["CSFT_DATA_MIRROR"] = str(mirror)
    return subprocess.run(
        [str(SNAKEMAKE), "--cores", "2", "--nolock", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def tiny_config(root: Path) -> dict:
    return {
        "results_dir": str(root / "results"),
        "data_dir": str(root / "data"),
        "seeds": SEEDS,
        "tracking": {
            "uri": f"sqlite:///{root}/mlflow.db",
            "artifact_root": str(root / "mlartifacts"),
            "experiment_prefix": "tiny/",
        },
        "ett": {"datasets": DATASETS, "features": "M"},
        "ucr": {"datasets": ["Chinatown", "PickupGestureWiimoteZ"]},
        "forecast": {"models": ["dlinear"], "lookback": LOOKBACK, "horizons": [HORIZON]},
        "models": {
            "dlinear": {
                "training": {"batch_size": 64, "epochs": EPOCHS, "learning_rate": 0.005},
                "recipe_overrides": [],
            }
        },
    }


def write_config(root: Path, config: dict) -> Path:
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory, mirror):
    root = tmp_path_factory.mktemp("tiny")
    configfile = write_config(root, tiny_config(root))
    first = run_snakemake("--configfile", str(configfile), mirror=mirror)
    assert first.returncode == 0, first.stderr[-4000:]
    table = pd.read_csv(root / "results" / "tables" / "forecast.csv")
    return root, configfile, table


def active_runs(root: Path):
    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("tiny/forecast")
    return client, client.search_runs([experiment.experiment_id])


def test_table_has_one_row_per_model_dataset_horizon(study):
    _, _, table = study
    assert sorted(table.dataset) == DATASETS
    assert (table.horizon == HORIZON).all() and (table.n_seeds == len(SEEDS)).all()
    # Every test window scored: the ETTh test segment is 2880 rows plus one look-back.
    assert (table.n_test_windows == 2880 + LOOKBACK - LOOKBACK - HORIZON + 1).all()
    assert table[["test_mse_mean", "test_mae_mean", "test_mse_std"]].notna().all().all()
    assert (table.test_mse_mean > 0).all()
    markdown = (study[0] / "results" / "tables" / "forecast.md").read_text()
    assert markdown.count("| dlinear ") == len(DATASETS)


def test_figures_are_written_as_png_and_pdf(study):
    figures = study[0] / "results" / "figures"
    for name in ("learning_curves", "forecast_examples"):
        assert (figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (figures / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"


def test_ucr_datasets_are_prepared(study):
    summary = json.loads((study[0] / "results" / "data" / "ucr" / "Chinatown.json").read_text())
    assert summary["n_train"] + summary["n_val"] == 20 and summary["n_test"] == 343
    variable = json.loads(
        (study[0] / "results" / "data" / "ucr" / "PickupGestureWiimoteZ.json").read_text()
    )
    assert variable["variable_length"] and variable["min_length"] < variable["max_length"]


def test_mlflow_holds_one_complete_run_per_job(study):
    root, _, _ = study
    client, runs = active_runs(root)
    names = sorted(run.info.run_name for run in runs)
    expected = sorted(f"dlinear/{d}/{HORIZON}/{s}" for d in DATASETS for s in SEEDS)
    assert names == expected
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.params["training.batch_size"] == "64"
        assert run.data.params["model.lookback"] == str(LOOKBACK)
        assert len(run.data.tags["git.commit"]) == 40 or run.data.tags["git.commit"] == "unknown"
        assert run.data.tags["data.pinned"] == "True"
        assert any(tag.startswith("data.sha256.ETT-small/") for tag in run.data.tags)
        assert "version.torch" in run.data.tags and "host" in run.data.tags
        assert run.data.metrics["n_test_windows"] == 2880 - HORIZON + 1
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
        assert steps == list(range(1, int(run.data.metrics["epochs_run"]) + 1))
        assert "config.yaml" in [a.path for a in client.list_artifacts(run.info.run_id)]


def test_rerun_replaces_runs_and_reproduces_metrics(study, mirror):
    root, configfile, table = study
    again = run_snakemake(
        "--configfile", str(configfile), "--forcerun", "train_forecast", mirror=mirror
    )
    assert again.returncode == 0, again.stderr[-4000:]
    _, runs = active_runs(root)
    assert len(runs) == len(DATASETS) * len(SEEDS)  # no duplicates left behind
    rerun = pd.read_csv(root / "results" / "tables" / "forecast.csv")
    pd.testing.assert_frame_equal(rerun, table)  # same config and seed on CPU, same metrics


def test_corrupted_mirror_file_fails_naming_the_file(tmp_path, mirror):
    bad_mirror = tmp_path / "mirror" / "ETT-small"
    bad_mirror.mkdir(parents=True)
    data = bytearray((mirror / "ETT-small" / "ETTh1.csv").read_bytes())
    data[1000] ^= 0x01
    (bad_mirror / "ETTh1.csv").write_bytes(bytes(data))
    config = tiny_config(tmp_path)
    target = Path(config["data_dir"]) / "ETT-small" / "ETTh1.csv"
    # The target goes before --configfile, which takes every following word as a file.
    result = run_snakemake(
        str(target), "--configfile", str(write_config(tmp_path, config)), mirror=bad_mirror.parent
    )
    assert result.returncode != 0
    assert "ETT-small/ETTh1.csv" in result.stderr and "ChecksumError" in result.stderr
    assert not target.exists()


def test_unknown_config_key_fails_before_any_job(tmp_path, mirror):
    config = tiny_config(tmp_path)
    config["forecast"]["horizon_typo"] = [96]
    result = run_snakemake("-n", "--configfile", str(write_config(tmp_path, config)), mirror=mirror)
    assert result.returncode != 0
    assert "'horizon_typo' was unexpected" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
