# Self-supervised encoder pretraining: one job per model (or analysis variant) x dataset x
# look-back x seed, fine-tuned by every horizon's job (and by both forecasting tracks), since
# pretraining never sees a forecast target. Runs go to MLflow's `pretrain` experiment.


rule pretrain_encoder:
    input:
        csv=f"{DATA}/ETT-small/{{dataset}}.csv",
    output:
        encoder=f"{RESULTS}/pretrained/{{group}}/{{name}}/{{dataset}}/L{{lookback}}/seed{{seed}}/encoder.pt",
        history=f"{RESULTS}/pretrained/{{group}}/{{name}}/{{dataset}}/L{{lookback}}/seed{{seed}}/history.csv",
    log:
        f"{LOGS}/pretrain_encoder/{{group}}_{{name}}_{{dataset}}_L{{lookback}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPUS,
    params:
        architecture=lambda w: pretraining_job(w)["architecture"],
        pretraining=lambda w: pretraining_job(w)["pretraining"],
        features=config["ett"]["features"],
        experiment=experiment("pretrain"),
        run_name=lambda w: f"{w.group}/{w.name}/{w.dataset}/L{w.lookback}/{w.seed}",
        tracking_uri=config["tracking"]["uri"],
        device=DEVICE,
        checkpoint=f"{RESULTS}/checkpoints/pretrained/{{group}}_{{name}}_{{dataset}}_L{{lookback}}_seed{{seed}}.pt",
    script:
        "../scripts/pretrain_encoder.py"
