"""Your own forecasting CSV (csft.data.custom): read with clear errors, split by ratios or
borders under the same protocol as ETT (scaler on train only, every test window), and run
through the DAG with a config change only."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from jsonschema import validate
from tiny_study import forecast_only_config, run_snakemake

from csft.config import check_datasets, check_ett_windows
from csft.data.custom import CustomDataset, data_relpath
from csft.data.ett import ETTSeries

ROWS = 1000
ROOT = Path(__file__).resolve().parents[1]


def write_csv(path, rows=ROWS, nan_at=None, text_at=None):
    t = np.arange(rows)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2020-01-01", periods=rows, freq="h").astype(str),
            "load": np.sin(2 * np.pi * t / 24) + 0.01 * t,
            "temperature": np.cos(2 * np.pi * t / 12) * 3 + 10,
        }
    )
    if nan_at is not None:
        frame.loc[nan_at, "load"] = np.nan
    if text_at is not None:
        frame["temperature"] = frame["temperature"].astype(object)
        frame.loc[text_at, "temperature"] = "high"
    frame.to_csv(path, index=False)
    return path


def spec(path, **kwargs):
    return CustomDataset("grid", str(path), date_column="timestamp", **kwargs)


def test_ratio_and_border_splits_follow_the_protocol(tmp_path):
    path = write_csv(tmp_path / "grid.csv")
    segments = spec(path).segments(ROWS, 48)  # 70 / 10 / 20
    assert (segments["train"].start, segments["train"].stop) == (0, 700)
    assert (segments["val"].start, segments["val"].stop) == (700 - 48, 800)
    assert (segments["test"].start, segments["test"].stop) == (800 - 48, 1000)
    borders = spec(path, borders=(600, 750, 950)).segments(ROWS, 48)
    assert borders["test"].stop == 950 and borders["val"].start == 600 - 48
    series = ETTSeries.load(path, "grid", 48, custom=spec(path))
    assert series.n_channels == 2
    train = series.values[:700]
    assert np.allclose(train.mean(axis=0), 0, atol=1e-5)  # the scaler saw train rows only
    assert not np.allclose(series.values[800:].mean(axis=0), 0, atol=1e-2)  # the trend rises
    assert len(series.windows("test", 24)) == 200 - 24 + 1  # every test window
    single = ETTSeries.load(path, "grid", 48, features="S", custom=spec(path, target="load"))
    assert single.n_channels == 1


def test_bad_files_name_the_file_column_and_rows(tmp_path):
    path = write_csv(tmp_path / "grid.csv")
    with pytest.raises(ValueError, match=r"no date column 'date' .*timestamp"):
        CustomDataset("grid", str(path)).read()
    with pytest.raises(ValueError, match=r"column 'temperature' is not numeric \(data row 5"):
        spec(write_csv(tmp_path / "text.csv", text_at=5)).read()
    holed = write_csv(tmp_path / "holed.csv", nan_at=[10, 11])
    with pytest.raises(ValueError, match=r"2 missing values, the first in column 'load' at data"):
        spec(holed).read()
    filled = spec(holed, missing_values="interpolate").read()
    assert np.isfinite(filled).all() and filled[10, 0] != 0
    with pytest.raises(FileNotFoundError, match="custom dataset grid: file not found"):
        spec(tmp_path / "absent.csv").read()
    with pytest.raises(ValueError, match="longer than custom dataset grid's training segment"):
        spec(path).segments(ROWS, 800)
    with pytest.raises(ValueError, match="borders end at row 2000, the file has 1000 rows"):
        spec(path, borders=(600, 800, 2000)).segments(ROWS, 48)
    with pytest.raises(ValueError, match="ratios must be three positive fractions"):
        spec(path, ratios=(0.8, 0.3, 0.1))
    with pytest.raises(ValueError, match="no target column 'price'"):
        spec(path, target="price").read("S")


def test_the_config_names_unknown_and_shadowing_datasets(tmp_path):
    path = write_csv(tmp_path / "grid.csv", rows=300)
    config = {
        "ett": {"datasets": ["ETTh1", "grid"]},
        "custom_datasets": {"grid": {"path": str(path), "date_column": "timestamp"}},
        "forecast": {"runs": [{"model": "dlinear", "lookback": 96, "datasets": ["grid"]}],
                     "horizons": [96]},
    }  # fmt: skip
    check_datasets(config)
    with pytest.raises(ValueError, match=r"forecast.horizons: horizon 96 with look-back 96 leaves"):
        check_ett_windows(config)  # 300 rows: 30 validation rows hold no 96 + 96 window
    config["ett"]["datasets"] = ["ETTh1", "gird"]
    config["forecast"]["runs"][0]["datasets"] = ["gird"]
    with pytest.raises(ValueError, match=r"unknown dataset 'gird'; .* custom_datasets \(grid\)"):
        check_datasets(config)
    config["custom_datasets"] = {"ETTh1": {"path": str(path)}}
    with pytest.raises(ValueError, match=r"\['ETTh1'\] are ETT names"):
        check_datasets(config)
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    split = {"ratios": [0.7, 0.1, 0.2], "borders": [1, 2, 3]}
    both = {"custom_datasets": {"x": {"path": "a.csv", "split": split}}}
    with pytest.raises(Exception, match="valid under each of|is valid under"):
        validate(both, schema)
    assert data_relpath("grid", spec(path)) == "custom/grid/grid.csv"
    assert data_relpath("ETTh1", None) == "ETT-small/ETTh1.csv"


def test_a_custom_csv_runs_through_the_dag(tmp_path, mirror):
    """A config change only: the custom set is forecast, tagged with its hash, and its saved
    model rescores to the job's metrics."""
    from csft import evaluate

    path = write_csv(tmp_path / "grid.csv", rows=1200)
    config = forecast_only_config(
        tmp_path,
        "c/",
        ett={"datasets": ["grid"]},
        custom_datasets={"grid": {"path": str(path), "date_column": "timestamp"}},
        forecast={"runs": [{"model": "dlinear", "lookback": 48}], "horizons": [24]},
        models={"dlinear": {"training": {"epochs": 1, "batch_size": 32}}},
    )
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = tmp_path / "results" / "tables" / "forecast.csv"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(target)
    assert list(table.dataset) == ["grid"] and table.n_test_windows.iloc[0] == 240 - 24 + 1
    job = tmp_path / "results" / "forecast" / "dlinear" / "grid" / "L48" / "H24" / "seed1"
    record = json.loads((job / "metrics.json").read_text())[0]
    rescored = evaluate.evaluate(job / "model.pt")
    assert rescored[0]["test_mse"] == record["test_mse"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("c/forecast")
    (run,) = client.search_runs([experiment.experiment_id])
    assert (
        run.data.tags["data.sha256.custom/grid/grid.csv"]
        and run.data.tags["data.pinned"] == "false"
    )
