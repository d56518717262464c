"""Sealed TEST and equal-length conversion for the classification track."""

import numpy as np
import pytest

from csft.data.ucr import load_ucr
from csft.training.classify import SealedTestError, seal, to_length


@pytest.fixture(scope="module")
def chinatown(mirror):
    return load_ucr(mirror, "Chinatown")


def test_test_split_is_sealed_until_the_final_evaluation(chinatown):
    splits = seal(chinatown, "validation", 0.2, seed=0)
    with pytest.raises(SealedTestError, match="sealed"):
        splits.test()
    test = splits.unseal()
    assert len(test) == 343 and splits.test() is test
    with pytest.raises(SealedTestError, match="already"):
        splits.unseal()


def test_validation_is_a_stratified_part_of_train_drawn_with_the_run_seed(chinatown):
    splits = seal(chinatown, "validation", 0.2, seed=0)
    assert len(splits.train) + len(splits.val) == 20
    assert set(np.unique(splits.val.labels)) == {0, 1}
    again = seal(chinatown, "validation", 0.2, seed=0)
    assert np.array_equal(again.val.labels, splits.val.labels)
    assert all(
        np.array_equal(a, b) for a, b in zip(again.val.series, splits.val.series, strict=True)
    )
    drawn = [seal(chinatown, "validation", 0.2, seed=s).val.series for s in range(5)]
    firsts = {tuple(np.round(v[0][:5], 3)) for v in drawn}
    assert len(firsts) > 1  # another run seed, another split: the sd over seeds includes it


def test_fixed_budget_fits_all_of_train_without_validation(chinatown):
    splits = seal(chinatown, "fixed_budget", 0.2, seed=0)
    assert len(splits.train) == 20 and len(splits.val) == 0 and splits.val.labels.dtype == np.int64
    with pytest.raises(SealedTestError):
        splits.test()
    with pytest.raises(ValueError, match="selection must be one of"):
        seal(chinatown, "best_on_test", 0.2, seed=0)


def test_validation_refuses_a_dataset_too_small_naming_its_class_counts(chinatown):
    import dataclasses

    from csft.data.ucr import UCRSplit

    train = UCRSplit(chinatown.train.series[:11], np.array([0] * 10 + [1]))
    tiny = dataclasses.replace(chinatown, train=train)
    with pytest.raises(ValueError, match=r"Chinatown: .*TRAIN class counts \{'1': 10, '2': 1\}"):
        seal(tiny, "validation", 0.2, seed=0)
    assert len(seal(tiny, "fixed_budget", 0.2, seed=0).train) == 11


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

    from csft.training.classify import (
        ClassifierTraining,
        equal_length_groups,
        fit_classifier,
        predict_logits,
    )

    x, y = toy_data()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    config = ClassifierTraining(batch_size=32, patience=5, learning_rate=1e-2)
    train, val = equal_length_groups(x[:80], y[:80]), equal_length_groups(x[80:100], y[80:100])
    history = fit_classifier(model, train, val, config, torch.Generator().manual_seed(0), 90)
    assert history[-1]["steps"] <= 90 and len(history) <= 30  # 3 steps per pass
    val_loss = torch.nn.functional.cross_entropy(predict_logits(model, x[80:100], 32), y[80:100])
    assert float(val_loss) == pytest.approx(min(r["val_loss"] for r in history), abs=1e-6)
    accuracy = (predict_logits(model, x[100:], 32).argmax(1) == y[100:]).float().mean()
    assert accuracy > 0.8


def test_fit_classifier_runs_the_whole_budget_and_keeps_the_final_weights_without_validation():
    import torch

    from csft.training.classify import ClassifierTraining, equal_length_groups, fit_classifier

    x, y = toy_data(n=40)
    torch.manual_seed(0)
    model = torch.nn.Linear(32, 2)
    config = ClassifierTraining(batch_size=8, learning_rate=1e-2)
    history = fit_classifier(
        model, equal_length_groups(x, y), [], config, torch.Generator().manual_seed(0), 23
    )
    assert [r["steps"] for r in history] == [5, 10, 15, 20, 23]  # 5 steps a pass, then 3
    assert all("val_loss" not in r for r in history)


def test_step_budget_follows_ts2vecs_rule():
    from csft.training.classify import ClassifierTraining, default_steps, train_values

    assert default_steps(100_000) == 200 and default_steps(100_001) == 600
    assert train_values([np.zeros(3), np.zeros(5)]) == 10  # series x the longest length
    assert ClassifierTraining().budget(10) == 200 and ClassifierTraining(steps=7).budget(10) == 7
    for bad in (0, -1, "all", True):
        with pytest.raises(ValueError, match="training.steps must be a positive number"):
            ClassifierTraining(steps=bad)
    with pytest.raises(ValueError, match="training.batch_size"):
        ClassifierTraining(batch_size=0)


def test_svm_searches_c_by_cross_validation_when_train_is_large_enough():
    from csft.training.classify import SVM_C_GRID, svm_on_features

    # A sharp boundary in a 2-D square: soft margins (C <= 1) blur it, so the search must go
    # higher; before the fix every SVM was fit at C = 1.
    rng = np.random.default_rng(0)
    features = rng.uniform(size=(300, 2))
    labels = (features[:, 0] + 0.3 * np.sin(8 * features[:, 1]) > 0.5).astype(int)
    svm = svm_on_features(features[:200], labels[:200])
    assert svm.C in SVM_C_GRID and svm.C > 1
    assert (svm.predict(features[200:]) == labels[200:]).mean() > 0.9


def test_the_svm_search_caps_libsvm_iterations_as_ts2vec_does():
    # On features that do not separate (an encoder trained for two steps) a hard margin never
    # converges: TS2Vec's search caps each SVC at 10 million libsvm iterations, and so does
    # ours (without the cap, the smoke run's CSFT SVM jobs ran for over 15 minutes).
    from csft.training.classify import SVM_SEARCH_MAX_ITER, svm_on_features

    rng = np.random.default_rng(0)
    features = rng.normal(size=(100, 2))
    labels = (features[:, 0] > 0).astype(int)
    assert svm_on_features(features, labels).max_iter == SVM_SEARCH_MAX_ITER == 10_000_000


def test_svm_on_a_small_train_uses_a_hard_margin_without_search():
    from csft.training.classify import svm_on_features

    rng = np.random.default_rng(0)
    features = rng.normal(size=(49, 3))  # fewer than 50 series
    labels = np.arange(49) % 2
    assert svm_on_features(features, labels).C == np.inf
    features = rng.normal(size=(60, 3))  # 60 series but 15 classes: 4 per class on average
    assert svm_on_features(features, np.arange(60) % 15).C == np.inf


@pytest.mark.parametrize("name", ["csft", "patchtst"])
def test_classifiers_map_series_to_logits_and_learn(name):
    import torch

    from baselines.patchtst import PatchTSTClassifier, PatchTSTConfig
    from csft.models.csft import CSFTClassifier, CSFTConfig
    from csft.training.classify import (
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
    config = ClassifierTraining(batch_size=32, patience=15, learning_rate=3e-3)
    train, val = equal_length_groups(x[:100], y[:100]), equal_length_groups(x[100:130], y[100:130])
    fit_classifier(model, train, val, config, torch.Generator(), 60)
    accuracy = (predict_logits(model, x[130:], 32).argmax(1) == y[130:]).float().mean()
    assert accuracy > 0.8


def test_per_interval_groups_share_scales_and_get_one_head_per_width(mirror):
    import torch

    from csft.models.csft import CSFTClassifier, CSFTConfig
    from csft.training.classify import csft_groups, predict_groups

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
    assert len(model.heads) == len(depths)  # no d_max: every depth has its own width
    capped = CSFTClassifier(
        CSFTConfig(max(lengths), 1, 1, d_model=8, n_heads=2, d_max=16), 3, depths
    )
    assert sorted(capped.heads) == ["16"]  # every depth >= 1 has d_L = 16: one shared head

    common = csft_groups(dataset.train.series, dataset.train.labels, config, "common")
    assert len(common) == 1 and common[0].x.shape[1] == config.plan.grid_length
    with pytest.raises(ValueError, match="series 0: series length T=4"):
        csft_groups([np.zeros(4, dtype=np.float32)], np.array([0]), config)


def test_plan_grids_moves_a_grid_missing_classes_to_the_nearest_complete_one():
    from csft.models.csft import CSFTConfig
    from csft.training.classify import csft_groups, plan_grids

    config = CSFTConfig(600, 1, 1, d_model=8, n_heads=2)  # widths 8, 16, 32, 64, 128, 256
    lengths = [70] * 4 + [140] * 4 + [300] * 2 + [600] * 4
    labels = np.array([0, 1, 2, 0] + [0, 1, 2, 1] + [0, 0] + [2, 1, 0, 2])
    series = [np.zeros(n, np.float32) for n in lengths]
    grid_map = plan_grids(series, labels, config, "per_interval")
    # 256 lacks classes 1 and 2: nearest complete grids are 128 and 512, the longer wins a tie
    assert grid_map == {64: 64, 128: 128, 256: 512, 512: 512}
    groups = csft_groups(series, labels, config, "per_interval", grid_map)
    assert [g.x.shape[1] for g in groups] == [64, 128, 512]
    for group in groups:  # every fitted grid can predict every class
        assert set(group.y.tolist()) == {0, 1, 2}

    capped = CSFTConfig(600, 1, 1, d_model=8, n_heads=2, d_max=16)  # 128, 256, 512 share 16
    assert plan_grids(series, labels, capped, "per_interval") == {
        64: 64, 128: 128, 256: 256, 512: 512
    }  # fmt: skip
    one_class_each = np.array([0] * 4 + [1] * 4 + [0] * 2 + [1] * 4)
    assert set(plan_grids(series, one_class_each, config, "per_interval").values()) == {512}


def test_file_width_tells_the_longest_series_without_opening_test(chinatown):
    import dataclasses

    from csft.data.ucr import UCRSplit

    longer = UCRSplit([np.zeros(30, np.float32)] + chinatown.test.series[1:], chinatown.test.labels)
    splits = seal(dataclasses.replace(chinatown, test=longer), "fixed_budget", 0.2, seed=0)
    assert splits.file_width() == 30  # TEST's longest series; TRAIN's are 24 long
    with pytest.raises(SealedTestError):
        splits.test()
