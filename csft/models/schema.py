"""The config schema of a model's architecture, derived from its Config dataclass.

Every field that is a setting (csft.models.settings.is_setting) becomes a property: its JSON type
from the annotation (bool, int, float, str; Literal -> enum; `X | None` also admits null), its
default, and the description and constraints of its `setting(...)` metadata. Unknown keys are
refused (additionalProperties: false). A model added to the registry (built in, entry point or
`models.<name>.class`) needs no edit of workflow/schemas/config.schema.yaml.

    python -m csft.models.schema csft          # the derived schema of any registered model
    python -m csft.models.schema my_pkg:Model  # or of a class named "module:Class"
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from collections.abc import Mapping

from csft.models.settings import SETTING, is_setting

JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _type_schema(annotation) -> dict:
    """The JSON-schema type (or enum) of one annotation; {} when it has no JSON counterpart."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
        kinds = {JSON_TYPES.get(type(v)) for v in values}
        return {"type": kinds.pop(), "enum": values} if len(kinds) == 1 else {"enum": values}
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        inner = [_type_schema(a) for a in args if a is not type(None)]
        if len(inner) == 1 and "type" in inner[0] and type(None) in args:
            return {**inner[0], "type": [inner[0]["type"], "null"]}
        return {}
    if annotation in JSON_TYPES:
        return {"type": JSON_TYPES[annotation]}
    return {}


def setting_fields(config_class: type) -> list[dataclasses.Field]:
    """The fields of a Config dataclass that are config settings, in declaration order."""
    return [f for f in dataclasses.fields(config_class) if is_setting(f)]


def config_schema(config_class: type) -> dict:
    """The JSON schema of the settings of one Config dataclass."""
    hints = typing.get_type_hints(config_class)
    properties = {}
    for field in setting_fields(config_class):
        meta = field.metadata.get(SETTING, {})
        prop = _type_schema(hints.get(field.name))
        prop.update(meta.get("constraints", {}))
        if field.default is not dataclasses.MISSING:
            prop["default"] = field.default
        if meta.get("description"):
            prop["description"] = meta["description"]
        properties[field.name] = prop
    schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if config_class.__doc__ and not config_class.__doc__.startswith(config_class.__name__ + "("):
        schema["description"] = " ".join(config_class.__doc__.split())
    return schema


def architecture_schema(cls: type) -> dict:
    """The JSON schema of `models.<name>.architecture` for the model class `cls` (its Config)."""
    return config_schema(cls.Config)


def check_architecture(
    schema: Mapping, block: dict, where: str, fill_defaults: bool = False
) -> None:
    """Validate one architecture block against its derived schema; with `fill_defaults`, add
    every missing setting's default (in field order, as Snakemake's validate does). Errors
    name the path: `<where>.patch_len: 0 is less than the minimum of 1`."""
    from jsonschema import Draft7Validator, validators

    # An integer setting takes an int only (16.0 would reach a layer size as a float).
    checker = Draft7Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    validator = validators.extend(Draft7Validator, type_checker=checker)
    properties = schema["properties"]
    unknown = sorted(set(block) - set(properties))
    if unknown:
        raise ValueError(
            f"{where}: unknown architecture key(s) {unknown}; valid: {sorted(properties)}"
        )
    errors = sorted(validator(schema).iter_errors(block), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        path = ".".join([where, *(str(p) for p in error.absolute_path)])
        raise ValueError(f"{path}: {error.message}")
    if fill_defaults:
        for key, prop in properties.items():
            if "default" in prop:
                block.setdefault(key, prop["default"])


def main(argv: list[str] | None = None) -> int:
    from csft.models import registry

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m csft.models.schema NAME | module:Class", file=sys.stderr)
        return 2
    name = args[0]
    if ":" in name:
        registry.register(name.split(":")[-1].lower(), name)
        name = name.split(":")[-1].lower()
    try:
        cls = registry.model_class(name)
    except (KeyError, ImportError) as error:
        print(error.args[0], file=sys.stderr)
        return 1
    print(json.dumps(architecture_schema(cls), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
