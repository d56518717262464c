"""TS2Vec (our implementation, Yue et al. 2022) as a classifier: self-supervised on all of
TRAIN, then the SVM protocol on its max-pooled representation; series at their own lengths."""

from __future__ import annotations

import numpy as np

from csft.classifiers import persist
from csft.classifiers.base import Classifier, all_train, feature_statistics
from csft.data.ucr import UCRSplit
from csft.device import resolve_device
from csft.models.registry import classifier_part
from csft.training.checkpoint import cpu_weights
from csft.training.classify import SealedSplits, svm_on_features


class TS2VecClassification(Classifier):
    length_policies = ("native",)
    protocols = ("svm",)
    uses_torch = True

    def make_config(self):
        settings = {k: v for k, v in self.settings.items() if k != "threads"}
        return classifier_part("ts2vec").TS2VecConfig(**settings)

    def fit(self, splits: SealedSplits) -> None:
        ts2vec = classifier_part("ts2vec")
        self.config = config = self.make_config()
        series, labels = all_train(splits)
        # One padded width for TRAIN and TEST, the archive file's, as the official loader keeps
        # it: the max-pool covers padded steps, so a width per split would shift one against
        # the other.
        self.width = splits.file_width()
        device = resolve_device(self.job.device)
        self.model, losses = ts2vec.fit_ts2vec(
            series, config, self.job.seed, device, length=self.width
        )
        every = max(1, len(losses) // 50)
        for step in range(0, len(losses), every):
            self.log_metrics({"pretrain_loss": losses[step]}, step + 1)
        self.svm = svm_on_features(self.represent(series), labels)
        self.extra["svm"].update(pretrain_steps=len(losses), svm_C=f"{self.svm.C:g}")

    def predict(self, test: UCRSplit, protocol: str) -> np.ndarray:
        self.test_features = self.represent(test.series)
        return self.svm.predict(self.test_features)

    def fitted_state(self) -> dict:
        weights = cpu_weights(self.model)
        return {"width": self.width, "weights": weights, "svm": persist.pack(self.svm)}

    def load_fitted(self, state: dict, where: str) -> None:
        from torch.optim.swa_utils import AveragedModel

        self.config, self.width = self.make_config(), state["width"]
        encoder = classifier_part("ts2vec").TS2VecEncoder(self.config)
        self.model = AveragedModel(encoder).to(resolve_device(self.job.device))
        self.model.load_state_dict(state["weights"])
        self.model.eval()
        self.svm = persist.unpack(state["svm"], where)

    def describe(self, test: UCRSplit) -> None:
        self.extra["svm"].update(feature_statistics(self.test_features))

    def represent(self, series: list[np.ndarray]) -> np.ndarray:
        """The max-pooled representation (N, output_dims), at the file's padded width."""
        encode = classifier_part("ts2vec").encode_series
        return encode(self.model, list(series), self.config.batch_size, length=self.width)
