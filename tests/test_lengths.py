"""The boundary-lengths experiment: shared-end cuts, depths per length, the similarity matrix of
a multi-length pretrained encoder, the verdict's known answers and the errors users meet."""

import numpy as np
import pandas as pd
import pytest

from csft.model import CSFTConfig
from csft.tasks.lengths import (
    active_ctls,
    boundary_similarity,
    boundary_verdict,
    cut_lengths,
    end_points,
    length_table,
    pretrain_multi_length,
    similarity_figure,
)

LENGTHS = [64, 100, 127, 128, 200, 255, 256]
ARCHITECTURE = {"d_model": 8, "n_heads": 2, "d_max": 16, "patch_len": 16, "dropout": 0.0}
PRETRAINING = {"epochs": 2, "batch_size": 16}


@pytest.fixture(scope="module")
def signal(noisy_sines) -> np.ndarray:
    """One long 1-D series: a noisy sine channel."""
    return noisy_sines(3000, seed=1)[:, 0]


@pytest.fixture(scope="module")
def encoder_and_cuts(signal):
    """An encoder pretrained on every length of the first stretch, and cuts of the last."""
    train = cut_lengths(signal[:2000], LENGTHS, n_series=24, stride=40)
    val = cut_lengths(signal[2000:2500], LENGTHS, n_series=6, stride=40)
    encoder = pretrain_multi_length(train, val, ARCHITECTURE, PRETRAINING, seed=0)
    return encoder, cut_lengths(signal[2500:], LENGTHS, n_series=12, stride=20)


def test_cuts_share_end_points_and_last_values(signal):
    cuts = cut_lengths(signal, LENGTHS, n_series=10, stride=37)
    ends = end_points(len(signal), 10, 37)
    assert ends[-1] == len(signal) and np.all(np.diff(ends) == 37)
    for t, windows in cuts.items():
        assert windows.shape == (10, t)
        np.testing.assert_array_equal(windows[:, -1], signal[ends - 1])
        np.testing.assert_array_equal(windows[3], signal[ends[3] - t : ends[3]])
    np.testing.assert_array_equal(cuts[256][:, -64:], cuts[64])  # the same most-recent data


def test_too_short_input_names_the_length(signal):
    with pytest.raises(ValueError, match=r"test split.*300 values.*T=256.*need 346"):
        cut_lengths(signal[:300], LENGTHS, n_series=10, stride=10, where="test split")


def test_active_ctls_follow_floor_log2():
    config = CSFTConfig(lookback=256, horizon=1, n_channels=1, **ARCHITECTURE)
    depth = active_ctls(LENGTHS, config)
    assert list(depth.index) == LENGTHS
    assert list(depth) == [int(np.floor(np.log2(t / 16))) for t in LENGTHS] == [2, 2, 2, 3, 3, 3, 4]
    table = length_table(LENGTHS, config).set_index("T")
    assert list(table.active_ctls) == list(depth)
    assert table.loc[127, ["interval_low", "interval_high"]].tolist() == [64, 128]
    assert table.loc[128, ["interval_low", "interval_high"]].tolist() == [128, 256]


def test_similarity_matrix_is_symmetric_with_unit_diagonal(encoder_and_cuts):
    encoder, cuts = encoder_and_cuts
    depth, similarity = boundary_similarity(encoder, cuts)
    assert list(similarity.index) == list(similarity.columns) == LENGTHS
    assert list(depth) == [2, 2, 2, 3, 3, 3, 4]
    values = similarity.to_numpy()
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values, values.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(values), 1.0, atol=1e-5)
    off_diagonal = values[~np.eye(len(LENGTHS), dtype=bool)]
    assert (off_diagonal <= 1.0 + 1e-6).all() and (off_diagonal >= -1.0 - 1e-6).all()
    assert (off_diagonal < 1.0 - 1e-6).any()  # different lengths do give different H_L
    verdict = boundary_verdict(similarity, depth, boundaries=(128, 256))
    assert verdict["status"] in ("supported", "not supported", "mixed")
    assert verdict["n_within_pairs"] == 3 + 3 and verdict["n_across_pairs"] == 21 - 6
    assert [row["across_pair"] for row in verdict["boundaries"]] == [[127, 128], [255, 256]]


def test_pretraining_is_seeded(signal):
    cuts = cut_lengths(signal[:1200], [64, 127], n_series=16, stride=30)
    first = pretrain_multi_length(cuts, None, ARCHITECTURE, {"epochs": 1, "batch_size": 8}, 3)
    again = pretrain_multi_length(cuts, None, ARCHITECTURE, {"epochs": 1, "batch_size": 8}, 3)
    for (name, a), b in zip(first.state_dict().items(), again.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), name


def test_mismatched_widths_without_d_max_name_d_max(signal):
    cuts = cut_lengths(signal[:1200], [64, 128], n_series=8, stride=30)
    architecture = {**ARCHITECTURE, "d_max": 0}
    with pytest.raises(ValueError, match=r"L=2: d_L=32, L=3: d_L=64.*set architecture d_max"):
        pretrain_multi_length(cuts, None, architecture, PRETRAINING, seed=0)


def hand_made(within: float, across: float) -> tuple[pd.DataFrame, pd.Series]:
    """Lengths 512, 1023 | 1024, 2047 | 2048: `within` inside an interval, `across` otherwise."""
    lengths = [512, 1023, 1024, 2047, 2048]
    depth = pd.Series([5, 5, 6, 6, 7], index=lengths)
    same = depth.to_numpy()[:, None] == depth.to_numpy()[None, :]
    matrix = np.where(same, within, across)
    np.fill_diagonal(matrix, 1.0)
    return pd.DataFrame(matrix, index=lengths, columns=lengths), depth


def test_verdict_known_answers():
    supported = boundary_verdict(*hand_made(within=0.9, across=0.6))
    assert supported["status"] == "supported"
    assert supported["verdict"].startswith("supported: within-interval mean 0.9000")
    assert supported["within_mean"] == pytest.approx(0.9)
    assert supported["across_mean"] == pytest.approx(0.6)
    assert supported["difference"] == pytest.approx(0.3)
    assert (supported["n_within_pairs"], supported["n_across_pairs"]) == (2, 8)
    rows = {row["boundary"]: row for row in supported["boundaries"]}
    assert rows[1024]["within_pair"] == [512, 1023] and rows[1024]["across_pair"] == [1023, 1024]
    assert rows[2048]["within_pair"] == [1024, 2047] and rows[2048]["across"] == 0.6
    assert boundary_verdict(*hand_made(within=0.6, across=0.9))["status"] == "not supported"


def test_verdict_is_mixed_when_one_boundary_disagrees():
    similarity, depth = hand_made(within=0.9, across=0.6)
    similarity.loc[2047, 2048] = similarity.loc[2048, 2047] = 0.99
    verdict = boundary_verdict(similarity, depth)
    assert verdict["status"] == "mixed"
    assert verdict["within_mean"] > verdict["across_mean"]


def test_verdict_needs_both_kinds_of_pair():
    similarity, depth = hand_made(0.9, 0.6)
    with pytest.raises(ValueError, match="two lengths in one interval"):
        boundary_verdict(similarity.loc[[512, 1024], [512, 1024]], depth)


def test_figure_draws_the_interval_boundaries():
    similarity, depth = hand_made(0.9, 0.6)
    figure = similarity_figure(similarity, depth, "ETTm1")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["512", "1023", "1024", "2047", "2048"]
    assert len(ax.lines) == 2 * 2  # two boundaries, a horizontal and a vertical line each
    assert figure.axes[1].get_ylabel() == "mean cosine similarity of H_L"


def test_lengths_beyond_the_encoder_are_named(encoder_and_cuts, signal):
    encoder, _ = encoder_and_cuts
    with pytest.raises(ValueError, match=r"lengths \[512\] are beyond .*\[256, 512\)"):
        boundary_similarity(encoder, cut_lengths(signal, [256, 512], n_series=4, stride=10))
