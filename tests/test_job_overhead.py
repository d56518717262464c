"""Job overhead: a job imports the heavy packages only when it uses them, and logs how long its
process took to start and to take its first optimizer step (benchmarks/overhead.py reads it)."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from overhead import read_job_log, script_imports, summarize_logs

from csft import joblog
from csft.training import loop

ROOT = Path(__file__).resolve().parents[1]
JOB_MODULES = [
    "csft.jobs.forecast",
    "csft.jobs.pretrain",
    "csft.jobs.classify",
    "csft.jobs.classify_run",
    "csft.jobs.lengths",
    "csft.jobs.tune",
    "csft.jobs.tune_classify",
]
HEAVY = ("mlflow", "sklearn", "aeon", "matplotlib", "optuna", "scipy")
SCRIPTS = ["train_forecast", "pretrain_encoder", "train_classify", "boundary_lengths"]


def loaded_after(source: str) -> list[str]:
    """The HEAVY packages in sys.modules after running `source` in a fresh interpreter."""
    probe = f"{source}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [m for m in done.stdout.strip().split(",") if m]


@pytest.mark.parametrize("module", JOB_MODULES)
def test_importing_a_job_module_imports_no_heavy_package(module):
    assert loaded_after(f"import {module}") == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_training_scripts_imports_load_no_heavy_package(script):
    imports = script_imports(ROOT / "workflow" / "scripts" / f"{script}.py")
    assert "csft" in imports  # the probe reads the script's real imports
    assert loaded_after(imports) == []


def test_loading_a_forecasting_dataset_imports_no_heavy_package(mirror):
    """Every forecasting job loads and scales its data before training: scikit-learn's scaler
    alone cost ~0.5 s of each job's start, so the scaling is NumPy (csft.data.ett.TrainScaler)."""
    csv = mirror / "ETT-small" / "ETTh1.csv"
    source = f"from csft.data.ett import ETTSeries\nETTSeries.load({str(csv)!r}, 'ETTh1', 96)"
    assert loaded_after(source) == []


def test_mlflow_is_imported_when_a_run_logs(tmp_path):
    source = (
        "from csft import tracking\n"
        f"tracking.init_store('sqlite:///{tmp_path}/m.db', ['e'], '{tmp_path}/art')"
    )
    assert "mlflow" in loaded_after(source)


def test_the_process_start_is_measured_from_the_operating_system():
    seconds = joblog.seconds_since_start()
    if seconds is None:
        pytest.skip("no /proc on this platform")
    assert 0 < seconds < 24 * 3600  # this test process started before this line ran
    assert joblog.seconds_since_start() >= seconds


def test_a_job_logs_its_startup_and_its_first_optimizer_step_once(tmp_path, monkeypatch):
    log = tmp_path / "job.log"
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # log_to replaces them
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    joblog.log_to(str(log))
    monkeypatch.setattr(loop, "_stepped", False)
    model = torch.nn.Linear(2, 1)
    trainer = loop.Loop(
        name="train",
        modules={"model": model},
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        generator=torch.Generator(),
        epochs=1,
    )
    for _ in range(3):
        trainer.optimizer.zero_grad()
        trainer.step(model(torch.ones(4, 2)).pow(2).mean())
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log.read_text()
    if joblog.seconds_since_start() is None:
        pytest.skip("no /proc on this platform")
    assert text.count("process startup") == 1
    assert text.count("first optimizer step") == 1
    found = read_job_log(log)
    assert 0 < found["startup_s"] <= found["first_step_s"] <= found["job_s"]


def test_job_logs_are_summarized_per_rule_with_the_startup_share(tmp_path):
    def write(rule, name, startup, first, seconds_later):
        path = tmp_path / "logs" / rule / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"2026-12-05 10:00:00,000 INFO job: process startup {startup:.2f} s\n"
            f"2026-12-05 10:00:01,000 INFO csft.training.loop: first optimizer step "
            f"{first:.2f} s after the process started\n"
            f"2026-12-05 10:00:{seconds_later:02d},000 INFO job: done\n"
        )

    write("train_forecast", "a", 2.0, 3.0, 18)  # job: 2 + 18 = 20 s
    write("train_forecast", "b", 4.0, 5.0, 36)  # 40 s
    write("pretrain_encoder", "c", 3.0, 4.0, 57)  # 60 s
    (tmp_path / "logs" / "claims_table.log").write_text(  # a rule with one job: logs/<rule>.log
        "2026-12-05 10:00:00,000 INFO job: process startup 1.00 s\n"
        "2026-12-05 10:00:03,000 INFO job: done\n"
    )
    (tmp_path / "logs" / "old").mkdir()
    (tmp_path / "logs" / "old" / "x.log").write_text("no startup line: an older job\n")
    from overhead import read_logs

    table = summarize_logs(read_logs(tmp_path / "logs")).set_index("rule")
    assert table.loc["train_forecast", "jobs"] == 2
    assert table.loc["train_forecast", "job_total_s"] == pytest.approx(60.0)
    assert table.loc["train_forecast", "startup_share"] == pytest.approx(6.0 / 60.0)
    assert table.loc["claims_table", "jobs"] == 1
    assert table.loc["claims_table", "job_total_s"] == pytest.approx(4.0)
    assert table.loc["all", "jobs"] == 4
    assert table.loc["all", "startup_share"] == pytest.approx(10.0 / 124.0)
    assert table.loc["all", "first_step_median_s"] == pytest.approx(4.0)
