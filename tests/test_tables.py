"""Result tables: mean and sample sd over seeds, published numbers beside ours."""

import csv
import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from csft.report import tables
from csft.report.tables import forecast_markdown, summarize_forecast

METRICS = ["test_mse", "test_mae", "test_mse_raw", "test_mae_raw"]
GROUPS = [  # (model, dataset, horizon, lookback, seeds)
    ("dlinear", "ETTh1", 96, 336, [2021, 2022, 2023]),  # published numbers exist
    ("dlinear", "ETTh1", 48, 336, [2021, 2022]),  # no published horizon 48
    ("dlinear", "ETTh2", 96, 96, [1, 2, 3, 4]),  # no published look-back 96
    ("toy", "ETTh1", 96, 336, [5, 6]),  # no published numbers for this model
]


def published() -> list[dict]:
    """csft/report/paper_numbers.csv read with the csv module, independently of
    csft.report.tables."""
    with resources.files("csft.report").joinpath("paper_numbers.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def jobs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for model, dataset, horizon, lookback, seeds in GROUPS:
        for seed in seeds:
            row = {"model": model, "dataset": dataset, "horizon": horizon, "lookback": lookback}
            row |= {m: float(rng.uniform(0.1, 1.0)) for m in METRICS}
            rows.append(row | {"seed": seed, "n_test_windows": 2881 - horizon})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # order must not matter


@pytest.fixture(scope="module")
def table(jobs) -> pd.DataFrame:
    return summarize_forecast(jobs)


def group_of(jobs: pd.DataFrame, model, dataset, horizon, lookback) -> pd.DataFrame:
    keep = (
        (jobs.model == model)
        & (jobs.dataset == dataset)
        & (jobs.horizon == horizon)
        & (jobs.lookback == lookback)
    )
    return jobs[keep]


def row_of(table: pd.DataFrame, model, dataset, horizon, lookback) -> pd.Series:
    rows = group_of(table, model, dataset, horizon, lookback)
    assert len(rows) == 1
    return rows.iloc[0]


def test_one_row_per_group(table):
    assert len(table) == len(GROUPS)
    keys = set(zip(table.model, table.dataset, table.horizon, table.lookback, strict=True))
    assert keys == {g[:4] for g in GROUPS}


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: "-".join(map(str, g[:4])))
def test_mean_and_sample_sd_match_numpy(jobs, table, group):
    *key, seeds = group
    runs = group_of(jobs, *key)
    row = row_of(table, *key)
    for metric in METRICS:
        values = runs[metric].to_numpy()
        assert row[f"{metric}_mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert row[f"{metric}_std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
        assert row[f"{metric}_std"] != pytest.approx(np.std(values, ddof=0), rel=1e-6)
    assert row.n_seeds == len(seeds)
    assert row.n_test_windows == 2881 - key[2]


def test_published_numbers_are_merged(table):
    paper = {
        (r["model"], r["dataset"], r["horizon"], r["lookback"], r["metric"]): float(r["low"])
        for r in published()
    }
    expected_mse = paper[("dlinear", "ETTh1", "96", "336", "mse")]
    expected_mae = paper[("dlinear", "ETTh1", "96", "336", "mae")]
    row = row_of(table, "dlinear", "ETTh1", 96, 336)
    assert row.paper_mse == expected_mse
    assert row.paper_mae == expected_mae
    assert row.mse_vs_paper_pct == pytest.approx(100 * (row.test_mse_mean / expected_mse - 1))


@pytest.mark.parametrize(
    "key", [("dlinear", "ETTh1", 48, 336), ("dlinear", "ETTh2", 96, 96), ("toy", "ETTh1", 96, 336)]
)
def test_paper_columns_are_nan_where_nothing_is_published(table, key):
    row = row_of(table, *key)
    assert math.isnan(row.paper_mse) and math.isnan(row.paper_mae)
    assert math.isnan(row.mse_vs_paper_pct)


def single_seed_table() -> pd.DataFrame:
    jobs = pd.DataFrame(
        [
            {"model": "dlinear", "dataset": "ETTh2", "horizon": 192, "lookback": 336, "seed": 1}
            | dict.fromkeys(METRICS, 0.5)
            | {"n_test_windows": 2689}
        ]
    )
    return summarize_forecast(jobs)


def test_single_seed_has_nan_sd_and_no_plus_minus():
    table = single_seed_table()
    assert len(table) == 1 and table.n_seeds.iloc[0] == 1
    assert math.isnan(table.test_mse_std.iloc[0])
    rows = [line for line in forecast_markdown(table).splitlines() if line.startswith("|")]
    assert len(rows) == 3
    assert "±" not in rows[2]


def test_markdown_keeps_the_formatted_strings():
    """Values are formatted once (3 decimals, signed Δ %); the markdown must not re-parse them."""
    table = single_seed_table()
    paper = {
        (r["model"], r["dataset"], r["horizon"], r["metric"]): float(r["low"]) for r in published()
    }
    paper_mse = paper[("dlinear", "ETTh2", "192", "mse")]
    row = [line for line in forecast_markdown(table).splitlines() if line.startswith("| dlinear")]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    assert cells[5] == "0.500"  # MSE (ours), not "0.5"
    assert cells[6] == f"{paper_mse:.3f}"
    assert cells[7] == f"{100 * (0.5 / paper_mse - 1):+.1f}"  # the sign says worse than paper


def test_markdown(table):
    markdown = forecast_markdown(table)
    assert "±" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + len(GROUPS)  # header, separator, one row per group
    row = row_of(table, "dlinear", "ETTh1", 96, 336)
    expected = f"{row.test_mse_mean:.3f} ± {row.test_mse_std:.3f}"
    assert any(expected in line and "0.375" in line for line in rows)
    for r in published():
        if r["model"] == "csft":
            line = (
                f"- csft {r['metric'].upper()} on {r['dataset']}: "
                f"{float(r['low']):.3f}-{float(r['high']):.3f} ({r['source']})"
            )
            # ETT ranges belong to the forecast tables; the UCR accuracy to classify.md.
            assert (line in markdown.splitlines()) == (r["dataset"] == "ETT")


def test_jobs_still_improving_are_counted_per_row_and_old_runs_leave_no_count(jobs):
    """The claims table withholds a range verdict when most jobs were still improving; the
    count per row is its input. Records from before it was recorded have no such column."""
    marked = jobs.assign(still_improving=jobs.seed.isin([2021, 1, 2]))
    table = summarize_forecast(marked)
    assert row_of(table, "dlinear", "ETTh1", 96, 336).n_still_improving == 1
    assert row_of(table, "dlinear", "ETTh2", 96, 96).n_still_improving == 2
    assert row_of(table, "toy", "ETTh1", 96, 336).n_still_improving == 0
    assert "n_still_improving" not in summarize_forecast(jobs)


def test_a_job_is_still_improving_when_its_best_validation_is_its_last_epoch(tmp_path):
    import json

    falling = pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.9, 0.8, 0.7]})
    flat = pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.9, 0.7, 0.71]})
    assert tables.still_improving(falling) and not tables.still_improving(flat)
    paths = []
    for name, history in (("a", falling), ("b", flat)):
        folder = tmp_path / name
        folder.mkdir()
        history.to_csv(folder / "history.csv", index=False)
        records = [{"model": "csft", "seed": 1, "lookback": t} for t in (512, 768)]
        (folder / "metrics.json").write_text(json.dumps(records))
        paths.append(folder / "metrics.json")
    jobs = tables.read_forecast_jobs(paths)
    assert list(jobs.still_improving) == [True, True, False, False]  # every record of a job
