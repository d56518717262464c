# UCR classification: one job per model x dataset x length policy x seed. Every model sees the
# same series and splits; selection on the validation split of TRAIN (or CV on TRAIN), TEST
# scored once; every method's run logged to MLflow's `classify` experiment.


rule train_classify:
    input:
        summary=f"{RESULTS}/data/ucr/{{name}}.json",
        train=f"{DATA}/UCR/{{name}}/{{name}}_TRAIN.tsv",
        test=f"{DATA}/UCR/{{name}}/{{name}}_TEST.tsv",
    output:
        metrics=f"{RESULTS}/classify/{{classifier}}/{{name}}/{{policy}}/seed{{seed}}/metrics.json",
    log:
        f"{LOGS}/train_classify/{{classifier}}_{{name}}_{{policy}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=480,
        gpu=lambda w: GPUS if w.classifier in NEURAL_CLASSIFIERS else 0,
    params:
        settings=lambda w, threads: classify_settings(config, w.classifier, threads),
        min_length=config["models"]["csft"]["architecture"]["min_length"],
        short_series=config["ucr"]["short_series"],
        missing_values=config["ucr"]["missing_values"],
        validation_fraction=config["ucr"]["validation_fraction"],
        validation_seed=config["ucr"]["validation_seed"],
        experiment=experiment("classify"),
        tracking_uri=config["tracking"]["uri"],
        device=DEVICE,
    script:
        "../scripts/train_classify.py"
