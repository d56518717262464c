# How much each of our readings of the paper moves CSFT (config `sensitivity`): one setting
# at a time from the default recipe, same seeds and budget; CSFT forecasting on the stage's ETT
# cells (an encoder pretrained per reading, rule pretrain_encoder, group "sensitivity") and
# classification on its sets; a table, a tornado figure and a paragraph. MLflow experiment
# `sensitivity`.


rule train_sensitivity:
    input:
        unpack(
            training_inputs(
                "sensitivity",
                lambda w: sensitivity_encoder_reading(w.reading),
                lambda w: "csft",
                lambda w: config["sensitivity"]["forecast"]["lookback"],
            )
        ),
    output:
        metrics=f"{RESULTS}/sensitivity/forecast/{{reading}}/{{dataset}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/sensitivity/forecast/{{reading}}/{{dataset}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/sensitivity/forecast/{{reading}}/{{dataset}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{RESULTS}/sensitivity/forecast/{{reading}}/{{dataset}}/H{{horizon}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/train_sensitivity/{{reading}}_{{dataset}}_H{{horizon}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPUS,
    params:
        settings=job_settings(forecast_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/sensitivity/{{reading}}_{{dataset}}_H{{horizon}}_seed{{seed}}.pt",
    script:
        "../scripts/train_forecast.py"


rule classify_sensitivity:
    input:
        unpack(classify_inputs),
    output:
        metrics=f"{RESULTS}/sensitivity/classify/{{reading}}/{{name}}/{{policy}}/seed{{seed}}/metrics.json",
        model=f"{RESULTS}/sensitivity/classify/{{reading}}/{{name}}/{{policy}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/classify_sensitivity/{{reading}}_{{name}}_{{policy}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=480,
        gpu=GPUS,
    params:
        settings=lambda w, threads: classify_run.resolve(
            config,
            {**dict(w.items()), "classifier": "csft", "selection": "fixed_budget"},
            threads,
        ).to_dict(),
    script:
        "../scripts/train_classify.py"


rule sensitivity_tables:
    input:
        sensitivity_outputs(),
    output:
        csv=f"{RESULTS}/tables/sensitivity.csv",
        md=f"{RESULTS}/tables/sensitivity.md",
        figures=expand(f"{RESULTS}/figures/sensitivity.{{ext}}", ext=FIGURE_FORMATS),
    log:
        f"{LOGS}/sensitivity_tables.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        budget=config["budget"],
    script:
        "../scripts/sensitivity_tables.py"
