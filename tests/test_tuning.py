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
from csft.jobs import tune

SPACES = {
    "dlinear": {"training.learning_rate": {"low": 0.0005, "high": 0.05, "log": True}},
    "csft": {
        "training.learning_rate": {"low": 0.0001, "high": 0.01, "log": True},
        "architecture.n_heads": {"choices": [1, 2, 4]},
    },
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
        ({"budget": {"epoch": 1}}, r"tuning.budget: \['epoch'\] are not training settings"),
        ({"forecast": {"models": ["dlinear"], "datasets": ["ETTh1"], "horizons": [7]}},
         r"tuning.forecast.horizons: \[7\] are not in forecast.horizons"),
        ({"forecast": {"models": ["nope"], "datasets": ["ETTh1"], "horizons": [HORIZON]}},
         r"tuning.forecast.models: 'nope' is not a forecaster of models"),
        ({"spaces": {**SPACES, "dlinear": {"training.learning_rate": {"low": 1, "high": 0.5}}}},
         r"tuning space training.learning_rate: needs low < high"),
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


@pytest.fixture()
def sealed(monkeypatch):
    """Any cut of the test split fails the test."""
    windows = ETTSeries.windows

    def spy(self, split, horizon):
        assert split != "test", "the test split was cut during tuning"
        return windows(self, split, horizon)

    monkeypatch.setattr(ETTSeries, "windows", spy)


def test_a_study_never_cuts_the_test_split(tmp_path, mirror, sealed):
    config = with_tuning(resolved_tiny_config(tmp_path))
    config["tuning"]["forecast"]["models"] = ["csft"]  # pretrains inside each trial
    settings = tune.resolve(config, {"model": "csft", "dataset": "ETTh1", "lookback": "64"})
    tuning_uri = f"sqlite:///{tmp_path}/mlflow.db"
    from csft import tracking

    tracking.init_store(tuning_uri, ["tiny/tuning"], str(tmp_path / "art"))
    config["tracking"]["uri"] = tuning_uri
    settings = tune.TuneSettings.from_dict(
        {**settings.to_dict(), "tracking": {**settings.to_dict()["tracking"], "uri": tuning_uri}}
    )
    outputs = {"best": str(tmp_path / "best.json"), "trials": str(tmp_path / "trials.csv")}
    csv = mirror / "ETT-small" / "ETTh1.csv"
    tune.execute(settings, {"csv": str(csv)}, outputs, config, str(tmp_path / "journal.log"))
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["n_trials"] == 2 and best["official_params"]["architecture.n_heads"] == 2
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 2


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
    )
    config = with_tuning(config)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = tmp_path / "results" / "tables" / "tuning.md"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "tables" / "tuning.csv")
    assert sorted(table.model) == ["csft", "dlinear"] and (table.trials == 2).all()
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
