# Aggregate per-job results into tables (mean +- sd over seeds, paper numbers beside ours)
# and figures.


rule forecast_table:
    input:
        forecast_outputs("metrics.json"),
        forecast_outputs("history.csv"),
    output:
        csv=f"{RESULTS}/tables/forecast.csv",
        md=f"{RESULTS}/tables/forecast.md",
    log:
        f"{LOGS}/forecast_table.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/forecast_table.py"


rule forecast_figures:
    input:
        metrics=forecast_outputs("metrics.json"),
        history=forecast_outputs("history.csv"),
        examples=forecast_outputs("examples.npz"),
    output:
        curves_png=report(
            f"{RESULTS}/figures/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Forecasting",
        ),
        curves_pdf=f"{RESULTS}/figures/learning_curves.pdf",
        examples_png=report(
            f"{RESULTS}/figures/forecast_examples.png",
            caption="../report/forecast_examples.rst",
            category="Forecasting",
        ),
        examples_pdf=f"{RESULTS}/figures/forecast_examples.pdf",
    log:
        f"{LOGS}/forecast_figures.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/forecast_figures.py"


rule uf_figure:
    input:
        csv=f"{RESULTS}/tables/forecast.csv",
    output:
        png=report(
            f"{RESULTS}/figures/uf_lookbacks.png",
            caption="../report/uf_lookbacks.rst",
            category="Forecasting",
        ),
        pdf=f"{RESULTS}/figures/uf_lookbacks.pdf",
    log:
        f"{LOGS}/uf_figure.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/uf_figure.py"


rule classify_table:
    input:
        classify_outputs(),
    output:
        csv=f"{RESULTS}/tables/classify.csv",
        md=f"{RESULTS}/tables/classify.md",
        wilcoxon=f"{RESULTS}/tables/classify_wilcoxon.csv",
    log:
        f"{LOGS}/classify_table.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/classify_table.py"


rule classify_figures:
    input:
        classify_outputs(),
    output:
        png=report(
            f"{RESULTS}/figures/classify_ranks.png",
            caption="../report/classify_ranks.rst",
            category="Classification",
        ),
        pdf=f"{RESULTS}/figures/classify_ranks.pdf",
    log:
        f"{LOGS}/classify_figures.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/classify_figures.py"
