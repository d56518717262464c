"""The one registry of models: name -> "module:Class", resolved on use.

Strings, not imports, so csft never imports baselines at import time and the two packages
cannot form a cycle. Each model class carries its frozen config dataclass as `Model.Config`.

A forecaster from outside the repo registers without editing this file: a Python entry point
in the group `csft_bench.models` (name = "module:Class" in its package's metadata), or
`models.<name>.class: "module:Class"` in the config (`register_config_models`). What a model
can do is declared on its class (`pretrains`, `reports_diagnostics`, a `represent` method),
never decided by its name. docs/extending.md has the contract.
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


ENTRY_POINTS = "csft_bench.models"  # the entry-point group plugins register under


def plugin_models() -> dict[str, str]:
    """name -> "module:Class" of every installed package's `csft_bench.models` entry point."""
    from importlib.metadata import entry_points

    return {point.name: point.value for point in entry_points(group=ENTRY_POINTS)}


def register(name: str, target: str) -> None:
    """Register `target` ("module:Class") as model `name` for this process; a built-in name
    cannot be replaced, and a name registered twice must name the same class."""
    if target.count(":") != 1 or not all(target.split(":")):
        raise ValueError(f"model {name!r}: class must be 'module:Class', got {target!r}")
    if MODELS.get(name, target) != target:
        raise ValueError(f"model {name!r} is already registered as {MODELS[name]!r}")
    MODELS[name] = target


def register_config_models(config: dict) -> None:
    """Register every `models.<name>.class` of a config (the Snakefile and each job call it)."""
    for name, settings in (config.get("models") or {}).items():
        if settings.get("class"):
            register(name, settings["class"])


def model_target(name: str) -> str:
    """The "module:Class" of model `name`: built in, registered, or an installed plugin."""
    if name in MODELS:
        return MODELS[name]
    plugins = plugin_models()
    if name in plugins:
        return plugins[name]
    known = sorted({*MODELS, *plugins})
    raise KeyError(
        f"unknown model {name!r}; registered models: {', '.join(known)} (a model of your own: "
        f"models.{name}.class: 'module:Class' in the config, or an entry point in the group "
        f"{ENTRY_POINTS})"
    )


def model_class(name: str) -> type[nn.Module]:
    """The class registered under `name`; unknown names list the valid ones."""
    module_name, class_name = model_target(name).split(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"model {name!r}: cannot load {model_target(name)!r} ({error})"
        ) from error


def build_model(name: str, architecture: dict, **shape: int) -> nn.Module:
    """Instantiate model `name` from its architecture settings and the data's shape."""
    cls = model_class(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted((set(architecture) | set(shape)) - fields)
    if unknown:
        raise TypeError(f"model {name!r} has no setting(s) {unknown}; it takes {sorted(fields)}")
    return cls(cls.Config(**shape, **architecture))
