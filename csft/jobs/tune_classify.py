"""One classification tuning study: a learned classifier's recipe searched on one UCR (or
custom) set (config `tuning.classify`). Every trial fits on a stratified part of TRAIN and is
scored on the rest (ucr.validation_fraction, drawn with the trial seed); TEST stays sealed
throughout. A trial's loss is 1 - the validation accuracy of the classifier's first protocol
(CSFT: its fine-tuned head). Every method runs the same trials with the same step budget
(`tuning.classify.steps` on every step budget its recipe has: training, pretraining).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from csft import tracking, tuning
from csft.config import classifier_model
from csft.data.splits import ucr_validation_split
from csft.data.ucr import UCRSplit
from csft.dotted import find_setting
from csft.jobs import classify_run
from csft.jobs.classify import fit_and_score, primary_protocol
from csft.jobs.common import PlainDict, Tracking, check_int, check_mapping, tracking_for
from csft.jobs.tune import run_study
from csft.models.registry import classifier_class, register_config_classifiers
from csft.training.classify import SealedSplits
from csft.training.seeding import seed_everything

STEP_BUDGETS = ("training.steps", "pretraining.steps", "steps")  # where recipes keep theirs


def budgeted(recipe: Mapping, steps: int | None) -> dict:
    """`recipe` with every step budget it has set to `steps` (None: unchanged)."""
    if steps is None:
        return dict(recipe)
    present = [p for p in STEP_BUDGETS if find_setting(recipe, p)[0]]
    return tuning.apply(recipe, {p: steps for p in present})


@dataclass(frozen=True)
class ClassifyTuneSettings(PlainDict):
    """Everything one classification study runs with (`resolve`)."""

    base: classify_run.ClassifySettings  # the job (fixed budget), the recipe budgeted
    space: dict
    trials: int
    sampler_seed: int
    tracking: Tracking

    def __post_init__(self) -> None:
        check_int("ClassifyTuneSettings.trials", self.trials)
        check_mapping("ClassifyTuneSettings.space", self.space)

    def study_key(self) -> dict:
        base = dataclasses.asdict(self.base)
        base.pop("tracking")
        return {"base": base, "space": self.space, "trials": self.trials,
                "sampler_seed": self.sampler_seed}  # fmt: skip

    def study_name(self) -> str:
        job = self.base.job
        return (
            f"{job.name}/{job.dataset}/{job.length_policy}/{tuning.fingerprint(self.study_key())}"
        )

    def official(self) -> dict:
        where = f"tuning.classify.spaces.{self.base.job.name}"
        return tuning.official_params(tuning.space_of(self.space), self.base.recipe, where)


def resolve(config: Mapping, w: Mapping[str, str]) -> ClassifyTuneSettings:
    """The study a rule's wildcards `w` (classifier, name, policy) name."""
    block = config["tuning"]
    seed = int(block.get("seed", config["seeds"][0]))
    base = classify_run.resolve(config, {**dict(w), "selection": "fixed_budget", "seed": str(seed)})
    recipe = budgeted(base.recipe, block.get("classify", {}).get("steps"))
    space = (block.get("classify", {}).get("spaces") or {}).get(w["classifier"], {})
    return ClassifyTuneSettings(
        dataclasses.replace(base, recipe=recipe), dict(space), int(block["trials"]),
        int(block.get("sampler_seed", 0)),
        tracking_for(config, "tuning", f"{w['classifier']}/{w['name']}/{w['policy']}"),
    )  # fmt: skip


def validation_parts(outer: SealedSplits, fraction: float, seed: int) -> tuple[UCRSplit, UCRSplit]:
    """(fit, validation): a stratified split of TRAIN; the job's TEST is in neither."""
    train = outer.train
    fit, held = ucr_validation_split(train.labels, fraction, seed)
    if not len(held):
        raise ValueError(f"{outer.name}: no validation split of TRAIN to tune on")

    def part(indices: np.ndarray) -> UCRSplit:
        return UCRSplit([train.series[i] for i in indices], train.labels[indices])

    return part(fit), part(held)


def trial_loss(
    settings: ClassifyTuneSettings, outer: SealedSplits, parts: tuple[UCRSplit, UCRSplit],
    values, log_metrics,
) -> float:  # fmt: skip
    """Fit under `values` on the fit part (`validation_parts`), the validation part in TEST's
    place (fresh splits each trial: fit_and_score opens that place once); 1 - accuracy."""
    job = settings.base.job
    fit, val = parts
    empty = UCRSplit([], fit.labels[:0])
    splits = SealedSplits(outer.name, outer.n_classes, fit, empty, val)
    recipe = tuning.apply(settings.base.recipe, values)
    classifier = classifier_class(job.model)(job, recipe, seed_everything(job.seed))
    accuracy = {
        s.protocol: float(np.mean(np.asarray(s.predictions) == val.labels))
        for s in fit_and_score(classifier, splits)
    }
    log_metrics({f"val_accuracy_{p}": a for p, a in accuracy.items()})
    return 1.0 - accuracy[primary_protocol(job.model)]


def execute(
    settings: ClassifyTuneSettings, inputs: Mapping[str, str], outputs: Mapping[str, str],
    config: Mapping, journal: str,
) -> None:  # fmt: skip
    """The whole study (csft.jobs.tune.run_study) on the set's sealed splits."""
    register_config_classifiers(config)
    outer, files, _ = classify_run.load_splits(settings.base, inputs, config)
    job = settings.base.job
    parts = validation_parts(outer, settings.base.data.validation_fraction, job.seed)
    run_study(
        settings.study_name(), settings.space, settings.official(), settings.trials,
        settings.sampler_seed, settings.tracking, {**settings.study_key(), "config": config},
        tracking.data_tags(files),
        lambda values, log_metrics: trial_loss(settings, outer, parts, values, log_metrics),
        {
            "classifier": job.name, "model": classifier_model(config, job.name),
            "dataset": job.dataset, "policy": job.length_policy, "seed": job.seed,
            "budget": {"steps": config["tuning"].get("classify", {}).get("steps")},
        },
        outputs, journal,
    )  # fmt: skip
