"""Config dataclass fields that describe themselves: a model's settings carry their description
and JSON-schema constraints as field metadata, so the config schema of its architecture is
derived from the class (csft.models.schema), never kept by hand.

    patch_len: int = setting(16, "Patch length.", minimum=1)
    lookback: int = supplied("Input length L (the job's look-back).")

A foundation: imports nothing from csft or baselines, so any model may import it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

SETTING = "csft_setting"  # metadata key: {"description": str, "constraints": {...}}
SUPPLIED = "csft_supplied"  # metadata key: why the field is not a config setting

# The shape every registered model's Config takes from the data and the job; a plain field with
# one of these names (a plugin's Config without metadata) is supplied, not a setting.
SHAPE_FIELDS = ("lookback", "horizon", "n_channels")


def setting(default: Any, description: str, **constraints: Any) -> Any:
    """A config setting: its default, its description, and JSON-schema constraints
    (minimum=1, maximum=1, enum=[...], not_={"multipleOf": 2}; a trailing `_` is dropped)."""
    constraints = {key.rstrip("_"): value for key, value in constraints.items()}
    return dataclasses.field(
        default=default,
        metadata={SETTING: {"description": description, "constraints": constraints}},
    )


def supplied(description: str, default: Any = dataclasses.MISSING) -> Any:
    """A field the data or the job supplies (a shape, the uf track's placement): not a config
    setting, absent from the derived schema, refused under `architecture`."""
    return dataclasses.field(default=default, metadata={SUPPLIED: description})


def fixed(default: Any, description: str) -> Any:
    """A field the model fixes (its code assumes the value): not a config setting."""
    return supplied(f"fixed: {description}", default)


def is_setting(field: dataclasses.Field) -> bool:
    """Whether `field` is a config setting (not supplied by the data or the job)."""
    return SUPPLIED not in field.metadata and field.name not in SHAPE_FIELDS
