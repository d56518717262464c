# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Learning curves of every job and one forecast-vs-truth example per dataset."""

import logging

import numpy as np
import pandas as pd

from csft import plots, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
jobs = tables.read_jobs(snakemake.input.metrics)
histories = [
    pd.read_csv(path).assign(**job[["model", "dataset", "horizon", "seed"]].to_dict())
    for path, (_, job) in zip(snakemake.input.history, jobs.iterrows(), strict=True)
]
figure = plots.learning_curves(pd.concat(histories, ignore_index=True))
plots.save(figure, snakemake.output.curves_png)
plots.save(figure, snakemake.output.curves_pdf)

# One example per model x dataset: shortest horizon, first seed, middle test window.
examples = []
jobs["path"] = snakemake.input.examples
first = jobs.sort_values(["horizon", "seed"]).groupby(["model", "dataset"], sort=True).head(1)
for job in first.itertuples():
    arrays = np.load(job.path)
    examples.append(
        {
            "title": f"{job.model} on {job.dataset}, H = {job.horizon}, seed {job.seed}, "
            f"test window {arrays['index'][1]}",
            "x": arrays["x"][1],
            "y": arrays["y"][1],
            "pred": arrays["pred"][1],
        }
    )
figure = plots.forecast_examples(examples)
plots.save(figure, snakemake.output.examples_png)
plots.save(figure, snakemake.output.examples_pdf)
