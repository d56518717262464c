# The objectives question's paths and helpers (its rules: questions_objectives.smk): which
# arms, cells and seeds run, and the targets rule all asks for (none while it is off).
from csft.config import (
    OBJECTIVES_BASELINE,
    objectives_arms,
    objectives_block,
    objectives_sweeps,
)

OBJECTIVES = f"{RESULTS}/questions/objectives"


def objectives_on():
    return bool(objectives_block(config).get("enabled"))


def objectives_seeds():
    return objectives_block(config).get("seeds", config["seeds"])


def objectives_outputs():
    """Every metrics file of the question: each arm on its ETT cells in each mode (fine-tuned,
    frozen probe) and on its classification sets (the first length policy, fixed budget).
    """
    if not objectives_on():
        return []
    block, arms = objectives_block(config), objectives_arms(config)
    variable = {
        **ucr_catalog.archive().variable_length,
        **{n: d.variable_length for n, d in CUSTOM_CLASSIFICATION.items()},
    }
    forecast = [
        f"{OBJECTIVES}/forecast/{arm}/{mode}/{dataset}/H{horizon}/seed{seed}/metrics.json"
        for arm in arms
        for mode in block["forecast"]["modes"]
        for dataset in block["forecast"]["datasets"]
        for horizon in block["forecast"]["horizons"]
        for seed in objectives_seeds()
    ]
    classify = [
        f"{OBJECTIVES}/classify/{arm}/{name}/{policy}/seed{seed}/metrics.json"
        for arm in arms
        for name in block["classify"]["datasets"]
        for policy in job_policies(
            "csft", bool(variable[name]), config["classify"]["csft_policies"]
        )[:1]
        for seed in objectives_seeds()
    ]
    return forecast + classify


def objectives_training_inputs(wildcards):
    """A fine-tuning or probe job's data file and its arm's encoder (one for every horizon and
    both modes)."""
    lookback = objectives_block(config)["forecast"]["lookback"]
    return {
        "csv": forecast_csv(wildcards.dataset),
        "encoder": f"{OBJECTIVES}/pretrained/{wildcards.arm}/{wildcards.dataset}/"
        f"L{lookback}/seed{wildcards.seed}/encoder.pt",
    }


def objectives_targets():
    """Every output of this question's stage; none while questions.objectives is off."""
    if not objectives_on():
        return []
    tables = [f"{RESULTS}/tables/objectives.{ext}" for ext in ("csv", "md")]
    return tables + expand(f"{RESULTS}/figures/objectives.{{ext}}", ext=FIGURE_FORMATS)
