# Paths, wildcard constraints and helpers shared by every rule file.
import os
from pathlib import Path

from csft import tracking
from csft.data import ucr_catalog
from csft.data.custom import custom_datasets
from csft.data.custom_classification import custom_classification
from csft.data.splits import ETT_ROWS_PER_HOUR
from csft.config import (
    DEFAULT_READING,
    READING_PATTERN,
    analysis_settings,
    classifier_model,
    classify_tuning_sets,
    sensitivity_readings,
    tuning_studies,
    uses_pretraining,
)
from csft.jobs import classify_run
from csft.jobs import forecast as forecast_job
from csft.jobs import lengths as lengths_job
from csft.jobs import pretrain as pretrain_job
from csft.jobs import tune as tune_job
from csft.jobs import tune_classify as tune_classify_job
from csft.jobs.classify import job_policies, job_seeds, job_selections
from csft.models.registry import classifier_class

RESULTS = config["results_dir"]
DATA = config["data_dir"]
LOGS = f"{RESULTS}/logs"
MIRROR = os.environ.get("CSFT_DATA_MIRROR", "")
# Your own classification folders (csft/data/custom_classification.py), listed in ucr.datasets.
CUSTOM_CLASSIFICATION = custom_classification(config)
UCR_DATASETS = ucr_catalog.resolve(
    [d for d in config["ucr"]["datasets"] if d not in CUSTOM_CLASSIFICATION],
    Path(MIRROR) if MIRROR else None,
)
CLASSIFY_DATASETS = UCR_DATASETS + [
    d for d in config["ucr"]["datasets"] if d in CUSTOM_CLASSIFICATION
]
FIGURE_FORMATS = ["png", "pdf"]
# Your own forecasting CSVs (csft/data/custom.py), usable wherever an ETT set is.
CUSTOM_DATASETS = custom_datasets(config)
# Training rules ask the scheduler for a GPU only when the config insists on one; with "auto"
# a job uses a GPU it happens to see, and the CPU otherwise.
DEVICE = config["device"]
GPUS = 1 if DEVICE == "cuda" else 0


wildcard_constraints:
    dataset="|".join([*ETT_ROWS_PER_HOUR, *CUSTOM_DATASETS]),
    name="[A-Za-z0-9_.=+-]+",
    reading=READING_PATTERN,
    classifier="[A-Za-z0-9_]+(:[A-Za-z0-9_]+)?",
    policy="per_interval|common|resample|native",
    selection="fixed_budget|validation",
    model="[a-z0-9_]+",
    horizon=r"\d+",
    lookback=r"\d+",
    low=r"\d+",
    high=r"\d+",
    seed=r"\d+",
    variant="[a-z0-9_]+",
    group="forecast|analysis|sensitivity|channels|tuned",
    placement="resample|length_aware|pad_mask|crop",


def experiment(part):
    """MLflow experiment of a study part, e.g. "forecast" or "quick/forecast"."""
    return config["tracking"]["experiment_prefix"] + part


def init_tracking():
    """Create the MLflow store and experiments once, before any job can race to do it."""
    uri = tracking.tracking_uri(config["tracking"]["uri"])
    tracking.init_store(
        uri,
        [
            experiment(part)
            for part in (
                "pretrain",
                "forecast",
                "classify",
                "ablation",
                "features",
                "lengths",
                "sensitivity",
                "tuning",
                *(f"questions/{name}" for name in config["questions"]),
            )
        ],
        config["tracking"]["artifact_root"],
    )


def job_settings(resolve):
    """A rule's one `settings` param: its job's settings resolved from the config and
    the wildcards by `resolve` (csft.jobs.forecast, .pretrain or .lengths), a plain dict.
    """
    return lambda w: resolve(config, dict(w.items())).to_dict()


def forecast_csv(dataset):
    """The file of a forecasting dataset: ETT sets are downloaded (or copied from the mirror)
    and verified; a custom dataset is read where the config says."""
    if dataset in CUSTOM_DATASETS:
        return CUSTOM_DATASETS[dataset].path
    return f"{DATA}/ETT-small/{dataset}.csv"


def pretrain_inputs(wildcards):
    """An encoder pretraining's data file, and for the tuned recipe its study's best settings."""
    files = {"csv": forecast_csv(wildcards.dataset)}
    if wildcards.group == "tuned":
        files["best"] = tuning_best(
            wildcards.name, wildcards.dataset, wildcards.lookback
        )
    return files


def tuning_best(model, dataset, lookback):
    return f"{RESULTS}/tuning/forecast/{model}/{dataset}/L{lookback}/best.json"


def tuned_training_inputs(wildcards):
    """A tuned-recipe job's inputs: a main-track job's (encoder of group "tuned") and the
    study's best settings."""
    files = training_inputs(
        "tuned", lambda w: w.model, lambda w: w.model, lambda w: w.lookback
    )(wildcards)
    files["best"] = tuning_best(wildcards.model, wildcards.dataset, wildcards.lookback)
    return files


def uf_encoder(wildcards):
    """The encoder a uf job fine-tunes: pretrained on its interval under its placement."""
    return (
        f"{RESULTS}/pretrained/forecast_uf/{wildcards.model}/{wildcards.dataset}/"
        f"I{wildcards.low}-{wildcards.high}/{wildcards.placement}/seed{wildcards.seed}/encoder.pt"
    )


def uf_training_inputs(wildcards):
    """A uf job's inputs: its ETT file and, for a pretrained model, its uf encoder."""
    files = {"csv": forecast_csv(wildcards.dataset)}
    if uses_pretraining(wildcards.model, config["models"][wildcards.model]):
        files["encoder"] = uf_encoder(wildcards)
    return files


def training_inputs(group, name, model, lookback):
    """A training job's inputs: its ETT file and, for a pretrained model, the encoder of its
    (group, name, dataset, look-back, seed), the same file for every horizon."""

    def inputs(wildcards):
        files = {"csv": forecast_csv(wildcards.dataset)}
        if uses_pretraining(model(wildcards), config["models"][model(wildcards)]):
            files["encoder"] = (
                f"{RESULTS}/pretrained/{group}/{name(wildcards)}/{wildcards.dataset}/"
                f"L{lookback(wildcards)}/seed{wildcards.seed}/encoder.pt"
            )
        return files

    return inputs


def forecast_outputs(kind):
    """One file per forecasting job: main track, then the variable-length (uf) track."""
    main = [
        f"{RESULTS}/forecast/{run['model']}/{dataset}/L{run['lookback']}/H{horizon}/seed{seed}/{kind}"
        for run in config["forecast"]["runs"]
        for dataset in run.get("datasets", config["ett"]["datasets"])
        for horizon in config["forecast"]["horizons"]
        for seed in config["seeds"]
    ]
    uf = [
        f"{RESULTS}/forecast_uf/{model}/{dataset}/I{i['low']}-{i['high']}/{placement}/H{horizon}/seed{seed}/{kind}"
        for model in config["forecast_uf"]["models"]
        for placement in config["forecast_uf"]["placement"]
        for i in config["forecast_uf"]["intervals"]
        for dataset in config["forecast_uf"].get("datasets", config["ett"]["datasets"])
        for horizon in config["forecast_uf"]["horizons"]
        for seed in config["seeds"]
    ]
    return main + uf


def uf_jobs_configured():
    """Whether the config has any uf-track job (the uf figure is drawn only then)."""
    uf = config["forecast_uf"]
    datasets = uf.get("datasets", config["ett"]["datasets"])
    return bool(uf["models"] and uf["intervals"] and uf["horizons"] and datasets)


def forecast_figures():
    """The forecasting figures; the uf track's look-back figure when the config has uf jobs."""
    figures = ["learning_curves", "forecast_examples"]
    if uf_jobs_configured():
        figures.append("uf_lookbacks")
    return expand(
        f"{RESULTS}/figures/{{figure}}.{{ext}}", figure=figures, ext=FIGURE_FORMATS
    )


def ucr_summaries():
    return expand(f"{RESULTS}/data/ucr/{{name}}.json", name=UCR_DATASETS)


def ucr_archive_input(wildcards):
    """Without a mirror, UCR files come out of the official archive zip."""
    return {} if MIRROR else {"archive": f"{DATA}/UCRArchive_2018.zip"}


def classify_inputs(wildcards):
    """An archive set's TRAIN/TEST files and summary, or a custom set's own files."""
    if wildcards.name in CUSTOM_CLASSIFICATION:
        files = CUSTOM_CLASSIFICATION[wildcards.name].files()
        return {"train": str(files["TRAIN"]), "test": str(files["TEST"])}
    return {
        "summary": f"{RESULTS}/data/ucr/{wildcards.name}.json",
        "train": f"{DATA}/UCR/{wildcards.name}/{wildcards.name}_TRAIN.tsv",
        "test": f"{DATA}/UCR/{wildcards.name}/{wildcards.name}_TEST.tsv",
    }


def uses_gpu(classifier):
    """A GPU for classifiers that train with torch, when the config insists on one."""
    return (
        GPUS if classifier_class(classifier_model(config, classifier)).uses_torch else 0
    )


def classify_outputs():
    """One metrics file per classification job: classifier x dataset x length policy x
    selection policy x seed."""
    track = config["classify"]
    variable = {
        **ucr_catalog.archive().variable_length,
        **{n: d.variable_length for n, d in CUSTOM_CLASSIFICATION.items()},
    }
    return [
        f"{RESULTS}/classify/{classifier}/{name}/{policy}/{selection}/seed{seed}/metrics.json"
        for classifier in track["models"]
        for model in [classifier_model(config, classifier)]
        for name in CLASSIFY_DATASETS
        for policy in job_policies(model, bool(variable[name]), track["csft_policies"])
        for selection in job_selections(model, track["selection"])
        for seed in job_seeds(model, track.get("seeds", config["seeds"]))
    ]


def classify_targets():
    """Tables and figure of the classification track; none when it has no job."""
    if not classify_outputs():
        return []
    tables = [f"{RESULTS}/tables/classify.{ext}" for ext in ("csv", "md")]
    tables.append(f"{RESULTS}/tables/classify_wilcoxon.csv")
    return tables + expand(
        f"{RESULTS}/figures/classify_ranks.{{ext}}", ext=FIGURE_FORMATS
    )


def analysis_job(wildcards):
    """Model, architecture and recipes of one analysis job."""
    return analysis_settings(
        config, wildcards.variant, wildcards.dataset, int(wildcards.horizon)
    )


def analysis_outputs(kind):
    """One file per analysis job: variant x horizon x seed on the analysis dataset."""
    track = config["analysis"]
    return expand(
        f"{RESULTS}/analysis/{{variant}}/{track['dataset']}/H{{horizon}}/seed{{seed}}/{kind}",
        variant=[v["name"] for v in track["variants"]],
        horizon=track["horizons"],
        seed=track.get("seeds", config["seeds"]),
    )


ANALYSIS_FIGURES = {
    "ablation_mse": "Ablation",
    "ablation_gradients": "Ablation",
    "ablation_entropy": "Ablation",
    "pca_curves": "Feature statistics",
}


def analysis_figure_outputs():
    """The analysis figures: PNG (in the report, with its caption) and PDF."""
    outputs = {}
    for name, category in ANALYSIS_FIGURES.items():
        outputs[f"{name}_png"] = report(
            f"{RESULTS}/figures/{name}.png",
            caption=f"../report/{name}.rst",
            category=category,
        )
        outputs[f"{name}_pdf"] = f"{RESULTS}/figures/{name}.pdf"
    return outputs


def analysis_fusions():
    """Each CSFT analysis variant's fusion (the ablation's switch)."""
    track = config["analysis"]
    return {
        v["name"]: analysis_settings(
            config, v["name"], track["dataset"], track["horizons"][0]
        )["architecture"].get("fusion", "cross_attention")
        for v in track["variants"]
        if v["model"] == "csft"
    }


def lengths_outputs():
    return {
        "csv": f"{RESULTS}/tables/lengths.csv",
        "ctls": f"{RESULTS}/tables/lengths_ctls.csv",
        "verdict": f"{RESULTS}/tables/lengths_verdict.json",
        "png": report(
            f"{RESULTS}/figures/boundary_lengths.png",
            caption="../report/boundary_lengths.rst",
            category="Boundary lengths",
        ),
        "pdf": f"{RESULTS}/figures/boundary_lengths.pdf",
    }


def claims_inputs(wildcards):
    """The tables the claims table reads: those this config produces."""
    inputs = {
        "analysis": f"{RESULTS}/tables/analysis_jobs.csv",
        "lengths": f"{RESULTS}/tables/lengths_verdict.json",
    }
    if forecast_outputs("metrics.json"):
        inputs["forecast"] = f"{RESULTS}/tables/forecast.csv"
    if classify_outputs():
        inputs["classify"] = f"{RESULTS}/tables/classify.csv"
    if tuning_targets():
        inputs["tuning"] = f"{RESULTS}/tables/tuning.csv"
    return inputs


def analysis_targets():
    """The claims' tables and figures, unless the config turns the analyses off."""
    if not config["analysis"]["enabled"]:
        return []
    figures = expand(
        f"{RESULTS}/figures/{{name}}.{{ext}}",
        name=[*ANALYSIS_FIGURES, "boundary_lengths"],
        ext=FIGURE_FORMATS,
    )
    tables = ["analysis.csv", "ablation.md", "features.md", "lengths.csv", "claims.md"]
    return [f"{RESULTS}/tables/{t}" for t in tables] + figures


def sensitivity_readings_by_name():
    """The sensitivity stage's readings ("default" first); none without axes."""
    if not config["sensitivity"].get("axes"):
        return {}
    return sensitivity_readings(config)


def sensitivity_seeds():
    return config["sensitivity"].get("seeds", config["seeds"])


def sensitivity_outputs():
    """Every metrics file of the sensitivity stage: CSFT under each reading on its ETT cells
    and its classification sets (the first length policy that applies, fixed budget)."""
    block, readings = config["sensitivity"], sensitivity_readings_by_name()
    variable = {
        **ucr_catalog.archive().variable_length,
        **{n: d.variable_length for n, d in CUSTOM_CLASSIFICATION.items()},
    }
    forecast = [
        f"{RESULTS}/sensitivity/forecast/{reading}/{dataset}/H{horizon}/seed{seed}/metrics.json"
        for reading in readings
        for dataset in block["forecast"]["datasets"]
        for horizon in block["forecast"]["horizons"]
        for seed in sensitivity_seeds()
    ]
    classify = [
        f"{RESULTS}/sensitivity/classify/{reading}/{name}/{policy}/seed{seed}/metrics.json"
        for reading in readings
        for name in block["classify"]["datasets"]
        for policy in job_policies(
            "csft", bool(variable[name]), config["classify"]["csft_policies"]
        )[:1]
        for seed in sensitivity_seeds()
    ]
    return forecast + classify


def sensitivity_encoder_reading(reading):
    """The reading whose encoder a sensitivity job fine-tunes: its own, unless it changes only
    the fine-tuning recipe (training.*), which shares the default's encoder."""
    changed = sensitivity_readings(config)[reading]
    return (
        DEFAULT_READING if changed and changed[0].startswith("training.") else reading
    )


def sensitivity_targets():
    """The stage's table and tornado figure; none without axes."""
    if not sensitivity_readings_by_name():
        return []
    tables = [f"{RESULTS}/tables/sensitivity.{ext}" for ext in ("csv", "md")]
    return tables + expand(f"{RESULTS}/figures/sensitivity.{{ext}}", ext=FIGURE_FORMATS)


def tuning_outputs(kind):
    """The tuning stage's files: each study's best settings ("best"), and the metrics of the
    official ("official") and tuned ("tuned") main-track runs at its horizons and seeds.
    """
    horizons = config["tuning"]["forecast"]["horizons"]
    if kind == "best":
        return [tuning_best(*study) for study in tuning_studies(config)]
    root = {"official": f"{RESULTS}/forecast", "tuned": f"{RESULTS}/tuned/forecast"}[
        kind
    ]
    return [
        f"{root}/{model}/{dataset}/L{lookback}/H{horizon}/seed{seed}/metrics.json"
        for model, dataset, lookback in tuning_studies(config)
        for horizon in horizons
        for seed in config["seeds"]
    ]


def tuning_classify_best(classifier, name):
    """The best settings of the study of (classifier, set): its first length policy's."""
    (policy,) = [
        p for c, n, p in classify_tuning_studies() if (c, n) == (classifier, name)
    ]
    return f"{RESULTS}/tuning/classify/{classifier}/{name}/{policy}/best.json"


def classify_tuning_studies():
    """(classifier, set, length policy) per classification study: each tuned classifier on
    each tuned set, under the first length policy it runs there; none when tuning is off.
    """
    models, sets = classify_tuning_sets(config)
    variable = {
        **ucr_catalog.archive().variable_length,
        **{n: d.variable_length for n, d in CUSTOM_CLASSIFICATION.items()},
    }
    return [
        (classifier, name, policies[0])
        for classifier in models
        for name in sets
        for policies in [
            job_policies(
                classifier_model(config, classifier),
                bool(variable[name]),
                config["classify"]["csft_policies"],
            )
        ]
    ]


def classify_tuning_outputs(kind):
    """The classification studies' best settings ("best"), and the metrics of the official
    ("official") and tuned ("tuned") jobs of each studied classifier and set: every length
    and selection policy and seed its official jobs run."""
    if kind == "best":
        return [
            f"{RESULTS}/tuning/classify/{c}/{n}/{p}/best.json"
            for c, n, p in classify_tuning_studies()
        ]
    root = {"official": f"{RESULTS}/classify", "tuned": f"{RESULTS}/tuned/classify"}[
        kind
    ]
    studied = {(c, n) for c, n, _ in classify_tuning_studies()}
    return [
        path.replace(f"{RESULTS}/classify", root, 1)
        for path in classify_outputs()
        for classifier, name in [path.split("/")[-6:-4]]
        if (classifier, name) in studied
    ]


def tuning_targets():
    """The stage's tables; none when tuning is off."""
    if not (tuning_studies(config) or classify_tuning_studies()):
        return []
    return [f"{RESULTS}/tables/tuning.{ext}" for ext in ("csv", "md")]
