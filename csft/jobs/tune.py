"""One tuning study end to end: a forecaster's recipe searched on one dataset and look-back
(config `tuning`), every trial trained on the train split and scored on the validation split
only, the mean best validation MSE over the stage's horizons; the best settings written for the
training rules that run the tuned recipe (`recipe: tuned`).

Every method gets the same number of trials and the same per-trial budget (`tuning.budget`,
applied to every trial's training recipe); a model that pretrains (CSFT) pretrains its encoder
inside each trial under the trial's settings, with its configured pretraining recipe, since
that is part of its method. TEST is never cut: trials fit through csft.jobs.forecast.fit.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from csft import atomic, tracking, tuning
from csft.config import tuned_recipe, uses_pretraining
from csft.jobs import forecast as forecast_job
from csft.jobs import pretrain as pretrain_job
from csft.jobs.common import (
    PlainDict,
    Tracking,
    check,
    check_choice,
    check_int,
    check_ints,
    check_mapping,
    device_tags,
    load_data,
    tracking_for,
)
from csft.models.registry import register_config_models

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuneSettings(PlainDict):
    """Everything one study runs with, resolved from the config once (`resolve`)."""

    model: str
    dataset: str
    lookback: int
    horizons: tuple[int, ...]
    seed: int  # every trial's training seed
    features: str
    device: str
    recipes: dict  # str(horizon) -> {architecture, training (budget applied), pretraining, mode}
    space: dict  # dotted setting path -> its search-space entry, as in the config
    trials: int
    sampler_seed: int
    tracking: Tracking

    def __post_init__(self) -> None:
        check(isinstance(self.model, str), "TuneSettings.model", self.model, "a string")
        check_int("TuneSettings.lookback", self.lookback)
        check_ints("TuneSettings.horizons", self.horizons)
        check_int("TuneSettings.seed", self.seed, low=0)
        check_int("TuneSettings.trials", self.trials)
        check_int("TuneSettings.sampler_seed", self.sampler_seed, low=0)
        check_choice("TuneSettings.features", self.features, ("M", "S"))
        check_mapping("TuneSettings.recipes", self.recipes)
        check_mapping("TuneSettings.space", self.space)
        missing = [h for h in self.horizons if str(h) not in self.recipes]
        check(not missing, "TuneSettings.recipes", sorted(self.recipes), f"horizons {missing}")

    def study_key(self) -> dict:
        """What decides the study's trials (its fingerprint names it in the journal)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "tracking"}

    def study_name(self) -> str:
        key = tuning.fingerprint(self.study_key())
        return f"{self.model}/{self.dataset}/L{self.lookback}/{key}"

    def official(self) -> dict:
        """Trial 0: the recipe's own value of every searched setting."""
        first = self.recipes[str(self.horizons[0])]
        where = f"tuning.spaces.{self.model}"
        return tuning.official_params(tuning.space_of(self.space), first, where)


def resolve(config: Mapping, w: Mapping[str, str]) -> TuneSettings:
    """The study a rule's wildcards `w` (model, dataset, lookback) name."""
    block = config["tuning"]
    model, dataset, lookback = w["model"], w["dataset"], int(w["lookback"])
    horizons = tuple(block["forecast"]["horizons"])
    return TuneSettings(
        model, dataset, lookback, horizons, int(block.get("seed", config["seeds"][0])),
        config["ett"]["features"], config["device"],
        {str(h): tuned_recipe(config, model, dataset, h) for h in horizons},
        dict(block["spaces"].get(model, {})), int(block["trials"]),
        int(block.get("sampler_seed", 0)),
        tracking_for(config, "tuning", f"{model}/{dataset}/L{lookback}"),
    )  # fmt: skip


def trial_loss(settings: TuneSettings, series, params: Mapping, log_metrics) -> float:
    """One trial: (pretrain under `params`, then) fit at every horizon; the mean over horizons
    of the best validation loss. `log_metrics(values)` receives each horizon's loss."""
    first = tuning.apply(settings.recipes[str(settings.horizons[0])], params)
    encoder_state = None
    if uses_pretraining(settings.model, first):
        job = pretrain_job.PretrainJob(
            settings.dataset, settings.lookback, settings.seed, settings.features, settings.device
        )
        encoder, _ = pretrain_job.run(job, series, first["architecture"], first["pretraining"])
        encoder_state = encoder.state_dict()
    losses = {}
    for horizon in settings.horizons:
        recipe = tuning.apply(settings.recipes[str(horizon)], params)
        job = forecast_job.ForecastJob(
            settings.model, settings.dataset, horizon, settings.seed,
            (settings.lookback, settings.lookback + 1), (settings.lookback,),
            features=settings.features, device=settings.device,
        )  # fmt: skip
        _, history = forecast_job.fit(
            job, series, dict(recipe["architecture"]), dict(recipe["training"]),
            encoder_state, recipe["mode"],
        )  # fmt: skip
        losses[f"val_loss_H{horizon}"] = min(row["val_loss"] for row in history)
    log_metrics(losses)
    return float(np.mean(list(losses.values())))


def run_study(
    name: str, space_spec: Mapping, official: Mapping, trials: int, sampler_seed: int,
    where: Tracking, params: Mapping, tags: Mapping[str, str], trial_loss_of, summary: dict,
    outputs: Mapping[str, str], journal: str,
) -> None:  # fmt: skip
    """A study as a job: one MLflow run (`where`, with `params` and `tags`) with a nested run
    per trial, resumed from `journal` when killed; `trial_loss_of(params, log_metrics)` is one
    trial's validation loss. Writes the best settings with `summary` (`outputs["best"]`) and
    every trial (`outputs["trials"]`)."""
    import mlflow

    space = tuning.space_of(space_spec)
    study = tuning.open_study(journal, name, sampler_seed)
    with where.start(params=params, tags={"study": name, **tags}) as parent:

        def objective(number: int, values: dict) -> float:
            with mlflow.start_run(
                run_name=f"trial {number}",
                nested=True,
                experiment_id=parent.info.experiment_id,  # else the Default experiment
            ):
                tracking.set_tags({"trial": str(number), "official": str(number == 0).lower()})
                tracking.log_params(values)
                started = time.perf_counter()
                loss = trial_loss_of(values, tracking.log_metrics)
                seconds = time.perf_counter() - started
                tracking.log_metrics({"val_loss": loss, "trial_seconds": seconds})
                log.info("trial %d: val_loss %.6f in %.1f s, %s", number, loss, seconds, values)
                return loss

        tuning.search(study, space, official, trials, objective)
        summary = {
            **tuning.best_summary(study, official), **summary, "space": dict(space_spec),
            "sampler_seed": sampler_seed, "mlflow_run_id": parent.info.run_id,
        }  # fmt: skip
        tracking.log_metrics({"best_val_loss": summary["best_value"]})
        tracking.log_params({f"best.{k}": v for k, v in summary["best_params"].items()})
    table = study.trials_dataframe(attrs=("number", "value", "state", "duration", "params"))
    atomic.write_text(outputs["trials"], table.to_csv(index=False))
    atomic.write_text(outputs["best"], json.dumps(summary, indent=2, sort_keys=True))


def execute(
    settings: TuneSettings, inputs: Mapping[str, str], outputs: Mapping[str, str],
    config: Mapping, journal: str,
) -> None:  # fmt: skip
    """The whole forecasting study (`run_study`) on the `inputs` csv."""
    register_config_models(config)
    data = load_data(inputs["csv"], settings.dataset, settings.lookback, settings.features, config)
    run_study(
        settings.study_name(), settings.space, settings.official(), settings.trials,
        settings.sampler_seed, settings.tracking, {**settings.study_key(), "config": config},
        {**device_tags(settings.device), **data.tags},
        lambda values, log_metrics: trial_loss(settings, data.series, values, log_metrics),
        {
            "model": settings.model, "dataset": settings.dataset, "lookback": settings.lookback,
            "horizons": list(settings.horizons), "seed": settings.seed,
            "budget": dict(config["tuning"].get("budget", {})),
        },
        outputs, journal,
    )  # fmt: skip
