# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The boundary-lengths experiment on one ETT dataset and every seed: per seed pretrain one CSFT
encoder on every length (train split, early stopping on val), cut the OT channel of the test
split at every length with shared end points (the same series for every seed), compare the
centered H_L across lengths; aggregate over seeds, bootstrap over series; log everything to one
MLflow run (per-seed metrics prefixed seed{seed}_).

Pretraining uses all seven channels as univariate series (channel independent, as in
forecasting); val and test stretches keep the rows just before their border as history, so every
window ends inside its split.
"""

import json
import logging

import mlflow
import numpy as np
import torch

from csft import atomic, joblog, tracking
from csft.data.ett import ETT_COLUMNS, TARGET, ETTSeries
from csft.data.splits import ett_segments
from csft.device import describe, resolve_device
from csft.jobs import lengths as boundary
from csft.models.csft import CSFTEncoder
from csft.report import plots
from csft.training.seeding import seed_everything

joblog.log_to(snakemake.log[0])
log = logging.getLogger("boundary_lengths")
params = snakemake.params
torch.set_num_threads(snakemake.threads)
lengths = sorted(int(t) for t in params.lengths)
longest, stride, n_series = max(lengths), int(params.stride), int(params.n_series)
dataset, seeds = params.dataset, [int(s) for s in params.seeds]
series = ETTSeries.load(snakemake.input.csv, dataset, longest, features="M")


def split_stretch(split: str, channels: slice | int) -> tuple[np.ndarray, str]:
    """Rows of `split` with longest - 1 rows of history before its border (none for train, which
    starts the file), and words naming it for errors."""
    segment = ett_segments(dataset, longest)[split]  # val/test: longest rows before the border
    history = 0 if split == "train" else longest - 1
    start = segment.start + (0 if split == "train" else 1)
    rows = segment.stop - start - history
    where = f"{dataset} {split} split ({rows} rows, with {history} rows of history before it)"
    return series.values[start : segment.stop, channels], where


def cut_every_channel(split: str) -> dict[int, np.ndarray]:
    """Every channel of `split`, cut at every length, as many windows as fit, stacked."""
    values, where = split_stretch(split, slice(None))
    n = max(1, boundary.max_series(len(values), longest, stride))
    per_channel = [
        boundary.cut_lengths(values[:, c], lengths, n, stride, f"{where}, channel {name}")
        for c, name in enumerate(ETT_COLUMNS[1:])
    ]
    return {t: np.concatenate([cuts[t] for cuts in per_channel]) for t in lengths}


def numbers(values, prefix: str = "") -> dict[str, float]:
    """The numbers of a nested verdict dict as flat MLflow metrics ("a_b_c": value)."""
    if isinstance(values, dict):
        return {
            k: v
            for key, part in values.items()
            for k, v in numbers(part, f"{prefix}{key}_").items()
        }
    if isinstance(values, bool | int | float) and np.isfinite(values):
        return {prefix.rstrip("_"): float(values)}
    return {}


def health_metrics(health: dict, prefix: str = "") -> dict[str, float]:
    """{prefix}health_{key}: the worst-case health numbers (not the per-length list)."""
    return numbers({k: v for k, v in health.items() if k != "by_length"}, f"{prefix}health_")


def pair_metrics(table, prefix: str = "") -> dict[str, float]:
    """{prefix}similarity_{kind}_{T_i}_{T_j}: the mean over series of each kind and pair."""
    means = boundary.similarity_means(table)
    means = means[means.seed == "mean"]
    return {
        f"{prefix}similarity_{kind}_{a}_{b}": value
        for a, b, kind, value in means[["T_i", "T_j", "kind", "similarity"]].itertuples(index=False)
    }


def log_epoch(seed: int):
    """on_epoch for one seed's pretraining: its losses, prefixed by the seed."""
    return lambda epoch, row: tracking.log_metrics(
        {f"seed{seed}_pretrain_{k}": v for k, v in row.items()}, step=epoch
    )


relpath = f"ETT-small/{dataset}.csv"
data_tags = tracking.data_tags({relpath: snakemake.input.csv})
test_values, test_where = split_stretch("test", ETT_COLUMNS[1:].index(TARGET))
cuts = boundary.cut_lengths(test_values, lengths, n_series, stride, test_where)  # fail early
train, val = cut_every_channel("train"), cut_every_channel("val")

with tracking.job_run(
    tracking.tracking_uri(params.tracking_uri),
    params.experiment,
    f"boundary_lengths/{dataset}",
    params={
        "dataset": dataset,
        "lengths": " ".join(map(str, lengths)),
        "n_series": n_series,
        "stride": stride,
        "seeds": " ".join(map(str, seeds)),
        "architecture": dict(params.architecture),
        "pretraining": dict(params.pretraining),
    },
    tags={
        "device": describe(resolve_device(params.device)),
        **data_tags,
    },
) as run:
    trained, untrained = {}, {}
    for seed in seeds:
        encoder = boundary.pretrain_multi_length(
            train,
            val,
            dict(params.architecture),
            dict(params.pretraining),
            seed,
            on_epoch=log_epoch(seed),
            device=params.device,
        )
        trained[seed] = boundary.represent_lengths(encoder, cuts)
        # Control: the same architecture untrained. Across a boundary H_L comes from a different
        # CTL (other weights), so some gap is structural; only a trained gap beyond it is learned.
        seed_everything(seed)
        untrained[seed] = boundary.represent_lengths(CSFTEncoder(encoder.config), cuts)
    config = encoder.config
    active = boundary.active_ctls(lengths, config)
    table = boundary.seed_similarity(trained)
    control = boundary.seed_similarity(untrained)
    health = boundary.health_summary(trained)
    verdict = boundary.boundary_verdict(table, active, health, control)
    log.info("%s", verdict["verdict"])

    metrics = pair_metrics(table)
    metrics.update(numbers({k: verdict[k] for k in ("centered", "raw", "control")}))
    metrics.update(health_metrics(health))
    metrics["n_series"] = verdict["n_series"]
    for row in verdict["boundaries"]:
        values = {k: v for k, v in row.items() if k != "boundary"}
        metrics.update(numbers(values, f"boundary_{row['boundary']}_"))
    for row in verdict["per_seed"]:
        prefix = f"seed{row['seed']}_"
        metrics.update(numbers({k: row[k] for k in ("centered", "raw")}, prefix))
        seed_health = boundary.health_summary({row["seed"]: trained[row["seed"]]})
        metrics.update(health_metrics(seed_health, prefix))
        metrics.update(pair_metrics(table[table.seed == row["seed"]], prefix))
    tracking.log_metrics(metrics)
    tracking.log_params({"d_L": boundary.common_width(config, lengths)})
    tracking.set_tags({"verdict.status": verdict["status"], "verdict": verdict["verdict"][:5000]})
    mlflow.log_dict(verdict, "verdict.json")

    means = boundary.similarity_means(table)
    atomic.write_text(snakemake.output.csv, means.to_csv(index=False))
    ctl_table = boundary.length_table(lengths, config)
    atomic.write_text(snakemake.output.ctls, ctl_table.to_csv(index=False))
    record = {**verdict, "dataset": dataset, "mlflow_run_id": run.info.run_id}
    atomic.write_text(snakemake.output.verdict, json.dumps(record, indent=2, sort_keys=True))
    title = (
        f"CSFT H_L similarity across lengths: {dataset} test split, OT, {n_series} series, "
        f"mean over {len(seeds)} seed{'s' if len(seeds) != 1 else ''}"
    )
    figure = boundary.similarity_figure(table, active, title)
    plots.save(figure, snakemake.output.png)
    plots.save(figure, snakemake.output.pdf)
    log.info("centered similarity:\n%s", boundary.similarity_matrix(table, "centered").round(4))
