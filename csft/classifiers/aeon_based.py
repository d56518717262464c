"""aeon classifiers: MiniROCKET and 1-NN DTW as the benchmark runs them, and any other aeon
classifier by name ("aeon:ClassName" in classify.models or classifiers.<name>.class).

Every one fits the whole of TRAIN (they select internally, or nothing). One that handles
unequal lengths (aeon's tag `capability:unequal_length`) takes the series as they are; the
others take them resampled to the longest TRAIN series.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from csft.classifiers import persist
from csft.classifiers.base import Classifier, all_train, longest_train
from csft.data.ucr import UCRSplit
from csft.training.classify import SealedSplits, to_length


class AeonClassifier(Classifier):
    """An aeon estimator; subclasses set `estimator` (the aeon class) and may map settings."""

    estimator: type
    length_policies = ("resample",)
    protocols = ("supervised",)
    warms_up = False  # fit a toy problem first, untimed (numba compilation)

    def parameters(self) -> dict:
        """The estimator's arguments: the settings, plus the job's seed and threads where the
        estimator takes them."""
        accepted = inspect.signature(self.estimator).parameters
        arguments = {k: v for k, v in self.settings.items() if k != "threads"}
        if "random_state" in accepted:
            arguments.setdefault("random_state", self.job.seed)
        if "n_jobs" in accepted and "threads" in self.settings:
            arguments.setdefault("n_jobs", self.settings["threads"])
        return arguments

    def make(self):
        return self.estimator(**self.parameters())

    def warm_up(self) -> None:
        if self.warms_up:
            rng = np.random.default_rng(0)
            self.make().fit(rng.normal(size=(4, 1, 32)), np.array([0, 1, 0, 1]))

    def as_input(self, series: list[np.ndarray]):
        """(N, 1, T) float64, or a list of (1, T_i) where lengths differ and are kept."""
        if self.job.length_policy == "resample":
            return to_length(series, self.length)[:, None, :].astype(np.float64)
        rows = [np.asarray(s, dtype=np.float64)[None, :] for s in series]
        return np.stack(rows) if len({r.shape[1] for r in rows}) == 1 else rows

    def fit(self, splits: SealedSplits) -> None:
        series, labels = all_train(splits)
        self.length = longest_train(splits)
        if self.job.length_policy == "resample":
            self.extra[self.protocols[0]]["resampled_to"] = self.length
        self.model = self.make()
        self.model.fit(self.as_input(series), labels)

    def predict(self, test: UCRSplit, protocol: str) -> np.ndarray:
        return np.asarray(self.model.predict(self.as_input(test.series)))

    def fitted_state(self) -> dict:
        try:
            estimator = persist.pack(self.model)
        except TypeError as error:  # skops' UnsupportedTypeException: an exotic aeon estimator
            raise NotImplementedError(
                f"skops cannot save {type(self.model).__name__}: {error}"
            ) from error
        return {"length": self.length, "estimator": estimator}

    def load_fitted(self, state: dict, where: str) -> None:
        self.length = int(state["length"])
        self.model = persist.unpack(state["estimator"], where)


class MiniRocket(AeonClassifier):
    """aeon's MiniROCKET (ridge with internal CV), resampled to one length."""

    warms_up = True

    @property
    def estimator(self):
        from aeon.classification.convolution_based import MiniRocketClassifier

        return MiniRocketClassifier


class DTW1NN(AeonClassifier):
    """aeon's 1-NN DTW; unequal lengths as they are, deterministic (no selection)."""

    length_policies = ("native",)
    protocols = ("nearest_neighbour",)
    deterministic = True
    warms_up = True

    @property
    def estimator(self):
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

        return KNeighborsTimeSeriesClassifier

    def parameters(self) -> dict:
        return {
            "distance": "dtw",
            "distance_params": {"window": self.settings["window"]},
            "n_neighbors": 1,
            "n_jobs": self.settings["threads"],
        }


@functools.cache
def aeon_classifier(name: str) -> type[AeonClassifier]:
    """The AeonClassifier subclass of aeon's classifier `name`, its length policy from aeon's
    own capability tag; an unknown name lists the valid ones."""
    from aeon.utils.discovery import all_estimators

    known = dict(all_estimators(type_filter="classifier"))
    if name not in known:
        raise AttributeError(f"aeon has no classifier {name!r}; it has {', '.join(sorted(known))}")
    estimator = known[name]
    unequal = estimator.get_class_tag("capability:unequal_length", False)
    attributes = {
        "estimator": estimator,
        "length_policies": ("native",) if unequal else ("resample",),
        "__doc__": f"aeon's {name}, fitted on the whole of TRAIN.",
    }
    return type(f"Aeon{name}", (AeonClassifier,), attributes)
