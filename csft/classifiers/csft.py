"""CSFT as a classifier: SSL pretraining, then (a) a fine-tuned linear head on H_L and (b) an
RBF SVM on the frozen H_L (TS2Vec's protocol), under the interval policy `per_interval` or
`common`; one job, two records."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from csft.classifiers import persist
from csft.classifiers.base import Classifier, all_train, feature_statistics, longest_train
from csft.data.ucr import UCRSplit
from csft.device import device_of, resolve_device
from csft.models.csft import CSFTClassifier, CSFTConfig, CSFTEncoder
from csft.training.checkpoint import cpu_weights
from csft.training.classify import (
    ClassifierTraining,
    GroupBatches,
    SealedSplits,
    csft_groups,
    fit_classifier,
    grid_width,
    plan_grids,
    predict_groups,
    represent_groups,
    svm_on_features,
    train_values,
)
from csft.training.pretrain import StepPretraining, pretrain_steps

log = logging.getLogger(__name__)


def largest_width(features: list[np.ndarray]) -> np.ndarray:
    """The TEST features of the most populated H_L width (widths differ across depths)."""
    by_width: dict[int, list] = {}
    for f in features:
        by_width.setdefault(f.shape[1], []).append(f)
    return max((np.concatenate(parts) for parts in by_width.values()), key=len)


def describe_c(svms: dict) -> str:
    """The chosen C of each SVM, for the record: "inf", or "64: 100, 128: inf" per width."""
    values = {width: f"{svm.C:g}" for width, svm in sorted(svms.items())}
    return (
        next(iter(values.values()))
        if len(values) == 1
        else ", ".join(f"{width}: {c}" for width, c in values.items())
    )


class CSFTClassification(Classifier):
    length_policies = ("per_interval", "common")
    protocols = ("finetune", "svm")
    selects = True
    uses_torch = True
    architecture_of = "csft"
    pretrains = True

    def groups(self, split: UCRSplit) -> list:
        policy = self.job.length_policy
        return csft_groups(split.series, split.labels, self.config, policy, self.grid_map)

    def fit(self, splits: SealedSplits) -> None:
        settings, job = self.settings, self.job
        self.config = config = CSFTConfig(
            lookback=longest_train(splits), horizon=1, n_channels=1, **settings["architecture"]
        )
        fit = splits.train  # all of TRAIN under fixed_budget, the training part under validation
        self.grid_map = plan_grids(fit.series, fit.labels, config, job.length_policy)
        train, val = self.groups(fit), self.groups(splits.val)
        grids = sorted({g.x.shape[1] for g in train})
        log.info(
            "%s: grids %s (%s), model interval %s", job.dataset, grids, self.grid_map, config.plan
        )
        n_values = train_values(fit.series)

        started = time.perf_counter()
        self.encoder = CSFTEncoder(config).to(resolve_device(job.device))
        self.pretraining = pretraining = StepPretraining(**settings["pretraining"])
        pretrain_budget = pretraining.budget(n_values)
        pretrain_steps(
            self.encoder,
            train,
            pretraining,
            pretrain_budget,
            self.generator,
            GroupBatches,
            on_pass=lambda n, row: self.log_metrics(
                {f"pretrain_{k}": v for k, v in row.items()}, n
            ),
        )
        pretrain_seconds = time.perf_counter() - started

        started = time.perf_counter()  # (b) SVM on frozen H_L, one per width d_L (grids share it)
        train_all = self.groups(UCRSplit(*all_train(splits)))
        features = represent_groups(self.encoder, train_all, pretraining.batch_size)
        self.svms = {}
        for width in sorted({grid_width(g.x.shape[1], config) for g in train_all}):
            parts = [
                (f, g.y.numpy())
                for g, f in zip(train_all, features, strict=True)
                if grid_width(g.x.shape[1], config) == width
            ]
            self.svms[width] = svm_on_features(
                np.concatenate([f for f, _ in parts]), np.concatenate([y for _, y in parts])
            )
        self.train_seconds["svm"] = pretrain_seconds + time.perf_counter() - started

        started = time.perf_counter()  # (a) fine-tuned linear head(s) on H_L
        self.depths = [int(math.log2(g // config.patch_len)) for g in grids]
        self.n_classes = splits.n_classes
        self.model = CSFTClassifier(config, self.n_classes, self.depths)
        self.model = self.model.to(device_of(self.encoder))
        self.model.encoder.load_state_dict(self.encoder.state_dict())
        self.training = training = ClassifierTraining(**settings["training"])
        history = fit_classifier(
            self.model, train, val, training, self.generator, training.budget(n_values)
        )
        for epoch, row in enumerate(history, start=1):
            self.log_metrics({f"finetune_{k}": v for k, v in row.items() if k != "epoch"}, epoch)
        self.train_seconds["finetune"] = pretrain_seconds + time.perf_counter() - started

        common = {
            "pretrain_steps": pretrain_budget,
            "pretrain_seconds": pretrain_seconds,
            "grids": " ".join(map(str, grids)),
        }
        steps = history[-1]["steps"] if history else 0
        self.extra["finetune"].update(
            common, epochs_run=len(history), steps_run=steps, history=history
        )
        self.extra["svm"].update(common, svm_C=describe_c(self.svms))

    def fitted_state(self) -> dict:
        return {
            "lookback": self.config.lookback,
            "grid_map": {int(own): int(grid) for own, grid in self.grid_map.items()},
            "n_classes": self.n_classes,
            "depths": self.depths,
            "encoder": cpu_weights(self.encoder),  # the SVM's frozen encoder
            "model": cpu_weights(self.model),  # the fine-tuned encoder and head(s)
            "svms": {int(width): persist.pack(svm) for width, svm in self.svms.items()},
        }

    def load_fitted(self, state: dict, where: str) -> None:
        architecture = self.settings["architecture"]
        self.config = CSFTConfig(
            lookback=state["lookback"], horizon=1, n_channels=1, **architecture
        )
        self.grid_map, self.n_classes, self.depths = (
            state["grid_map"],
            state["n_classes"],
            state["depths"],
        )
        device = resolve_device(self.job.device)
        self.encoder = CSFTEncoder(self.config).to(device)
        self.encoder.load_state_dict(state["encoder"])
        self.model = CSFTClassifier(self.config, self.n_classes, self.depths).to(device)
        self.model.load_state_dict(state["model"])
        self.svms = {width: persist.unpack(svm, where) for width, svm in state["svms"].items()}
        self.pretraining = StepPretraining(**self.settings["pretraining"])
        self.training = ClassifierTraining(**self.settings["training"])

    def predict(self, test: UCRSplit, protocol: str) -> np.ndarray:
        groups = self.groups(test)
        if protocol == "finetune":
            return predict_groups(self.model, groups, self.training.batch_size).argmax(1).numpy()
        pred = np.empty(len(test), dtype=np.int64)
        frozen = represent_groups(self.encoder, groups, self.pretraining.batch_size)
        for group, group_features in zip(groups, frozen, strict=True):
            width = grid_width(group.x.shape[1], self.config)
            pred[group.index] = self.svms[width].predict(group_features)
        return pred

    def describe(self, test: UCRSplit) -> None:
        groups, size = self.groups(test), self.pretraining.batch_size
        for protocol, encoder in (("finetune", self.model.encoder), ("svm", self.encoder)):
            features = largest_width(represent_groups(encoder, groups, size))
            self.extra[protocol].update(feature_statistics(features))

    def represent(self, series: list[np.ndarray]) -> np.ndarray:
        """The frozen encoder's H_L (N, d_L), the SVM's input; series of one width d_L."""
        split = UCRSplit(list(series), np.zeros(len(series), dtype=np.int64))
        groups = self.groups(split)
        features = represent_groups(self.encoder, groups, self.pretraining.batch_size)
        widths = {f.shape[1] for f in features}
        if len(widths) > 1:
            raise ValueError(f"series reach H_L widths {sorted(widths)}; represent one at a time")
        out = np.empty((len(series), widths.pop()), dtype=np.float32)
        for group, group_features in zip(groups, features, strict=True):
            out[group.index] = group_features
        return out
