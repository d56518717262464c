"""Which UCR datasets a study runs: names and groups resolved against the archive's catalogue.

`ucr_archive.csv` lists the 128 datasets of the UCR 2018 archive (sizes, classes, lengths,
variable length, missing values), so a dataset never tested here, named only in the config,
resolves like any other. Groups:

- `all`: every archive dataset the data source holds (a mirror: the ones present in it);
- `long`: the longest series has at least 512 points;
- `variable`: variable-length datasets;
- `quick`: three small ones for the quick study.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

GROUPS = ("all", "long", "variable", "quick")
QUICK = ("Chinatown", "GunPoint", "PickupGestureWiimoteZ")
LONG_LENGTH = 512


@cache
def archive() -> pd.DataFrame:
    """The archive's catalogue, indexed by dataset name."""
    with resources.files("csft.data").joinpath("ucr_archive.csv").open() as handle:
        return pd.read_csv(handle).set_index("name")


def in_source(mirror: Path | None) -> set[str]:
    """Datasets the data source holds: a mirror's UCR/NAME folders, else the whole archive."""
    names = set(archive().index)
    if mirror is None:
        return names
    return {n for n in names if (mirror / "UCR" / n / f"{n}_TRAIN.tsv").is_file()}


def resolve(entries: list[str], mirror: Path | None) -> list[str]:
    """Names and group names -> sorted dataset names; unknown or unavailable ones are errors.

    Raises before any job runs, naming every unknown entry or every dataset the source lacks.
    """
    catalogue = archive()
    available = in_source(mirror)
    groups = {
        "all": available,
        "long": set(catalogue.index[catalogue.max_length >= LONG_LENGTH]) & available,
        "variable": set(catalogue.index[catalogue.variable_length]) & available,
        "quick": set(QUICK),
    }
    unknown = [e for e in entries if e not in groups and e not in catalogue.index]
    if unknown:
        raise ValueError(
            f"ucr.datasets: {unknown} are neither UCR 2018 archive datasets nor groups {GROUPS}"
        )
    names = set()
    for entry in entries:
        names |= groups.get(entry, {entry})
    missing = sorted(names - available)
    if missing:
        source = f"the mirror {mirror}" if mirror else "the archive"
        raise ValueError(f"ucr.datasets: {missing} are not in {source}")
    return sorted(names)
