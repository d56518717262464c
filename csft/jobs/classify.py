"""One classification job end to end: a dataset -> fit on TRAIN -> TEST scored once.

Every model gets the same series (scaled by `ucr.scaling`, short ones lengthened by the
`short_series` policy) and the same sealed splits. The selection policy decides what learned
models fit on: `fixed_budget` (all of TRAIN, a fixed budget of optimizer steps, the final
weights) or `validation` (a stratified split of TRAIN, seeded by the run's seed, and early
stopping on it). Models that select internally (the SVM's cross-validated C, MiniROCKET's
ridge) or select nothing (1-NN DTW) always fit on the whole of TRAIN. TEST is unsealed once,
between the classifier's fit and its predictions.

The classifiers are csft.models.registry.CLASSIFIERS (csft/classifiers/); what a job runs
(length policies, selections, seeds, its records) follows what each class declares.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from csft.classifiers.base import Classifier, MetricLogger, all_train
from csft.models.registry import classifier_class
from csft.training.classify import SELECTIONS, SealedSplits
from csft.training.seeding import seed_everything

log = logging.getLogger(__name__)


def job_policies(model: str, variable_length: bool, configured: list[str]) -> list[str]:
    """The length policies `model` runs on a dataset: a classifier declaring several runs the
    configured ones it has (classify.csft_policies) on variable-length data, the first on
    fixed-length data (there they coincide); one declaring one policy runs that."""
    declared = classifier_class(model).length_policies
    if len(declared) == 1:
        return list(declared)
    chosen = [p for p in configured if p in declared] or list(declared[:1])
    return chosen if variable_length else chosen[:1]


def job_selections(model: str, selections: list[str]) -> list[str]:
    """The selection policies `model` runs: those that train with selection every configured
    one, the others fixed_budget only (they select internally, or nothing)."""
    return list(selections) if classifier_class(model).selects else ["fixed_budget"]


def job_seeds(model: str, seeds: list[int]) -> list[int]:
    """Deterministic models run once (the first seed); the others every seed."""
    return list(seeds[:1]) if classifier_class(model).deterministic else list(seeds)


def primary_protocol(model: str) -> str:
    """The protocol of a job's first record (its MLflow run is open while the job trains)."""
    return classifier_class(model).protocols[0]


@dataclass(frozen=True)
class ClassifyJob:
    model: str
    dataset: str
    length_policy: str
    seed: int
    device: str = "cpu"  # the config's device for the neural models: auto | cpu | cuda
    selection: str = "fixed_budget"  # or "validation" (classifiers that select)
    name: str = ""  # the classifier's name in the config (a variant's own name); "" = model

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.model)
        try:
            declared = classifier_class(self.model).length_policies
        except (KeyError, ImportError) as error:
            raise ValueError(error.args[0]) from None
        if self.length_policy not in declared:
            raise ValueError(
                f"{self.model} runs under length policy {declared}, not {self.length_policy!r}"
            )
        if self.selection not in job_selections(self.model, list(SELECTIONS)):
            raise ValueError(
                f"{self.model} runs under selection {job_selections(self.model, SELECTIONS)}, "
                f"not {self.selection!r}"
            )


def method_name(job: ClassifyJob, protocol: str) -> str:
    """The table's column: csft/finetune, csft/svm/common, patchtst/validation, ts2vec, ...:
    the classifier's name, its protocol where it has several, then any length policy other
    than its first and any selection other than fixed_budget."""
    declared = classifier_class(job.model)
    parts = [job.name]
    if len(declared.protocols) > 1:
        parts.append(protocol)
    if len(declared.length_policies) > 1 and job.length_policy != declared.length_policies[0]:
        parts.append(job.length_policy)
    if job.selection != "fixed_budget":
        parts.append(job.selection)
    return "/".join(parts)


@dataclass
class Scored:
    """One method's outcome; `history` holds its per-epoch rows (neural models)."""

    protocol: str
    predictions: np.ndarray
    train_seconds: float
    test_seconds: float
    extra: dict


def fit_and_score(classifier: Classifier, splits: SealedSplits) -> list[Scored]:
    """Fit with TEST sealed, open TEST once, predict under every declared protocol."""
    classifier.warm_up()
    started = time.perf_counter()
    classifier.fit(splits)
    fit_seconds = time.perf_counter() - started
    test = splits.unseal()
    predicted = {}
    for protocol in classifier.protocols:
        started = time.perf_counter()
        predictions = np.asarray(classifier.predict(test, protocol))
        predicted[protocol] = predictions, time.perf_counter() - started
    classifier.describe(test)
    return [
        Scored(
            protocol,
            predictions,
            classifier.train_seconds.get(protocol, fit_seconds),
            test_seconds,
            classifier.extra[protocol],
        )
        for protocol, (predictions, test_seconds) in predicted.items()
    ]


def run(
    job: ClassifyJob,
    splits: SealedSplits,
    settings: dict,
    log_metrics: MetricLogger = lambda metrics, step: None,
) -> list[dict]:
    """The records of `run_keeping` (its classifier dropped)."""
    return run_keeping(job, splits, settings, log_metrics)[0]


def run_keeping(
    job: ClassifyJob,
    splits: SealedSplits,
    settings: dict,
    log_metrics: MetricLogger = lambda metrics, step: None,
) -> tuple[list[dict], Classifier]:
    """Fit `job.model` on `splits`, score TEST once; one record per protocol the classifier
    declares (CSFT gives two), and the fitted classifier (its state is the job's model.pt).

    Each record: the job's keys, `method`, `test_accuracy`, `n_test`, `train_seconds` (fit,
    pretraining included) and `test_seconds` (prediction), plus `history` for neural models.
    """
    generator = seed_everything(job.seed)
    classifier = classifier_class(job.model)(job, settings, generator, log_metrics)
    scored = fit_and_score(classifier, splits)
    labels = splits.test().labels  # unsealed between fit and predict
    lengths = [len(s) for s in all_train(splits)[0] + splits.test().series]
    records = []
    for outcome in scored:
        record = {
            "dataset": job.dataset,
            "model": job.model,
            "protocol": outcome.protocol,
            "length_policy": job.length_policy,
            "method": method_name(job, outcome.protocol),
            "classifier": job.name,
            "selection": job.selection,
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
    return records, classifier
