"""One forecasting job end to end (main and uf tracks, fine-tune and probe) on real ETTh1."""

import dataclasses
import re

import pytest
import torch
from tiny_study import resolved_tiny_config, with_value

from csft.data.ett import CroppedWindows, ETTSeries, ForecastWindows, RandomLookbackCollate
from csft.jobs import pretrain as pretrain_job
from csft.jobs.common import Tracking
from csft.jobs.forecast import ForecastJob, ForecastSettings, resolve, run
from csft.training.checkpoint import fingerprint

HORIZON = 24
TINY_CSFT = {"d_model": 8, "n_heads": 2}
TRAINING = {"batch_size": 16, "epochs": 2, "patience": 2, "max_batches_per_epoch": 3}
PRETRAINING = {"epochs": 1, "batch_size": 16, "max_batches_per_epoch": 2}


@pytest.fixture(scope="module")
def etth1(mirror):
    return lambda lookback: ETTSeries.load(mirror / "ETT-small" / "ETTh1.csv", "ETTh1", lookback)


@pytest.fixture(scope="module")
def pretrained(etth1):
    """Weights of a tiny CSFT encoder pretrained at look-back 64 (what the workflow's
    pretraining job hands every horizon's job)."""
    job = pretrain_job.PretrainJob("ETTh1", 64, seed=0)
    encoder, _ = pretrain_job.run(job, etth1(64), TINY_CSFT, PRETRAINING)
    return {key: value.clone() for key, value in encoder.state_dict().items()}


def base_windows(n=10, lookback=12, horizon=3, channels=2):
    values = torch.arange(200 * channels, dtype=torch.float32).reshape(200, channels).numpy()
    return ForecastWindows(values, torch.arange(n).numpy() * 5, lookback, horizon)


def test_cropped_windows_keep_the_last_rows_and_the_targets():
    windows = base_windows()
    cropped = CroppedWindows(windows, 5)
    for i in (0, 4, 9):
        x, y = windows[i]
        cx, cy = cropped[i]
        assert torch.equal(cx, x[-5:]) and torch.equal(cy, y)
    assert len(cropped) == len(windows)
    with pytest.raises(ValueError, match="13"):
        CroppedWindows(windows, 13)


def test_random_lookback_collate_crops_each_batch_to_one_length():
    windows = base_windows()
    batch = [windows[i] for i in range(4)]

    def lengths(seed):
        collate = RandomLookbackCollate(4, 12, torch.Generator().manual_seed(seed))
        return [collate(batch)[0].shape[1] for _ in range(30)]

    drawn = lengths(0)
    assert all(4 <= t < 12 for t in drawn) and len(set(drawn)) > 3
    assert drawn == lengths(0) and drawn != lengths(1)
    x, y = RandomLookbackCollate(6, 7, torch.Generator())(batch)
    assert x.shape == (4, 6, 2) and torch.equal(x[1], windows[1][0][-6:])
    assert torch.equal(y, torch.stack([item[1] for item in batch]))


def test_main_track_dlinear_scores_every_test_window(etth1):
    job = ForecastJob("dlinear", "ETTh1", HORIZON, 0, (96, 97), (96,))
    result = run(job, etth1(job.max_lookback), {}, TRAINING)
    (record,) = result.records
    assert record["track"] == "main" and record["lookback"] == 96
    assert record["n_test_windows"] == 2880 - HORIZON + 1
    assert record["epochs_run"] == len(result.history) <= TRAINING["epochs"]
    assert result.examples["x"].shape == (3, 96, 7)


def test_uf_track_csft_tests_every_lookback_on_the_same_targets(etth1, pretrained):
    job = ForecastJob("csft", "ETTh1", HORIZON, 0, (64, 128), (64, 100, 127))
    logged = []
    result = run(
        job,
        etth1(job.max_lookback),
        TINY_CSFT,
        TRAINING,
        pretrained,
        log_metrics=lambda values, step: logged.append((step, values)),
    )
    assert job.track == "uf" and [r["lookback"] for r in result.records] == [64, 100, 127]
    assert {r["n_test_windows"] for r in result.records} == {2880 - HORIZON + 1}
    assert len({r["test_mse"] for r in result.records}) == 3  # the look-back matters
    keys = set().union(*(values for _, values in logged))
    assert {"train_loss", "val_loss", "grad_ratio_l1"} <= keys
    assert "attn_entropy_frac_l2_h1" in keys


def test_uf_validation_is_the_mean_over_the_tested_lookbacks(etth1, pretrained, monkeypatch):
    """Model selection sees every look-back the model is tested at (thinned by val_stride),
    never one alone; the test split is scored on every window."""
    from csft.training import forecast

    seen, original = [], forecast.predict

    def spy(model, windows, batch_size):
        out = original(model, windows, batch_size)
        seen.append((windows.lookback, len(windows), float(((out.pred - out.true) ** 2).mean())))
        return out

    monkeypatch.setattr(forecast, "predict", spy)
    job = ForecastJob("csft", "ETTh1", HORIZON, 0, (64, 128), (64, 100, 127))
    training = {**TRAINING, "epochs": 1, "val_stride": 4}
    result = run(job, etth1(job.max_lookback), TINY_CSFT, training, pretrained)
    n_val = 2880 - HORIZON + 1
    validation = [s for s in seen if s[1] == -(-n_val // 4)]  # ceil: every 4th window
    assert [s[0] for s in validation] == [64, 100, 127]
    mean = sum(s[2] for s in validation) / 3
    assert result.history[0]["val_loss"] == pytest.approx(mean, rel=1e-5)
    assert [s[1] for s in seen[3:]] == [n_val] * 3  # then the test, every window
    with pytest.raises(ValueError, match="val_stride must be >= 1"):
        forecast.TrainingConfig(val_stride=0)
    assert base_windows().every(3).starts.tolist() == [0, 15, 30, 45]


def test_probe_mode_trains_the_head_on_the_pretrained_encoder(etth1, pretrained):
    job = ForecastJob("csft", "ETTh1", HORIZON, 0, (64, 65), (64,))
    series = etth1(64)
    result = run(job, series, TINY_CSFT, TRAINING, pretrained, mode="probe")
    assert all(not p.requires_grad for p in result.model.encoder.parameters())
    assert all(p.requires_grad for p in result.model.head.parameters())
    state = result.model.encoder.state_dict()  # frozen: still the pretrained weights
    assert all(torch.equal(state[key], value) for key, value in pretrained.items())
    with pytest.raises(ValueError, match="probe"):
        run(job, series, TINY_CSFT, TRAINING, mode="probe")  # no encoder to freeze
    dlinear = ForecastJob("dlinear", "ETTh1", HORIZON, 0, (64, 65), (64,))
    with pytest.raises(ValueError, match="dlinear has no encoder"):
        run(dlinear, series, {}, TRAINING, pretrained)


def test_finetuning_starts_from_the_pretrained_encoder(etth1, pretrained):
    job = ForecastJob("csft", "ETTh1", HORIZON, 0, (64, 65), (64,))
    first_epoch = {"max_batches_per_epoch": 1, "epochs": 1, "learning_rate": 1e-12}
    settings = {**TRAINING, **first_epoch}  # one step too small to move the weights visibly
    start = run(job, etth1(64), TINY_CSFT, settings, pretrained).model.encoder.state_dict()
    cold = run(job, etth1(64), TINY_CSFT, settings).model.encoder.state_dict()
    for key, value in pretrained.items():
        assert torch.allclose(start[key], value, atol=1e-6)
    assert not all(torch.allclose(cold[k], v, atol=1e-6) for k, v in pretrained.items())


def test_same_seed_same_metrics_other_seed_other_metrics(etth1, pretrained):
    def metrics(seed):
        job = ForecastJob("csft", "ETTh1", HORIZON, seed, (64, 65), (64,))
        result = run(job, etth1(64), TINY_CSFT, TRAINING, pretrained)
        return result.records[0], result.history

    (first, history), (again, history_again) = metrics(3), metrics(3)
    keys = [k for k in first if k.startswith("test_")]
    assert {k: first[k] for k in keys} == {k: again[k] for k in keys}  # bit for bit
    assert history == history_again
    other, _ = metrics(4)
    assert all(other[k] != first[k] for k in ("test_mse", "test_mae"))


MAIN = {"model": "patchtst", "dataset": "ETTh1", "lookback": "96", "horizon": "24", "seed": "2"}
UF = {"model": "csft", "dataset": "ETTh1", "low": "64", "high": "128", "placement": "crop"}
ANALYSIS = {"variant": "csft_residual", "dataset": "ETTh1", "horizon": "24", "seed": "1"}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return resolved_tiny_config(tmp_path_factory.mktemp("config"))


def test_settings_resolve_every_field_of_each_kind_of_job(config):
    models = config["models"]
    main = resolve(config, MAIN)
    assert main.job == ForecastJob("patchtst", "ETTh1", 24, 2, (96, 97), (96,), "M", "auto")
    assert main.architecture == models["patchtst"]["architecture"]
    assert main.training == models["patchtst"]["training"]
    assert (main.pretraining, main.mode) == (models["patchtst"].get("pretraining"), "finetune")
    uri = config["tracking"]["uri"]
    assert main.tracking == Tracking(uri, "tiny/forecast", "patchtst/ETTh1/L96/H24/2")
    uf = resolve(config, {**UF, "horizon": "24", "seed": "1"})
    assert uf.job == ForecastJob("csft", "ETTh1", 24, 1, (64, 128), (64, 127), "M", "auto")
    assert uf.architecture == {**models["csft"]["architecture"], "placement": "crop"}
    assert uf.pretraining == models["csft"]["pretraining"]
    assert uf.tracking.run_name == "csft/ETTh1/uf64-128/crop/H24/1"
    analysis = resolve(config, ANALYSIS)
    assert analysis.job == ForecastJob("csft", "ETTh1", 24, 1, (64, 65), (64,), "M", "auto")
    assert analysis.architecture == {**models["csft"]["architecture"], "fusion": "residual"}
    assert analysis.training == models["csft"]["training"]
    assert analysis.tracking.experiment == "tiny/ablation"
    assert analysis.tracking.run_name == "csft_residual/ETTh1/L64/H24/1"


def test_settings_travel_as_one_plain_dict_and_serialise_once(config):
    for wildcards in (MAIN, {**UF, "horizon": "24", "seed": "1"}, ANALYSIS):
        settings = resolve(config, wildcards)
        assert ForecastSettings.from_dict(settings.to_dict()) == settings
        params = settings.params()  # MLflow's params and the checkpoint's fingerprint
        assert set(params) == {"job", "architecture", "training", "pretraining", "mode"}
        again = ForecastSettings.from_dict(settings.to_dict()).params()
        assert fingerprint(again) == fingerprint(params)
    other = dataclasses.replace(settings, training={**settings.training, "epochs": 9})
    assert fingerprint(other.params()) != fingerprint(settings.params())


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("job", "horizon"), 0, "ForecastJob.horizon: expected an integer >= 1, got 0"),
        (("job", "seed"), "1", "ForecastJob.seed"),
        (("job", "train_lookbacks"), [97, 96], "ForecastJob.train_lookbacks"),
        (("job", "eval_lookbacks"), [], "ForecastJob.eval_lookbacks"),
        (("job", "features"), "MS", "ForecastJob.features"),
        (("job", "device"), "gpu", "ForecastJob.device"),
        (("architecture",), None, "ForecastSettings.architecture"),
        (("training", "epoch"), 3, "ForecastSettings.training: expected keys among"),
        (("mode",), "freeze", "ForecastSettings.mode: expected one of ['finetune', 'probe']"),
        (("job", "horizon_s"), 1, "ForecastJob: unknown field(s) ['horizon_s']"),
        (("tracking", "run"), "x", "Tracking: unknown field(s) ['run']"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(config, path, value, named):
    values = resolve(config, MAIN).to_dict()
    with_value(values, path, value)
    with pytest.raises(ValueError, match=re.escape(named)):
        ForecastSettings.from_dict(values)
    del values["mode"]
    with pytest.raises(ValueError, match=re.escape("missing field(s) ['mode']")):
        ForecastSettings.from_dict(values)
