"""Resolving the validated study config into the settings of one job."""

from __future__ import annotations

from collections.abc import Mapping


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
        recipe.update({k: v for k, v in override.items() if k not in ("dataset", "horizons")})
    return recipe
