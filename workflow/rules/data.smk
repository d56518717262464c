# Download (official source or CSFT_DATA_MIRROR), verify SHA-256, prepare.


rule download_ett:
    output:
        f"{DATA}/ETT-small/{{dataset}}.csv",
    log:
        f"{LOGS}/download_ett/{{dataset}}.log",
    wildcard_constraints:
        dataset="|".join(ETT_ROWS_PER_HOUR),
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/download_ett.py"


rule download_ucr_archive:
    output:
        f"{DATA}/UCRArchive_2018.zip",
    log:
        f"{LOGS}/download_ucr_archive.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    script:
        "../scripts/download_ucr_archive.py"


rule extract_ucr:
    input:
        unpack(ucr_archive_input),
    output:
        train=f"{DATA}/UCR/{{name}}/{{name}}_TRAIN.tsv",
        test=f"{DATA}/UCR/{{name}}/{{name}}_TEST.tsv",
    log:
        f"{LOGS}/extract_ucr/{{name}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/extract_ucr.py"


rule prepare_ucr:
    input:
        train=f"{DATA}/UCR/{{name}}/{{name}}_TRAIN.tsv",
        test=f"{DATA}/UCR/{{name}}/{{name}}_TEST.tsv",
    output:
        f"{RESULTS}/data/ucr/{{name}}.json",
    log:
        f"{LOGS}/prepare_ucr/{{name}}.log",
    conda:
        "../envs/csft.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        validation_fraction=config["ucr"]["validation_fraction"],
        missing_values=config["ucr"]["missing_values"],
    script:
        "../scripts/prepare_ucr.py"
