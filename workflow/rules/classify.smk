# Classification (UCR sets and custom_classification folders): one job per classifier x dataset
# x length policy x selection policy x seed. Every model sees the same series; a fixed step
# budget on all of TRAIN or early stopping on a validation split of it (or CV on TRAIN), TEST
# scored once; every method's run logged to MLflow's `classify` experiment.


rule train_classify:
    input:
        unpack(classify_inputs),
    output:
        metrics=f"{RESULTS}/classify/{{classifier}}/{{name}}/{{policy}}/{{selection}}/seed{{seed}}/metrics.json",
    log:
        f"{LOGS}/train_classify/{{classifier}}_{{name}}_{{policy}}_{{selection}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=480,
        gpu=lambda w: uses_gpu(w.classifier),
    params:
        settings=lambda w, threads: classify_settings(config, w.classifier, threads),
        model=lambda w: classifier_model(config, w.classifier),
        scaling=config["ucr"]["scaling"],
        min_length=config["models"]["csft"]["architecture"]["min_length"],
        short_series=config["ucr"]["short_series"],
        missing_values=config["ucr"]["missing_values"],
        validation_fraction=config["ucr"]["validation_fraction"],
        experiment=experiment("classify"),
        tracking_uri=config["tracking"]["uri"],
        device=DEVICE,
    script:
        "../scripts/train_classify.py"
