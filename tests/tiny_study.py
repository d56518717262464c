"""The tiny study the end-to-end tests share: its config, and how they run Snakemake on it.

Seconds per job on the real data mirror; the same config runs locally (the `study` fixture in
conftest.py) and on a one-node SLURM (test_slurm.py), whose tables must then agree.
"""

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DATASETS = ["ETTh1", "ETTh2"]
LOOKBACK, HORIZON, SEEDS, EPOCHS = 96, 24, [1, 2], 2
CSFT_LOOKBACK, UF_LOOKBACKS = 64, [64, 127]
UF_PLACEMENTS = ["resample", "crop"]  # the paper's rule and the control (all four: unit tests)
CLASSIFIERS = ("csft", "patchtst", "ts2vec", "minirocket", "dtw_1nn")
BOUNDARY_LENGTHS = [64, 100, 127, 128, 200, 255, 256]  # the 512..2048 boundaries, scaled down
MAIN_JOBS = [("dlinear", d, LOOKBACK) for d in DATASETS] + [
    ("csft", "ETTh1", CSFT_LOOKBACK),
    ("patchtst", "ETTh1", LOOKBACK),
]


def run_snakemake(*args: str, mirror: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Snakemake on the repo's Snakefile with the mirror; `env` defaults to this process's
    environment minus any MLFLOW_TRACKING_URI."""
    if env is None:  # a developer's own tracking server stays out of the tests
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env = {**env, "CSFT_DATA_MIRROR": str(mirror)}
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
        "forecast": {
            "runs": [
                {"model": "dlinear", "lookback": LOOKBACK},
                {"model": "csft", "lookback": CSFT_LOOKBACK, "datasets": ["ETTh1"]},
                {"model": "patchtst", "lookback": LOOKBACK, "datasets": ["ETTh1"]},
            ],
            "horizons": [HORIZON],
        },
        "forecast_uf": {
            "models": ["csft"],
            "datasets": ["ETTh1"],
            "placement": UF_PLACEMENTS,
            "intervals": [{"low": 64, "high": 128, "eval_lookbacks": UF_LOOKBACKS}],
            "horizons": [HORIZON],
        },
        "classify": {
            "models": list(CLASSIFIERS),
            "seeds": SEEDS[:1],
            "selection": ["fixed_budget", "validation"],
            "csft": {
                "pretraining": {"steps": 3, "batch_size": 8},
                "training": {"batch_size": 8, "steps": 4, "patience": 1},
            },
            "patchtst": {
                "architecture": {"d_model": 8, "n_heads": 2, "d_ff": 16, "n_layers": 1},
                "training": {"batch_size": 8, "steps": 4, "patience": 1},
            },
            "ts2vec": {"hidden_dims": 8, "output_dims": 16, "depth": 2, "steps": 3},
            "minirocket": {"n_kernels": 84},
        },
        "sensitivity": {"axes": []},  # the full config's stage: tests/test_sensitivity.py
        "tuning": {"trials": 0},  # the full config's stage: tests/test_tuning.py
        "analysis": {
            "dataset": "ETTh1",
            "lookback": CSFT_LOOKBACK,
            "horizons": [HORIZON],
            "seeds": SEEDS,
            "variants": [
                {"name": "csft", "model": "csft"},
                {"name": "csft_residual", "model": "csft", "architecture": {"fusion": "residual"}},
                {"name": "patchtst", "model": "patchtst"},
            ],
            "lengths": {
                "lengths": BOUNDARY_LENGTHS,
                "n_series": 8,
                "stride": 16,
                "architecture": {"d_max": 16},
                "pretraining": {"epochs": 1, "batch_size": 16, "max_batches_per_epoch": 2},
            },
        },
        "models": {
            "dlinear": {
                "training": {"batch_size": 64, "epochs": EPOCHS, "learning_rate": 0.005},
                "recipe_overrides": [],
            },
            "patchtst": {
                "architecture": {"d_model": 8, "n_heads": 2, "d_ff": 16, "n_layers": 2},
                "training": {
                    "batch_size": 32,
                    "epochs": EPOCHS,
                    "learning_rate": 0.001,
                    "lr_schedule": "patchtst_type3",
                    "max_batches_per_epoch": 3,
                    "official_test_batch": 128,
                },
                "recipe_overrides": [],
            },
            "csft": {
                "architecture": {"d_model": 8, "n_heads": 2},
                "pretraining": {"epochs": 1, "batch_size": 16, "max_batches_per_epoch": 3},
                "training": {
                    "batch_size": 16,
                    "epochs": EPOCHS,
                    "learning_rate": 0.001,
                    "lr_schedule": "cosine",
                    "optimizer": "adamw",
                    "max_batches_per_epoch": 3,
                },
            },
        },
    }


def resolved_tiny_config(root: Path) -> dict:
    """The tiny config as a rule sees it: validated, the schema's defaults filled in."""
    from snakemake.utils import validate

    from csft.config import fill_architectures

    config = tiny_config(root)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    fill_architectures(config)
    return config


def write_config(root: Path, config: dict) -> Path:
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def forecast_only_config(root: Path, prefix: str, **sections) -> dict:
    """A one-seed main-track forecasting study under `root` (no uf track, no analyses; UCR
    untouched but not targeted), MLflow experiments under `prefix`; `sections` on top."""
    return {
        "results_dir": str(root / "results"),
        "data_dir": str(root / "data"),
        "seeds": [1],
        "tracking": {
            "uri": f"sqlite:///{root}/mlflow.db",
            "artifact_root": str(root / "mlartifacts"),
            "experiment_prefix": prefix,
        },
        "forecast_uf": {"models": []},
        "analysis": {"enabled": False},
        "sensitivity": {"axes": []},
        "tuning": {"trials": 0},
        **sections,
    }


def with_value(values: dict, path: tuple, value) -> dict:
    """`values` (nested dicts) with the entry at `path` set to `value`, in place."""
    target = values
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return values
