"""The one registry of models: name -> "module:Class", resolved on use.

Strings, not imports, so csft never imports baselines at import time and the two packages
cannot form a cycle. Each model class carries its frozen config dataclass as `Model.Config`.
"""

from __future__ import annotations

import dataclasses
import importlib

from torch import nn

MODELS: dict[str, str] = {
    "csft": "csft.models.csft:CSFT",
    "dlinear": "baselines.dlinear:DLinear",
    "patchtst": "baselines.patchtst:PatchTST",
}


# What the classification job builds beyond a forecaster: "module:Attribute", or a module.
CLASSIFIER_PARTS: dict[str, str] = {
    "patchtst": "baselines.patchtst:PatchTSTClassifier",
    "ts2vec": "baselines.ts2vec",  # TS2VecConfig, fit_ts2vec, encode_series
}


def classifier_part(name: str):
    """The classifier class (or module) registered under `name` in CLASSIFIER_PARTS."""
    if name not in CLASSIFIER_PARTS:
        raise KeyError(f"no classifier part {name!r}; registered: {', '.join(CLASSIFIER_PARTS)}")
    module_name, _, attribute = CLASSIFIER_PARTS[name].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def model_class(name: str) -> type[nn.Module]:
    """The class registered under `name`; unknown names list the valid ones."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(MODELS))}")
    module_name, class_name = MODELS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_model(name: str, architecture: dict, **shape: int) -> nn.Module:
    """Instantiate model `name` from its architecture settings and the data's shape."""
    cls = model_class(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted((set(architecture) | set(shape)) - fields)
    if unknown:
        raise TypeError(f"model {name!r} has no setting(s) {unknown}; it takes {sorted(fields)}")
    return cls(cls.Config(**shape, **architecture))
