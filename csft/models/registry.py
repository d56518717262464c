"""The registries of models: name -> "module:Class", resolved on use.

Strings, not imports, so csft never imports baselines at import time and the two packages
cannot form a cycle. Forecasters (MODELS) carry their frozen config dataclass as `Model.Config`;
classifiers (CLASSIFIERS) are csft.classifiers.Classifier subclasses.

A model from outside the repo registers without editing this file: a Python entry point in the
group `csft_bench.models` (forecasters) or `csft_bench.classifiers` (name = "module:Class" in
its package's metadata), or `models.<name>.class` / `classifiers.<name>.class` in the config
(`register_config_models`, `register_config_classifiers`). "aeon:ClassName" names any aeon
classifier. What a model can do is declared on its class (`pretrains`, `reports_diagnostics`,
a `represent` method, a classifier's length policies and protocols), never decided by its
name. docs/extending.md has the contract.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field

from torch import nn

MODELS: dict[str, str] = {
    "csft": "csft.models.csft:CSFT",
    "dlinear": "baselines.dlinear:DLinear",
    "patchtst": "baselines.patchtst:PatchTST",
}

CLASSIFIERS: dict[str, str] = {
    "csft": "csft.classifiers.csft:CSFTClassification",
    "patchtst": "csft.classifiers.patchtst:PatchTSTClassification",
    "ts2vec": "csft.classifiers.ts2vec:TS2VecClassification",
    "minirocket": "csft.classifiers.aeon_based:MiniRocket",
    "dtw_1nn": "csft.classifiers.aeon_based:DTW1NN",
}

# What the classifiers of csft.classifiers build from baselines (which csft never imports by
# name): "module:Attribute", or a module.
CLASSIFIER_PARTS: dict[str, str] = {
    "patchtst": "baselines.patchtst:PatchTSTClassifier",
    "ts2vec": "baselines.ts2vec",  # TS2VecConfig, fit_ts2vec, encode_series
}


def classifier_part(name: str):
    """The class (or module) registered under `name` in CLASSIFIER_PARTS."""
    if name not in CLASSIFIER_PARTS:
        raise KeyError(f"no classifier part {name!r}; registered: {', '.join(CLASSIFIER_PARTS)}")
    module_name, _, attribute = CLASSIFIER_PARTS[name].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


# "package:Class" targets built by a factory rather than imported: "aeon:ClassName" wraps any
# aeon classifier (csft.classifiers.aeon_based).
CLASSIFIER_FACTORIES: dict[str, str] = {"aeon": "csft.classifiers.aeon_based:aeon_classifier"}


@dataclass(frozen=True)
class Registry:
    """One kind of model: its built-in table, entry-point group and config section."""

    kind: str  # "model" or "classifier", for messages
    table: dict[str, str]
    group: str  # the entry-point group plugins register under
    section: str  # the config section holding `<name>.class`
    factories: dict[str, str] = field(default_factory=dict)  # package -> "module:function"

    def plugins(self) -> dict[str, str]:
        """name -> "module:Class" of every installed package's entry point of this group."""
        from importlib.metadata import entry_points

        return {point.name: point.value for point in entry_points(group=self.group)}

    def register(self, name: str, target: str) -> None:
        """Register `target` ("module:Class") as `name` for this process; a built-in name
        cannot be replaced, and a name registered twice must name the same class."""
        if target.count(":") != 1 or not all(target.split(":")):
            raise ValueError(f"{self.kind} {name!r}: class must be 'module:Class', got {target!r}")
        if self.table.get(name, target) != target:
            raise ValueError(f"{self.kind} {name!r} is already registered as {self.table[name]!r}")
        self.table[name] = target

    def register_config(self, config: dict) -> None:
        """Register every `<section>.<name>.class` of a config."""
        for name, settings in (config.get(self.section) or {}).items():
            if (settings or {}).get("class"):
                self.register(name, settings["class"])

    def names(self) -> list[str]:
        """Every name known here: built in, registered, or an installed plugin."""
        return sorted({*self.table, *self.plugins()})

    def target(self, name: str) -> str:
        """The "module:Class" of `name`: built in, registered, or an installed plugin."""
        if name in self.table:
            return self.table[name]
        plugins = self.plugins()
        if name in plugins:
            return plugins[name]
        if name.partition(":")[0] in self.factories:
            return name
        raise KeyError(
            f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())} (one of your "
            f"own: {self.section}.{name}.class: 'module:Class' in the config, or an entry point "
            f"in the group {self.group})"
        )

    def load(self, name: str) -> type:
        """The class registered under `name`; unknown names list the valid ones."""
        target = self.target(name)
        module_name, class_name = target.split(":")
        try:
            if module_name in self.factories:
                factory_module, factory = self.factories[module_name].split(":")
                return getattr(importlib.import_module(factory_module), factory)(class_name)
            return getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise ImportError(f"{self.kind} {name!r}: cannot load {target!r} ({error})") from error


MODEL_REGISTRY = Registry("model", MODELS, "csft_bench.models", "models")
CLASSIFIER_REGISTRY = Registry(
    "classifier", CLASSIFIERS, "csft_bench.classifiers", "classifiers", CLASSIFIER_FACTORIES
)
ENTRY_POINTS = MODEL_REGISTRY.group


def plugin_models() -> dict[str, str]:
    return MODEL_REGISTRY.plugins()


def register(name: str, target: str) -> None:
    MODEL_REGISTRY.register(name, target)


def register_config_models(config: dict) -> None:
    """Register every `models.<name>.class` of a config (the Snakefile and each job call it)."""
    MODEL_REGISTRY.register_config(config)


def model_target(name: str) -> str:
    return MODEL_REGISTRY.target(name)


def model_class(name: str) -> type[nn.Module]:
    return MODEL_REGISTRY.load(name)


def register_config_classifiers(config: dict) -> None:
    """Register every `classifiers.<name>.class` of a config (the Snakefile and each job)."""
    CLASSIFIER_REGISTRY.register_config(config)


def register_classifier(name: str, target: str) -> None:
    CLASSIFIER_REGISTRY.register(name, target)


def classifier_target(name: str) -> str:
    return CLASSIFIER_REGISTRY.target(name)


def classifier_class(name: str) -> type:
    """The csft.classifiers.Classifier subclass registered under `name` (or "aeon:Class")."""
    return CLASSIFIER_REGISTRY.load(name)


def build_model(name: str, architecture: dict, **shape: int) -> nn.Module:
    """Instantiate model `name` from its architecture settings and the data's shape."""
    cls = model_class(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted((set(architecture) | set(shape)) - fields)
    if unknown:
        raise TypeError(f"model {name!r} has no setting(s) {unknown}; it takes {sorted(fields)}")
    return cls(cls.Config(**shape, **architecture))
