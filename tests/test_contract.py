"""The contract every registered model keeps, built in or your own (docs/extending.md):
forecasters map (B, L, C) to (B, H, C), seeded and per sample; classifiers fit with TEST
sealed and give one class code per TEST series under each protocol they declare; whatever
declares represent() maps series to (N, D) features, the same on every call."""

import functools
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_classify import SETTINGS, synthetic

from csft.data.irregular import Irregular, remove_from_series
from csft.jobs.classify import ClassifyJob, fit_and_score
from csft.models.registry import (
    CLASSIFIER_REGISTRY,
    CLASSIFIERS,
    MODEL_REGISTRY,
    MODELS,
    build_model,
    classifier_class,
    model_class,
)
from csft.training.classify import INTERVAL_POLICIES, SealedTestError, seal

SHAPE = {"lookback": 96, "horizon": 24, "n_channels": 3}
LENGTH_POLICIES = {*INTERVAL_POLICIES, "resample", "native"}
# Every registered classifier, and aeon's classifiers by name (one that needs equal lengths,
# one that takes them unequal), with tiny settings where the defaults would be slow.
AEON = {"aeon:RocketClassifier": {"n_kernels": 100}, "aeon:KNeighborsTimeSeriesClassifier": {}}
EVERY_CLASSIFIER = [*CLASSIFIER_REGISTRY.names(), *AEON]
TINY = {**SETTINGS, **AEON}
# Classifier variants that change what a classifier takes: CSFT's time-aware input (irregular
# sampling), fitted on series with 30% of their points removed (NaN).
TIME_AWARE_CSFT = {
    **SETTINGS["csft"],
    "architecture": {**SETTINGS["csft"]["architecture"], "missing_mask": True},
}
CLASSIFIER_VARIANTS = {"csft+missing_mask": ("csft", TIME_AWARE_CSFT)}


# Architecture variants that change what a model takes, beside every model's defaults:
# (name, architecture, look-back, input with holes). CSFT's time-aware input (irregular
# sampling, docs/open_questions.md) reads NaN as an unobserved point and needs T = 2^k.
VARIANTS = [(name, {}, SHAPE["lookback"], False) for name in MODEL_REGISTRY.names()] + [
    ("csft", {"missing_mask": True}, 64, False),
    ("csft", {"missing_mask": True}, 64, True),
    ("csft", {"channel_mixing": True}, SHAPE["lookback"], False),
    ("csft", {"individual_head": True}, SHAPE["lookback"], False),
    ("csft", {"channel_mixing": True, "individual_head": True}, SHAPE["lookback"], False),
]


def fresh(name: str, seed: int, architecture=None, lookback=SHAPE["lookback"]) -> torch.nn.Module:
    """A new model in eval mode (dropout off), so predictions depend on the seed alone."""
    torch.manual_seed(seed)
    return build_model(name, architecture or {}, **{**SHAPE, "lookback": lookback}).eval()


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal, NaN where the other has NaN (an input with holes is compared as it is)."""
    return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(0.5), b.nan_to_num(0.5))


@pytest.mark.parametrize(
    ("name", "architecture", "lookback", "holes"), VARIANTS,
    ids=[f"{n}{'-' if a else ''}{'-'.join(a)}{'-holes' if h else ''}" for n, a, _, h in VARIANTS],
)  # fmt: skip
def test_forecaster_contract(name, architecture, lookback, holes):
    assert isinstance(fresh(name, 0, architecture, lookback), model_class(name))
    keeps_forecaster_contract(
        name, lambda seed: fresh(name, seed, architecture, lookback), lookback, holes
    )


def keeps_forecaster_contract(
    name: str, make, lookback: int = SHAPE["lookback"], holes: bool = False
) -> None:
    """The forecaster contract of the models `make(seed)` builds (in eval mode), on inputs of
    `lookback` steps (with unobserved points, NaN, where `holes`)."""
    batch = 5
    x = torch.randn(
        batch, lookback, SHAPE["n_channels"], generator=torch.Generator().manual_seed(1)
    )
    if holes:  # every third time point and the first patch unobserved, in every channel
        x[:, ::3] = float("nan")
        x[:, :16] = float("nan")
    x_before = x.clone()

    model = make(0)
    out = model(x)
    assert tuple(out.shape) == (batch, SHAPE["horizon"], SHAPE["n_channels"])
    assert torch.isfinite(out).all()
    assert same(x, x_before)  # the input is not mutated

    # Same seed, two fresh models: identical predictions; another seed: different ones.
    twin = make(0)
    with torch.no_grad():
        assert torch.equal(twin(x), make(0)(x))
        assert torch.equal(twin(x), model(x))
        assert not torch.equal(twin(x), make(1)(x))

    # Gradients reach every trainable parameter (PatchTST keeps its fixed attention scale as a
    # frozen parameter, as the official code does).
    out.pow(2).mean().backward()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert params
    for pname, param in params.items():
        assert param.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(param.grad).all(), pname
        assert param.grad.abs().sum() > 0, f"{name}: zero gradient for {pname}"
    assert same(x, x_before)

    # Each sample is forecast from its own window only (no mixing across the batch).
    with torch.no_grad():
        alone = model(x[2:3])
        assert torch.allclose(alone, model(x)[2:3], atol=1e-6)


@pytest.mark.parametrize(
    "name", [n for n in MODEL_REGISTRY.names() if hasattr(model_class(n), "represent")]
)
def test_forecaster_representation_contract(name):
    """The shared extraction API of the feature analyses: (N, L) series -> (N, D) features."""
    model = fresh(name, 0)
    series = torch.randn(6, SHAPE["lookback"], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        features = model.represent(series)
        assert features.ndim == 2 and features.shape[0] == 6 and features.shape[1] > 1
        assert torch.isfinite(features).all()
        assert torch.equal(features, model.represent(series))
        assert torch.allclose(model.represent(series[:2]), features[:2], atol=1e-5)


def objective_arms() -> dict[str, dict]:
    """The objectives question's arms in config/config.yaml (its sweep only changes their
    weights), name -> their pretraining.ssl overrides."""
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").open())
    prefix = "pretraining.ssl."
    arms = {}
    for arm, changes in config["questions"]["objectives"]["arms"].items():
        assert all(path.startswith(prefix) for path in changes), (arm, changes)  # else: extend
        arms[arm] = {path.removeprefix(prefix): value for path, value in changes.items()}
    return arms


@functools.cache
def pretrained_state(arm: str, seed: int) -> dict:
    """CSFT's encoder after two steps of the arm's objective from seed `seed`'s init."""
    from csft.models.objectives import ReconstructionDecoders, SSLConfig, ssl_loss

    ssl = SSLConfig(**objective_arms()[arm])
    model = fresh("csft", seed).train()
    decoders = ReconstructionDecoders(model.encoder.config)
    optimizer = torch.optim.AdamW([*model.encoder.parameters(), *decoders.parameters()], lr=1e-3)
    series = torch.randn(8, SHAPE["lookback"], generator=torch.Generator().manual_seed(seed))
    with torch.enable_grad():  # the contract also builds models under no_grad
        for _ in range(2):
            optimizer.zero_grad()
            loss, terms, _ = ssl_loss(model.encoder, decoders, series, ssl)
            assert ("contrastive" in terms) == (ssl.contrastive_weight > 0)
            loss.backward()
            optimizer.step()
    return {k: v.clone() for k, v in model.encoder.state_dict().items()}


@pytest.mark.parametrize("mode", ["finetune", "probe"])
@pytest.mark.parametrize("arm", sorted(objective_arms()))
def test_every_objective_arm_gives_a_forecaster_that_keeps_the_contract(arm, mode):
    """CSFT pretrained under each arm's objective (contrastive, masked, both, ...), its
    encoder loaded into a new forecaster (as csft.jobs.forecast.fit does), fine-tuned or frozen
    (probe, only the head trained): the same contract."""

    def pretrained(seed: int) -> torch.nn.Module:
        model = fresh("csft", seed)
        model.encoder.load_state_dict(pretrained_state(arm, seed))
        if mode == "probe":
            model.encoder.requires_grad_(False)
        return model

    keeps_forecaster_contract("csft", pretrained)
    trainable = {n for n, p in pretrained(0).named_parameters() if p.requires_grad}
    assert trainable and (mode == "finetune") == any(n.startswith("encoder.") for n in trainable)


def test_models_with_a_representation():
    assert {n for n in MODELS if hasattr(model_class(n), "represent")} == {"csft", "patchtst"}


@pytest.mark.parametrize("name", EVERY_CLASSIFIER)
def test_classifier_declares_its_capabilities(name):
    cls = classifier_class(name)
    assert cls.length_policies and set(cls.length_policies) <= LENGTH_POLICIES
    assert cls.protocols and len(set(cls.protocols)) == len(cls.protocols)
    for flag in ("selects", "deterministic", "uses_torch", "pretrains"):
        assert isinstance(getattr(cls, flag), bool), flag
    assert cls.architecture_of is None or cls.architecture_of in MODEL_REGISTRY.names()


@pytest.fixture(scope="module")
def fitted():
    """Each classifier fitted once on small variable-length data, and its outcome."""
    cache = {}

    def fit(name):
        if name not in cache:
            model, tiny = CLASSIFIER_VARIANTS.get(name, (name, TINY.get(name, {})))
            cls = classifier_class(model)
            data = synthetic(n_train=24, n_test=12, lengths=(64, 100))
            if name in CLASSIFIER_VARIANTS:  # with holes: NaN where a point was removed
                removal = Irregular(0.3, "time_aware", 1)
                for split, part in (("TRAIN", data.train), ("TEST", data.test)):
                    part.series = remove_from_series(part.series, removal, "Synthetic", split)
            splits = seal(data, "fixed_budget", 0.25, 0)
            job = ClassifyJob(model, "Synthetic", cls.length_policies[0], 1)
            settings = {"threads": 1, **tiny}
            classifier = cls(job, settings, torch.Generator().manual_seed(1))
            cache[name] = classifier, splits, fit_and_score(classifier, splits)
        return cache[name]

    return fit


@pytest.mark.parametrize("name", [*EVERY_CLASSIFIER, *CLASSIFIER_VARIANTS])
def test_classifier_contract(name, fitted):
    classifier, splits, scored = fitted(name)
    assert [s.protocol for s in scored] == list(classifier.protocols)
    with pytest.raises(SealedTestError):  # TEST was opened once, after fit
        splits.unseal()
    test = splits.test()
    for outcome in scored:
        predictions = np.asarray(outcome.predictions)
        assert predictions.shape == (len(test),)
        assert set(predictions.tolist()) <= set(range(splits.n_classes))
        assert outcome.train_seconds > 0 and outcome.test_seconds > 0


def reloaded(classifier, tmp_path):
    """A new instance of the classifier's class from its fitted state, through a file read
    with weights_only=True (as python -m csft.evaluate reads a job's model.pt)."""
    path = tmp_path / "state.pt"
    torch.save(classifier.fitted_state(), path)
    again = type(classifier)(classifier.job, classifier.settings)
    again.load_fitted(torch.load(path, weights_only=True), str(path))
    return again


@pytest.mark.parametrize("name", [*EVERY_CLASSIFIER, *CLASSIFIER_VARIANTS])
def test_a_classifier_saved_and_loaded_predicts_as_fitted(name, fitted, tmp_path):
    classifier, splits, scored = fitted(name)
    again = reloaded(classifier, tmp_path)
    for outcome in scored:
        np.testing.assert_array_equal(
            again.predict(splits.test(), outcome.protocol), outcome.predictions
        )


def represents(name: str) -> bool:
    model = CLASSIFIER_VARIANTS.get(name, (name,))[0]
    return callable(getattr(classifier_class(model), "represent", None))


@pytest.mark.parametrize(
    "name", [n for n in [*EVERY_CLASSIFIER, *CLASSIFIER_VARIANTS] if represents(n)]
)
def test_classifier_representation_contract(name, fitted):
    classifier, splits, _ = fitted(name)
    series = splits.test().series
    features = classifier.represent(series)
    assert features.ndim == 2 and features.shape[0] == len(series) and features.shape[1] > 1
    assert np.isfinite(features).all()
    np.testing.assert_allclose(classifier.represent(series), features, atol=1e-5)
    np.testing.assert_allclose(classifier.represent(series[:2]), features[:2], atol=1e-4)


def test_classifiers_with_a_representation():
    assert {n for n in EVERY_CLASSIFIER if represents(n)} == {"csft", "patchtst", "ts2vec"}


def test_an_unknown_aeon_classifier_lists_the_valid_ones():
    with pytest.raises(ImportError, match=r"aeon has no classifier 'NoSuch'.*RocketClassifier"):
        classifier_class("aeon:NoSuch")


@pytest.fixture
def own_classifier(tmp_path, monkeypatch):
    """docs/extending.md's example classifier as an installed package: a module on the path
    and its metadata, an entry point `nearest_mean_ep` in the group csft_bench.classifiers."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    (example,) = [b for b in docs.split("```python\n")[1:] if "class NearestMean" in b]
    (tmp_path / "my_classifiers").mkdir()
    (tmp_path / "my_classifiers" / "__init__.py").write_text(example.split("```")[0])
    info = tmp_path / "my_classifiers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-classifiers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[csft_bench.classifiers]\nnearest_mean_ep = my_classifiers:NearestMean\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = dict(CLASSIFIERS)
    yield {"classifiers": {"nearest_mean": {"class": "my_classifiers:NearestMean"}}}
    CLASSIFIERS.clear()
    CLASSIFIERS.update(saved)
    sys.modules.pop("my_classifiers", None)


def test_the_documented_classifier_of_your_own_keeps_the_contract(own_classifier, tmp_path):
    from csft.config import classifier_model
    from csft.jobs.classify import job_seeds, run

    assert classifier_class("nearest_mean_ep").__name__ == "NearestMean"  # the entry point
    with pytest.raises(ValueError, match=r"unknown classifier 'nearest_mean'.*nearest_mean_ep"):
        classifier_model({}, "nearest_mean")
    assert classifier_model(own_classifier, "nearest_mean") == "nearest_mean"  # registers it
    assert job_seeds("nearest_mean", [1, 2]) == [1]  # declared deterministic
    splits = seal(synthetic(n_train=24, n_test=12, lengths=(64, 100)), "fixed_budget", 0.25, 0)
    (record,) = run(ClassifyJob("nearest_mean", "Synthetic", "resample", 1), splits, {})
    assert record["method"] == "nearest_mean" and 0 <= record["test_accuracy"] <= 1
    job = ClassifyJob("nearest_mean", "S", "resample", 1)
    classifier = classifier_class("nearest_mean")(job, {})
    splits = seal(synthetic(), "fixed_budget", 0.25, 0)
    (scored,) = fit_and_score(classifier, splits)
    assert classifier.represent(synthetic().test.series).shape == (30, classifier.length)
    again = reloaded(classifier, tmp_path)  # its fitted_state() and load_fitted()
    np.testing.assert_array_equal(again.predict(splits.test(), "supervised"), scored.predictions)


def test_a_variant_needs_a_classifier_that_declares_an_architecture():
    from csft.config import check_architectures

    variant = {"name": "mr2", "model": "minirocket", "architecture": {"d_model": 8}}
    config = {"classify": {"models": ["mr2"], "variants": [variant]}}
    with pytest.raises(ValueError, match="classify.variants.mr2: minirocket has no architecture"):
        check_architectures(config)
