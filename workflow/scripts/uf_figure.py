# ruff: noqa: F821  (snakemake is injected by Snakemake's script directive)
"""The uf track's figure: MSE and MAE against look-back, one line per placement."""

import pandas as pd

from csft import joblog
from csft.report import plots

joblog.log_to(snakemake.log[0])
summary = pd.read_csv(snakemake.input.csv)  # uf rows always name their placement
figure = plots.uf_lookbacks(summary)
plots.save(figure, snakemake.output.png)
plots.save(figure, snakemake.output.pdf)
