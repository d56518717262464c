"""The cost prediction (csft.cost): dry-run parsing, the time model, the SLURM profile writer,
and one end-to-end prediction of the quick study with a fake step timer."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from csft import cost

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"

DRY_RUN = """\
Building DAG of jobs...
Job stats:
job                    count
-------------------  -------
download_ett               2
train_forecast             1
all                        1
total                      4

[Fri Dec  4 23:12:38 2026]
localrule download_ett:
    output: results/data/ETT-small/ETTh1.csv
    log: results/quick/logs/download_ett/ETTh1.log
    jobid: 9
    reason: Forced execution
    wildcards: dataset=ETTh1
    resources: tmpdir=/tmp, runtime=30, mem_mb=1000, mem=1 GB, mem_mib=954
[Fri Dec  4 23:12:38 2026]
localrule download_ett:
    output: results/data/ETT-small/ETTh2.csv
    jobid: 10
    wildcards: dataset=ETTh2
[Fri Dec  4 23:12:38 2026]
rule train_forecast:
    input: results/data/ETT-small/ETTh1.csv
    output: results/quick/forecast/dlinear/ETTh1/L336/H96/seed2021/metrics.json
    jobid: 3
    wildcards: model=dlinear, dataset=ETTh1, lookback=336, horizon=96, seed=2021
    resources: tmpdir=/tmp, runtime=240, mem_mb=4000
[Fri Dec  4 23:12:38 2026]
localrule all:
    input: results/quick/tables/forecast.csv
    jobid: 0
    reason: Forced execution
    resources: tmpdir=/tmp
Job stats:
job                    count
-------------------  -------
download_ett               2
total                      4
This was a dry-run (flag -n). The order of jobs does not reflect the order of execution.
"""


def fake_measure(item, device):
    """A step costs its batch x length in microseconds; a window a tenth of a step's sample."""
    step = item.batch * item.length * 1e-6
    return {"train_step": step, "eval_window": step / item.batch / 10}


def test_dry_run_parsed_per_job_with_wildcards():
    jobs = cost.parse_dry_run(DRY_RUN)
    assert list(jobs["local"]) == [True, True, False, True]
    assert list(jobs["rule"]) == ["download_ett", "download_ett", "train_forecast", "all"]
    assert jobs["wildcards"][1] == {"dataset": "ETTh2"}
    assert jobs["wildcards"][2] == {
        "model": "dlinear",
        "dataset": "ETTh1",
        "lookback": "336",
        "horizon": "96",
        "seed": "2021",
    }
    assert jobs["wildcards"][3] == {}


def recipe(**changes):
    base = {"batch_size": 32, "epochs": 10, "max_batches_per_epoch": 0, "eval_batch_size": 256}
    return {**base, **changes}


def forecast_seconds(training, times=None):
    work = cost.forecast_work(
        "dlinear", "ETTh1", (336, 337), [336], 96, {"kernel_size": 25}, training, 7
    )
    times = times or {item.probe.key(): fake_measure(item.probe, "cpu") for item in work}
    return work, cost.job_seconds(work, times)


def test_time_model_scales_with_epochs_and_batches():
    (one,), _ = forecast_seconds(recipe())
    # ETTh1 train: 8640 rows, 8640 - 336 - 96 + 1 windows, batches of 32 (drop_last).
    assert one.steps == 10 * ((8640 - 336 - 96 + 1) // 32)
    # Every epoch validates every validation window; the test set is scored once.
    assert one.windows == 10 * (2880 + 336 - 336 - 96 + 1) + (2880 + 336 - 336 - 96 + 1)
    # Training steps' time doubles with the epochs.
    times = {one.probe.key(): {"train_step": 1.0, "eval_window": 0.0}}
    assert forecast_seconds(recipe(epochs=20), times)[1] == 2 * forecast_seconds(recipe(), times)[1]
    (capped,), _ = forecast_seconds(recipe(max_batches_per_epoch=5))
    assert capped.steps == 10 * 5
    (strided,), _ = forecast_seconds(recipe(val_stride=4))
    assert strided.windows == 10 * -(-(2880 - 96 + 1) // 4) + (2880 - 96 + 1)


def test_profile_writer_replaces_runtimes_and_keeps_the_rest(tmp_path):
    path = tmp_path / "config.yaml"
    shutil.copy(PROFILE, path)
    before = yaml.safe_load(path.read_text())
    cost.write_profile(path, {"train_forecast": 33, "forecast_table": 12}, "a note")
    after = yaml.safe_load(path.read_text())
    assert after["set-resources"]["train_forecast"] == {"mem_mb": 8000, "runtime": 33}
    assert after["set-resources"]["forecast_table"] == {"runtime": 12}  # a rule added
    for key in set(before) - {"set-resources"}:
        assert after[key] == before[key], key
    for rule, resources in before["set-resources"].items():
        kept = {k: v for k, v in resources.items() if k != "runtime"}
        assert kept.items() <= after["set-resources"][rule].items(), rule
    text = path.read_text()
    assert "# csft.cost: a note" in text and "EDIT" in text  # the user's guidance stays
    cost.write_profile(path, {"train_forecast": 44}, "again")  # rewriting keeps one note
    assert path.read_text().count("# csft.cost:") == 1
    assert yaml.safe_load(path.read_text())["set-resources"]["train_forecast"]["runtime"] == 44


def test_quick_study_prediction_covers_every_rule_of_the_dry_run(tmp_path, capsys):
    text = cost.dry_run_text(["config/quick.yaml"])
    stats = text[text.index("Job stats:") : text.index("total")]
    rules = set(re.findall(r"^(\w+)\s+\d+$", stats, re.M))
    jobs = cost.predict(
        ["config/quick.yaml"], measure=fake_measure, text=text, cache=tmp_path / "t.json"
    )
    assert set(jobs["rule"]) == rules
    trained = jobs[jobs["rule"].isin(cost.WORK)]
    assert (trained["seconds"] > 0).all()
    table = cost.per_rule(jobs, "cpu")
    assert table["jobs"].sum() == len(jobs)
    # SLURM runtimes for the submitted rules; local ones run beside Snakemake.
    assert set(cost.profile_runtimes(table)) == rules - cost.local_rules()
    assert {"train_forecast", "pretrain_encoder", "analysis_tables"} <= rules - cost.local_rules()
    # A second call reads the cache and measures nothing.
    again = cost.predict(
        ["config/quick.yaml"], measure=pytest.fail, text=text, cache=tmp_path / "t.json"
    )
    assert again["seconds"].sum() == pytest.approx(jobs["seconds"].sum())


def test_gpu_hours_only_for_torch_rules_under_cuda():
    jobs = cost.parse_dry_run(DRY_RUN).assign(
        accelerator=[False, False, True, False], seconds=[3600.0, 3600.0, 7200.0, 0.0]
    )
    cpu = cost.per_rule(jobs, "cpu")
    assert "gpu_hours" not in cpu and cpu["cpu_hours"].sum() == 4.0
    cuda = cost.per_rule(jobs, "cuda")
    assert cuda.loc["train_forecast", "gpu_hours"] == 2.0
    assert cuda.loc["train_forecast", "cpu_hours"] == 0.0
    assert cuda.loc["download_ett", "cpu_hours"] == 2.0
    assert cost.wall_hours(jobs, 1) == 4.0 and cost.wall_hours(jobs, 8) == 2.0  # longest job
    report = cost.report(jobs, "cuda", 2)
    assert "4 jobs, 2.00 CPU-hours, 2.00 GPU-hours" in report


def test_custom_dataset_windows_and_channels_come_from_its_file(tmp_path):
    import numpy as np
    import pandas as pd

    csv = tmp_path / "mine.csv"
    values = np.random.default_rng(0).standard_normal((1000, 3))
    frame = pd.DataFrame(values, columns=["a", "b", "OT"])
    frame.insert(0, "date", pd.date_range("2020-01-01", periods=1000, freq="h"))
    frame.to_csv(csv, index=False)
    config = {"ett": {"features": "M"}, "custom_datasets": {"mine": {"path": str(csv)}}}
    assert cost.channels_of(config, "mine") == 3
    segments = cost.split_segments(config, "mine", 96)
    assert segments["train"].stop == 700 and segments["test"].stop == 1000
    training = recipe(epochs=1)
    (work,) = cost.forecast_work(
        "dlinear",
        "mine",
        (96, 97),
        [96],
        24,
        {},
        training,
        3,
        lambda t: cost.split_segments(config, "mine", t),
    )
    assert work.steps == (700 - 96 - 24 + 1) // 32


def test_the_sensitivity_stage_is_priced_by_its_work(tmp_path):
    """Its training rules are timed like the jobs they run (not the small-rule default), a
    reading that changes the architecture priced with that architecture."""
    files = ["config/quick.yaml", "config/best_shot_check.yaml"]
    text = cost.dry_run_text(files)
    jobs = cost.predict(files, measure=fake_measure, text=text, cache=tmp_path / "t.json")
    trained = jobs[jobs["rule"].isin(["train_sensitivity", "classify_sensitivity"])]
    assert len(trained) == 102 + 255 and (trained["seconds"] > 0).all()
    assert trained["accelerator"].all()  # torch jobs: GPU-hours under device: cuda
    config = cost.load_config(files)
    w = {"reading": "d_model=32", "dataset": "ETTh1", "horizon": "96", "seed": "1"}
    wide = cost.job_work(config, "train_sensitivity", w)
    narrow = cost.job_work(config, "train_sensitivity", {**w, "reading": "d_model=8"})
    assert wide[0].probe != narrow[0].probe  # a probe per architecture


def test_every_training_rule_is_priced_by_its_work():
    """A rule that trains (train_*, pretrain_*, classify_*, tune_*) must be timed from its work:
    the small-rule default (seconds) would under-predict it by hours and set a SLURM runtime
    that kills it."""
    rules = set()
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        rules |= set(re.findall(r"^(?:rule|use rule \w+ as) (\w+)", path.read_text(), re.M))
    training = {r for r in rules if re.match(r"(train|pretrain|classify|tune)_", r)}
    assert {"train_objectives", "train_irregular", "classify_irregular"} <= training
    assert training - {"classify_table", "classify_figures"} <= set(cost.WORK)


def test_the_open_questions_are_priced_as_their_jobs_resolve():
    """An objectives arm and an irregular job are timed with the settings the job itself
    resolves: the masked arm's pretraining and the time-aware input change the probe."""
    config = cost.load_config(["config/objectives_check.yaml"])
    pre = {"arm": "reconstruction", "dataset": "ETTh1", "lookback": "512", "seed": "2021"}
    (plain,) = cost.job_work(config, "pretrain_objectives", pre)
    assert plain.steps == 3 * 20  # the check's epochs x capped batches
    w = {"arm": "masked", "mode": "finetune", "dataset": "ETTh1", "horizon": "96",
         "seed": "2021"}  # fmt: skip
    (work,) = cost.job_work(config, "train_objectives", w)
    assert work.steps == 3 * 20 and work.windows > 0
    ucr = {"arm": "both", "name": "GunPoint", "policy": "common", "seed": "1"}
    assert cost.job_work(config, "classify_objectives", ucr)
    config = cost.load_config(["config/irregular_check.yaml"])
    w = {"model": "csft", "method": "interpolate", "fraction": "0.3", "dataset": "ETTh1",
         "horizon": "96", "seed": "2021"}  # fmt: skip
    (interpolate,) = cost.job_work(config, "train_irregular", w)
    (aware,) = cost.job_work(config, "train_irregular", {**w, "method": "time_aware"})
    assert interpolate.steps == 5 * 20
    assert interpolate.probe != aware.probe  # the mask channel is part of the architecture


def test_targets_price_only_the_jobs_they_need(tmp_path):
    """A check's own command (its targets) is priced, not the whole study its config defines."""
    files = ["config/classify_check.yaml"]
    target = "results/classify_check/tables/classify.md"
    jobs = cost.predict(files, measure=fake_measure, cache=tmp_path / "t.json", targets=[target])
    counts = jobs["rule"].value_counts()
    assert counts["train_classify"] == 286
    assert not {"train_forecast", "pretrain_encoder", "claims_table"} & set(counts.index)
    whole = cost.parse_dry_run(cost.dry_run_text(files))
    assert "train_forecast" in set(whole["rule"])  # without targets: the study's `all`
