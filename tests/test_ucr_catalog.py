"""UCR dataset names and groups resolve against the archive's catalogue, before any job."""

import pytest

from csft.data import ucr_catalog


def test_catalogue_lists_the_whole_archive():
    catalogue = ucr_catalog.archive()
    assert len(catalogue) == 128
    assert catalogue.loc["Chinatown", "max_length"] == 24
    assert bool(catalogue.loc["PLAID", "variable_length"])
    assert catalogue.loc["HandOutlines", "max_length"] == 2709


def test_groups_against_the_mirror(mirror):
    every = ucr_catalog.resolve(["all"], mirror)
    assert len(every) == 88 and "HandOutlines" not in every  # left out of the mirror for size
    long = ucr_catalog.resolve(["long"], mirror)
    assert "HouseTwenty" in long and "Chinatown" not in long
    assert all(ucr_catalog.archive().loc[n, "max_length"] >= 512 for n in long)
    variable = ucr_catalog.resolve(["variable"], mirror)
    assert len(variable) == 10 and "PLAID" in variable
    assert ucr_catalog.resolve(["quick"], mirror) == sorted(ucr_catalog.QUICK)
    assert ucr_catalog.resolve(["quick", "Coffee", "GunPoint"], mirror) == sorted(
        {*ucr_catalog.QUICK, "Coffee"}
    )


def test_whole_archive_without_a_mirror():
    assert len(ucr_catalog.resolve(["all"], None)) == 128
    assert "HandOutlines" in ucr_catalog.resolve(["long"], None)


def test_unknown_and_missing_datasets_are_named(mirror):
    with pytest.raises(ValueError, match="NotADataset"):
        ucr_catalog.resolve(["Chinatown", "NotADataset"], mirror)
    with pytest.raises(ValueError, match=r"\['HandOutlines', 'StarLightCurves'\] are not in"):
        ucr_catalog.resolve(["HandOutlines", "StarLightCurves", "Coffee"], mirror)
