"""Resolving the validated study config into the settings of one job."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from csft.registry import model_class

SHAPE_FIELDS = {"lookback", "horizon", "n_channels"}


def resolve_training(model_settings: Mapping, dataset: str, horizon: int) -> dict:
    """The training recipe of one (dataset, horizon) job: base `training` + matching overrides.

    Overrides apply in file order, so a later, more specific entry wins.
    """
    recipe = dict(model_settings.get("training", {}))
    for override in model_settings.get("recipe_overrides", []):
        if override["dataset"] != dataset:
            continue
        if "horizons" in override and horizon not in override["horizons"]:
            continue
        recipe.update(
            {k: v for k, v in override.items() if k not in ("dataset", "horizons", "architecture")}
        )
    return recipe


def resolve_architecture(model_settings: Mapping, dataset: str, horizon: int) -> dict:
    """The architecture of one job: base `architecture` + matching overrides' `architecture`."""
    architecture = dict(model_settings.get("architecture", {}))
    for override in model_settings.get("recipe_overrides", []):
        if override["dataset"] == dataset and horizon in override.get("horizons", [horizon]):
            architecture.update(override.get("architecture", {}))
    return architecture


def check_architectures(models: Mapping) -> None:
    """Fail before any job if an architecture key (also in an override) is not a model field."""
    for name, settings in models.items():
        fields = {f.name for f in dataclasses.fields(model_class(name).Config)} - SHAPE_FIELDS
        blocks = [settings.get("architecture", {})]
        blocks += [o.get("architecture", {}) for o in settings.get("recipe_overrides", [])]
        for block in blocks:
            unknown = sorted(set(block) - fields)
            if unknown:
                raise ValueError(
                    f"models.{name}: unknown architecture key(s) {unknown}; valid: {sorted(fields)}"
                )
