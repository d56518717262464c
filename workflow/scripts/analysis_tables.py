# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Aggregate the analysis jobs: the fusion ablation and the feature statistics, as tables and
figures, with the feature statistics logged to MLflow's `features` experiment."""

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

from csft import analysis, atomic, claims, plots, tracking

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
params = snakemake.params
jobs = claims.read_analysis_jobs(snakemake.input.metrics, dict(params.fusions))
summary = claims.summarize_analysis(jobs)
atomic.write_text(snakemake.output.csv, summary.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.ablation_md, claims.ablation_markdown(summary))
atomic.write_text(snakemake.output.features_md, claims.features_markdown(summary))

histories, curves = [], []
for path in snakemake.input.metrics:
    folder = Path(path).parent
    variant, seed = folder.parents[2].name, int(folder.name.removeprefix("seed"))
    history = pd.read_csv(folder / "history.csv")
    histories.append(history.assign(variant=variant, fusion=params.fusions.get(variant, "-")))
    curve = analysis.explained_variance_curve(np.load(folder / "features.npz")["features"])
    cumulative = np.concatenate([[0.0], curve])  # no component explains nothing
    fraction = np.arange(len(cumulative)) / len(curve)
    curves.append(
        pd.DataFrame({"variant": variant, "seed": f"{folder.parent.name}/{seed}",
                      "fraction": fraction, "cumulative": cumulative})
    )  # fmt: skip
histories = pd.concat(histories, ignore_index=True)
csft_histories = histories[histories.fusion != "-"]
attention = jobs[jobs.fusion == "cross_attention"]
paper = claims._paper_features().get("pca_fraction_80")
figures = {
    "ablation_mse": plots.ablation_mse(summary),
    "ablation_gradients": plots.gradient_ratios(csft_histories),
    "ablation_entropy": plots.attention_entropy(attention),
    "pca_curves": plots.pca_curves(pd.concat(curves, ignore_index=True), paper),
}
for name, figure in figures.items():
    for ext in ("png", "pdf"):
        plots.save(figure, getattr(snakemake.output, f"{name}_{ext}"))
    plt.close(figure)

with tracking.job_run(
    tracking.tracking_uri(params.tracking_uri),
    params.experiment,
    "feature_statistics",
    params={"variants": sorted(jobs.variant.unique()), "config": snakemake.config},
    tags={},
):
    for row in summary.itertuples():
        prefix = f"{row.variant}_H{row.horizon}"
        mlflow.log_metrics(
            {
                f"{prefix}_pearson": row.feature_pearson_mean,
                f"{prefix}_spearman": row.feature_spearman_mean,
                f"{prefix}_pca_fraction_80": row.pca_fraction_80_mean,
            }
        )
    mlflow.log_artifact(snakemake.output.features_md)
