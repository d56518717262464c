# The paper's open question (docs/open_questions.md, config `questions.irregular`):
# Irregular sampling: a fraction p of time points removed (per time step, every channel, seeded
# by seed x dataset x p, the same for every model; input windows only, targets complete);
# interpolation back onto the grid (any model) against a time-aware CSFT (values + mask,
# `architecture.missing_mask`). One forecasting job per model+method x p x cell x seed, trained
# from scratch with the model's models.* recipe, and one classification job per classifier+
# method x p x set x seed (classify.* recipe, fixed budget, first length policy; each series
# loses the same points for every classifier); a table, a figure with sd bands, verdicts.
# MLflow experiment `questions/irregular`.
include: "questions_irregular_common.smk"


localrules:
    irregular_tables,


# The main-track training rule, on the stage's own paths; its settings come from
# csft.jobs.forecast.resolve's `fraction` branch (the removal, the method, no pretraining).
use rule train_forecast as train_irregular with:
    input:
        csv=lambda w: forecast_csv(w.dataset),
    output:
        metrics=f"{RESULTS}/questions/irregular/forecast/{{model}}/{{method}}/p{{fraction}}/{{dataset}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/questions/irregular/forecast/{{model}}/{{method}}/p{{fraction}}/{{dataset}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/questions/irregular/forecast/{{model}}/{{method}}/p{{fraction}}/{{dataset}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{RESULTS}/questions/irregular/forecast/{{model}}/{{method}}/p{{fraction}}/{{dataset}}/H{{horizon}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/train_irregular/{{model}}_{{method}}_p{{fraction}}_{{dataset}}_H{{horizon}}_seed{{seed}}.log",
    params:
        settings=job_settings(forecast_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/questions/irregular/{{model}}_{{method}}_p{{fraction}}_{{dataset}}_H{{horizon}}_seed{{seed}}.pt",


# The classification rule, on the stage's own paths (fixed budget); settings from
# csft.jobs.classify_run.resolve's `fraction` branch.
use rule train_classify as classify_irregular with:
    output:
        metrics=f"{RESULTS}/questions/irregular/classify/{{classifier}}/{{method}}/p{{fraction}}/{{name}}/{{policy}}/seed{{seed}}/metrics.json",
        model=f"{RESULTS}/questions/irregular/classify/{{classifier}}/{{method}}/p{{fraction}}/{{name}}/{{policy}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/classify_irregular/{{classifier}}_{{method}}_p{{fraction}}_{{name}}_{{policy}}_seed{{seed}}.log",
    params:
        settings=lambda w, threads: classify_run.resolve(
            config, {**dict(w.items()), "selection": "fixed_budget"}, threads
        ).to_dict(),


rule irregular_tables:
    input:
        irregular_outputs(),
    output:
        csv=f"{RESULTS}/tables/irregular.csv",
        md=f"{RESULTS}/tables/irregular.md",
        figures=expand(f"{RESULTS}/figures/irregular.{{ext}}", ext=FIGURE_FORMATS),
    log:
        f"{LOGS}/irregular_tables.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        budget=config["budget"],
    script:
        "../scripts/irregular_tables.py"
