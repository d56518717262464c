"""UCR classification tables: summary over seeds, ranks, paired tests, report and rank figure."""

import csv
import json
import math
import runpy
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from csft.report import tables
from csft.report.plots import classify_ranks_figure

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
METHODS = {  # method: (model, protocol, length_policy)
    "csft/finetune": ("csft", "finetune", "per_interval"),
    "csft/finetune/validation": ("csft", "finetune", "per_interval"),
    "csft/svm": ("csft", "svm", "per_interval"),
    "csft/finetune/common": ("csft", "finetune", "common"),
    "csft/svm/common": ("csft", "svm", "common"),
    "minirocket": ("minirocket", None, "resample"),
    "dtw_1nn": ("dtw_1nn", None, "native"),
    "patchtst": ("patchtst", None, "resample"),
}


def record(dataset: str, method: str, seed: int, accuracy: float, **extra) -> dict:
    """One job record as the classification jobs write it."""
    model, protocol, policy = METHODS[method]
    return {
        "dataset": dataset,
        "model": model,
        "protocol": protocol,
        "length_policy": policy,
        "method": method,
        "selection": "validation" if method.endswith("/validation") else "fixed_budget",
        "seed": seed,
        "test_accuracy": accuracy,
        "n_test": 100,
        "train_seconds": 10.0 + seed % 7,
        "test_seconds": 0.5,
        "variable_length": policy == "common",
        "mlflow_run_id": f"{dataset}-{method}-{seed}",
        "feature_pearson": 0.1 + 0.01 * seed,
        "feature_spearman": 0.2,
        "pca_fraction_80": 0.5,
        "feature_effective_rank": 4.0,
        "feature_between_cosine": 0.25,
    } | extra


def dominated(n_datasets: int, methods: list[str], seeds=(1, 2)) -> pd.DataFrame:
    """Each method a fixed 0.05 behind the one before it, on every dataset and seed."""
    rng = np.random.default_rng(0)
    rows = []
    for d in range(n_datasets):
        base = rng.uniform(0.7, 0.9)
        for seed in seeds:
            noise = rng.uniform(0, 0.01)  # the same for all methods: the gap stays 0.05
            rows += [
                record(f"D{d}", m, seed, base + noise - 0.05 * i) for i, m in enumerate(methods)
            ]
    return pd.DataFrame(rows)


def paper_accuracy() -> str:
    """The UCR accuracy range in csft/report/paper_numbers.csv, read independently of
    csft.report.tables."""
    with resources.files("csft.report").joinpath("paper_numbers.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["metric"] == "accuracy"]
    assert len(rows) == 1 and rows[0]["model"] == "csft" and rows[0]["dataset"] == "UCR"
    return f"{float(rows[0]['low']):.3f}-{float(rows[0]['high']):.3f}"


def markdown_rows(markdown: str, section: str) -> list[list[str]]:
    """Cells of the first table under the '## section' heading (header row included)."""
    text = markdown.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [
        [c.strip() for c in line.strip("|").split("|")] for i, line in enumerate(lines) if i != 1
    ]


@pytest.fixture(scope="module")
def jobs() -> pd.DataFrame:
    """Three datasets, one variable-length; patchtst missing on one, dtw_1nn with one seed."""
    rng = np.random.default_rng(1)
    rows = []
    for dataset, variable in [("Coffee", False), ("GunPoint", False), ("PLAID", True)]:
        for method in METHODS:
            if method.endswith("/common") and not variable:
                continue
            if method == "patchtst" and dataset == "Coffee":
                continue
            seeds = [2021] if method == "dtw_1nn" else [2021, 2022, 2023]
            rows += [record(dataset, method, s, float(rng.uniform(0.6, 1.0))) for s in seeds]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=2)  # order must not matter


@pytest.fixture(scope="module")
def summary(jobs) -> pd.DataFrame:
    return tables.summarize_classify(jobs)


def test_read_jobs_gives_one_row_per_record(tmp_path):
    paths = []
    for i, method in enumerate(["csft/finetune", "minirocket"]):
        paths.append(tmp_path / f"job{i}.json")
        paths[-1].write_text(json.dumps([record("GunPoint", method, s, 0.9) for s in (1, 2)]))
    jobs = tables.read_jobs(paths)
    assert len(jobs) == 4 and set(jobs.method) == {"csft/finetune", "minirocket"}


def test_summary_has_one_row_per_dataset_and_method_sorted(jobs, summary):
    expected = sorted(set(zip(jobs.dataset, jobs.method, strict=True)))
    assert list(zip(summary.dataset, summary.method, strict=True)) == expected
    assert list(summary.columns) == [
        "dataset", "method", "model", "protocol", "length_policy", "selection", "variable_length",
        "n_seeds",
        "accuracy_mean", "accuracy_sd", "train_seconds_mean", "test_seconds_mean",
        "feature_pearson_mean", "feature_spearman_mean", "pca_fraction_80_mean",
        "feature_effective_rank_mean", "feature_between_cosine_mean",
    ]  # fmt: skip


def test_summary_mean_and_sample_sd_match_numpy(jobs, summary):
    for row in summary.itertuples():
        runs = jobs[(jobs.dataset == row.dataset) & (jobs.method == row.method)]
        assert row.n_seeds == len(runs)
        assert row.accuracy_mean == pytest.approx(runs.test_accuracy.mean(), rel=1e-12)
        assert row.train_seconds_mean == pytest.approx(runs.train_seconds.mean(), rel=1e-12)
        protocol = None if pd.isna(row.protocol) else row.protocol  # baselines have none
        assert (row.model, protocol, row.length_policy) == METHODS[row.method]
        if len(runs) > 1:
            sd = np.std(runs.test_accuracy, ddof=1)
            assert row.accuracy_sd == pytest.approx(sd, rel=1e-12)
            assert row.accuracy_sd != pytest.approx(np.std(runs.test_accuracy, ddof=0), rel=1e-6)


def test_one_seed_has_nan_sd_and_no_plus_minus(summary):
    single = summary[summary.method == "dtw_1nn"]
    assert (single.n_seeds == 1).all() and single.accuracy_sd.isna().all()
    markdown = tables.classify_markdown(
        summary, tables.classify_ranks(summary), tables.classify_wilcoxon(summary)
    )
    rows = markdown_rows(markdown, "Test accuracy")
    column = rows[0].index("dtw_1nn")
    coffee = next(r for r in rows if r[0] == "Coffee")
    expected = single[single.dataset == "Coffee"].accuracy_mean.iloc[0]
    assert coffee[column] == f"{expected:.3f}"
    finetune = summary[(summary.dataset == "Coffee") & (summary.method == "csft/finetune")].iloc[0]
    cell = f"{finetune.accuracy_mean:.3f} ± {finetune.accuracy_sd:.3f}"
    assert coffee[rows[0].index("csft/finetune")] == cell


def test_a_seed_reported_twice_is_an_error():
    jobs = pd.DataFrame([record("GunPoint", "minirocket", 1, 0.9)] * 2)
    with pytest.raises(ValueError, match="seeds reported twice"):
        tables.summarize_classify(jobs)


def test_a_method_described_two_ways_is_an_error():
    jobs = pd.DataFrame(
        [
            record("PLAID", "csft/finetune", 1, 0.9),
            record("PLAID", "csft/finetune", 2, 0.9, length_policy="common"),
        ]
    )
    with pytest.raises(ValueError, match="described two ways"):
        tables.summarize_classify(jobs)


def test_the_better_method_has_mean_rank_one():
    summary = tables.summarize_classify(dominated(8, ["csft/finetune", "minirocket", "dtw_1nn"]))
    ranks = tables.classify_ranks(summary).set_index("method")
    assert ranks.loc["csft/finetune", "mean_rank"] == 1.0
    assert ranks.loc["minirocket", "mean_rank"] == 2.0
    assert ranks.loc["dtw_1nn", "mean_rank"] == 3.0
    assert (ranks.n_datasets == 8).all()
    assert list(ranks.index) == ["csft/finetune", "minirocket", "dtw_1nn"]  # best first


def test_ties_share_the_average_rank():
    jobs = dominated(4, ["csft/finetune", "minirocket"])
    jobs.loc[jobs.method == "minirocket", "test_accuracy"] = jobs.test_accuracy[
        jobs.method == "csft/finetune"
    ].to_numpy()
    ranks = tables.classify_ranks(tables.summarize_classify(jobs)).set_index("method")
    assert ranks.mean_rank.tolist() == [1.5, 1.5]


def test_a_method_missing_on_some_datasets_has_no_rank_and_does_not_move_the_others():
    jobs = dominated(6, ["csft/finetune", "minirocket"])
    best_somewhere = [record(f"D{d}", "patchtst", 1, 0.999) for d in range(3)]
    jobs = pd.concat([jobs, pd.DataFrame(best_somewhere)], ignore_index=True)
    ranks = tables.classify_ranks(tables.summarize_classify(jobs)).set_index("method")
    assert math.isnan(ranks.loc["patchtst", "mean_rank"])
    assert ranks.loc["patchtst", "n_datasets"] == 3
    assert ranks.loc["patchtst", "mean_accuracy"] == pytest.approx(0.999)
    assert ranks.loc["csft/finetune", "mean_rank"] == 1.0  # patchtst's wins are not counted
    assert ranks.loc["minirocket", "mean_rank"] == 2.0
    assert ranks.index[-1] == "patchtst"  # unranked last


def test_wilcoxon_of_a_method_that_always_wins():
    summary = tables.summarize_classify(dominated(8, ["csft/finetune", "minirocket"]))
    table = tables.classify_wilcoxon(summary)
    assert len(table) == 1  # csft/svm is absent, so only csft/finetune is a reference
    row = table.iloc[0]
    assert (row.reference, row.other) == ("csft/finetune", "minirocket")
    assert (row.n_datasets, row.wins, row.ties, row.losses) == (8, 8, 0, 0)
    assert row.p_value < 0.05
    assert row.p_value == pytest.approx(wilcoxon(np.full(8, 0.05)).pvalue)  # exact: 2 / 2^8
    assert row.note == ""


def test_wilcoxon_of_equal_accuracies_is_nan_with_a_note():
    jobs = dominated(5, ["csft/svm", "dtw_1nn"])
    jobs.loc[jobs.method == "dtw_1nn", "test_accuracy"] = jobs.test_accuracy[
        jobs.method == "csft/svm"
    ].to_numpy()
    row = tables.classify_wilcoxon(tables.summarize_classify(jobs)).iloc[0]
    assert (row.wins, row.ties, row.losses) == (0, 5, 0)
    assert math.isnan(row.p_value) and math.isnan(row.statistic)
    assert "zero" in row.note


def test_wilcoxon_with_one_shared_dataset_is_nan_with_a_note():
    jobs = pd.DataFrame(
        [record("D0", "csft/finetune", 1, 0.9), record("D0", "minirocket", 1, 0.8)]
        + [record("D1", "csft/finetune", 1, 0.9)]
    )
    row = tables.classify_wilcoxon(tables.summarize_classify(jobs)).iloc[0]
    assert (row.n_datasets, row.wins) == (1, 1)
    assert math.isnan(row.p_value) and "at least 2" in row.note


def test_wilcoxon_pairs(summary):
    table = tables.classify_wilcoxon(summary)
    pairs = set(zip(table.reference, table.other, strict=True))
    baselines = {"minirocket", "dtw_1nn", "patchtst"}
    expected = {(ref, b) for ref in ("csft/finetune", "csft/svm") for b in baselines}
    expected |= {
        ("csft/finetune", "csft/finetune/common"),  # per_interval vs common, same protocol
        ("csft/svm", "csft/svm/common"),
    }
    assert pairs == expected
    patchtst = table[(table.reference == "csft/svm") & (table.other == "patchtst")].iloc[0]
    assert patchtst.n_datasets == 2  # patchtst is missing on Coffee
    common = table[table.other == "csft/finetune/common"].iloc[0]
    assert common.n_datasets == 1 and math.isnan(common.p_value)


def test_wilcoxon_with_no_reference_present_is_empty_not_an_error():
    summary = tables.summarize_classify(dominated(3, ["minirocket", "dtw_1nn"]))
    table = tables.classify_wilcoxon(summary)
    assert table.empty and "p_value" in table.columns


def test_markdown_puts_the_paper_range_only_beside_csft(summary):
    ranks, tests = tables.classify_ranks(summary), tables.classify_wilcoxon(summary)
    markdown = tables.classify_markdown(summary, ranks, tests)
    rows = markdown_rows(markdown, "Test accuracy")
    header, paper = rows[0], next(r for r in rows if r[0] == "paper (CSFT)")
    assert markdown.count(paper_accuracy()) == 5  # the paper row, under the 5 CSFT methods only
    for method, cell in zip(header[1:], paper[1:], strict=True):
        assert cell == (paper_accuracy() if METHODS[method][0] == "csft" else ""), method
    assert header[1:3] == ["csft/finetune", "csft/finetune/common"]  # CSFT first


def test_markdown_summary_rows_and_missing_cells(summary):
    ranks = tables.classify_ranks(summary)
    markdown = tables.classify_markdown(summary, ranks, tables.classify_wilcoxon(summary))
    rows = markdown_rows(markdown, "Test accuracy")
    header = rows[0]
    by_label = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_label["Coffee"]["patchtst"] == "–"
    assert by_label["GunPoint"]["csft/svm/common"] == "–"
    ranked = ranks.set_index("method")
    for method in METHODS:
        mean = ranked.loc[method, "mean_accuracy"]
        assert by_label["mean over datasets"][method] == f"{mean:.3f}"
        rank = ranked.loc[method, "mean_rank"]
        assert by_label["mean rank"][method] == ("–" if math.isnan(rank) else f"{rank:.2f}")
    assert by_label["mean rank"]["patchtst"] == "–"
    assert by_label["mean rank"]["minirocket"] != "–"


def test_markdown_speed_wilcoxon_and_length_policies(summary):
    tests = tables.classify_wilcoxon(summary)
    markdown = tables.classify_markdown(summary, tables.classify_ranks(summary), tests)
    speed = markdown_rows(markdown, "Time per dataset")
    row = summary[(summary.dataset == "PLAID") & (summary.method == "minirocket")].iloc[0]
    plaid = next(r for r in speed if r[0] == "PLAID")
    assert plaid[speed[0].index("minirocket")] == (
        f"{row.train_seconds_mean:.2f} + {row.test_seconds_mean:.2f}"
    )
    paired = markdown_rows(markdown, "Paired Wilcoxon")
    assert len(paired) == 1 + len(tests)
    assert any("at least 2" in cell for r in paired for cell in r)
    policies = markdown.split("## Length and selection policies", 1)[1]
    assert "- csft/finetune/common: common: every series resampled onto the grid" in policies
    assert "- csft/svm: per_interval: each series on its own log2 interval's grid" in policies
    assert "- dtw_1nn: native:" in policies and "- patchtst: resample: resampling" in policies
    assert "  selection fixed_budget: all of TRAIN, a fixed budget" in policies
    assert "short_series" in policies


@pytest.mark.parametrize("n_datasets, n_methods", [(2, 2), (8, 4), (1, 3)])
def test_rank_figure(n_datasets, n_methods):
    methods = ["csft/finetune", "csft/svm", "minirocket", "dtw_1nn"][:n_methods]
    summary = tables.summarize_classify(dominated(n_datasets, methods))
    figure = classify_ranks_figure(summary)
    try:
        assert isinstance(figure, plt.Figure) and len(figure.axes) >= 1
        titles = " ".join(ax.get_title() for ax in figure.axes)
        assert f"over {n_datasets} UCR datasets" in titles
        if n_methods < 3:  # aeon's Friedman test needs 3 methods: the bar-chart fallback
            ax = figure.axes[0]
            assert ax.get_xlabel() == "mean rank (1 = best)"
            widths = [bar.get_width() for bar in ax.patches]
            assert widths == [1.0, 2.0]
            assert [t.get_text() for t in ax.get_yticklabels()] == methods
    finally:
        plt.close(figure)


def test_rank_figure_leaves_out_methods_missing_somewhere():
    jobs = dominated(3, ["csft/finetune", "minirocket"])
    jobs = pd.concat([jobs, pd.DataFrame([record("D0", "patchtst", 1, 0.99)])])
    figure = classify_ranks_figure(tables.summarize_classify(jobs))
    try:
        labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
        assert labels == ["csft/finetune", "minirocket"]
    finally:
        plt.close(figure)


def run_script(name: str, tmp_path: Path, output: dict) -> None:
    """Run a workflow script as Snakemake's script directive would, on synthetic jobs."""
    jobs = dominated(4, ["csft/finetune", "csft/svm", "minirocket"])
    paths = []
    for (dataset, method), group in jobs.groupby(["dataset", "method"]):
        paths.append(tmp_path / f"{dataset}-{method.replace('/', '_')}.json")
        paths[-1].write_text(json.dumps(group.to_dict("records")))
    snakemake = SimpleNamespace(
        input=[str(p) for p in paths],
        output=SimpleNamespace(**{k: str(tmp_path / v) for k, v in output.items()}),
        log=[str(tmp_path / "log.txt")],
    )
    runpy.run_path(str(SCRIPTS / name), init_globals={"snakemake": snakemake})


def test_classify_table_script(tmp_path):
    output = {"csv": "out/summary.csv", "md": "out/report.md", "wilcoxon": "out/wilcoxon.csv"}
    run_script("classify_table.py", tmp_path, output)
    summary = pd.read_csv(tmp_path / output["csv"])
    assert len(summary) == 12 and (summary.n_seeds == 2).all()
    tests = pd.read_csv(tmp_path / output["wilcoxon"])
    assert set(zip(tests.reference, tests.other, strict=True)) == {
        ("csft/finetune", "minirocket"),
        ("csft/svm", "minirocket"),
    }
    assert (tmp_path / output["md"]).read_text().startswith("# Classification (UCR)")
    assert not list((tmp_path / "out").glob(".*.part"))  # atomic writes leave no temporaries


def test_classify_figures_script(tmp_path):
    output = {"png": "fig/ranks.png", "pdf": "fig/ranks.pdf"}
    run_script("classify_figures.py", tmp_path, output)
    assert (tmp_path / output["png"]).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / output["pdf"]).read_bytes()[:4] == b"%PDF"


def test_markdown_reports_each_methods_feature_statistics(summary):
    markdown = tables.classify_markdown(
        summary, tables.classify_ranks(summary), tables.classify_wilcoxon(summary)
    )
    rows = markdown_rows(markdown, "Feature statistics of the representations (TEST)")
    assert rows[0] == ["method", "mean abs Pearson", "mean abs Spearman",
                       "PCs for 80% (fraction of dims)", "effective rank",
                       "between-series cosine"]  # fmt: skip
    expected = summary.groupby("method").feature_pearson_mean.mean()
    for row in rows[1:]:
        assert row[1] == f"{expected[row[0]]:.3f}" and row[3] == "0.500" and row[5] == "0.250"
