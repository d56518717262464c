# The paper's open question (docs/open_questions.md, config `questions.objectives`):
# Richer self-supervised objectives: CSFT's reconstruction + independence against + a
# contrastive term, masked reconstruction, and both. MLflow experiment `questions/objectives`.
# Each arm is CSFT's recipe under dotted-path overrides; the rules are the sensitivity stage's
# and the encoder pretraining's (`use rule`), with the arm as the wildcard.


include: "questions_objectives_common.smk"


wildcard_constraints:
    arm=READING_PATTERN,
    mode="finetune|probe",


localrules:
    objectives_tables,


use rule pretrain_encoder as pretrain_objectives with:
    input:
        csv=lambda w: forecast_csv(w.dataset),
    output:
        encoder=f"{OBJECTIVES}/pretrained/{{arm}}/{{dataset}}/L{{lookback}}/seed{{seed}}/encoder.pt",
        history=f"{OBJECTIVES}/pretrained/{{arm}}/{{dataset}}/L{{lookback}}/seed{{seed}}/history.csv",
    log:
        f"{LOGS}/pretrain_objectives/{{arm}}_{{dataset}}_L{{lookback}}_seed{{seed}}.log",
    params:
        settings=lambda w: pretrain_job.resolve(
            config, {**dict(w.items()), "group": "objectives", "name": w.arm}
        ).to_dict(),
        checkpoint=f"{RESULTS}/checkpoints/pretrained/objectives_{{arm}}_{{dataset}}_L{{lookback}}_seed{{seed}}.pt",


use rule train_sensitivity as train_objectives with:
    input:
        unpack(objectives_training_inputs),
    output:
        metrics=f"{OBJECTIVES}/forecast/{{arm}}/{{mode}}/{{dataset}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{OBJECTIVES}/forecast/{{arm}}/{{mode}}/{{dataset}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{OBJECTIVES}/forecast/{{arm}}/{{mode}}/{{dataset}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{OBJECTIVES}/forecast/{{arm}}/{{mode}}/{{dataset}}/H{{horizon}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/train_objectives/{{arm}}_{{mode}}_{{dataset}}_H{{horizon}}_seed{{seed}}.log",
    params:
        settings=job_settings(forecast_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/objectives/{{arm}}_{{mode}}_{{dataset}}_H{{horizon}}_seed{{seed}}.pt",


use rule classify_sensitivity as classify_objectives with:
    output:
        metrics=f"{OBJECTIVES}/classify/{{arm}}/{{name}}/{{policy}}/seed{{seed}}/metrics.json",
        model=f"{OBJECTIVES}/classify/{{arm}}/{{name}}/{{policy}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/classify_objectives/{{arm}}_{{name}}_{{policy}}_seed{{seed}}.log",


rule objectives_tables:
    input:
        objectives_outputs(),
    output:
        csv=f"{RESULTS}/tables/objectives.csv",
        md=f"{RESULTS}/tables/objectives.md",
        figures=expand(f"{RESULTS}/figures/objectives.{{ext}}", ext=FIGURE_FORMATS),
    log:
        f"{LOGS}/objectives_tables.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        budget=config["budget"],
        baseline=OBJECTIVES_BASELINE,
        sweeps={arm: list(swept) for arm, swept in objectives_sweeps(config).items()},
    script:
        "../scripts/objectives_tables.py"
