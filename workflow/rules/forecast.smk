# Forecasting: one job per model x look-back x dataset x horizon x seed (main track) and per
# model x look-back interval x dataset x horizon x seed (variable-length "uf" track). Early
# stopping on validation, test scored once per look-back, every run logged to MLflow. CSFT
# fine-tunes the encoder of workflow/rules/pretrain.smk's job for its model, dataset, look-back
# and seed (the uf track: one per interval and placement, pretrained on the interval's lengths).


rule train_forecast:
    input:
        unpack(
            training_inputs(
                "forecast", lambda w: w.model, lambda w: w.model, lambda w: w.lookback
            )
        ),
    output:
        metrics=f"{RESULTS}/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{RESULTS}/forecast/{{model}}/{{dataset}}/L{{lookback}}/H{{horizon}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/train_forecast/{{model}}_{{dataset}}_L{{lookback}}_H{{horizon}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPUS,
    params:
        settings=job_settings(forecast_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/forecast/{{model}}_{{dataset}}_L{{lookback}}_H{{horizon}}_seed{{seed}}.pt",
    script:
        "../scripts/train_forecast.py"


rule train_forecast_uf:
    input:
        unpack(uf_training_inputs),
    output:
        metrics=f"{RESULTS}/forecast_uf/{{model}}/{{dataset}}/I{{low}}-{{high}}/{{placement}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/forecast_uf/{{model}}/{{dataset}}/I{{low}}-{{high}}/{{placement}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/forecast_uf/{{model}}/{{dataset}}/I{{low}}-{{high}}/{{placement}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{RESULTS}/forecast_uf/{{model}}/{{dataset}}/I{{low}}-{{high}}/{{placement}}/H{{horizon}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/train_forecast_uf/{{model}}_{{dataset}}_I{{low}}-{{high}}_{{placement}}_H{{horizon}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=480,
        gpu=GPUS,
    params:
        settings=job_settings(forecast_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/forecast_uf/{{model}}_{{dataset}}_I{{low}}-{{high}}_{{placement}}_H{{horizon}}_seed{{seed}}.pt",
    script:
        "../scripts/train_forecast.py"
