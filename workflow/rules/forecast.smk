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
        model=lambda w: w.model,
        train_lookbacks=lambda w: [int(w.lookback), int(w.lookback) + 1],
        eval_lookbacks=lambda w: [int(w.lookback)],
        features=config["ett"]["features"],
        architecture=lambda w: resolve_architecture(
            config["models"][w.model], w.dataset, int(w.horizon)
        ),
        training=lambda w: resolve_training(
            config["models"][w.model], w.dataset, int(w.horizon)
        ),
        pretraining=lambda w: config["models"][w.model].get("pretraining"),
        mode=lambda w: config["models"][w.model].get("mode", "finetune"),
        experiment=experiment("forecast"),
        run_name=lambda w: f"{w.model}/{w.dataset}/L{w.lookback}/H{w.horizon}/{w.seed}",
        tracking_uri=config["tracking"]["uri"],
        device=DEVICE,
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
        model=lambda w: w.model,
        train_lookbacks=lambda w: [int(w.low), int(w.high)],
        eval_lookbacks=lambda w: uf_eval_lookbacks(int(w.low), int(w.high)),
        features=config["ett"]["features"],
        architecture=lambda w: {
            **resolve_architecture(
                config["models"][w.model], w.dataset, int(w.horizon)
            ),
            "placement": w.placement,
        },
        training=lambda w: resolve_training(
            config["models"][w.model], w.dataset, int(w.horizon)
        ),
        pretraining=lambda w: config["models"][w.model].get("pretraining"),
        mode=lambda w: config["models"][w.model].get("mode", "finetune"),
        experiment=experiment("forecast"),
        run_name=lambda w: f"{w.model}/{w.dataset}/uf{w.low}-{w.high}/{w.placement}/H{w.horizon}/{w.seed}",
        tracking_uri=config["tracking"]["uri"],
        device=DEVICE,
        checkpoint=f"{RESULTS}/checkpoints/forecast_uf/{{model}}_{{dataset}}_I{{low}}-{{high}}_{{placement}}_H{{horizon}}_seed{{seed}}.pt",
    script:
        "../scripts/train_forecast.py"
