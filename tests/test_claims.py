"""The claims table on synthetic results whose verdict is known: coverage decides whether a
verdict is computed, paired intervals decide directions, and collapse is never judged good."""

import json

import numpy as np
import pandas as pd

from csft.report import analysis_jobs, claims

HORIZONS = (96, 192, 336, 720)
SEEDS = (1, 2, 3)


def analysis_job(root, variant, horizon, seed, mse, features, dataset="ETTm1"):
    """One analysis job's files, as train_analysis writes them."""
    folder = root / "analysis" / variant / dataset / f"H{horizon}" / f"seed{seed}"
    folder.mkdir(parents=True)
    record = {"model": "patchtst" if variant == "patchtst" else "csft", "dataset": dataset,
              "horizon": horizon, "seed": seed, "test_mse": mse, "test_mae": mse / 2}  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps([record]))
    pd.DataFrame(
        {"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.0, 0.6],
         "grad_ratio_l1": [0.5, 0.4], "attn_entropy_frac_l1_h0": [0.9, 0.8]}
    ).to_csv(folder / "history.csv", index=False)  # fmt: skip
    np.savez(folder / "features.npz", features=features)
    return folder / "metrics.json"


def independent(seed):
    return np.random.default_rng(seed).standard_normal((300, 16))


def redundant(seed):
    """Sixteen dimensions mixed from four sources: correlated, but not collapsed."""
    rng = np.random.default_rng(100 + seed)
    return rng.standard_normal((300, 4)) @ rng.standard_normal((4, 16))


def collapsed(seed):
    """One shared vector plus small noise: 'independent' by correlation, yet collapsed."""
    rng = np.random.default_rng(200 + seed)
    return 5.0 + rng.standard_normal(16) + 1e-3 * rng.standard_normal((300, 16))


def make_jobs(
    root, horizons=HORIZONS, seeds=SEEDS, csft_features=independent, attention=0.30, dataset="ETTm1"
):
    paths = []
    for seed in seeds:
        for h in horizons:
            noise = seed / 1000 + h / 1e5
            csft, residual = attention + noise, 0.35 + noise
            paths += [
                analysis_job(root, "csft", h, seed, csft, csft_features(seed), dataset),
                analysis_job(root, "csft_residual", h, seed, residual, independent(seed), dataset),
                analysis_job(root, "patchtst", h, seed, 0.33, redundant(seed), dataset),
            ]
    fusions = {"csft": "cross_attention", "csft_residual": "residual"}
    return analysis_jobs.read_analysis_jobs(paths, fusions).jobs


MSE_UF = "ETT forecasting MSE-uf (range over sets x horizons, placement resample)"


def forecast_cells(sets, horizons, seeds=3, track="uf", mse=0.41):
    rows = [{"model": "csft", "track": track, "dataset": d, "horizon": h, "lookback": t,
             "test_mse_mean": mse, "test_mae_mean": 0.42, "n_seeds": seeds}
            for d in sets for h in horizons for t in (512, 768)]  # fmt: skip
    return pd.DataFrame(rows)


def lengths_verdict(seeds=(1, 2, 3), status="supported", collapsed=False):
    interval = {"mean": 0.4, "low": 0.3, "high": 0.5, "n": 64}
    return {
        "status": status, "seeds": list(seeds), "n_series": 64,
        "lengths": [512, 1023, 1024, 2047, 2048],
        "centered": {"within_mean": 0.6, "across_mean": 0.2, "baseline_mean": 0.0,
                     "within_minus_across": interval, "within_minus_baseline": interval},
        "raw": {"within_mean": 0.99, "across_mean": 0.9},
        "control": {"within_mean": 0.3, "across_mean": 0.1, "baseline_mean": 0.0,
                    "within_minus_across": interval},
        "health": {"dead_dimensions": 0, "dimensions": 64, "effective_rank": 1.2 if collapsed
                   else 20.0, "between_cosine": 0.99 if collapsed else 0.1,
                   "collapsed": collapsed},
    }  # fmt: skip


def by_claim(table):
    return table.set_index("claim")


def test_summary_has_health_beside_feature_statistics(tmp_path):
    jobs = make_jobs(tmp_path, horizons=(96,), seeds=(1, 2))
    summary = analysis_jobs.summarize_analysis(jobs)
    assert len(summary) == 3 and (summary.n_seeds == 2).all()
    row = summary[summary.variant == "csft"].iloc[0]
    assert row.effective_rank_mean > 12 and row.collapsed_mean == 0
    patch = summary[summary.variant == "patchtst"].iloc[0]
    assert patch.feature_pearson_mean > row.feature_pearson_mean
    assert patch.effective_rank_mean < 4.5  # four sources
    features = analysis_jobs.features_markdown(jobs)
    assert "effective rank" in features and "Pearson 0.31, Spearman 0.24, 63%" in features


def test_complete_evidence_gets_computed_verdicts(tmp_path):
    table = by_claim(claims.claims_table(None, None, make_jobs(tmp_path), None, "check"))
    pearson = table.loc["feature pearson: CSFT lower than every baseline"]
    assert pearson.verdict == "supported" and pearson.paper == "0.31"
    assert pearson.evidence == "4 of 4 cells, 3 seeds, budget check"
    assert "vs patchtst: -" in pearson.effect and "eff. rank" in pearson.health
    assert table.loc["feature pca_fraction_80: CSFT higher than every baseline"].verdict == (
        "supported"
    )
    ablation = table.loc["cross-scale attention beats residual fusion (ablation, test MSE)"]
    assert ablation.verdict == "supported" and "n=12" in ablation.effect


def test_a_collapsed_representation_is_not_judged_feature_independent(tmp_path):
    jobs = make_jobs(tmp_path, csft_features=collapsed)
    csft = jobs[jobs.variant == "csft"]
    assert (csft.feature_pearson < 0.05).all()  # the old metric alone would say "independent"
    table = by_claim(claims.claims_table(None, None, jobs, None, "check"))
    for claim in ("pearson: CSFT lower", "spearman: CSFT lower", "pca_fraction_80: CSFT higher"):
        row = table.loc[f"feature {claim} than every baseline"]
        assert row.verdict.startswith("not judged: collapsed representation (csft")
        assert "collapsed 12/12" in row.health


def test_the_quick_studys_analyses_on_another_set_cover_nothing_and_say_so(tmp_path):
    jobs = make_jobs(tmp_path, horizons=(96,), seeds=(1,), csft_features=collapsed, dataset="ETTh1")
    table = by_claim(claims.claims_table(None, None, jobs, None, "quick"))
    pearson = table.loc["feature pearson: CSFT lower than every baseline"]
    assert pearson.verdict == (
        "insufficient evidence (0 of 4 cells (outside the claim: ETTh1 96), 1 seed, budget quick;"
        " cells missing; fewer than 3 seeds); collapsed representation (csft)"
    )
    sick = lengths_verdict(seeds=[1], collapsed=True)
    boundary = claims.claims_table(None, None, None, sick, "quick").iloc[0]
    assert boundary.verdict.endswith("fewer than 3 seeds); collapsed representation")
    assert boundary.health.endswith(", collapsed")


def test_a_cell_without_the_baseline_is_not_covered(tmp_path):
    jobs = make_jobs(tmp_path)
    jobs = jobs[~((jobs.variant == "patchtst") & (jobs.horizon == 720))]
    table = by_claim(claims.claims_table(None, None, jobs, None, "check"))
    verdict = table.loc["feature pearson: CSFT lower than every baseline"].verdict
    assert verdict.startswith("insufficient evidence (3 of 4 cells, 3 seeds, budget check")


def test_one_cell_of_sixteen_is_insufficient_evidence():
    table = by_claim(
        claims.claims_table(forecast_cells(["ETTh1"], [96]), None, None, None, "quick")
    )
    mse = table.loc[MSE_UF]
    assert (
        mse.verdict == "insufficient evidence (1 of 16 cells, 3 seeds, budget quick; cells missing)"
    )
    assert mse.ours == "0.410-0.410 over 1 cells"  # the partial numbers stay


def test_every_cell_with_three_seeds_is_judged_and_the_main_track_has_no_paper_number():
    forecast = pd.concat(
        [
            forecast_cells(claims.ETT_SETS, HORIZONS),
            forecast_cells(["ETTh1"], [96], track="main", mse=0.39),
        ]
    )
    table = by_claim(claims.claims_table(forecast, None, None, None, "full"))
    assert table.loc[MSE_UF].verdict == "supported"
    main = table.loc["ETT forecasting, main track (one look-back)"]
    assert main.verdict == "no published number" and main.paper.startswith("none")
    two_seeds = forecast_cells(claims.ETT_SETS, HORIZONS, seeds=2)
    verdict = by_claim(claims.claims_table(two_seeds, None, None, None, "full")).iloc[0].verdict
    assert verdict.startswith("insufficient evidence (16 of 16 cells, 2 seeds")


def test_too_few_seeds_or_horizons_leave_features_and_ablation_unjudged(tmp_path):
    table = by_claim(claims.claims_table(None, None, make_jobs(tmp_path, horizons=(96,)), None))
    for row in table.itertuples():
        assert row.verdict.startswith("insufficient evidence (1 of 4 cells, 3 seeds"), row


def test_ucr_claim_spans_the_archive():
    classify = pd.DataFrame(
        {"method": ["csft/finetune"] * 2, "dataset": ["GunPoint", "CBF"],
         "accuracy_mean": [0.9, 0.8], "n_seeds": [3, 3]}
    )  # fmt: skip
    row = by_claim(claims.claims_table(None, classify, None, None, "check")).iloc[0]
    assert row.ours == "0.850 ± 0.071 over 2 sets"
    assert row.verdict.startswith("insufficient evidence (2 of 128 cells, 3 seeds")
    assert row.effect == f"{0.85 - 0.961:+.3f} from the range"


def test_boundary_claim_needs_three_seeds_and_a_healthy_representation():
    name = "lengths in one log2 interval share a feature space (boundary lengths)"
    one_seed = by_claim(claims.claims_table(None, None, None, lengths_verdict(seeds=[1])))
    assert one_seed.loc[name].verdict.startswith("insufficient evidence (5 of 5 cells, 1 seed,")
    assert by_claim(claims.claims_table(None, None, None, lengths_verdict())).loc[name].verdict == (
        "supported"
    )
    sick = by_claim(claims.claims_table(None, None, None, lengths_verdict(collapsed=True)))
    assert sick.loc[name].verdict == "not judged: collapsed representation"


def test_markdown_links_each_verdict_to_its_figure_and_says_it_in_words(tmp_path):
    table = claims.claims_table(None, None, make_jobs(tmp_path), lengths_verdict(), "check")
    text = claims.claims_markdown(table)
    assert "[supported](../figures/pca_curves.png)" in text
    assert "[supported](../figures/boundary_lengths.png)" in text
    assert "## In words" in text and "never substituted" in text
    assert text.count("\n- **") == len(table)


def test_ablation_with_four_pairs_cannot_claim_a_direction(tmp_path):
    jobs = make_jobs(tmp_path, horizons=(96, 192), seeds=(1, 2))
    comparison = analysis_jobs.ablation_comparison(jobs)
    assert comparison["n"] == 4 and comparison["high"] < 0  # every pair favours attention
    assert comparison["verdict"].startswith("insufficient evidence (4 pairs")  # p = 0.125
    assert "Wilcoxon" in analysis_jobs.ablation_markdown(jobs)


def test_claim_figures_have_labelled_axes_and_one_series_per_fusion_or_model(tmp_path):
    from csft.report import plots

    jobs = make_jobs(tmp_path, horizons=(96,), seeds=(1, 2))
    summary = analysis_jobs.summarize_analysis(jobs)
    bars = plots.ablation_mse(summary).axes[0]
    assert bars.get_ylabel() == "test MSE (normalized)"
    assert [t.get_text() for t in bars.get_legend().get_texts()] == ["cross attention", "residual"]
    entropy = plots.attention_entropy(jobs[jobs.fusion == "cross_attention"]).axes[0]
    assert entropy.get_ylabel() == "entropy / log(P_{l-1})" and len(entropy.patches) == 1


def test_make_run_prints_each_claim_with_its_verdict(tmp_path):
    table = claims.claims_table(None, None, None, lengths_verdict(seeds=[1]), "quick")
    lines = claims.verdict_lines(table).splitlines()
    assert lines == [
        "- lengths in one log2 interval share a feature space (boundary lengths): insufficient "
        "evidence (5 of 5 cells, 1 seed, budget quick; fewer than 3 seeds)"
    ]


def test_the_uf_claim_is_judged_on_the_papers_placement_with_the_others_beside_it():
    """Full coverage by another placement (here the crop control) judges nothing: the claim is
    about the paper's rule; the other placements' numbers are shown, marked not judged."""
    crop = forecast_cells(claims.ETT_SETS, HORIZONS, mse=0.30).assign(placement="crop")
    one = forecast_cells(["ETTh1"], [96], mse=0.60).assign(placement="resample")
    row = by_claim(claims.claims_table(pd.concat([crop, one]), None, None, None, "check")).loc[
        MSE_UF
    ]
    assert row.verdict.startswith("insufficient evidence (1 of 16 cells")
    assert row.ours == (
        "0.600-0.600 over 1 cells (other placements, not judged: crop: 0.300-0.300 over 16 cells)"
    )


def test_the_tuned_column_judges_only_what_tuning_covers():
    forecast = forecast_cells(["ETTh1"], [96], track="main", mse=0.39)
    untuned = by_claim(claims.claims_table(forecast, None, None, None, "check"))
    assert (untuned.tuned == "tuning not run").all()
    tuning = pd.DataFrame(
        [{"task": "forecast", "model": "csft", "dataset": "ETTh1", "cell": "L512 H96",
          "official": 0.39, "tuned": 0.37, "effect": "tuned better", "seeds": 3},
         {"task": "forecast", "model": "dlinear", "dataset": "ETTh1", "cell": "L336 H96",
          "official": 0.38, "tuned": 0.30, "effect": "tuned better", "seeds": 3}]
    )  # fmt: skip
    table = by_claim(claims.claims_table(forecast, None, None, None, "check", tuning=tuning))
    main = table.loc["ETT forecasting, main track (one look-back)"].tuned
    assert "ETTh1 L512 H96: 0.390 -> 0.370 (tuned better, 3 seeds)" in main
    assert "0.300" not in main  # CSFT's row, not DLinear's
    assert table.loc[MSE_UF].tuned == claims.NOT_TUNED  # the uf track is not tuned


def test_a_range_is_not_judged_while_most_of_its_jobs_were_still_improving():
    """Full coverage at a budget whose curves had not flattened: the published range is not
    judged on the budget's numbers; the count is evidence either way, and runs from before it
    was recorded are judged as before."""
    cells = forecast_cells(claims.ETT_SETS, HORIZONS)  # 16 cells x 3 seeds = 48 jobs, 2 rows each
    falling = cells.assign(n_still_improving=[3] * 18 + [0] * 14)  # 9 cells: 27 of 48
    row = by_claim(claims.claims_table(falling, None, None, None, "check")).loc[MSE_UF]
    assert row.verdict == (
        "insufficient evidence (still improving at the last epoch in 27 of 48 jobs, budget check)"
    )
    assert row.evidence.endswith("; 27 of 48 jobs still improving at their last epoch")
    assert "so no verdict" in row.sentence
    flat = cells.assign(n_still_improving=[3] * 16 + [0] * 16)  # 24 of 48: not most
    row = by_claim(claims.claims_table(flat, None, None, None, "check")).loc[MSE_UF]
    assert row.verdict == "supported" and "24 of 48 jobs still improving" in row.evidence
    assert (
        by_claim(claims.claims_table(cells, None, None, None, "check")).loc[MSE_UF].verdict
        == "supported"
    )


def test_a_comparison_too_small_to_decide_is_not_called_no_difference():
    """CSFT against two baselines over 4 pairs: the combined verdict keeps the reason."""
    few = "insufficient evidence (4 pairs: the exact Wilcoxon test cannot reach p < 0.05 ...)"
    both = {"dlinear": {"verdict": few}, "patchtst": {"verdict": few}}
    assert claims._combined(both, good="lower", bad="higher") == few
    mixed = {"dlinear": {"verdict": "lower"}, "patchtst": {"verdict": "no detectable difference"}}
    assert claims._combined(mixed, good="lower", bad="higher") == "no detectable difference"
    assert claims._combined({**both, "x": {"verdict": "higher"}}, "lower", "higher") == (
        "not supported"
    )
