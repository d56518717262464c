"""One encoder pretraining on an ETT set, shared by every forecasting job that fine-tunes it.

Self-supervised pretraining never sees a forecast target, so its result cannot depend on the
horizon: one job per (model settings, dataset, look-back, seed) pretrains on every look-back
window of the training split (early stopping on every look-back window of the validation
split), and the jobs of every horizon, and of both forecasting tracks, fine-tune a copy. The
paper's protocol (four horizons) thus pretrains once where it pretrained four times.

The encoder travels as a file holding only tensors, strings and numbers, read back with
`torch.load(weights_only=True)`, and with the settings it was pretrained under, so a job whose
own settings differ is refused instead of fine-tuning the wrong encoder.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from csft import atomic, tracking, tuning
from csft.config import pretraining_settings, uf_eval_lookbacks
from csft.data.ett import CroppedWindows, ETTSeries, RandomLookbackCollate
from csft.device import DEVICES, resolve_device
from csft.jobs.common import (
    PlainDict,
    Tracking,
    check,
    check_choice,
    check_int,
    check_ints,
    check_mapping,
    check_recipe,
    device_tags,
    load_data,
    tracking_for,
    write_history,
)
from csft.models.csft import CSFTConfig, CSFTEncoder
from csft.training.checkpoint import Checkpoint, cpu_weights
from csft.training.pretrain import PretrainConfig, pretrain, window_batches
from csft.training.seeding import seed_everything

FORMAT = 1  # of the saved file; a change of layout bumps it
# Architecture keys of what sits between the encoder and the head: no part of an encoder's
# identity, so forecasters that differ only there fine-tune the same encoder file.
HEAD_KEYS = ("channel_mixing", "individual_head")


@dataclass(frozen=True)
class PretrainJob:
    """Which encoder one job pretrains: on `dataset` at `lookback`, with `seed`.

    With an `interval` [low, high) (the uf track; `lookback` is then low) it pretrains on the
    lengths its fine-tuned model serves: each training batch a look-back drawn from the
    interval (seeded), validation the mean over `eval_lookbacks`, under the architecture's
    placement, as fine-tuning does.
    """

    dataset: str
    lookback: int
    seed: int
    features: str = "M"
    device: str = "cpu"  # the config's device: auto | cpu | cuda (csft.device)
    interval: tuple[int, int] | None = None
    eval_lookbacks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check(isinstance(self.dataset, str), "PretrainJob.dataset", self.dataset, "a string")
        check_int("PretrainJob.lookback", self.lookback)
        check_int("PretrainJob.seed", self.seed, low=0)
        check_choice("PretrainJob.features", self.features, ("M", "S"))
        check_choice("PretrainJob.device", self.device, DEVICES)
        if self.interval is not None:
            check_ints("PretrainJob.interval", self.interval, size=2)
            check_ints("PretrainJob.eval_lookbacks", self.eval_lookbacks)
            low, high = self.interval
            if low != self.lookback or not low < high:
                raise ValueError(
                    f"interval {self.interval} must be [lookback={self.lookback}, high)"
                )
            outside = [t for t in self.eval_lookbacks if not low <= t < high]
            if not self.eval_lookbacks or outside:
                raise ValueError(
                    f"eval_lookbacks {list(self.eval_lookbacks)} must be non-empty and inside "
                    f"the interval [{low}, {high})"
                )

    @property
    def max_lookback(self) -> int:
        """Windows are cut for this look-back; shorter ones are their last points."""
        if self.interval is None:
            return self.lookback
        return max(self.interval[1] - 1, *self.eval_lookbacks)


@dataclass(frozen=True)
class PretrainSettings(PlainDict):
    """Everything one pretraining job runs with, resolved from the config once (`resolve`) and
    handed from the rule to the job whole, as one plain dict (`to_dict` / `from_dict`)."""

    job: PretrainJob
    architecture: dict  # the model's for this dataset (uf: with the placement)
    pretraining: dict  # the recipe (csft.training.pretrain.PretrainConfig)
    tracking: Tracking

    def __post_init__(self) -> None:
        check(isinstance(self.job, PretrainJob), "PretrainSettings.job", self.job, "a PretrainJob")
        check_mapping("PretrainSettings.architecture", self.architecture)
        check_recipe("PretrainSettings.pretraining", self.pretraining, PretrainConfig)

    def params(self) -> dict:
        """What decides the encoder: its MLflow params and its checkpoint's fingerprint."""
        return {
            "job": dataclasses.asdict(self.job),
            "architecture": dict(self.architecture),
            "pretraining": dict(self.pretraining),
        }


def resolve(config: Mapping, w: Mapping[str, str]) -> PretrainSettings:
    """The settings of the pretraining a rule's wildcards `w` name: a model's or analysis
    variant's encoder (`group`, `name`, `lookback`) or a uf one (`model`, `low`, `high`,
    `placement`), pretrained on the interval's lengths under that placement."""
    dataset, seed, features = w["dataset"], int(w["seed"]), config["ett"]["features"]
    if "placement" in w:
        low, high = int(w["low"]), int(w["high"])
        resolved = pretraining_settings(config, "forecast_uf", w["model"], dataset, w["placement"])
        job = PretrainJob(
            dataset, low, seed, features, config["device"], interval=(low, high),
            eval_lookbacks=tuple(uf_eval_lookbacks(config, low, high)),
        )  # fmt: skip
        name = f"forecast_uf/{w['model']}/{dataset}/I{low}-{high}/{w['placement']}"
    else:
        resolved = pretraining_settings(config, w["group"], w["name"], dataset)
        features = "M" if w["group"] == "channels" else features  # every channel, as its jobs
        job = PretrainJob(dataset, int(w["lookback"]), seed, features, config["device"])
        name = f"{w['group']}/{w['name']}/{dataset}/L{job.lookback}"
    return PretrainSettings(
        job, resolved["architecture"], resolved["pretraining"],
        tracking_for(config, "pretrain", f"{name}/{seed}"),
    )  # fmt: skip


class IntervalBatches:
    """`pretrain`'s batches for an interval: training batches each cropped to a look-back drawn
    from [low, high) (seeded); evaluation every window at each of `eval_lookbacks` in turn."""

    def __init__(self, low: int, high: int, eval_lookbacks: tuple[int, ...]):
        self.low, self.high, self.eval_lookbacks = low, high, eval_lookbacks

    def __call__(self, windows, batch_size: int, training: bool, generator):
        if training:
            return DataLoader(
                windows,
                batch_size,
                shuffle=True,
                generator=generator,
                drop_last=True,
                collate_fn=RandomLookbackCollate(self.low, self.high, generator),
            )
        return _Chained(
            [
                DataLoader(CroppedWindows(windows, lookback), batch_size, shuffle=False)
                for lookback in self.eval_lookbacks
            ]
        )


class _Chained:
    """Several loaders one after the other, with a length (evaluation checks it)."""

    def __init__(self, loaders: list[DataLoader]):
        self.loaders = loaders

    def __len__(self) -> int:
        return sum(len(loader) for loader in self.loaders)

    def __iter__(self):
        return itertools.chain.from_iterable(self.loaders)


def encoder_settings(job: PretrainJob, architecture: Mapping, n_channels: int) -> dict:
    """What a fine-tuning job must share with the encoder it starts from (not what sits
    between the encoder and the head: HEAD_KEYS)."""
    return {
        "dataset": job.dataset,
        "features": job.features,
        "lookback": job.lookback,
        "interval": list(job.interval) if job.interval else None,
        "n_channels": n_channels,
        "seed": job.seed,
        "architecture": {k: v for k, v in architecture.items() if k not in HEAD_KEYS},
    }


def run(
    job: PretrainJob,
    series: ETTSeries,
    architecture: Mapping,
    pretraining: Mapping,
    on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, row: None,
    checkpoint: Checkpoint | None = None,
) -> tuple[CSFTEncoder, list[dict[str, float]]]:
    """Pretrain a CSFT encoder for `job.lookback` (or its interval) on `series` (loaded at
    `job.max_lookback`); returns it (best validation epoch restored) and the history."""
    generator = seed_everything(job.seed)
    config = CSFTConfig(
        lookback=job.lookback, horizon=1, n_channels=series.n_channels, **architecture
    )
    encoder = CSFTEncoder(config).to(resolve_device(job.device))
    if series.lookback != job.max_lookback:
        raise ValueError(
            f"series loaded at look-back {series.lookback}; this job needs {job.max_lookback}"
        )
    batches = window_batches
    if job.interval is not None:
        batches = IntervalBatches(*job.interval, job.eval_lookbacks)
    recipe = PretrainConfig(**pretraining)
    history = pretrain(
        encoder,
        series.windows("train", 0),  # look-backs only: (B, T, C) with an empty target
        series.windows("val", 0).every(recipe.val_stride),
        recipe,
        generator,
        on_epoch,
        batches=batches,
        checkpoint=checkpoint,
    )
    return encoder, history


def save_encoder(
    path: str | os.PathLike,
    encoder: CSFTEncoder,
    settings: Mapping,
    history: list[dict[str, float]],
    mlflow_run_id: str,
    seconds: float,
) -> None:
    """Write the encoder's weights, settings, history, MLflow run and pretraining time
    atomically."""
    payload = {
        "format": FORMAT,
        "settings": dict(settings),
        "state": cpu_weights(encoder),
        "history": history,
        "mlflow_run_id": mlflow_run_id,
        "seconds": float(seconds),
    }
    with atomic.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_encoder(path: str | os.PathLike, settings: Mapping) -> dict:
    """The saved payload of `path` (weights-only load), checked against this job's `settings`.

    Raises ValueError naming every setting that differs: fine-tuning an encoder pretrained
    for other data or another architecture would fail late or, worse, silently.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a pretrained encoder of format {FORMAT}; rerun its job")
    saved = payload["settings"]
    keys = set(saved) | set(settings)
    differ = sorted(key for key in keys if saved.get(key) != settings.get(key))
    if differ:
        details = "; ".join(f"{key}: {saved.get(key)!r} != {settings.get(key)!r}" for key in differ)
        raise ValueError(
            f"{path} was pretrained with other settings than this job's ({details}); "
            "rerun the pretraining (snakemake --forcerun pretrain_encoder)"
        )
    return payload


def execute(
    settings: PretrainSettings, inputs: Mapping[str, str], outputs: Mapping[str, str],
    config: Mapping, checkpoint_path: str,
) -> None:  # fmt: skip
    """The whole job: pretrain on `inputs` csv, log the run to MLflow's `pretrain` experiment,
    write the encoder (with the settings a fine-tuning job must share) and its history. A
    killed job resumes from its checkpoint, made for the same settings and data only. With
    `inputs["best"]` (a tuning study's best settings) it pretrains under the tuned recipe."""
    job, tuned_tags = settings.job, {"recipe": "official"}
    if inputs.get("best"):
        identity = {"dataset": job.dataset, "lookback": job.lookback}
        changed, tuned_tags = tuning.tuned(
            settings.to_dict(), inputs["best"], identity, ("architecture", "pretraining")
        )
        settings = PretrainSettings.from_dict(changed)
    data = load_data(inputs["csv"], job.dataset, job.max_lookback, job.features, config)
    shared = encoder_settings(job, settings.architecture, data.series.n_channels)
    checkpoint = Checkpoint(checkpoint_path, {**settings.params(), "data": data.sha256})
    with settings.tracking.start(
        params={**settings.params(), "config": config},
        tags={**device_tags(job.device), **data.tags, **tuned_tags},
    ) as mlflow_run:
        tracking.log_dict(config, "config.yaml")
        started = time.perf_counter()
        encoder, history = run(
            job, data.series, dict(settings.architecture), dict(settings.pretraining),
            on_epoch=lambda epoch, row: tracking.log_metrics(
                {f"pretrain_{k}": v for k, v in row.items()}, step=epoch
            ),
            checkpoint=checkpoint,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        tracking.log_metrics(
            {
                "pretrain_seconds": seconds,
                "pretrain_epochs": len(history),
                "n_parameters": sum(p.numel() for p in encoder.parameters()),
            }
        )
        write_history(outputs["history"], history)
        save_encoder(outputs["encoder"], encoder, shared, history, mlflow_run.info.run_id, seconds)
    checkpoint.remove()  # every output is written
