"""Rescore a saved forecaster or classifier on its test split, without retraining.

    python -m csft.evaluate --path results/forecast/csft/ETTh1/L512/H96/seed2021/model.pt
    python -m csft.evaluate --path results/classify/minirocket/Chinatown/.../seed2021/model.pt
    python -m csft.evaluate --run-id RUN_ID [--tracking-uri sqlite:///results/mlflow.db]

Every forecasting and classification job keeps its fitted model (`model.pt`, also an artifact of
its MLflow run; a classification job's is on its first method's run) with its resolved settings.
Every data file must have the SHA-256 the model was trained on. A forecaster is scored through
the job's own function (csft.jobs.forecast.score_test), every test window at every tested
look-back; a classifier predicts TEST under every protocol it declares; so the records equal
the job's metrics.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from csft.data.custom import CustomDataset
from csft.data.download import sha256_of
from csft.data.ett import ETTSeries
from csft.jobs import classify_run
from csft.jobs import forecast as forecast_job
from csft.jobs.classify import method_name
from csft.training.forecast import TrainingConfig


def evaluate(path: str | Path, data_dir: str | Path = "results/data") -> list[dict]:
    """A forecaster's record per tested look-back, as the job wrote them (less its training
    history), or a classifier's record per method (its test accuracy)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(payload, dict) and payload.get("task") == "classify":
        return evaluate_classifier(path, payload, Path(data_dir))
    model, job, training, payload = forecast_job.load_model(path, payload)
    saved = payload.get("custom_dataset")  # your own CSV: its file and split rule, as trained
    custom = CustomDataset(**saved) if saved else None
    csv = Path(custom.path) if custom else Path(data_dir) / "ETT-small" / f"{job.dataset}.csv"
    if not csv.is_file():
        raise FileNotFoundError(f"{csv}: the data {path} was trained on is not there")
    if sha256_of(csv) != payload["data_sha256"]:
        raise ValueError(
            f"{csv} is not the file {path} was trained on (SHA-256 {payload['data_sha256']})"
        )
    series = ETTSeries.load(csv, job.dataset, job.max_lookback, job.features, custom=custom)
    records, _ = forecast_job.score_test(model, series, job, TrainingConfig(**training))
    return records


def evaluate_classifier(path: str | Path, payload: dict, data_dir: Path) -> list[dict]:
    """Each protocol's accuracy on TEST, from the saved fitted state and the same sealed
    splits the job made (same files, scaling, lengthening and validation seed)."""
    from csft.data.custom_classification import CustomClassification

    classifier, settings = classify_run.load_classifier(path, payload)
    job = settings.job
    entry, name = payload["custom_classification"], job.dataset
    if entry is None:
        inputs = {s.lower(): data_dir / "UCR" / name / f"{name}_{s}.tsv" for s in ("TRAIN", "TEST")}
        files = {f"UCR/{name}/{Path(file).name}": file for file in inputs.values()}
        config = {}
    else:
        custom = CustomClassification.from_config(name, entry)
        inputs = {split.lower(): file for split, file in custom.files().items()}
        files = custom.relpaths()
        config = {"custom_classification": {name: entry}}
    for relpath, file in files.items():
        if not Path(file).is_file():
            raise FileNotFoundError(f"{file}: the data {path} was trained on is not there")
        if sha256_of(file) != payload["data_sha256"].get(relpath):
            raise ValueError(f"{file} is not the file {path} was trained on ({relpath})")
    splits, _, _ = classify_run.load_splits(settings, inputs, config)
    test = splits.unseal()
    records = []
    for protocol in classifier.protocols:
        predictions = np.asarray(classifier.predict(test, protocol))
        records.append({
            "dataset": job.dataset,
            "method": method_name(job, protocol),
            "seed": job.seed,
            "test_accuracy": float(np.mean(predictions == test.labels)),
            "n_test": len(test.labels),
        })  # fmt: skip
    return records


def model_file(run_id: str, tracking_uri: str) -> Path:
    """The model.pt artifact of MLflow run `run_id`, downloaded to a local temporary folder."""
    import mlflow

    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="model.pt", tracking_uri=tracking_uri
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--path", type=Path, help="a job's model.pt")
    source.add_argument("--run-id", help="the MLflow run of a forecasting or classification job")
    parser.add_argument("--tracking-uri", default="sqlite:///results/mlflow.db")
    parser.add_argument("--data-dir", default="results/data", help="holds ETT-small/ and UCR/")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (jobs use 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    path = args.path or model_file(args.run_id, args.tracking_uri)
    print(json.dumps(evaluate(path, args.data_dir), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
