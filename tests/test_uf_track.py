"""The uf track's comparison (csft.report.uf_track): the best placement is chosen on
validation, never on test, and judged against the crop control with a paired interval at each
look-back."""

import pandas as pd

from csft.report import tables, uf_track

LOOKBACKS = (512, 1023)


def jobs(test_mse: dict[str, float], val_loss: dict[str, float], seeds=(1, 2, 3)) -> pd.DataFrame:
    rows = []
    for placement, mse in test_mse.items():
        for dataset in ("ETTh1", "ETTm1"):
            for seed in seeds:
                for lookback in LOOKBACKS:
                    noise = 0.001 * seed + (0.002 if dataset == "ETTm1" else 0.0)
                    rows.append({
                        "track": "uf", "placement": placement, "model": "csft",
                        "dataset": dataset, "horizon": 96, "seed": seed, "lookback": lookback,
                        "test_mse": mse + noise, "test_mae": mse, "test_mse_raw": mse,
                        "test_mae_raw": mse, "n_test_windows": 100,
                        "best_val_loss": val_loss[placement] + noise,
                    })  # fmt: skip
    return pd.DataFrame(rows)


def test_the_best_placement_is_chosen_on_validation_not_test():
    # pad_mask has the best test MSE but resample the best validation MSE: resample is chosen.
    table = jobs(
        {"resample": 0.40, "pad_mask": 0.30, "crop": 0.45},
        {"resample": 0.20, "pad_mask": 0.25, "crop": 0.10},  # crop is never a candidate
    )
    assert uf_track.best_placement(table) == "resample"


def test_a_consistent_gain_over_crop_is_better_and_an_equal_one_is_no_difference():
    table = jobs({"resample": 0.40, "crop": 0.45}, {"resample": 0.2, "crop": 0.2})
    comparison = uf_track.versus_control(table, "resample")
    assert list(comparison.lookback) == list(LOOKBACKS)
    assert (comparison.verdict == "better").all() and (comparison.n == 6).all()
    assert comparison["mean"].round(6).eq(-0.05).all() and (comparison.p < 0.05).all()
    worse = uf_track.versus_control(
        jobs({"resample": 0.50, "crop": 0.45}, {"resample": 0.2, "crop": 0.2}), "resample"
    )
    assert (worse.verdict == "worse").all()
    # Three seeds on one dataset: six pairs are needed for Wilcoxon to reach p < 0.05.
    few = jobs({"resample": 0.40, "crop": 0.45}, {"resample": 0.2, "crop": 0.2})
    few = few[few.dataset == "ETTh1"]
    assert (
        uf_track.versus_control(few, "resample")
        .verdict.str.startswith("insufficient evidence (3 pairs")
        .all()
    )


def test_one_seed_gives_no_verdict_however_many_cells_it_spans():
    # Two datasets x 8 horizons x 1 seed: 16 pairs that all favour resample would pass the
    # interval and Wilcoxon, but one seed is no replicated result (MIN_SEEDS).
    one_seed = pd.concat(
        [jobs({"resample": 0.40, "crop": 0.45}, {"resample": 0.2, "crop": 0.2}, seeds=(1,))
         .assign(horizon=h) for h in range(96, 96 + 8)],
        ignore_index=True,
    )  # fmt: skip
    comparison = uf_track.versus_control(one_seed, "resample")
    assert (comparison.n == 16).all() and (comparison.p < 0.05).all()
    assert comparison.verdict.str.startswith("insufficient evidence (1 seed;").all()


def test_forecast_markdown_shows_placements_the_reference_and_the_verdict():
    uf = jobs({"resample": 0.40, "length_aware": 0.42, "crop": 0.45},
              {"resample": 0.2, "length_aware": 0.3, "crop": 0.2})  # fmt: skip
    main = uf[(uf.placement == "crop") & (uf.lookback == 512)].assign(
        track="main", placement="resample", test_mse=0.43
    )
    table = pd.concat([uf, main], ignore_index=True)
    text = tables.forecast_markdown(tables.summarize_forecast(table), table)
    assert "Best non-crop placement by validation MSE: **resample**" in text
    assert text.count("| resample vs crop") == 1 and "| better" in text
    assert "| L=512: 0.430" in text
    for placement in ("resample", "length_aware", "crop"):
        assert f"| {placement} " in text
    without_crop = table[table.placement != "crop"]
    text = tables.forecast_markdown(tables.summarize_forecast(without_crop), without_crop)
    assert "No comparison with the crop control" in text


def test_records_from_before_the_placement_axis_read_as_resample():
    old = jobs({"resample": 0.4}, {"resample": 0.2}).drop(columns="placement")
    assert set(uf_track.uf_rows(old).placement) == {"resample"}
    assert set(tables.summarize_forecast(old).placement) == {"resample"}


def test_the_set_x_horizon_grid_averages_look_backs_and_seeds_per_placement():
    """The paper's view: one MSE-uf / MAE-uf per set x horizon and placement; a cell the run did
    not cover is marked, never dropped; one horizon gives no grid (the per-look-back tables
    already are that view)."""
    two = pd.concat(
        [jobs({"resample": 0.40, "crop": 0.30}, {"resample": 0.2, "crop": 0.2}).assign(horizon=h)
         for h in (96, 192)],
        ignore_index=True,
    )  # fmt: skip
    two = two[~((two.dataset == "ETTm1") & (two.horizon == 192) & (two.placement == "crop"))]
    summary = tables.summarize_forecast(two)
    text = uf_track.grid_markdown(summary[summary.track == "uf"])
    assert "| dataset   | H=96" in text or "| dataset | H=96" in text
    resample = text.split("placement `resample`")[1]
    # ETTh1: seeds 1-3 add 0.001-0.003 to MSE (mean 0.002); MAE is the clean 0.400.
    assert "| ETTh1     | 0.402 / 0.400 | 0.402 / 0.400" in resample
    crop = text.split("placement `crop`")[1].split("placement")[0]
    assert "| ETTm1     | 0.304 / 0.300 | –" in crop
    one = jobs({"resample": 0.4}, {"resample": 0.2})
    assert uf_track.grid_markdown(tables.summarize_forecast(one).query("track == 'uf'")) == ""


def test_a_comparison_whose_jobs_were_mostly_still_improving_says_so_in_its_verdict():
    table = jobs({"resample": 0.50, "crop": 0.45}, {"resample": 0.2, "crop": 0.2})
    # Every resample job (6) and one crop job of six were still improving: 7 of 12 jobs.
    falling = table.assign(
        still_improving=(table.placement == "resample")
        | ((table.seed == 1) & (table.dataset == "ETTh1"))
    )
    comparison = uf_track.versus_control(falling, "resample")
    assert (
        comparison.verdict
        == "worse (at this budget: still improving at the last epoch in 7 of 12 jobs)"
    ).all()
    # Six of twelve is not most: the verdict stands alone, as it does for records without the flag.
    flat = table.assign(still_improving=table.placement == "resample")
    assert (uf_track.versus_control(flat, "resample").verdict == "worse").all()
    assert (uf_track.versus_control(table, "resample").verdict == "worse").all()
    assert uf_track.budget_line(falling).endswith("there): crop 1 of 6, resample 6 of 6.\n")
    assert uf_track.budget_line(table) == ""
