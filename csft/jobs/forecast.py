"""One forecasting job end to end: data -> (a pretrained encoder) -> fit -> test.

Both forecasting tracks run through here. The main track trains and tests at one look-back.
The variable-length "uf" track trains one model on every look-back of a log2 interval (a new
look-back per batch), selects it on the mean validation MSE over the look-backs it is tested
at, and tests it at those fixed look-backs on the same forecast targets; CSFT's `placement`
(csft.models.placement) says how each look-back meets its grid.
CSFT starts from an encoder pretrained once for every horizon (csft.jobs.pretrain).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from csft import atomic, diagnostics, metrics, tracking, tuning
from csft.config import (
    analysis_settings,
    channels_arm_settings,
    model_settings,
    objectives_arm_settings,
    objectives_block,
    reading_settings,
    uf_eval_lookbacks,
)
from csft.data.custom import CustomDataset
from csft.data.download import sha256_of
from csft.data.ett import CroppedWindows, ETTSeries, RandomLookbackCollate
from csft.data.irregular import Irregular, IrregularSeries
from csft.device import DEVICES, device_of, resolve_device
from csft.jobs import pretrain as pretrain_job
from csft.jobs.common import (
    JobData,
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
from csft.models.csft import CSFT
from csft.models.registry import (
    build_model,
    model_class,
    model_target,
    register,
    register_config_models,
)
from csft.training import forecast
from csft.training.checkpoint import Checkpoint, cpu_weights
from csft.training.pretrain import PretrainConfig
from csft.training.seeding import seed_everything

log = logging.getLogger(__name__)

MODES = ("finetune", "probe")
MetricLogger = Callable[[dict[str, float], int | None], None]
DIAGNOSTIC_BATCH = 32  # validation windows the per-epoch diagnostics are computed on
FEATURE_WINDOWS = 256  # test windows (x channels) whose frozen features the analyses compare


@dataclass(frozen=True)
class ForecastJob:
    """What one job trains and where it is tested."""

    model: str
    dataset: str
    horizon: int
    seed: int
    train_lookbacks: tuple[int, int]  # [low, high): (L, L + 1) on the main track
    eval_lookbacks: tuple[int, ...]
    features: str = "M"
    device: str = "cpu"  # the config's device: auto | cpu | cuda (csft.device)

    def __post_init__(self) -> None:
        for name in ("model", "dataset"):
            value = getattr(self, name)
            check(isinstance(value, str), f"ForecastJob.{name}", value, "a string")
        check_int("ForecastJob.horizon", self.horizon)
        check_int("ForecastJob.seed", self.seed, low=0)
        check_ints("ForecastJob.train_lookbacks", self.train_lookbacks, size=2)
        low, high = self.train_lookbacks
        check(low < high, "ForecastJob.train_lookbacks", self.train_lookbacks, "[low, high)")
        check_ints("ForecastJob.eval_lookbacks", self.eval_lookbacks)
        check_choice("ForecastJob.features", self.features, ("M", "S"))
        check_choice("ForecastJob.device", self.device, DEVICES)

    @property
    def track(self) -> str:
        low, high = self.train_lookbacks
        return "main" if high == low + 1 else "uf"

    @property
    def max_lookback(self) -> int:
        """Windows are cut for this look-back, so shorter ones share their forecast targets."""
        return max(self.train_lookbacks[1] - 1, *self.eval_lookbacks)


@dataclass(frozen=True)
class ForecastSettings(PlainDict):
    """Everything one forecasting job runs with, resolved from the config once (`resolve`) and
    handed from the rule to the job whole, as one plain dict (`to_dict` / `from_dict`)."""

    job: ForecastJob
    architecture: dict  # the model's, its dataset's overrides applied (uf: with the placement)
    training: dict  # the recipe (csft.training.forecast.TrainingConfig)
    pretraining: dict | None  # the recipe of the encoder it fine-tunes; None: no pretraining
    mode: str  # finetune | probe (the pretrained encoder frozen)
    tracking: Tracking
    # irregular sampling (csft.data.irregular): {"p": removed fraction, "method": interpolate |
    # time_aware | none} applied to every input window; None: the series as it is
    irregular: dict | None = None

    def __post_init__(self) -> None:
        check(isinstance(self.job, ForecastJob), "ForecastSettings.job", self.job, "a ForecastJob")
        check_mapping("ForecastSettings.architecture", self.architecture)
        check_recipe("ForecastSettings.training", self.training, forecast.TrainingConfig)
        check_recipe("ForecastSettings.pretraining", self.pretraining, PretrainConfig, True)
        check_choice("ForecastSettings.mode", self.mode, MODES)
        if self.irregular is not None:
            check_mapping("ForecastSettings.irregular", self.irregular)
            Irregular(**self.irregular, seed=self.job.seed)  # a bad p or method fails here

    def params(self) -> dict:
        """What decides the job's result: its MLflow params and its checkpoint's fingerprint."""
        params = {
            "job": dataclasses.asdict(self.job),
            "architecture": dict(self.architecture),
            "training": dict(self.training),
            "pretraining": dict(self.pretraining or {}),
            "mode": self.mode,
        }
        if self.irregular is not None:  # absent otherwise: no other job's params change
            params["irregular"] = dict(self.irregular)
        return params


def resolve(config: Mapping, w: Mapping[str, str]) -> ForecastSettings:
    """The settings of the job a rule's wildcards `w` name: a main-track run (`lookback`), a uf
    run (`low`, `high`, `placement`), an analysis variant (`variant`, analysis look-back) or a
    sensitivity reading of CSFT (`reading`, the stage's look-back), an objectives arm (`arm`,
    `mode`: finetune or probe, the question's look-back), an arm of the channels question
    (`arm` without `mode`: its look-back, every channel); `recipe` "tuned": a
    main-track run of the tuned recipe (the tuning study's best settings are applied by
    `execute`); `fraction` and `method`: the irregular-sampling question's job (model `model`,
    that fraction of time points removed, coped with by `method`; no pretraining)."""
    dataset, horizon, seed = w["dataset"], int(w["horizon"]), int(w["seed"])
    features = config["ett"]["features"]
    irregular = None
    if "fraction" in w:  # open question 2 (docs/open_questions.md): irregular sampling
        lookback = int(config["questions"]["irregular"]["forecast"].get("lookback", 512))
        resolved = irregular_settings(config, w["model"], w["method"], dataset, horizon)
        irregular = {"p": float(w["fraction"]), "method": w["method"]}
        lookbacks = (lookback, lookback + 1), (lookback,)
        part = "questions/irregular"
        name = f"{w['model']}+{w['method']}/p{w['fraction']}/{dataset}/L{lookback}"
    elif "variant" in w:
        lookback = int(config["analysis"]["lookback"])
        resolved = analysis_settings(config, w["variant"], dataset, horizon)
        lookbacks = (lookback, lookback + 1), (lookback,)
        part, name = "ablation", f"{w['variant']}/{dataset}/L{lookback}"
    elif "reading" in w:  # the sensitivity stage: CSFT's recipe under one reading
        lookback = int(config["sensitivity"]["forecast"].get("lookback", 512))
        base = model_settings(config, "csft", dataset, horizon)
        resolved = reading_settings(config, w["reading"], base)
        lookbacks = (lookback, lookback + 1), (lookback,)
        part, name = "sensitivity", f"{w['reading']}/{dataset}/L{lookback}"
    elif "arm" in w and "mode" in w:  # the objectives question: one arm, in `mode`
        lookback = int(objectives_block(config)["forecast"].get("lookback", 512))
        base = model_settings(config, "csft", dataset, horizon)
        resolved = {**objectives_arm_settings(config, w["arm"], base), "mode": w["mode"]}
        lookbacks = (lookback, lookback + 1), (lookback,)
        part, name = "questions/objectives", f"{w['arm']}/{w['mode']}/{dataset}/L{lookback}"
    elif "arm" in w:  # the channels question: CSFT's recipe under one arm, every channel
        lookback = int(config["questions"]["channels"]["lookback"])
        base = model_settings(config, "csft", dataset, horizon)
        resolved = channels_arm_settings(config, w["arm"], base)
        lookbacks = (lookback, lookback + 1), (lookback,)
        part, name, features = "questions/channels", f"{w['arm']}/{dataset}/L{lookback}", "M"
    elif "placement" in w:
        low, high = int(w["low"]), int(w["high"])
        resolved = model_settings(config, w["model"], dataset, horizon)
        resolved["architecture"]["placement"] = w["placement"]
        lookbacks = (low, high), tuple(uf_eval_lookbacks(config, low, high))
        part, name = "forecast", f"{w['model']}/{dataset}/uf{low}-{high}/{w['placement']}"
    else:
        lookback = int(w["lookback"])
        resolved = model_settings(config, w["model"], dataset, horizon)
        lookbacks = (lookback, lookback + 1), (lookback,)
        part, name = "forecast", f"{w['model']}/{dataset}/L{lookback}"
    if w.get("recipe") == "tuned":  # its own runs: the official ones are never replaced
        part, name = "tuning", f"tuned/{name}"
    job = ForecastJob(
        resolved["model"], dataset, horizon, seed, *lookbacks,
        features=features, device=config["device"],
    )  # fmt: skip
    return ForecastSettings(
        job, resolved["architecture"], resolved["training"], resolved["pretraining"],
        resolved["mode"], tracking_for(config, part, f"{name}/H{horizon}/{seed}"), irregular,
    )  # fmt: skip


def irregular_settings(
    config: Mapping, model: str, method: str, dataset: str, horizon: int
) -> dict:
    """`model`'s recipe for the irregular-sampling question: its models.* settings, trained
    from scratch (no self-supervised pretraining: every model and method alike, so only the way
    the input is handled differs), with CSFT's `missing_mask` on for the time-aware method."""
    resolved = model_settings(config, model, dataset, horizon)
    resolved.update(pretraining=None, mode="finetune")
    if method == "time_aware":
        resolved["architecture"]["missing_mask"] = True
    return resolved


@dataclass
class JobResult:
    records: list[dict]  # one per evaluated look-back: test metrics and the job's keys
    history: list[dict]  # fine-tuning, one row per epoch
    examples: dict[str, np.ndarray] = field(default_factory=dict)  # three test windows
    model: torch.nn.Module | None = None
    features: np.ndarray | None = None  # frozen features of a fixed test sample (represent())


def _diagnostics(model: CSFT, windows: Dataset) -> dict[str, float]:
    """Gradient-norm ratios and cross-scale attention entropy on a fixed validation batch."""
    n = min(DIAGNOSTIC_BATCH, len(windows))
    device = device_of(model)
    x = torch.stack([windows[i][0] for i in range(n)]).to(device)  # (n, T, C)
    y = torch.stack([windows[i][1] for i in range(n)]).to(device)  # (n, H, C)
    frozen = not any(p.requires_grad for p in model.encoder.parameters())  # probe mode
    ratios = [] if frozen else diagnostics.gradient_norm_ratios(model, x, y)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        scales = model.encoder(x.transpose(1, 2).reshape(-1, x.shape[1]))  # (n*C, T)
    model.train(was_training)
    return diagnostics.diagnostic_metrics(ratios, diagnostics.attention_entropy(scales))


def test_features(model: torch.nn.Module, windows: Dataset, n_windows: int) -> np.ndarray:
    """Frozen features of the same test series for every model (the shared `represent` API).

    `n_windows` evenly spaced test windows, each channel a univariate series: (n * C, D).
    """
    picks = np.linspace(0, len(windows) - 1, min(n_windows, len(windows))).astype(int)
    x = torch.stack([windows[int(i)][0] for i in picks])  # (n, T, C)
    series = x.transpose(1, 2).reshape(-1, x.shape[1]).to(device_of(model))  # (n*C, T)
    model.eval()
    with torch.no_grad():
        return torch.cat(
            [model.represent(series[i : i + 256]).cpu() for i in range(0, len(series), 256)]
        ).numpy()


def score_test(
    model: torch.nn.Module, series: ETTSeries, job: ForecastJob, config: forecast.TrainingConfig
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The test split, once per look-back of `job`, every window: one record per look-back
    (the job's keys, MSE and MAE normalized and raw, the official drop_last scores when the
    recipe asks) and three example windows. Training jobs and csft.evaluate both score here."""
    windows = series.windows("test", job.horizon)
    placement = getattr(model.config, "placement", "")  # CSFT's; "" for other models
    records, examples = [], {}
    for lookback in job.eval_lookbacks:
        test_windows = CroppedWindows(windows, lookback)
        test = forecast.predict(model, test_windows, config.eval_batch_size)
        raw_pred, raw_true = series.inverse(test.pred), series.inverse(test.true)
        official = {}
        if config.official_test_batch:  # as the official loaders score: last partial batch dropped
            kept = len(test_windows) - len(test_windows) % config.official_test_batch
            official = {
                "test_mse_official": metrics.mse(test.pred[:kept], test.true[:kept]),
                "test_mae_official": metrics.mae(test.pred[:kept], test.true[:kept]),
                "n_test_windows_official": kept,
            }
        records.append(
            {
                "track": job.track,
                "placement": placement,
                "model": job.model,
                "dataset": job.dataset,
                "horizon": job.horizon,
                "seed": job.seed,
                "lookback": lookback,
                "test_mse": metrics.mse(test.pred, test.true),
                "test_mae": metrics.mae(test.pred, test.true),
                "test_mse_raw": metrics.mse(raw_pred, raw_true),
                "test_mae_raw": metrics.mae(raw_pred, raw_true),
                "n_test_windows": len(test_windows),
                **official,
            }
        )
        if not examples:
            picks = [0, len(test_windows) // 2, len(test_windows) - 1]
            examples = {
                "index": np.array(picks),
                "x": np.stack([test_windows[i][0].numpy() for i in picks]),
                "y": test.true[picks],
                "pred": test.pred[picks],
            }
    return records, examples


def fit(
    job: ForecastJob,
    series: ETTSeries,
    architecture: dict,
    training: dict,
    encoder_state: Mapping[str, torch.Tensor] | None = None,
    mode: str = "finetune",
    log_metrics: MetricLogger = lambda metrics, step: None,
    checkpoint: Checkpoint | None = None,
) -> tuple[torch.nn.Module, list[dict]]:
    """Train `job.model` on `series`' train split, selected on its validation split only:
    (the model at its best validation epoch, one history row per epoch). The test split is
    never cut here, so tuning (csft.jobs.tune) fits through this without seeing it.

    A CSFT job starts from `encoder_state`, a pretrained encoder's weights (none: from its
    random initialisation); `mode` "probe" freezes that encoder and trains the linear head
    only. With a `checkpoint`, fitting resumes from its last finished epoch.
    """
    generator = seed_everything(job.seed)
    low, high = job.train_lookbacks
    windows = {split: series.windows(split, job.horizon) for split in ("train", "val")}
    model = build_model(
        job.model, architecture, lookback=low, horizon=job.horizon, n_channels=series.n_channels
    ).to(resolve_device(job.device))
    # Validation: the uf track's model is selected on the mean over every look-back it is
    # tested at (never one of them alone); the main track's on its one look-back.
    config = forecast.TrainingConfig(**training)
    lookbacks = job.eval_lookbacks if job.track == "uf" else (low,)
    thinned = windows["val"].every(config.val_stride)  # 1: every validation window
    val_sets = [CroppedWindows(thinned, lookback) for lookback in lookbacks]
    val = val_sets[len(val_sets) // 2]  # the per-epoch diagnostics' batch
    pretrains = getattr(model, "pretrains", False)  # declared on the class, not by name
    diagnosed = getattr(model, "reports_diagnostics", False)

    if encoder_state is not None:
        if not pretrains:
            raise ValueError(f"{job.model} has no encoder to start from a pretrained one")
        model.encoder.load_state_dict(encoder_state)
    if mode == "probe":
        if encoder_state is None:
            raise ValueError(f"mode 'probe' needs a pretrained encoder; {job.model} has none")
        model.encoder.requires_grad_(False)

    def on_epoch(epoch: int, row: dict[str, float]) -> None:
        if diagnosed and not any(k.startswith(("attn_", "grad_ratio_")) for k in row):
            row.update(_diagnostics(model, val))  # into the row: history.csv carries them
        log_metrics(row, epoch)  # a resumed job replays its saved rows, diagnostics included

    if job.track == "uf":
        train, collate = windows["train"], RandomLookbackCollate(low, high, generator)
    else:
        train, collate = CroppedWindows(windows["train"], low), None
    history = forecast.train(
        model, train, val_sets, config, generator, on_epoch, collate_fn=collate,
        checkpoint=checkpoint,
    )  # fmt: skip
    return model, history


def run(
    job: ForecastJob,
    series: ETTSeries,
    architecture: dict,
    training: dict,
    encoder_state: Mapping[str, torch.Tensor] | None = None,
    mode: str = "finetune",
    log_metrics: MetricLogger = lambda metrics, step: None,
    checkpoint: Checkpoint | None = None,
) -> JobResult:
    """Train `job.model` on `series` (loaded for `job.max_lookback`) as `fit` does, then test
    once per look-back: the test split is scored only after the model is selected."""
    model, history = fit(
        job, series, architecture, training, encoder_state, mode, log_metrics, checkpoint
    )
    config = forecast.TrainingConfig(**training)
    records, examples = score_test(model, series, job, config)
    for record in records:
        record.update(
            best_val_loss=min(row["val_loss"] for row in history), epochs_run=len(history)
        )
        log.info("test at look-back %d: %s", record["lookback"], record)
    features = None
    if hasattr(model, "represent"):
        windows_at = CroppedWindows(series.windows("test", job.horizon), job.eval_lookbacks[0])
        features = test_features(model, windows_at, FEATURE_WINDOWS)
    return JobResult(records, history, examples, model, features)


MODEL_FORMAT = 1  # of the saved model file; a change of layout bumps it


def save_model(
    path: str | os.PathLike, model: torch.nn.Module, job: ForecastJob, training: Mapping,
    data_sha256: str, custom: CustomDataset | None = None,
) -> None:  # fmt: skip
    """The fitted model's final weights (best validation epoch) with everything that rebuilds
    and rescores it: its resolved config, the job, the recipe, the data's SHA-256 (and a custom
    dataset's file and split rule). Only tensors, strings and numbers, so `load_model` reads it
    with weights_only=True."""
    payload = {
        "model_target": model_target(job.model),  # "module:Class": a plugin rebuilds too
        "custom_dataset": None if custom is None else dataclasses.asdict(custom),
        "format": MODEL_FORMAT,
        "model_config": dataclasses.asdict(model.config),
        "job": dataclasses.asdict(job),  # tuples survive a weights_only load
        "training": dict(training),
        "data_sha256": data_sha256,
        "state": cpu_weights(model),
    }  # fmt: skip
    with atomic.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(
    path: str | os.PathLike, payload: dict | None = None
) -> tuple[torch.nn.Module, ForecastJob, dict, dict]:
    """(model in eval mode, its job, its training recipe, the payload) from `save_model`'s file
    (`payload`: its contents, when the caller has read them already)."""
    if payload is None:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a saved forecaster of format {MODEL_FORMAT}")
    job = ForecastJob(**payload["job"])
    register(job.model, payload["model_target"])  # a plugin model, known from its file
    cls = model_class(job.model)
    model = cls(cls.Config(**payload["model_config"]))
    model.load_state_dict(payload["state"])
    return model.eval(), job, payload["training"], payload


def load_pretrained(settings: ForecastSettings, path: str | None, n_channels: int) -> dict | None:
    """The payload of the encoder this job fine-tunes (None without one), refused if it was
    pretrained under other settings than the job's."""
    if path is None:
        return None
    job, uf = settings.job, settings.job.track == "uf"
    pretrain = pretrain_job.PretrainJob(
        job.dataset, job.train_lookbacks[0], job.seed, job.features,
        interval=job.train_lookbacks if uf else None,
        eval_lookbacks=job.eval_lookbacks if uf else (),
    )  # fmt: skip
    shared = pretrain_job.encoder_settings(pretrain, settings.architecture, n_channels)
    payload = pretrain_job.load_encoder(path, shared)
    payload["tags"] = {
        "pretrained.encoder": str(path),
        "pretrained.sha256": sha256_of(path),
        "pretrained.mlflow_run_id": payload["mlflow_run_id"],
    }
    return payload


def summary_metrics(result: JobResult, track: str, seconds: float, pretrained: dict | None) -> dict:
    """The run's final metrics: time, size, each look-back's test scores (suffixed _L<T> on the
    uf track), the best validation loss and the epochs run."""
    summary = {"train_seconds": seconds, "n_parameters": n_parameters(result.model)}
    if pretrained:  # the shared pretraining's time, apart: train_seconds is this job's own
        summary["pretrain_seconds"] = pretrained["seconds"]
    for record in result.records:
        suffix = "" if track == "main" else f"_L{record['lookback']}"
        summary.update(
            {f"{k}{suffix}": v for k, v in record.items() if k.startswith(("test_", "n_test"))}
        )
    summary.update(best_val_loss=result.records[0]["best_val_loss"], epochs_run=len(result.history))
    return summary


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def write_features(path: str, result: JobResult, model: str) -> None:
    """The frozen test features the analyses compare, and their statistics as metrics."""
    if result.features is None:
        raise ValueError(f"{model} has no represent(): no features to analyse")
    statistics = diagnostics.feature_correlation(result.features)
    statistics["pca_fraction_80"] = diagnostics.components_for_variance(result.features)
    tracking.log_metrics({f"feature_{k}": v for k, v in statistics.items()})
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, features=result.features)


def write_outputs(
    outputs: Mapping[str, str], settings: ForecastSettings, result: JobResult, data: JobData,
    run_id: str, seconds: float,
) -> None:  # fmt: skip
    """The fitted model (also an MLflow artifact), test examples, features (the analyses'
    jobs), history and the per-look-back metrics records."""
    job = settings.job
    save_model(outputs["model"], result.model, job, settings.training, data.sha256, data.custom)
    tracking.log_artifact(outputs["model"])
    with atomic.atomic_path(outputs["examples"]) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **result.examples)
    if "features" in outputs:
        write_features(outputs["features"], result, job.model)
    write_history(outputs["history"], result.history)
    extra = {"train_seconds": seconds, "n_parameters": n_parameters(result.model)}
    if settings.irregular is not None:
        extra.update(missing_p=settings.irregular["p"], missing_method=settings.irregular["method"])
    records = [{**r, **extra, "mlflow_run_id": run_id} for r in result.records]
    atomic.write_text(outputs["metrics"], json.dumps(records, indent=2, sort_keys=True))


def execute(
    settings: ForecastSettings, inputs: Mapping[str, str], outputs: Mapping[str, str],
    config: Mapping, checkpoint_path: str,
) -> None:  # fmt: skip
    """The whole job: data (`inputs` csv, and encoder when it fine-tunes one) -> fit -> test,
    everything logged to one MLflow run (the pretraining's history replayed as pretrain_*, so
    every run shows its whole training) and written to `outputs`. A killed job resumes from
    its checkpoint, made for the same settings, data and encoder only. With `inputs["best"]`
    (a tuning study's best settings, csft.jobs.tune) it trains the tuned recipe."""
    register_config_models(config)  # models of your own (models.<name>.class)
    job, tuned_tags = settings.job, {"recipe": "official"}
    if inputs.get("best"):
        identity = {"model": job.model, "dataset": job.dataset, "lookback": job.train_lookbacks[0]}
        changed, tuned_tags = tuning.tuned(settings.to_dict(), inputs["best"], identity)
        settings = ForecastSettings.from_dict(changed)
    data = load_data(inputs["csv"], job.dataset, job.max_lookback, job.features, config)
    if settings.irregular is not None:  # the input windows lose their removed points
        irregular = Irregular(**settings.irregular, seed=job.seed)
        data = dataclasses.replace(data, series=IrregularSeries.of(data.series, irregular))
    pretrained = load_pretrained(settings, inputs.get("encoder"), data.series.n_channels)
    pretrained_tags = pretrained["tags"] if pretrained else {}
    inputs_sha256 = {"pretrained": pretrained_tags.get("pretrained.sha256"), "data": data.sha256}
    checkpoint = Checkpoint(checkpoint_path, {**settings.params(), **inputs_sha256})
    with settings.tracking.start(
        params={**settings.params(), "config": config},
        tags={
            "track": job.track,
            **device_tags(job.device),
            **data.tags,
            **pretrained_tags,
            **tuned_tags,
        },
    ) as mlflow_run:
        tracking.log_dict(config, "config.yaml")
        for epoch, row in enumerate(pretrained["history"] if pretrained else [], start=1):
            tracking.log_metrics({f"pretrain_{k}": v for k, v in row.items()}, step=epoch)
        started = time.perf_counter()
        result = run(
            job, data.series, dict(settings.architecture), dict(settings.training),
            pretrained["state"] if pretrained else None, settings.mode,
            lambda values, step: tracking.log_metrics(values, step=step), checkpoint,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        resolved = dataclasses.asdict(result.model.config)
        tracking.log_params({f"resolved_model.{k}": v for k, v in resolved.items()})
        tracking.log_metrics(summary_metrics(result, job.track, seconds, pretrained))
        write_outputs(outputs, settings, result, data, mlflow_run.info.run_id, seconds)
    checkpoint.remove()  # every output is written
