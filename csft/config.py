"""Resolving the validated study config into the settings of one job."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from csft import tuning
from csft.data.custom import CustomDataset, custom_datasets
from csft.data.custom_classification import custom_classification
from csft.data.splits import ETT_ROWS_PER_HOUR, SPLITS, ett_segments
from csft.data.synthetic import KINDS as SYNTHETIC_KINDS
from csft.data.synthetic import SyntheticSpec, synthetic_datasets
from csft.dotted import find_setting, with_setting
from csft.models.objectives import SSLConfig
from csft.models.registry import (
    CLASSIFIERS,
    classifier_class,
    model_class,
    register_config_classifiers,
    register_config_models,
)
from csft.models.schema import architecture_schema, check_architecture
from csft.training.forecast import TrainingConfig
from csft.training.pretrain import PretrainConfig


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


def resolve_architecture(model_settings: Mapping, dataset: str, horizon: int | None) -> dict:
    """The architecture of one job: base `architecture` + matching overrides' `architecture`.

    `horizon` None (an encoder pretraining, which no horizon enters) applies only the overrides
    that name no horizons.
    """
    architecture = dict(model_settings.get("architecture", {}))
    for override in model_settings.get("recipe_overrides", []):
        if override["dataset"] == dataset and horizon in override.get("horizons", [horizon]):
            architecture.update(override.get("architecture", {}))
    return architecture


def uses_pretraining(model: str, model_settings: Mapping) -> bool:
    """Whether `model`'s forecasting jobs fine-tune an encoder from a pretraining job."""
    epochs = (model_settings.get("pretraining") or {}).get("epochs", 0)
    return bool(getattr(model_class(model), "pretrains", False)) and epochs > 0


def check_pretraining(config: Mapping) -> None:
    """Fail before any job if a pretrained model's architecture depends on the horizon (one
    encoder is pretrained per dataset and look-back and fine-tuned for every horizon), or if
    probe mode has no pretrained encoder to freeze."""
    for name, settings in config.get("models", {}).items():
        if not uses_pretraining(name, settings):
            if settings.get("mode") == "probe":
                raise ValueError(
                    f"models.{name}.mode: probe freezes a pretrained encoder, but {name} has "
                    "none (pretraining.epochs must be > 0, and only csft pretrains)"
                )
            continue
        for override in settings.get("recipe_overrides", []):
            if "horizons" in override and override.get("architecture"):
                raise ValueError(
                    f"models.{name}.recipe_overrides: {override['dataset']} horizons "
                    f"{override['horizons']} set an architecture, but {name}'s encoder is "
                    "pretrained once for every horizon; give the override no horizons"
                )


def pretraining_settings(
    config: Mapping, group: str, name: str, dataset: str, placement: str | None = None
) -> dict:
    """What one encoder pretraining runs: the model's `pretraining` recipe and its architecture
    on `dataset` (for an analysis variant, the variant's settings on top).

    `group` "forecast" names a model (the main track fine-tunes its encoder), "forecast_uf" a
    model of the uf track under `placement` (an encoder per placement and interval),
    "analysis" an analysis variant, "tuned" a model under its tuned recipe.
    """
    if group in ("forecast", "tuned"):  # tuned: the study's best settings applied by the job
        model, extra = name, {}
    elif group == "forecast_uf":
        model, extra = name, {"placement": placement or "resample"}
    elif group == "analysis":
        variant = analysis_variant(config, name)
        model, extra = variant["model"], variant.get("architecture", {})
    elif group == "sensitivity":
        base = pretraining_settings(config, "forecast", "csft", dataset)
        return reading_settings(config, name, base)
    elif group == "channels":
        base = pretraining_settings(config, "forecast", "csft", dataset)
        return channels_arm_settings(config, name, base)
    elif group == "objectives":  # the objectives question: CSFT's recipe under one arm
        base = pretraining_settings(config, "forecast", "csft", dataset)
        return objectives_arm_settings(config, name, base)
    else:
        raise ValueError(
            "pretraining group must be forecast, forecast_uf, analysis, sensitivity, channels, "
            f"objectives or tuned, got {group!r}"
        )
    settings = config["models"][model]
    return {
        "model": model,
        "architecture": {**resolve_architecture(settings, dataset, None), **extra},
        "pretraining": settings.get("pretraining"),
    }


def fill_architectures(config: Mapping) -> None:
    """Check every `models.<name>.architecture` against the schema derived from its model's
    Config dataclass and fill in the defaults (what the YAML schema does for every other key;
    Snakemake's validate, then this, give the config a rule sees)."""
    register_config_models(config)
    for name, settings in config.get("models", {}).items():
        try:
            model_class(name)
        except (KeyError, ImportError) as error:  # the block names no model
            raise ValueError(f"models.{name}: {error.args[0]}") from None
        where = f"models.{name}.architecture"
        _check_architecture(where, name, settings.setdefault("architecture", {}), fill=True)


def check_architectures(config: Mapping) -> None:
    """Fail before any job if an architecture block does not fit its model's Config dataclass
    (the schema csft.models.schema derives from it: keys, types, enums, bounds): a model's base
    architecture, its overrides, or the classification and analysis tracks'. Fills each
    `models.<name>.architecture` with its defaults, as the YAML schema fills the rest."""
    fill_architectures(config)
    blocks = []  # (path, model, block): overrides, checked without defaults
    for name, settings in config.get("models", {}).items():
        blocks += [
            (f"models.{name}.recipe_overrides[{i}].architecture", name, o["architecture"])
            for i, o in enumerate(settings.get("recipe_overrides", []))
            if "architecture" in o
        ]
    for name in CLASSIFIERS:
        forecaster = classifier_class(name).architecture_of
        block = config.get("classify", {}).get(name, {}).get("architecture", {})
        if forecaster:
            blocks.append((f"classify.{name}.architecture", forecaster, block))
    for name in config.get("classify", {}).get("models", []):
        model = classifier_model(config, name)  # an unknown name fails here, before any job
        forecaster = classifier_class(model).architecture_of
        if name != model and not forecaster:
            raise ValueError(
                f"classify.variants.{name}: {model} has no architecture to vary (its class "
                "declares no architecture_of)"
            )
        if name != model:
            where = f"classify.variants.{name}.architecture"
            blocks.append((where, forecaster, classify_variant(config, name)))
    analysis = config.get("analysis", {})
    for variant in analysis.get("variants", []):
        where = f"analysis.variants.{variant['name']}.architecture"
        blocks.append((where, variant["model"], variant.get("architecture", {})))
    lengths = analysis.get("lengths", {}).get("architecture", {})
    blocks.append(("analysis.lengths.architecture", "csft", lengths))
    for where, name, block in blocks:
        _check_architecture(where, name, block)


def _check_architecture(where: str, name: str, block: dict, fill: bool = False) -> None:
    """One architecture block of model `name` against its derived schema (`fill`: add the
    defaults), or a ValueError naming `where`."""
    if "placement" in block:
        raise ValueError(
            f"{where}.placement: a look-back's placement is the uf track's axis; set "
            "forecast_uf.placement (the main track and classification use their own rules)"
        )
    try:
        schema = architecture_schema(model_class(name))
    except (KeyError, ImportError) as error:
        raise ValueError(f"{where}: {error.args[0]}") from None
    check_architecture(schema, block, where, fill_defaults=fill)


def _ett_jobs(config: Mapping):
    """(config key, dataset, look-back, horizon) of every ETT job the config asks for."""
    datasets = config.get("ett", {}).get("datasets", [])
    forecast = config.get("forecast", {})
    for run in forecast.get("runs", []):
        for dataset in run.get("datasets", datasets):
            for horizon in forecast.get("horizons", []):
                yield "forecast.horizons", dataset, run["lookback"], horizon
    uf = config.get("forecast_uf", {})
    for interval in uf.get("intervals", []) if uf.get("models") else []:
        longest = max(interval["high"] - 1, *interval["eval_lookbacks"])
        for dataset in uf.get("datasets", datasets):
            for horizon in uf.get("horizons", []):
                yield "forecast_uf.horizons", dataset, longest, horizon
    analysis = config.get("analysis", {})
    if analysis.get("enabled"):
        for horizon in analysis.get("horizons", []):
            yield "analysis.horizons", analysis["dataset"], analysis["lookback"], horizon
    sensitivity = (config.get("sensitivity") or {}).get("forecast", {})
    if (config.get("sensitivity") or {}).get("axes"):
        for dataset in sensitivity.get("datasets", []):
            for horizon in sensitivity.get("horizons", [96]):
                yield "sensitivity.forecast", dataset, sensitivity.get("lookback", 512), horizon
    channels = (config.get("questions") or {}).get("channels") or {}
    if channels.get("enabled"):  # the synthetic sets: check_channels (their files come later)
        for dataset in channels.get("datasets", []):
            if dataset not in SYNTHETIC_KINDS:
                horizon, lookback = channels.get("horizon", 96), channels.get("lookback", 512)
                yield "questions.channels", dataset, lookback, horizon
    objectives = objectives_block(config)
    if objectives.get("enabled"):
        block = objectives.get("forecast", {})
        for dataset in block.get("datasets", []):
            for horizon in block.get("horizons", [96]):
                yield "questions.objectives.forecast", dataset, block.get("lookback", 512), horizon


def check_models(config: Mapping) -> None:
    """Register the config's own models (`models.<name>.class`), then fail before any job if a
    forecasting run names a model that does not resolve to a class or has no `models` block
    (its recipe)."""
    register_config_models(config)
    for run in config.get("forecast", {}).get("runs", []):
        name = run["model"]
        try:
            model_class(name)
        except (KeyError, ImportError) as error:
            raise ValueError(f"forecast.runs: {error.args[0]}") from None
        if name not in config.get("models", {}):
            raise ValueError(
                f"forecast.runs: model {name!r} has no models.{name} block (its training recipe "
                "and architecture); add one"
            )


def check_datasets(config: Mapping) -> None:
    """Fail before any job if a forecasting dataset is neither an ETT set nor a name under
    custom_datasets, or a custom name hides an ETT set."""
    custom = custom_datasets(config)
    hidden = sorted(set(custom) & set(ETT_ROWS_PER_HOUR))
    if hidden:
        raise ValueError(f"custom_datasets: {hidden} are ETT names; give your data another name")
    known = set(ETT_ROWS_PER_HOUR) | set(custom)
    for key, dataset, _, _ in _ett_jobs(config):
        if dataset not in known:
            raise ValueError(
                f"{key}: unknown dataset {dataset!r}; expected an ETT set "
                f"({', '.join(sorted(ETT_ROWS_PER_HOUR))}) or one of custom_datasets "
                f"({', '.join(sorted(custom)) or 'none defined'})"
            )
    analysis = config.get("analysis", {})
    if analysis.get("enabled") and analysis.get("dataset") not in ETT_ROWS_PER_HOUR:
        raise ValueError(f"analysis.dataset: {analysis.get('dataset')!r} is not an ETT set")


def check_classification_data(config: Mapping) -> None:
    """Fail before any job if a custom_classification name hides an archive set, or a listed
    one's files break the protocol: a missing file, ragged or NaN rows, TEST labels TRAIN
    lacks, or (ucr.short_series: error) series shorter than CSFT's min_length."""
    from csft.data.ucr_catalog import archive
    from csft.training.classify import lengthen_short

    custom = custom_classification(config)
    hidden = sorted(set(custom) & set(archive().index))
    if hidden:
        raise ValueError(
            f"custom_classification: {hidden} are UCR archive names; give your data another name"
        )
    ucr = config.get("ucr", {})
    architecture = config.get("models", {}).get("csft", {}).get("architecture", {})
    min_length = architecture.get("min_length", 64)
    for name in ucr.get("datasets", []):
        if name not in custom:
            continue
        try:
            dataset = custom[name].load(ucr.get("missing_values", "interpolate"))
            for split, path in custom[name].files().items():
                series = getattr(dataset, split.lower()).series
                lengthen_short(series, min_length, ucr.get("short_series", "resample"), str(path))
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"ucr.datasets: {error}") from None


def check_ett_windows(config: Mapping) -> None:
    """Fail before any job if a look-back + horizon leaves a split without a window (a
    horizon larger than the data), naming the key, dataset, lengths and split. A custom
    dataset's file is read once, for its number of rows."""
    custom, rows = custom_datasets(config), {}
    for key, dataset, lookback, horizon in _ett_jobs(config):
        try:
            if dataset in custom:
                if dataset not in rows:
                    rows[dataset] = len(custom[dataset].read())
                segments = custom[dataset].segments(rows[dataset], lookback)
            else:
                segments = ett_segments(dataset, lookback)
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"{key}: {error}") from None
        for split in SPLITS:
            if segments[split].n_windows(lookback, horizon) == 0:
                split_rows = segments[split].stop - segments[split].start
                raise ValueError(
                    f"{key}: horizon {horizon} with look-back {lookback} leaves no window in "
                    f"{dataset}'s {split} split ({split_rows} rows incl. look-back)"
                )


def analysis_variant(config: Mapping, name: str) -> Mapping:
    """The `analysis.variants` entry called `name`."""
    for entry in config["analysis"]["variants"]:
        if entry["name"] == name:
            return entry
    raise ValueError(f"no analysis variant {name!r} in the config")


def model_settings(config: Mapping, model: str, dataset: str, horizon: int) -> dict:
    """What one forecasting job of `model` trains with on (dataset, horizon): its resolved
    architecture and recipe, its pretraining recipe and its mode."""
    settings = config["models"][model]
    return {
        "model": model,
        "architecture": resolve_architecture(settings, dataset, horizon),
        "training": resolve_training(settings, dataset, horizon),
        "pretraining": settings.get("pretraining"),
        "mode": settings.get("mode", "finetune"),
    }


def analysis_settings(config: Mapping, variant: str, dataset: str, horizon: int) -> dict:
    """What one analysis job trains: the variant's model with that model's resolved recipe for
    (dataset, horizon), and the variant's architecture settings on top."""
    entry = analysis_variant(config, variant)
    settings = model_settings(config, entry["model"], dataset, horizon)
    settings["architecture"].update(entry.get("architecture", {}))
    return settings


def uf_eval_lookbacks(config: Mapping, low: int, high: int) -> list[int]:
    """The fixed look-backs a uf model of interval [low, high) is tested at."""
    for interval in config["forecast_uf"]["intervals"]:
        if (interval["low"], interval["high"]) == (low, high):
            return interval["eval_lookbacks"]
    raise ValueError(f"no uf interval [{low}, {high}) in the config")


def classify_variant(config: Mapping, name: str) -> dict:
    """The architecture overrides of the classification variant `name` ({} for a base model)."""
    for variant in config.get("classify", {}).get("variants", []):
        if variant["name"] == name:
            return dict(variant.get("architecture", {}))
    return {}


def classifier_model(config: Mapping, name: str) -> str:
    """The classifier behind a name in classify.models: a registered classifier (built in, an
    entry point, classifiers.<name>.class, "aeon:ClassName"), or a variant's classifier."""
    for variant in config.get("classify", {}).get("variants", []):
        if variant["name"] == name:
            name = variant["model"]
            break
    register_config_classifiers(config)
    try:
        classifier_class(name)
    except (KeyError, ImportError) as error:
        raise ValueError(
            f"classify.models: {error.args[0]}; or the name of an entry in classify.variants"
        ) from None
    return name


def classify_settings(config: Mapping, name: str, threads: int = 1) -> dict:
    """What one classification job of classifier `name` (a model or a variant) runs with.

    Classifiers with an architecture (`architecture_of` a forecaster): the forecaster's base
    architecture (models.<forecaster>.architecture) updated by the track's overrides and then
    the variant's, plus the track's training (and pretraining) recipe; the others: their block
    of the track and their classifiers.<name>.settings, plus the job's thread count.
    """
    track = config["classify"]
    model = classifier_model(config, name)
    forecaster = classifier_class(model).architecture_of
    if not forecaster:
        own = (config.get("classifiers") or {}).get(name, {}).get("settings", {})
        return {**track.get(model, {}), **own, "threads": threads}
    block = track.get(model, {})
    base = config.get("models", {}).get(forecaster, {}).get("architecture", {})
    settings = {
        "architecture": {
            **base,
            **block.get("architecture", {}),
            **classify_variant(config, name),
        },
        "training": dict(block.get("training", {})),
    }
    if classifier_class(model).pretrains:
        settings["pretraining"] = dict(block.get("pretraining", {}))
    return settings


DEFAULT_READING = "default"
READING_PATTERN = r"[A-Za-z0-9_.=+-]+"  # a reading's name is a path component and a wildcard


def reading_name(path: str, value: Any) -> str:
    """'<last key>=<value>', booleans lower-case as in YAML: d_model=8, embed_norm=false."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{path.rsplit('.', 1)[-1]}={text}"


def sensitivity_readings(config: Mapping) -> dict[str, tuple[str, Any] | None]:
    """The sensitivity stage's readings: "default" (None: the recipe as configured), then one
    per axis value, name -> (dotted path, value)."""
    readings: dict[str, tuple[str, Any] | None] = {DEFAULT_READING: None}
    for axis in (config.get("sensitivity") or {}).get("axes", []):
        for value in axis["values"]:
            name = reading_name(axis["path"], value)
            if not re.fullmatch(READING_PATTERN, name):
                raise ValueError(
                    f"sensitivity.axes: value {value!r} of {axis['path']} makes the reading "
                    f"name {name!r}; names may hold letters, digits and _ . = + - only"
                )
            if name in readings:
                raise ValueError(
                    f"sensitivity.axes: two readings are named {name!r}; each axis' last key "
                    "must differ from the others'"
                )
            readings[name] = (axis["path"], value)
    return readings


def reading_settings(config: Mapping, reading: str, settings: Mapping) -> dict:
    """`settings` (a CSFT job's resolved recipe) under the sensitivity reading `reading`."""
    readings = sensitivity_readings(config)
    if reading not in readings:
        raise ValueError(f"no sensitivity reading {reading!r}; the config has {list(readings)}")
    if readings[reading] is None:
        return copy.deepcopy(dict(settings))
    return with_setting(settings, *readings[reading])


def sensitivity_bases(config: Mapping) -> dict[str, dict]:
    """CSFT's resolved recipes the readings change, per task: forecasting on the first
    sensitivity ETT set (architecture, training, pretraining) and classification (classify.csft)."""
    block = config.get("sensitivity") or {}
    bases = {}
    datasets = block.get("forecast", {}).get("datasets", [])
    if datasets:
        horizon = block["forecast"].get("horizons", [96])[0]
        bases["forecast"] = model_settings(config, "csft", datasets[0], horizon)
    if block.get("classify", {}).get("datasets"):
        bases["classify"] = classify_settings(config, "csft")
    return bases


def check_sensitivity(config: Mapping) -> None:
    """Every axis names a setting of CSFT's recipe in some task it runs, with values of that
    setting's type, and every reading's architecture passes CSFT's schema; before any job."""
    axes = (config.get("sensitivity") or {}).get("axes", [])
    if not axes:
        return
    sensitivity_readings(config)  # unique names
    from csft.data.ucr_catalog import archive

    known = set(archive().index) | set(custom_classification(config))
    unknown = [n for n in config["sensitivity"].get("classify", {}).get("datasets", [])
               if n not in known]  # fmt: skip
    if unknown:
        raise ValueError(
            f"sensitivity.classify.datasets: {unknown} are neither UCR archive sets nor "
            "custom_classification names"
        )
    bases = sensitivity_bases(config)
    if not bases:
        raise ValueError(
            "sensitivity.axes: set sensitivity.forecast.datasets or sensitivity.classify.datasets "
            "(the cells every reading runs on)"
        )
    for i, axis in enumerate(axes):
        where, path = f"sensitivity.axes[{i}].path", axis["path"]
        found = [value for ok, value in (find_setting(b, path) for b in bases.values()) if ok]
        if not found:
            raise ValueError(
                f"{where}: {path!r} names no setting of CSFT's recipe in {sorted(bases)}; "
                f"architecture keys: {sorted(next(iter(bases.values()))['architecture'])}"
            )
        default = found[0]
        for value in axis["values"]:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            same = (numeric and isinstance(default, int | float) and not isinstance(default, bool)
                    ) or type(value) is type(default)  # fmt: skip
            if not same:
                raise ValueError(
                    f"sensitivity.axes[{i}].values: {value!r} is not of the type of {path} "
                    f"({type(default).__name__}, default {default!r})"
                )
            if path.startswith("architecture."):
                for task, base in bases.items():
                    block = with_setting(base, path, value)["architecture"]
                    _check_architecture(f"sensitivity.axes[{i}] ({task})", "csft", block)


# Settings a channels arm may change and still fine-tune the first arm's encoder: the
# fine-tuning recipe, and what sits between the encoder and the head.
ENCODER_FREE = ("training.", "architecture.channel_mixing", "architecture.individual_head")


def channels_arms(config: Mapping) -> dict[str, dict]:
    """The channels question's arms, name -> {dotted path: value}; the first is the baseline."""
    arms = (config.get("questions") or {}).get("channels", {}).get("arms") or []
    named = {arm["name"]: dict(arm.get("settings") or {}) for arm in arms}
    if len(named) != len(arms):
        raise ValueError("questions.channels.arms: two arms share a name")
    return named


def channels_arm_settings(config: Mapping, arm: str, settings: Mapping) -> dict:
    """`settings` (a CSFT job's resolved recipe) under the channels arm `arm`."""
    return _under_arm(channels_arms(config), "channels", arm, settings)


def _under_arm(arms: Mapping[str, Mapping], question: str, arm: str, settings: Mapping) -> dict:
    """A copy of `settings` with the arm's {dotted path: value} changes applied."""
    if arm not in arms:
        raise ValueError(f"no {question} arm {arm!r}; the config has {list(arms)}")
    changed = copy.deepcopy(dict(settings))
    for path, value in arms[arm].items():
        changed = with_setting(changed, path, value)
    return changed


OBJECTIVES_BASELINE = (
    "reconstruction"  # the paper's objective: every other arm is judged against it
)


def objectives_block(config: Mapping) -> dict:
    return dict((config.get("questions") or {}).get("objectives") or {})


def objectives_arms(config: Mapping) -> dict[str, dict[str, Any]]:
    """The objectives question's arms, name -> {dotted path: value}: `arms` as configured (the
    baseline "reconstruction" = {}; an arm set to null is off), then one per `sweep` value,
    named '<arm>-<key>=<value>': that arm with one setting changed."""
    block = objectives_block(config)
    arms = {  # an arm set to null is dropped: config files merge maps, so a later file
        name: dict(changes)  # can only switch off an arm an earlier one named
        for name, changes in (block.get("arms") or {}).items()
        if changes is not None
    }
    for i, entry in enumerate(block.get("sweep") or []):
        if entry["arm"] not in arms:
            raise ValueError(
                f"questions.objectives.sweep[{i}].arm: no arm {entry['arm']!r}; the arms are "
                f"{list(arms)}"
            )
        for value in entry["values"]:
            name = f"{entry['arm']}-{reading_name(entry['path'], value)}"
            if not re.fullmatch(READING_PATTERN, name) or name in arms:
                raise ValueError(
                    f"questions.objectives.sweep[{i}]: value {value!r} makes the arm {name!r}, "
                    "taken or holding other than letters, digits and _ . = + -"
                )
            arms[name] = {**arms[entry["arm"]], entry["path"]: value}
    return arms


def objectives_arm_settings(config: Mapping, arm: str, settings: Mapping) -> dict:
    """`settings` (a CSFT job's resolved recipe) under the objectives arm `arm`."""
    return _under_arm(objectives_arms(config), "objectives", arm, settings)


def channels_encoder_arm(config: Mapping, arm: str) -> str:
    """The arm whose encoder `arm` fine-tunes: the first arm's when `arm` changes only the
    fine-tuning recipe, the channel mixing or the heads (the encoder is the same network),
    else its own."""
    arms = channels_arms(config)
    shared = all(path.startswith(ENCODER_FREE) for path in arms[arm])
    return next(iter(arms)) if shared else arm


def add_synthetic_datasets(config: Mapping) -> None:
    """Register the channels question's synthetic sets as custom datasets (their CSVs are
    written by the rule `channels_synthetic`), so every stage reads them as any custom set."""
    ours = synthetic_datasets(config)
    custom = config.setdefault("custom_datasets", {})
    clash = sorted(n for n in ours if n in custom and custom[n] != ours[n])
    if clash:
        raise ValueError(
            f"custom_datasets: {clash} are the channels question's synthetic sets; give your "
            "data another name"
        )
    custom.update(ours)


def check_channels(config: Mapping) -> None:
    """The channels question, before any job: known datasets, arms that name CSFT settings of
    the right type and pass its schema, and synthetic lags the coupling can be used at
    (horizon <= lag <= look-back: the coupled channel's future lies in its driver's look-back)."""
    block = (config.get("questions") or {}).get("channels") or {}
    if not block.get("enabled"):
        return
    arms = channels_arms(config)
    if len(arms) < 2:
        raise ValueError("questions.channels.arms: name a baseline arm and at least one other")
    known = set(ETT_ROWS_PER_HOUR) | set(custom_datasets(config)) | set(SYNTHETIC_KINDS)
    unknown = [d for d in block.get("datasets", []) if d not in known]
    if unknown:
        raise ValueError(
            f"questions.channels.datasets: {unknown} are neither ETT sets, custom_datasets "
            f"nor synthetic sets ({', '.join(SYNTHETIC_KINDS)})"
        )
    horizon, lookback = block.get("horizon", 96), block.get("lookback", 512)
    spec = SyntheticSpec.from_config(block.get("synthetic", {}))
    if any(d in SYNTHETIC_KINDS for d in block.get("datasets", [])):
        if not horizon <= min(spec.lags) <= max(spec.lags) <= lookback:
            raise ValueError(
                f"questions.channels.synthetic.lags: {list(spec.lags)} must lie in [horizon, "
                f"look-back] = [{horizon}, {lookback}], so a coupled channel's future is in its "
                "driver's look-back and not in its own"
            )
        segments = CustomDataset("synthetic", "").segments(spec.rows, lookback)
        if min(s.n_windows(lookback, horizon) for s in segments.values()) == 0:
            raise ValueError(
                f"questions.channels.synthetic.rows: {spec.rows} rows leave a split without a "
                f"window at look-back {lookback} and horizon {horizon}"
            )
    base = model_settings(config, "csft", block.get("datasets", ["ETTh1"])[0], horizon)
    for arm, changes in arms.items():
        for path, value in changes.items():
            where = f"questions.channels.arms.{arm}"
            ok, default = find_setting(base, path)
            if not ok:
                raise ValueError(f"{where}: {path!r} names no setting of CSFT's recipe")
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            same = (numeric and isinstance(default, int | float) and not isinstance(default, bool)
                    ) or type(value) is type(default)  # fmt: skip
            if not same:
                raise ValueError(
                    f"{where}: {value!r} is not of the type of {path} "
                    f"({type(default).__name__}, default {default!r})"
                )
        _check_architecture(f"questions.channels.arms.{arm}", "csft",
                            channels_arm_settings(config, arm, base)["architecture"])  # fmt: skip


def objectives_sweeps(config: Mapping) -> dict[str, tuple[str, str]]:
    """Each sweep arm's (arm it varies, dotted path), for the report's sweep lines."""
    sweeps = {}
    for entry in objectives_block(config).get("sweep") or []:
        for value in entry["values"]:
            name = f"{entry['arm']}-{reading_name(entry['path'], value)}"
            sweeps[name] = (entry["arm"], entry["path"])
    return sweeps


def check_objectives(config: Mapping) -> None:
    """When the objectives question is on: a "reconstruction" arm with no change, every arm's
    paths name a setting of CSFT's recipe (pretraining.*, training.*, architecture.*) with a
    value of its type, and the result passes the recipe's own checks; before any job."""
    block = objectives_block(config)
    if not block.get("enabled"):
        return
    arms = objectives_arms(config)
    if arms.get(OBJECTIVES_BASELINE) != {}:
        raise ValueError(
            f"questions.objectives.arms: needs the arm {OBJECTIVES_BASELINE!r} with no change "
            "(the paper's objective, what every other arm is compared with)"
        )
    datasets = block.get("forecast", {}).get("datasets", [])
    bases = {"classify": classify_settings(config, "csft")}
    if datasets:
        horizon = block["forecast"].get("horizons", [96])[0]
        bases["forecast"] = model_settings(config, "csft", datasets[0], horizon)
    for name, changes in arms.items():
        for path, value in changes.items():
            found = [v for ok, v in (find_setting(b, path) for b in bases.values()) if ok]
            key = path.removeprefix("pretraining.ssl.")
            if not found and path != key and hasattr(SSLConfig(), key):  # a default left out
                found = [getattr(SSLConfig(), key)]
            if not found:
                raise ValueError(
                    f"questions.objectives.arms.{name}: {path!r} names no setting of CSFT's recipe"
                )
            default = found[0]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool)
                          for v in (value, default))  # fmt: skip
            if not (numeric or type(value) is type(default)):
                raise ValueError(
                    f"questions.objectives.arms.{name}: {value!r} is not of the type of {path} "
                    f"({type(default).__name__}, default {default!r})"
                )
        for task, base in bases.items():
            changed = objectives_arm_settings(config, name, base)
            try:
                SSLConfig(**(changed.get("pretraining") or {}).get("ssl", {}))
            except (TypeError, ValueError) as error:
                raise ValueError(f"questions.objectives.arms.{name} ({task}): {error}") from None
            _check_architecture(f"questions.objectives.arms.{name} ({task})", "csft",
                                changed["architecture"])  # fmt: skip


def tuning_studies(config: Mapping) -> list[tuple[str, str, int]]:
    """The stage's studies, (model, dataset, look-back): every forecast.runs entry of a tuned
    model on a tuned dataset it runs on. None when tuning is off (trials 0)."""
    block = config.get("tuning") or {}
    if not block.get("trials"):
        return []
    forecast = block.get("forecast", {})
    found = []
    for run in config["forecast"]["runs"]:
        for dataset in run.get("datasets", config["ett"]["datasets"]):
            key = (run["model"], dataset, int(run["lookback"]))
            tuned = run["model"] in forecast.get("models", []) and dataset in forecast.get(
                "datasets", []
            )
            if tuned and key not in found:
                found.append(key)
    return found


def check_tuning(config: Mapping) -> None:
    """Before any job, when tuning is on: its forecasting and classification studies."""
    if (config.get("tuning") or {}).get("trials"):
        check_forecast_tuning(config)
        check_classify_tuning(config)


def classify_tuning_sets(config: Mapping) -> tuple[list[str], list[str]]:
    """(classifiers, sets) of the classification studies: those of tuning.classify that the
    track runs (classify.models, ucr.datasets), so a config built on the full one can narrow
    the track without repeating the tuning block; none when tuning is off."""
    from csft.data import ucr_catalog

    block = (config.get("tuning") or {}).get("classify") or {}
    if not config["tuning"].get("trials"):
        return [], []
    custom = custom_classification(config)
    archived = [d for d in config["ucr"]["datasets"] if d not in custom]
    sets = {*ucr_catalog.resolve(archived, None), *custom}
    models = [m for m in block.get("models", []) if m in config["classify"]["models"]]
    return models, [d for d in block.get("datasets", []) if d in sets]


def check_classify_tuning(config: Mapping) -> None:
    """Every tuned classifier is a classifier and every set an archive or custom one; every
    studied classifier has a space whose paths name settings of its recipe (classify.<name>)
    with the recipe's value inside it, and no space searches a step budget (the equal budget)."""
    from csft.data.ucr_catalog import archive

    block = config["tuning"].get("classify") or {}
    for name in block.get("models", []):
        classifier_model(config, name)  # raises, naming it, for an unknown classifier
    known = set(archive().index) | set(custom_classification(config))
    unknown = [n for n in block.get("datasets", []) if n not in known]
    if unknown:
        raise ValueError(
            f"tuning.classify.datasets: {unknown} are neither UCR archive sets nor "
            "custom_classification names"
        )
    models, sets = classify_tuning_sets(config)
    if not sets:
        return
    for name in models:
        space = (block.get("spaces") or {}).get(name)
        where = f"tuning.classify.spaces.{name}"
        if not space:
            raise ValueError(f"{where}: missing; every tuned classifier needs a search space")
        steps = sorted(p for p in space if p.split(".")[-1] == "steps")
        if steps:
            raise ValueError(
                f"{where}: {steps} are step budgets, set by tuning.classify.steps (the equal "
                "per-trial budget), and cannot be searched"
            )
        tuning.official_params(tuning.space_of(space), classify_settings(config, name), where)


def check_forecast_tuning(config: Mapping) -> None:
    """Every tuned model is a forecaster of the config, every horizon in forecast.horizons
    (the official runs sit beside the tuned ones), every model has a search space whose paths
    name settings of its recipe with the recipe's value inside it, and the budget sets
    training settings that no space searches."""
    block = config["tuning"]
    forecast = block.get("forecast", {})
    for model in forecast.get("models", []):
        if model not in config["models"]:
            raise ValueError(
                f"tuning.forecast.models: {model!r} is not a forecaster of models "
                f"({sorted(config['models'])})"
            )
    if not tuning_studies(config):
        return  # no forecast.runs entry runs a tuned model on a tuned dataset
    outside = sorted(set(forecast.get("horizons", [])) - set(config["forecast"]["horizons"]))
    if outside:
        raise ValueError(
            f"tuning.forecast.horizons: {outside} are not in forecast.horizons "
            f"{config['forecast']['horizons']}, so no official run would sit beside the tuned one"
        )
    budget, pre_budget = block.get("budget", {}), block.get("pretraining_budget", {})
    for key, given, recipe in (("budget", budget, TrainingConfig),
                               ("pretraining_budget", pre_budget, PretrainConfig)):  # fmt: skip
        known = {f.name for f in dataclasses.fields(recipe)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(
                f"tuning.{key}: {unknown} are not {recipe.__name__} settings; "
                f"known: {sorted(known)}"
            )
    for model, dataset, _lookback in tuning_studies(config):
        space = block.get("spaces", {}).get(model)
        if not space:
            raise ValueError(
                f"tuning.spaces.{model}: missing; every tuned model needs a search space"
            )
        fixed = sorted(
            {p for p in space if p.startswith("training.") and p.split(".", 1)[1] in budget}
            | {
                p
                for p in space
                if p.startswith("pretraining.") and p.split(".", 1)[1] in pre_budget
            }
        )
        if fixed:
            raise ValueError(
                f"tuning.spaces.{model}: {fixed} are set by tuning.budget or "
                "tuning.pretraining_budget (the equal per-trial budget) and cannot be searched"
            )
        first = tuned_recipe(config, model, dataset, forecast["horizons"][0])
        tuning.official_params(tuning.space_of(space), first, f"tuning.spaces.{model}")


def tuned_recipe(config: Mapping, model: str, dataset: str, horizon: int) -> dict:
    """`model`'s resolved recipe on (dataset, horizon) with the tuning budget on its training
    (and pretraining)."""
    recipe = model_settings(config, model, dataset, horizon)
    recipe["training"].update(config["tuning"].get("budget", {}))
    if recipe["pretraining"]:
        recipe["pretraining"] = {
            **recipe["pretraining"],
            **config["tuning"].get("pretraining_budget", {}),
        }
    return {k: recipe[k] for k in ("architecture", "training", "pretraining", "mode")}


def check_config(config: Mapping) -> None:
    """Every check a config must pass before any job, after its schema validation: models
    resolve (and the config's own register), architecture keys exist, datasets are known,
    every split holds a window, custom classification files load under the protocol,
    pretrained architectures do not depend on the horizon. The
    Snakefile and the property-based test call this one function. It registers the channels
    question's synthetic sets as custom datasets first (add_synthetic_datasets)."""
    add_synthetic_datasets(config)
    check_models(config)
    check_architectures(config)
    check_datasets(config)
    check_ett_windows(config)
    check_classification_data(config)
    check_pretraining(config)
    check_sensitivity(config)
    check_channels(config)
    check_objectives(config)
    check_tuning(config)


def check_irregular(config: Mapping) -> None:
    """Fail before any job on a stage that cannot run: a time-aware variant of a model without
    `missing_mask`, method none at p > 0, a look-back off CSFT's grid, a variant twice."""
    block = config["questions"]["irregular"]
    if not block.get("enabled"):
        return

    def check_variants(where: str, variants: list, config_of) -> None:
        if len(set(variants)) != len(variants):
            raise ValueError(f"{where}: a model + method twice in {variants}")
        for i, (model, method) in enumerate(variants):
            of = config_of(model)
            fields = {f.name for f in dataclasses.fields(of)} if of else set()
            if method == "time_aware" and "missing_mask" not in fields:
                raise ValueError(
                    f"{where}[{i}]: {model} has no time-aware input (missing_mask); give it "
                    "method interpolate"
                )
            if method == "none" and any(p > 0 for p in block["fractions"]):
                raise ValueError(
                    f"{where}[{i}]: method none keeps every point, but fractions "
                    f"{block['fractions']} remove some"
                )

    for i, v in enumerate(block["variants"]):
        if v["model"] not in config["models"]:
            raise ValueError(f"questions.irregular.variants[{i}]: no models.{v['model']} recipe")
    check_variants(
        "questions.irregular.variants", [(v["model"], v["method"]) for v in block["variants"]],
        lambda model: model_class(model).Config,
    )  # fmt: skip

    def classifier_config(name: str):
        forecaster = classifier_class(classifier_model(config, name)).architecture_of
        return model_class(forecaster).Config if forecaster else None

    classify = block.get("classify", {})
    from csft.data.ucr_catalog import archive

    known = set(archive().index) | set(custom_classification(config))
    unknown = [name for name in classify.get("datasets", []) if name not in known]
    if unknown:
        raise ValueError(
            f"questions.irregular.classify.datasets: {unknown} are neither UCR archive sets nor "
            "custom_classification entries"
        )
    check_variants(
        "questions.irregular.classify.variants",
        [(v["classifier"], v["method"]) for v in classify.get("variants", [])],
        classifier_config,
    )
    lookback = block["forecast"]["lookback"]
    if any(v["method"] == "time_aware" for v in block["variants"]) and lookback & (lookback - 1):
        raise ValueError(
            f"questions.irregular.forecast.lookback {lookback}: the time-aware CSFT needs a "
            "power of two (its grid; unobserved points are never resampled)"
        )
