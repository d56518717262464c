# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""Learning curves of every job and one forecast-vs-truth example per model and dataset."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from csft import joblog
from csft.report import plots

joblog.log_to(snakemake.log[0])
jobs = []
for metrics, history, examples in zip(
    snakemake.input.metrics, snakemake.input.history, snakemake.input.examples, strict=True
):
    first = json.loads(Path(metrics).read_text())[0]  # the job's first tested look-back
    label = first["model"] + (f" L{first['lookback']}" if first["track"] == "main" else " uf")
    jobs.append({**first, "label": label, "history": history, "examples": examples})
jobs = pd.DataFrame(jobs)

histories = [
    pd.read_csv(job.history).assign(
        model=job.label, dataset=job.dataset, horizon=job.horizon, seed=job.seed
    )
    for job in jobs.itertuples()
]
figure = plots.learning_curves(pd.concat(histories, ignore_index=True))
plots.save(figure, snakemake.output.curves_png)
plots.save(figure, snakemake.output.curves_pdf)

# One example per model variant x dataset: shortest horizon, first seed, middle test window.
examples = []
first = jobs.sort_values(["horizon", "seed"]).groupby(["label", "dataset"], sort=True).head(1)
for job in first.itertuples():
    arrays = np.load(job.examples)
    examples.append(
        {
            "title": f"{job.label} on {job.dataset}, H = {job.horizon}, seed {job.seed}, "
            f"test window {arrays['index'][1]}",
            "x": arrays["x"][1],
            "y": arrays["y"][1],
            "pred": arrays["pred"][1],
        }
    )
figure = plots.forecast_examples(examples)
plots.save(figure, snakemake.output.examples_png)
plots.save(figure, snakemake.output.examples_pdf)
