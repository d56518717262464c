"""Settings addressed by dotted paths ("architecture.d_model", "pretraining.ssl.mask_ratio"):
how the sensitivity stage's axes and the tuning stage's search spaces name what they change."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def with_setting(settings: Mapping, path: str, value: Any) -> dict:
    """A deep copy of `settings` with the value at dotted `path` replaced (missing
    intermediate blocks created)."""
    changed = copy.deepcopy(dict(settings))
    node = changed
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return changed


def find_setting(settings: Mapping, path: str) -> tuple[bool, Any]:
    """(whether `settings` has the dotted `path`, its value there)."""
    node: Any = settings
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node
