"""What every classifier is: declared capabilities, then fit on the open splits and predict on
TEST, which the job opens between the two (csft.jobs.classify.run), so no classifier can look.

A classifier of your own subclasses `Classifier` and registers as docs/extending.md says.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from csft.data.ucr import UCRSplit
from csft.training.classify import SealedSplits

MetricLogger = Callable[[dict[str, float], int | None], None]


class Classifier:
    """One classification model. Class attributes declare what it can do; the workflow reads
    them to plan jobs (never the model's name)."""

    # The length policies it runs under (csft.training.classify): one, or several for the
    # config to choose from (classify.csft_policies: every listed one on variable-length data,
    # the first on fixed-length data).
    length_policies: tuple[str, ...] = ("native",)
    # The records one job gives (a table column each); the first is the job's primary run.
    protocols: tuple[str, ...] = ("supervised",)
    selects: bool = False  # trains with model selection: every classify.selection applies
    deterministic: bool = False  # one seed says everything: runs with the first seed only
    uses_torch: bool = False  # trains with torch: the config's `device` applies
    architecture_of: str | None = None  # the forecaster whose Config checks its architecture
    pretrains: bool = False  # its settings carry a pretraining recipe (classify.<name>)
    # A classifier that gives a representation defines represent(series) -> (N, D) features,
    # usable after fit.

    def __init__(
        self,
        job,
        settings: dict,
        generator=None,
        log_metrics: MetricLogger = lambda metrics, step: None,
    ) -> None:
        self.job, self.settings = job, settings
        self.generator, self.log_metrics = generator, log_metrics
        self.train_seconds: dict[str, float] = {}  # per protocol, where it is not fit's time
        self.extra: dict[str, dict] = {protocol: {} for protocol in self.protocols}

    def warm_up(self) -> None:
        """Untimed work before fit (compiling kernels), so timings measure the method."""

    def fit(self, splits: SealedSplits) -> None:
        """Fit on splits.train (and splits.val, for selection); TEST is sealed."""
        raise NotImplementedError

    def predict(self, test: UCRSplit, protocol: str) -> np.ndarray:
        """Class codes (N,) of TEST's series under `protocol`."""
        raise NotImplementedError

    def describe(self, test: UCRSplit) -> None:
        """Untimed record fields after prediction (feature statistics) into self.extra."""

    def fitted_state(self) -> dict:
        """What predict needs after fit, as tensors, numbers, strings, lists and dicts (fitted
        scikit-learn/aeon estimators through csft.classifiers.persist.pack), so the job's
        model.pt loads with weights_only=True (python -m csft.evaluate)."""
        raise NotImplementedError(f"{type(self).__name__} does not define fitted_state()")

    def load_fitted(self, state: dict, where: str) -> None:
        """The fitted classifier back from `fitted_state()`'s dict (job and settings as
        constructed); `where` names the file in errors."""
        raise NotImplementedError(f"{type(self).__name__} does not define load_fitted()")


def all_train(splits: SealedSplits) -> tuple[list[np.ndarray], np.ndarray]:
    """The whole of TRAIN (training part + validation part)."""
    return splits.train.series + splits.val.series, np.concatenate(
        [splits.train.labels, splits.val.labels]
    )


def longest_train(splits: SealedSplits) -> int:
    return max(len(s) for s in all_train(splits)[0])


def feature_statistics(features: np.ndarray) -> dict[str, float]:
    """The paper's feature statistics of a TEST representation (N, D), for the table beside
    accuracy: mean |Pearson| and |Spearman| between dimensions, the fraction of dimensions
    whose principal components hold 80% of the variance, the count of constant ones, and its
    health (effective rank, between-series cosine: a collapsed representation passes the rest)."""
    from csft.diagnostics import components_for_variance, feature_correlation, representation_health

    features = np.asarray(features, dtype=np.float64)
    if len(features) < 3 or not (features.std(axis=0) > 0).any():
        constant = int((features.std(axis=0) == 0).sum()) if len(features) else 0
        nan = float("nan")
        return {"feature_pearson": nan, "feature_spearman": nan, "pca_fraction_80": nan,
                "feature_constant": constant, "feature_effective_rank": 0.0,
                "feature_between_cosine": nan}  # fmt: skip
    correlation = feature_correlation(features)
    health = representation_health(features)
    return {
        "feature_pearson": correlation["pearson"],
        "feature_spearman": correlation["spearman"],
        "pca_fraction_80": components_for_variance(features),
        "feature_constant": correlation["n_constant"],
        "feature_effective_rank": health["effective_rank"],
        "feature_between_cosine": health["between_cosine"],
    }
