# The paper's open question (docs/open_questions.md, config `questions.channels`):
# Channel-independent vs channel-mixing CSFT on ETT and on a synthetic set with known
# cross-channel coupling (and its independent control). MLflow experiment `questions/channels`.
# Each arm is CSFT's recipe (models.csft) with the arm's settings, trained on every channel;
# arms that change only the mixing share the first arm's pretrained encoder (rule
# pretrain_encoder, group "channels").


include: "questions_channels_common.smk"


localrules:
    channels_synthetic,
    channels_tables,


rule channels_synthetic:
    output:
        csv=f"{DATA}/synthetic/{{synthetic}}.csv",
    log:
        f"{LOGS}/channels_synthetic/{{synthetic}}.log",
    wildcard_constraints:
        synthetic="|".join(SYNTHETIC_KINDS),
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        spec=config["questions"]["channels"].get("synthetic", {}),
    script:
        "../scripts/channels_synthetic.py"


use rule train_sensitivity as train_channels with:
    input:
        unpack(
            training_inputs(
                "channels",
                lambda w: channels_encoder_arm(config, w.arm),
                lambda w: "csft",
                lambda w: config["questions"]["channels"]["lookback"],
            )
        ),
    output:
        metrics=f"{RESULTS}/questions/channels/{{arm}}/{{dataset}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/questions/channels/{{arm}}/{{dataset}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/questions/channels/{{arm}}/{{dataset}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{RESULTS}/questions/channels/{{arm}}/{{dataset}}/H{{horizon}}/seed{{seed}}/model.pt",
    log:
        f"{LOGS}/train_channels/{{arm}}_{{dataset}}_H{{horizon}}_seed{{seed}}.log",
    wildcard_constraints:
        arm="[A-Za-z0-9_]+",
    params:
        settings=job_settings(forecast_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/questions/channels/{{arm}}_{{dataset}}_H{{horizon}}_seed{{seed}}.pt",


rule channels_tables:
    input:
        channels_outputs(),
    output:
        csv=report(
            f"{RESULTS}/tables/channels.csv",
            caption="../report/channels_table.rst",
            category="Open questions",
        ),
        md=f"{RESULTS}/tables/channels.md",
        png=report(
            f"{RESULTS}/figures/channels.png",
            caption="../report/channels.rst",
            category="Open questions",
        ),
        pdf=f"{RESULTS}/figures/channels.pdf",
    log:
        f"{LOGS}/channels_tables.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        budget=config["budget"],
        arms=channels_arms(config),
    script:
        "../scripts/channels_tables.py"
