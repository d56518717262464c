# Self-supervised encoder pretraining: one job per model (or analysis variant) x dataset x
# look-back x seed, fine-tuned by every horizon's job, since pretraining never sees a forecast
# target; for the uf track one per model x dataset x interval x placement x seed, pretrained on
# the interval's lengths under that placement; group "tuned": under a tuning study's best
# settings. Runs go to MLflow's `pretrain` experiment.


rule pretrain_encoder:
    input:
        unpack(pretrain_inputs),
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
        settings=job_settings(pretrain_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/pretrained/{{group}}_{{name}}_{{dataset}}_L{{lookback}}_seed{{seed}}.pt",
    script:
        "../scripts/pretrain_encoder.py"


rule pretrain_encoder_uf:
    input:
        csv=lambda w: forecast_csv(w.dataset),
    output:
        encoder=f"{RESULTS}/pretrained/forecast_uf/{{model}}/{{dataset}}/I{{low}}-{{high}}/{{placement}}/seed{{seed}}/encoder.pt",
        history=f"{RESULTS}/pretrained/forecast_uf/{{model}}/{{dataset}}/I{{low}}-{{high}}/{{placement}}/seed{{seed}}/history.csv",
    log:
        f"{LOGS}/pretrain_encoder_uf/{{model}}_{{dataset}}_I{{low}}-{{high}}_{{placement}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=480,
        gpu=GPUS,
    params:
        settings=job_settings(pretrain_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/pretrained/forecast_uf_{{model}}_{{dataset}}_I{{low}}-{{high}}_{{placement}}_seed{{seed}}.pt",
    script:
        "../scripts/pretrain_encoder.py"
