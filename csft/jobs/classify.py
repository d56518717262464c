"""One classification job end to end: a UCR dataset -> fit on TRAIN -> TEST scored once.

Every model gets the same series (scaled by `ucr.scaling`, short ones lengthened by the
`short_series` policy) and the same sealed splits. The selection policy decides what learned
models fit on: `fixed_budget` (all of TRAIN, a fixed budget of optimizer steps, the final
weights) or `validation` (a stratified split of TRAIN, seeded by the run's seed, and early
stopping on it). Models that select internally (the SVM's cross-validated C, MiniROCKET's
ridge) or select nothing (1-NN DTW) always fit on the whole of TRAIN. TEST is unsealed once,
after every fit.

Models and the lengths they take:
- csft: SSL pretraining, then (a) a fine-tuned linear head on H_L and (b) an RBF SVM on the
  frozen H_L (TS2Vec's protocol), under the interval policy `per_interval` or `common`;
- patchtst: supervised, its encoder + a linear head; `resample` to the longest TRAIN series;
- ts2vec: self-supervised (Yue et al. 2022), max-pooled representation + the same SVM;
  `native`, unequal lengths as they are (NaN-padded inside);
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

from csft.device import device_of, resolve_device
from csft.models.csft import CSFTClassifier, CSFTConfig, CSFTEncoder
from csft.models.registry import classifier_part, model_class
from csft.training.classify import (
    SELECTIONS,
    ClassifierTraining,
    GroupBatches,
    SealedSplits,
    csft_groups,
    equal_length_groups,
    fit_classifier,
    grid_width,
    plan_grids,
    predict_groups,
    predict_logits,
    represent_groups,
    svm_on_features,
    to_length,
    train_values,
)
from csft.training.pretrain import StepPretraining, pretrain_steps
from csft.training.seeding import seed_everything

log = logging.getLogger(__name__)

MetricLogger = Callable[[dict[str, float], int | None], None]
# The length policy each model runs under; CSFT's is a choice (config), the others' are fixed.
MODEL_LENGTH_POLICIES = {
    "csft": ("per_interval", "common"),
    "patchtst": ("resample",),
    "ts2vec": ("native",),
    "minirocket": ("resample",),
    "dtw_1nn": ("native",),
}
DETERMINISTIC_MODELS = ("dtw_1nn",)  # one seed says everything
SELECTING_MODELS = ("csft", "patchtst")  # supervised training that a validation split can stop
# The protocol of a job's first record (its MLflow run is open while the job trains).
PRIMARY_PROTOCOL = {
    "csft": "finetune",
    "patchtst": "supervised",
    "ts2vec": "svm",
    "minirocket": "supervised",
    "dtw_1nn": "nearest_neighbour",
}


def job_policies(model: str, variable_length: bool, csft_policies: list[str]) -> list[str]:
    """The length policies `model` runs on a dataset: CSFT every configured one on variable-
    length data, the first on fixed-length data (there the two coincide); others their own."""
    if model != "csft":
        return list(MODEL_LENGTH_POLICIES[model])
    return list(csft_policies) if variable_length else list(csft_policies[:1])


def job_selections(model: str, selections: list[str]) -> list[str]:
    """The selection policies `model` runs: supervised neural models every configured one, the
    others fixed_budget only (they select internally, or nothing)."""
    return list(selections) if model in SELECTING_MODELS else ["fixed_budget"]


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
    selection: str = "fixed_budget"  # or "validation" (csft, patchtst)
    name: str = ""  # the classifier's name in the config (a variant's own name); "" = model

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.model)
        if self.model not in MODEL_LENGTH_POLICIES:
            raise ValueError(
                f"unknown classifier {self.model!r}; one of {list(MODEL_LENGTH_POLICIES)}"
            )
        if self.length_policy not in MODEL_LENGTH_POLICIES[self.model]:
            raise ValueError(
                f"{self.model} runs under length policy {MODEL_LENGTH_POLICIES[self.model]}, "
                f"not {self.length_policy!r}"
            )
        if self.selection not in job_selections(self.model, list(SELECTIONS)):
            raise ValueError(
                f"{self.model} runs under selection {job_selections(self.model, SELECTIONS)}, "
                f"not {self.selection!r}"
            )


def method_name(job: ClassifyJob, protocol: str) -> str:
    """The table's column: csft/finetune, csft/svm/common, patchtst/validation, ts2vec, ...:
    the classifier's name, CSFT's protocol, then any non-default length or selection policy."""
    parts = [job.name]
    if job.model == "csft":
        parts.append(protocol)
        if job.length_policy == "common":
            parts.append("common")
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


def _all_train(splits: SealedSplits) -> tuple[list[np.ndarray], np.ndarray]:
    """The whole of TRAIN (training part + validation part)."""
    return splits.train.series + splits.val.series, np.concatenate(
        [splits.train.labels, splits.val.labels]
    )


def _longest_train(splits: SealedSplits) -> int:
    return max(len(s) for s in _all_train(splits)[0])


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


def run_csft(
    job: ClassifyJob, splits: SealedSplits, settings: dict, generator, log_metrics: MetricLogger
) -> list[Scored]:
    """Pretrain on the fitting data, then SVM on frozen H_L and a fine-tuned head; TEST once."""
    config = CSFTConfig(
        lookback=_longest_train(splits), horizon=1, n_channels=1, **settings["architecture"]
    )
    policy = job.length_policy
    fit = splits.train  # all of TRAIN under fixed_budget, the training part under validation
    grid_map = plan_grids(fit.series, fit.labels, config, policy)
    train = csft_groups(fit.series, fit.labels, config, policy, grid_map)
    val = csft_groups(splits.val.series, splits.val.labels, config, policy, grid_map)
    grids = sorted({g.x.shape[1] for g in train})
    log.info("%s: grids %s (%s), model interval %s", job.dataset, grids, grid_map, config.plan)
    n_values = train_values(fit.series)

    started = time.perf_counter()
    encoder = CSFTEncoder(config).to(resolve_device(job.device))
    pretraining = StepPretraining(**settings["pretraining"])
    pretrain_budget = pretraining.budget(n_values)
    pretrain_steps(
        encoder,
        train,
        pretraining,
        pretrain_budget,
        generator,
        GroupBatches,
        on_pass=lambda n, row: log_metrics({f"pretrain_{k}": v for k, v in row.items()}, n),
    )
    pretrain_seconds = time.perf_counter() - started

    started = time.perf_counter()  # (b) SVM on frozen H_L, one per width d_L (grids share it)
    every, every_labels = _all_train(splits)
    train_all = csft_groups(every, every_labels, config, policy, grid_map)
    features = represent_groups(encoder, train_all, pretraining.batch_size)
    svms = {}
    for width in sorted({grid_width(g.x.shape[1], config) for g in train_all}):
        parts = [
            (f, g.y.numpy())
            for g, f in zip(train_all, features, strict=True)
            if grid_width(g.x.shape[1], config) == width
        ]
        svms[width] = svm_on_features(
            np.concatenate([f for f, _ in parts]), np.concatenate([y for _, y in parts])
        )
    svm_seconds = pretrain_seconds + time.perf_counter() - started

    started = time.perf_counter()  # (a) fine-tuned linear head(s) on H_L
    depths = [int(math.log2(g // config.patch_len)) for g in grids]
    model = CSFTClassifier(config, splits.n_classes, depths).to(device_of(encoder))
    model.encoder.load_state_dict(encoder.state_dict())
    training = ClassifierTraining(**settings["training"])
    history = fit_classifier(model, train, val, training, generator, training.budget(n_values))
    for epoch, row in enumerate(history, start=1):
        log_metrics({f"finetune_{k}": v for k, v in row.items() if k != "epoch"}, epoch)
    finetune_seconds = pretrain_seconds + time.perf_counter() - started

    test = splits.unseal()
    test_groups = csft_groups(test.series, test.labels, config, policy, grid_map)
    started = time.perf_counter()
    finetuned = predict_groups(model, test_groups, training.batch_size).argmax(1).numpy()
    finetune_test = time.perf_counter() - started
    started = time.perf_counter()
    svm_pred = np.empty(len(test), dtype=np.int64)
    frozen = represent_groups(encoder, test_groups, pretraining.batch_size)
    for group, group_features in zip(test_groups, frozen, strict=True):
        svm_pred[group.index] = svms[grid_width(group.x.shape[1], config)].predict(group_features)
    svm_test = time.perf_counter() - started
    tuned = represent_groups(model.encoder, test_groups, pretraining.batch_size)
    common = {
        "pretrain_steps": pretrain_budget,
        "pretrain_seconds": pretrain_seconds,
        "grids": " ".join(map(str, grids)),
    }
    steps = history[-1]["steps"] if history else 0
    return [
        Scored(
            "finetune",
            finetuned,
            finetune_seconds,
            finetune_test,
            {
                **common,
                "epochs_run": len(history),
                "steps_run": steps,
                "history": history,
                **feature_statistics(largest_width(tuned)),
            },
        ),
        Scored(
            "svm",
            svm_pred,
            svm_seconds,
            svm_test,
            {
                **common,
                "svm_C": describe_c(svms),
                **feature_statistics(largest_width(frozen)),
            },
        ),
    ]


def run_patchtst(
    job: ClassifyJob, splits: SealedSplits, settings: dict, generator, log_metrics: MetricLogger
) -> list[Scored]:
    """Supervised PatchTST on series resampled to the longest TRAIN series."""
    length = _longest_train(splits)

    def equal(split) -> list:
        if not len(split):
            return []
        x = torch.as_tensor(to_length(split.series, length))  # (N, length)
        return equal_length_groups(x, torch.as_tensor(split.labels))

    started = time.perf_counter()
    architecture = settings["architecture"]
    config = model_class("patchtst").Config(
        lookback=length, horizon=1, n_channels=1, **architecture
    )
    model = classifier_part("patchtst")(config, splits.n_classes).to(resolve_device(job.device))
    training = ClassifierTraining(**settings["training"])
    steps = training.budget(train_values(splits.train.series))
    history = fit_classifier(
        model, equal(splits.train), equal(splits.val), training, generator, steps
    )
    for epoch, row in enumerate(history, start=1):
        log_metrics({f"finetune_{k}": v for k, v in row.items() if k != "epoch"}, epoch)
    train_seconds = time.perf_counter() - started
    test = equal(splits.unseal())
    started = time.perf_counter()
    pred = predict_groups(model, test, training.batch_size).argmax(1).numpy()
    test_seconds = time.perf_counter() - started
    extra = {
        "epochs_run": len(history),
        "steps_run": history[-1]["steps"],
        "history": history,
        "resampled_to": length,
        **feature_statistics(patchtst_features(model, test[0].x, training.batch_size)),
    }
    return [Scored("supervised", pred, train_seconds, test_seconds, extra)]


def patchtst_features(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> np.ndarray:
    """What PatchTST's head sees (the last patch's embedding) for series x: (N, T) -> (N, d)."""
    caught = []
    handle = model.head.register_forward_hook(lambda module, args, out: caught.append(args[0]))
    try:
        predict_logits(model, x, batch_size)
    finally:
        handle.remove()
    return torch.cat(caught).cpu().numpy()


def run_ts2vec(
    job: ClassifyJob, splits: SealedSplits, settings: dict, generator, log_metrics: MetricLogger
) -> list[Scored]:
    """TS2Vec (our implementation) on all of TRAIN, then the SVM protocol on its max-pooled
    representation; series at their own lengths."""
    ts2vec = classifier_part("ts2vec")
    config = ts2vec.TS2VecConfig(**{k: v for k, v in settings.items() if k != "threads"})
    series, labels = _all_train(splits)
    # One padded width for TRAIN and TEST, the archive file's, as the official loader keeps it:
    # the max-pool covers padded steps, so a width per split would shift one against the other.
    width = splits.file_width()
    started = time.perf_counter()
    device = resolve_device(job.device)
    model, losses = ts2vec.fit_ts2vec(series, config, job.seed, device, length=width)
    every = max(1, len(losses) // 50)
    for step in range(0, len(losses), every):
        log_metrics({"pretrain_loss": losses[step]}, step + 1)
    features = ts2vec.encode_series(model, series, config.batch_size, length=width)
    svm = svm_on_features(features, labels)
    train_seconds = time.perf_counter() - started
    test = splits.unseal()
    started = time.perf_counter()
    test_features = ts2vec.encode_series(model, test.series, config.batch_size, length=width)
    pred = svm.predict(test_features)
    extra = {
        "pretrain_steps": len(losses),
        "svm_C": f"{svm.C:g}",
        **feature_statistics(test_features),
    }
    return [Scored("svm", pred, train_seconds, time.perf_counter() - started, extra)]


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
    "ts2vec": run_ts2vec,
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
    return records
