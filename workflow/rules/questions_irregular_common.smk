# Open question 2, irregular sampling: the config check, wildcards and output lists of
# questions_irregular.smk (which includes this file; functions apart from rules).
from csft.config import check_irregular
from csft.report.irregular import fraction_name

IRREGULAR = config["questions"]["irregular"]
check_irregular(config)


wildcard_constraints:
    method="none|interpolate|time_aware",
    fraction=r"\d+(\.\d+)?",


def irregular_seeds():
    return IRREGULAR.get("seeds", config["seeds"])


def irregular_outputs():
    """Every metrics file of the stage: forecasting (model+method x p x dataset x horizon x
    seed), then classification (classifier+method x p x set x its first length policy x seed).
    """
    if not IRREGULAR["enabled"]:
        return []
    cells = IRREGULAR["forecast"]
    variable = {
        **ucr_catalog.archive().variable_length,
        **{n: d.variable_length for n, d in CUSTOM_CLASSIFICATION.items()},
    }
    classify = [
        f"{RESULTS}/questions/irregular/classify/{v['classifier']}/{v['method']}/p{fraction_name(p)}/{name}/{policy}/seed{seed}/metrics.json"
        for v in IRREGULAR["classify"]["variants"]
        for p in IRREGULAR["fractions"]
        for name in IRREGULAR["classify"]["datasets"]
        for policy in job_policies(
            classifier_model(config, v["classifier"]),
            bool(variable[name]),
            config["classify"]["csft_policies"],
        )[:1]
        for seed in irregular_seeds()
    ]
    return classify + [
        f"{RESULTS}/questions/irregular/forecast/{v['model']}/{v['method']}/p{fraction_name(p)}/{dataset}/H{horizon}/seed{seed}/metrics.json"
        for v in IRREGULAR["variants"]
        for p in IRREGULAR["fractions"]
        for dataset in cells["datasets"]
        for horizon in cells["horizons"]
        for seed in irregular_seeds()
    ]


def irregular_targets():
    """Every output of this question's stage; none while questions.irregular is off."""
    if not irregular_outputs():
        return []
    tables = [f"{RESULTS}/tables/irregular.{ext}" for ext in ("csv", "md")]
    return tables + expand(f"{RESULTS}/figures/irregular.{{ext}}", ext=FIGURE_FORMATS)
