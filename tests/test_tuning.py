"""Equal-budget tuning: search spaces checked before any job, the official recipe as trial 0,
a resumable journal, TEST sealed throughout, every method the same trials and budget, and a
study that runs through the DAG into the tuned recipe's training jobs."""

import copy
import json

import optuna
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from snakemake.utils import validate
from tiny_study import (
    CSFT_LOOKBACK,
    HORIZON,
    REPO,
    forecast_only_config,
    resolved_tiny_config,
    run_snakemake,
    tiny_config,
)

from csft import tuning
from csft.config import check_config, fill_architectures, tuning_studies
from csft.data.ett import ETTSeries
from csft.dotted import find_setting
from csft.jobs import tune, tune_classify
from csft.training.classify import SealedTestError

SPACES = {
    "dlinear": {"training.learning_rate": {"low": 0.0005, "high": 0.05, "log": True}},
    "csft": {
        "training.learning_rate": {"low": 0.0001, "high": 0.01, "log": True},
        "architecture.n_heads": {"choices": [1, 2, 4]},
    },
}


CLASSIFY = {
    "models": ["csft"],
    "datasets": ["Chinatown"],
    "steps": 3,
    "spaces": {"csft": {"training.batch_size": {"choices": [4, 8, 16]}}},
}


def with_tuning(config, **block):
    config = copy.deepcopy(config)
    config["tuning"] = {
        "trials": 2,
        "budget": {"epochs": 1, "max_batches_per_epoch": 2, "patience": 1},
        "pretraining_budget": {"epochs": 1, "max_batches_per_epoch": 2, "patience": 1},
        "forecast": {"models": ["dlinear", "csft"], "datasets": ["ETTh1"], "horizons": [HORIZON]},
        "spaces": SPACES,
        **block,
    }
    return config


def test_a_study_per_tuned_model_dataset_and_lookback(tmp_path):
    config = with_tuning(resolved_tiny_config(tmp_path))
    check_config(config)
    assert tuning_studies(config) == [("dlinear", "ETTh1", 96), ("csft", "ETTh1", CSFT_LOOKBACK)]
    assert tuning_studies({**config, "tuning": {**config["tuning"], "trials": 0}}) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"spaces": {**SPACES, "dlinear": {"training.no_such_key": {"low": 1, "high": 2}}}},
         r"tuning.spaces.dlinear: 'training.no_such_key' names no setting of the recipe"),
        ({"spaces": {"csft": SPACES["csft"]}}, r"tuning.spaces.dlinear: missing"),
        ({"spaces": {**SPACES, "dlinear": {"training.learning_rate": {"low": 0.1, "high": 1}}}},
         r"learning_rate = 0.005 lies outside the search space"),
        ({"spaces": {**SPACES, "dlinear": {"training.epochs": {"choices": [1, 2, 10]}}}},
         r"\['training.epochs'\] are set by tuning.budget"),
        ({"budget": {"epoch": 1}}, r"tuning.budget: \['epoch'\] are not TrainingConfig settings"),
        ({"forecast": {"models": ["dlinear"], "datasets": ["ETTh1"], "horizons": [7]}},
         r"tuning.forecast.horizons: \[7\] are not in forecast.horizons"),
        ({"forecast": {"models": ["nope"], "datasets": ["ETTh1"], "horizons": [HORIZON]}},
         r"tuning.forecast.models: 'nope' is not a forecaster of models"),
        ({"spaces": {**SPACES, "dlinear": {"training.learning_rate": {"low": 1, "high": 0.5}}}},
         r"tuning space training.learning_rate: needs low < high"),
        ({"classify": {**CLASSIFY, "spaces": {"csft": {"training.steps": {"choices": [3, 9]}}}}},
         r"tuning.classify.spaces.csft: \['training.steps'\] are step budgets"),
        ({"classify": {**CLASSIFY, "models": ["nope"]}},
         r"classify.models: .*'nope'"),
        ({"classify": {**CLASSIFY, "datasets": ["NoSuchSet"]}},
         r"tuning.classify.datasets: \['NoSuchSet'\] are neither UCR archive sets"),
        ({"classify": {**CLASSIFY, "spaces": {"csft": {"training.lr": {"low": 0.1, "high": 1}}}}},
         r"tuning.classify.spaces.csft: 'training.lr' names no setting"),
    ],
)  # fmt: skip
def test_a_bad_tuning_block_fails_before_any_job_naming_it(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        check_config(with_tuning(resolved_tiny_config(tmp_path), **change))


def test_the_official_recipe_is_trial_0_and_a_killed_study_resumes(tmp_path):
    space = tuning.space_of({"a": {"low": -4.0, "high": 4.0}, "b": {"choices": ["x", "y"]}})
    official = {"a": 3.0, "b": "y"}
    seen = []

    def objective(number, params):
        seen.append((number, params))
        return (params["a"] - 1.0) ** 2 + (params["b"] == "x")

    journal = tmp_path / "journal.log"
    study = tuning.search(tuning.open_study(journal, "s", 0), space, official, 4, objective)
    assert seen[0] == (0, official)
    assert len(tuning.finished(study)) == 4
    # Reopened from the journal (a killed job rerun): only the missing trials run.
    again = tuning.open_study(journal, "s", 0)
    tuning.search(again, space, official, 10, objective)
    assert [n for n, _ in seen] == list(range(10))
    summary = tuning.best_summary(again, official)
    assert summary["official_value"] == 4.0 and summary["best_value"] <= 4.0
    assert summary["n_trials"] == 10 and summary["official_params"] == official


def test_a_diverging_trial_fails_but_counts_against_the_budget(tmp_path):
    space = tuning.space_of({"a": {"low": 0.0, "high": 1.0}})
    study = tuning.open_study(tmp_path / "j.log", "s", 0)
    tuning.search(study, space, {"a": 0.5}, 3, lambda n, p: float("nan") if n == 1 else p["a"])
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1 and len(states) == 3
    assert tuning.best_summary(study, {"a": 0.5})["n_failed"] == 1


@pytest.mark.parametrize(
    "files", [["config.yaml"], ["config.yaml", "quick.yaml", "best_shot_check.yaml"]]
)
def test_every_method_gets_the_same_trials_and_per_trial_budget(files):
    """The full config's and the check's tuning stage, resolved as the DAG resolves it."""
    from snakemake.utils import update_config

    config = {}
    for name in files:
        update_config(config, yaml.safe_load((REPO / "config" / name).read_text()))
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    fill_architectures(config)
    studies = tuning_studies(config)
    assert {model for model, _, _ in studies} >= {"csft", "patchtst", "dlinear"}
    resolved = [
        tune.resolve(config, {"model": m, "dataset": d, "lookback": str(lb)})
        for m, d, lb in studies
    ]
    budget = config["tuning"]["budget"]
    assert budget and len({s.trials for s in resolved}) == 1 and resolved[0].trials >= 16
    for settings in resolved:
        for recipe in settings.recipes.values():
            assert {k: recipe["training"][k] for k in budget} == budget
        assert settings.official()  # trial 0 exists: every space holds the official recipe
    from csft.data import ucr_catalog
    from csft.jobs.classify import job_policies

    names = ucr_catalog.resolve(config["ucr"]["datasets"], None)
    variable = ucr_catalog.archive().variable_length
    block = config["tuning"]["classify"]
    assert set(block["models"]) >= {"csft", "patchtst", "ts2vec"} and set(block["datasets"]) <= set(
        names
    )
    for classifier in block["models"]:
        for name in block["datasets"]:
            policy = job_policies(classifier, bool(variable[name]), ["per_interval"])[0]
            study = tune_classify.resolve(
                config, {"classifier": classifier, "name": name, "policy": policy}
            )
            assert study.trials == resolved[0].trials  # as many as every forecaster
            steps = [v for p in tune_classify.STEP_BUDGETS
                     for ok, v in [find_setting(study.base.recipe, p)] if ok]  # fmt: skip
            assert steps and set(steps) == {block["steps"]}
            assert study.official()


@pytest.fixture()
def sealed(monkeypatch):
    """Any cut of the test split fails the test."""
    windows = ETTSeries.windows

    def spy(self, split, horizon):
        assert split != "test", "the test split was cut during tuning"
        return windows(self, split, horizon)

    monkeypatch.setattr(ETTSeries, "windows", spy)


@pytest.fixture()
def store(tmp_path, monkeypatch):
    """A fresh MLflow store for an in-process study; MLflow keeps the last tracking URI a test
    set in the environment, which would otherwise win over the config's."""
    from csft import tracking

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking.init_store(uri, ["tiny/tuning"], str(tmp_path / "art"))
    return uri


def test_a_study_never_cuts_the_test_split(tmp_path, mirror, sealed, store):
    config = with_tuning(resolved_tiny_config(tmp_path))
    config["tuning"]["forecast"]["models"] = ["csft"]  # pretrains inside each trial
    settings = tune.resolve(config, {"model": "csft", "dataset": "ETTh1", "lookback": "64"})
    outputs = {"best": str(tmp_path / "best.json"), "trials": str(tmp_path / "trials.csv")}
    csv = mirror / "ETT-small" / "ETTh1.csv"
    tune.execute(settings, {"csv": str(csv)}, outputs, config, str(tmp_path / "journal.log"))
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["n_trials"] == 2 and best["official_params"]["architecture.n_heads"] == 2
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 2


def test_a_classification_study_never_opens_test(tmp_path, mirror, monkeypatch, store):
    from csft.jobs import classify_run

    config = with_tuning(resolved_tiny_config(tmp_path), classify=CLASSIFY)
    opened = []
    load = classify_run.load_splits

    def keep(*args):
        splits, files, custom = load(*args)
        opened.append(splits)
        return splits, files, custom

    monkeypatch.setattr(classify_run, "load_splits", keep)
    w = {"classifier": "csft", "name": "Chinatown", "policy": "per_interval"}
    settings = tune_classify.resolve(config, w)
    folder = mirror / "UCR" / "Chinatown"
    inputs = {
        "train": str(folder / "Chinatown_TRAIN.tsv"),
        "test": str(folder / "Chinatown_TEST.tsv"),
    }
    outputs = {"best": str(tmp_path / "best.json"), "trials": str(tmp_path / "trials.csv")}
    tune_classify.execute(settings, inputs, outputs, config, str(tmp_path / "journal.log"))
    (splits,) = opened
    with pytest.raises(SealedTestError):
        splits.test()  # TEST never opened: the trials scored a part of TRAIN
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["n_trials"] == 2 and best["classifier"] == "csft" and best["budget"]["steps"] == 3
    assert 0 <= best["official_value"] <= 1  # 1 - validation accuracy


def test_a_study_runs_through_the_dag_into_the_tuned_recipe(tmp_path, mirror):
    tiny = tiny_config(tmp_path)
    config = forecast_only_config(
        tmp_path,
        "t/",
        ett={"datasets": ["ETTh1"], "features": "M"},
        ucr={"datasets": ["Chinatown"]},
        forecast={
            "runs": [
                {"model": "dlinear", "lookback": 96},
                {"model": "csft", "lookback": CSFT_LOOKBACK},
            ],
            "horizons": [HORIZON],
        },
        models={"dlinear": tiny["models"]["dlinear"], "csft": tiny["models"]["csft"]},
        classify={
            "models": ["csft"],
            "csft": tiny["classify"]["csft"],
            "selection": ["fixed_budget"],
        },
    )
    config = with_tuning(config, classify=CLASSIFY)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = tmp_path / "results" / "tables" / "tuning.md"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "tables" / "tuning.csv")
    assert sorted(zip(table.task, table.model, strict=True)) == [
        ("classify", "csft"),
        ("classify", "csft"),
        ("forecast", "csft"),
        ("forecast", "dlinear"),
    ]  # CSFT's two protocols on Chinatown
    assert (table.trials == 2).all()
    assert "2 trials per study" in target.read_text()

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("t/tuning").experiment_id
    runs = client.search_runs([experiment], max_results=100)
    for model, lookback in (("dlinear", 96), ("csft", CSFT_LOOKBACK)):
        best = json.loads(
            (results / f"tuning/forecast/{model}/ETTh1/L{lookback}/best.json").read_text()
        )
        study = next(r for r in runs if r.data.tags.get("study") == best["study"])
        trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == study.info.run_id]
        assert sorted(r.data.tags["trial"] for r in trials) == ["0", "1"]
        official = next(r for r in trials if r.data.tags["trial"] == "0")
        assert official.data.tags["official"] == "true"
        assert (
            float(official.data.params["training.learning_rate"])
            == (best["official_params"]["training.learning_rate"])
        )
        # The tuned recipe's training job ran with the best trial's settings, traced to it.
        tuned = next(
            r for r in runs if r.info.run_name == f"tuned/{model}/ETTh1/L{lookback}/H{HORIZON}/1"
        )
        assert tuned.data.tags["recipe"] == "tuned"
        assert tuned.data.tags["tuning.study"] == best["study"]
        assert float(tuned.data.params["training.learning_rate"]) == pytest.approx(
            best["best_params"]["training.learning_rate"]
        )
    tuned_encoder = results / f"pretrained/tuned/csft/ETTh1/L{CSFT_LOOKBACK}/seed1/encoder.pt"
    assert tuned_encoder.exists()
    # The classifier's study: nested trials, and its tuned jobs traced to it.
    classify_runs = client.search_runs([experiment], "tags.recipe = 'tuned'", max_results=100)
    best = json.loads(
        (results / "tuning/classify/csft/Chinatown/per_interval/best.json").read_text()
    )
    tuned = [r for r in classify_runs if r.info.run_name.endswith("tuned/Chinatown/1")]
    assert {r.info.run_name.split("/tuned")[0] for r in tuned} == {"csft/finetune", "csft/svm"}
    assert all(r.data.tags["tuning.study"] == best["study"] for r in tuned)


def test_a_study_won_by_trial_0_says_the_official_recipe_was_kept():
    """Where trial 0 won, "tuned" re-ran the official recipe: the row says so instead of a
    comparison of a recipe with itself; a study that found better settings is compared."""
    from csft.report import tuning as tuning_report

    studies = pd.DataFrame(
        [
            {"model": m, "dataset": "ETTh1", "lookback": 96, "trials": 16, "failed": 0,
             "best_trial": best, "val_official": 0.7, "val_tuned": 0.6, "changed": "x",
             "budget": "{}"}
            for m, best in (("dlinear", 0), ("patchtst", 6))
        ]
    )  # fmt: skip
    seeds = range(6)
    official = pd.DataFrame(
        [{"model": m, "dataset": "ETTh1", "lookback": 96, "cell": "L96 H96", "seed": s,
          "score": 0.5 + 0.01 * s} for m in ("dlinear", "patchtst") for s in seeds]
    )  # fmt: skip
    tuned = official.assign(score=official.score - 0.1 * (official.model == "patchtst"))
    table = tuning_report.tuning_table("forecast", studies, official, tuned).set_index("model")
    assert table.loc["dlinear", "effect"] == "official recipe kept (trial 0 best)"
    assert table.loc["patchtst", "effect"] == "tuned better"
