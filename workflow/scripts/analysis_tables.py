# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Aggregate the analysis jobs: the fusion ablation and the feature statistics with the
representations' health, as tables and figures, logged to MLflow's `features` experiment."""

import matplotlib.pyplot as plt

from csft import atomic, joblog, tracking
from csft.report import analysis_jobs, plots

joblog.log_to(snakemake.log[0])
params = snakemake.params
read = analysis_jobs.read_analysis_jobs(snakemake.input.metrics, dict(params.fusions))
jobs = read.jobs
summary = analysis_jobs.summarize_analysis(jobs)
atomic.write_text(snakemake.output.csv, summary.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.jobs, jobs.to_csv(index=False, float_format="%.6f"))
atomic.write_text(snakemake.output.ablation_md, analysis_jobs.ablation_markdown(jobs))
atomic.write_text(snakemake.output.features_md, analysis_jobs.features_markdown(jobs))

csft_histories = read.histories[read.histories.fusion != "-"]
attention = jobs[jobs.fusion == "cross_attention"]
paper = analysis_jobs.paper_features().get("pca_fraction_80")
figures = {
    "ablation_mse": plots.ablation_mse(summary),
    "ablation_gradients": plots.gradient_ratios(csft_histories),
    "ablation_entropy": plots.attention_entropy(attention),
    "pca_curves": plots.pca_curves(read.curves, paper),
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
        tracking.log_metrics(
            {
                f"{prefix}_pearson": row.feature_pearson_mean,
                f"{prefix}_spearman": row.feature_spearman_mean,
                f"{prefix}_pca_fraction_80": row.pca_fraction_80_mean,
                f"{prefix}_effective_rank": row.effective_rank_mean,
                f"{prefix}_between_cosine": row.between_cosine_mean,
                f"{prefix}_dead_dimensions": row.dead_dimensions_mean,
            }
        )
    tracking.log_artifact(snakemake.output.features_md)
