# Equal-budget tuning (config `tuning`): one Optuna study per forecaster x dataset x look-back
# of forecast.runs, and per classifier x set of tuning.classify, the same trials and per-trial
# budget for every method, the official recipe as trial 0, scored on validation only; its
# journal (beside best.json, not an output) lets a killed study resume. The tuned recipe then
# trains every seed (rules pretrain_encoder, group "tuned", train_tuned and classify_tuned) and
# tables/tuning.* shows official and tuned side by side.
# MLflow experiment `tuning`: a run per study with a nested run per trial.


rule tune_forecast:
    input:
        csv=lambda w: forecast_csv(w.dataset),
    output:
        best=f"{RESULTS}/tuning/forecast/{{model}}/{{dataset}}/L{{lookback}}/best.json",
        trials=f"{RESULTS}/tuning/forecast/{{model}}/{{dataset}}/L{{lookback}}/trials.csv",
    log:
        f"{LOGS}/tune_forecast/{{model}}_{{dataset}}_L{{lookback}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=960,
        gpu=GPUS,
    params:
        settings=job_settings(tune_job.resolve),
        journal=f"{RESULTS}/tuning/forecast/{{model}}/{{dataset}}/L{{lookback}}/journal.log",
    script:
        "../scripts/tune_forecast.py"


rule train_tuned:
    input:
        unpack(tuned_training_inputs),
    output:
        metrics=f"{RESULTS}/tuned/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/tuned/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/tuned/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{RESULTS}/tuned/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/train_tuned/{{model}}_{{dataset}}_L{{lookback}}_H{{horizon}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPUS,
    params:
        settings=lambda w: forecast_job.resolve(
            config, {**dict(w.items()), "recipe": "tuned"}
        ).to_dict(),
        checkpoint=f"{RESULTS}/checkpoints/tuned/{{model}}_{{dataset}}_L{{lookback}}_H{{horizon}}_seed{{seed}}.pt",
    script:
        "../scripts/train_forecast.py"


rule tune_classify:
    input:
        unpack(classify_inputs),
    output:
        best=f"{RESULTS}/tuning/classify/{{classifier}}/{{name}}/{{policy}}/best.json",
        trials=f"{RESULTS}/tuning/classify/{{classifier}}/{{name}}/{{policy}}/trials.csv",
    log:
        f"{LOGS}/tune_classify/{{classifier}}_{{name}}_{{policy}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=960,
        gpu=lambda w: uses_gpu(w.classifier),
    params:
        settings=job_settings(tune_classify_job.resolve),
        journal=f"{RESULTS}/tuning/classify/{{classifier}}/{{name}}/{{policy}}/journal.log",
    script:
        "../scripts/tune_classify.py"


rule classify_tuned:
    input:
        unpack(classify_inputs),
        best=lambda w: tuning_classify_best(w.classifier, w.name),
    output:
        metrics=f"{RESULTS}/tuned/classify/{{classifier}}/{{name}}/{{policy}}/{{selection}}/seed{{seed}}/metrics.json",
        model=f"{RESULTS}/tuned/classify/{{classifier}}/{{name}}/{{policy}}/{{selection}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/classify_tuned/{{classifier}}_{{name}}_{{policy}}_{{selection}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=480,
        gpu=lambda w: uses_gpu(w.classifier),
    params:
        settings=lambda w, threads: classify_run.resolve(
            config, {**dict(w.items()), "recipe": "tuned"}, threads
        ).to_dict(),
    script:
        "../scripts/train_classify.py"


rule tuning_tables:
    input:
        best=tuning_outputs("best"),
        official=tuning_outputs("official"),
        tuned=tuning_outputs("tuned"),
        classify_best=classify_tuning_outputs("best"),
        classify_official=classify_tuning_outputs("official"),
        classify_tuned=classify_tuning_outputs("tuned"),
    output:
        csv=f"{RESULTS}/tables/tuning.csv",
        md=f"{RESULTS}/tables/tuning.md",
    log:
        f"{LOGS}/tuning_tables.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/tuning_tables.py"
