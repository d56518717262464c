# Forecasting: one job per model x dataset x horizon x seed; early stopping on validation,
# test scored once; every run logged to MLflow.


rule train_forecast:
    input:
        csv=f"{DATA}/ETT-small/{{dataset}}.csv",
    output:
        metrics=f"{RESULTS}/forecast/{{model}}/{{dataset}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/forecast/{{model}}/{{dataset}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/forecast/{{model}}/{{dataset}}/H{{horizon}}/seed{{seed}}/examples.npz",
    log:
        f"{LOGS}/train_forecast/{{model}}_{{dataset}}_H{{horizon}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        lookback=config["forecast"]["lookback"],
        features=config["ett"]["features"],
        architecture=lambda w: config["models"][w.model]["architecture"],
        training=lambda w: resolve_training(
            config["models"][w.model], w.dataset, int(w.horizon)
        ),
        experiment=experiment("forecast"),
        tracking_uri=config["tracking"]["uri"],
    script:
        "../scripts/train_forecast.py"
