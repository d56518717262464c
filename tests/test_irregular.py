"""Open question 2, irregular sampling: the seeded removal of time points (input windows only),
interpolation, CSFT's time-aware input that never reads a removed value, the verdicts computed
from paired scores, and the stage through the DAG with a config change only."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from tiny_study import (
    HORIZON,
    forecast_only_config,
    resolved_tiny_config,
    run_snakemake,
    tiny_config,
)

from csft.config import check_irregular
from csft.data.ett import ForecastWindows
from csft.data.irregular import (
    Irregular,
    IrregularWindows,
    interpolate,
    keep_mask,
    remove_from_series,
)
from csft.jobs import classify_run
from csft.jobs import forecast as forecast_job
from csft.models.csft import CSFT, CSFTConfig
from csft.models.placement import place_observed
from csft.report import irregular

LOOKBACK = 64  # a power of two: the time-aware CSFT's grid


def test_removals_are_seeded_by_seed_dataset_and_p_only():
    keep = keep_mask(1000, 0.3, 7, "ETTh1")
    assert keep.dtype == bool and (~keep).sum() == 300  # exactly round(p * n) points removed
    assert np.array_equal(keep, keep_mask(1000, 0.3, 7, "ETTh1"))  # same for every model
    assert not np.array_equal(keep, keep_mask(1000, 0.3, 8, "ETTh1"))
    assert not np.array_equal(keep, keep_mask(1000, 0.3, 7, "ETTh2"))
    assert keep_mask(1000, 0.0, 7, "ETTh1").all()
    with pytest.raises(ValueError, match="p must be in"):
        Irregular(1.0, "interpolate", 0)
    with pytest.raises(ValueError, match="method 'none' keeps every point"):
        Irregular(0.1, "none", 0)


def test_interpolation_is_linear_between_observed_points_and_nearest_at_the_edges():
    x = np.array([[0.0, 10.0], [9.0, 9.0], [2.0, 12.0], [9.0, 9.0], [9.0, 9.0], [8.0, 18.0],
                  [9.0, 9.0]], dtype=np.float32)  # fmt: skip
    keep = np.array([False, False, True, False, False, True, False])
    filled = interpolate(x, keep)
    np.testing.assert_allclose(filled[:, 0], [2, 2, 2, 4, 6, 8, 8])
    np.testing.assert_allclose(filled[:, 1], [12, 12, 12, 14, 16, 18, 18])
    assert x[0, 0] == 0.0  # the input is not changed


def windows(values: np.ndarray, keep: np.ndarray, method: str) -> IrregularWindows:
    starts = np.arange(0, len(values) - LOOKBACK - HORIZON + 1, 7)
    return IrregularWindows(ForecastWindows(values, starts, LOOKBACK, HORIZON), keep, method)


def test_only_the_input_window_loses_points_and_targets_stay_complete():
    values = np.random.default_rng(0).standard_normal((400, 3)).astype(np.float32)
    keep = keep_mask(400, 0.5, 1, "ETTh1")
    for method in ("interpolate", "time_aware"):
        cut = windows(values, keep, method)
        for i in range(len(cut)):
            x, y = cut[i]
            s = int(cut.starts[i])
            observed = keep[s : s + LOOKBACK]
            np.testing.assert_array_equal(y.numpy(), values[s + LOOKBACK : s + LOOKBACK + HORIZON])
            np.testing.assert_array_equal(x.numpy()[observed], values[s : s + LOOKBACK][observed])
            assert torch.isnan(x[~observed]).all() == (method == "time_aware")
            assert torch.isnan(x[observed]).sum() == 0
        thinned = cut.every(3)  # validation's cost control keeps the removal
        assert isinstance(thinned, IrregularWindows) and torch.isnan(thinned[1][0]).any() == (
            method == "time_aware"
        )


def time_aware_model(seed: int = 0) -> CSFT:
    torch.manual_seed(seed)
    config = CSFTConfig(lookback=LOOKBACK, horizon=HORIZON, n_channels=3, d_model=8, n_heads=2,
                        missing_mask=True)  # fmt: skip
    return CSFT(config).eval()


def test_removed_values_never_reach_the_time_aware_model():
    """Changing the series at removed time points changes no output; changing an observed
    one does (so the test can fail)."""
    rng = np.random.default_rng(1)
    values = rng.standard_normal((300, 3)).astype(np.float32)
    keep = keep_mask(300, 0.3, 2, "ETTh1")
    keep[:40] = False  # whole patches unobserved too: key padding in attention
    changed = values.copy()
    changed[~keep] = rng.standard_normal(((~keep).sum(), 3)).astype(np.float32) * 100
    model = time_aware_model()
    a, b = windows(values, keep, "time_aware"), windows(changed, keep, "time_aware")
    xa = torch.stack([a[i][0] for i in range(len(a))])  # (N, T, C)
    xb = torch.stack([b[i][0] for i in range(len(b))])
    with torch.no_grad():
        assert torch.equal(model(xa), model(xb))
        assert torch.isfinite(model(xa)).all()
        # Below the NaN convention: the encoder given garbage (not NaN) where unobserved.
        series = xa.transpose(1, 2).reshape(-1, LOOKBACK)  # (N*C, T)
        observed = ~torch.isnan(series)
        one = torch.where(observed, series, torch.tensor(1e6))
        two = torch.where(observed, series, torch.randn_like(series))
        h1 = model.encoder.encode_grid(one, observed=observed).hidden
        h2 = model.encoder.encode_grid(two, observed=observed).hidden
        assert all(torch.equal(p, q) for p, q in zip(h1, h2, strict=True))
        # Negative control: an observed value changes the forecast.
        step = int(np.flatnonzero(keep[a.starts[0] : a.starts[0] + LOOKBACK])[-1])
        moved = xa.clone()
        moved[0, step, 0] += 5.0
        assert not torch.equal(model(moved)[0], model(xa)[0])
        assert torch.equal(model(moved)[1:], model(xa)[1:])


def test_the_time_aware_model_refuses_what_it_cannot_read():
    model = time_aware_model()
    with pytest.raises(ValueError, match="no observed time point"):
        model(torch.full((1, LOOKBACK, 3), float("nan")))
    with pytest.raises(ValueError, match="missing_mask needs series of exactly 64 points"):
        model.encoder(torch.randn(2, 100))
    with pytest.raises(ValueError, match="missing_mask works on the regular grid"):
        CSFTConfig(lookback=LOOKBACK, horizon=HORIZON, n_channels=1, missing_mask=True,
                   placement="pad_mask")  # fmt: skip
    plain = CSFT(CSFTConfig(lookback=LOOKBACK, horizon=HORIZON, n_channels=3))
    with pytest.raises(ValueError, match="set missing_mask: true"):
        plain(torch.full((1, LOOKBACK, 3), float("nan")))


def test_classification_series_lose_the_same_points_for_every_classifier():
    rng = np.random.default_rng(3)
    series = [rng.standard_normal(n).astype(np.float32) for n in (64, 100, 130)]
    aware = remove_from_series(series, Irregular(0.3, "time_aware", 5), "GunPoint", "TRAIN")
    filled = remove_from_series(series, Irregular(0.3, "interpolate", 5), "GunPoint", "TRAIN")
    for original, holes, interpolated in zip(series, aware, filled, strict=True):
        removed = np.isnan(holes)
        assert removed.sum() == round(0.3 * len(original))
        np.testing.assert_array_equal(interpolated[~removed], original[~removed])
        assert np.isfinite(interpolated).all()
    again = remove_from_series(series, Irregular(0.3, "time_aware", 5), "GunPoint", "TEST")
    assert not np.array_equal(np.isnan(again[0]), np.isnan(aware[0]))  # seeded per split too


def test_observed_points_sit_at_their_timestamps_on_the_grid():
    x = torch.tensor([1.0, float("nan"), 3.0, 5.0, float("nan"), float("nan")])
    assert torch.equal(place_observed(x, 3).isnan(), torch.tensor([False, False, True]))
    np.testing.assert_allclose(place_observed(x, 3)[:2], [1.0, 4.0])  # two points in one slot
    long = place_observed(x, 12)  # lengthened: gaps stay unobserved, nothing is made up
    assert (~long.isnan()).sum() == 3 and set(long[~long.isnan()].tolist()) == {1.0, 3.0, 5.0}


def stage_config(tmp_path, **block):
    config = resolved_tiny_config(tmp_path)
    config["questions"]["irregular"] = {
        "enabled": True, "seeds": [1], "fractions": [0, 0.3],
        "forecast": {"datasets": ["ETTh1"], "horizons": [HORIZON], "lookback": LOOKBACK},
        "variants": [{"model": "csft", "method": "interpolate"},
                     {"model": "csft", "method": "time_aware"},
                     {"model": "dlinear", "method": "interpolate"}],
        **block,
    }  # fmt: skip
    return config


def test_jobs_resolve_their_removal_method_and_recipe(tmp_path):
    config = stage_config(tmp_path)
    w = {"model": "csft", "method": "time_aware", "fraction": "0.3", "dataset": "ETTh1",
         "horizon": str(HORIZON), "seed": "1"}  # fmt: skip
    settings = forecast_job.resolve(config, w)
    assert settings.irregular == {"p": 0.3, "method": "time_aware"}
    assert settings.architecture["missing_mask"] is True
    assert settings.pretraining is None and settings.mode == "finetune"
    assert settings.job.train_lookbacks == (LOOKBACK, LOOKBACK + 1)
    assert settings.tracking.experiment == "tiny/questions/irregular"
    assert settings.params()["irregular"] == {"p": 0.3, "method": "time_aware"}
    assert forecast_job.ForecastSettings.from_dict(settings.to_dict()) == settings
    plain = forecast_job.resolve(config, {"model": "dlinear", "lookback": "96", "dataset": "ETTh1",
                                          "horizon": str(HORIZON), "seed": "1"})  # fmt: skip
    assert plain.irregular is None and "irregular" not in plain.params()  # nothing else changes
    dlinear = forecast_job.resolve(config, {**w, "model": "dlinear", "method": "interpolate"})
    assert "missing_mask" not in dlinear.architecture
    c = {"classifier": "csft", "method": "time_aware", "fraction": "0.3", "name": "Chinatown",
         "policy": "per_interval", "selection": "fixed_budget", "seed": "1"}  # fmt: skip
    classify = classify_run.resolve(config, c)
    assert classify.irregular == {"p": 0.3, "method": "time_aware"}
    assert classify.recipe["architecture"]["missing_mask"] is True
    assert classify.tracking.experiment == "tiny/questions/irregular"
    assert classify_run.ClassifySettings.from_dict(classify.to_dict()) == classify
    official = classify_run.resolve(
        config, {k: v for k, v in c.items() if k not in ("fraction", "method")}
    )
    assert official.irregular is None and "irregular" not in official.params()
    assert not official.recipe["architecture"].get("missing_mask")


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"variants": [{"model": "dlinear", "method": "time_aware"}]},
         "dlinear has no time-aware input"),
        ({"forecast": {"datasets": ["ETTh1"], "horizons": [24], "lookback": 96}},
         "needs a power of two"),
        ({"variants": [{"model": "csft", "method": "none"}]}, "method none keeps every point"),
        ({"classify": {"datasets": ["Chinatown"],
                       "variants": [{"classifier": "patchtst", "method": "time_aware"}]}},
         "patchtst has no time-aware input"),
        ({"classify": {"datasets": ["NoSuchSet"]}}, r"\['NoSuchSet'\] are neither UCR"),
    ],
)  # fmt: skip
def test_a_stage_that_cannot_run_fails_before_any_job(tmp_path, block, message):
    with pytest.raises(ValueError, match=message):
        check_irregular(stage_config(tmp_path, **block))


def scores(shift: float, degrade: float, seeds: int) -> pd.DataFrame:
    """CSFT interpolate and time-aware at p = 0 and 0.5 on two cells: time-aware differs by
    `shift` at p = 0.5, both lose `degrade` from p = 0."""
    rng = np.random.default_rng(0)
    rows = []
    for cell in ("ETTh1 H96", "ETTh2 H96"):
        for seed in range(seeds):
            base = 0.4 + 0.01 * rng.standard_normal()
            for method in ("interpolate", "time_aware"):
                for p in (0.0, 0.5):
                    mse = base + degrade * p + (shift if method == "time_aware" and p else 0)
                    mse += 0.001 * rng.standard_normal()
                    rows.append({"task": "ETT MSE", "model": "csft", "method": method, "p": p,
                                 "cell": cell, "seed": seed, "error": mse})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("shift", "verdict"),
    [(-0.05, "time-aware better"), (0.05, "interpolation better"),
     (0.0, "no detectable difference")],
)  # fmt: skip
def test_verdicts_are_computed_from_paired_scores(shift, verdict):
    table = irregular.irregular_table(scores(shift, degrade=0.2, seeds=4))
    aware = table.query("method == 'time_aware' and p == 0.5").iloc[0]
    assert aware.vs_interpolate_verdict.startswith(verdict) and aware.vs_interpolate_n == 8
    assert aware.vs_interpolate == pytest.approx(shift, abs=0.002)
    interp = table.query("method == 'interpolate' and p == 0.5").iloc[0]
    assert interp.vs_p0_verdict == "degrades" and interp.vs_p0 == pytest.approx(0.1, abs=0.002)
    assert interp.vs_interpolate_verdict == ""  # interpolation is not compared with itself
    assert table.query("p == 0").vs_p0_verdict.eq("").all()
    text = irregular.table_markdown(table, "check")
    assert f"over 8 pairs: {aware.vs_interpolate_verdict}" in text
    assert "ETT MSE, csft + interpolate at p = 0.5: +0.1" in text or "p = 0.5: +0.09" in text


def test_what_was_not_run_is_not_judged():
    scores_ = scores(-0.05, degrade=0.2, seeds=4)
    table = irregular.irregular_table(scores_[scores_.p > 0])  # no p = 0
    assert table.vs_p0_verdict.eq("").all()
    alone = irregular.irregular_table(scores_[scores_.method == "time_aware"])
    assert alone.vs_interpolate_verdict.eq("").all()  # no interpolated CSFT beside it


def test_two_seeds_are_insufficient_evidence():
    table = irregular.irregular_table(scores(-0.05, degrade=0.2, seeds=2))
    aware = table.query("method == 'time_aware' and p == 0.5").iloc[0]
    assert aware.vs_interpolate_verdict == "insufficient evidence (2 seeds; 3 needed)"
    assert aware.seeds == 2 and np.isfinite(aware.error_sd)


def test_the_stage_is_off_by_default_and_runs_through_the_dag(tmp_path, mirror):
    assert tiny_config(tmp_path).get("questions") is None  # the tiny study keeps it off
    tiny = tiny_config(tmp_path)
    stage = stage_config(tmp_path)["questions"]["irregular"]
    # CSFT's two methods at one p, on one ETT cell and one UCR set: 4 jobs, seconds each
    stage.update(
        fractions=[0.3], variants=stage["variants"][:2],
        classify={"datasets": ["Chinatown"],
                  "variants": [{"classifier": "csft", "method": m}
                               for m in ("interpolate", "time_aware")]},
    )  # fmt: skip
    config = forecast_only_config(
        tmp_path, "q/", ett={"datasets": ["ETTh1"], "features": "M"},
        ucr={"datasets": ["Chinatown"]}, models={"csft": tiny["models"]["csft"]},
        classify={"models": ["csft"], "csft": tiny["classify"]["csft"]},
        questions={"irregular": stage},
    )  # fmt: skip
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = tmp_path / "results" / "tables" / "irregular.md"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "tables" / "irregular.csv")
    assert sorted(zip(table.task, table.model, table.method, table.p, strict=True)) == sorted(
        (task, model, method, 0.3)
        for task, models in (("ETT MSE", ["csft"]), ("UCR error rate", ["csft/finetune",
                                                                         "csft/svm"]))
        for model in models for method in ("interpolate", "time_aware")
    )  # fmt: skip
    markdown = (results / "tables" / "irregular.md").read_text()
    assert "insufficient evidence (1 seed; 3 needed)" in markdown
    assert (results / "figures" / "irregular.png").read_bytes()[:4] == b"\x89PNG"
    job = results / "questions/irregular/forecast/csft/time_aware/p0.3/ETTh1" / f"H{HORIZON}"
    record = json.loads((job / "seed1" / "metrics.json").read_text())[0]
    assert record["missing_p"] == 0.3 and record["missing_method"] == "time_aware"
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("q/questions/irregular")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 6  # 2 forecasting runs, 2 classification jobs of 2 runs each
    run = next(r for r in runs if r.info.run_name.startswith("csft+time_aware/p0.3/"))
    assert run.data.params["irregular.method"] == "time_aware"
    assert run.data.params["architecture.missing_mask"] == "True"


def test_the_gap_inputs_benchmark_feeds_each_input_path_what_it_names(mirror):
    """benchmarks/gap_inputs.py (the docs' evidence that gaps, not the mask code, cost the
    time-aware CSFT its UCR accuracy): the time-aware input holds NaN exactly where the
    question's removal puts them, the interpolated one none, and every path is scored."""
    from gap_inputs import INPUTS, measure, splits

    from csft.cost import load_config

    config = load_config(["config/irregular_check.yaml"])
    gaps = splits("Chinatown", config, 0.1, "time_aware", mirror)
    filled = splits("Chinatown", config, 0.1, "interpolate", mirror)
    for split in ("TRAIN", "TEST"):
        series = gaps[split][0]
        assert {len(s) for s in series} == {64}  # lengthened to min_length, then thinned
        assert [int(np.isnan(s).sum()) for s in series] == [round(0.1 * 64)] * len(series)
        assert not any(np.isnan(s).any() for s in filled[split][0])
        for holed, whole in zip(series, filled[split][0], strict=True):
            kept = ~np.isnan(holed)
            np.testing.assert_array_equal(holed[kept], whole[kept])
    rows = measure("Chinatown", config, 0.1, 1, mirror)
    assert [r["input"] for r in rows] == list(INPUTS)
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
