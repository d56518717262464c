"""A classification job as the workflow runs it: its settings resolved from the config once
(`resolve`), handed from the rule whole as one plain dict, and `execute` (data -> sealed splits
-> csft.jobs.classify.run_keeping -> one MLflow run per method -> metrics.json and model.pt,
which `load_classifier` reads back for python -m csft.evaluate)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from csft import atomic, tracking, tuning
from csft.config import (
    classifier_model,
    classify_settings,
    objectives_arm_settings,
    reading_settings,
)
from csft.data.custom_classification import custom_classification
from csft.data.download import sha256_of
from csft.data.irregular import Irregular, remove_from_series
from csft.data.ucr import load_ucr, scale
from csft.device import DEVICES, describe, resolve_device
from csft.jobs.classify import ClassifyJob, method_name, primary_protocol, run_keeping
from csft.jobs.common import (
    PlainDict,
    Tracking,
    check,
    check_choice,
    check_int,
    tracking_for,
)
from csft.models.registry import (
    classifier_class,
    classifier_target,
    register_classifier,
    register_config_classifiers,
)
from csft.training.classify import lengthen_short, seal

log = logging.getLogger(__name__)

SUMMARY_KEYS = ("test_accuracy", "n_test", "train_seconds", "test_seconds")


@dataclass(frozen=True)
class DataProtocol:
    """How every classifier's series are prepared: the config's `ucr` block and CSFT's
    min_length (short series are lengthened for every model alike)."""

    scaling: str
    min_length: int
    short_series: str
    missing_values: str
    validation_fraction: float

    def __post_init__(self) -> None:
        check_choice("ucr.scaling", self.scaling, ("archive", "per_series"))
        check_int("models.csft.architecture.min_length", self.min_length)
        check_choice("ucr.short_series", self.short_series, ("resample", "error"))
        check_choice("ucr.missing_values", self.missing_values, ("interpolate", "error"))
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"ucr.validation_fraction: expected a number in (0, 1), "
                f"got {self.validation_fraction!r}"
            )


@dataclass(frozen=True)
class ClassifySettings(PlainDict):
    """Everything one classification job runs with."""

    job: ClassifyJob
    recipe: dict  # the classifier's settings (csft.config.classify_settings)
    data: DataProtocol
    tracking: Tracking  # run_name: "<dataset>/<seed>", each method's run prefixes its name
    # irregular sampling (csft.data.irregular): {"p", "method"} applied to every series (TRAIN
    # and TEST); None: the series as they are
    irregular: dict | None = None

    def __post_init__(self) -> None:
        check_int("ClassifyJob.seed", self.job.seed, low=0)
        check_choice("ClassifyJob.device", self.job.device, DEVICES)
        check(isinstance(self.recipe, dict), "ClassifySettings.recipe", self.recipe, "a mapping")
        if self.irregular is not None:
            Irregular(**self.irregular, seed=self.job.seed)  # a bad p or method fails here

    def params(self) -> dict:
        """What decides the job's result: its MLflow params."""
        job = self.job
        validation_seed = job.seed if job.selection == "validation" else None
        ucr = {**dataclasses.asdict(self.data), "validation_seed": validation_seed}
        params = {"job": dataclasses.asdict(job), "settings": dict(self.recipe), "ucr": ucr}
        if self.irregular is not None:  # absent otherwise: no other job's params change
            params["irregular"] = dict(self.irregular)
        return params


def data_protocol(config: Mapping) -> DataProtocol:
    """The config's data protocol, as every classification job reads it."""
    ucr = config["ucr"]
    return DataProtocol(
        ucr["scaling"],
        config["models"]["csft"]["architecture"]["min_length"],
        ucr["short_series"],
        ucr["missing_values"],
        ucr["validation_fraction"],
    )


def resolve(config: Mapping, w: Mapping[str, str], threads: int = 1) -> ClassifySettings:
    """The settings of the job a rule's wildcards `w` name (classifier, name, policy,
    selection, seed; a sensitivity job's `reading` or an objectives job's `arm` too; `recipe`
    "tuned": a job of the tuned recipe, whose best settings `execute` applies; `fraction` and
    `method`: the irregular-sampling question's job, CSFT's `missing_mask` on for method
    time_aware)."""
    model = classifier_model(config, w["classifier"])
    job = ClassifyJob(
        model, w["name"], w["policy"], int(w["seed"]), config["device"],
        selection=w["selection"], name=w["classifier"],
    )  # fmt: skip
    data = data_protocol(config)
    recipe = classify_settings(config, w["classifier"], threads)
    where = tracking_for(config, "classify", f"{w['name']}/{job.seed}")
    if w.get("recipe") == "tuned":  # runs of its own: the official ones are never replaced
        where = tracking_for(config, "tuning", f"tuned/{w['name']}/{job.seed}")
    if "reading" in w:  # the sensitivity stage: CSFT's recipe under one reading
        recipe = reading_settings(config, w["reading"], recipe)
        where = tracking_for(config, "sensitivity", f"{w['reading']}/{w['name']}/{job.seed}")
    if "arm" in w:  # the objectives question: CSFT's recipe under one arm
        recipe = objectives_arm_settings(config, w["arm"], recipe)
        where = tracking_for(config, "questions/objectives", f"{w['arm']}/{w['name']}/{job.seed}")
    irregular = None
    if "fraction" in w:  # open question 2 (docs/open_questions.md): irregular sampling
        irregular = {"p": float(w["fraction"]), "method": w["method"]}
        if w["method"] == "time_aware":
            recipe["architecture"] = {**recipe["architecture"], "missing_mask": True}
        where = tracking_for(
            config, "questions/irregular",
            f"{w['classifier']}+{w['method']}/p{w['fraction']}/{w['name']}/{job.seed}",
        )  # fmt: skip
    return ClassifySettings(job, recipe, data, where, irregular)


def load_splits(settings: ClassifySettings, inputs: Mapping[str, str], config: Mapping):
    """The sealed splits of the job's dataset (UCR or the config's own files), with the files it
    read as {relpath: path} for the data tags, and the custom dataset (None for UCR)."""
    job, data = settings.job, settings.data
    custom = custom_classification(config).get(job.dataset)
    paths = {"TRAIN": inputs["train"], "TEST": inputs["test"]}
    if custom is None:
        dataset = load_ucr(Path(paths["TRAIN"]).parents[2], job.dataset, data.missing_values)
        dataset = scale(dataset, data.scaling)
        where = {split: f"UCR {job.dataset}" for split in paths}
        files = {f"UCR/{job.dataset}/{job.dataset}_{s}.tsv": p for s, p in paths.items()}
    else:  # your own files: unnormalised, hashed here, not pinned
        dataset = scale(custom.load(data.missing_values), data.scaling, normalized=False)
        where, files = paths, custom.relpaths()
    prepare_series(dataset, data, settings.irregular, job.seed, job.dataset, where)
    splits = seal(dataset, job.selection, data.validation_fraction, job.seed)
    return splits, files, custom


def prepare_series(
    dataset, data: DataProtocol, irregular: dict | None, seed: int, name: str, where: Mapping
) -> None:
    """Lengthen short series, then remove time points if the job asks (after scaling: the
    archive's own, by default), in place on both splits; `where` names each split's source in
    errors."""
    for split, part in (("TRAIN", dataset.train), ("TEST", dataset.test)):
        part.series = lengthen_short(part.series, data.min_length, data.short_series, where[split])
        if irregular is not None:
            removal = Irregular(**irregular, seed=seed)
            part.series = remove_from_series(part.series, removal, name, split)


def _log_record(record: dict) -> None:
    """The metrics and tags every classification run shares."""
    tracking.log_metrics({key: record[key] for key in SUMMARY_KEYS})
    tags = {key: record[key] for key in ("method", "protocol", "length_policy", "selection")}
    if "svm_C" in record:
        tags["svm.C"] = record["svm_C"]  # the chosen C ("inf": a hard margin, no search)
    tracking.set_tags(tags)


def execute(
    settings: ClassifySettings, inputs: Mapping[str, str], outputs: Mapping[str, str],
    config: Mapping,
) -> None:  # fmt: skip
    """The whole job: fit with TEST sealed, score TEST once, one MLflow run per method (CSFT's
    SVM gets its own, with the pretraining history it shares), records to outputs['metrics'].
    With `inputs["best"]` (csft.jobs.tune_classify's best settings) it runs the tuned recipe."""
    register_config_classifiers(config)  # classifiers of your own (classifiers.<name>)
    job, tuned_tags = settings.job, {"recipe": "official"}
    if inputs.get("best"):  # the tuned recipe: a tuning study's best settings
        identity = {"classifier": job.name, "dataset": job.dataset}
        recipe, tuned_tags = tuning.tuned(settings.recipe, inputs["best"], identity)
        settings = dataclasses.replace(settings, recipe=recipe)
    splits, files, custom = load_splits(settings, inputs, config)
    uses_torch = classifier_class(job.model).uses_torch
    device = describe(resolve_device(job.device)) if uses_torch else "cpu"
    tags = {**tracking.data_tags(files), "device": device, **tuned_tags}
    params = {
        **settings.params(),
        "custom_classification": dataclasses.asdict(custom) if custom else None,
        "config": dict(config),
    }

    def start(method: str):
        where = dataclasses.replace(
            settings.tracking, run_name=f"{method}/{settings.tracking.run_name}"
        )
        return where.start(params, tags)

    pretrain_rows = []

    def log_metrics(values, step):
        tracking.log_metrics(values, step=step)
        if any(key.startswith("pretrain_") for key in values):
            pretrain_rows.append((step, values))

    with start(method_name(job, primary_protocol(job.model))) as mlflow_run:
        tracking.log_dict(config, "config.yaml")
        records, classifier = run_keeping(job, splits, dict(settings.recipe), log_metrics)
        _log_record(records[0])
        records[0]["mlflow_run_id"] = mlflow_run.info.run_id
        entry = (config.get("custom_classification") or {}).get(job.dataset)
        save_classifier(outputs["model"], classifier, settings, files, entry)
        tracking.log_artifact(outputs["model"])
    for record in records[1:]:  # CSFT's SVM: a run of its own, with the pretraining it shares
        with start(record["method"]) as mlflow_run:
            for step, values in pretrain_rows:
                tracking.log_metrics(values, step=step)
            _log_record(record)
            record["mlflow_run_id"] = mlflow_run.info.run_id
    for record in records:
        record.pop("history", None)  # per-epoch rows live in MLflow
        if settings.irregular is not None:
            irregular = settings.irregular
            record.update(missing_p=irregular["p"], missing_method=irregular["method"])
    atomic.write_text(outputs["metrics"], json.dumps(records, indent=2, sort_keys=True))


MODEL_FORMAT = 1  # of the saved classifier file; a change of layout bumps it


def save_classifier(
    path: str | os.PathLike, classifier, settings: ClassifySettings,
    files: Mapping[str, str], custom_entry: Mapping | None,
) -> None:  # fmt: skip
    """The fitted classifier (`fitted_state()`) with everything that rebuilds and rescores it:
    its class, the job's settings, the SHA-256 of each data file ({relpath: path}) and a custom
    dataset's config entry. A classifier of your own without fitted_state() gets a file that
    says so (state None), and python -m csft.evaluate refuses it by name."""
    try:
        state, missing = classifier.fitted_state(), None
    except NotImplementedError as error:
        state, missing = None, str(error)
        log.warning("%s: the fitted classifier is not saved (%s)", path, error)
    payload = {
        "format": MODEL_FORMAT,
        "task": "classify",
        "classifier_target": classifier_target(settings.job.model),
        "settings": settings.to_dict(),
        "custom_classification": None if custom_entry is None else dict(custom_entry),
        "data_sha256": {relpath: sha256_of(file) for relpath, file in files.items()},
        "state": state,
        "not_saved": missing,
    }
    with atomic.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_classifier(path: str | os.PathLike, payload: Mapping):
    """(the fitted classifier, its settings) from `save_classifier`'s payload (read from `path`
    with weights_only=True)."""
    if payload.get("format") != MODEL_FORMAT or payload.get("task") != "classify":
        raise ValueError(f"{path}: not a saved classifier of format {MODEL_FORMAT}")
    if payload["state"] is None:
        raise ValueError(f"{path}: the classifier was not saved ({payload['not_saved']})")
    model = payload["settings"]["job"]["model"]
    register_classifier(model, payload["classifier_target"])  # a plugin, known from its file
    settings = ClassifySettings.from_dict(payload["settings"])
    classifier = classifier_class(model)(settings.job, dict(settings.recipe))
    classifier.load_fitted(payload["state"], str(path))
    return classifier, settings
