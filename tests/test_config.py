"""The config schema (both shipped configs, defaults, rejections) and recipe resolution."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from csft.config import fill_architectures, resolve_training
from csft.training.forecast import TrainingConfig

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def assert_kept(validated, original, where="config"):
    """Every value of `original` is in `validated` unchanged (blocks compared key by key)."""
    for key, value in original.items():
        if isinstance(value, dict) and isinstance(validated[key], dict):
            assert_kept(validated[key], value, f"{where}.{key}")
        else:
            assert validated[key] == value, f"{where}.{key}"


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml"])
def test_shipped_configs_validate(name):
    config = load(name)
    original = copy.deepcopy(config)
    validate(config, SCHEMA)
    # Every value the file sets survives unchanged (defaults only fill gaps).
    assert_kept(config, original)
    # The training recipe fits TrainingConfig exactly.
    assert TrainingConfig(**config["models"]["dlinear"]["training"])


def test_defaults_fill_a_minimal_config():
    config = {}
    validate(config, SCHEMA)
    assert config["seeds"] == [2021, 2022, 2023]
    assert config["forecast"]["runs"] == [
        {"model": "dlinear", "lookback": 336},
        {"model": "dlinear", "lookback": 512},
        {"model": "csft", "lookback": 512},
    ]
    assert config["forecast"]["horizons"] == [96, 192, 336, 720]
    assert config["forecast_uf"]["intervals"][0]["eval_lookbacks"] == [512, 640, 768, 896, 1023]
    assert config["models"]["csft"]["pretraining"]["ssl"]["independence_weight"] == 0.1
    assert config["ett"] == {"datasets": ["ETTh1", "ETTh2", "ETTm1", "ETTm2"], "features": "M"}
    assert config["models"]["dlinear"]["recipe_overrides"] == []
    # The schema's training defaults are TrainingConfig's defaults.
    assert TrainingConfig(**config["models"]["dlinear"]["training"]) == TrainingConfig()
    # Architectures: their defaults come from the model's Config dataclass, filled by
    # check_config (csft.config.fill_architectures), which the Snakefile runs after validate.
    assert config["models"]["dlinear"]["architecture"] == {}
    fill_architectures(config)
    assert config["models"]["csft"]["architecture"]["fusion"] == "cross_attention"
    assert config["models"]["dlinear"]["architecture"] == {"kernel_size": 25, "individual": False}


def test_defaults_fill_gaps_inside_a_partial_section():
    config = {"forecast": {"horizons": [24]}, "models": {"dlinear": {"training": {"epochs": 2}}}}
    validate(config, SCHEMA)
    assert config["forecast"]["horizons"] == [24] and len(config["forecast"]["runs"]) == 3
    training = config["models"]["dlinear"]["training"]
    assert training["epochs"] == 2 and training["batch_size"] == 32


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"bogus_key": 1}, "bogus_key"),
        ({"models": {"dlinear": {"training": {"lr": 0.1}}}}, "lr"),
        ({"forecast": {"horizon": [96]}}, "horizon"),
        ({"models": {"csft": {"pretraining": {"ssl": {"lambda": 1}}}}}, "lambda"),
        ({"models": {"dlinear": {"recipe_overrides": [{"dataset": "ETTh1", "lr": 1}]}}}, "lr"),
    ],
)
def test_unknown_keys_are_rejected_by_name(config, key):
    with pytest.raises(WorkflowError, match=f"'{key}'"):
        validate(config, SCHEMA)


@pytest.mark.parametrize(
    "config",
    [
        {"seeds": []},
        {"seeds": [1, 1]},
        {"seeds": [-1]},
        {"seeds": "2021"},
        {"seeds": [1.5]},
        {"forecast": {"horizons": [-1]}},
        {"forecast": {"horizons": []}},
        {"forecast": {"horizons": [96, 96]}},
        {"forecast": {"lookback": 0}},
        {"forecast": {"lookback": "336"}},
        {"forecast": {"models": ["transformer"]}},
        {"ett": {"datasets": []}},
        {"ett": {"features": "MS"}},
        {"ucr": {"datasets": ["a;rm -rf /"]}},
        {"ucr": {"datasets": ["../etc"]}},
        {"ucr": {"validation_fraction": 1.0}},
        {"ucr": {"missing_values": "ignore"}},
        {"results_dir": "out; rm -rf ~"},
        {"models": {"dlinear": {"training": {"batch_size": 0}}}},
        {"models": {"dlinear": {"training": {"learning_rate": 0}}}},
        {"models": {"dlinear": {"training": {"epochs": 2.5}}}},
        {"models": {"dlinear": {"training": {"lr_schedule": "linear_warmup"}}}},
        {"models": {"csft": {"mode": "freeze"}}},
        {"forecast": {"runs": [{"model": "csft"}]}},
        {"forecast_uf": {"models": ["dlinear"]}},
        {"models": {"dlinear": {"recipe_overrides": [{"learning_rate": 0.1}]}}},
        {"models": {"dlinear": {"recipe_overrides": [{"dataset": "ETTh1", "horizons": []}]}}},
    ],
)
def test_invalid_values_are_rejected(config):
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA)


@pytest.mark.parametrize(
    ("section", "value", "named"),
    [
        ("ett", {"datasets": ["ETTh3"]}, "unknown dataset 'ETTh3'"),
        ("forecast", {"runs": [{"model": "csft", "lookback": 512, "datasets": ["ETTh9"]}]},
         "unknown dataset 'ETTh9'"),
        ("models", {"dlinaer": {}}, r"models.dlinaer: unknown model 'dlinaer'"),
        ("forecast", {"runs": [{"model": "dlinaer", "lookback": 96}]}, "unknown model 'dlinaer'"),
    ],
)  # fmt: skip
def test_names_the_schema_cannot_know_are_rejected_before_any_job(section, value, named):
    """Dataset and model names are open (custom datasets, plugin models), so the schema takes
    any well-formed name and check_config, which the Snakefile runs next, names a bad one."""
    from csft.config import check_config

    config = load("quick.yaml")
    config[section] = {**config[section], **value}
    validate(config, SCHEMA)
    with pytest.raises(ValueError, match=named):
        check_config(config)


# ---------------------------------------------------------------- resolve_training

SETTINGS = {
    "training": {"batch_size": 32, "learning_rate": 0.005, "epochs": 10},
    "recipe_overrides": [
        {"dataset": "ETTh2", "learning_rate": 0.05},
        {"dataset": "ETTm2", "horizons": [96, 192], "learning_rate": 0.001},
        {"dataset": "ETTm2", "horizons": [336, 720], "learning_rate": 0.01},
        {"dataset": "ETTm1", "batch_size": 8, "learning_rate": 0.0001},
        {"dataset": "ETTm1", "horizons": [720], "learning_rate": 0.0002},
    ],
}


def test_base_recipe_when_no_override_matches():
    assert resolve_training(SETTINGS, "ETTh1", 96) == SETTINGS["training"]
    assert resolve_training({}, "ETTh1", 96) == {}


def test_dataset_override_applies_to_every_horizon():
    for horizon in (96, 720):
        recipe = resolve_training(SETTINGS, "ETTh2", horizon)
        assert recipe == {"batch_size": 32, "learning_rate": 0.05, "epochs": 10}


def test_horizon_override_applies_only_to_its_horizons():
    assert resolve_training(SETTINGS, "ETTm2", 96)["learning_rate"] == 0.001
    assert resolve_training(SETTINGS, "ETTm2", 192)["learning_rate"] == 0.001
    assert resolve_training(SETTINGS, "ETTm2", 336)["learning_rate"] == 0.01
    assert resolve_training(SETTINGS, "ETTm2", 720)["learning_rate"] == 0.01
    assert resolve_training(SETTINGS, "ETTm2", 48)["learning_rate"] == 0.005  # none matches


def test_later_entries_win_and_keys_never_leak():
    assert resolve_training(SETTINGS, "ETTm1", 96) == {
        "batch_size": 8,
        "learning_rate": 0.0001,
        "epochs": 10,
    }
    recipe = resolve_training(SETTINGS, "ETTm1", 720)
    assert recipe == {"batch_size": 8, "learning_rate": 0.0002, "epochs": 10}
    assert "dataset" not in recipe and "horizons" not in recipe


def test_resolution_does_not_mutate_the_settings():
    before = copy.deepcopy(SETTINGS)
    recipe = resolve_training(SETTINGS, "ETTh2", 96)
    recipe["epochs"] = 99
    assert SETTINGS == before


def test_shipped_config_recipes_build_training_configs():
    config = load("config.yaml")
    validate(config, SCHEMA)
    dlinear = config["models"]["dlinear"]
    recipe = resolve_training(dlinear, "ETTm1", 336)
    assert (recipe["batch_size"], recipe["learning_rate"]) == (8, 0.0001)
    for dataset in config["ett"]["datasets"]:
        for horizon in config["forecast"]["horizons"]:
            TrainingConfig(**resolve_training(dlinear, dataset, horizon))


def test_architecture_overrides_apply_per_dataset():
    from csft.config import resolve_architecture

    settings = load("config.yaml")["models"]["patchtst"]
    etth1 = resolve_architecture(settings, "ETTh1", 96)
    ettm1 = resolve_architecture(settings, "ETTm1", 96)
    assert (etth1["d_model"], etth1["n_heads"], etth1["d_ff"], etth1["dropout"]) == (
        16,
        4,
        128,
        0.3,
    )
    assert (ettm1["d_model"], ettm1["n_heads"], ettm1["d_ff"], ettm1["dropout"]) == (
        128,
        16,
        256,
        0.2,
    )
    assert resolve_training(settings, "ETTm1", 96)["lr_schedule"] == "onecycle"
    assert "architecture" not in resolve_training(settings, "ETTh1", 96)


def test_unknown_architecture_key_fails_before_any_job():
    from csft.config import check_architectures

    config = load("config.yaml")
    check_architectures(config)  # the shipped config is clean
    config["models"]["patchtst"]["recipe_overrides"][0]["architecture"]["d_modle"] = 8
    with pytest.raises(ValueError, match="d_modle"):
        check_architectures(config)
    config = load("config.yaml")
    config["classify"]["csft"]["architecture"]["fusoin"] = "residual"
    with pytest.raises(
        ValueError,
        match=r"classify.csft.architecture: unknown architecture key\(s\) \['fusoin'\]",
    ):
        check_architectures(config)
    config = load("config.yaml")
    config["analysis"]["variants"][1]["architecture"]["fusoin"] = "residual"
    with pytest.raises(ValueError, match="analysis.variants.csft_residual"):
        check_architectures(config)
    config = load("config.yaml")
    config["models"]["csft"]["architecture"]["placement"] = "pad_mask"
    with pytest.raises(ValueError, match=r"models.csft.architecture.placement: .* forecast_uf"):
        check_architectures(config)


def test_classification_variants_resolve_to_their_model_with_their_overrides():
    from csft.config import check_architectures, classifier_model, classify_settings

    config = load("config.yaml")
    config["classify"]["variants"] = [
        {"name": "csft_raw", "model": "csft", "architecture": {"input_norm": "none"}}
    ]
    config["classify"]["models"].append("csft_raw")
    validate(config, SCHEMA)
    check_architectures(config)
    assert classifier_model(config, "csft_raw") == "csft"
    settings = classify_settings(config, "csft_raw")
    assert settings["architecture"]["input_norm"] == "none"
    assert settings["architecture"]["d_max"] == 128  # the track's own override still applies
    assert classify_settings(config, "csft")["architecture"]["input_norm"] == "instance"
    assert classify_settings(config, "ts2vec", threads=2)["steps"] == "auto"
    config["classify"]["variants"][0]["architecture"] = {"input_nrom": "none"}
    with pytest.raises(
        ValueError, match=r"classify.variants.csft_raw.architecture: unknown .*input_nrom"
    ):
        check_architectures(config)
    config["classify"]["models"].append("rocket9")
    with pytest.raises(ValueError, match="unknown classifier 'rocket9'"):
        check_architectures(config)


def test_classification_budgets_and_policies_are_validated():
    config = load("config.yaml")
    config["classify"]["selection"] = ["best_on_test"]
    with pytest.raises(WorkflowError, match="best_on_test"):
        validate(config, SCHEMA)
    config = load("config.yaml")
    for bad in (0, -1, "all"):  # a step budget of 0 is an error, not a silent default
        config["classify"]["patchtst"]["training"]["steps"] = bad
        with pytest.raises(WorkflowError, match="steps"):
            validate(config, SCHEMA)
    config = load("config.yaml")
    del config["classify"]["csft"]["pretraining"]["steps"]
    validate(config, SCHEMA)
    assert config["classify"]["csft"]["pretraining"]["steps"] == "auto"
    config = load("config.yaml")
    config["ucr"]["scaling"] = "minmax"
    with pytest.raises(WorkflowError, match="minmax"):
        validate(config, SCHEMA)
    config = load("config.yaml")
    config["classify"]["csft"]["training"]["epochs"] = 100  # the old epoch budget is gone
    with pytest.raises(WorkflowError, match="epochs"):
        validate(config, SCHEMA)


def documented_configfiles(name: str) -> list[str]:
    """The config files a shipped config's header tells the user to load (itself alone when the
    header names none), in order."""
    import re

    header = (ROOT / "config" / name).read_text()
    found = re.search(r"--configfile((?:\s+(?:#\s*)?config/[\w.]+\.yaml)+)", header)
    return re.findall(r"config/([\w.]+\.yaml)", found.group(1)) if found else [name]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config").glob("*.yaml")))
def test_every_shipped_config_passes_as_its_header_loads_it(name):
    # A check config is loaded over a base (config.yaml or quick.yaml), after the Snakefile's
    # own config/config.yaml: merged as Snakemake merges them, it must pass the schema and
    # check_config before any job runs.
    from snakemake.utils import update_config

    from csft.config import check_config

    files = documented_configfiles(name)
    assert files[-1] == name, f"{name}'s header command does not end with {name}: {files}"
    config: dict = {}
    for file in ["config.yaml", *files]:  # the Snakefile's configfile comes first
        update_config(config, load(file))
    validate(config, SCHEMA)
    check_config(config)


def test_the_smoke_config_changes_budgets_only_never_the_studys_shape():
    # config/smoke.yaml runs the full study's DAG at minimal budgets: it may cut what a job
    # trains (epochs, steps, batches, trials, seeds, series, kernels) and where results go, never
    # which datasets, horizons, tracks, models, readings or analyses run.
    from snakemake.utils import update_config

    from csft.tracking import flatten

    full = load("config.yaml")
    smoke: dict = {}
    for file in ["config.yaml", "smoke.yaml"]:
        update_config(smoke, load(file))
    budgets = {"epochs", "patience", "max_batches_per_epoch", "steps", "seeds", "trials",
               "n_series", "n_kernels", "budget", "results_dir", "experiment_prefix"}  # fmt: skip
    full_flat, smoke_flat = flatten(full), flatten(smoke)
    assert full_flat.keys() == smoke_flat.keys()
    changed = {key for key in full_flat if full_flat[key] != smoke_flat[key]}
    assert changed, "smoke.yaml changes nothing"
    assert {key.rsplit(".", 1)[-1] for key in changed} <= budgets, sorted(changed)
    assert smoke["seeds"] == [2021] and smoke["budget"] == "smoke"
