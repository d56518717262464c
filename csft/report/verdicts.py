"""The rules a verdict must pass before the claims table states it (docs/claims.md, "Claims table"):
evidence that covers the claim, and differences with a confidence interval.

- `Coverage`: what a claim spans (cells, track) against what this run measured (cells, seeds,
  budget); a verdict is computed only when every cell is there with >= MIN_SEEDS seeds.
- `still_improving`: a claim judged on absolute numbers (a published range) needs training that
  has flattened: when most of its jobs had their best validation loss at their last epoch and
  ran every epoch, the numbers are the budget's, not the model's, and the verdict says so.
- `mean_interval` / `compare`: a bootstrap confidence interval of a mean (of paired differences)
  and, for paired seeds x cells, the exact Wilcoxon signed-rank test as well: a direction is
  stated only when the interval excludes zero and p < ALPHA, else "no detectable difference".
  Fewer than MIN_PAIRS pairs give "insufficient evidence", never "no detectable difference":
  the smallest two-sided exact Wilcoxon p with n pairs is 2 / 2**n (0.0625 with 5), so a test
  that could not have found a difference has not looked for one. (A percentile bootstrap of
  3 values all of one sign would wrongly exclude zero.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_SEEDS = 3
CONFIDENCE = 0.95
RESAMPLES = 9999
ALPHA = 0.05
NO_DIFFERENCE = "no detectable difference"
MIN_PAIRS = next(n for n in range(1, 64) if 2 / 2**n < ALPHA)  # 6 at ALPHA = 0.05


@dataclass(frozen=True)
class Coverage:
    """A claim's cells (e.g. dataset x horizon on one track) against the cells we measured.

    `seeds` maps each measured cell to its number of seeds; `budget` names the recipe (quick,
    check, full) so a reader sees at which budget the numbers were measured.
    """

    claim: str  # words: what the claim spans, e.g. "4 ETT sets x 4 horizons, uf track"
    cells: frozenset  # the claim's cells
    seeds: dict = field(default_factory=dict)  # our cell -> seeds measured
    budget: str = "unnamed"

    @property
    def covered(self) -> list:
        return sorted(c for c in self.cells if self.seeds.get(c, 0) > 0)

    @property
    def outside(self) -> list:
        """Cells we measured that the claim does not span (e.g. the quick study's ETTh1)."""
        return sorted(c for c, n in self.seeds.items() if n > 0 and c not in self.cells)

    @property
    def min_seeds(self) -> int:
        """The fewest seeds of any cell we measured."""
        return min((n for n in self.seeds.values() if n > 0), default=0)

    @property
    def complete(self) -> bool:
        return len(self.covered) == len(self.cells) and self.min_seeds >= MIN_SEEDS

    def ours(self) -> str:
        """What our numbers span, in words."""
        elsewhere = ""
        if self.outside:
            named = ", ".join(" ".join(map(str, c)) if isinstance(c, tuple) else str(c)
                              for c in self.outside[:4])  # fmt: skip
            more = f" and {len(self.outside) - 4} more" if len(self.outside) > 4 else ""
            elsewhere = f" (outside the claim: {named}{more})"
        return (
            f"{len(self.covered)} of {len(self.cells)} cells{elsewhere}, "
            f"{self.min_seeds} seed{'s' if self.min_seeds != 1 else ''}, budget {self.budget}"
        )

    def insufficient(self) -> str:
        missing = "" if len(self.covered) == len(self.cells) else "; cells missing"
        few = f"; fewer than {MIN_SEEDS} seeds" if self.min_seeds < MIN_SEEDS else ""
        return f"insufficient evidence ({self.ours()}{missing}{few})"


def still_improving(n_improving: int, n_jobs: int) -> str | None:
    """The reason a range verdict is withheld, or None: more than half of the jobs behind it
    were still improving (best validation loss at their last epoch, every epoch run)."""
    if n_jobs and n_improving > n_jobs / 2:
        return f"still improving at the last epoch in {n_improving} of {n_jobs} jobs"
    return None


def mean_interval(values, seed: int = 0) -> dict[str, float]:
    """Mean of `values` with a percentile bootstrap interval (CONFIDENCE; NaN with < 2 values;
    the mean itself when every value is equal). Seeded: the same values give the same bounds."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(values).all():
        raise ValueError(f"values contain NaN or infinite entries: {values.tolist()}")
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return {"mean": mean, "low": float("nan"), "high": float("nan"), "n": n}
    if np.ptp(values) == 0:
        return {"mean": mean, "low": mean, "high": mean, "n": n}
    from scipy import stats  # imported where used: training jobs import this module

    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return {"mean": mean, "low": float(interval.low), "high": float(interval.high), "n": n}


def direction(interval: dict[str, float], below: str, above: str) -> str:
    """`below` when the interval lies under zero, `above` when over it, else NO_DIFFERENCE."""
    if not np.isfinite(interval["low"]):
        return f"insufficient evidence ({interval['n']} paired values)"
    if interval["high"] < 0:
        return below
    if interval["low"] > 0:
        return above
    return NO_DIFFERENCE


def compare(a, b, below: str, above: str, seed: int = 0) -> dict:
    """Paired differences a - b (same seeds x cells, in the same order): the bootstrap interval
    of their mean, the two-sided Wilcoxon p, the mean relative change (a - b) / |b| and the
    direction in words (`below`: a lower; `above`: a higher; NO_DIFFERENCE; or insufficient
    evidence with fewer than MIN_PAIRS pairs)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal shapes, got {a.shape} and {b.shape}")
    difference = a - b
    interval = mean_interval(difference, seed)
    relative = float(np.mean(difference / np.abs(b))) if len(b) and (b != 0).all() else float("nan")
    p = float("nan")
    if len(difference) and (difference != 0).any():
        from scipy import stats

        p = float(stats.wilcoxon(difference, alternative="two-sided").pvalue)
    verdict = direction(interval, below, above)
    if len(difference) < MIN_PAIRS:
        verdict = (
            f"insufficient evidence ({len(difference)} pairs: the exact Wilcoxon test cannot "
            f"reach p < {ALPHA} with fewer than {MIN_PAIRS})"
        )
    elif verdict in (below, above) and not p < ALPHA:
        verdict = f"{NO_DIFFERENCE} (Wilcoxon p = {p:.3g} with {len(difference)} pairs)"
    return {**interval, "p": p, "relative": relative, "verdict": verdict}


def interval_text(interval: dict[str, float], digits: int = 3) -> str:
    """'+0.012 [-0.003, +0.027], n=12'."""
    if not np.isfinite(interval["low"]):
        return f"{interval['mean']:+.{digits}f}, n={interval['n']}"
    return (
        f"{interval['mean']:+.{digits}f} [{interval['low']:+.{digits}f}, "
        f"{interval['high']:+.{digits}f}], n={interval['n']}"
    )
