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
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from csft import atomic, diagnostics, metrics
from csft.data.custom import CustomDataset
from csft.data.ett import CroppedWindows, ETTSeries, RandomLookbackCollate
from csft.device import device_of, resolve_device
from csft.models.csft import CSFT
from csft.models.registry import build_model, model_class, model_target, register
from csft.training import forecast
from csft.training.checkpoint import Checkpoint
from csft.training.seeding import seed_everything

log = logging.getLogger(__name__)

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

    @property
    def track(self) -> str:
        low, high = self.train_lookbacks
        return "main" if high == low + 1 else "uf"

    @property
    def max_lookback(self) -> int:
        """Windows are cut for this look-back, so shorter ones share their forecast targets."""
        return max(self.train_lookbacks[1] - 1, *self.eval_lookbacks)


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
    """Train `job.model` on `series` (loaded for `job.max_lookback`), test once per look-back.

    A CSFT job starts from `encoder_state`, a pretrained encoder's weights (none: from its
    random initialisation); `mode` "probe" freezes that encoder and trains the linear head
    only. With a `checkpoint`, fitting resumes from its last finished epoch.
    """
    generator = seed_everything(job.seed)
    low, high = job.train_lookbacks
    windows = {split: series.windows(split, job.horizon) for split in ("train", "val", "test")}
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

    records, examples = score_test(model, series, job, config)
    for record in records:
        record.update(
            best_val_loss=min(row["val_loss"] for row in history), epochs_run=len(history)
        )
        log.info("test at look-back %d: %s", record["lookback"], record)
    features = None
    if hasattr(model, "represent"):
        windows_at = CroppedWindows(windows["test"], job.eval_lookbacks[0])
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
        "state": {key: value.cpu() for key, value in model.state_dict().items()},
    }  # fmt: skip
    with atomic.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: str | os.PathLike) -> tuple[torch.nn.Module, ForecastJob, dict, dict]:
    """(model in eval mode, its job, its training recipe, the payload) from `save_model`'s file."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a saved forecaster of format {MODEL_FORMAT}")
    job = ForecastJob(**payload["job"])
    register(job.model, payload["model_target"])  # a plugin model, known from its file
    cls = model_class(job.model)
    model = cls(cls.Config(**payload["model_config"]))
    model.load_state_dict(payload["state"])
    return model.eval(), job, payload["training"], payload
