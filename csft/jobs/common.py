"""What the forecasting, pretraining and boundary-lengths jobs share: their settings travel from
the rule to the job as one plain dict, parsed back here with every bad field named (a typo or a
wrong type fails before training, not deep inside it); where a run is logged; the data file a
job reads, with the tags that pin it."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from csft import atomic, tracking
from csft.data.custom import CustomDataset, custom_datasets, data_relpath
from csft.data.ett import ETTSeries
from csft.device import describe, resolve_device


@dataclass(frozen=True)
class Tracking:
    """Where a job's MLflow run goes; never part of what decides its result."""

    uri: str
    experiment: str
    run_name: str

    def start(self, params: Mapping, tags: Mapping[str, str]):
        """The job's one MLflow run here (csft.tracking.job_run), with `params` and `tags`."""
        uri = tracking.tracking_uri(self.uri)
        return tracking.job_run(uri, self.experiment, self.run_name, params, tags)


class PlainDict:
    """The settings as the one plain dict a rule passes (`to_dict`), and back (`from_dict`)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping):
        return from_plain(cls, values)


def tracking_for(config: Mapping, part: str, run_name: str) -> Tracking:
    """The run `run_name` in the study part's experiment (the config's prefix + `part`)."""
    where = config["tracking"]
    return Tracking(where["uri"], where["experiment_prefix"] + part, run_name)


def from_plain(cls: type, values: Mapping):
    """`cls` from a plain dict (nested dataclasses from nested dicts, lists as tuples), so the
    rule's one param round-trips; unknown and missing fields are named, not a TypeError."""
    name = cls.__name__
    if not isinstance(values, Mapping):
        raise ValueError(f"{name}: expected a mapping of its fields, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    required = {n for n, f in fields.items() if _required(f)}
    missing = sorted(required - set(values))
    if unknown or missing:
        raise ValueError(
            f"{name}: unknown field(s) {unknown}, missing field(s) {missing}; "
            f"its fields are {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if dataclasses.is_dataclass(hints[key]):
            value = from_plain(hints[key], value)
        kwargs[key] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def check(ok: bool, field: str, value, expected: str) -> None:
    """Raise a ValueError naming `field`, its bad `value` and what was `expected`."""
    if not ok:
        raise ValueError(f"{field}: expected {expected}, got {value!r}")


def check_int(field: str, value, low: int = 1) -> None:
    integer = isinstance(value, int) and not isinstance(value, bool)
    check(integer and value >= low, field, value, f"an integer >= {low}")


def check_ints(field: str, values, low: int = 1, size: int | None = None) -> None:
    """A non-empty tuple of integers >= `low` (of `size` items when given)."""
    check(isinstance(values, tuple) and len(values) > 0, field, values, "a non-empty list")
    check(size is None or len(values) == size, field, values, f"{size} items")
    for value in values:
        check_int(field, value, low)


def check_choice(field: str, value, choices: tuple) -> None:
    check(value in choices, field, value, f"one of {list(choices)}")


def check_recipe(field: str, recipe, config_cls: type, optional: bool = False) -> None:
    """A recipe dict whose keys are fields of the loop's config (`config_cls`)."""
    if optional and recipe is None:
        return
    check_mapping(field, recipe)
    known = {f.name for f in dataclasses.fields(config_cls)}
    check(set(recipe) <= known, field, sorted(set(recipe) - known), f"keys among {sorted(known)}")


def check_mapping(field: str, value) -> None:
    check(isinstance(value, dict), field, value, "a mapping")


@dataclass
class JobData:
    """A job's series with the file it came from: tags for MLflow, its SHA-256 for fingerprints."""

    series: ETTSeries
    custom: CustomDataset | None  # None: an ETT set
    tags: dict[str, str]
    sha256: str


def load_data(csv: str, dataset: str, lookback: int, features: str, config: Mapping) -> JobData:
    """The forecasting dataset `dataset` (ETT or the config's own) from `csv`, cut for
    `lookback`."""
    custom = custom_datasets(config).get(dataset)
    series = ETTSeries.load(csv, dataset, lookback, features, custom=custom)
    relpath = data_relpath(dataset, custom)
    tags = tracking.data_tags({relpath: csv})
    return JobData(series, custom, tags, tags[f"data.sha256.{relpath}"])


def device_tags(device: str) -> dict[str, str]:
    """The tag naming the hardware a job trains on."""
    return {"device": describe(resolve_device(device))}


def write_history(path: str, rows: list[dict]) -> None:
    """Per-epoch rows as a CSV whose `epoch` column counts from 1."""
    table = pd.DataFrame(rows).rename_axis("epoch").reset_index()
    table["epoch"] += 1
    atomic.write_text(path, table.to_csv(index=False))
