"""Classification jobs: every model fits before TEST is opened, CSFT's length policies, the
short-series policy, grouped pretraining and determinism, on small synthetic UCR-like data."""

import numpy as np
import pytest
import torch
from tiny_classify import SETTINGS, synthetic
from tiny_study import with_value

from csft.classifiers import csft as csft_classifier
from csft.classifiers import patchtst as patchtst_classifier
from csft.classifiers import ts2vec as ts2vec_classifier
from csft.classifiers.aeon_based import AeonClassifier
from csft.classifiers.base import feature_statistics
from csft.jobs import classify as classify_job
from csft.jobs.classify import ClassifyJob, job_policies, job_seeds, job_selections
from csft.models.csft import CSFTConfig
from csft.training.classify import (
    GroupBatches,
    csft_groups,
    lengthen_short,
    seal,
)


def fit_spies(monkeypatch, splits):
    """Record, at every fitting call of every classifier module, whether TEST was still sealed."""
    sealed_at_fit = []

    def spy(function):
        def wrapper(*args, **kwargs):
            sealed_at_fit.append(splits._sealed)
            return function(*args, **kwargs)

        return wrapper

    for module in (csft_classifier, patchtst_classifier, ts2vec_classifier):
        for name in ("pretrain_steps", "fit_classifier", "svm_on_features"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, spy(getattr(module, name)))
    make = AeonClassifier.make

    def aeon_spy(self):
        estimator = make(self)
        estimator.fit = spy(estimator.fit)
        return estimator

    monkeypatch.setattr(AeonClassifier, "make", aeon_spy)
    return sealed_at_fit


@pytest.mark.parametrize(
    "model, policy",
    [
        ("csft", "per_interval"),
        ("csft", "common"),
        ("patchtst", "resample"),
        ("ts2vec", "native"),
        ("minirocket", "resample"),
        ("dtw_1nn", "native"),
    ],
)
def test_every_model_fits_with_test_sealed_and_scores_test_once(monkeypatch, model, policy):
    splits = seal(synthetic(), "fixed_budget", 0.25, seed=0)
    sealed_at_fit = fit_spies(monkeypatch, splits)
    records = classify_job.run(ClassifyJob(model, "Synthetic", policy, 1), splits, SETTINGS[model])
    assert sealed_at_fit and all(sealed_at_fit)  # every fit ran before TEST was opened
    assert not splits._sealed  # ...and TEST was opened exactly once (a second unseal raises)
    expected = ["finetune", "svm"] if model == "csft" else [classify_job.primary_protocol(model)]
    assert [r["protocol"] for r in records] == expected
    for record in records:
        assert 0 <= record["test_accuracy"] <= 1 and record["n_test"] == 30
        assert record["train_seconds"] > 0 and record["test_seconds"] > 0
        assert record["length_policy"] == policy and record["variable_length"]
    if model == "csft":
        assert records[0]["method"] == "csft/finetune" + ("/common" if policy == "common" else "")
        grids = records[0]["grids"].split()
        assert grids == (["64", "128"] if policy == "per_interval" else ["128"])


def test_dtw_learns_an_easy_problem():
    splits = seal(synthetic(n_train=30, n_test=40, lengths=(100, 101)), "fixed_budget", 0.25, 0)
    (record,) = classify_job.run(
        ClassifyJob("dtw_1nn", "Synthetic", "native", 1), splits, SETTINGS["dtw_1nn"]
    )
    assert record["test_accuracy"] > 0.8 and not record["variable_length"]


def test_the_same_seed_gives_the_same_accuracy_and_another_seed_another_model():
    def accuracies(seed):
        splits = seal(synthetic(), "validation", 0.25, seed=seed)
        job = ClassifyJob("csft", "Synthetic", "per_interval", seed, selection="validation")
        return [r["test_accuracy"] for r in classify_job.run(job, splits, SETTINGS["csft"])]

    first = accuracies(1)
    assert accuracies(1) == first
    splits = seal(synthetic(), "validation", 0.25, seed=1)
    torch.manual_seed(0)  # the job seeds itself: the global state before it does not matter
    again = classify_job.run(
        ClassifyJob("csft", "Synthetic", "per_interval", 1, selection="validation"),
        splits,
        SETTINGS["csft"],
    )
    assert [r["test_accuracy"] for r in again] == first


def test_short_series_are_resampled_up_or_refused_naming_the_series():
    series = [np.ones(80, np.float32), np.arange(24, dtype=np.float32)]
    out = lengthen_short(series, 64, "resample", "UCR Chinatown")
    assert [len(s) for s in out] == [80, 64] and out[0] is series[0]
    assert out[1][0] == 0 and out[1][-1] == 23
    with pytest.raises(ValueError, match=r"UCR Chinatown: series 1 has length 24, below .* 64"):
        lengthen_short(series, 64, "error", "UCR Chinatown")


def test_unseen_intervals_go_to_the_deepest_trained_grid_below():
    config = CSFTConfig(300, 1, 1, d_model=8, n_heads=2)
    series = [np.zeros(n, np.float32) for n in (70, 140, 300, 600)]
    groups = csft_groups(series, np.zeros(4, np.int64), config, grid_map={64: 64, 256: 256})
    placed = {int(i): g.x.shape[1] for g in groups for i in g.index}
    assert placed == {0: 64, 1: 64, 2: 256, 3: 256}


def test_group_batches_stay_within_one_grid_and_cover_every_series():
    config = CSFTConfig(300, 1, 1, d_model=8, n_heads=2)
    series = [np.zeros(n, np.float32) for n in [70] * 5 + [140] * 7 + [300] * 3]
    groups = csft_groups(series, np.arange(15), config)
    generator = torch.Generator().manual_seed(0)
    training = GroupBatches(groups, 4, True, generator)
    passes = [[y.tolist() for _, y in training] for _ in range(2)]
    assert passes[0] != passes[1]  # reshuffled on every pass
    for batches in passes:
        assert sorted(sum(batches, [])) == list(range(15))
    for x, _ in training:
        assert x.ndim == 3 and x.shape[-1] == 1 and x.shape[1] in (64, 128, 256)
    evaluation = [y.tolist() for _, y in GroupBatches(groups, 4, False, generator)]
    assert sum(evaluation, []) == list(range(15)) and len(evaluation) == 5


def test_job_policies_and_seeds():
    both = ["per_interval", "common"]
    assert job_policies("csft", True, both) == both
    assert job_policies("csft", False, both) == ["per_interval"]
    assert job_policies("minirocket", True, both) == ["resample"]
    assert job_policies("dtw_1nn", False, both) == ["native"]
    assert job_seeds("dtw_1nn", [3, 4]) == [3] and job_seeds("csft", [3, 4]) == [3, 4]
    with pytest.raises(ValueError, match="length policy"):
        ClassifyJob("patchtst", "X", "per_interval", 1)
    both = ["fixed_budget", "validation"]
    assert job_selections("patchtst", both) == both and job_selections("csft", both) == both
    assert job_selections("ts2vec", both) == ["fixed_budget"]
    assert job_selections("minirocket", ["validation"]) == ["fixed_budget"]
    with pytest.raises(ValueError, match="selection"):
        ClassifyJob("minirocket", "X", "resample", 1, selection="validation")


def test_series_longer_than_2048_reach_seven_ctls_with_no_special_case():
    splits = seal(synthetic(n_train=12, n_test=6, lengths=(2844, 2845)), "fixed_budget", 0.25, 0)
    settings = {**SETTINGS["csft"], "pretraining": {"steps": 1, "batch_size": 8}}  # as Rock
    records = classify_job.run(ClassifyJob("csft", "Rock", "per_interval", 1), splits, settings)
    assert records[0]["grids"] == "2048"  # [2048, 4096): L = log2(2048 / 16) = 7 CTLs
    assert all(0 <= r["test_accuracy"] <= 1 for r in records)


@pytest.mark.parametrize("model, policy", [("csft", "per_interval"), ("patchtst", "resample")])
def test_fixed_budget_runs_every_step_on_all_of_train(model, policy):
    dataset = synthetic(n_train=4, n_test=8)  # as Fungi: every class a singleton in TRAIN
    dataset.train.labels = np.arange(4)
    dataset.test.labels = np.arange(8) % 4
    dataset.classes = np.arange(4)
    splits = seal(dataset, "fixed_budget", 0.25, seed=0)
    assert len(splits.train) == 4 and len(splits.val) == 0
    records = classify_job.run(ClassifyJob(model, "Fungi", policy, 1), splits, SETTINGS[model])
    assert records[0]["steps_run"] == SETTINGS[model]["training"]["steps"]
    assert records[0]["selection"] == "fixed_budget" and "/validation" not in records[0]["method"]


def test_validation_selection_names_itself_and_may_stop_early():
    splits = seal(synthetic(), "validation", 0.25, seed=3)
    settings = {**SETTINGS["patchtst"], "training": {"batch_size": 8, "steps": 400, "patience": 1}}
    job = ClassifyJob("patchtst", "Synthetic", "resample", 3, selection="validation")
    (record,) = classify_job.run(job, splits, settings)
    assert record["method"] == "patchtst/validation" and record["selection"] == "validation"
    assert record["steps_run"] < 400  # one pass without a better validation loss stops it


def test_csft_reports_the_svm_c_it_chose_and_a_variant_its_own_name():
    splits = seal(synthetic(), "fixed_budget", 0.25, seed=0)
    job = ClassifyJob("csft", "Synthetic", "per_interval", 1, name="csft_raw")
    settings = {**SETTINGS["csft"]}
    settings["architecture"] = {**settings["architecture"], "input_norm": "none"}
    finetune, svm = classify_job.run(job, splits, settings)
    assert svm["svm_C"] == "inf"  # 40 TRAIN series: fewer than 50, a hard margin
    assert (finetune["method"], svm["method"]) == ("csft_raw/finetune", "csft_raw/svm")
    assert svm["pretrain_steps"] == 6 and svm["classifier"] == "csft_raw"
    for record in (finetune, svm):  # the TEST representation's feature statistics
        assert 0 <= record["feature_pearson"] <= 1 and 0 < record["pca_fraction_80"] <= 1


def test_feature_statistics_flag_a_collapsed_representation():
    collapsed = feature_statistics(np.ones((10, 4)))
    assert collapsed["feature_constant"] == 4 and np.isnan(collapsed["feature_pearson"])
    rng = np.random.default_rng(0)
    isotropic = feature_statistics(rng.normal(size=(500, 8)))
    assert isotropic["feature_pearson"] < 0.1 and isotropic["pca_fraction_80"] >= 0.75
    assert (
        isotropic["feature_effective_rank"] > 7 and abs(isotropic["feature_between_cosine"]) < 0.1
    )
    # A shared vector plus noise passes the correlation statistics; its health does not.
    shared = 3.0 + rng.normal(size=8) + 1e-3 * rng.normal(size=(500, 8))
    noisy = feature_statistics(shared)
    assert noisy["feature_pearson"] < 0.1 and noisy["feature_between_cosine"] > 0.99


CLASSIFY = {"classifier": "csft", "name": "GunPoint", "policy": "per_interval",
            "selection": "validation", "seed": "2021"}  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tiny_study import resolved_tiny_config

    return resolved_tiny_config(tmp_path_factory.mktemp("config"))


def test_classify_settings_resolve_every_field_and_travel_as_one_dict(tiny):
    from csft.config import classify_settings
    from csft.jobs.classify_run import ClassifySettings, resolve

    settings = resolve(tiny, CLASSIFY, threads=2)
    assert settings.job == ClassifyJob("csft", "GunPoint", "per_interval", 2021, tiny["device"],
                                       selection="validation", name="csft")  # fmt: skip
    assert settings.recipe == classify_settings(tiny, "csft", 2)
    assert settings.data.min_length == tiny["models"]["csft"]["architecture"]["min_length"]
    assert settings.data.scaling == tiny["ucr"]["scaling"]
    assert settings.tracking.run_name == "GunPoint/2021"
    assert ClassifySettings.from_dict(settings.to_dict()) == settings
    params = settings.params()
    assert set(params) == {"job", "settings", "ucr"} and params["ucr"]["validation_seed"] == 2021


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("job", "seed"), "1", "ClassifyJob.seed"),
        (("job", "device"), "gpu", "ClassifyJob.device"),
        (("job", "length_policy"), "stretch", "csft runs under length policy"),
        (("data", "scaling"), "minmax", "ucr.scaling"),
        (("data", "validation_fraction"), 1.5, "ucr.validation_fraction"),
        (("recipe",), None, "ClassifySettings.recipe"),
        (("data", "scale"), 1, "DataProtocol: unknown field(s) ['scale']"),
    ],
)
def test_bad_classify_settings_are_refused_naming_the_field(tiny, path, value, named):
    import re

    from csft.jobs.classify_run import ClassifySettings, resolve

    values = resolve(tiny, CLASSIFY).to_dict()
    with_value(values, path, value)
    with pytest.raises(ValueError, match=re.escape(named)):
        ClassifySettings.from_dict(values)
