"""A model's architecture schema is derived from its Config dataclass (csft.models.schema):
no model is listed in workflow/schemas/config.schema.yaml, check_config checks every
architecture block against the derived schema and fills its defaults."""

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from csft.config import check_architectures, check_config
from csft.models import registry
from csft.models.schema import architecture_schema, main
from csft.models.settings import SHAPE_FIELDS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def quick() -> dict:
    config = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
    validate(config, SCHEMA)
    return config


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_the_derived_schema_is_the_config_dataclass(name):
    cls = registry.model_class(name)
    schema = architecture_schema(cls)
    fields = [f for f in dataclasses.fields(cls.Config) if f.name not in SHAPE_FIELDS]
    fields = [f for f in fields if not (name == "csft" and f.name in ("placement", "repatch"))]
    assert list(schema["properties"]) == [f.name for f in fields]
    assert {k: p["default"] for k, p in schema["properties"].items()} == {
        f.name: f.default for f in fields
    }
    assert schema["additionalProperties"] is False
    for prop in schema["properties"].values():
        assert prop["type"] in ("boolean", "integer", "number", "string") and prop["description"]
    # The defaults build the model's Config (a derived default the class rejects cannot exist).
    cls.Config(lookback=512, horizon=96, n_channels=1, **{f.name: f.default for f in fields})


def test_literal_annotations_become_enums():
    props = architecture_schema(registry.model_class("csft"))["properties"]
    assert props["fusion"]["enum"] == ["cross_attention", "residual"]
    assert props["input_norm"] == {
        **props["input_norm"],
        "type": "string",
        "enum": ["instance", "none"],
    }
    assert architecture_schema(registry.model_class("dlinear"))["properties"]["kernel_size"][
        "not"
    ] == {"multipleOf": 2}


def test_the_yaml_schema_lists_no_model_architecture():
    text = (ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text()
    for key in ("kernel_size", "patch_len", "ffn_ratio", "residual_attention", "input_norm:"):
        assert key not in text


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("models", "csft", "architecture", "patch_len"), 0,
         "models.csft.architecture.patch_len: 0 is less than the minimum of 1"),
        (("models", "csft", "architecture", "fusion"), "concat",
         "models.csft.architecture.fusion: 'concat' is not one of"),
        (("models", "dlinear", "architecture", "individual"), "yes",
         "models.dlinear.architecture.individual: 'yes' is not of type 'boolean'"),
        (("models", "dlinear", "architecture", "kernel_size"), 24,
         "models.dlinear.architecture.kernel_size: 24 should not be valid"),
        (("models", "patchtst", "architecture", "d_model"), 16.0,
         "models.patchtst.architecture.d_model: 16.0 is not of type 'integer'"),
        (("models", "patchtst", "architecture", "dropout"), 1.5,
         "models.patchtst.architecture.dropout: 1.5 is greater than the maximum of 1"),
        (("models", "dlinear", "architecture", "kernal_size"), 5,
         r"models.dlinear.architecture: unknown architecture key\(s\) \['kernal_size'\]"),
        (("analysis", "lengths", "architecture", "d_max"), -1,
         "analysis.lengths.architecture.d_max: -1 is less than the minimum of 0"),
    ],
)  # fmt: skip
def test_a_bad_architecture_is_refused_naming_its_path(path, value, message):
    config = quick()
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(ValueError, match=message):
        check_config(config)


def test_an_override_is_checked_without_defaults():
    config = quick()
    config["models"]["patchtst"]["recipe_overrides"] = [
        {"dataset": "ETTh1", "architecture": {"n_heads": 0}}
    ]
    with pytest.raises(
        ValueError, match=r"models.patchtst.recipe_overrides\[0\].architecture.n_heads: 0 is less"
    ):
        check_architectures(config)
    config["models"]["patchtst"]["recipe_overrides"][0]["architecture"] = {"n_heads": 8}
    check_architectures(config)
    assert config["models"]["patchtst"]["recipe_overrides"][0]["architecture"] == {"n_heads": 8}


def test_defaults_fill_the_architecture_and_keep_what_is_set():
    config = quick()
    config["models"]["csft"]["architecture"] = {"d_model": 8}
    check_architectures(config)
    architecture = config["models"]["csft"]["architecture"]
    assert architecture["d_model"] == 8 and architecture["patch_len"] == 16
    assert "placement" not in architecture and "repatch" not in architecture


def test_the_command_line_prints_the_schema(capsys):
    assert main(["patchtst"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == architecture_schema(registry.model_class("patchtst"))
    assert main(["no_such_model"]) == 1
