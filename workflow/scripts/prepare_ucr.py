# ruff: noqa: F821
"""Snakemake script: load one UCR dataset, write a JSON summary of it.

The summary records what later stages depend on (sizes, classes, lengths, the missing-value
policy and the input hashes), so a changed file or policy shows up in the workflow's outputs.
"""

import json
import logging
from pathlib import Path

import numpy as np

from csft import joblog
from csft.atomic import write_text
from csft.data.download import sha256_of
from csft.data.ucr import load_ucr

joblog.log_to(snakemake.log[0])

inputs = {"TRAIN": Path(snakemake.input.train), "TEST": Path(snakemake.input.test)}
data_dir = inputs["TRAIN"].parents[2]  # DATA/UCR/NAME/NAME_TRAIN.tsv
name = inputs["TRAIN"].name.removesuffix("_TRAIN.tsv")
fraction = float(snakemake.params.validation_fraction)
missing_values = str(snakemake.params.missing_values)

relpaths = {split: f"UCR/{name}/{name}_{split}.tsv" for split in inputs}

dataset = load_ucr(data_dir, name, missing_values=missing_values)
lengths = np.concatenate([dataset.lengths("train"), dataset.lengths("test")])
summary = {
    "name": name,
    "n_train": len(dataset.train.series),
    "class_counts_train": np.bincount(dataset.train.labels).tolist(),
    "n_test": len(dataset.test.series),
    "n_classes": dataset.n_classes,
    "classes": [str(label) for label in dataset.classes.tolist()],
    "min_length": int(lengths.min()),
    "max_length": int(lengths.max()),
    "variable_length": dataset.is_variable_length,
    "missing_values": missing_values,
    "validation_fraction": fraction,
    "sha256": {relpaths[split]: sha256_of(path) for split, path in inputs.items()},
}
write_text(snakemake.output[0], json.dumps(summary, indent=2, sort_keys=True) + "\n")
logging.getLogger(__name__).info("wrote %s", snakemake.output[0])
