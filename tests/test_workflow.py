"""The whole DAG on a tiny config against the real data mirror: tables, figures, MLflow runs.

Also the workflow's failure modes a user meets first: a corrupted data file and an unknown
config key, both stopped with an error that names the culprit.
"""

import json
import re
from pathlib import Path

import pandas as pd
import yaml
from mlflow.tracking import MlflowClient
from tiny_study import (
    BOUNDARY_LENGTHS,
    DATASETS,
    HORIZON,
    MAIN_JOBS,
    SEEDS,
    UF_LOOKBACKS,
    UF_PLACEMENTS,
    run_snakemake,
    tiny_config,
    write_config,
)

from csft import evaluate
from csft.training.classify import SVM_C_GRID


def active_runs(root: Path):
    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("tiny/forecast")
    return client, client.search_runs([experiment.experiment_id])


def test_table_has_one_row_per_model_dataset_horizon_lookback(study):
    _, _, table = study
    main = table[table.track == "main"]
    assert sorted(zip(main.model, main.dataset, main.lookback, strict=True)) == sorted(MAIN_JOBS)
    assert (table.horizon == HORIZON).all() and (table.n_seeds == len(SEEDS)).all()
    # Every test window scored: the ETTh test segment is 2880 rows plus one look-back.
    assert (main.n_test_windows == 2880 - HORIZON + 1).all()
    assert table[["test_mse_mean", "test_mae_mean", "test_mse_std"]].notna().all().all()
    assert (table.test_mse_mean > 0).all()
    # The uf track: one model tested at each look-back, all on the same forecast targets.
    uf = table[table.track == "uf"]
    assert (uf.n_test_windows == 2880 - HORIZON + 1).all()
    for placement in UF_PLACEMENTS:
        assert sorted(uf[uf.placement == placement].lookback) == UF_LOOKBACKS
    markdown = (study[0] / "results" / "tables" / "forecast.md").read_text()
    main_md, uf_md = markdown.split("## Variable-length (uf) track")
    assert main_md.count("| dlinear ") == len(DATASETS) and main_md.count("| csft ") == 1
    assert uf_md.count("| csft ") == 2 * len(UF_PLACEMENTS)  # MSE and MAE, a row per placement
    # PatchTST is also scored the official way (drop_last, batch 128), beside every window.
    patchtst = main[main.model == "patchtst"].iloc[0]
    assert 0 < patchtst.test_mse_official_mean and "MSE (official eval)" in markdown
    assert "| L=127" in markdown and "0.390-0.440" in markdown
    assert "| L=64: " in markdown  # the main track's fixed look-back beside the uf lines
    # The best non-crop placement (by validation) against the crop control, at each look-back.
    assert "Best non-crop placement by validation MSE: **resample**" in markdown
    assert markdown.count("| resample vs crop") == 1


def test_figures_are_written_as_png_and_pdf(study):
    figures = study[0] / "results" / "figures"
    for name in ("learning_curves", "forecast_examples", "uf_lookbacks"):
        assert (figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (figures / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"


def test_ucr_datasets_are_prepared(study):
    summary = json.loads((study[0] / "results" / "data" / "ucr" / "Chinatown.json").read_text())
    assert summary["n_train"] == 20 and summary["n_test"] == 343
    assert summary["class_counts_train"] == [10, 10]
    variable = json.loads(
        (study[0] / "results" / "data" / "ucr" / "PickupGestureWiimoteZ.json").read_text()
    )
    assert variable["variable_length"] and variable["min_length"] < variable["max_length"]


def test_mlflow_holds_one_complete_run_per_job(study):
    root, _, _ = study
    client, runs = active_runs(root)
    names = sorted(run.info.run_name for run in runs)
    expected = [f"{m}/{d}/L{lb}/H{HORIZON}/{s}" for m, d, lb in MAIN_JOBS for s in SEEDS]
    expected += [f"csft/ETTh1/uf64-128/{p}/H{HORIZON}/{s}" for p in UF_PLACEMENTS for s in SEEDS]
    assert names == sorted(expected)
    for run in runs:
        assert run.info.status == "FINISHED"
        model = run.data.params["job.model"]
        expected_batch = {"dlinear": "64", "csft": "16", "patchtst": "32"}[model]
        assert run.data.params["training.batch_size"] == expected_batch
        assert run.data.params["resolved_model.horizon"] == str(HORIZON)
        assert len(run.data.tags["git.commit"]) == 40 or run.data.tags["git.commit"] == "unknown"
        assert run.data.tags["data.pinned"] == "true"
        assert any(tag.startswith("data.sha256.ETT-small/") for tag in run.data.tags)
        assert "version.torch" in run.data.tags and "host" in run.data.tags
        track = run.data.tags["track"]
        key = "n_test_windows" if track == "main" else f"n_test_windows_L{UF_LOOKBACKS[-1]}"
        assert run.data.metrics[key] == 2880 - HORIZON + 1
        if model == "patchtst":  # the official drop_last scoring, beside every window
            assert run.data.metrics["n_test_windows_official"] == (2880 - HORIZON + 1) // 128 * 128
        if model == "csft":  # pretraining terms and the paper's diagnostics, per epoch
            assert "pretrain_val_total" in run.data.metrics
            assert (
                "grad_ratio_l1" in run.data.metrics
                and "attn_entropy_frac_l1_h0" in run.data.metrics
            )
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
        assert steps == list(range(1, int(run.data.metrics["epochs_run"]) + 1))
        assert "config.yaml" in [a.path for a in client.list_artifacts(run.info.run_id)]


def test_a_job_keeps_its_model_and_rescores_from_its_run(study):
    """python -m csft.evaluate --run-id: the uf job's weights, from its MLflow run, rescored on
    the test split, give the metrics the run logged at every look-back."""
    root, configfile, _ = study
    client, runs = active_runs(root)
    run = next(r for r in runs if r.data.tags["track"] == "uf")
    assert "model.pt" in [a.path for a in client.list_artifacts(run.info.run_id)]
    path = evaluate.model_file(run.info.run_id, f"sqlite:///{root}/mlflow.db")
    data_dir = yaml.safe_load(configfile.read_text())["data_dir"]
    records = evaluate.evaluate(path, data_dir)
    assert [r["lookback"] for r in records] == UF_LOOKBACKS
    for record in records:
        assert record["test_mse"] == run.data.metrics[f"test_mse_L{record['lookback']}"]


FIXED_LENGTH_METHODS = ["csft/finetune", "csft/svm", "dtw_1nn", "minirocket", "patchtst", "ts2vec"]
SELECTED = ["csft/finetune", "csft/svm", "patchtst"]  # the tiny study runs both selections
CLASSIFY_METHODS = {
    "Chinatown": sorted(FIXED_LENGTH_METHODS + [f"{m}/validation" for m in SELECTED]),
    "PickupGestureWiimoteZ": sorted(
        FIXED_LENGTH_METHODS
        + [f"{m}/validation" for m in SELECTED]
        + [f"csft/{p}/common{s}" for p in ("finetune", "svm") for s in ("", "/validation")]
    ),
}


def test_csft_runs_name_the_pretraining_they_fine_tune(study):
    client, runs = active_runs(study[0])
    experiment = client.get_experiment_by_name("tiny/pretrain")
    pretrainings = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    # ETTh1 at look-back 64 for the main track, the two CSFT analysis variants, and the uf
    # track's interval under each placement: x 2 seeds
    groups = [("forecast", "csft"), ("analysis", "csft"), ("analysis", "csft_residual")]
    uf = [f"forecast_uf/csft/ETTh1/I64-128/{p}/{seed}" for p in UF_PLACEMENTS for seed in SEEDS]
    assert sorted(r.info.run_name for r in pretrainings.values()) == sorted(
        [f"{group}/{name}/ETTh1/L64/{seed}" for group, name in groups for seed in SEEDS] + uf
    )
    assert all(r.info.status == "FINISHED" for r in pretrainings.values())
    csft = [r for r in runs if r.data.params["job.model"] == "csft"]
    assert len(csft) == (1 + len(UF_PLACEMENTS)) * len(SEEDS)  # main and uf track
    for run in csft:  # each fine-tunes the encoder of its seed (uf: its interval and placement)
        source = pretrainings[run.data.tags["pretrained.mlflow_run_id"]]
        seed = run.data.params["job.seed"]
        if run.data.tags["track"] == "main":
            assert source.info.run_name == f"forecast/csft/ETTh1/L64/{seed}"
        else:
            placement = run.data.params["architecture.placement"]
            assert source.info.run_name == f"forecast_uf/csft/ETTh1/I64-128/{placement}/{seed}"
        assert run.data.metrics["pretrain_val_total"] == source.data.metrics["pretrain_val_total"]
        assert run.data.metrics["pretrain_seconds"] == source.data.metrics["pretrain_seconds"]


def job_inputs(output: str) -> list[tuple[str, list[str]]]:
    """(rule, input files) of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n\[[^\]\n]+\]\n", output):  # a "[date]" line starts each job
        rule = re.match(r"(?:local)?rule (\w+):", block)
        found = re.search(r"^    input: (.*)$", block, re.MULTILINE)
        if rule:
            jobs.append((rule.group(1), found.group(1).split(", ") if found else []))
    return jobs


def test_one_pretraining_serves_every_horizon(tmp_path, mirror):
    config = tiny_config(tmp_path)
    for track in ("forecast", "forecast_uf", "analysis"):
        config[track]["horizons"] = [24, 48]
    result = run_snakemake("-n", "--configfile", str(write_config(tmp_path, config)), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = job_inputs(result.stdout)
    assert sum(rule == "pretrain_encoder" for rule, _ in jobs) == 3 * len(SEEDS)
    users: dict[str, int] = {}
    for rule, inputs in jobs:
        encoders = [path for path in inputs if path.endswith("encoder.pt")]
        if rule.startswith("train_") and rule != "train_classify":
            is_csft = any("/csft" in path for path in inputs)
            assert len(encoders) == is_csft, (rule, inputs)  # only CSFT has one, exactly one
        for path in encoders:
            users[path] = users.get(path, 0) + 1
    forecast = {p: n for p, n in users.items() if "/pretrained/forecast/" in p}
    assert len(forecast) == len(SEEDS) and set(forecast.values()) == {2}  # horizons
    # The uf track: an encoder per interval x placement x seed, pretrained on the interval's
    # lengths under that placement, shared by the horizons.
    assert sum(rule == "pretrain_encoder_uf" for rule, _ in jobs) == len(UF_PLACEMENTS) * len(SEEDS)
    uf = {p: n for p, n in users.items() if "/pretrained/forecast_uf/" in p}
    assert len(uf) == len(UF_PLACEMENTS) * len(SEEDS) and set(uf.values()) == {2}
    assert set(users.values()) == {2} and len(users) == (3 + len(UF_PLACEMENTS)) * len(SEEDS)


def test_classification_table_has_every_method_on_every_dataset(study):
    results = study[0] / "results"
    table = pd.read_csv(results / "tables" / "classify.csv")
    got = {d: sorted(rows.method) for d, rows in table.groupby("dataset")}
    assert got == CLASSIFY_METHODS
    assert table.accuracy_mean.between(0, 1).all() and (table.n_seeds == 1).all()
    assert (table.train_seconds_mean > 0).all() and (table.test_seconds_mean > 0).all()
    # Each model's length policy is named: CSFT's choice, the others' fixed ones.
    policies = dict(zip(table.method, table.length_policy, strict=False))
    assert policies["csft/finetune/common"] == "common" and policies["dtw_1nn"] == "native"
    assert policies["patchtst"] == policies["minirocket"] == "resample"
    assert policies["ts2vec"] == "native"
    selections = dict(zip(table.method, table.selection, strict=False))
    assert selections["patchtst/validation"] == "validation"
    assert selections["ts2vec"] == selections["csft/svm"] == "fixed_budget"
    assert table.pca_fraction_80_mean.notna().sum() >= len(table) - 2 * 2  # not DTW, MiniROCKET
    markdown = (results / "tables" / "classify.md").read_text()
    assert "0.961" in markdown and "mean rank" in markdown
    wilcoxon = pd.read_csv(results / "tables" / "classify_wilcoxon.csv")
    assert {"csft/finetune", "csft/svm"} <= set(wilcoxon.reference)
    for ext in ("png", "pdf"):
        assert (results / "figures" / f"classify_ranks.{ext}").stat().st_size > 1000


def test_classification_runs_share_metric_keys_in_mlflow(study):
    client = MlflowClient(tracking_uri=f"sqlite:///{study[0]}/mlflow.db")
    experiment = client.get_experiment_by_name("tiny/classify")
    runs = client.search_runs([experiment.experiment_id])
    expected = [f"{m}/{d}/{SEEDS[0]}" for d, methods in CLASSIFY_METHODS.items() for m in methods]
    assert sorted(r.info.run_name for r in runs) == sorted(expected)
    for run in runs:
        assert run.info.status == "FINISHED"
        assert {"test_accuracy", "train_seconds", "test_seconds", "n_test"} <= set(run.data.metrics)
        assert any(tag.startswith("data.sha256.UCR/") for tag in run.data.tags)
        if run.data.tags["method"].startswith("csft"):  # both protocols carry the pretraining
            assert "pretrain_train_total" in run.data.metrics
        if run.data.tags["protocol"] == "svm":  # the C each SVM chose is on record
            assert run.data.tags["svm.C"] in {f"{c:g}" for c in SVM_C_GRID}
            if "/Chinatown/" in run.info.run_name:  # 20 TRAIN series: a hard margin, no search
                assert run.data.tags["svm.C"] == "inf"


def test_every_classification_job_keeps_its_model_and_rescores_to_its_metrics(study):
    """python -m csft.evaluate on each classification job's model.pt (from its first run's
    artifacts for one of them): every method's accuracy as the job recorded it, exactly."""
    root, configfile, _ = study
    data_dir = yaml.safe_load(configfile.read_text())["data_dir"]
    saved = sorted((root / "results" / "classify").glob("*/*/*/*/seed*/model.pt"))
    assert len(saved) == len(list((root / "results" / "classify").glob("**/metrics.json")))
    for path in saved:
        trained = json.loads((path.parent / "metrics.json").read_text())
        rescored = evaluate.evaluate(path, data_dir)
        keys = ("method", "test_accuracy", "n_test")
        assert [[r[k] for k in keys] for r in rescored] == [[r[k] for k in keys] for r in trained]
    (job,) = (root / "results/classify/csft/Chinatown").glob("*/fixed_budget/seed*/metrics.json")
    first = json.loads(job.read_text())[0]  # the fine-tuned head: the job's first run
    path = evaluate.model_file(first["mlflow_run_id"], f"sqlite:///{root}/mlflow.db")
    assert evaluate.evaluate(path, data_dir)[0]["test_accuracy"] == first["test_accuracy"]


def test_claims_analyses_write_tables_figures_and_verdicts(study):
    results = study[0] / "results"
    summary = pd.read_csv(results / "tables" / "analysis.csv")
    assert sorted(summary.variant) == ["csft", "csft_residual", "patchtst"]
    assert (summary.n_seeds == len(SEEDS)).all()
    fusions = dict(zip(summary.variant, summary.fusion, strict=True))
    assert fusions["csft"] == "cross_attention" and fusions["csft_residual"] == "residual"
    assert summary.feature_pearson_mean.between(0, 1).all()
    assert summary.pca_fraction_80_mean.between(0, 1).all()
    assert (
        "grad_ratio_l1_mean" in summary
        and "Wilcoxon" in (results / "tables/ablation.md").read_text()
    )
    assert "Pearson 0.31" in (results / "tables" / "features.md").read_text()
    ctls = pd.read_csv(results / "tables" / "lengths_ctls.csv")
    assert list(ctls["T"]) == BOUNDARY_LENGTHS and list(ctls.active_ctls) == [2, 2, 2, 3, 3, 3, 4]
    verdict = json.loads((results / "tables" / "lengths_verdict.json").read_text())
    statuses = ("supported", "not supported", "no detectable difference")
    assert verdict["status"] in (*statuses, "collapsed representation")
    assert verdict["seeds"] == SEEDS and verdict["n_series"] == 8  # every seed, the same series
    assert verdict["lengths"] == BOUNDARY_LENGTHS
    assert "within_minus_across" in verdict["centered"]
    assert "within_minus_across" in verdict["control"]
    similarity = pd.read_csv(results / "tables" / "lengths.csv")
    assert set(similarity.kind) == {"centered", "baseline", "raw"}
    assert (similarity.T_i < similarity.T_j).all()  # no diagonal
    assert set(similarity.seed.astype(str)) == {*map(str, SEEDS), "mean"}
    run = MlflowClient(tracking_uri=f"sqlite:///{study[0]}/mlflow.db").get_run(
        verdict["mlflow_run_id"]
    )
    assert run.data.tags["verdict.status"] == verdict["status"]
    assert {f"seed{s}_centered_within_mean" for s in SEEDS} <= set(run.data.metrics)
    claims = pd.read_csv(results / "tables" / "claims.csv")
    assert len(claims) >= 8
    # A tiny study covers no claim (few cells, seeds and lengths): no row may claim more.
    unjudged = ("insufficient evidence", "no published number", "not judged")
    assert [v for v in claims.verdict if not v.startswith(unjudged)] == []
    assert claims.evidence.str.contains("budget").all()
    names = ["ablation_mse", "ablation_gradients", "ablation_entropy", "pca_curves"]
    for name in [*names, "boundary_lengths"]:
        assert (results / "figures" / f"{name}.png").stat().st_size > 1000


def test_report_shows_every_figure(study, mirror):
    root, configfile, _ = study
    report = root / "report.html"
    result = run_snakemake("--report", str(report), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-4000:]
    html = report.read_text(errors="replace")
    names = ["learning_curves", "forecast_examples", "classify_ranks", "boundary_lengths"]
    names += ["ablation_mse", "ablation_gradients", "ablation_entropy", "pca_curves"]
    assert [n for n in names if f"{n}.png" not in html] == []
    assert "claims.csv" in html and "insufficient evidence" in html  # the claims lead


def test_rerun_replaces_runs_and_reproduces_metrics(study, mirror):
    root, configfile, table = study
    again = run_snakemake(
        "--configfile", str(configfile), "--forcerun", "train_forecast", mirror=mirror
    )
    assert again.returncode == 0, again.stderr[-4000:]
    _, runs = active_runs(root)
    assert len(runs) == (len(MAIN_JOBS) + len(UF_PLACEMENTS)) * len(SEEDS)  # no duplicates
    rerun = pd.read_csv(root / "results" / "tables" / "forecast.csv")
    pd.testing.assert_frame_equal(rerun, table)  # same config and seed on CPU, same metrics


def test_corrupted_mirror_file_fails_naming_the_file(tmp_path, mirror):
    bad_mirror = tmp_path / "mirror" / "ETT-small"
    bad_mirror.mkdir(parents=True)
    data = bytearray((mirror / "ETT-small" / "ETTh1.csv").read_bytes())
    data[1000] ^= 0x01
    (bad_mirror / "ETTh1.csv").write_bytes(bytes(data))
    config = tiny_config(tmp_path)
    config["ucr"]["datasets"] = []  # this mirror holds ETTh1 alone
    target = Path(config["data_dir"]) / "ETT-small" / "ETTh1.csv"
    # The target goes before --configfile, which takes every following word as a file.
    result = run_snakemake(
        str(target), "--configfile", str(write_config(tmp_path, config)), mirror=bad_mirror.parent
    )
    assert result.returncode != 0
    assert "ETT-small/ETTh1.csv" in result.stderr and "ChecksumError" in result.stderr
    assert not target.exists()


def test_unknown_config_key_fails_before_any_job(tmp_path, mirror):
    config = tiny_config(tmp_path)
    config["forecast"]["horizon_typo"] = [96]
    result = run_snakemake("-n", "--configfile", str(write_config(tmp_path, config)), mirror=mirror)
    assert result.returncode != 0
    assert "'horizon_typo' was unexpected" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_ucr_dataset_missing_from_the_mirror_fails_before_any_job(tmp_path, mirror):
    config = tiny_config(tmp_path)
    config["ucr"]["datasets"] = ["Chinatown", "HandOutlines"]  # HandOutlines: not mirrored
    result = run_snakemake("-n", "--configfile", str(write_config(tmp_path, config)), mirror=mirror)
    assert result.returncode != 0
    assert "['HandOutlines'] are not in the mirror" in result.stdout + result.stderr
