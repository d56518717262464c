"""The verdict rules on values whose answer is known."""

import numpy as np
import pytest

from csft.report import verdicts


def test_interval_excludes_zero_only_for_a_real_paired_difference():
    rng = np.random.default_rng(0)
    b = rng.random(12) + 1
    better = verdicts.compare(b - 0.1 + 0.01 * rng.standard_normal(12), b, "lower", "higher")
    assert better["verdict"] == "lower" and better["high"] < 0 and better["p"] < 0.01
    same = verdicts.compare(b + 0.05 * rng.standard_normal(12), b, "lower", "higher")
    assert same["verdict"].startswith(verdicts.NO_DIFFERENCE)


def test_three_pairs_of_one_sign_are_insufficient_evidence():
    """A percentile bootstrap of three negative values excludes zero; Wilcoxon cannot, and
    with so few pairs it never could: the verdict says so instead of "no difference"."""
    result = verdicts.compare([1.0, 2.0, 3.1], [1.5, 2.5, 3.3], "lower", "higher")
    assert result["high"] < 0 and result["p"] == pytest.approx(0.25)
    assert result["verdict"] == (
        "insufficient evidence (3 pairs: the exact Wilcoxon test cannot reach p < 0.05 "
        "with fewer than 6)"
    )


def test_six_pairs_are_the_fewest_that_can_decide():
    """All of one sign: 5 pairs give p = 0.0625 (cannot decide), 6 give 0.03125 (can)."""
    assert verdicts.MIN_PAIRS == 6
    b = np.arange(1.0, 7.0)
    five = verdicts.compare(b[:5] - 0.1 * b[:5], b[:5], "lower", "higher")
    six = verdicts.compare(b - 0.1 * b, b, "lower", "higher")
    assert five["p"] == pytest.approx(0.0625) and five["verdict"].startswith("insufficient")
    assert six["p"] == pytest.approx(0.03125) and six["verdict"] == "lower"
    noisy = verdicts.compare(b + [0.1, -0.1, 0.2, -0.2, 0.1, -0.1], b, "lower", "higher")
    assert noisy["verdict"] == verdicts.NO_DIFFERENCE


def test_intervals_are_seeded_and_degenerate_cases_are_explicit():
    values = np.random.default_rng(1).standard_normal(30)
    assert verdicts.mean_interval(values) == verdicts.mean_interval(values)
    assert np.isnan(verdicts.mean_interval([0.3])["low"])
    assert verdicts.mean_interval([0.2, 0.2])["low"] == 0.2
    with pytest.raises(ValueError, match="NaN"):
        verdicts.mean_interval([0.1, np.nan])
    with pytest.raises(ValueError, match="equal shapes"):
        verdicts.compare([1.0, 2.0], [1.0], "lower", "higher")


def test_coverage_names_cells_seeds_and_budget():
    cells = frozenset({("a", 1), ("a", 2)})
    partial = verdicts.Coverage("a x 2", cells, {("a", 1): 3}, "quick")
    assert not partial.complete
    assert partial.insufficient() == (
        "insufficient evidence (1 of 2 cells, 3 seeds, budget quick; cells missing)"
    )
    few = verdicts.Coverage("a x 2", cells, {("a", 1): 2, ("a", 2): 5}, "check")
    assert not few.complete and few.insufficient().endswith("fewer than 3 seeds)")
    assert verdicts.Coverage("a x 2", cells, {("a", 1): 3, ("a", 2): 3}).complete
