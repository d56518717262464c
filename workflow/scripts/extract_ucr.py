# ruff: noqa: F821
"""Snakemake script: one UCR dataset's TRAIN/TEST files, from the mirror or the archive zip."""

from pathlib import Path

from csft import joblog
from csft.data.download import extract_ucr_dataset, fetch, mirror_from_env

joblog.log_to(snakemake.log[0])

name = snakemake.wildcards.name
outputs = {"TRAIN": Path(snakemake.output.train), "TEST": Path(snakemake.output.test)}
data_dir = outputs["TRAIN"].parents[2]  # DATA/UCR/NAME/NAME_TRAIN.tsv

mirror = mirror_from_env()
if mirror is not None:
    for split, output in outputs.items():
        fetch(f"UCR/{name}/{name}_{split}.tsv", output, mirror=mirror, url=None)
else:
    extract_ucr_dataset(Path(snakemake.input.archive), name, data_dir)
