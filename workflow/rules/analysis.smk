# The paper's claims as experiments: CSFT with cross-scale attention and with residual fusion,
# and PatchTST, trained on one ETT set (the ablation and the feature statistics), then the
# boundary-lengths study. Runs go to MLflow's `ablation` experiment.


rule train_analysis:
    input:
        unpack(
            training_inputs(
                "analysis",
                lambda w: w.variant,
                lambda w: analysis_job(w)["model"],
                lambda w: config["analysis"]["lookback"],
            )
        ),
    output:
        metrics=f"{RESULTS}/analysis/{{variant}}/{{dataset}}/H{{horizon}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/analysis/{{variant}}/{{dataset}}/H{{horizon}}/seed{{seed}}/history.csv",
        examples=f"{RESULTS}/analysis/{{variant}}/{{dataset}}/H{{horizon}}/seed{{seed}}/examples.npz",
        model=f"{RESULTS}/analysis/{{variant}}/{{dataset}}/H{{horizon}}/seed{{seed}}/model.pt",
        features=f"{RESULTS}/analysis/{{variant}}/{{dataset}}/H{{horizon}}/seed{{seed}}/features.npz",
    log:
        f"{LOGS}/train_analysis/{{variant}}_{{dataset}}_H{{horizon}}_seed{{seed}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPUS,
    params:
        settings=job_settings(forecast_job.resolve),
        checkpoint=f"{RESULTS}/checkpoints/analysis/{{variant}}_{{dataset}}_H{{horizon}}_seed{{seed}}.pt",
    script:
        "../scripts/train_forecast.py"


rule analysis_tables:
    input:
        metrics=analysis_outputs("metrics.json"),
        history=analysis_outputs("history.csv"),
        features=analysis_outputs("features.npz"),
    output:
        **analysis_figure_outputs(),
        csv=f"{RESULTS}/tables/analysis.csv",
        jobs=f"{RESULTS}/tables/analysis_jobs.csv",
        ablation_md=f"{RESULTS}/tables/ablation.md",
        features_md=f"{RESULTS}/tables/features.md",
    log:
        f"{LOGS}/analysis_tables.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        fusions=lambda w: analysis_fusions(),
        experiment=experiment("features"),
        tracking_uri=config["tracking"]["uri"],
    script:
        "../scripts/analysis_tables.py"


rule claims_table:
    input:
        unpack(claims_inputs),
    output:
        csv=report(
            f"{RESULTS}/tables/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
        ),
        md=f"{RESULTS}/tables/claims.md",
    log:
        f"{LOGS}/claims_table.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        budget=config["budget"],
    script:
        "../scripts/claims_table.py"


rule boundary_lengths:
    input:
        csv=f"{DATA}/ETT-small/{config['analysis']['dataset']}.csv",
    output:
        **lengths_outputs(),
    log:
        f"{LOGS}/boundary_lengths.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240 * len(config["analysis"].get("seeds", config["seeds"])),  # one encoder a seed
        gpu=GPUS,
    params:
        settings=job_settings(lengths_job.resolve),
    script:
        "../scripts/boundary_lengths.py"
