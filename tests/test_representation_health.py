"""Representation health on features whose answer is known: a constant representation, a
rank-one one, isotropic Gaussian features, and the collapse that fooled the feature metrics."""

import numpy as np
import pytest

from csft.diagnostics import (
    effective_rank,
    feature_correlation,
    mean_between_cosine,
    representation_health,
)


def gaussian(n=4000, d=16, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_constant_representation_is_all_dead_rank_zero_and_collapsed():
    health = representation_health(np.tile(np.arange(1.0, 9.0), (50, 1)))
    assert health["dead_dimensions"] == 8 == health["dimensions"]
    assert health["effective_rank"] == 0.0
    assert health["between_cosine"] == pytest.approx(1.0)
    assert health["collapsed"]


def test_rank_one_representation_has_effective_rank_one():
    rng = np.random.default_rng(1)
    features = np.outer(rng.standard_normal(500), rng.standard_normal(12))
    assert effective_rank(features) == pytest.approx(1.0, abs=1e-6)
    assert representation_health(features)["collapsed"]


def test_isotropic_gaussian_is_healthy():
    health = representation_health(gaussian())
    assert health["dead_dimensions"] == 0
    assert health["effective_rank"] == pytest.approx(16, rel=0.05)
    assert abs(health["between_cosine"]) < 0.02
    assert not health["collapsed"]


def test_constant_plus_small_noise_passes_the_correlation_metric_but_reads_collapsed():
    """The failure the feature claims had: shared vector + noise looks 'independent'."""
    rng = np.random.default_rng(2)
    features = 5.0 + rng.standard_normal(16) + 1e-3 * gaussian(seed=3)
    assert feature_correlation(features)["pearson"] < 0.05  # fooled
    health = representation_health(features)
    assert health["between_cosine"] > 0.99
    assert health["collapsed"]


def test_between_cosine_leaves_the_diagonal_out():
    features = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    # pairs: (0,1) 0, (0,2) -1, (1,2) 0 -> mean -1/3; with the diagonal it would be 0
    assert mean_between_cosine(features) == pytest.approx(-1 / 3)


def test_bad_features_raise_naming_the_problem():
    with pytest.raises(ValueError, match="shape"):
        representation_health(np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        representation_health(np.full((5, 3), np.nan))
