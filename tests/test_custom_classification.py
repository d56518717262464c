"""Your own classification folder (csft.data.custom_classification): UCR .tsv or .ts files
read with errors naming file, row and counts, checked before any job, and run through the DAG
under the UCR protocol with a config change only (its hashes in the run's tags)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from jsonschema import ValidationError, validate
from tiny_study import forecast_only_config, run_snakemake

from csft.config import check_classification_data
from csft.data.custom_classification import CustomClassification
from csft.data.ucr import scale

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text()
)


def rows(n, length=80, seed=0, labels=(1, 2)):
    """n noisy series, each a sine (first label) or a ramp (second), with its label."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 4 * np.pi, length)
    out = []
    for i in range(n):
        label = labels[i % len(labels)]
        shape = np.sin(t) if label == labels[0] else np.linspace(-1, 1, length)
        out.append((label, 5 + 2 * shape + 0.1 * rng.standard_normal(length)))
    return out


def write_tsv(path, series):
    path.write_text(
        "".join("\t".join(map(str, [label, *values])) + "\n" for label, values in series)
    )


def write_ts(path, series):
    labels = sorted({str(label) for label, _ in series})
    head = [
        "@problemName Toy", "@timeStamps false", "@missing false", "@univariate true",
        "@equalLength true", f"@seriesLength {len(series[0][1])}",
        f"@classLabel true {' '.join(labels)}", "@data",
    ]  # fmt: skip
    body = [",".join(f"{v:.6f}" for v in values) + f":{label}" for label, values in series]
    path.write_text("\n".join(head + body) + "\n")


def folder(tmp_path, train=None, test=None, fmt="ucr", name="Toy"):
    """A folder holding NAME_TRAIN and NAME_TEST in `fmt`; the dataset's config entry."""
    write = write_tsv if fmt == "ucr" else write_ts
    suffix = ".tsv" if fmt == "ucr" else ".ts"
    write(tmp_path / f"{name}_TRAIN{suffix}", train or rows(12))
    write(tmp_path / f"{name}_TEST{suffix}", test or rows(8, seed=1))
    return CustomClassification(name, str(tmp_path), fmt)


@pytest.mark.parametrize("fmt", ["ucr", "ts"])
def test_both_layouts_load_with_labels_coded_from_train(tmp_path, fmt):
    dataset = folder(tmp_path, fmt=fmt).load("error")
    assert [str(c) for c in dataset.classes] == ["1", "2"] and dataset.n_classes == 2
    assert len(dataset.train) == 12 and len(dataset.test) == 8
    assert dataset.train.labels.tolist() == [0, 1] * 6
    assert {len(s) for s in dataset.train.series} == {80} and not dataset.is_variable_length
    scaled = scale(dataset, "archive", normalized=False)  # as an unnormalised archive set
    values = np.concatenate(scaled.train.series)
    assert abs(values.mean()) < 1e-5 and abs(values.std() - 1) < 1e-4


def test_a_missing_file_names_the_file_and_the_layout(tmp_path):
    spec = folder(tmp_path)
    (tmp_path / "Toy_TEST.tsv").unlink()
    with pytest.raises(FileNotFoundError, match=r"Toy_TEST.tsv \(the folder must hold Toy_TRAIN"):
        spec.load("error")


def test_ragged_rows_name_the_row_and_counts_unless_lengths_vary(tmp_path):
    train = rows(12)
    train[3] = (train[3][0], train[3][1][:60])
    spec = folder(tmp_path, train=train)
    with pytest.raises(ValueError, match=r"Toy_TRAIN.tsv: rows of different lengths: row 3 has "
                       r"60 values, 11 rows have 80 \(1 rows differ"):  # fmt: skip
        spec.load("error")
    varying = CustomClassification("Toy", str(tmp_path), variable_length=True).load("error")
    assert len(varying.train.series[3]) == 60 and varying.is_variable_length


def test_missing_values_name_file_row_and_count_or_are_filled(tmp_path):
    train = rows(12)
    train[5][1][[10, 11]] = np.nan
    spec = folder(tmp_path, train=train)
    with pytest.raises(ValueError, match=r"Toy_TRAIN.tsv: dataset Toy, series at row 5 has 2 "):
        spec.load("error")
    assert np.isfinite(spec.load("interpolate").train.series[5]).all()


def test_test_labels_missing_in_train_name_them_with_counts_and_files(tmp_path):
    spec = folder(tmp_path, test=rows(9, seed=1, labels=(1, 2, 3)))
    with pytest.raises(ValueError, match=r"TEST label\(s\) \[3\] do not occur in TRAIN .*"
                       r"\{'3': 3\}.*Toy_TRAIN.tsv.*Toy_TEST.tsv"):  # fmt: skip
        spec.load("error")


def test_multichannel_ts_files_are_refused(tmp_path):
    spec = folder(tmp_path, fmt="ts")
    text = (tmp_path / "Toy_TRAIN.ts").read_text().replace("@univariate true", "@univariate false")
    lines = [
        line.replace(":", ":" + line.split(":")[0] + ":", 1) if line[:1].isdigit() else line
        for line in text.splitlines()
    ]
    (tmp_path / "Toy_TRAIN.ts").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"Toy_TRAIN.ts: \[2\] channels per series"):
        spec.load("error")


def config_with(tmp_path, **ucr):
    return {
        "ucr": {"datasets": ["Toy"], **ucr},
        "custom_classification": {"Toy": {"path": str(tmp_path)}},
        "models": {"csft": {"architecture": {"min_length": 64}}},
    }


def test_the_config_check_names_short_series_bad_files_and_shadowed_names(tmp_path):
    folder(tmp_path, train=rows(12, length=40), test=rows(8, length=40))
    config = config_with(tmp_path, short_series="error")
    with pytest.raises(ValueError, match=r"ucr.datasets: .*Toy_TRAIN.tsv: series 0 has length 40, "
                       r"below the minimum 64 \(12 such series\)"):  # fmt: skip
        check_classification_data(config)
    check_classification_data(config_with(tmp_path, short_series="resample"))
    (tmp_path / "Toy_TEST.tsv").unlink()
    with pytest.raises(ValueError, match=r"ucr.datasets: .*file not found: .*Toy_TEST.tsv"):
        check_classification_data(config)
    config["custom_classification"] = {"GunPoint": {"path": str(tmp_path)}}
    with pytest.raises(ValueError, match=r"\['GunPoint'\] are UCR archive names"):
        check_classification_data(config)
    with pytest.raises(ValidationError, match="'csv' is not one of"):
        validate({"custom_classification": {"Toy": {"path": "x", "format": "csv"}}}, SCHEMA)


def test_a_custom_folder_runs_through_the_dag(tmp_path, mirror):
    """A config change only: the folder's set is classified by a built-in and an aeon
    classifier, each run tagged with the files' hashes."""
    data = tmp_path / "toy"
    data.mkdir()
    folder(data, train=rows(16), test=rows(10, seed=1))
    config = forecast_only_config(
        tmp_path,
        "k/",
        ucr={"datasets": ["Toy"]},
        custom_classification={"Toy": {"path": str(data)}},
        classifiers={"rocket": {"class": "aeon:RocketClassifier", "settings": {"n_kernels": 100}}},
        classify={"models": ["dtw_1nn", "rocket"]},
    )
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = tmp_path / "results" / "tables" / "classify.csv"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(target)
    assert set(table.dataset) == {"Toy"} and set(table.method) == {"dtw_1nn", "rocket"}
    job = tmp_path / "results" / "classify" / "rocket" / "Toy" / "resample" / "fixed_budget"
    (record,) = json.loads((job / "seed1" / "metrics.json").read_text())
    assert record["model"] == "rocket" and record["n_test"] == 10
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("k/classify")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    for run in runs:
        assert run.data.tags["data.sha256.custom_classification/Toy/Toy_TRAIN.tsv"]
        assert run.data.tags["data.pinned"] == "false"
    # The job's model.pt rescores to its accuracy, from the folder's files, hash-checked.
    from csft import evaluate

    assert (
        evaluate.evaluate(job / "seed1" / "model.pt")[0]["test_accuracy"]
        == (record["test_accuracy"])
    )
    write_tsv(data / "Toy_TEST.tsv", rows(10, seed=2))
    with pytest.raises(ValueError, match=r"Toy_TEST.tsv is not the file .*model.pt was trained on"):
        evaluate.evaluate(job / "seed1" / "model.pt")
    (data / "Toy_TEST.tsv").unlink()
    with pytest.raises(FileNotFoundError, match=r"Toy_TEST.tsv: the data .* is not there"):
        evaluate.evaluate(job / "seed1" / "model.pt")
