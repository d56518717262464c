"""One classification job end to end: a UCR dataset -> fit on TRAIN -> TEST scored once.

Every model gets the same series (short ones lengthened by the `short_series` policy) and the
same sealed splits: neural models fit on the training part and stop early on the stratified
validation part of TRAIN; models that select internally (the SVM's cross-validated C,
MiniROCKET's ridge) or select nothing (1-NN DTW) fit on the whole of TRAIN. TEST is unsealed
once, after every fit.

Models and the lengths they take:
- csft: SSL pretraining, then (a) a fine-tuned linear head on H_L and (b) an RBF SVM on the
  frozen H_L (TS2Vec protocol), under the interval policy `per_interval` or `common`;
- patchtst: supervised, its encoder + a linear head; `resample` to the longest TRAIN series;
- minirocket (aeon): `resample` to the longest TRAIN series;
- dtw_1nn (aeon): `native`, unequal lengths as they are.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from baselines.patchtst import PatchTSTClassifier, PatchTSTConfig
from csft.device import device_of, resolve_device
from csft.model import CSFTClassifier, CSFTConfig, CSFTEncoder
from csft.seeding import seed_everything
from csft.tasks.classify import (
    ClassifierTraining,
    GroupBatches,
    SealedSplits,
    csft_groups,
    equal_length_groups,
    fit_classifier,
    predict_groups,
    represent_groups,
    svm_on_features,
    to_length,
)
from csft.tasks.pretrain import PretrainConfig, pretrain

log = logging.getLogger(__name__)

MetricLogger = Callable[[dict[str, float], int | None], None]
# The length policy each model runs under; CSFT's is a choice (config), the others' are fixed.
MODEL_LENGTH_POLICIES = {
    "csft": ("per_interval", "common"),
    "patchtst": ("resample",),
    "minirocket": ("resample",),
    "dtw_1nn": ("native",),
}
DETERMINISTIC_MODELS = ("dtw_1nn",)  # one seed says everything
# The protocol of a job's first record (its MLflow run is open while the job trains).
PRIMARY_PROTOCOL = {
    "csft": "finetune",
    "patchtst": "supervised",
    "minirocket": "supervised",
    "dtw_1nn": "nearest_neighbour",
}


def job_policies(model: str, variable_length: bool, csft_policies: list[str]) -> list[str]:
    """The length policies `model` runs on a dataset: CSFT every configured one on variable-
    length data, the first on fixed-length data (there the two coincide); others their own."""
    if model != "csft":
        return list(MODEL_LENGTH_POLICIES[model])
    return list(csft_policies) if variable_length else list(csft_policies[:1])


def job_seeds(model: str, seeds: list[int]) -> list[int]:
    """Deterministic models run once (the first seed); the others every seed."""
    return list(seeds[:1]) if model in DETERMINISTIC_MODELS else list(seeds)


@dataclass(frozen=True)
class ClassifyJob:
    model: str
    dataset: str
    length_policy: str
    seed: int
    device: str = "cpu"  # the config's device for the neural models: auto | cpu | cuda

    def __post_init__(self) -> None:
        if self.model not in MODEL_LENGTH_POLICIES:
            raise ValueError(
                f"unknown classifier {self.model!r}; one of {list(MODEL_LENGTH_POLICIES)}"
            )
        if self.length_policy not in MODEL_LENGTH_POLICIES[self.model]:
            raise ValueError(
                f"{self.model} runs under length policy {MODEL_LENGTH_POLICIES[self.model]}, "
                f"not {self.length_policy!r}"
            )


def method_name(model: str, protocol: str, length_policy: str) -> str:
    """The table's column: csft/finetune, csft/svm/common, patchtst, minirocket, dtw_1nn."""
    if model != "csft":
        return model
    return f"csft/{protocol}" + ("/common" if length_policy == "common" else "")


@dataclass
class Scored:
    """One method's outcome; `history` holds its per-epoch rows (neural models)."""

    protocol: str
    predictions: np.ndarray
    train_seconds: float
    test_seconds: float
    extra: dict


def _all_train(splits: SealedSplits) -> tuple[list[np.ndarray], np.ndarray]:
    """The whole of TRAIN (training part + validation part)."""
    return splits.train.series + splits.val.series, np.concatenate(
        [splits.train.labels, splits.val.labels]
    )


def _longest_train(splits: SealedSplits) -> int:
    return max(len(s) for s in _all_train(splits)[0])


def run_csft(
    job: ClassifyJob, splits: SealedSplits, settings: dict, generator, log_metrics: MetricLogger
) -> list[Scored]:
    """Pretrain on TRAIN, then SVM on frozen H_L and a fine-tuned head; TEST once at the end."""
    config = CSFTConfig(
        lookback=_longest_train(splits), horizon=1, n_channels=1, **settings["architecture"]
    )
    policy = job.length_policy
    train = csft_groups(splits.train.series, splits.train.labels, config, policy)
    grids = sorted({g.x.shape[1] for g in train})
    val = csft_groups(splits.val.series, splits.val.labels, config, policy, grids)
    log.info("%s: grids %s, model interval %s", job.dataset, grids, config.plan.interval)
    batch = settings["training"].get("batch_size", 32)

    started = time.perf_counter()
    encoder = CSFTEncoder(config).to(resolve_device(job.device))
    pretrain_history = []
    if settings["pretraining"].get("epochs", 1) > 0:
        pretrain_history = pretrain(
            encoder,
            train,
            val or None,
            PretrainConfig(**settings["pretraining"]),
            generator,
            on_epoch=lambda epoch, row: log_metrics(
                {f"pretrain_{k}": v for k, v in row.items()}, epoch
            ),
            batches=GroupBatches,
        )
    pretrain_seconds = time.perf_counter() - started

    started = time.perf_counter()  # (b) SVM on frozen H_L, one per grid (d_L differs per depth)
    every, every_labels = _all_train(splits)
    train_all = csft_groups(every, every_labels, config, policy, grids)
    svms = {}
    for group, features in zip(train_all, represent_groups(encoder, train_all, batch), strict=True):
        labels = group.y.numpy()
        if len(np.unique(labels)) == 1:  # a grid holding one class: that class is the answer
            svms[group.x.shape[1]] = int(labels[0])
        else:
            svms[group.x.shape[1]] = svm_on_features(features, labels, job.seed)
    svm_seconds = pretrain_seconds + time.perf_counter() - started

    started = time.perf_counter()  # (a) fine-tuned linear head(s) on H_L
    depths = [int(math.log2(g // config.patch_len)) for g in grids]
    model = CSFTClassifier(config, splits.n_classes, depths).to(device_of(encoder))
    model.encoder.load_state_dict(encoder.state_dict())
    training = ClassifierTraining(**settings["training"])
    history = fit_classifier(model, train, val, training, generator)
    for epoch, row in enumerate(history, start=1):
        log_metrics({f"finetune_{k}": v for k, v in row.items() if k != "epoch"}, epoch)
    finetune_seconds = pretrain_seconds + time.perf_counter() - started

    test = splits.unseal()
    test_groups = csft_groups(test.series, test.labels, config, policy, grids)
    started = time.perf_counter()
    finetuned = predict_groups(model, test_groups, training.batch_size).argmax(1).numpy()
    finetune_test = time.perf_counter() - started
    started = time.perf_counter()
    svm_pred = np.empty(len(test), dtype=np.int64)
    for group, features in zip(
        test_groups, represent_groups(encoder, test_groups, batch), strict=True
    ):
        svm = svms[group.x.shape[1]]
        svm_pred[group.index] = svm if isinstance(svm, int) else svm.predict(features)
    svm_test = time.perf_counter() - started
    common = {
        "pretrain_epochs": len(pretrain_history),
        "pretrain_seconds": pretrain_seconds,
        "grids": " ".join(map(str, grids)),
    }
    return [
        Scored(
            "finetune",
            finetuned,
            finetune_seconds,
            finetune_test,
            {**common, "epochs_run": len(history), "history": history},
        ),
        Scored("svm", svm_pred, svm_seconds, svm_test, common),
    ]


def run_patchtst(
    job: ClassifyJob, splits: SealedSplits, settings: dict, generator, log_metrics: MetricLogger
) -> list[Scored]:
    """Supervised PatchTST on series resampled to the longest TRAIN series."""
    length = _longest_train(splits)

    def equal(split) -> list:
        x = torch.as_tensor(to_length(split.series, length))  # (N, length)
        return equal_length_groups(x, torch.as_tensor(split.labels))

    started = time.perf_counter()
    config = PatchTSTConfig(lookback=length, horizon=1, n_channels=1, **settings["architecture"])
    model = PatchTSTClassifier(config, splits.n_classes).to(resolve_device(job.device))
    training = ClassifierTraining(**settings["training"])
    history = fit_classifier(model, equal(splits.train), equal(splits.val), training, generator)
    for epoch, row in enumerate(history, start=1):
        log_metrics({f"finetune_{k}": v for k, v in row.items() if k != "epoch"}, epoch)
    train_seconds = time.perf_counter() - started
    test = equal(splits.unseal())
    started = time.perf_counter()
    pred = predict_groups(model, test, training.batch_size).argmax(1).numpy()
    extra = {"epochs_run": len(history), "history": history, "resampled_to": length}
    return [Scored("supervised", pred, train_seconds, time.perf_counter() - started, extra)]


def _aeon_fit_predict(classifier, train_x, train_y, splits: SealedSplits, test_x) -> tuple:
    started = time.perf_counter()
    classifier.fit(train_x, train_y)
    train_seconds = time.perf_counter() - started
    test = splits.unseal()
    started = time.perf_counter()
    pred = classifier.predict(test_x(test))
    return pred, train_seconds, time.perf_counter() - started


def _warm_up(make_classifier: Callable) -> None:
    """Compile aeon's numba kernels on a toy problem, so timings measure the method, not JIT."""
    rng = np.random.default_rng(0)
    make_classifier().fit(rng.normal(size=(4, 1, 32)), np.array([0, 1, 0, 1]))


def run_minirocket(
    job: ClassifyJob, splits: SealedSplits, settings: dict, generator, log_metrics: MetricLogger
) -> list[Scored]:
    """aeon's MiniROCKET (ridge with internal CV) on the whole of TRAIN, resampled to one length."""
    from aeon.classification.convolution_based import MiniRocketClassifier

    def make():
        return MiniRocketClassifier(
            n_kernels=settings["n_kernels"], random_state=job.seed, n_jobs=settings["threads"]
        )

    _warm_up(make)
    length = _longest_train(splits)
    series, labels = _all_train(splits)
    pred, train_s, test_s = _aeon_fit_predict(
        make(),
        to_length(series, length)[:, None, :].astype(np.float64),  # (N, 1, length)
        labels,
        splits,
        lambda test: to_length(test.series, length)[:, None, :].astype(np.float64),
    )
    return [Scored("supervised", pred, train_s, test_s, {"resampled_to": length})]


def run_dtw_1nn(
    job: ClassifyJob, splits: SealedSplits, settings: dict, generator, log_metrics: MetricLogger
) -> list[Scored]:
    """aeon's 1-NN DTW on the whole of TRAIN; unequal lengths as they are (no selection)."""
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    def make():
        return KNeighborsTimeSeriesClassifier(
            distance="dtw",
            distance_params={"window": settings["window"]},
            n_neighbors=1,
            n_jobs=settings["threads"],
        )

    def as_input(series: list[np.ndarray]):
        rows = [np.asarray(s, dtype=np.float64)[None, :] for s in series]  # (1, T_i) each
        return np.stack(rows) if len({r.shape[1] for r in rows}) == 1 else rows

    _warm_up(make)
    series, labels = _all_train(splits)
    pred, train_s, test_s = _aeon_fit_predict(
        make(), as_input(series), labels, splits, lambda test: as_input(test.series)
    )
    return [Scored("nearest_neighbour", pred, train_s, test_s, {})]


RUNNERS = {
    "csft": run_csft,
    "patchtst": run_patchtst,
    "minirocket": run_minirocket,
    "dtw_1nn": run_dtw_1nn,
}


def run(
    job: ClassifyJob,
    splits: SealedSplits,
    settings: dict,
    log_metrics: MetricLogger = lambda metrics, step: None,
) -> list[dict]:
    """Fit `job.model` on `splits`, score TEST once; one record per method (CSFT gives two).

    Each record: the job's keys, `method`, `test_accuracy`, `n_test`, `train_seconds` (fit,
    pretraining included) and `test_seconds` (prediction), plus `history` for neural models.
    """
    generator = seed_everything(job.seed)
    scored = RUNNERS[job.model](job, splits, settings, generator, log_metrics)
    labels = splits.test().labels  # unsealed by the runner, after every fit
    lengths = [len(s) for s in _all_train(splits)[0] + splits.test().series]
    records = []
    for outcome in scored:
        record = {
            "dataset": job.dataset,
            "model": job.model,
            "protocol": outcome.protocol,
            "length_policy": job.length_policy,
            "method": method_name(job.model, outcome.protocol, job.length_policy),
            "seed": job.seed,
            "test_accuracy": float(np.mean(np.asarray(outcome.predictions) == labels)),
            "n_test": len(labels),
            "train_seconds": outcome.train_seconds,
            "test_seconds": outcome.test_seconds,
            "variable_length": len(set(lengths)) > 1,
            **outcome.extra,
        }
        records.append(record)
        log.info("%s on %s: accuracy %.4f", record["method"], job.dataset, record["test_accuracy"])
    return records
