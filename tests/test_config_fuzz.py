"""Property-based: every mutated config is stopped before any job, by a message naming the key.

Hypothesis picks a key anywhere in the shipped quick config and breaks it: a wrong type, an
unknown key beside it, a negative size, an empty list, a horizon larger than the data. The
checks are the ones the Snakefile runs before building the DAG (the schema, then
csft.config.check_config); all must reject, none may pass a broken config on to a job.
"""

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from csft.config import check_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
QUICK = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
# Free-form blocks: none. An architecture is free in the YAML schema, and check_config checks it
# against the schema derived from its model's Config dataclass (keys, types, bounds).
FREE_FORM: set[str] = set()


def before_any_job(config: dict) -> None:
    """What the Snakefile checks before a job can start."""
    validate(config, SCHEMA)
    check_config(config)


def nodes(tree, path=()):
    """Every (path, value) in the config, containers included."""
    yield path, tree
    items = tree.items() if isinstance(tree, dict) else []
    if isinstance(tree, list):
        items = enumerate(tree)
    for key, value in items:
        yield from nodes(value, (*path, key))


def named(path) -> str:
    """The innermost key name on the path (list indices are not names)."""
    return next(str(key) for key in reversed(path) if isinstance(key, str))


def inside_free_form(path) -> bool:
    return any(key in FREE_FORM for key in path)


NUMBERS = [(p, v) for p, v in nodes(QUICK) if type(v) in (int, float) and not inside_free_form(p)]
LEAVES = [(p, v) for p, v in nodes(QUICK) if p and not isinstance(v, dict | list)]
DICTS = [p for p, v in nodes(QUICK) if isinstance(v, dict) and not (p and p[-1] in FREE_FORM)]
NONEMPTY_LISTS = {  # lists that may not be empty (an empty ucr.datasets or forecast_uf.models
    # turns that part off, on purpose)
    ("seeds",),
    ("ett", "datasets"),
    ("forecast", "runs"),
    ("forecast", "horizons"),
    ("classify", "models"),
    ("classify", "csft_policies"),
    ("analysis", "horizons"),
    ("analysis", "seeds"),
    ("analysis", "variants"),
    ("analysis", "lengths", "lengths"),
}


def set_at(config: dict, path, value) -> dict:
    broken = copy.deepcopy(config)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return broken


def wrong_type(value):
    """A value of another JSON type than `value`'s (bool is not a number here)."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "12"
    return {"nested": 1}


mutations = st.one_of(
    st.sampled_from(LEAVES).map(lambda pv: (pv[0], set_at(QUICK, pv[0], wrong_type(pv[1])))),
    st.sampled_from(NUMBERS).map(lambda pv: (pv[0], set_at(QUICK, pv[0], -abs(pv[1]) - 1))),
    st.sampled_from(sorted(NONEMPTY_LISTS)).map(lambda p: (p, set_at(QUICK, p, []))),
    st.tuples(st.sampled_from(DICTS), st.from_regex(r"[a-z]{3,8}_typo", fullmatch=True)).map(
        lambda pk: ((*pk[0], pk[1]), set_at(QUICK, (*pk[0], pk[1]), 1))
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations)
def test_every_mutated_config_is_rejected_naming_its_key(mutation):
    path, config = mutation
    with pytest.raises((WorkflowError, ValueError)) as raised:
        before_any_job(config)
    assert named(path) in str(raised.value), (path, str(raised.value)[-600:])


@given(st.integers(min_value=2881, max_value=10**6))
@settings(max_examples=10, deadline=None)
def test_a_horizon_larger_than_the_data_is_rejected(horizon):
    config = set_at(QUICK, ("forecast", "horizons"), [96, horizon])
    with pytest.raises((WorkflowError, ValueError), match="horizons"):
        before_any_job(config)


def test_a_lookback_and_horizon_longer_than_the_training_split_are_rejected():
    config = set_at(QUICK, ("forecast", "runs"), [{"model": "dlinear", "lookback": 8000}])
    config["forecast"]["horizons"] = [720]
    with pytest.raises(ValueError, match="forecast.horizons: horizon 720 with look-back 8000"):
        before_any_job(config)


def test_the_unmutated_config_passes():
    before_any_job(copy.deepcopy(QUICK))


@pytest.mark.parametrize("name", ["a;rm -rf /", "$(reboot)", "x`id`", "a b", "../up", "a|b"])
def test_shell_metacharacters_in_a_dataset_name_are_a_schema_error(name):
    config = set_at(QUICK, ("ucr", "datasets"), [name])
    with pytest.raises(WorkflowError, match="datasets"):
        before_any_job(config)
