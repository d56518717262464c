# Paths, wildcard constraints and helpers shared by every rule file.
import os

from csft import tracking
from csft.config import resolve_training

RESULTS = config["results_dir"]
DATA = config["data_dir"]
LOGS = f"{RESULTS}/logs"
MIRROR = os.environ.get("CSFT_DATA_MIRROR", "")
FIGURE_FORMATS = ["png", "pdf"]


wildcard_constraints:
    dataset="ETTh1|ETTh2|ETTm1|ETTm2",
    name="[A-Za-z0-9_]+",
    model="[a-z0-9_]+",
    horizon=r"\d+",
    seed=r"\d+",


def experiment(part):
    """MLflow experiment of a study part, e.g. "forecast" or "quick/forecast"."""
    return config["tracking"]["experiment_prefix"] + part


def init_tracking():
    """Create the MLflow store and experiments once, before any job can race to do it."""
    uri = tracking.tracking_uri(config["tracking"]["uri"])
    tracking.init_store(
        uri, [experiment("forecast")], config["tracking"]["artifact_root"]
    )


def forecast_job_dir(model, dataset, horizon, seed):
    return f"{RESULTS}/forecast/{model}/{dataset}/H{horizon}/seed{seed}"


def forecast_outputs(kind):
    """One file per forecasting job (model x dataset x horizon x seed)."""
    return expand(
        f"{RESULTS}/forecast/{{model}}/{{dataset}}/H{{horizon}}/seed{{seed}}/{kind}",
        model=config["forecast"]["models"],
        dataset=config["ett"]["datasets"],
        horizon=config["forecast"]["horizons"],
        seed=config["seeds"],
    )


def forecast_figures():
    return expand(
        f"{RESULTS}/figures/{{figure}}.{{ext}}",
        figure=["learning_curves", "forecast_examples"],
        ext=FIGURE_FORMATS,
    )


def ucr_summaries():
    return expand(f"{RESULTS}/data/ucr/{{name}}.json", name=config["ucr"]["datasets"])


def ucr_archive_input(wildcards):
    """Without a mirror, UCR files come out of the official archive zip."""
    return {} if MIRROR else {"archive": f"{DATA}/UCRArchive_2018.zip"}
