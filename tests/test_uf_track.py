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
        .verdict.str.startswith("no detectable difference")
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
