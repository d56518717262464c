"""TS2Vec (baselines/ts2vec.py): config, padding and preparation, crops, encoder, loss, training.

Pure tests of our code. The pinned parameter counts were counted from the official TSEncoder
(github.com/yuezhihan/ts2vec, models/encoder.py); the official code itself is never imported.
"""

import math

import numpy as np
import pytest
import torch
from sklearn.svm import SVC
from torch.optim.swa_utils import AveragedModel

from baselines.ts2vec import (
    TS2VecConfig,
    TS2VecEncoder,
    centre_series,
    default_steps,
    draw_crops,
    encode_series,
    fit_ts2vec,
    pad_series,
    split_long_series,
    training_array,
)
from csft.models.layers import hierarchical_contrastive_loss, instance_contrastive_loss

TINY = {"hidden_dims": 8, "output_dims": 16, "depth": 2}


def seeded(config: TS2VecConfig, seed: int = 0) -> TS2VecEncoder:
    torch.manual_seed(seed)
    return TS2VecEncoder(config).eval()


def noise(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("steps", 0),
        ("steps", -1),
        ("steps", "all"),
        ("batch_size", 0),
        ("hidden_dims", 0),
        ("output_dims", 0),
        ("depth", -1),
        ("temporal_unit", -1),
        ("learning_rate", 0.0),
        ("learning_rate", float("nan")),
        ("max_train_length", 1),
        ("alpha", 1.5),
        ("mask_p", -0.1),
        ("repr_dropout", 1.0),
        ("steps", 2.5),
        ("batch_size", True),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TS2VecConfig(**{field: value})


def test_config_defaults_are_the_official_ucr_settings():
    config = TS2VecConfig()
    assert (config.hidden_dims, config.output_dims, config.depth) == (64, 320, 10)
    assert (config.batch_size, config.learning_rate, config.max_train_length) == (8, 1e-3, 3000)
    assert (config.alpha, config.temporal_unit, config.mask_p, config.repr_dropout) == (
        0.5,
        0,
        0.5,
        0.1,
    )
    assert TS2VecConfig(max_train_length=None).max_train_length is None


def test_default_steps_rule_at_the_boundary():
    assert default_steps(1) == 200
    assert default_steps(100_000) == 200
    assert default_steps(100_001) == 600


def test_pad_series_end_pads_with_nan():
    padded = pad_series([np.arange(3.0), np.arange(5.0)])
    assert padded.shape == (2, 5, 1) and padded.dtype == np.float32
    assert np.array_equal(padded[0, :3, 0], [0, 1, 2]) and np.isnan(padded[0, 3:]).all()
    assert np.array_equal(padded[1, :, 0], np.arange(5.0))
    assert pad_series([np.ones(3)], length=7).shape == (1, 7, 1)
    with pytest.raises(ValueError, match="length"):
        pad_series([np.ones(3)], length=2)
    with pytest.raises(ValueError, match="1-D"):
        pad_series([np.ones((3, 1))])
    with pytest.raises(ValueError, match="at least one"):
        pad_series([])


def test_centring_splits_the_missing_steps_evenly():
    nan = np.nan
    data = np.array(
        [
            [1, 2, nan, nan, nan, nan],
            [1, 2, 3, 4, 5, 6],
            [nan, 7, 8, nan, nan, nan],
            [7, 8, 9] + [nan] * 3,
        ]
    )
    centred = centre_series(data[..., None])[..., 0]
    expected = [[nan, nan, 1, 2, nan, nan], [1, 2, 3, 4, 5, 6], [nan, nan, 7, 8, nan, nan]]
    expected.append([nan, 7, 8, 9, nan, nan])  # an odd count: the extra missing step at the end
    assert np.array_equal(centred, expected, equal_nan=True)


def test_training_array_splits_long_series_centres_and_drops_empty_rows():
    data = pad_series([np.arange(1.0, 8.0), np.arange(1.0, 3.0)])  # (2, 7, 1)
    split = split_long_series(data, 3)  # 7 // 3 = 2 sections of 4 and 3 (NaN-padded to 4)
    assert split.shape == (4, 4, 1)
    assert np.array_equal(split[2, :, 0], [5, 6, 7, np.nan], equal_nan=True)
    assert split_long_series(data, 4) is data  # one section: unchanged
    prepared = training_array(data, 3)
    assert prepared.shape == (3, 4, 1)  # the second series' second section is all NaN
    assert np.array_equal(prepared[1, :, 0], [np.nan, 1, 2, np.nan], equal_nan=True)
    full = pad_series([np.ones(4), np.ones(4)])
    assert np.array_equal(training_array(full, 3000), full)  # fixed length: untouched


def test_crops_share_the_overlap_and_stay_inside_the_series():
    rng = np.random.default_rng(0)
    length, batch = 20, 5
    x = torch.arange(batch * length, dtype=torch.float32).view(batch, length, 1)
    for _ in range(300):
        crops = draw_crops(rng, length, batch, temporal_unit=0)
        assert 2 <= crops.length <= length and crops.right - crops.left == crops.length
        assert 0 <= crops.extended_left <= crops.left and crops.right <= crops.extended_right
        assert crops.extended_right <= length
        first, second = crops.views(x)
        assert first.shape[1] == crops.right - crops.extended_left
        assert second.shape[1] == crops.extended_right - crops.left
        for b, offset in enumerate(crops.offsets):
            shared = x[b, offset + crops.left : offset + crops.right]
            assert torch.equal(first[b, -crops.length :], shared)
            assert torch.equal(second[b, : crops.length], shared)
    assert min(draw_crops(rng, 9, 1, temporal_unit=2).length for _ in range(50)) >= 8
    with pytest.raises(ValueError, match="shortest crop"):
        draw_crops(rng, 3, 1, temporal_unit=1)


@pytest.mark.parametrize(("arch", "expected"), [({}, 637_248), (TINY, 2_144)])
def test_parameter_counts_match_the_official_encoder(arch, expected):
    with torch.device("meta"):
        model = TS2VecEncoder(TS2VecConfig(**arch))
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("length", [1, 2, 7, 64])
def test_output_is_as_long_as_the_input(length):
    model = seeded(TS2VecConfig(**TINY))
    out = model(torch.randn(3, length, 1))
    assert out.shape == (3, length, 16)


def test_missing_steps_are_excluded_like_masked_steps():
    model = seeded(TS2VecConfig(**TINY))
    x = torch.from_numpy(noise(2, 30, 1))
    missing = torch.zeros(2, 30, dtype=torch.bool)
    missing[0, 5:9] = missing[1, 20:] = True
    with torch.no_grad():
        with_nan = model(x.masked_fill(missing[..., None], float("nan")))
        masked = model(x.masked_fill(missing[..., None], 123.0), mask=~missing)
        other = model(x.masked_fill(missing[..., None], -7.0), mask=~missing)
    assert torch.isfinite(with_nan).all()
    assert torch.equal(with_nan, masked) and torch.equal(masked, other)


def test_nan_padding_enters_the_pooled_representation_as_official():
    """The official 'full_series' window max-pools every step, padded ones included, and the
    convolutions see the zeroed padding: the width matters, hence encode_series(length=)."""
    model = seeded(TS2VecConfig(**TINY))
    series = [noise(25), noise(40, seed=1)]
    short, wide = encode_series(model, series), encode_series(model, series, length=60)
    assert short.shape == wide.shape == (2, 16) and np.isfinite(wide).all()
    assert not np.allclose(short, wide)
    # Batches are independent in eval mode: the batch size changes only rounding.
    assert np.allclose(encode_series(model, series, batch_size=1), short, atol=1e-5)


def test_hierarchical_loss_known_answers():
    e = torch.eye(4)
    # B = 2, T = 1: instance contrast only; each anchor's positive scores 1 against two 0s.
    z = e[:2, None, :]  # (2, 1, 4)
    one_level = math.log(1 + 2 / math.e)
    assert math.isclose(instance_contrastive_loss(z, z).item(), one_level, rel_tol=1e-6)
    assert math.isclose(hierarchical_contrastive_loss(z, z).item(), 0.5 * one_level, rel_tol=1e-6)
    # B = 1, T = 2: temporal contrast at level 0, then one step (no instance negatives): / 2.
    z = e[None, :2, :]  # (1, 2, 4)
    assert math.isclose(hierarchical_contrastive_loss(z, z).item(), 0.25 * one_level, rel_tol=1e-6)
    # Nothing to contrast: zero, finite.
    one = torch.randn(1, 1, 4)
    assert hierarchical_contrastive_loss(one, one).item() == 0.0


def test_identical_separated_views_score_lower_than_random_ones():
    batch, length, width = 4, 8, 64
    separated = 5 * torch.eye(width)[: batch * length].view(batch, length, width)
    aligned = hierarchical_contrastive_loss(separated, separated.clone())
    generator = torch.Generator().manual_seed(0)
    random = hierarchical_contrastive_loss(
        torch.randn(batch, length, width, generator=generator),
        torch.randn(batch, length, width, generator=generator),
    )
    assert torch.isfinite(aligned) and torch.isfinite(random)
    assert aligned.item() < 0.01 < 1.0 < random.item()


def tiny_fit(series, seed=0, **overrides):
    config = TS2VecConfig(**{**TINY, "steps": 20, **overrides})
    return fit_ts2vec(series, config, seed)


def test_same_seed_same_representations_other_seed_differs():
    series = [noise(48, seed=i) for i in range(10)]
    state = torch.random.get_rng_state()
    model_a, losses_a = tiny_fit(series, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    torch.manual_seed(999)  # nor does the caller's RNG state matter
    model_b, losses_b = tiny_fit(series, seed=1)
    model_c, losses_c = tiny_fit(series, seed=2)
    reps = [encode_series(m, series) for m in (model_a, model_b, model_c)]
    assert losses_a == losses_b and np.array_equal(reps[0], reps[1])
    assert losses_a != losses_c and not np.allclose(reps[0], reps[2])


def test_fit_runs_the_steps_and_returns_the_weight_average():
    seen = []
    model, losses = fit_ts2vec(
        [noise(32, seed=i) for i in range(5)],
        TS2VecConfig(**TINY, steps=7, batch_size=8),  # batch 8 > 5 series: one batch of 5
        seed=0,
        on_step=lambda step, loss: seen.append((step, loss)),
    )
    assert len(losses) == 7 and seen == list(enumerate(losses, start=1))
    assert all(np.isfinite(losses))
    assert isinstance(model, AveragedModel) and not model.training
    assert int(model.n_averaged) == 8  # the initial weights and one per step
    _, default = fit_ts2vec([noise(16, seed=i) for i in range(4)], TS2VecConfig(**TINY), 0)
    assert len(default) == 200  # steps=0: the official rule (4 x 16 values)


def test_variable_length_and_long_series_train_and_encode_finitely():
    varied = [noise(n, seed=n) for n in (12, 30, 45, 60)]
    model, losses = tiny_fit(varied, max_train_length=16)  # split into 3 sections, windowed
    assert all(np.isfinite(losses))
    reps = encode_series(model, varied)
    assert reps.shape == (4, 16) and np.isfinite(reps).all()
    with pytest.raises(ValueError, match="shortest crop"):
        tiny_fit([np.ones(1), np.ones(1)])


def toy_set(n_per_class: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Noisy sines (class 0) and square waves (class 1), length 64, random period and phase."""
    rng = np.random.default_rng(seed)
    t = np.arange(64)
    series, labels = [], []
    for label in (0, 1):
        for _ in range(n_per_class):
            wave = np.sin(2 * np.pi * (t / rng.uniform(12, 20) + rng.uniform()))
            wave = np.sign(wave) if label else wave
            series.append((wave + 0.2 * rng.normal(size=64)).astype(np.float32))
            labels.append(label)
    return series, np.array(labels)


def test_toy_two_class_set_becomes_separable():
    train, y_train = toy_set(10, seed=0)
    test, y_test = toy_set(20, seed=1)
    model, losses = tiny_fit(train, steps=100)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    svm = SVC(C=np.inf, gamma="scale").fit(encode_series(model, train), y_train)
    assert svm.score(encode_series(model, test), y_test) >= 0.9
