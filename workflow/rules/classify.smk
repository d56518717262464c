# Classification (UCR sets and custom_classification folders): one job per classifier x dataset
# x length policy x selection policy x seed. Every model sees the same series; a fixed step
# budget on all of TRAIN or early stopping on a validation split of it (or CV on TRAIN), TEST
# scored once; every method's run logged to MLflow's `classify` experiment.


rule train_classify:
    input:
        unpack(classify_inputs),
    output:
        metrics=f"{RESULTS}/classify/{{classifier}}/{{name}}/{{policy}}/{{selection}}/seed{{seed}}/metrics.json",
        model=f"{RESULTS}/classify/{{classifier}}/{{name}}/{{policy}}/{{selection}}/seed{{seed}}/model.pt",
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
        settings=lambda w, threads: classify_run.resolve(
            config, dict(w.items()), threads
        ).to_dict(),
    script:
        "../scripts/train_classify.py"
