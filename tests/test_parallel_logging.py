"""Eight jobs logging to one embedded sqlite store at once: every run, param and metric arrives.

Each process is a job as the workflow runs it (tracking.job_run, per-epoch metrics, summary
metrics); contention on the sqlite file ("database is locked") must be retried, never dropped.
"""

import multiprocessing

import mlflow
from mlflow.tracking import MlflowClient

from csft import tracking

JOBS, EPOCHS, PARAMS = 8, 25, 40


def one_job(uri: str, index: int) -> str:
    name = f"stress/job{index}"
    params = {"job": {"index": index}, "recipe": {f"p{i}": i for i in range(PARAMS)}}
    with tracking.job_run(uri, "stress", name, params, {"worker": str(index)}) as run:
        for epoch in range(1, EPOCHS + 1):
            tracking.log_metrics({"train_loss": 1 / epoch, "val_loss": 2 / epoch}, step=epoch)
        tracking.log_metrics({"test_mse": float(index)})
        return run.info.run_id


def test_eight_concurrent_jobs_lose_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracking.init_store(uri, ["stress"], str(tmp_path / "artifacts"))
    with multiprocessing.get_context("spawn").Pool(JOBS) as pool:
        run_ids = pool.starmap(one_job, [(uri, i) for i in range(JOBS)])
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("stress")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert sorted(r.info.run_id for r in runs) == sorted(run_ids)
    for run in runs:
        assert run.info.status == "FINISHED"
        index = int(run.data.tags["worker"])
        assert run.data.params["job.index"] == str(index)
        assert sum(key.startswith("recipe.") for key in run.data.params) == PARAMS
        assert run.data.metrics["test_mse"] == float(index)
        for key in ("train_loss", "val_loss"):
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert sorted(steps) == list(range(1, EPOCHS + 1))
    mlflow.set_tracking_uri(None)


def test_a_locked_store_is_retried_and_other_errors_are_not(monkeypatch):
    monkeypatch.setattr(tracking.time, "sleep", lambda seconds: None)
    calls = []

    def flaky(value):
        calls.append(value)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return value

    assert tracking.retry_locked(flaky, 7) == 7 and calls == [7, 7, 7]

    def broken():
        calls.append("broken")
        raise ValueError("no such table: runs")

    calls.clear()
    try:
        tracking.retry_locked(broken)
    except ValueError:
        pass
    assert calls == ["broken"]  # raised at once, not retried
