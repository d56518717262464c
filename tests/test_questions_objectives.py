"""The objectives question (docs/open_questions.md): arms as dotted-path overrides of CSFT's
recipe with a weight sweep, checked before any job; the table's verdicts against the
reconstruction arm; and the stage run through the DAG on the tiny config."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from tiny_study import (
    CSFT_LOOKBACK,
    HORIZON,
    forecast_only_config,
    resolved_tiny_config,
    run_snakemake,
    tiny_config,
)

from csft.config import (
    check_objectives,
    objectives_arm_settings,
    objectives_arms,
    objectives_sweeps,
)
from csft.jobs import classify_run
from csft.jobs import forecast as forecast_job
from csft.report import objectives

ARMS = {
    "reconstruction": {},
    "contrastive": {"pretraining.ssl.contrastive_weight": 0.1},
    "masked": {"pretraining.ssl.mask_ratio": 0.4},
}


def with_objectives(tmp_path, **block):
    config = resolved_tiny_config(tmp_path)
    config["questions"]["objectives"] = {
        "enabled": True,
        "forecast": {
            "datasets": ["ETTh1"],
            "horizons": [HORIZON],
            "lookback": CSFT_LOOKBACK,
            "modes": ["finetune", "probe"],
        },  # fmt: skip
        "classify": {"datasets": ["Chinatown"]},
        "arms": ARMS,
        "sweep": [],
        **block,
    }
    return config


def test_arms_and_sweep_values_change_csfts_recipe_and_nothing_else(tmp_path):
    sweep = [{"arm": "contrastive", "path": "pretraining.ssl.contrastive_weight",
              "values": [0.01, 1.0]}]  # fmt: skip
    config = with_objectives(tmp_path, sweep=sweep)
    arms = objectives_arms(config)
    assert list(arms) == [*ARMS, "contrastive-contrastive_weight=0.01",
                          "contrastive-contrastive_weight=1.0"]  # fmt: skip
    assert arms["contrastive-contrastive_weight=1.0"] == {"pretraining.ssl.contrastive_weight": 1.0}
    assert objectives_sweeps(config)["contrastive-contrastive_weight=0.01"] == (
        "contrastive", "pretraining.ssl.contrastive_weight",
    )  # fmt: skip
    check_objectives(config)
    base = {"pretraining": {"epochs": 1, "ssl": {"mask_ratio": 0.0}}, "training": {}}
    assert objectives_arm_settings(config, "reconstruction", base) == base
    assert objectives_arm_settings(config, "masked", base)["pretraining"] == {
        "epochs": 1, "ssl": {"mask_ratio": 0.4}
    }  # fmt: skip
    # the jobs: fine-tuning and probe runs in the question's experiment, the arm applied
    w = {"arm": "contrastive", "mode": "probe", "dataset": "ETTh1", "horizon": str(HORIZON),
         "seed": "1"}  # fmt: skip
    settings = forecast_job.resolve(config, w)
    assert settings.mode == "probe" and settings.pretraining["ssl"]["contrastive_weight"] == 0.1
    assert settings.tracking.experiment == "tiny/questions/objectives"
    w = {"arm": "masked", "classifier": "csft", "name": "Chinatown", "policy": "per_interval",
         "selection": "fixed_budget", "seed": "1"}  # fmt: skip
    settings = classify_run.resolve(config, w)
    assert settings.recipe["pretraining"]["ssl"]["mask_ratio"] == 0.4


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"arms": {"contrastive": {"pretraining.ssl.contrastive_weight": 0.1}}},
         "needs the arm 'reconstruction' with no change"),
        ({"arms": {**ARMS, "x": {"pretraining.ssl.no_such": 1.0}}},
         r"arms.x: 'pretraining.ssl.no_such' names no setting"),
        ({"arms": {**ARMS, "x": {"pretraining.ssl.contrastive_weight": True}}},
         r"arms.x: True is not of the type of pretraining.ssl.contrastive_weight"),
        ({"arms": {**ARMS, "x": {"pretraining.ssl.contrastive_alpha": 3.0}}},
         r"arms.x \(classify\): ssl.contrastive_alpha must be in \[0, 1\], got 3.0"),
        ({"sweep": [{"arm": "nope", "path": "pretraining.ssl.mask_ratio", "values": [0.2]}]},
         r"sweep\[0\].arm: no arm 'nope'"),
    ],
)  # fmt: skip
def test_a_bad_arm_fails_before_any_job(tmp_path, block, message):
    with pytest.raises(ValueError, match=message):
        check_objectives(with_objectives(tmp_path, **block))


def test_off_means_no_check_and_no_arms_run(tmp_path):
    config = resolved_tiny_config(tmp_path)
    assert config["questions"]["objectives"]["enabled"] is False
    check_objectives(config)  # nothing to check


def scores(shift: float, noise: float, n_seeds: int = 4, task="ETT MSE, fine-tuned"):
    """Synthetic paired scores: the baseline and an arm `shift` away, two cells x n seeds."""
    rng = np.random.default_rng(0)
    rows = []
    for cell in ("ETTh1 H96", "ETTm1 H96"):
        for seed in range(n_seeds):
            base = 0.4 + rng.normal(0, 0.02)
            for arm, value in (("reconstruction", base), ("contrastive", base + shift)):
                rows.append({"task": task, "arm": arm, "cell": cell, "seed": seed,
                             "score": value + rng.normal(0, noise),
                             **dict.fromkeys(objectives.HEALTH.values(), np.nan)})  # fmt: skip
    return pd.DataFrame(rows, columns=objectives.COLUMNS)


@pytest.mark.parametrize(
    ("shift", "verdict"),
    [(-0.05, "better"), (0.05, "worse"), (0.0, "no detectable difference")],
)
def test_the_verdict_is_computed_from_paired_cells_and_seeds(shift, verdict):
    table = objectives.objectives_table(scores(shift, 0.002))
    row = table[table.arm == "contrastive"].iloc[0]
    assert row.n_pairs == 8 and row.difference == pytest.approx(shift, abs=0.006)
    assert row.verdict.startswith(verdict)
    assert table[table.arm == "reconstruction"].verdict.tolist() == ["baseline"]
    text = objectives.table_markdown(table, scores(shift, 0.002), "check")
    assert f"contrastive, ETT MSE, fine-tuned: {row.verdict}" in text


def test_the_sweep_section_names_the_best_value_and_pairs_each_with_the_default():
    part = scores(-0.05, 0.002)  # "contrastive" is better than the reconstruction arm
    swept = part[part.arm == "contrastive"].assign(arm="contrastive-contrastive_weight=1.0")
    swept = swept.assign(score=swept.score + 0.05)  # 10x the weight: back to the baseline
    both = pd.concat([part, swept], ignore_index=True)
    sweeps = {"contrastive-contrastive_weight=1.0": ("contrastive", "pretraining.ssl.w")}
    table = objectives.objectives_table(both)
    text = objectives.table_markdown(table, both, "check", sweeps=sweeps)
    section = text.split("## The sweep behind the defaults")[1]
    assert "Sweep of pretraining.ssl.w in contrastive, ETT MSE, fine-tuned: the default" in section
    assert (
        "contrastive-contrastive_weight=1.0 against contrastive (pretraining.ssl.w), "
        "ETT MSE, fine-tuned: worse"
    ) in section
    arms = objectives_arms({"questions": {"objectives": {"arms": {**ARMS, "masked": None}}}})
    assert list(arms) == ["reconstruction", "contrastive"]  # null: off


def test_fewer_than_three_seeds_are_insufficient_evidence():
    table = objectives.objectives_table(scores(-0.05, 0.002, n_seeds=2))
    row = table[table.arm == "contrastive"].iloc[0]
    assert row.verdict.startswith("insufficient evidence (2 of 2 cells paired, 2 seeds")
    assert np.isfinite(row.difference)  # the partial numbers are still shown


def test_a_missing_cell_is_insufficient_evidence():
    part = scores(-0.05, 0.002)
    part = part[~((part.arm == "contrastive") & (part.cell == "ETTm1 H96"))]
    row = objectives.objectives_table(part).query("arm == 'contrastive'").iloc[0]
    assert row.verdict.startswith("insufficient evidence (1 of 2 cells paired, 0 seeds")


def test_the_stage_runs_through_the_dag_on_the_tiny_config(tmp_path, mirror):
    tiny = tiny_config(tmp_path)
    both = {"pretraining.ssl.contrastive_weight": 0.1, "pretraining.ssl.mask_ratio": 0.4}
    config = forecast_only_config(
        tmp_path,
        "o/",
        ett={"datasets": ["ETTh1"], "features": "M"},
        ucr={"datasets": ["Chinatown"]},
        models={"csft": tiny["models"]["csft"]},
        classify={"models": ["csft"], "csft": tiny["classify"]["csft"]},
        questions={
            "objectives": {
                "enabled": True,
                "seeds": [1],
                "forecast": {
                    "datasets": ["ETTh1"],
                    "horizons": [HORIZON],
                    "lookback": CSFT_LOOKBACK,
                },  # fmt: skip
                "classify": {"datasets": ["Chinatown"]},
                # merged into config.yaml's arms: null switches its others off
                "arms": {"reconstruction": {}, "contrastive": None, "masked": None, "both": both},
                "sweep": [],
            }
        },
    )
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    results = tmp_path / "results"
    targets = [str(results / "tables" / "objectives.md"),
               str(results / "figures" / "objectives.png")]  # fmt: skip
    result = run_snakemake(*targets, "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(results / "tables" / "objectives.csv")
    arms = ["reconstruction", "both"]
    assert sorted(zip(table.task, table.arm, strict=True)) == sorted(
        (task, arm) for task in objectives.TASKS for arm in arms
    )
    judged = table[table.arm != "reconstruction"]
    assert judged.verdict.str.startswith("insufficient evidence").all()  # one seed
    svm = table[table.task == "UCR accuracy, SVM probe"]
    assert svm.effective_rank.notna().all() and svm.between_cosine.notna().all()
    assert svm.collapsed.notna().all()  # the health verdict beside the accuracy
    assert "## Verdicts" in (results / "tables" / "objectives.md").read_text()
    assert (results / "figures" / "objectives.png").read_bytes()[:4] == b"\x89PNG"
    # one encoder per arm, for both modes; probe runs kept the encoder frozen
    pretrained = results / "questions" / "objectives" / "pretrained"
    assert sorted(p.name for p in pretrained.iterdir()) == sorted(arms)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("o/questions/objectives")
    runs = client.search_runs([experiment.experiment_id])
    names = {r.info.run_name for r in runs}
    assert any(n.startswith("both/probe/ETTh1/") for n in names)
    assert {"csft/svm/both/Chinatown/1", "csft/finetune/both/Chinatown/1"} <= names
    history = pd.read_csv(next(pretrained.glob("both/ETTh1/*/seed1/history.csv")))
    assert "train_contrastive" in history.columns  # the term was trained and logged
    record = json.loads(
        next((results / "questions/objectives/forecast/both/probe/ETTh1").glob("*/*/metrics.json"))
        .read_text()
    )  # fmt: skip
    assert record[0]["test_mse"] > 0
