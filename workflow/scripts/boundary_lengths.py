# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The boundary-lengths experiment on one ETT dataset and seed: pretrain one CSFT encoder on
every length (train split, early stopping on val), cut the OT channel of the test split at every
length with shared end points, compare H_L across lengths; log everything to MLflow.

Pretraining uses all seven channels as univariate series (channel independent, as in
forecasting); val and test stretches keep the rows just before their border as history, so every
window ends inside its split.
"""

import json
import logging

import mlflow
import numpy as np
import torch

from csft import atomic, joblog, plots, tracking
from csft.data.ett import ETT_COLUMNS, TARGET, ETTSeries
from csft.data.splits import ett_segments
from csft.device import describe, resolve_device
from csft.model import CSFTEncoder
from csft.seeding import seed_everything
from csft.tasks import lengths as boundary

joblog.log_to(snakemake.log[0])
log = logging.getLogger("boundary_lengths")
params = snakemake.params
torch.set_num_threads(snakemake.threads)
lengths = sorted(int(t) for t in params.lengths)
longest, stride, n_series = max(lengths), int(params.stride), int(params.n_series)
dataset, seed = params.dataset, int(params.seed)
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


relpath = f"ETT-small/{dataset}.csv"
data_tags = tracking.data_tags({relpath: snakemake.input.csv})
data_sha = data_tags[f"data.sha256.{relpath}"]
test_values, test_where = split_stretch("test", ETT_COLUMNS[1:].index(TARGET))
cuts = boundary.cut_lengths(test_values, lengths, n_series, stride, test_where)  # fail early

with tracking.job_run(
    tracking.tracking_uri(params.tracking_uri),
    params.experiment,
    f"boundary_lengths/{dataset}/seed{seed}",
    params={
        "dataset": dataset,
        "lengths": " ".join(map(str, lengths)),
        "n_series": n_series,
        "stride": stride,
        "seed": seed,
        "architecture": dict(params.architecture),
        "pretraining": dict(params.pretraining),
    },
    tags={
        "device": describe(resolve_device(params.device)),
        **data_tags,
    },
) as run:
    encoder = boundary.pretrain_multi_length(
        cut_every_channel("train"),
        cut_every_channel("val"),
        dict(params.architecture),
        dict(params.pretraining),
        seed,
        on_epoch=lambda epoch, row: tracking.log_metrics(
            {f"pretrain_{k}": v for k, v in row.items()}, step=epoch
        ),
        device=params.device,
    )
    active, similarity = boundary.boundary_similarity(encoder, cuts)
    verdict = boundary.boundary_verdict(similarity, active)
    # Control: the same architecture untrained. Across a boundary H_L comes from a different CTL
    # (other weights), so some gap is structural; only a trained gap beyond it is learned.
    seed_everything(seed)
    _, untrained = boundary.boundary_similarity(CSFTEncoder(encoder.config), cuts)
    control = boundary.boundary_verdict(untrained, active)
    verdict.update(
        {f"control_{k}": control[k] for k in ("within_mean", "across_mean", "difference")}
    )
    verdict["verdict"] += (
        f"; untrained control (same architecture and seed): within {control['within_mean']:.3f}"
        f" vs across {control['across_mean']:.3f}, so {verdict['difference']:.3f} - "
        f"{control['difference']:.3f} = {verdict['difference'] - control['difference']:+.3f} "
        "of the gap is learned"
    )
    log.info("%s", verdict["verdict"])

    pairs = similarity.stack().rename("similarity").reset_index()
    pairs = pairs[pairs.T_i < pairs.T_j]
    metrics = {f"similarity_{a}_{b}": v for a, b, v in pairs.itertuples(index=False)}
    metrics.update({k: verdict[k] for k in ("within_mean", "across_mean", "difference")})
    metrics.update({k: v for k, v in verdict.items() if k.startswith("control_")})
    metrics.update(
        n_within_pairs=verdict["n_within_pairs"], n_across_pairs=verdict["n_across_pairs"]
    )
    for row in verdict["boundaries"]:
        metrics.update(
            {f"boundary_{row['boundary']}_{k}": row[k] for k in ("within", "across", "difference")}
        )
    tracking.log_metrics(metrics)
    tracking.log_params({"d_L": boundary.common_width(encoder.config, lengths)})
    tracking.set_tags({"verdict.status": verdict["status"], "verdict": verdict["verdict"][:5000]})
    mlflow.log_dict(verdict, "verdict.json")

    long = similarity.stack().rename("similarity").reset_index()
    atomic.write_text(snakemake.output.csv, long.to_csv(index=False))
    table = boundary.length_table(lengths, encoder.config)
    atomic.write_text(snakemake.output.ctls, table.to_csv(index=False))
    record = {**verdict, "dataset": dataset, "seed": seed, "mlflow_run_id": run.info.run_id}
    atomic.write_text(snakemake.output.verdict, json.dumps(record, indent=2, sort_keys=True))
    title = f"CSFT H_L similarity across lengths\n{dataset} test split, OT, {n_series} series"
    figure = boundary.similarity_figure(similarity, active, title)
    plots.save(figure, snakemake.output.png)
    plots.save(figure, snakemake.output.pdf)
    log.info("similarity:\n%s", similarity.round(4).to_string())
