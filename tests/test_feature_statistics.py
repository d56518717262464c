"""Feature statistics on synthetic features whose answer is known."""

import numpy as np
import pytest

from csft.diagnostics import components_for_variance, explained_variance_curve, feature_correlation


def independent(n=20000, d=10, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_independent_features_are_uncorrelated_and_need_most_components():
    features = independent()
    correlation = feature_correlation(features)
    assert correlation["pearson"] < 0.02 and correlation["spearman"] < 0.02
    # Equal-variance independent features: each component explains ~1/D, so 80% needs ~8 of 10.
    assert components_for_variance(features) == pytest.approx(0.8, abs=0.1)
    assert explained_variance_curve(features)[-1] == pytest.approx(1.0)


def test_one_repeated_feature_is_fully_correlated_and_needs_one_component():
    base = independent(d=1)
    features = np.hstack([base, base, 2 * base + 1, base])  # copies (and an affine copy)
    correlation = feature_correlation(features)
    assert correlation["pearson"] == pytest.approx(1.0)
    assert correlation["spearman"] == pytest.approx(1.0)
    assert components_for_variance(features) == pytest.approx(1 / 4)


def test_monotone_copy_separates_spearman_from_pearson():
    x = independent(d=1)
    features = np.hstack([x, np.exp(3 * x)])  # monotone but far from linear
    correlation = feature_correlation(features)
    assert correlation["spearman"] == pytest.approx(1.0)
    assert correlation["pearson"] < 0.7


def test_known_partial_correlation():
    rng = np.random.default_rng(1)
    a, noise = rng.standard_normal((2, 50000, 1))
    features = np.hstack([a, 0.6 * a + 0.8 * noise])  # Pearson correlation 0.6 by construction
    assert feature_correlation(features)["pearson"] == pytest.approx(0.6, abs=0.01)


def test_constant_dimensions_are_left_out_and_bad_input_raises():
    features = np.hstack([independent(d=3), np.ones((20000, 1))])
    assert feature_correlation(features)["n_constant"] == 1
    with pytest.raises(ValueError, match="NaN"):
        feature_correlation(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="shape"):
        feature_correlation(np.ones(5))
