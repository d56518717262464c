"""Sealed TEST and equal-length conversion for the classification track."""

import numpy as np
import pytest

from csft.data.ucr import load_ucr
from csft.tasks.classify import SealedTestError, seal, to_length


@pytest.fixture(scope="module")
def chinatown(mirror):
    return load_ucr(mirror, "Chinatown")


def test_test_split_is_sealed_until_the_final_evaluation(chinatown):
    splits = seal(chinatown, 0.2, seed=0)
    with pytest.raises(SealedTestError, match="sealed"):
        splits.test()
    test = splits.unseal()
    assert len(test) == 343 and splits.test() is test
    with pytest.raises(SealedTestError, match="already"):
        splits.unseal()


def test_validation_is_a_stratified_part_of_train(chinatown):
    splits = seal(chinatown, 0.2, seed=0)
    assert len(splits.train) + len(splits.val) == 20
    assert set(np.unique(splits.val.labels)) == {0, 1}
    again = seal(chinatown, 0.2, seed=0)
    assert np.array_equal(again.val.labels, splits.val.labels)
    assert all(
        np.array_equal(a, b) for a, b in zip(again.val.series, splits.val.series, strict=True)
    )


def test_to_length_resamples_keeping_end_points():
    ramp = np.arange(10, dtype=np.float32)
    short = np.array([1.0, 3.0], dtype=np.float32)
    out = to_length([ramp, short, np.array([5.0], dtype=np.float32)], 19)
    assert out.shape == (3, 19) and out.dtype == np.float32
    assert out[0, 0] == 0 and out[0, -1] == 9 and np.allclose(np.diff(out[0]), 0.5)
    assert out[1, 0] == 1 and out[1, -1] == 3
    assert np.all(out[2] == 5)
    with pytest.raises(ValueError, match="pad"):
        to_length([ramp], 5, policy="pad")


def toy_data(n=120, length=32, seed=0):
    """Two classes: a noisy sine shifted down (0) or up (1) by 0.5."""
    import torch

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    t = np.linspace(0, 4 * np.pi, length)
    x = np.sin(t + phase) + (labels[:, None] - 0.5) + 0.5 * rng.standard_normal((n, length))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(labels)


def test_fit_classifier_learns_and_restores_the_best_validation_epoch():
    import torch

    from csft.tasks.classify import (
        ClassifierTraining,
        equal_length_groups,
        fit_classifier,
        predict_logits,
    )

    x, y = toy_data()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    config = ClassifierTraining(epochs=30, patience=5, learning_rate=1e-2)
    train, val = equal_length_groups(x[:80], y[:80]), equal_length_groups(x[80:100], y[80:100])
    history = fit_classifier(model, train, val, config, torch.Generator().manual_seed(0))
    val_loss = torch.nn.functional.cross_entropy(predict_logits(model, x[80:100], 32), y[80:100])
    assert float(val_loss) == pytest.approx(min(r["val_loss"] for r in history), abs=1e-6)
    accuracy = (predict_logits(model, x[100:], 32).argmax(1) == y[100:]).float().mean()
    assert accuracy > 0.8


def test_svm_chooses_c_by_cross_validation_on_train_only():
    from csft.tasks.classify import svm_on_features

    x, y = toy_data(n=200)
    features = np.stack([x.mean(1).numpy(), x.std(1).numpy()], axis=1)
    svm = svm_on_features(features[:150], y[:150].numpy(), seed=0)
    assert svm.C in [10.0**k for k in range(-4, 5)]
    assert (svm.predict(features[150:]) == y[150:].numpy()).mean() > 0.8
    singletons = svm_on_features(features[:3], np.array([0, 1, 2]), seed=0)
    assert singletons.C == 1.0


@pytest.mark.parametrize("name", ["csft", "patchtst"])
def test_classifiers_map_series_to_logits_and_learn(name):
    import torch

    from baselines.patchtst import PatchTSTClassifier, PatchTSTConfig
    from csft.model import CSFTClassifier, CSFTConfig
    from csft.tasks.classify import (
        ClassifierTraining,
        equal_length_groups,
        fit_classifier,
        predict_logits,
    )

    rng = np.random.default_rng(0)  # class 0: 2 cycles, class 1: 6 cycles, random phase
    y = torch.tensor(rng.integers(0, 2, 160))
    cycles = np.where(y.numpy() == 0, 2, 6)[:, None]
    t = np.linspace(0, 2 * np.pi, 64)[None]
    waves = np.sin(cycles * t + rng.uniform(0, 2 * np.pi, (160, 1)))
    x = torch.tensor(waves + 0.1 * rng.standard_normal((160, 64)), dtype=torch.float32)
    torch.manual_seed(0)
    if name == "csft":
        model = CSFTClassifier(CSFTConfig(64, 1, 1, d_model=8, n_heads=2), 2)
    else:
        model = PatchTSTClassifier(PatchTSTConfig(64, 1, 1, d_model=16, n_heads=4, d_ff=32), 2)
    logits = model(x[:5])
    assert logits.shape == (5, 2) and torch.isfinite(logits).all()
    config = ClassifierTraining(epochs=15, patience=15, learning_rate=3e-3)
    train, val = equal_length_groups(x[:100], y[:100]), equal_length_groups(x[100:130], y[100:130])
    fit_classifier(model, train, val, config, torch.Generator())
    accuracy = (predict_logits(model, x[130:], 32).argmax(1) == y[130:]).float().mean()
    assert accuracy > 0.8


def test_per_interval_groups_share_scales_and_get_one_head_per_interval(mirror):
    import torch

    from csft.model import CSFTClassifier, CSFTConfig
    from csft.tasks.classify import csft_groups, predict_groups

    dataset = load_ucr(mirror, "PLAID")  # lengths 100..1344: four intervals
    lengths = [len(s) for s in dataset.train.series]
    config = CSFTConfig(max(lengths), 1, 1, d_model=8, n_heads=2)
    groups = csft_groups(dataset.train.series, dataset.train.labels, config, "per_interval")
    grids = [g.x.shape[1] for g in groups]
    assert grids == sorted(grids) and len(grids) >= 3 and grids[-1] == config.plan.grid_length
    assert sorted(np.concatenate([g.index for g in groups])) == list(range(len(lengths)))
    for g in groups:  # every series sits on the grid of its own interval
        assert all(g.x.shape[1] <= lengths[i] < 2 * g.x.shape[1] for i in g.index)
    depths = [int(np.log2(g.x.shape[1] // 16)) for g in groups]
    torch.manual_seed(0)
    model = CSFTClassifier(config, dataset.n_classes, depths)
    logits = predict_groups(model, groups, 64)
    assert logits.shape == (len(lengths), dataset.n_classes) and torch.isfinite(logits).all()
    assert model(groups[0].x).shape == (len(groups[0].index), dataset.n_classes)

    common = csft_groups(dataset.train.series, dataset.train.labels, config, "common")
    assert len(common) == 1 and common[0].x.shape[1] == config.plan.grid_length
    with pytest.raises(ValueError, match="series 0: series length T=4"):
        csft_groups([np.zeros(4, dtype=np.float32)], np.array([0]), config)
