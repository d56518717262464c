"""What a study costs before it runs: jobs per rule, predicted CPU- (or GPU-) hours per rule.

    python -m csft.cost [TARGET ...] [--configfile config/quick.yaml ...]
                        [--device cpu|cuda] [--cores 2] [--measure]
                        [--write-profile workflow/profiles/slurm/config.yaml]

The jobs are Snakemake's own: `snakemake -n --forceall` lists every job of the config (done or
not; only those the TARGETs need where given, as in a check's own command), parsed here per rule
and wildcards. Each training job's work comes from its resolved
recipe (csft.config, the same functions the rules call): epochs x batches per epoch of training
steps plus the validation and test windows it scores. A short benchmark times one training step
and one scored window of every distinct model shape on this machine (one torch thread, as every
job runs) and caches the times per machine in results/cost/step_times.json. The prediction is an
upper bound on training (early stopping only shortens it) and only as good as the machine was
idle while it was measured. `--write-profile` sets the SLURM profile's runtime per rule from
the same numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import platform
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

from csft.config import (
    add_synthetic_datasets,
    analysis_settings,
    channels_arm_settings,
    classifier_model,
    classify_settings,
    fill_architectures,
    model_settings,
    pretraining_settings,
    reading_settings,
    resolve_architecture,
    resolve_training,
    uses_pretraining,
)
from csft.data.custom import CustomDataset, custom_datasets
from csft.data.splits import ett_segments
from csft.data.synthetic import KINDS as SYNTHETIC_KINDS
from csft.data.synthetic import SyntheticSpec
from csft.models import registry
from csft.models.registry import classifier_class

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = "config/config.yaml"  # the Snakefile's configfile: loaded under every other
CACHE = Path("results/cost/step_times.json")
SAFETY = 2.0  # the SLURM runtime of a rule: its longest predicted job x this
ETT_CHANNELS = {"M": 7, "S": 1}
EVAL_BATCH_CAP = 256  # a scored window's time is measured on at most this many at once
# Rules that train nothing: seconds per job, stated (not measured; seconds on a laptop).
SMALL_RULE_SECONDS = {
    "download_ett": 5,
    "download_ucr_archive": 120,
    "extract_ucr": 5,
    "prepare_ucr": 5,
    "forecast_table": 10,
    "forecast_figures": 30,
    "uf_figure": 10,
    "classify_table": 10,
    "classify_figures": 15,
    "analysis_tables": 60,
    "claims_table": 5,
    "all": 0,
}
# Non-torch classifiers, stated rates (aeon on one core): MiniRocket per value x kernel,
# DTW-1NN per cell of the warping band over every train x test pair.
MINIROCKET_SECONDS = 1e-9
DTW_CELL_SECONDS = 3e-9
RULE_LINE = re.compile(r"^(local)?rule (\w+):$")


# ---------------------------------------------------------------- jobs: Snakemake's dry run
def dry_run_text(
    configfiles: list[str], snakemake: str | None = None, targets: Sequence[str] = ()
) -> str:
    """`snakemake -n --forceall` of the config (and targets: the default `all` without them):
    every job, whether or not its output exists."""
    exe = snakemake or str(Path(sys.executable).with_name("snakemake"))
    command = [exe, *targets, "-n", "--forceall", "--nolock"]
    if configfiles:
        command += ["--configfile", *configfiles]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def parse_dry_run(text: str) -> pd.DataFrame:
    """One row per job block of a dry run: rule, wildcards (a dict, {} for none) and whether
    it is a local rule (run where Snakemake runs, never submitted to SLURM)."""
    rows = []
    for line in text.splitlines():
        found = RULE_LINE.match(line) if not line.startswith(" ") else None
        if found:
            rows.append({"rule": found.group(2), "wildcards": {}, "local": bool(found.group(1))})
        elif rows and line.strip().startswith("wildcards:"):
            pairs = line.split(":", 1)[1].split(",")
            rows[-1]["wildcards"] = dict(p.strip().split("=", 1) for p in pairs if "=" in p)
    return pd.DataFrame(rows, columns=["rule", "wildcards", "local"])


def local_rules(snakefile: Path = ROOT / "Snakefile") -> set[str]:
    """The Snakefile's `localrules:` (a local executor's dry run prints them as plain rules)."""
    found = re.search(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", snakefile.read_text(), re.M)
    return set(re.findall(r"\w+", found.group(1))) if found else set()


def load_config(configfiles: list[str]) -> dict:
    """The config as Snakemake merges it: config/config.yaml, then each --configfile on top,
    then the schema's defaults (architectures: their Config dataclasses')."""
    from snakemake.utils import update_config, validate

    config: dict = {}
    for path in [DEFAULT_CONFIG, *configfiles]:
        update_config(config, yaml.safe_load((ROOT / path).read_text()))
    validate(config, str(SCHEMA))
    fill_architectures(config)
    add_synthetic_datasets(config)  # as check_config does in the Snakefile
    return config


# ---------------------------------------------------------------- what one job does
@dataclasses.dataclass(frozen=True)
class Probe:
    """One shape to time: a training step of `batch` and a scored window (at `eval_batch`)."""

    kind: str  # forecast | pretrain | ts2vec
    model: str
    architecture: str  # JSON, sorted keys
    lookback: int  # the model is built for this look-back
    length: int  # and fed series of this length (the uf track's longest)
    horizon: int
    channels: int
    batch: int
    eval_batch: int

    def key(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


@dataclasses.dataclass
class Work:
    """A job's work on one probe: training steps and scored windows."""

    probe: Probe
    steps: int
    windows: int


def probe(kind, model, architecture, lookback, horizon, channels, batch, eval_batch, length=None):
    return Probe(
        kind,
        model,
        json.dumps(dict(architecture), sort_keys=True),
        int(lookback),
        int(length or lookback),
        int(horizon),
        int(channels),
        int(batch),
        int(min(eval_batch, EVAL_BATCH_CAP)),
    )


def steps_per_epoch(n_windows: int, batch_size: int, max_batches: int) -> int:
    """Full training batches (drop_last), capped by max_batches_per_epoch when > 0."""
    steps = n_windows // batch_size
    return min(steps, max_batches) if max_batches > 0 else steps


def forecast_work(
    model: str,
    dataset: str,
    lookbacks: tuple[int, int],
    eval_lookbacks: list[int],
    horizon: int,
    architecture: Mapping,
    training: Mapping,
    channels: int,
    splits: Callable[[int], dict] | None = None,
    tested: bool = True,
) -> list[Work]:
    """A fine-tuning job: epochs x (training steps + validation windows), then (`tested`)
    every test window once per evaluated look-back. Windows are cut at the longest look-back."""
    from csft.training.forecast import TrainingConfig

    recipe = TrainingConfig(**training)
    low, high = lookbacks
    longest = max(high - 1, *eval_lookbacks)
    segments = (splits or (lambda t: ett_segments(dataset, t)))(longest)
    train = segments["train"].n_windows(longest, horizon)
    val = math.ceil(segments["val"].n_windows(longest, horizon) / recipe.val_stride)
    test = segments["test"].n_windows(longest, horizon) if tested else 0
    steps = recipe.epochs * steps_per_epoch(train, recipe.batch_size, recipe.max_batches_per_epoch)
    windows = len(eval_lookbacks) * (recipe.epochs * val + test)
    shape = probe(
        "forecast",
        model,
        architecture,
        low,
        horizon,
        channels,
        recipe.batch_size,
        recipe.eval_batch_size,
        length=longest,
    )
    return [Work(shape, steps, windows)]


def pretrain_work(
    dataset: str,
    lookback: int,
    longest: int,
    n_eval: int,
    architecture: Mapping,
    pretraining: Mapping,
    channels: int,
    splits: Callable[[int], dict] | None = None,
) -> list[Work]:
    """An encoder pretraining: epochs x (SSL steps + validation windows at each look-back)."""
    from csft.training.pretrain import PretrainConfig

    recipe = PretrainConfig(**pretraining)
    segments = (splits or (lambda t: ett_segments(dataset, t)))(longest)
    train = segments["train"].n_windows(longest, 0)
    val = math.ceil(segments["val"].n_windows(longest, 0) / recipe.val_stride)
    steps = recipe.epochs * steps_per_epoch(train, recipe.batch_size, recipe.max_batches_per_epoch)
    shape = probe(
        "pretrain",
        "csft",
        architecture,
        lookback,
        1,
        channels,
        recipe.batch_size,
        recipe.batch_size,
        length=longest,
    )
    return [Work(shape, steps, recipe.epochs * val * max(1, n_eval))]


def uf_interval(config: Mapping, low: int, high: int) -> list[int]:
    """The eval look-backs of the uf interval [low, high)."""
    for interval in config["forecast_uf"]["intervals"]:
        if (interval["low"], interval["high"]) == (low, high):
            return list(interval["eval_lookbacks"])
    raise ValueError(f"no uf interval [{low}, {high}) in the config")


@functools.cache
def _file_shape(dataset: CustomDataset, features: str) -> tuple[int, int]:
    """(rows, channels) of a custom dataset's file, read once."""
    return dataset.read(features).shape


def _shape(config: Mapping, custom: CustomDataset, features: str) -> tuple[int, int]:
    """(rows, channels) of a custom dataset; a synthetic set of the channels question from its
    settings while its file is not written yet."""
    if custom.name in SYNTHETIC_KINDS and not Path(custom.path).is_file():
        spec = SyntheticSpec.from_config(config["questions"]["channels"].get("synthetic", {}))
        return spec.rows, spec.n_channels if features == "M" else 1
    return _file_shape(custom, features)


def split_segments(config: Mapping, dataset: str, lookback: int) -> dict:
    """The split segments of an ETT set or of a custom dataset (its file's rows)."""
    custom = custom_datasets(config).get(dataset)
    if custom is None:
        return ett_segments(dataset, lookback)
    rows, _ = _shape(config, custom, config["ett"]["features"])
    return custom.segments(rows, lookback)


def channels_of(config: Mapping, dataset: str = "", features: str = "") -> int:
    """Channels of a dataset under `features` (default: the config's ett.features)."""
    features = features or config["ett"]["features"]
    custom = custom_datasets(config).get(dataset)
    if custom is None:
        return ETT_CHANNELS[features]
    return _shape(config, custom, features)[1]


def work_train_forecast(config, w) -> list[Work]:
    settings = config["models"][w["model"]]
    dataset, horizon, lookback = w["dataset"], int(w["horizon"]), int(w["lookback"])
    return forecast_work(
        w["model"],
        dataset,
        (lookback, lookback + 1),
        [lookback],
        horizon,
        resolve_architecture(settings, dataset, horizon),
        resolve_training(settings, dataset, horizon),
        channels_of(config, w["dataset"]),
        lambda t: split_segments(config, w["dataset"], t),
    )


def work_train_forecast_uf(config, w) -> list[Work]:
    settings = config["models"][w["model"]]
    dataset, horizon = w["dataset"], int(w["horizon"])
    low, high = int(w["low"]), int(w["high"])
    architecture = {
        **resolve_architecture(settings, dataset, horizon),
        "placement": w["placement"],
    }
    return forecast_work(
        w["model"],
        dataset,
        (low, high),
        uf_interval(config, low, high),
        horizon,
        architecture,
        resolve_training(settings, dataset, horizon),
        channels_of(config, w["dataset"]),
        lambda t: split_segments(config, w["dataset"], t),
    )


def work_train_analysis(config, w) -> list[Work]:
    job = analysis_settings(config, w["variant"], w["dataset"], int(w["horizon"]))
    return fixed_lookback_work(config, w, job, config["analysis"]["lookback"])


def work_train_sensitivity(config, w) -> list[Work]:
    base = model_settings(config, "csft", w["dataset"], int(w["horizon"]))
    job = reading_settings(config, w["reading"], base)
    return fixed_lookback_work(config, w, job, config["sensitivity"]["forecast"]["lookback"])


def work_train_channels(config, w) -> list[Work]:
    base = model_settings(config, "csft", w["dataset"], int(w["horizon"]))
    job = channels_arm_settings(config, w["arm"], base)
    lookback = config["questions"]["channels"]["lookback"]
    return fixed_lookback_work(config, w, job, lookback, features="M")  # every channel


def work_resolved_forecast(config, w) -> list[Work]:
    """A question's forecasting job (objectives arm, irregular fraction), resolved as the job
    itself resolves it, so the prediction follows any setting the question changes."""
    from csft.jobs import forecast as forecast_job

    settings = forecast_job.resolve(config, w)
    job = settings.job
    return forecast_work(
        job.model,
        job.dataset,
        job.train_lookbacks,
        list(job.eval_lookbacks),
        job.horizon,
        settings.architecture,
        settings.training,
        channels_of(config, job.dataset, job.features),
        lambda t: split_segments(config, job.dataset, t),
    )


def work_classify_objectives(config, w) -> list[Work] | float:
    from csft.config import objectives_arm_settings

    settings = objectives_arm_settings(config, w["arm"], classify_settings(config, "csft"))
    return classify_work("csft", w["name"], settings)


def fixed_lookback_work(config, w, job: Mapping, lookback: int, features: str = "") -> list[Work]:
    """A forecasting job of resolved settings `job` trained and tested at one look-back."""
    return forecast_work(
        job["model"],
        w["dataset"],
        (lookback, lookback + 1),
        [lookback],
        int(w["horizon"]),
        job["architecture"],
        job["training"],
        channels_of(config, w["dataset"], features),
        lambda t: split_segments(config, w["dataset"], t),
    )


def work_tune_forecast(config, w) -> list[Work]:
    """A study: every trial pretrains (a model that does) and fits each tuning horizon under
    the per-trial budget, never tested. Timed with the official architecture (trial 0)."""
    from csft.jobs import tune

    settings = tune.resolve(config, w)
    channels = channels_of(config, w["dataset"])
    work: list[Work] = []
    first = settings.recipes[str(settings.horizons[0])]
    if uses_pretraining(settings.model, first):
        work += pretrain_work(
            w["dataset"], settings.lookback, settings.lookback, 1, first["architecture"],
            first["pretraining"], channels, lambda t: split_segments(config, w["dataset"], t),
        )  # fmt: skip
    for horizon in settings.horizons:
        recipe = settings.recipes[str(horizon)]
        work += forecast_work(
            settings.model, w["dataset"], (settings.lookback, settings.lookback + 1),
            [settings.lookback], horizon, recipe["architecture"], recipe["training"], channels,
            lambda t: split_segments(config, w["dataset"], t), tested=False,
        )  # fmt: skip
    return [Work(i.probe, i.steps * settings.trials, i.windows * settings.trials) for i in work]


def work_pretrain_encoder(config, w) -> list[Work]:
    job = pretraining_settings(config, w["group"], w["name"], w["dataset"])
    lookback = int(w["lookback"])
    features = "M" if w["group"] == "channels" else ""  # the channels question: every channel
    return pretrain_work(
        w["dataset"],
        lookback,
        lookback,
        1,
        job["architecture"],
        job["pretraining"],
        channels_of(config, w["dataset"], features),
        lambda t: split_segments(config, w["dataset"], t),
    )


def work_pretrain_encoder_uf(config, w) -> list[Work]:
    job = pretraining_settings(config, "forecast_uf", w["model"], w["dataset"], w["placement"])
    low, high = int(w["low"]), int(w["high"])
    evals = uf_interval(config, low, high)
    return pretrain_work(
        w["dataset"],
        low,
        max(high - 1, *evals),
        len(evals),
        job["architecture"],
        job["pretraining"],
        channels_of(config, w["dataset"]),
        lambda t: split_segments(config, w["dataset"], t),
    )


def work_boundary_lengths(config, w) -> list[Work]:
    """One encoder per seed pretrained on every length (timed at the longest, an upper bound)."""
    track = config["analysis"]
    lengths = track["lengths"]
    architecture = {**config["models"]["csft"]["architecture"], **lengths["architecture"]}
    seeds = track.get("seeds", config["seeds"])
    longest = max(lengths["lengths"])
    work = pretrain_work(
        track["dataset"],
        longest,
        longest,
        1,
        architecture,
        lengths["pretraining"],
        channels_of(config, track["dataset"]),
        lambda t: split_segments(config, track["dataset"], t),
    )
    return [Work(item.probe, item.steps * len(seeds), item.windows * len(seeds)) for item in work]


def length_bucket(length: int) -> int:
    """UCR lengths rounded up to a quarter octave (at most 19% longer): the full study's ~100
    distinct lengths share ~30 measurements, each an upper bound for its datasets."""
    return math.ceil(2 ** (math.ceil(4 * math.log2(max(length, 1)) - 1e-9) / 4))


def ucr_shape(name: str) -> dict:
    """Sizes of UCR dataset `name` from the shipped archive table."""
    from csft.data import ucr_catalog

    row = ucr_catalog.archive().loc[name]
    return {
        "train": int(row["train_size"]),
        "test": int(row["test_size"]),
        "length": int(row["max_length"]),
        "timed_length": length_bucket(int(row["max_length"])),
    }


def work_train_classify(config, w) -> list[Work] | float:
    model = classifier_model(config, w["classifier"])
    return classify_work(model, w["name"], classify_settings(config, w["classifier"]))


def work_tune_classify(config, w) -> list[Work] | float:
    """A classification study: its trials, each the classifier's work under the equal step
    budget (timed on all of TRAIN, an upper bound: a trial fits on part of it)."""
    from csft.jobs import tune_classify

    settings = tune_classify.resolve(config, w)
    work = classify_work(settings.base.job.model, w["name"], settings.base.recipe)
    if isinstance(work, float):
        return work * settings.trials
    return [Work(i.probe, i.steps * settings.trials, i.windows * settings.trials) for i in work]


def work_classify_sensitivity(config, w) -> list[Work] | float:
    settings = reading_settings(config, w["reading"], classify_settings(config, "csft"))
    return classify_work("csft", w["name"], settings)


def classify_work(model: str, name: str, settings: Mapping) -> list[Work] | float:
    """Neural classifiers: their step budgets on series of the longest length (CSFT: SSL
    pretraining, then fine-tuning); TS2Vec its budget; MiniRocket and DTW-1NN stated rates."""
    from csft.training.classify import step_budget

    shape = ucr_shape(name)
    n_values = shape["train"] * shape["length"]
    scored = 3 * (shape["train"] + shape["test"])  # features of TRAIN, TEST, fine-tuned TEST
    if model == "minirocket":
        kernels = settings.get("n_kernels", 10_000)
        return MINIROCKET_SECONDS * kernels * (shape["train"] + shape["test"]) * shape["length"]
    if model == "dtw_1nn":
        band = 2 * settings.get("window", 1.0) * shape["length"] + 1
        return DTW_CELL_SECONDS * shape["train"] * shape["test"] * shape["length"] * band
    if model == "ts2vec":
        TS2VecConfig = registry.classifier_part("ts2vec").TS2VecConfig  # noqa: N806

        recipe = TS2VecConfig(**{k: v for k, v in settings.items() if k != "threads"})
        length = min(shape["timed_length"], recipe.max_train_length or shape["timed_length"])
        steps = step_budget(recipe.steps, n_values, "ts2vec")
        item = probe("ts2vec", "ts2vec", settings, length, 1, 1, recipe.batch_size, 1)
        return [Work(item, steps, 0)]
    architecture = settings["architecture"]
    length = max(shape["timed_length"], architecture.get("min_length", 0))
    training = settings["training"]
    batch = training.get("batch_size", 8)
    steps = step_budget(training.get("steps", "auto"), n_values, "training")
    work = [Work(probe("forecast", model, architecture, length, 1, 1, batch, batch), steps, scored)]
    if model == "csft":
        recipe = settings["pretraining"]
        pre_batch = recipe.get("batch_size", 8)
        pre_steps = step_budget(recipe.get("steps", "auto"), n_values, "pretraining")
        work.append(
            Work(
                probe("pretrain", "csft", architecture, length, 1, 1, pre_batch, pre_batch),
                pre_steps,
                0,
            )
        )
    return work


WORK: dict[str, Callable] = {
    "train_forecast": work_train_forecast,
    "train_tuned": work_train_forecast,  # timed with the official recipe (unknown before tuning)
    "tune_forecast": work_tune_forecast,
    "tune_classify": work_tune_classify,
    "classify_tuned": work_train_classify,  # timed with the official recipe
    "train_forecast_uf": work_train_forecast_uf,
    "train_analysis": work_train_analysis,
    "pretrain_encoder": work_pretrain_encoder,
    "pretrain_encoder_uf": work_pretrain_encoder_uf,
    "boundary_lengths": work_boundary_lengths,
    "train_classify": work_train_classify,
    "train_sensitivity": work_train_sensitivity,
    "train_channels": work_train_channels,
    "classify_sensitivity": work_classify_sensitivity,
    "pretrain_objectives": lambda config, w: work_pretrain_encoder(
        config, {**w, "group": "objectives", "name": w["arm"]}
    ),
    "train_objectives": work_resolved_forecast,
    "classify_objectives": work_classify_objectives,
    "train_irregular": work_resolved_forecast,
    "classify_irregular": work_train_classify,
}


def job_work(config: Mapping, rule: str, wildcards: Mapping) -> list[Work] | float:
    """A job's work items, or its seconds when nothing is timed (the small rules)."""
    if rule in WORK:
        return WORK[rule](config, wildcards)
    return float(SMALL_RULE_SECONDS.get(rule, 10))


def uses_accelerator(config: Mapping, rule: str, wildcards: Mapping) -> bool:
    """Whether the job would ask for a GPU (torch rules), as the rules' `gpu` resource does."""
    if rule in ("train_classify", "tune_classify", "classify_tuned"):
        return classifier_class(classifier_model(config, wildcards["classifier"])).uses_torch
    return rule in WORK


# ---------------------------------------------------------------- the short benchmark
def machine_key(device: str) -> str:
    """Measurements are valid for this machine, torch build, thread count and device only."""
    import torch

    return (
        f"{platform.node()}|{platform.machine()}|{platform.processor() or '-'}|"
        f"cpus={os.cpu_count()}|threads=1|torch={torch.__version__}|device={device}"
    )


def _timed(step: Callable[[], None], repeats: int, sync: Callable[[], None]) -> float:
    """Median seconds of `step` after one untimed warm-up."""
    step()
    sync()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def measure_probe(item: Probe, device: str, repeats: int = 3) -> dict[str, float]:
    """Seconds of one training step and of one scored window of `item`, on random data."""
    import torch

    torch.set_num_threads(1)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    architecture = json.loads(item.architecture)
    if item.kind == "ts2vec":
        return {"train_step": _ts2vec_step(item, architecture, device), "eval_window": 0.0}
    if item.kind == "pretrain":
        train, score = _pretrain_steps(item, architecture, device)
    else:
        train, score = _forecast_steps(item, architecture, device)
    return {
        "train_step": _timed(train, repeats, sync),
        "eval_window": _timed(score, repeats, sync) / item.eval_batch,
    }


def _forecast_steps(item: Probe, architecture: dict, device: str):
    import torch

    from csft.models.registry import build_model

    model = build_model(
        item.model,
        architecture,
        lookback=item.lookback,
        horizon=item.horizon,
        n_channels=item.channels,
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(item.batch, item.length, item.channels, device=device)
    y = torch.randn(item.batch, item.horizon, item.channels, device=device)
    x_eval = torch.randn(item.eval_batch, item.length, item.channels, device=device)

    def train():
        model.train()
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()

    def score():
        model.eval()
        with torch.no_grad():
            model(x_eval)

    return train, score


def _pretrain_steps(item: Probe, architecture: dict, device: str):
    import torch

    from csft.models.csft import CSFTConfig, CSFTEncoder
    from csft.models.objectives import ReconstructionDecoders, SSLConfig, ssl_loss
    from csft.training.pretrain import as_series

    config = CSFTConfig(lookback=item.lookback, horizon=1, n_channels=item.channels, **architecture)
    encoder = CSFTEncoder(config).to(device)
    decoders = ReconstructionDecoders(config).to(device)
    optimizer = torch.optim.AdamW([*encoder.parameters(), *decoders.parameters()], lr=1e-3)
    series = as_series(torch.randn(item.batch, item.length, item.channels, device=device))
    scored = as_series(torch.randn(item.eval_batch, item.length, item.channels, device=device))

    def train():
        optimizer.zero_grad()
        ssl_loss(encoder, decoders, series, SSLConfig())[0].backward()
        optimizer.step()

    def score():
        with torch.no_grad():
            ssl_loss(encoder, decoders, scored, SSLConfig())

    return train, score


def _ts2vec_step(item: Probe, settings: dict, device: str, steps: int = 4) -> float:
    """TS2Vec's seconds per step: its own fit on random series of the probe's length."""
    import numpy as np

    ts2vec = registry.classifier_part("ts2vec")  # csft reaches baselines through the registry
    TS2VecConfig, fit_ts2vec = ts2vec.TS2VecConfig, ts2vec.fit_ts2vec  # noqa: N806

    settings = {k: v for k, v in settings.items() if k != "threads"}
    config = TS2VecConfig(**{**settings, "steps": steps})
    series = [np.random.default_rng(0).standard_normal(item.length) for _ in range(4 * item.batch)]
    fit_ts2vec(series, dataclasses.replace(config, steps=1), 0, device)  # warm-up
    started = time.perf_counter()
    fit_ts2vec(series, config, 0, device)
    return (time.perf_counter() - started) / steps


def step_times(
    probes: list[Probe],
    device: str,
    cache: Path = CACHE,
    remeasure: bool = False,
    measure: Callable[[Probe, str], dict] | None = None,
) -> dict[str, dict[str, float]]:
    """Measured times of every probe, from the per-machine cache where present."""
    measure = measure or measure_probe
    key = machine_key(device)
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    known = {} if remeasure else stored.get(key, {})
    for index, item in enumerate(probes):
        if item.key() in known:
            continue
        print(
            f"measuring {index + 1}/{len(probes)}: {item.kind} {item.model} "
            f"T={item.length} B={item.batch}",
            file=sys.stderr,
            flush=True,
        )
        known[item.key()] = {**measure(item, device), "measured": time.strftime("%Y-%m-%d %H:%M")}
        stored[key] = known
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(stored, indent=1, sort_keys=True))
    return known


# ---------------------------------------------------------------- prediction
def job_table(
    configfiles: list[str], text: str | None = None, targets: Sequence[str] = ()
) -> tuple[pd.DataFrame, dict]:
    """Every job of the config (that the targets need) with its work (work items, or fixed
    seconds)."""
    config = load_config(configfiles)
    if text is None:
        text = dry_run_text(configfiles, targets=targets)
    jobs = parse_dry_run(text)
    jobs["local"] = jobs["local"].astype(bool) | jobs["rule"].isin(local_rules())
    jobs["work"] = [
        job_work(config, r, w) for r, w in zip(jobs["rule"], jobs["wildcards"], strict=True)
    ]
    jobs["accelerator"] = [
        uses_accelerator(config, r, w) for r, w in zip(jobs["rule"], jobs["wildcards"], strict=True)
    ]
    return jobs, config


def distinct_probes(jobs: pd.DataFrame) -> list[Probe]:
    seen: dict[str, Probe] = {}
    for work in jobs["work"]:
        for item in work if isinstance(work, list) else []:
            seen.setdefault(item.probe.key(), item.probe)
    return sorted(seen.values(), key=lambda p: (p.kind, p.model, p.length, p.batch))


def job_seconds(work: list[Work] | float, times: Mapping[str, Mapping[str, float]]) -> float:
    if not isinstance(work, list):
        return float(work)
    return sum(
        item.steps * times[item.probe.key()]["train_step"]
        + item.windows * times[item.probe.key()]["eval_window"]
        for item in work
    )


def per_rule(jobs: pd.DataFrame, device: str) -> pd.DataFrame:
    """Jobs, hours (CPU, or GPU for the accelerated rules under cuda) and the longest job."""
    jobs = jobs.assign(hours=jobs["seconds"] / 3600)
    gpu = jobs["accelerator"] & (device == "cuda")
    table = (
        jobs.assign(
            cpu_hours=jobs["hours"].where(~gpu, 0.0), gpu_hours=jobs["hours"].where(gpu, 0.0)
        )
        .groupby("rule", sort=False)
        .agg(
            jobs=("rule", "size"),
            local=("local", "first"),
            cpu_hours=("cpu_hours", "sum"),
            gpu_hours=("gpu_hours", "sum"),
            longest_job_min=("seconds", lambda s: s.max() / 60),
        )
        .sort_values(["cpu_hours", "gpu_hours"], ascending=False)
    )
    if device != "cuda":
        table = table.drop(columns="gpu_hours")
    return table


def predict(
    configfiles: list[str],
    device: str = "cpu",
    remeasure: bool = False,
    measure: Callable | None = None,
    text: str | None = None,
    cache: Path = CACHE,
    targets: Sequence[str] = (),
) -> pd.DataFrame:
    """Every job (that the targets need) with its predicted seconds."""
    jobs, _ = job_table(configfiles, text, targets)
    times = step_times(distinct_probes(jobs), device, cache, remeasure, measure)
    return jobs.assign(seconds=[job_seconds(w, times) for w in jobs["work"]])


def wall_hours(jobs: pd.DataFrame, cores: int) -> float:
    """At `cores` one-thread jobs at once: the work spread over the cores, never less than
    the longest job (a lower bound: dependencies can idle cores)."""
    return max(jobs["seconds"].sum() / cores, jobs["seconds"].max()) / 3600


# ---------------------------------------------------------------- the SLURM profile
def profile_runtimes(table: pd.DataFrame, safety: float = SAFETY) -> dict[str, int]:
    """Minutes per submitted rule: its longest predicted job x `safety`, rounded up, at least
    10 (local rules run beside Snakemake, no SLURM runtime applies)."""
    submitted = table[~table["local"].astype(bool)]
    return {
        rule: max(10, math.ceil(minutes * safety))
        for rule, minutes in submitted["longest_job_min"].items()
    }


def write_profile(path: Path, runtimes: Mapping[str, int], note: str) -> None:
    """Set `set-resources: <rule>: runtime` in the profile, editing its text so every other
    key, rule resource and comment stays; the runtimes it had are replaced, rules without an
    entry get one."""
    lines = path.read_text().splitlines()
    lines = [line for line in lines if not line.startswith("# csft.cost:")]
    if "set-resources:" not in lines:
        lines.append("set-resources:")
    start = lines.index("set-resources:")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i] and lines[i][0] not in " #"),
        len(lines),
    )
    block, todo = lines[start + 1 : end], dict(runtimes)
    rule = None
    for i, line in enumerate(block):
        found = re.match(r"^  (\w+):", line)
        if found:
            rule = found.group(1)
        elif rule in todo and re.match(r"^    runtime:", line):
            block[i] = f"    runtime: {todo.pop(rule)}"
    for rule, minutes in todo.items():
        at = next((i for i, line in enumerate(block) if line.startswith(f"  {rule}:")), None)
        if at is None:
            block += [f"  {rule}:", f"    runtime: {minutes}"]
        else:
            block.insert(at + 1, f"    runtime: {minutes}")
    notes = [f"# csft.cost: {part}" for part in textwrap.wrap(note, 84)]
    lines[start:end] = [*notes, "set-resources:", *block]
    text = "\n".join(lines) + "\n"
    parsed = yaml.safe_load(text)["set-resources"]
    assert all(parsed[r]["runtime"] == m for r, m in runtimes.items()), "profile edit failed"
    path.write_text(text)


# ---------------------------------------------------------------- command line
def report(jobs: pd.DataFrame, device: str, cores: int) -> str:
    table = per_rule(jobs, device)
    total = table.sum(numeric_only=True)
    lines = [
        table.round(3).to_string(),
        "",
        f"total: {int(total['jobs'])} jobs, {total['cpu_hours']:.2f} CPU-hours"
        + (f", {total['gpu_hours']:.2f} GPU-hours" if device == "cuda" else ""),
        f"wall-clock at --cores {cores}: about {wall_hours(jobs, cores):.2f} h "
        "(a lower bound for the work, dependencies can idle cores)",
        "",
        "Assumptions: every training job runs all its epochs (early stopping only shortens it:",
        "an upper bound); step and window times measured on this machine, one torch thread per",
        "job, at the time of measurement (a busy machine inflates them, an idle one may be",
        "faster); uf-track jobs timed at their longest look-back; classification's neural models",
        "timed as forecasters on the longest series; MiniRocket, DTW-1NN and the small rules",
        "(downloads, tables, figures) at stated rates, not measured.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="Snakemake targets (default: the study)")
    parser.add_argument("--configfile", nargs="*", default=[], help="as for snakemake")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--measure", action="store_true", help="measure again, ignore the cache")
    parser.add_argument("--write-profile", type=Path, help="SLURM profile to set runtimes in")
    parser.add_argument("--csv", type=Path, help="write every job's prediction here")
    args = parser.parse_args(argv)
    jobs = predict(args.configfile, args.device, args.measure, targets=args.targets)
    print(report(jobs, args.device, args.cores))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        jobs.drop(columns="work").to_csv(args.csv, index=False)
    if args.write_profile:
        runtimes = profile_runtimes(per_rule(jobs, args.device))
        files = " ".join(args.configfile) or DEFAULT_CONFIG
        note = (
            f"runtimes (minutes) = longest predicted job x {SAFETY:g}, from python -m csft.cost "
            f"--configfile {files} --device {args.device} on {time.strftime('%Y-%m-%d')} "
            f"({os.cpu_count()}-core {platform.node()}, one thread per job); they replace the "
            "hand-written ones. On a GPU cluster rerun it there with --device cuda "
            "--write-profile."
        )
        write_profile(args.write_profile, runtimes, note)
        print(f"\nwrote runtimes of {len(runtimes)} rules into {args.write_profile}")


if __name__ == "__main__":
    main()
