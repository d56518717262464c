# csft-bench: the whole study as one DAG. This file only wires things up; rules live in
# workflow/rules/, what they run in workflow/scripts/, the config schema in workflow/schemas/.
from snakemake.utils import min_version, validate

from csft.config import check_config

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


validate(config, "workflow/schemas/config.schema.yaml")
check_config(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/forecast.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/tuning.smk"
include: "workflow/rules/questions_objectives.smk"
include: "workflow/rules/questions_irregular.smk"
include: "workflow/rules/questions_channels.smk"
include: "workflow/rules/report.smk"


# Light rules run where Snakemake runs (a cluster's login node): downloads need the internet,
# which compute nodes often lack, and tables and figures take seconds. Training, the boundary
# lengths and the analysis tables (an MLflow run of their own) go to the executor.
localrules:
    all,
    download_ett,
    download_ucr_archive,
    extract_ucr,
    prepare_ucr,
    forecast_table,
    forecast_figures,
    uf_figure,
    classify_table,
    classify_figures,
    claims_table,
    sensitivity_tables,
    tuning_tables,


onstart:
    init_tracking()


rule all:
    default_target: True
    input:
        ucr_summaries(),
        f"{RESULTS}/tables/forecast.csv",
        f"{RESULTS}/tables/forecast.md",
        forecast_figures(),
        classify_targets(),
        analysis_targets(),
        sensitivity_targets(),
        tuning_targets(),
        objectives_targets(),
        irregular_targets(),
        channels_targets(),
