"""The claims aggregation: ablation verdicts and the paper-vs-ours table on synthetic results."""

import json

import numpy as np
import pandas as pd
import pytest

from csft import claims


def analysis_job(root, variant, horizon, seed, mse, features):
    """One analysis job's files, as train_analysis writes them."""
    folder = root / "analysis" / variant / "ETTm1" / f"H{horizon}" / f"seed{seed}"
    folder.mkdir(parents=True)
    record = {"model": "patchtst" if variant == "patchtst" else "csft", "dataset": "ETTm1",
              "horizon": horizon, "seed": seed, "test_mse": mse, "test_mae": mse / 2}  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps([record]))
    pd.DataFrame(
        {"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.0, 0.6],
         "grad_ratio_l1": [0.5, 0.4], "attn_entropy_frac_l1_h0": [0.9, 0.8]}
    ).to_csv(folder / "history.csv", index=False)  # fmt: skip
    np.savez(folder / "features.npz", features=features)
    return folder / "metrics.json"


@pytest.fixture
def jobs(tmp_path):
    rng = np.random.default_rng(0)
    independent = rng.standard_normal((400, 16))
    redundant = np.repeat(rng.standard_normal((400, 1)), 16, axis=1) + 0.01 * rng.standard_normal(
        (400, 16)
    )
    paths = []
    for seed in (1, 2):
        for horizon, (attention, residual) in {96: (0.30, 0.35), 192: (0.40, 0.38)}.items():
            paths.append(analysis_job(tmp_path, "csft", horizon, seed, attention + seed / 100,
                                      independent))  # fmt: skip
            paths.append(analysis_job(tmp_path, "csft_residual", horizon, seed, residual,
                                      independent))  # fmt: skip
            paths.append(analysis_job(tmp_path, "patchtst", horizon, seed, 0.33, redundant))
    fusions = {"csft": "cross_attention", "csft_residual": "residual"}
    return claims.read_analysis_jobs(paths, fusions).jobs


def test_summary_has_one_row_per_variant_and_horizon_with_sd_over_seeds(jobs):
    summary = claims.summarize_analysis(jobs)
    assert len(summary) == 6 and (summary.n_seeds == 2).all()
    row = summary[(summary.variant == "csft") & (summary.horizon == 96)].iloc[0]
    assert row.test_mse_mean == pytest.approx(0.315) and row.test_mse_std == pytest.approx(
        np.std([0.31, 0.32], ddof=1)
    )
    # Independent features: correlation near 0 and most components; copies: 1 and one component.
    patch = summary[summary.variant == "patchtst"].iloc[0]
    assert row.feature_pearson_mean < 0.1 and patch.feature_pearson_mean > 0.9
    assert row.pca_fraction_80_mean > 0.6 and patch.pca_fraction_80_mean == pytest.approx(1 / 16)


def test_ablation_verdict_counts_horizons_where_attention_wins(jobs):
    verdict = claims.ablation_verdict(claims.summarize_analysis(jobs))
    assert verdict["verdict"] == "mixed" and (verdict["wins"], verdict["horizons"]) == (1, 2)
    assert "H=96: -10.0%" in verdict["text"]


def test_claims_table_puts_paper_beside_ours_with_computed_verdicts(jobs):
    summary = claims.summarize_analysis(jobs)
    forecast = pd.DataFrame(
        {"model": ["csft"] * 2, "track": ["main"] * 2, "test_mse_mean": [0.40, 0.50],
         "test_mae_mean": [0.41, 0.42]}
    )  # fmt: skip
    classify = pd.DataFrame({"method": ["csft/finetune"] * 2, "accuracy_mean": [0.9, 0.8]})
    lengths = {"within_mean": 0.9, "across_mean": 0.7, "difference": 0.2, "status": "supported"}
    lengths["control_difference"] = 0.15
    table = claims.claims_table(forecast, classify, summary, lengths).set_index("claim")
    mse = table.loc["ETT forecasting MSE (range over sets x horizons)"]
    assert mse.paper == "0.390-0.440" and mse.verdict == "mixed"  # one inside, one above
    mae = table.loc["ETT forecasting MAE (range over sets x horizons)"]
    assert mae.verdict == "supported"
    ucr = table.loc["UCR accuracy (csft/finetune, mean over 2 sets)"]
    assert ucr.ours == "0.850 ± 0.071" and ucr.verdict == "not supported"
    assert ucr.delta == f"{0.85 - 0.961:+.3f}"
    pearson = table.loc["feature pearson (CSFT, H=96) (lower than baselines)"]
    assert pearson.paper == "0.31" and pearson.verdict == "supported"
    assert table.loc["cross-scale attention beats residual fusion (ablation)"].verdict == "mixed"
    boundary = table.loc["lengths in one log2 interval share a feature space (boundary lengths)"]
    assert boundary.verdict == "supported"
    assert boundary.delta == "+0.200 (untrained control +0.150; learned +0.050)"
    assert "never substituted" in claims.claims_markdown(table.reset_index())


def test_markdowns_name_the_paper_numbers_beside_ours(jobs):
    summary = claims.summarize_analysis(jobs)
    features = claims.features_markdown(summary)
    assert "Pearson 0.31, Spearman 0.24, 63%" in features
    ablation = claims.ablation_markdown(summary)
    assert "cross_attention" in ablation and "residual" in ablation and "Verdict" in ablation


def test_claim_figures_have_labelled_axes_and_one_series_per_fusion_or_model(jobs):
    from csft import plots

    summary = claims.summarize_analysis(jobs)
    bars = plots.ablation_mse(summary).axes[0]
    assert bars.get_ylabel() == "test MSE (normalized)"
    assert [t.get_text() for t in bars.get_legend().get_texts()] == ["cross attention", "residual"]
    histories = pd.DataFrame(
        {"fusion": ["cross_attention"] * 2 + ["residual"] * 2, "epoch": [1, 2, 1, 2],
         "grad_ratio_l1": [0.5, 0.4, 0.6, 0.5], "grad_ratio_l2": [0.2, 0.1, 0.3, 0.2]}
    )  # fmt: skip
    ratios = plots.gradient_ratios(histories)
    assert len(ratios.axes) == 2 and all(len(ax.lines) == 2 for ax in ratios.axes)
    entropy = plots.attention_entropy(jobs[jobs.fusion == "cross_attention"]).axes[0]
    assert entropy.get_ylabel() == "entropy / log(P_{l-1})" and len(entropy.patches) == 1
    curves = pd.DataFrame(
        {"variant": ["csft"] * 4, "seed": [1, 1, 2, 2], "fraction": [0.5, 1.0, 0.5, 1.0],
         "cumulative": [0.7, 1.0, 0.8, 1.0]}
    )  # fmt: skip
    pca = plots.pca_curves(curves, 0.63).axes[0]
    assert pca.get_xlabel() == "fraction of principal components" and len(pca.lines) == 3
