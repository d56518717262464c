"""MLflow wrapper: store creation, no duplicate runs, failed runs marked, env override."""

import pytest
from mlflow.tracking import MlflowClient

from csft import tracking


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracking.init_store(uri, ["unit/forecast"], str(tmp_path / "artifacts"))
    return uri


def runs_named(uri, name):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("unit/forecast")
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.job = '{name}'")


def test_init_store_is_idempotent(tmp_path, store):
    again = tracking.init_store(store, ["unit/forecast", "unit/other"], str(tmp_path / "a"))
    client = MlflowClient(tracking_uri=store)
    assert client.get_experiment_by_name("unit/forecast").experiment_id == again["unit/forecast"]
    assert client.get_experiment_by_name("unit/other") is not None


def test_rerun_of_a_job_leaves_one_run(store):
    for value in (1, 2):
        with tracking.job_run(store, "unit/forecast", "m/d/96/1", {"a": {"b": value}}, {}) as run:
            last = run.info.run_id
    runs = runs_named(store, "m/d/96/1")
    assert [run.info.run_id for run in runs] == [last]
    assert runs[0].data.params["a.b"] == "2"
    assert runs[0].data.tags["git.commit"]
    assert "version.torch" in runs[0].data.tags


def test_failed_run_is_marked_and_replaced_by_the_next_success(store):
    with pytest.raises(RuntimeError), tracking.job_run(store, "unit/forecast", "job", {}, {}):
        raise RuntimeError("training blew up")
    assert [run.info.status for run in runs_named(store, "job")] == ["FAILED"]
    with tracking.job_run(store, "unit/forecast", "job", {}, {}):
        pass
    assert [run.info.status for run in runs_named(store, "job")] == ["FINISHED"]


def test_missing_experiment_is_a_clear_error(store):
    with pytest.raises(LookupError, match="nope"), tracking.job_run(store, "nope", "j", {}, {}):
        pass


def test_environment_overrides_configured_uri(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.tracking_uri("sqlite:///x.db") == "http://127.0.0.1:5999"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    uri = f"sqlite:///{tmp_path}/sub/dir/m.db"
    assert tracking.tracking_uri(uri) == uri and (tmp_path / "sub" / "dir").is_dir()


def test_flatten_nests_with_dots():
    flat = tracking.flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"})
    assert flat == {"a.b": "1", "a.c.d": "[1, 2]", "e": "x"}


def test_data_tags_name_every_file_and_whether_all_are_pinned(tmp_path, mirror):
    real = mirror / "ETT-small" / "ETTh1.csv"
    tags = tracking.data_tags({"ETT-small/ETTh1.csv": real})
    assert tags["data.pinned"] == "true" and len(tags["data.sha256.ETT-small/ETTh1.csv"]) == 64
    edited = tmp_path / "ETTh2.csv"
    edited.write_bytes(real.read_bytes() + b"\n")
    tags = tracking.data_tags({"ETT-small/ETTh1.csv": real, "ETT-small/ETTh2.csv": edited})
    assert tags["data.pinned"] == "false" and len(tags) == 3
