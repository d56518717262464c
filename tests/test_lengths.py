"""The boundary-lengths experiment: shared-end cuts, depths per length, the centered per-series
similarity of multi-length pretrained encoders over seeds, the verdict's known answers on
synthetic H_L (collapse cannot pass) and the errors users meet."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from tiny_study import BOUNDARY_LENGTHS, resolved_tiny_config

from csft.jobs.common import Tracking
from csft.jobs.lengths import (
    KINDS,
    LengthsSettings,
    active_ctls,
    boundary_verdict,
    centered_status,
    cut_lengths,
    end_points,
    health_summary,
    length_table,
    pretrain_multi_length,
    represent_lengths,
    resolve,
    seed_similarity,
    series_similarity,
    similarity_means,
)
from csft.models.csft import CSFTConfig, CSFTEncoder
from csft.report.boundary import similarity_figure, similarity_matrix
from csft.training.seeding import seed_everything

LENGTHS = [64, 100, 127, 128, 200, 255, 256]
ARCHITECTURE = {"d_model": 8, "n_heads": 2, "d_max": 16, "patch_len": 16, "dropout": 0.0}
PRETRAINING = {"epochs": 2, "batch_size": 16}
SEEDS = (0, 1)
PAPER_LENGTHS = [512, 1023, 1024, 2047, 2048]
PAPER_DEPTH = pd.Series([5, 5, 6, 6, 7], index=PAPER_LENGTHS)  # intervals [512, 1024) | ...


@pytest.fixture(scope="module")
def signal(noisy_sines) -> np.ndarray:
    """One long 1-D series: a noisy sine channel."""
    return noisy_sines(3000, seed=1)[:, 0]


@pytest.fixture(scope="module")
def encoders_and_cuts(signal):
    """One encoder per seed pretrained on every length of the first stretch, and cuts of the
    last (the same series for every seed)."""
    train = cut_lengths(signal[:2000], LENGTHS, n_series=24, stride=40)
    val = cut_lengths(signal[2000:2500], LENGTHS, n_series=6, stride=40)
    encoders = {s: pretrain_multi_length(train, val, ARCHITECTURE, PRETRAINING, s) for s in SEEDS}
    return encoders, cut_lengths(signal[2500:], LENGTHS, n_series=12, stride=20)


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


def test_multi_seed_verdict_end_to_end(encoders_and_cuts):
    encoders, cuts = encoders_and_cuts
    trained = {seed: represent_lengths(encoder, cuts) for seed, encoder in encoders.items()}
    assert all(f[t].shape == (12, 16) for f in trained.values() for t in LENGTHS)
    untrained = {}
    for seed, encoder in encoders.items():
        seed_everything(seed)
        untrained[seed] = represent_lengths(CSFTEncoder(encoder.config), cuts)
    depth = active_ctls(LENGTHS, encoders[0].config)
    assert list(depth) == [2, 2, 2, 3, 3, 3, 4]
    table = seed_similarity(trained)
    assert len(table) == len(SEEDS) * 21 * 12  # seeds x pairs T_i < T_j x series
    assert table[KINDS].abs().le(1 + 1e-6).all().all()
    assert (table.raw < 1 - 1e-6).any()  # different lengths do give different H_L
    health = health_summary(trained)
    verdict = boundary_verdict(table, depth, health, seed_similarity(untrained))
    statuses = ("supported", "not supported", "no detectable difference")
    assert verdict["status"] in (*statuses, "collapsed representation")
    assert (verdict["status"] == "collapsed representation") == health["collapsed"]
    assert verdict["seeds"] == list(SEEDS) and verdict["n_series"] == 12
    assert verdict["lengths"] == LENGTHS
    assert [row["across_pair"] for row in verdict["boundaries"]] == [[127, 128], [255, 256]]
    assert [s["seed"] for s in verdict["per_seed"]] == list(SEEDS)
    assert verdict["centered"]["within_minus_across"]["n"] == 12
    assert verdict["control"]["within_minus_across"]["n"] == 12
    assert set(verdict["health"]) >= {"dead_dimensions", "dimensions", "effective_rank"}
    assert len(verdict["health"]["by_length"]) == len(SEEDS) * len(LENGTHS)
    assert verdict["verdict"].startswith(verdict["status"] + ": over 12 series and 2 seeds")
    assert json.loads(json.dumps(verdict)) == verdict  # JSON-ready, nothing lost
    means = similarity_means(table)
    assert list(means.columns) == ["seed", "T_i", "T_j", "kind", "similarity"]
    assert set(means.seed) == {*SEEDS, "mean"} and len(means) == (len(SEEDS) + 1) * 21 * 3


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


def synthetic(make, seeds=(1, 2, 3), n=40, d=24) -> dict:
    """{seed: {T: (n, d)}} from make(rng, n, d) -> {T: features}, seeded per seed."""
    return {s: make(np.random.default_rng(s), n, d) for s in seeds}


def collapsed(rng, n, d):
    """Every (length, series) one shared vector plus small i.i.d. noise: raw cosine ~1 always."""
    common = rng.normal(size=d)
    return {t: common + 0.01 * rng.normal(size=(n, d)) for t in PAPER_LENGTHS}


def per_interval(rng, n, d, shared=PAPER_DEPTH):
    """Series i keeps its own random vector at every length with the same `shared` label (its
    interval), an independent one elsewhere, plus small noise."""
    vectors = {label: rng.normal(size=(n, d)) for label in set(shared)}
    return {t: vectors[shared[t]] + 0.2 * rng.normal(size=(n, d)) for t in PAPER_LENGTHS}


def independent(rng, n, d):
    """A fresh random vector for every (length, series): nothing shared anywhere."""
    return {t: rng.normal(size=(n, d)) for t in PAPER_LENGTHS}


def verdict_of(features: dict, control: dict | None = None) -> dict:
    control = None if control is None else seed_similarity(control)
    return boundary_verdict(
        seed_similarity(features), PAPER_DEPTH, health_summary(features), control
    )


def test_collapsed_representation_is_not_supported():
    verdict = verdict_of(synthetic(collapsed))
    assert verdict["status"] == "collapsed representation"
    assert verdict["health"]["collapsed"] and verdict["health"]["between_cosine"] > 0.99
    assert verdict["raw"]["within_mean"] > 0.999 and verdict["raw"]["across_mean"] > 0.999
    # Centered, the health check aside, nothing is left to call supported either.
    assert centered_status(verdict["centered"]) == "no detectable difference"
    assert abs(verdict["centered"]["within_mean"]) < 0.05
    assert "collapsed: no verdict is drawn" in verdict["verdict"]


def test_raw_cosine_would_support_a_collapsed_representation_that_the_verdict_does_not():
    def faint(rng, n, d):  # collapsed, with a faint per-interval structure on top
        common, structure = collapsed(rng, n, d), per_interval(rng, n, d)
        return {t: common[t] + 0.02 * structure[t] for t in PAPER_LENGTHS}

    verdict = verdict_of(synthetic(faint))
    raw = similarity_matrix(seed_similarity(synthetic(faint)), "raw")
    for below, boundary, partner in [(1023, 1024, 512), (2047, 2048, 1024)]:
        assert raw.loc[partner, below] > raw.loc[below, boundary]  # the old verdict: supported
    assert verdict["raw"]["within_mean"] > verdict["raw"]["across_mean"] > 0.99
    assert verdict["status"] == "collapsed representation"


def test_series_keeping_their_vector_inside_an_interval_are_supported():
    verdict = verdict_of(synthetic(per_interval), synthetic(independent))
    assert verdict["status"] == "supported"
    assert verdict["seeds"] == [1, 2, 3] and verdict["n_series"] == 40
    centered = verdict["centered"]
    assert centered["within_mean"] > 0.9 and abs(centered["across_mean"]) < 0.1
    assert abs(centered["baseline_mean"]) < 0.1
    assert centered["within_minus_across"]["low"] > 0.5
    assert centered["within_minus_baseline"]["low"] > 0.5
    rows = {row["boundary"]: row for row in verdict["boundaries"]}
    assert rows[1024]["within_pair"] == [512, 1023] and rows[1024]["across_pair"] == [1023, 1024]
    assert rows[2048]["within_pair"] == [1024, 2047] and rows[2048]["difference"]["low"] > 0.5
    assert [row["seed"] for row in verdict["per_seed"]] == [1, 2, 3]
    assert all(r["centered"]["within_minus_across"]["low"] > 0.5 for r in verdict["per_seed"])
    control = verdict["control"]  # independent vectors everywhere: no gap
    assert control["within_minus_across"]["low"] < 0 < control["within_minus_across"]["high"]
    assert not verdict["health"]["collapsed"]
    assert verdict["verdict"].startswith("supported: over 40 series and 3 seeds (1, 2, 3)")


def test_series_closer_across_the_boundary_are_not_supported():
    crossing = pd.Series([0, 1, 1, 2, 3], index=PAPER_LENGTHS)  # 1023 and 1024 share a vector
    verdict = verdict_of(synthetic(lambda rng, n, d: per_interval(rng, n, d, crossing)))
    assert verdict["status"] == "not supported"
    assert verdict["centered"]["within_minus_across"]["high"] < 0


def test_unrelated_lengths_show_no_detectable_difference():
    verdict = verdict_of(synthetic(independent))
    assert verdict["status"] == "no detectable difference"


def test_the_diagonal_is_never_evidence():
    features = synthetic(per_interval, seeds=(1,))[1]
    table = series_similarity(features)
    assert (table.T_i < table.T_j).all() and len(table) == 10 * 40  # 10 pairs of 5 lengths
    matrix = similarity_matrix(table, "centered")
    assert np.isnan(np.diag(matrix.to_numpy())).all()
    off = matrix.to_numpy()[~np.eye(5, dtype=bool)]
    assert np.isfinite(off).all()
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)
    means = similarity_means(table.assign(seed=1))
    assert (means.T_i < means.T_j).all() and set(means.kind) == set(KINDS)


def test_verdict_needs_both_kinds_of_pair():
    features = synthetic(per_interval, seeds=(1,))[1]
    table = series_similarity({t: features[t] for t in (512, 1024)})
    with pytest.raises(ValueError, match="two lengths in one interval"):
        boundary_verdict(table, PAPER_DEPTH, health_summary({1: features}))


def test_figure_shows_centered_then_raw_with_a_blank_diagonal():
    table = seed_similarity(synthetic(per_interval, seeds=(1, 2)))
    figure = similarity_figure(table, PAPER_DEPTH, "ETTm1")
    centered, raw = figure.axes[:2]
    assert [t.get_text() for t in centered.get_xticklabels()] == [str(t) for t in PAPER_LENGTHS]
    assert len(centered.lines) == len(raw.lines) == 2 * 2  # two boundaries, both directions
    assert "centered" in centered.get_title() and "raw" in raw.get_title()
    assert len(centered.texts) == len(raw.texts) == 5 * 5 - 5  # no value on the diagonal
    assert figure.axes[2].get_ylabel() == "mean cosine of centered H_L (same series)"


def test_lengths_beyond_the_encoder_are_named(encoders_and_cuts, signal):
    encoder = encoders_and_cuts[0][SEEDS[0]]
    with pytest.raises(ValueError, match=r"lengths \[512\] are beyond .*\[256, 512\)"):
        represent_lengths(encoder, cut_lengths(signal, [256, 512], n_series=4, stride=10))


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return resolved_tiny_config(tmp_path_factory.mktemp("config"))


def test_settings_resolve_every_field_of_the_study(config):
    settings = resolve(config)
    study = config["analysis"]["lengths"]
    assert settings == LengthsSettings(
        dataset="ETTh1",
        lengths=tuple(BOUNDARY_LENGTHS),
        n_series=study["n_series"],
        stride=study["stride"],
        seeds=(1, 2),
        architecture={**config["models"]["csft"]["architecture"], "d_max": 16},
        pretraining=study["pretraining"],
        device="auto",
        tracking=Tracking(config["tracking"]["uri"], "tiny/lengths", "boundary_lengths/ETTh1"),
    )
    assert LengthsSettings.from_dict(settings.to_dict()) == settings
    assert settings.params()["lengths"] == " ".join(map(str, BOUNDARY_LENGTHS))
    assert set(settings.params()) == {
        "dataset", "lengths", "n_series", "stride", "seeds", "architecture", "pretraining",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("lengths", [], "LengthsSettings.lengths: expected a non-empty list"),
        ("lengths", [128, 64], "LengthsSettings.lengths: expected distinct lengths in ascending"),
        ("n_series", 0, "LengthsSettings.n_series: expected an integer >= 1, got 0"),
        ("stride", True, "LengthsSettings.stride"),
        ("seeds", [-1], "LengthsSettings.seeds"),
        ("device", "gpu", "LengthsSettings.device"),
        ("pretraining", {"epochz": 1}, "LengthsSettings.pretraining: expected keys among"),
        ("n_seeds", 2, "LengthsSettings: unknown field(s) ['n_seeds']"),
    ],
)
def test_bad_study_settings_are_refused_naming_the_field(config, field, value, named):
    values = {**resolve(config).to_dict(), field: value}
    with pytest.raises(ValueError, match=re.escape(named)):
        LengthsSettings.from_dict(values)
