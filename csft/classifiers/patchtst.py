"""Supervised PatchTST as a classifier: its encoder and a linear head, on series resampled to
the longest TRAIN series."""

from __future__ import annotations

import numpy as np
import torch

from csft.classifiers.base import Classifier, feature_statistics, longest_train
from csft.data.ucr import UCRSplit
from csft.device import resolve_device
from csft.models.registry import classifier_part, model_class
from csft.training.checkpoint import cpu_weights
from csft.training.classify import (
    ClassifierTraining,
    SealedSplits,
    equal_length_groups,
    fit_classifier,
    predict_groups,
    predict_logits,
    to_length,
    train_values,
)


class PatchTSTClassification(Classifier):
    length_policies = ("resample",)
    protocols = ("supervised",)
    selects = True
    uses_torch = True
    architecture_of = "patchtst"

    def equal(self, split: UCRSplit) -> list:
        if not len(split):
            return []
        x = torch.as_tensor(to_length(split.series, self.length))  # (N, length)
        return equal_length_groups(x, torch.as_tensor(split.labels))

    def build(self, length: int, n_classes: int) -> None:
        """The untrained model for series of `length` points and its training recipe."""
        self.length, self.n_classes = length, n_classes
        config = model_class("patchtst").Config(
            lookback=length, horizon=1, n_channels=1, **self.settings["architecture"]
        )
        device = resolve_device(self.job.device)
        self.model = classifier_part("patchtst")(config, n_classes).to(device)
        self.training = ClassifierTraining(**self.settings["training"])

    def fit(self, splits: SealedSplits) -> None:
        self.build(longest_train(splits), splits.n_classes)
        training = self.training
        steps = training.budget(train_values(splits.train.series))
        history = fit_classifier(
            self.model,
            self.equal(splits.train),
            self.equal(splits.val),
            training,
            self.generator,
            steps,
        )
        for epoch, row in enumerate(history, start=1):
            self.log_metrics({f"finetune_{k}": v for k, v in row.items() if k != "epoch"}, epoch)
        self.extra["supervised"].update(
            epochs_run=len(history),
            steps_run=history[-1]["steps"],
            history=history,
            resampled_to=self.length,
        )

    def predict(self, test: UCRSplit, protocol: str) -> np.ndarray:
        logits = predict_groups(self.model, self.equal(test), self.training.batch_size)
        return logits.argmax(1).numpy()

    def fitted_state(self) -> dict:
        weights = cpu_weights(self.model)
        return {"length": self.length, "n_classes": self.n_classes, "weights": weights}

    def load_fitted(self, state: dict, where: str) -> None:
        self.build(int(state["length"]), int(state["n_classes"]))
        self.model.load_state_dict(state["weights"])
        self.model.eval()

    def describe(self, test: UCRSplit) -> None:
        self.extra["supervised"].update(feature_statistics(self.represent(test.series)))

    def represent(self, series: list[np.ndarray]) -> np.ndarray:
        """What the head sees (the last patch's embedding): (N, d)."""
        x = torch.as_tensor(to_length(list(series), self.length))
        caught = []
        hook = self.model.head.register_forward_hook(lambda m, args, out: caught.append(args[0]))
        try:
            predict_logits(self.model, x, self.training.batch_size)
        finally:
            hook.remove()
        return torch.cat(caught).cpu().numpy()
